//! `ecs-autoscale`: the command line of ecs-autoscale.

use std::process::ExitCode;

mod validate;

use clap::{Parser, Subcommand};

/// Exit codes, as documented in the README.
mod exit {
    /// Everything checked out.
    pub const OK: u8 = 0;
    /// The command ran and found problems (for example invalid cluster files).
    pub const PROBLEMS: u8 = 1;
    // 2: bad usage, reported by clap.
    /// The command could not run (I/O, AWS unreachable, ...).
    pub const FAILURE: u8 = 3;
}

/// Autoscaling for Amazon ECS clusters on EC2: tasks and instances planned together.
#[derive(Debug, Parser)]
#[command(name = "ecs-autoscale", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check cluster definition files and report every problem with its position.
    Validate(validate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    shared::logging::init(shared::logging::LogFormat::Text);
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}
