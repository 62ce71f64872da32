//! `lambda-smoke --many`: the collector's binary on 100 clusters × 50 services (each service an
//! HTTP source answering after 50 ms and a CloudWatch source), and the planner's on batches of
//! reports for 50 clusters (FIFO batches hold at most 10 messages: 5 invocations of 10).
//!
//! The HTTP sources are spread over 10 loopback servers (10 hosts), each answering every
//! request after 50 ms; then all on one host (one cycle), where `HTTP_PER_HOST_CONCURRENCY`
//! bounds the cycle; and with the CloudWatch sources (moto's answer time included).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use shared::messages::MetricsReport;
use testbed::lambda_events::{scheduled_event, sqs_batch, SqsRecord};
use testbed::lambda_process::LambdaFunction;
use testbed::{messaging, world, TestBed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{no_failures, ClustersDir};

const CLUSTERS: usize = 100;
const SERVICES: usize = 50;
const HOSTS: usize = 10;
const LATENCY: Duration = Duration::from_millis(50);
/// Clusters of the planner's batches, and clusters per batch (SQS FIFO's maximum).
const PLANNED: usize = 50;
const BATCH: usize = 10;

/// HTTP servers on loopback answering `{"messages_ready": 7}` after [`LATENCY`]; stopped when
/// dropped.
struct SlowServers {
    ports: Vec<u16>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for SlowServers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl SlowServers {
    async fn start(count: usize) -> Result<SlowServers> {
        let (mut ports, mut tasks) = (Vec::new(), Vec::new());
        for _ in 0..count {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            ports.push(listener.local_addr()?.port());
            tasks.push(tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    tokio::spawn(async move {
                        // One request per connection (`Connection: close`); GETs have no body.
                        let mut head = Vec::new();
                        let mut chunk = [0u8; 4096];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&chunk[..n]),
                            }
                        }
                        tokio::time::sleep(LATENCY).await;
                        let body = r#"{"messages_ready": 7}"#;
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = stream.write_all(answer.as_bytes()).await;
                    });
                }
            }));
        }
        Ok(SlowServers { ports, tasks })
    }
}

/// Cluster `many-NNN`'s file: 50 services, each with its own HTTP URL (on the cluster's host)
/// and, with `cloudwatch`, a CloudWatch CPU source.
fn cluster_file(cluster: usize, port: u16, cloudwatch: bool) -> String {
    let mut file = format!("autoscale_group: many-{cluster:03}-asg\nservices:\n");
    for s in 0..SERVICES {
        file.push_str(&format!(
            "  svc-{s:02}:\n    min: 1\n    max: 10\n    metric_sources:\n      third_party:\n\
             \x20       - url: http://127.0.0.1:{port}/c{cluster:03}/s{s:02}\n\
             \x20         statistics:\n            - {{name: messages_ready, alias: queue}}\n"
        ));
        if cloudwatch {
            file.push_str(&format!(
                "      cloudwatch:\n        - metric_name: CPUUtilization\n\
                 \x20         namespace: AWS/ECS\n          dimensions:\n\
                 \x20           - {{name: ClusterName, value: many-{cluster:03}}}\n\
                 \x20           - {{name: ServiceName, value: svc-{s:02}}}\n\
                 \x20         period: 60\n          statistics:\n            - {{name: Average, alias: cpu}}\n"
            ));
        }
        file.push_str("    target_tracking: {metric: queue, target: 10}\n");
    }
    file
}

/// The collector on 100 × 50 (HTTP and CloudWatch sources, then HTTP alone: what moto's
/// CloudWatch adds), then the planner on 50 clusters' reports. The planner reaches AWS at
/// `aws_endpoint`, the strict proxy in front of `bed`'s moto (moto answers GetTaskProtection
/// with a 500, which the SDK retries with backoff); the collector calls nothing moto lacks.
pub async fn many_clusters(
    bed: &TestBed,
    aws_endpoint: &str,
    collector: &Path,
    planner: &Path,
    stack: &ecs_autoscale_demo::stack::Stack,
) -> Result<()> {
    let servers = SlowServers::start(HOSTS).await?;
    // Every source on one host: HTTP_PER_HOST_CONCURRENCY (8) requests at a time (one cycle).
    drop(collect(bed, collector, stack, &servers.ports[..1], false, 1).await?);
    drop(collect(bed, collector, stack, &servers.ports, false, 3).await?);
    let (dir, reports) = collect(bed, collector, stack, &servers.ports, true, 3).await?;
    let clusters_dir = dir.0.display().to_string();

    // The planner: the last cycle's reports of the first 50 clusters, 10 per FIFO batch, each
    // cluster seeded small on moto (2 instances, its 50 services with 1 task each).
    let mut reports: Vec<MetricsReport> = reports
        .iter()
        .map(|b| MetricsReport::from_json(b).context("a report"))
        .collect::<Result<_>>()?;
    reports.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    reports.truncate(PLANNED);
    let seeding = Instant::now();
    for report in &reports {
        seed_small(bed, &report.cluster).await?;
    }
    eprintln!(
        "lambda-smoke: seeded {PLANNED} clusters in {:.0} s",
        seeding.elapsed().as_secs_f64()
    );
    let env = [
        ("CLUSTERS_DIR", clusters_dir.as_str()),
        ("AWS_ENDPOINT_URL", aws_endpoint),
        ("PLANS_QUEUE_URL", stack.plans_queue_url.as_str()),
        ("EVENT_BUS_NAME", stack.bus.as_str()),
        ("COLLECTION_PERIOD", "60"),
        ("LOG_LEVEL", "warning"),
    ];
    let mut function = LambdaFunction::start(planner, "planner", &env).await?;
    let mut times = Vec::new();
    for (i, batch) in reports.chunks(BATCH).enumerate() {
        let records: Vec<SqsRecord> = batch
            .iter()
            .map(|r| {
                serde_json::to_string(r)
                    .map(|body| SqsRecord::fifo(&format!("{}-{i}", r.cluster), &r.cluster, body))
            })
            .collect::<Result<_, _>>()?;
        let invocation = function
            .invoke(
                &sqs_batch("smoke-metrics.fifo", &records),
                Duration::from_secs(60),
            )
            .await
            .map_err(anyhow::Error::msg)?;
        no_failures(i, &invocation.json().map_err(anyhow::Error::msg)?)?;
        times.push(invocation.elapsed.as_millis().to_string());
    }
    let rss = function.process.peak_rss_kib().unwrap_or(0);
    function.process.kill().await;
    println!(
        "many: planner clusters={PLANNED} batches_of={BATCH} invocations_ms={} rss_mb={:.1}",
        times.join(","),
        rss as f64 / 1024.0
    );
    Ok(())
}

