//! A load that saws up and down every cycle, through the local pipeline with AWS's strictness on
//! the wire (`testbed::strict`: FIFO deduplication for 5 minutes): every cycle's plan reaches the
//! executor and is applied, and the service follows the metric each time, although cycles 1 and
//! 3 (and 2 and 4) decide exactly the same thing within a few seconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ecs_autoscale_cli::pipeline::{Pipeline, PipelineConfig};
use shared::aws::AwsClients;
use shared::messages::{ExecutionReport, Outcome, APPLIED_DETAIL_TYPE};
use testbed::messaging::{self, QueueKind};
use testbed::strict::StrictAws;
use testbed::{world, TestBed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{s, tempdir};

const CLUSTER: &str = "saw";
const GROUP: &str = "saw-asg";
const BUS: &str = "saw-bus";

/// An HTTP JSON endpoint on loopback answering `{"messages_ready": N}` with the current `N`.
async fn queue_endpoint(value: Arc<AtomicU64>) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/queue", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let value = Arc::clone(&value);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = format!("{{\"messages_ready\": {}}}", value.load(Ordering::SeqCst));
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, task)
}

fn cluster_file(url: &str) -> String {
    format!(
        "autoscale_group: {GROUP}
min: 1
max: 1
services:
  worker:
    min: 1
    max: 10
    scale_up_cooldown: 0
    scale_down_cooldown: 0
    metric_sources:
      third_party:
        - url: \"{url}\"
          statistics:
            - name: messages_ready
              alias: queue_length
    target_tracking:
      metric: queue_length
      target: 10
"
    )
}

#[tokio::test]
async fn a_saw_load_is_followed_every_cycle_and_every_plan_is_applied() {
    let bed = TestBed::start().await;
    let strict = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");

    // One instance with room for 16 tasks of 256 CPU / 512 MiB: no instance ever changes.
    world::create_cluster(bed.ecs(), CLUSTER).await.unwrap();
    world::create_group(
        bed.autoscaling(),
        bed.ecs(),
        CLUSTER,
        &world::GroupSpec::new(GROUP, 1).min(1).max(1),
    )
    .await
    .unwrap();
    let td = world::register_task_definition(bed.ecs(), "worker", 256, 512)
        .await
        .unwrap();
    world::create_service(bed.ecs(), CLUSTER, "worker", &td, 3)
        .await
        .unwrap();
    bed.converge(CLUSTER).await.unwrap();

    let metrics_queue_url = messaging::create_queue(bed.sqs(), "saw-metrics", QueueKind::Fifo)
        .await
        .unwrap();
    let plans_queue_url = messaging::create_queue(bed.sqs(), "saw-plans", QueueKind::Fifo)
        .await
        .unwrap();
    messaging::create_event_bus(bed.eventbridge(), BUS)
        .await
        .unwrap();
    let outcomes_queue = messaging::create_queue(bed.sqs(), "saw-outcomes", QueueKind::Standard)
        .await
        .unwrap();
    messaging::route_to_queue(
        bed.eventbridge(),
        bed.sqs(),
        BUS,
        "outcomes",
        &serde_json::json!({"source": ["ecs-autoscale"], "detail-type": [APPLIED_DETAIL_TYPE]}),
        &outcomes_queue,
    )
    .await
    .unwrap();

    let value = Arc::new(AtomicU64::new(0));
    let (url, _server) = queue_endpoint(Arc::clone(&value)).await;
    let dir = tempdir("saw");
    std::fs::write(dir.join(format!("{CLUSTER}.yml")), cluster_file(&url)).unwrap();

    let pipeline = Pipeline::new(
        AwsClients::new(strict.sdk_config()),
        PipelineConfig {
            clusters_dir: s(&dir).into(),
            metrics_queue_url,
            plans_queue_url,
            bus: BUS.into(),
            clusters: vec![],
            dry_run: false,
            synthetic_queue_url: None,
        },
    )
    .expect("pipeline");

    // 90 → 30 → 90 → 30 → 90 messages, 10 per task: 9, 3, 9, 3, 9 tasks; within seconds.
    let mut applied = Vec::new();
    for (n, messages) in [90u64, 30, 90, 30, 90].into_iter().enumerate() {
        value.store(messages, Ordering::SeqCst);
        let result = pipeline
            .cycle(&format!("saw-{n}"), shared::time::now())
            .await
            .expect("cycle");
        assert_eq!(result.collect_error, None);
        bed.converge(CLUSTER).await.unwrap();
        let want = i32::try_from(messages / 10).unwrap();
        let desired = testbed::scheduler::services(bed.ecs(), CLUSTER)
            .await
            .unwrap()
            .iter()
            .find(|s| s.service_name() == Some("worker"))
            .map(|s| s.desired_count())
            .unwrap();
        let reports: Vec<ExecutionReport> = messaging::receive_bodies(bed.sqs(), &outcomes_queue)
            .await
            .unwrap()
            .iter()
            .map(|body| {
                let event: serde_json::Value = serde_json::from_str(body).unwrap();
                ExecutionReport::from_json(&event["detail"].to_string()).unwrap()
            })
            .collect();
        assert_eq!(
            (result.plans.received, reports.len()),
            (1, 1),
            "cycle {n} ({messages} messages): one plan delivered to the executor and one outcome \
             (deduplicated by the FIFO queue: {})",
            strict.deduplicated()
        );
        assert_eq!(
            reports[0].outcome,
            Outcome::Applied,
            "cycle {n}: {reports:?}"
        );
        assert_eq!(desired, want, "cycle {n}: the service follows the metric");
        applied.push(reports[0].plan_id.clone());
    }
    assert_eq!(strict.deduplicated(), 0);
    // The same decision, made again, is still a new delivery.
    assert_eq!(applied[0], applied[2], "cycles 1 and 3 decide the same");
}
