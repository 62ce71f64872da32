//! `make lambda-smoke`: the three functions' `bootstrap` binaries, as Lambda ships them, run
//! under the test bed's runtime API emulator against moto and the stack from
//! `infra/template.yaml`, each invoked with real events and its footprint printed.
//!
//! The chain is the pipeline's: the collector answers 21 EventBridge schedule events (its
//! CloudWatch source reads a queue depth of 40 put on moto), the planner 21 batches of the
//! metrics queue holding those reports (each plans `web` from 2 to 4 tasks), the executor 21
//! batches of the plans queue holding those plans (the first applies, the rest are already
//! applied). Every response is checked (`batchItemFailures` empty), and so is the effect on
//! moto. Then one line per function:
//!
//! `footprint: <function> binary=<MB> cold_start_ms=<ms> warm_ms=<ms> rss_mb=<MB> init_ms=<ms>`
//!
//! `cold_start_ms`: from the process's start to its first invocation answered (its init and
//! that invocation's calls to moto); `init_ms`: to its first request for an event; `warm_ms`:
//! the median of the next 20 invocations; `rss_mb`: the peak resident set (`VmHWM`).
//!
//!     lambda-smoke [--bin-dir DIR] [--large] [--many]
//!
//! `--bin-dir`: where the binaries are (default target/lambda: DIR/NAME/bootstrap, else
//! DIR/NAME). `--large`: then also the planner on a cluster of 1,000 instances, 200 services and
//! 20,000 tasks (seeded on moto first, about a minute), three invocations, and its peak RSS:
//! `footprint: planner cluster=1000i/200s/20000t rss_mb=<MB> invocations_ms=<ms>,<ms>,<ms>`.
//! `--many`: the collector on 100 clusters × 50 services (HTTP sources answering after 50 ms,
//! CloudWatch sources) and the planner on 50 clusters' reports (`many:` lines; see `many.rs`).
//!
//! Stops everything it started: the function processes (killed when done or on error), moto
//! (when this process exits), the temporary cluster directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use shared::messages::{MetricsReport, ScalingPlan};
use testbed::lambda_events::{batch_item_failures, scheduled_event, sqs_batch, SqsRecord};
use testbed::lambda_process::LambdaFunction;
use testbed::{messaging, world, TestBed};

mod large;
mod many;

const CLUSTER: &str = "smoke";
const GROUP: &str = "smoke-asg";
/// Invocations per function: one cold, then the warm ones whose median is reported.
const INVOCATIONS: usize = 21;

const CLUSTER_FILE: &str = "\
autoscale_group: smoke-asg
services:
  web:
    min: 1
    max: 10
    metric_sources:
      cloudwatch:
        - metric_name: SmokeQueueDepth
          namespace: Smoke
          period: 60
          statistics:
            - {name: Maximum, alias: queue}
    target_tracking: {metric: queue, target: 10}
";

/// What one function measured.
struct Footprint {
    binary_mb: f64,
    cold_start: Duration,
    init: Duration,
    warm_median: Duration,
    rss_mb: f64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut bin_dir = PathBuf::from("target/lambda");
    let (mut large, mut many) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (
            arg.as_str(),
            arg.starts_with("--bin-dir").then(|| args.next()),
        ) {
            ("--bin-dir", Some(Some(dir))) => bin_dir = PathBuf::from(dir),
            ("--large", None) => large = true,
            ("--many", None) => many = true,
            _ => {
                eprintln!("usage: lambda-smoke [--bin-dir DIR] [--large] [--many]");
                return ExitCode::from(2);
            }
        }
    }
    match run(&bin_dir, large, many).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lambda-smoke: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `DIR/NAME/bootstrap` (cargo-lambda's layout), else `DIR/NAME` (cargo's).
fn binary(dir: &Path, name: &str) -> Result<PathBuf> {
    [dir.join(name).join("bootstrap"), dir.join(name)]
        .into_iter()
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "no {name} binary in {} (`make lambda-smoke` builds them)",
                dir.display()
            )
        })
}

/// A temporary directory holding the cluster file, removed when dropped.
struct ClustersDir(PathBuf);

impl Drop for ClustersDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn run(bin_dir: &Path, large: bool, many: bool) -> Result<()> {
    let collector = binary(bin_dir, "collector")?;
    let planner = binary(bin_dir, "planner")?;
    let executor = binary(bin_dir, "executor")?;

