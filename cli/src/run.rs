//! `ecs-autoscale run [--cycles N] [--interval SECS] [--cluster NAME]...`: the pipeline on this
//! machine, against the queues and bus of a deployed stack (or of the emulator).
//!
//! Each cycle plays the collector's schedule and the two SQS event source mappings with the
//! Lambdas' own handlers ([`crate::pipeline`]), then prints the cycle's plans and outcomes as
//! the bus carried them (a temporary subscription, deleted at the end, Ctrl-C included).

use std::time::Duration;

use anyhow::Result;

use crate::args::{ClusterFiles, EventBus, MetricsQueue};
use crate::aws::{self, Access};
use crate::pipeline::{CycleResult, Pipeline, PipelineConfig};
use crate::subscription::{Event, Subscription};
use crate::{exit, render, CliError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Cycles to run (default: until Ctrl-C).
    #[arg(long, value_name = "N")]
    cycles: Option<u32>,
    /// Seconds from the start of one cycle to the start of the next (the stack's schedule is a
    /// minute).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    interval: u64,
    /// Only this cluster (repeatable; default: every enabled cluster).
    #[arg(long = "cluster", value_name = "NAME")]
    clusters: Vec<String>,
    /// The stack whose queues to use (`NAME-metrics.fifo`, `NAME-plans.fifo`,
    /// `NAME-synthetic`), when the URLs are not given.
    #[arg(long, env = "ECS_AUTOSCALE_STACK", value_name = "NAME")]
    stack: Option<String>,
    #[command(flatten)]
    metrics_queue: MetricsQueue,
    /// The plans FIFO queue (the stack's output `PlansQueueUrl`).
    #[arg(long, env = "PLANS_QUEUE_URL", value_name = "URL")]
    plans_queue_url: Option<String>,
    /// The queue the bus sends synthetic reports to (the stack's output `SyntheticQueueUrl`);
    /// without it (and without `--stack`) reports injected on the bus are not played.
    #[arg(long, env = "SYNTHETIC_QUEUE_URL", value_name = "URL")]
    synthetic_queue_url: Option<String>,
    #[command(flatten)]
    bus: EventBus,
    #[command(flatten)]
    files: ClusterFiles,
    /// Apply every plan as a dry run (nothing is changed).
    #[arg(long)]
    dry_run: bool,
}

/// Neither the URL nor the stack: bad usage.
fn missing_url(flag: &str, var: &str, output: &str) -> anyhow::Error {
    let mut e = CliError::problem(format!("`{flag}` is required"))
        .hint(format!(
            "pass `{flag} URL` or set {var} (the stack's output `{output}`)"
        ))
        .hint("or name the stack with `--stack NAME` (its queues are NAME-metrics.fifo and NAME-plans.fifo)");
    e.code = exit::USAGE;
    e.into()
}

/// A queue URL: the flag (or its variable), else the stack's queue by name.
async fn queue_url(
    value: &Option<String>,
    stack: Option<&str>,
    suffix: &str,
    sqs: &aws_sdk_sqs::Client,
    (flag, var, output): (&str, &str, &str),
) -> Result<String> {
    if let Some(url) = value.clone().filter(|v| !v.trim().is_empty()) {
        return Ok(url);
    }
    let Some(stack) = stack else {
        return Err(missing_url(flag, var, output));
    };
    let name = format!("{stack}-{suffix}");
    match sqs.get_queue_url().queue_name(&name).send().await {
        Ok(out) => Ok(out.queue_url().unwrap_or_default().to_owned()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            Err(
                CliError::problem(format!("the stack `{stack}` has no queue `{name}`"))
                    .hint(format!("pass `{flag} URL` (the stack's output `{output}`)"))
                    .into(),
            )
        }
        Err(e) => Err(aws::call_failed(&format!("GetQueueUrl {name}"), e)),
    }
}

