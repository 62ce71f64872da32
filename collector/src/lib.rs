//! The collector Lambda: reads every enabled service's metrics and sends one metrics report
//! per cluster to the metrics queue.
//!
//! - [`handler`]: the Lambda entry point (`invoke(event, &Deps)`), cluster selection, the
//!   deadline, sending to SQS (FIFO: one message group per cluster).
//! - [`forward`]: synthetic reports from the bus's queue, forwarded to the metrics queue.
//! - [`cycle`]: one collection cycle over the selected clusters, all sources concurrently.
//! - [`sources`]: one module per kind of source ([`sources::cloudwatch`], [`sources::http`]),
//!   each a pure planning step and an async `collect`; [`sources::json_value`] reads numbers.
//! - [`report`]: the reports, with a value or a reason for every alias.
//! - [`config`]: settings from the environment.
//!
//! **Invariants:** one broken source only affects its own aliases; nothing from a payload is
//! evaluated; URLs with credentials and header values never reach logs or reports.

pub mod config;
pub mod cycle;
pub mod forward;
pub mod handler;
pub mod report;
pub mod sources;

pub use config::CollectorConfig;
pub use handler::{
    handle, invoke, CollectorEvent, CycleSummary, Deps, HandlerError, Invocation, Response,
};