    let bed = TestBed::start().await;
    let stack = ecs_autoscale_demo::stack::create(bed.endpoint(), CLUSTER, GROUP).await?;
    seed(&bed).await?;
    let dir = ClustersDir(
        std::env::temp_dir().join(format!("ecs-autoscale-lambda-smoke-{}", std::process::id())),
    );
    std::fs::create_dir_all(&dir.0).context("creating the cluster directory")?;
    std::fs::write(dir.0.join(format!("{CLUSTER}.yml")), CLUSTER_FILE)
        .context("writing the cluster file")?;
    let clusters_dir = dir.0.display().to_string();
    // The functions reach moto through the strict proxy, which answers what moto cannot (its
    // GetTaskProtection answers 500, which the SDK retries with backoff: a second per plan).
    let aws = testbed::StrictAws::start(bed.endpoint()).await?;
    let common = [
        ("CLUSTERS_DIR", clusters_dir.as_str()),
        ("AWS_ENDPOINT_URL", aws.endpoint()),
    ];

    // The collector: schedule events, one report each on the metrics queue.
    let events: Vec<Value> = (0..INVOCATIONS)
        .map(|i| scheduled_event(&format!("smoke-cycle-{i:02}"), "collect"))
        .collect();
    let env = [
        &common[..],
        &[("METRICS_QUEUE_URL", stack.metrics_queue_url.as_str())],
    ]
    .concat();
    let collected = measure(
        "collector",
        &collector,
        &env,
        &events,
        Duration::from_secs(50),
        |i, response| {
            ensure!(
                response["cycle_id"] == format!("smoke-cycle-{i:02}")
                    && response["reported"] == serde_json::json!([CLUSTER]),
                "the collector's answer to cycle {i} is {response}"
            );
            Ok(())
        },
    )
    .await?;
    let reports = messaging::receive_bodies(bed.sqs(), &stack.metrics_queue_url).await?;
    ensure!(
        reports.len() == INVOCATIONS,
        "{} reports on the metrics queue, expected {INVOCATIONS}",
        reports.len()
    );
    for body in &reports {
        let report = MetricsReport::from_json(body).context("a report on the metrics queue")?;
        let queue = report
            .services
            .get("web")
            .and_then(|s| s.values.get("queue"));
        ensure!(
            queue == Some(&40.0),
            "the report of {} has no queue depth of 40: {body}",
            report.cycle_id
        );
    }

    // The planner: each report as a batch of the FIFO metrics queue.
    let events: Vec<Value> = reports
        .iter()
        .enumerate()
        .map(|(i, body)| {
            sqs_batch(
                "smoke-metrics.fifo",
                &[SqsRecord::fifo(&format!("report-{i:02}"), CLUSTER, body)],
            )
        })
        .collect();
    let env = [
        &common[..],
        &[
            ("PLANS_QUEUE_URL", stack.plans_queue_url.as_str()),
            ("EVENT_BUS_NAME", stack.bus.as_str()),
            ("COLLECTION_PERIOD", "60"),
        ],
    ]
    .concat();
    let planned = measure(
        "planner",
        &planner,
        &env,
        &events,
        Duration::from_secs(60),
        no_failures,
    )
    .await?;
    let plans = messaging::receive_bodies(bed.sqs(), &stack.plans_queue_url).await?;
    ensure!(
        plans.len() == INVOCATIONS,
        "{} plans on the plans queue, expected {INVOCATIONS}",
        plans.len()
    );
    for body in &plans {
        let plan = ScalingPlan::from_json(body).context("a plan on the plans queue")?;
        ensure!(
            plan.actions.services.len() == 1
                && plan.actions.services[0].service == "web"
                && (plan.actions.services[0].from, plan.actions.services[0].to) == (2, 4),
            "expected web 2 → 4, the plan is {body}"
        );
    }

    // The executor: each plan as a batch of the FIFO plans queue.
    let events: Vec<Value> = plans
        .iter()
        .enumerate()
        .map(|(i, body)| {
            sqs_batch(
                "smoke-plans.fifo",
                &[SqsRecord::fifo(&format!("plan-{i:02}"), CLUSTER, body)],
            )
        })
        .collect();
    let env = [&common[..], &[("EVENT_BUS_NAME", stack.bus.as_str())]].concat();
    let executed = measure(
        "executor",
        &executor,
        &env,
        &events,
        Duration::from_secs(120),
        no_failures,
    )
    .await?;
    let web = bed
        .ecs()
        .describe_services()
        .cluster(CLUSTER)
        .services("web")
        .send()
        .await?;
    let desired = web.services().first().map(|s| s.desired_count());
    ensure!(
        desired == Some(4),
        "web's desired count is {desired:?}, expected 4"
    );

