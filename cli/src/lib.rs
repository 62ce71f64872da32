//! The `ecs-autoscale` command as a library: one module per subcommand, plus what they share.
//!
//! - [`validate`], [`plan`], [`inject`], [`watch`], [`run`], [`schema`], [`simulate`]: the
//!   subcommands (`Args` and `run`);
//! - [`pipeline`]: the local pipeline — the collector's schedule and the two SQS event source
//!   mappings played in-process with the Lambdas' own handlers (used by `run` and the demo);
//! - [`subscription`]: a temporary queue and rule on the bus for plan events (`watch`, `run`);
//! - [`args`]: the options several subcommands share (`--cluster`, `--clusters-dir`, `--bus`,
//!   `--metrics-queue-url`), defined once;
//! - [`aws`]: clients from the environment, the reachability check, the read-only guard;
//! - [`render`]: plans and execution reports as a person reads them;
//! - [`error`]: errors that carry an exit code and `hint:` lines.
//!
//! **Invariant:** `plan` never changes anything: its clients refuse every operation that is not
//! a read ([`aws::ReadOnlyGuard`]), and it only calls the state reader and the pure planner.

pub mod args;
pub mod aws;
pub mod clusters;
pub mod error;
pub mod inject;
pub mod live_checks;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod run;
pub mod schema;
pub mod simulate;
pub mod subscription;
pub mod validate;
pub mod watch;

pub use error::CliError;

/// Exit codes, as documented in the README.
pub mod exit {
    /// Everything checked out.
    pub const OK: u8 = 0;
    /// The command ran and found problems (invalid cluster files; an unknown cluster, service
    /// or alias; a `watch` that ended before `--max-events`).
    pub const PROBLEMS: u8 = 1;
    /// Bad usage, reported by clap.
    pub const USAGE: u8 = 2;
    /// The command could not run (I/O, AWS unreachable, an AWS call failed, ...).
    pub const FAILURE: u8 = 3;
}