/// `cycles` collection cycles of 100 clusters' files (in the returned directory, their HTTP
/// sources spread over the servers at `ports`) by one collector process; the last cycle's
/// reports.
async fn collect(
    bed: &TestBed,
    collector: &Path,
    stack: &ecs_autoscale_demo::stack::Stack,
    ports: &[u16],
    cloudwatch: bool,
    cycles: usize,
) -> Result<(ClustersDir, Vec<String>)> {
    let dir = ClustersDir(std::env::temp_dir().join(format!(
        "ecs-autoscale-lambda-smoke-many-{cloudwatch}-{}-{}",
        ports.len(),
        std::process::id()
    )));
    std::fs::create_dir_all(&dir.0).context("creating the cluster directory")?;
    for c in 0..CLUSTERS {
        let file = cluster_file(c, ports[c % ports.len()], cloudwatch);
        std::fs::write(dir.0.join(format!("many-{c:03}.yml")), file)
            .context("writing a cluster file")?;
    }
    let clusters_dir = dir.0.display().to_string();
    let env = [
        ("CLUSTERS_DIR", clusters_dir.as_str()),
        ("AWS_ENDPOINT_URL", bed.endpoint()),
        ("METRICS_QUEUE_URL", stack.metrics_queue_url.as_str()),
        ("LOG_LEVEL", "warning"),
    ];
    let mut function = LambdaFunction::start(collector, "collector", &env).await?;
    let mut times = Vec::new();
    let mut reports = Vec::new();
    for i in 0..cycles {
        let event = scheduled_event(
            &format!("many-{cloudwatch}-{}-cycle-{i}", ports.len()),
            "collect",
        );
        let invocation = function
            .invoke(&event, Duration::from_secs(50))
            .await
            .map_err(anyhow::Error::msg)?;
        let summary = invocation.json().map_err(anyhow::Error::msg)?;
        let reported = summary["reported"].as_array().map_or(0, Vec::len);
        ensure!(
            reported == CLUSTERS && summary["values"] == CLUSTERS * SERVICES,
            "cycle {i}: {reported} clusters reported, summary {summary}"
        );
        times.push(invocation.elapsed.as_millis().to_string());
        reports = messaging::receive_bodies(bed.sqs(), &stack.metrics_queue_url).await?;
    }
    let rss = function.process.peak_rss_kib().unwrap_or(0);
    function.process.kill().await;
    println!(
        "many: collector clusters={CLUSTERS} services={} sources={} http_latency_ms={} hosts={} invocations_ms={} rss_mb={:.1}",
        CLUSTERS * SERVICES,
        if cloudwatch { "http+cloudwatch" } else { "http" },
        LATENCY.as_millis(),
        ports.len(),
        times.join(","),
        rss as f64 / 1024.0
    );
    Ok((dir, reports))
}

/// Cluster `name`: 2 instances, services `svc-00`..`svc-49` with one small task each.
async fn seed_small(bed: &TestBed, name: &str) -> Result<()> {
    world::create_cluster(bed.ecs(), name).await?;
    world::create_group(
        bed.autoscaling(),
        bed.ecs(),
        name,
        &world::GroupSpec::new(format!("{name}-asg"), 2)
            .min(1)
            .max(10),
    )
    .await?;
    let td = world::register_task_definition(bed.ecs(), &format!("{name}-task"), 64, 64).await?;
    for s in 0..SERVICES {
        world::create_service(bed.ecs(), name, &format!("svc-{s:02}"), &td, 1).await?;
    }
    Ok(())
}
