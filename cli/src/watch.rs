//! `ecs-autoscale watch [--bus NAME] [--json] [--max-events N] [--timeout SECS]`: prints plan
//! events as they arrive.
//!
//! Creates a temporary queue and a rule on the bus (`Scaling Plan` and `Scaling Plan Applied`
//! from source `ecs-autoscale`), and deletes both when it ends: after `--max-events`, at
//! `--timeout`, on Ctrl-C or SIGTERM, or on an error.

use std::time::Duration;

use anyhow::Result;
use tokio::time::Instant;

use crate::args::EventBus;
use crate::aws::{self, Access};
use crate::subscription::{Event, Subscription};
use crate::{exit, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    bus: EventBus,
    /// One JSON object per line: `{"detail-type": ..., "detail": ...}`.
    #[arg(long)]
    json: bool,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    max_events: Option<usize>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
}

/// Exit 0; 1 when `--max-events` was not reached before `--timeout`.
pub async fn run(args: &Args) -> Result<u8> {
    let clients = aws::clients(Access::ReadWrite).await?;
    let mut sub = Subscription::create(&clients, &args.bus.bus).await?;
    eprintln!(
        "watching bus `{}` (temporary rule and queue `{}`); Ctrl-C to stop",
        sub.bus, sub.name
    );
    let result = tokio::select! {
        r = watch(&sub, args) => r,
        _ = stop_signal() => {
            eprintln!("stopping");
            Ok(None)
        }
    };
    sub.delete().await;
    eprintln!("deleted the temporary rule and queue `{}`", sub.name);
    match result? {
        Some(seen) => {
            let wanted = args.max_events.unwrap_or(0);
            eprintln!(
                "timed out after {} s with {seen} of {wanted} event(s)",
                args.timeout.unwrap_or(0)
            );
            Ok(exit::PROBLEMS)
        }
        None => Ok(exit::OK),
    }
}

/// Receives and prints until `--max-events` or `--timeout`. `Some(seen)`: the timeout came
/// first while `--max-events` was asked for.
async fn watch(sub: &Subscription, args: &Args) -> Result<Option<usize>> {
    let deadline = args
        .timeout
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut seen = 0usize;
    loop {
        if args.max_events.is_some_and(|max| seen >= max) {
            return Ok(None);
        }
        let wait = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(args.max_events.map(|_| seen));
                }
                left.min(Duration::from_secs(5))
            }
            None => Duration::from_secs(5),
        };
        for event in sub.receive(wait).await? {
            seen += 1;
            print(&event, args.json)?;
            if args.max_events.is_some_and(|max| seen >= max) {
                break;
            }
        }
    }
}

/// Prints one event.
pub fn print(event: &Event, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(&event.to_json())?);
        return Ok(());
    }
    match event {
        Event::Plan(plan) => print!("{}", render::plan(plan)),
        Event::Applied(report) => print!("{}", render::report(report)),
        Event::Other { why, .. } => println!("another event on the queue ({why})"),
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
