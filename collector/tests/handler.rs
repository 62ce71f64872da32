//! The Lambda handler end to end against the emulator: cluster files loaded from a directory,
//! a scheduled event, and one metrics report per enabled cluster on the metrics queue.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use collector::handler::{handle, CollectorEvent, Deps};
use collector::CollectorConfig;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use shared::messages::MetricsReport;
use support::http_server::{Reply, TestServer};
use testbed::messaging::{self, QueueKind};
use testbed::{CallLog, TestBed};

/// A directory of cluster files, removed when dropped.
struct ClustersDir(PathBuf);

impl ClustersDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "ecs-autoscale-collector-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        ClustersDir(dir)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).expect("cluster file");
    }
}

impl Drop for ClustersDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cluster_file(enabled: bool, url: &str) -> String {
    format!(
        "autoscale_group: asg\nenabled: {enabled}\ncpu_buffer: 0\nmem_buffer: 0\nservices:\n  worker:\n    enabled: true\n\
        \x20   min: 1\n    max: 3\n    events: []\n    metric_sources:\n      third_party:\n        - url: \"{url}\"\n\
        \x20         statistics:\n            - name: messages_ready\n              alias: queue_length\n\
        \x20     cloudwatch:\n        - metric_name: CPUUtilization\n          statistics:\n            - name: Average\n              alias: cpu\n"
    )
}

fn scheduled(id: &str) -> CollectorEvent {
    serde_json::from_value(json!({
        "version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-29T10:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/collect"], "detail": {}
    }))
    .expect("scheduled event")
}

fn invoke(payload: CollectorEvent) -> LambdaEvent<CollectorEvent> {
    let mut context = Context::default();
    context.request_id = "req-1".into();
    // The Lambda has 20 s left.
    let deadline = shared::time::now() + Duration::from_secs(20);
    context.deadline = u64::try_from(deadline.as_millisecond()).expect("after 1970");
    LambdaEvent::new(payload, context)
}

#[tokio::test]
async fn a_scheduled_event_sends_one_report_per_enabled_cluster() {
    let bed = TestBed::start().await;
    let server = TestServer::start(|_| Reply::json(json!({"messages_ready": 4}))).await;
    let queue = messaging::create_queue(bed.sqs(), "metrics", QueueKind::Standard)
        .await
        .expect("queue");

    let dir = ClustersDir::new("handler");
    // 11 enabled clusters (two SendMessageBatch calls), a disabled one, a broken one.
    let enabled: Vec<String> = (0..11).map(|i| format!("prod-{i:02}")).collect();
    for name in &enabled {
        dir.write(
            &format!("{name}.yml"),
            &cluster_file(true, &server.url("/q")),
        );
    }
    dir.write("paused.yml", &cluster_file(false, &server.url("/q")));
    dir.write(
        "broken.yml",
        "autoscale_group: asg\nenabled: true\ncpu_buffer: 0\nmem_buffer: 0\nservices:\n  web:\n    enabled: true\n    min: 5\n    max: 1\n    events: []\n",
    );

    let log = CallLog::new();
    let clients = bed.counted_clients(&log);
    let config = CollectorConfig::new(queue.clone(), dir.0.clone());
    let deps = Deps::new(clients.cloudwatch.clone(), clients.sqs.clone(), config).expect("deps");
    assert_eq!(deps.definitions.clusters.len(), 12);
    assert_eq!(deps.definitions.errors.len(), 1);

    let (logs, _guard) = support::logs::capture();
    let summary = handle(invoke(scheduled("cycle-42")), &deps)
        .await
        .expect("cycle");
    assert_eq!(summary.cycle_id, "cycle-42");
    assert_eq!(summary.reported, enabled);
    assert_eq!(summary.definition_errors, 1);
    assert_eq!(log.count("SendMessageBatch"), 2, "{:?}", log.ops());
    assert_eq!(
        log.count("GetMetricData"),
        1,
        "11 identical CPU queries, asked once"
    );
    assert_eq!(
        server.count("/q"),
        1,
        "11 clusters read one URL: one request"
    );

    let text = logs.text();
    assert!(
        text.contains("broken.yml:") && text.contains("cluster definition not loaded"),
        "the definition error is logged with its file and position:\n{text}"
    );
    let error_line = text
        .lines()
        .find(|l| l.contains("broken.yml:"))
        .unwrap_or_default();
    assert!(
        error_line.contains("broken.yml:9:") || error_line.contains("broken.yml:8:"),
        "{error_line}"
    );

    let mut reports: Vec<MetricsReport> = messaging::receive_bodies(bed.sqs(), &queue)
        .await
        .expect("receive")
        .iter()
        .map(|b| MetricsReport::from_json(b).expect("a metrics report"))
        .collect();
    reports.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    let clusters: Vec<&str> = reports.iter().map(|r| r.cluster.as_str()).collect();
    assert_eq!(
        clusters, enabled,
        "no report for the disabled or the broken cluster"
    );
    for report in &reports {
        assert_eq!(report.cycle_id, "cycle-42");
        assert_eq!(report.origin, "collector");
        let worker = &report.services["worker"];
        assert_eq!(worker.values["queue_length"], 4.0);
        assert!(worker.missing.contains_key("cpu"), "moto has no CPU data");
    }
}

#[tokio::test]
async fn a_direct_invoke_collects_only_the_named_clusters() {
    let bed = TestBed::start().await;
    let server = TestServer::start(|_| Reply::json(json!({"messages_ready": 1}))).await;
    let queue = messaging::create_queue(bed.sqs(), "metrics", QueueKind::Standard)
        .await
        .expect("queue");
    let dir = ClustersDir::new("direct");
    for name in ["a", "b", "c"] {
        dir.write(
            &format!("{name}.yml"),
            &cluster_file(true, &server.url("/q")),
        );
    }
    let config = CollectorConfig::new(queue.clone(), dir.0.clone());
    let deps = Deps::new(bed.cloudwatch().clone(), bed.sqs().clone(), config).expect("deps");
    let payload: CollectorEvent =
        serde_json::from_value(json!({"clusters": ["b", "nope"]})).expect("direct");
    let summary = handle(invoke(payload), &deps).await.expect("cycle");
    assert_eq!(summary.reported, ["b"]);
    assert_eq!(
        summary.cycle_id, "req-1",
        "the request id names a direct invoke's cycle"
    );
    let bodies = messaging::receive_bodies(bed.sqs(), &queue)
        .await
        .expect("receive");
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        MetricsReport::from_json(&bodies[0])
            .expect("report")
            .cluster,
        "b"
    );
}
