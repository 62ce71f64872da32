//! `make demo`: the whole pipeline on this machine.
//!
//! The emulator (moto) and RabbitMQ run on loopback; the pipeline's queues, bus and rules are
//! created from `infra/template.yaml` ([`stack`]); the README's `my_cluster` is seeded; a load
//! rises and falls ([`scenario`]) while the pipeline runs cycle after cycle with the Lambdas'
//! handlers ([`ecs_autoscale_cli::pipeline`], as `ecs-autoscale run` does) and the test bed's
//! scheduler plays ECS. At the end, a summary and a chart ([`chart`]).

pub mod chart;
pub mod scenario;
pub mod stack;

pub use scenario::{run, Options, Sample, Summary};
