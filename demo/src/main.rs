//! `ecs-autoscale-demo`: the whole pipeline on this machine (see the library's docs). Run it
//! through `make demo` (`scripts/demo.sh`), which sets up what it needs first.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ecs_autoscale_demo::{chart, scenario};

/// The ecs-autoscale pipeline on the local emulator, under a load that rises and falls.
#[derive(Debug, Parser)]
#[command(name = "ecs-autoscale-demo", version, about)]
struct Args {
    /// Pipeline cycles (at least 6).
    #[arg(long, default_value_t = 10)]
    cycles: u32,
    /// Seconds to pause after each cycle.
    #[arg(long, default_value_t = 0.0)]
    pause: f64,
    /// Directory of the chart (SVG).
    #[arg(long, default_value = "target/demo")]
    out_dir: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if std::env::var_os("RUST_LOG").is_none() && std::env::var_os("LOG_LEVEL").is_none() {
        std::env::set_var("LOG_LEVEL", "error");
    }
    shared::logging::init(shared::logging::LogFormat::Text);
    let options = scenario::Options {
        cycles: args.cycles,
        pause: Duration::from_secs_f64(args.pause.max(0.0)),
        out_dir: args.out_dir,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let result = runtime.block_on(async {
        let mut out = std::io::stdout();
        tokio::select! {
            r = scenario::run(&options, &mut out) => r.map(Some),
            _ = ecs_autoscale_cli::watch::stop_signal() => Ok(None),
        }
    });
    match result {
        Ok(Some(summary)) => {
            println!("\nsummary");
            for line in scenario::summary_lines(&summary) {
                println!("  {line}");
            }
            println!();
            for line in chart::terminal(&scenario::series(&summary.samples)) {
                println!("  {line}");
            }
            println!("\nchart: {}", scenario::display_path(&summary.svg));
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("interrupted; the emulator and RabbitMQ are stopped");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}
