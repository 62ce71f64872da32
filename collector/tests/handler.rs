//! The Lambda handler end to end against the emulator: cluster files loaded from a directory,
//! a scheduled event, and one metrics report per enabled cluster on the metrics queue (FIFO:
//! grouped by cluster, deduplicated by cycle, with AWS's 5-minute window through
//! `testbed::strict`); synthetic reports from the bus's queue forwarded to it.

mod support;

// The real binary under the runtime API emulator.
#[path = "handler/runtime.rs"]
mod runtime;

use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName as Attribute;
use collector::handler::{
    handle, invoke as invoke_any, CollectorEvent, Deps, Invocation, Response,
};
use collector::CollectorConfig;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use shared::messages::{report_deduplication_id, MetricsReport};
use support::http_server::{Reply, TestServer};
use testbed::messaging::{self, QueueKind};
use testbed::strict::StrictAws;
use testbed::{CallLog, ClustersDir, TestBed};

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

    let dir = ClustersDir::new("collector", "handler");
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
    let config = CollectorConfig::new(queue.clone(), dir.path().to_path_buf());
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
    let dir = ClustersDir::new("collector", "direct");
    for name in ["a", "b", "c"] {
        dir.write(
            &format!("{name}.yml"),
            &cluster_file(true, &server.url("/q")),
        );
    }
    let config = CollectorConfig::new(queue.clone(), dir.path().to_path_buf());
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

/// (cluster, cycle id, message group, deduplication id) of every report on `queue`.
async fn fifo_reports(bed: &TestBed, queue: &str) -> Vec<(String, String, String, String)> {
    let mut got: Vec<(String, String, String, String)> = messaging::receive_all(bed.sqs(), queue)
        .await
        .expect("receive")
        .iter()
        .map(|m| {
            let report = MetricsReport::from_json(m.body().unwrap_or_default()).expect("report");
            let attribute = |name| {
                m.attributes()
                    .and_then(|a| a.get(&name))
                    .cloned()
                    .unwrap_or_default()
            };
            (
                report.cluster,
                report.cycle_id,
                attribute(Attribute::MessageGroupId),
                attribute(Attribute::MessageDeduplicationId),
            )
        })
        .collect();
    got.sort();
    got
}

#[tokio::test]
async fn reports_to_the_fifo_queue_are_grouped_by_cluster_and_deduplicated_by_cycle() {
    let bed = TestBed::start().await;
    let strict = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    let server = TestServer::start(|_| Reply::json(json!({"messages_ready": 2}))).await;
    let queue = messaging::create_queue(bed.sqs(), "metrics.fifo", QueueKind::Fifo)
        .await
        .expect("queue");
    let dir = ClustersDir::new("collector", "fifo");
    for name in ["a", "b"] {
        dir.write(
            &format!("{name}.yml"),
            &cluster_file(true, &server.url("/q")),
        );
    }
    let sqs = aws_sdk_sqs::Client::new(strict.sdk_config());
    let config = CollectorConfig::new(queue.clone(), dir.path().to_path_buf());
    let deps = Deps::new(bed.cloudwatch().clone(), sqs, config).expect("deps");
    let expected = |cycle: &str| -> Vec<(String, String, String, String)> {
        ["a", "b"]
            .iter()
            .map(|c| {
                let c = (*c).to_owned();
                (
                    c.clone(),
                    cycle.to_owned(),
                    c.clone(),
                    report_deduplication_id(cycle, &c),
                )
            })
            .collect()
    };

    handle(invoke(scheduled("cycle-7")), &deps)
        .await
        .expect("cycle");
    assert_eq!(fifo_reports(&bed, &queue).await, expected("cycle-7"));
    // The same scheduled event again (a retried invocation): SQS drops both reports.
    let summary = handle(invoke(scheduled("cycle-7")), &deps)
        .await
        .expect("cycle");
    assert_eq!(summary.reported, ["a", "b"], "SQS accepts the sends");
    assert_eq!(strict.deduplicated(), 2);
    assert!(fifo_reports(&bed, &queue).await.is_empty());
    // The next cycle, a minute later with the same values, is delivered.
    handle(invoke(scheduled("cycle-8")), &deps)
        .await
        .expect("cycle");
    assert_eq!(fifo_reports(&bed, &queue).await, expected("cycle-8"));
}

