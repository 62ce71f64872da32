//! The domain of ecs-autoscale, shared by the collector, planner, executor and CLI:
//! cluster definitions, the metric expression language, the cluster state model,
//! the pipeline's messages and their timestamps ([`time`]), the functions' common
//! configuration ([`function_config`]), AWS clients, logging, the Embedded Metric Format, and
//! the JSON Schemas of the cluster file and the messages ([`schema`]).
//!
//! **Invariant:** nothing here performs I/O except [`aws`] (client construction, and the
//! reads of a cluster in [`aws::read`]), [`logging`] (the subscriber), `init_error` (a report to the Lambda Runtime API) and
//! [`definition::load_dir`] / [`definition::load_file`] (reading cluster files).

#[cfg(feature = "aws")]
pub mod aws;
pub mod definition;
pub mod emf;
pub mod eni;
pub mod expr;
pub mod function_config;
#[cfg(feature = "lambda")]
pub mod init_error;
pub mod logging;
pub mod messages;
pub mod placement;
pub mod plan_check;
pub mod redact;
pub mod resources;
pub mod schema;
pub mod shown;
pub mod state;
pub mod time;

/// The process environment as a variable lookup, for `%(VAR)` substitution.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
