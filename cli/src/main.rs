//! `ecs-autoscale`: the command line of ecs-autoscale. Parsing and exit codes only; every
//! subcommand lives in the library (`ecs_autoscale_cli`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ecs_autoscale_cli::{error, inject, plan, run, schema, simulate, validate, watch};

/// Autoscaling for Amazon ECS clusters on EC2: tasks and instances planned together.
///
/// Exit codes: 0 success, 1 problems found (invalid files; unknown cluster, service or alias),
/// 2 bad usage, 3 could not run (AWS unreachable, an AWS call failed, I/O).
#[derive(Debug, Parser)]
#[command(name = "ecs-autoscale", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check cluster definition files and report every problem with its position.
    Validate(validate::Args),
    /// Preview what a run would decide for a cluster now; changes nothing.
    Plan(plan::Args),
    /// Send a synthetic metrics report through the bus (or the metrics queue).
    Inject(inject::Args),
    /// Print plans and execution reports from the bus as they arrive.
    Watch(watch::Args),
    /// Run the pipeline here: collector, planner and executor against the stack's queues and bus.
    Run(run::Args),
    /// Print the JSON Schema of the cluster file or of a message.
    Schema(schema::Args),
    /// Replay metrics against a simulated cluster with the real planner; what it would have cost.
    Simulate(simulate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The handlers log at info; the command's own lines are its output. Quiet by default.
    if std::env::var_os("RUST_LOG").is_none() && std::env::var_os("LOG_LEVEL").is_none() {
        std::env::set_var("LOG_LEVEL", "warning");
    }
    shared::logging::init(shared::logging::LogFormat::Text);
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Schema(args) => schema::run(&args),
        command => match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime.block_on(async move {
                match command {
                    Command::Plan(args) => plan::run(&args).await,
                    Command::Inject(args) => inject::run(&args).await,
                    Command::Watch(args) => watch::run(&args).await,
                    Command::Run(args) => run::run(&args).await,
                    Command::Simulate(args) => simulate::run(&args).await,
                    Command::Validate(_) | Command::Schema(_) => unreachable!("handled above"),
                }
            }),
            Err(e) => Err(anyhow::Error::from(e).context("starting the async runtime")),
        },
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => ExitCode::from(error::report(&e)),
    }
}