/// An SQS event of (message id, body) records, as Lambda hands the synthetic queue's batch.
fn sqs_invocation(records: &[(&str, String)]) -> LambdaEvent<Invocation> {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id, "receiptHandle": format!("h-{id}"), "body": body,
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:stack-synthetic",
            })
        })
        .collect();
    let payload: Invocation =
        serde_json::from_value(json!({ "Records": records })).expect("an SQS event");
    assert!(matches!(payload, Invocation::Synthetic(_)), "{payload:?}");
    LambdaEvent::new(payload, Context::default())
}

#[tokio::test]
async fn synthetic_reports_are_forwarded_with_their_group_and_bad_ones_fail_alone() {
    let bed = TestBed::start().await;
    let queue = messaging::create_queue(bed.sqs(), "metrics.fifo", QueueKind::Fifo)
        .await
        .expect("queue");
    let dir = ClustersDir::new("collector", "forward");
    for name in ["a", "b"] {
        dir.write(
            &format!("{name}.yml"),
            &cluster_file(true, "http://127.0.0.1:9/q"),
        );
    }
    let config = CollectorConfig::new(queue.clone(), dir.path().to_path_buf());
    let deps = Deps::new(bed.cloudwatch().clone(), bed.sqs().clone(), config).expect("deps");

    let report = |cluster: &str, cycle: &str| {
        let mut r = MetricsReport::new(cluster, cycle, shared::time::now());
        r.origin = "synthetic".into();
        r.services
            .entry("worker".into())
            .or_default()
            .set_value("queue_length", 7.0);
        serde_json::to_value(r).expect("JSON")
    };
    let envelope = |detail_type: &str, detail: serde_json::Value| {
        json!({
            "version": "0", "id": "e-1", "detail-type": detail_type,
            "source": "ecs-autoscale.synthetic", "account": "123456789012",
            "time": "2026-11-29T10:00:00Z", "region": "us-east-1", "resources": [],
            "detail": detail,
        })
        .to_string()
    };
    let mut no_time = report("a", "s-3");
    no_time
        .as_object_mut()
        .expect("object")
        .remove("collected_at");
    let mut bad_time = report("a", "s-4");
    bad_time["collected_at"] = "half past ten".into();
    let mut v9 = report("a", "s-5");
    v9["schema_version"] = 9.into();
    let event = sqs_invocation(&[
        ("m-a", envelope("Metrics Report", report("a", "s-1"))),
        ("m-b", report("b", "s-2").to_string()),
        ("m-no-time", envelope("Metrics Report", no_time)),
        ("m-bad-time", envelope("Metrics Report", bad_time)),
        ("m-v9", envelope("Metrics Report", v9)),
        (
            "m-ghost",
            envelope("Metrics Report", report("ghost", "s-6")),
        ),
        ("m-plan", envelope("Scaling Plan", report("a", "s-7"))),
        ("m-junk", "not json".into()),
    ]);

    let (logs, _guard) = support::logs::capture();
    let Response::Synthetic(response) = invoke_any(event, &deps).await.expect("forwarded") else {
        panic!("an SQS batch is answered with its batch item failures");
    };
    let mut failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    failed.sort_unstable();
    assert_eq!(
        failed,
        [
            "m-bad-time",
            "m-ghost",
            "m-junk",
            "m-no-time",
            "m-plan",
            "m-v9"
        ]
    );
    let forwarded: Vec<(String, String, String)> = fifo_reports(&bed, &queue)
        .await
        .into_iter()
        .map(|(cluster, cycle, group, _)| (cluster, cycle, group))
        .collect();
    assert_eq!(
        forwarded,
        [
            ("a".to_owned(), "s-1".to_owned(), "a".to_owned()),
            ("b".to_owned(), "s-2".to_owned(), "b".to_owned()),
        ]
    );
    let text = logs.text();
    for (id, what) in [
        ("m-no-time", "missing field `collected_at`"),
        ("m-bad-time", "not a valid metrics report: collected_at: "),
        ("m-v9", "metrics report has schema_version 9"),
        ("m-ghost", "no cluster definition `ghost` is loaded"),
        ("m-plan", "detail-type `Scaling Plan`"),
        ("m-junk", "not a valid metrics report"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains(&format!("message {id} not forwarded: ")) && l.contains(what)),
            "{id}: {what}\n{text}"
        );
    }
}
