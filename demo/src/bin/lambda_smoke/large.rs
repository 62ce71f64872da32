//! `lambda-smoke --large`: the planner's binary on a cluster of 1,000 instances, 200 services
//! and 20,000 tasks (seeded on moto), three invocations, and its peak RSS.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use shared::messages::{MetricsReport, ScalingPlan};
use testbed::lambda_events::{sqs_batch, SqsRecord};
use testbed::lambda_process::LambdaFunction;
use testbed::{messaging, world, TestBed};

use crate::{no_failures, ClustersDir};

/// The large cluster's shape: instances, services, tasks per service.
const LARGE: &str = "large";
const LARGE_INSTANCES: usize = 1000;
const LARGE_SERVICES: usize = 200;
const LARGE_TASKS_PER_SERVICE: usize = 100;

/// The planner on a cluster of 1,000 instances, 200 services and 20,000 tasks (20 per instance,
/// 128 CPU / 256 MiB each: room to consolidate, so the planner also lists every task).
pub async fn large_planner(
    bed: &TestBed,
    planner: &Path,
    stack: &ecs_autoscale_demo::stack::Stack,
    endpoint: &str,
) -> Result<()> {
    let seeding = Instant::now();
    seed_large(bed).await?;
    eprintln!(
        "lambda-smoke: seeded {LARGE} ({LARGE_INSTANCES} instances, {LARGE_SERVICES} services, {} tasks) in {:.0} s",
        LARGE_SERVICES * LARGE_TASKS_PER_SERVICE,
        seeding.elapsed().as_secs_f64()
    );
    let mut file = format!("autoscale_group: {LARGE}-asg\nservices:\n");
    for s in 0..LARGE_SERVICES {
        file.push_str(&format!("  svc-{s:03}:\n    min: 1\n    max: 200\n"));
    }
    let dir = ClustersDir(std::env::temp_dir().join(format!(
        "ecs-autoscale-lambda-smoke-large-{}",
        std::process::id()
    )));
    std::fs::create_dir_all(&dir.0).context("creating the cluster directory")?;
    std::fs::write(dir.0.join(format!("{LARGE}.yml")), file).context("writing the cluster file")?;
    let clusters_dir = dir.0.display().to_string();
    let env = [
        ("CLUSTERS_DIR", clusters_dir.as_str()),
        ("AWS_ENDPOINT_URL", endpoint),
        ("PLANS_QUEUE_URL", stack.plans_queue_url.as_str()),
        ("EVENT_BUS_NAME", stack.bus.as_str()),
        ("COLLECTION_PERIOD", "60"),
    ];
    let mut function = LambdaFunction::start(planner, "planner", &env).await?;
    let mut times = Vec::new();
    for i in 0..3 {
        let report = MetricsReport::new(LARGE, format!("large-{i}"), shared::time::now());
        let batch = sqs_batch(
            "smoke-metrics.fifo",
            &[SqsRecord::fifo(
                &format!("large-{i}"),
                LARGE,
                serde_json::to_string(&report)?,
            )],
        );
        let answered = function
            .invoke(&batch, Duration::from_secs(60))
            .await
            .map_err(anyhow::Error::msg)?;
        let response = answered.json().map_err(anyhow::Error::msg)?;
        if let Err(e) = no_failures(i, &response) {
            bail!(
                "{e:#}\n--- planner's output ---\n{}",
                function.process.output()
            );
        }
        times.push(answered.elapsed.as_millis().to_string());
    }
    let rss = function.process.peak_rss_kib();
    function.process.kill().await;
    let plans = messaging::receive_bodies(bed.sqs(), &stack.plans_queue_url).await?;
    let actions: Vec<String> = plans
        .iter()
        .filter_map(|b| ScalingPlan::from_json(b).ok().map(|p| (p, b.len())))
        .map(|(p, bytes)| {
            format!(
                "{} drains, {} service changes, {} KiB",
                p.actions.drain.len(),
                p.actions.services.len(),
                bytes / 1024
            )
        })
        .collect();
    eprintln!("lambda-smoke: the large cluster's plans: {actions:?}");
    println!(
        "footprint: planner cluster={LARGE_INSTANCES}i/{LARGE_SERVICES}s/{}t rss_mb={:.1} invocations_ms={}",
        LARGE_SERVICES * LARGE_TASKS_PER_SERVICE,
        rss.context("no VmHWM in /proc for the planner")? as f64 / 1024.0,
        times.join(",")
    );
    Ok(())
}

/// Cluster `large`: 1,000 instances; service `svc-S` has 100 tasks on instances 100·S mod 1000
/// to +99, so every instance runs 20 tasks of 20 services.
async fn seed_large(bed: &TestBed) -> Result<()> {
    world::create_cluster(bed.ecs(), LARGE).await?;
    let group = world::create_group(
        bed.autoscaling(),
        bed.ecs(),
        LARGE,
        &world::GroupSpec::new(format!("{LARGE}-asg"), LARGE_INSTANCES as i32)
            .min(1)
            .max(LARGE_INSTANCES as i32),
    )
    .await?;
    let instances = group.container_instance_arns();
    let td = world::register_task_definition(bed.ecs(), "large-task", 128, 256).await?;
    let mut started = tokio::task::JoinSet::new();
    for s in 0..LARGE_SERVICES {
        let (ecs, td) = (bed.ecs().clone(), td.clone());
        let on: Vec<String> = (0..LARGE_TASKS_PER_SERVICE)
            .map(|k| instances[(s * LARGE_TASKS_PER_SERVICE + k) % instances.len()].clone())
            .collect();
        started.spawn(async move {
            let name = format!("svc-{s:03}");
            world::create_service(&ecs, LARGE, &name, &td, LARGE_TASKS_PER_SERVICE as i32).await?;
            world::start_tasks(&ecs, LARGE, &name, &td, &on).await?;
            anyhow::Ok(())
        });
        // A few services at a time: moto answers one request per thread.
        if started.len() >= 4 {
            if let Some(done) = started.join_next().await {
                done??;
            }
        }
    }
    while let Some(done) = started.join_next().await {
        done??;
    }
    Ok(())
}
