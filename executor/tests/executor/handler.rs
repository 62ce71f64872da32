//! The SQS handler: undecodable records, FIFO order, and the report on the bus.

use executor::handle;
use shared::messages::{ExecutionReport, Outcome, PlanActions};
use testbed::messaging::{self, QueueKind};
use testbed::{CallLog, TestBed};

use crate::support::*;

/// Captures this test's log lines (text) until the guard is dropped.
fn capture_logs() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    let buffer = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(buffer.clone())
        .with_ansi(false)
        .finish();
    (buffer.clone(), tracing::subscriber::set_default(subscriber))
}

/// Log text written by the subscriber of [`capture_logs`].
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

const SERVICES: &[ServiceSpec] = &[("web", 1024, 1024, 2)];

#[tokio::test]
async fn undecodable_records_are_rejected_at_once_and_hold_nothing_back() {
    let bed = TestBed::start().await;
    build_world(&bed, 2, SERVICES).await;
    let log = CallLog::new();
    let mut deps = deps(counted(&bed, &log).await);
    deps.bus_name = "default".into();

    let web_up = plan(
        "p-web-up",
        PlanActions {
            services: vec![service("web", 2, 3)],
            ..Default::default()
        },
    );
    let mut future_version = serde_json::to_value(&web_up).expect("JSON");
    future_version["schema_version"] = 2.into();
    let other_cluster = {
        let mut p = plan(
            "p-other",
            PlanActions {
                services: vec![service("web", 2, 5)],
                ..Default::default()
            },
        );
        // Same cluster in fact (the world has one), but another message group: its own order.
        p.plan_id = "p-other-group".into();
        p
    };
    let event = sqs_event(&[
        ("m1", CLUSTER, "not json at all".into()),
        ("m2", CLUSTER, serde_json::to_string(&web_up).expect("JSON")),
        ("m3", "other", future_version.to_string()),
        (
            "m4",
            "third",
            serde_json::to_string(&other_cluster).expect("JSON"),
        ),
    ]);

    let (logs, _guard) = capture_logs();
    let response = handle(event, &deps).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    // m1 undecodable and m3 an unsupported version: rejected and done with at once (returned to
    // a FIFO queue, each would hold back its cluster's later plans until the DLQ took it,
    // 5 receives × the visibility timeout later); m2 applied (web 2 → 3), then m4 stale (it
    // expected 2).
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(log.count("UpdateService"), 1);
    assert_eq!(desired_count(&bed, "web").await, 3, "m2 was applied");
    let text = logs.text();
    assert!(
        text.lines()
            .any(|l| l.contains("message m1 is not a valid plan")
                && l.contains("not a valid scaling plan")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("message m3 is not a valid plan")
                && l.contains("scaling plan has schema_version 2; this build reads version 1")),
        "{text}"
    );
}

#[tokio::test]
async fn a_plan_with_a_bad_field_is_rejected_alone_and_the_log_names_the_message_and_the_field() {
    let bed = TestBed::start().await;
    build_world(&bed, 2, SERVICES).await;
    let log = CallLog::new();
    let mut deps = deps(counted(&bed, &log).await);
    deps.bus_name = "default".into();
    let good = plan(
        "p-good",
        PlanActions {
            services: vec![service("web", 2, 3)],
            ..Default::default()
        },
    );
    let body = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut value = serde_json::to_value(&good).expect("JSON");
        edit(&mut value);
        value.to_string()
    };
    let event = sqs_event(&[
        (
            "m-expiry",
            CLUSTER,
            body(&|v| v["expires_at"] = "soon".into()),
        ),
        (
            "m-no-expiry",
            CLUSTER,
            body(&|v| {
                v.as_object_mut().expect("object").remove("expires_at");
            }),
        ),
        (
            "m-no-cluster",
            CLUSTER,
            body(&|v| {
                v.as_object_mut().expect("object").remove("cluster");
            }),
        ),
        (
            "m-good",
            CLUSTER,
            serde_json::to_string(&good).expect("JSON"),
        ),
    ]);
    let (logs, _guard) = capture_logs();
    let response = handle(event, &deps).await;
    let mut failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    failed.sort_unstable();
    assert!(failed.is_empty(), "rejected at once: {failed:?}");
    assert_eq!(
        desired_count(&bed, "web").await,
        3,
        "the good plan went through"
    );
    let text = logs.text();
    for (id, what) in [
        ("m-expiry", "not a valid scaling plan: expires_at: "),
        ("m-no-expiry", "missing field `expires_at`"),
        ("m-no-cluster", "missing field `cluster`"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains(&format!("message {id} is not a valid plan"))
                    && l.contains(what)),
            "{id}: {what}
{text}"
        );
    }
}

