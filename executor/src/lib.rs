//! The executor Lambda: applies scaling plans from the plans FIFO queue so that delivering a
//! plan once, three times or after a crash has the same effect, and never acts on a plan the
//! world has moved away from.
//!
//! - [`handler`]: the SQS batch (decode, apply, publish the report, batch item failures, FIFO
//!   order); [`config`]: what it reads from the environment;
//! - [`apply`](mod@apply): one plan, its re-reads ([`live`]) and the ordered actions ([`actions`]), the
//!   outcome rules; [`run`] the state of one application the actions share (guards' verdicts,
//!   outcomes, the error that ends a run);
//! - [`rejection`]: a plan its cluster file does not allow, or a message that is not a plan
//!   (nothing applied, outcome `rejected`, removed from the queue at once);
//! - [`expiry`]: a plan read after its `expires_at` (nothing applied, outcome `expired`);
//! - [`errors`]: retryable vs non-retryable AWS errors;
//! - [`emf`]: the outcome metrics (Embedded Metric Format) of a settled plan.

pub mod actions;
pub mod apply;
pub mod config;
pub mod emf;
pub mod errors;
pub mod expiry;
pub mod handler;
pub mod live;
pub mod rejection;
pub mod run;

pub use apply::{apply, overall, ApplyError, ApplyOptions};
pub use config::Config;
pub use errors::{CallError, Retry};
pub use handler::{handle, Deps};
