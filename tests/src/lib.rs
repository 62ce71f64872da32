//! The ecs-autoscale test bed: the real `aws-sdk-*` clients against a moto server on
//! 127.0.0.1, with builders for ECS-on-EC2 worlds and a stand-in for the ECS service scheduler.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use testbed::{world, TestBed};
//! let bed = TestBed::start().await; // exclusive, freshly reset server
//! world::create_cluster(bed.ecs(), "prod").await?;
//! let group = world::create_group(
//!     bed.autoscaling(), bed.ecs(), "prod", &world::GroupSpec::new("prod-asg", 3),
//! ).await?;
//! let td = world::register_task_definition(bed.ecs(), "web", 1024, 2048).await?;
//! world::create_service(bed.ecs(), "prod", "web", &td, 4).await?;
//! let report = bed.converge("prod").await?; // places the 4 tasks
//! assert!(report.is_converged());
//! # let _ = group; Ok(()) }
//! ```
//!
//! See `tests/README.md` for what moto does not do and how the harness compensates.

#![warn(missing_docs)]

pub mod bed;
pub mod calls;
pub mod clusters_dir;
pub mod lambda_events;
pub mod lambda_process;
pub mod lambda_runtime_api;
pub mod messaging;
pub mod moto;
pub mod proxy;
pub mod rabbitmq;
pub mod scheduler;
pub mod strict;
pub mod tls_server;
pub mod world;

pub use bed::{sdk_config, Clients, TestBed, REGION};
pub use calls::{Call, CallCounter, CallLog};
pub use clusters_dir::ClustersDir;
pub use lambda_process::FunctionProcess;
pub use lambda_runtime_api::RuntimeApi;
pub use moto::Moto;
pub use rabbitmq::RabbitMq;
pub use scheduler::{converge, ConvergeReport, ServiceReport};
pub use strict::{StrictAws, StrictEvent};
pub use tls_server::TlsServer;

/// An HTTP client for the test bed's own requests, on the functions' TLS stack (reqwest is built
/// without a crypto provider of its own: see `shared::aws::tls`).
pub fn http_client() -> reqwest::Client {
    shared::aws::tls::install_default_provider();
    reqwest::Client::new()
}