#[tokio::test]
async fn reports_reach_an_event_bridge_rule_target_with_the_documented_shape() {
    let bed = TestBed::start().await;
    let group = build_world(&bed, 3, SERVICES).await;
    let queue = messaging::create_queue(bed.sqs(), "applied", QueueKind::Standard)
        .await
        .expect("queue");
    messaging::create_event_bus(bed.eventbridge(), BUS)
        .await
        .expect("bus");
    messaging::route_to_queue(
        bed.eventbridge(),
        bed.sqs(),
        BUS,
        "applied",
        &serde_json::json!({"source": ["ecs-autoscale"], "detail-type": ["Scaling Plan Applied"]}),
        &queue,
    )
    .await
    .expect("rule");
    let deps = deps(counted(&bed, &CallLog::new()).await);
    let p = plan(
        "p-report",
        PlanActions {
            services: vec![service("web", 2, 3), service("ghost", 1, 2)],
            drain: vec![instance(&group, 2).into()],
            ..Default::default()
        },
    );

    let response = handle(plan_event("m-report", &p), &deps).await;
    assert!(response.batch_item_failures.is_empty());

    let bodies = messaging::receive_bodies(bed.sqs(), &queue)
        .await
        .expect("receive");
    assert_eq!(bodies.len(), 1);
    let event: serde_json::Value = serde_json::from_str(&bodies[0]).expect("event JSON");
    assert_eq!(event["source"], "ecs-autoscale");
    assert_eq!(event["detail-type"], "Scaling Plan Applied");
    let detail = &event["detail"];
    assert_eq!(detail["schema_version"], 1);
    assert_eq!(detail["plan_id"], "p-report");
    assert_eq!(detail["cluster"], CLUSTER);
    assert!(
        detail["finished_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{detail}"
    );
    // ghost does not exist: stale, and the drain is skipped because of it.
    assert_eq!(detail["outcome"], "partially_applied", "{detail:#}");
    let actions = detail["actions"].as_array().expect("actions");
    let summary: Vec<(String, String, String)> = actions
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap_or_default().to_owned(),
                a["target"].as_str().unwrap_or_default().to_owned(),
                a["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let drained = group.instances[2].instance_id.clone();
    assert_eq!(
        summary,
        [
            ("service".into(), "web".into(), "applied".into()),
            ("service".into(), "ghost".into(), "stale".into()),
            ("drain".into(), drained, "skipped".into()),
        ]
    );
    for a in actions {
        assert!(a["detail"].as_str().is_some_and(|d| !d.is_empty()), "{a}");
        assert!(
            a.get("error").is_none(),
            "no error field without an error: {a}"
        );
    }
    let report = ExecutionReport::from_json(&detail.to_string()).expect("typed report");
    assert_eq!(report.outcome, Outcome::PartiallyApplied);
}

/// A plan as JSON, created `age` ago and expiring `ttl` after that.
fn dated(plan: &shared::messages::ScalingPlan, age: i64, ttl: i64) -> String {
    let created =
        shared::time::to_seconds(shared::time::now() - jiff::SignedDuration::from_secs(age));
    let mut value = serde_json::to_value(plan).expect("JSON");
    value["created_at"] = created.to_string().into();
    value["expires_at"] = (created + jiff::SignedDuration::from_secs(ttl))
        .to_string()
        .into();
    value.to_string()
}

#[tokio::test]
async fn an_expired_plan_changes_nothing_and_is_reported_expired() {
    let bed = TestBed::start().await;
    let group = build_world(&bed, 3, SERVICES).await;
    let queue = messaging::create_queue(bed.sqs(), "applied", QueueKind::Standard)
        .await
        .expect("queue");
    messaging::create_event_bus(bed.eventbridge(), BUS)
        .await
        .expect("bus");
    messaging::route_to_queue(
        bed.eventbridge(),
        bed.sqs(),
        BUS,
        "applied",
        &serde_json::json!({"source": ["ecs-autoscale"], "detail-type": ["Scaling Plan Applied"]}),
        &queue,
    )
    .await
    .expect("rule");
    let log = CallLog::new();
    let deps = deps(counted(&bed, &log).await);
    let old = plan(
        "p-old",
        PlanActions {
            services: vec![service("web", 2, 4)],
            drain: vec![instance(&group, 2).into()],
            ..Default::default()
        },
    );
    let fresh = plan(
        "p-fresh",
        PlanActions {
            services: vec![service("web", 2, 3)],
            ..Default::default()
        },
    );
    // A plan made 10 minutes ago with a 2-minute life (a redelivery after a long outage), then
    // a plan made a second ago.
    let event = sqs_event(&[
        ("m-old", CLUSTER, dated(&old, 600, 120)),
        ("m-fresh", CLUSTER, dated(&fresh, 1, 120)),
    ]);

    let response = handle(event, &deps).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "an expired plan is done with, not retried"
    );
    assert_eq!(
        desired_count(&bed, "web").await,
        3,
        "only the fresh plan acted"
    );
    assert_eq!(
        instance_status(&bed, &group.instances[2].container_instance_arn).await,
        "ACTIVE"
    );
    assert_eq!(log.count("UpdateService"), 1);
    assert_eq!(log.count("UpdateContainerInstancesState"), 0);

    let reports: Vec<ExecutionReport> = messaging::receive_bodies(bed.sqs(), &queue)
        .await
        .expect("receive")
        .iter()
        .map(|b| {
            let event: serde_json::Value = serde_json::from_str(b).expect("event JSON");
            ExecutionReport::from_json(&event["detail"].to_string()).expect("report")
        })
        .collect();
    assert_eq!(reports.len(), 2, "{reports:?}");
    let expired = reports
        .iter()
        .find(|r| r.plan_id == "p-old")
        .expect("p-old");
    assert_eq!(expired.outcome, Outcome::Expired, "{expired:?}");
    assert_eq!(
        statuses(expired),
        [
            (
                "service".into(),
                "web".into(),
                shared::messages::ActionStatus::Skipped
            ),
            (
                "drain".into(),
                group.instances[2].instance_id.clone(),
                shared::messages::ActionStatus::Skipped
            ),
        ]
    );
    assert!(
        expired
            .actions
            .iter()
            .all(|a| a.detail.contains("expired at")),
        "{expired:?}"
    );
    let applied = reports
        .iter()
        .find(|r| r.plan_id == "p-fresh")
        .expect("p-fresh");
    assert_eq!(applied.outcome, Outcome::Applied);
}