/// Runs the cycles; exit 0.
pub async fn run(args: &Args) -> Result<u8> {
    // Usage and cluster files first: a typo is reported before any AWS call.
    let stack = args.stack.as_deref().filter(|s| !s.trim().is_empty());
    for (value, flag, var, output) in [
        (
            &args.metrics_queue.metrics_queue_url,
            "--metrics-queue-url",
            "METRICS_QUEUE_URL",
            "MetricsQueueUrl",
        ),
        (
            &args.plans_queue_url,
            "--plans-queue-url",
            "PLANS_QUEUE_URL",
            "PlansQueueUrl",
        ),
    ] {
        if stack.is_none() && value.as_deref().is_none_or(|v| v.trim().is_empty()) {
            return Err(missing_url(flag, var, output));
        }
    }
    let loaded = crate::clusters::load(&args.files.clusters_dir)?;
    for name in &args.clusters {
        crate::clusters::find(&loaded, name, &args.files.clusters_dir)?;
    }
    let clients = aws::clients(Access::ReadWrite).await?;
    let config = PipelineConfig {
        clusters_dir: args.files.clusters_dir.clone(),
        metrics_queue_url: queue_url(
            &args.metrics_queue.metrics_queue_url,
            stack,
            "metrics.fifo",
            &clients.sqs,
            (
                "--metrics-queue-url",
                "METRICS_QUEUE_URL",
                "MetricsQueueUrl",
            ),
        )
        .await?,
        plans_queue_url: queue_url(
            &args.plans_queue_url,
            stack,
            "plans.fifo",
            &clients.sqs,
            ("--plans-queue-url", "PLANS_QUEUE_URL", "PlansQueueUrl"),
        )
        .await?,
        bus: args.bus.bus.clone(),
        clusters: args.clusters.clone(),
        dry_run: args.dry_run,
        synthetic_queue_url: match (&args.synthetic_queue_url, stack) {
            (Some(url), _) if !url.trim().is_empty() => Some(url.clone()),
            (_, Some(_)) => Some(
                queue_url(
                    &None,
                    stack,
                    "synthetic",
                    &clients.sqs,
                    (
                        "--synthetic-queue-url",
                        "SYNTHETIC_QUEUE_URL",
                        "SyntheticQueueUrl",
                    ),
                )
                .await?,
            ),
            _ => None,
        },
    };
    let pipeline = Pipeline::new(clients, config)?;
    let mut sub = Subscription::create(pipeline.clients(), &args.bus.bus).await?;
    let result = tokio::select! {
        r = cycles(&pipeline, &sub, args) => r,
        _ = crate::watch::stop_signal() => {
            eprintln!("stopping");
            Ok(())
        }
    };
    sub.delete().await;
    result.map(|()| exit::OK)
}

async fn cycles(pipeline: &Pipeline, sub: &Subscription, args: &Args) -> Result<()> {
    let interval = Duration::from_secs(args.interval);
    let mut n = 0u32;
    loop {
        n += 1;
        let started = tokio::time::Instant::now();
        let now = shared::time::now();
        let id = format!("local-{now}-{n}");
        let result = pipeline.cycle(&id, now).await?;
        let events = sub.drain().await?;
        for line in cycle_lines(n, &result, &events) {
            println!("{line}");
        }
        if args.cycles.is_some_and(|max| n >= max) {
            return Ok(());
        }
        tokio::time::sleep_until(started + interval).await;
    }
}

/// A few lines about a cycle: what was collected and delivered, then each plan (headlines and
/// actions) and each outcome.
pub fn cycle_lines(n: u32, result: &CycleResult, events: &[Event]) -> Vec<String> {
    let synthetic = if result.synthetic.received > 0 {
        format!(
            "; {} synthetic report(s) forwarded{}",
            result.synthetic.done(),
            failed(result.synthetic.failed)
        )
    } else {
        String::new()
    };
    let mut lines = vec![format!(
        "cycle {n}: collected {} ({} value(s), {} missing){synthetic}; planner got {} report(s){}; executor got {} plan(s){}",
        if result.reported.is_empty() {
            "nothing".to_owned()
        } else {
            result.reported.join(", ")
        },
        result.values,
        result.missing,
        result.metrics.received,
        failed(result.metrics.failed),
        result.plans.received,
        failed(result.plans.failed),
    )];
    if let Some(e) = &result.collect_error {
        lines.push(format!("  collector: {e}"));
    }
    for event in events {
        match event {
            Event::Plan(plan) => {
                lines.extend(render::plan(plan).lines().map(|l| format!("  {l}")));
            }
            Event::Applied(report) => {
                lines.extend(render::report(report).lines().map(|l| format!("  {l}")));
            }
            Event::Other { why, .. } => lines.push(format!("  another event ({why})")),
        }
    }
    lines
}

fn failed(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} left on the queue for redelivery)")
    }
}
