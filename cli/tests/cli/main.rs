//! `ecs-autoscale` against the emulator, as a user runs it (one test binary: one moto server).
//!
//! - `support`: the world (`my_cluster` of the README: services `backend` and `worker`, a group
//!   of two container instances), the queues, the bus and its synthetic-metrics rule, and the
//!   command with the emulator's environment;
//! - `plan`: the preview changes nothing, sends only reads, prints and `--json`;
//! - `inject`: through the bus and the queue, and every refusal;
//! - `watch`: the temporary rule and queue are deleted, the time-out, an unknown bus;
//! - `run`: injected metrics → plan → applied → the outcome seen by `watch`;
//! - `saw`: a load that goes up and down every cycle, every plan applied (strict FIFO);
//! - `simulate`: `--from-cloudwatch`, the timeline from CloudWatch history (reads only);
//! - `unreachable`: no emulator → exit code 3 with a clear message, for every command.

mod inject;
mod plan;
mod run;
mod saw;
mod simulate;
mod support;
mod unreachable;
mod validate_live;
mod watch;