    for (name, f) in [
        ("collector", collected),
        ("planner", planned),
        ("executor", executed),
    ] {
        println!(
            "footprint: {name} binary={:.1} cold_start_ms={} warm_ms={:.1} rss_mb={:.1} init_ms={}",
            f.binary_mb,
            f.cold_start.as_millis(),
            f.warm_median.as_secs_f64() * 1000.0,
            f.rss_mb,
            f.init.as_millis(),
        );
    }
    if large {
        large::large_planner(&bed, &planner, &stack, aws.endpoint()).await?;
    }
    if many {
        many::many_clusters(&bed, aws.endpoint(), &collector, &planner, &stack).await?;
    }
    Ok(())
}

fn no_failures(i: usize, response: &Value) -> Result<()> {
    ensure!(
        batch_item_failures(response) == Some(vec![]),
        "invocation {i} answered {response}"
    );
    Ok(())
}

/// Cluster `smoke`: 2 instances, `web` with 2 tasks of 1024 CPU / 1024 MiB placed; a queue
/// depth of 40 in CloudWatch over the last minutes (so in the last complete period).
async fn seed(bed: &TestBed) -> Result<()> {
    world::create_cluster(bed.ecs(), CLUSTER).await?;
    world::create_group(
        bed.autoscaling(),
        bed.ecs(),
        CLUSTER,
        &world::GroupSpec::new(GROUP, 2).min(1).max(6),
    )
    .await?;
    let td = world::register_task_definition(bed.ecs(), "web", 1024, 1024).await?;
    world::create_service(bed.ecs(), CLUSTER, "web", &td, 2).await?;
    let converged = bed.converge(CLUSTER).await?;
    ensure!(
        converged.is_converged(),
        "the world did not converge: {converged:?}"
    );
    let now = SystemTime::now();
    let points: Vec<(SystemTime, f64)> = (1..=3)
        .map(|m| (now - Duration::from_secs(60 * m), 40.0))
        .collect();
    messaging::put_metric_data(bed.cloudwatch(), "Smoke", "SmokeQueueDepth", &[], &points).await
}

/// Starts `binary` as `name`, invokes it with `events` (the first right after the start), checks
/// each answer with `check`, and measures it; the process is killed at the end.
async fn measure(
    name: &str,
    binary: &Path,
    env: &[(&str, &str)],
    events: &[Value],
    timeout: Duration,
    check: impl Fn(usize, &Value) -> Result<()>,
) -> Result<Footprint> {
    let size = std::fs::metadata(binary)
        .with_context(|| format!("reading {}", binary.display()))?
        .len();
    let mut function = LambdaFunction::start(binary, name, env)
        .await
        .with_context(|| format!("starting {}", binary.display()))?;
    let result = invoke_all(&mut function, events, timeout, &check).await;
    let rss_kib = function.process.peak_rss_kib();
    let running = function.process.is_running();
    function.process.kill().await;
    let (cold_start, warm) = match result {
        Ok(times) => times,
        Err(e) => bail!(
            "{name}: {e:#}\n--- {name}'s output ---\n{}",
            function.process.output()
        ),
    };
    ensure!(running, "{name} exited:\n{}", function.process.output());
    if std::env::var_os("LAMBDA_SMOKE_OUTPUT").is_some() {
        eprintln!("--- {name}'s output ---\n{}", function.process.output());
    }
    let init = function
        .api
        .first_poll()
        .map(|at| at.duration_since(function.process.started()))
        .unwrap_or_default();
    let mut warm = warm;
    warm.sort();
    let warm_median = match warm.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => warm[n / 2],
        n => (warm[n / 2 - 1] + warm[n / 2]) / 2,
    };
    Ok(Footprint {
        binary_mb: size as f64 / (1024.0 * 1024.0),
        cold_start,
        init,
        warm_median,
        rss_mb: rss_kib.context("no VmHWM in /proc for the function")? as f64 / 1024.0,
    })
}

/// The cold invocation's time from the process start, and each warm invocation's.
async fn invoke_all(
    function: &mut LambdaFunction,
    events: &[Value],
    timeout: Duration,
    check: &impl Fn(usize, &Value) -> Result<()>,
) -> Result<(Duration, Vec<Duration>)> {
    let mut cold = Duration::ZERO;
    let mut warm = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let invocation = function
            .invoke(event, timeout)
            .await
            .map_err(anyhow::Error::msg)?;
        let answered = Instant::now();
        let response = invocation.json().map_err(anyhow::Error::msg)?;
        check(i, &response)?;
        if i == 0 {
            cold = answered.duration_since(function.process.started());
        } else {
            warm.push(invocation.elapsed);
        }
    }
    Ok((cold, warm))
}
