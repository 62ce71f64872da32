//! The SQS handler: undecodable records, FIFO order, and the report on the bus.

use executor::handle;
use shared::messages::{ExecutionReport, Outcome, PlanActions};
use testbed::messaging::{self, QueueKind};
use testbed::{CallLog, TestBed};

use crate::support::*;

const SERVICES: &[ServiceSpec] = &[("web", 1024, 1024, 2)];

#[tokio::test]
async fn undecodable_records_are_batch_item_failures_and_hold_back_their_group() {
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

    let response = handle(event, &deps).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    // m1 undecodable; m2 held back behind m1 (same group); m3 unsupported version; m4 applied.
    assert_eq!(failed, ["m1", "m2", "m3"]);
    assert_eq!(log.count("UpdateService"), 1);
    assert_eq!(desired_count(&bed, "web").await, 5, "only m4 was applied");
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
