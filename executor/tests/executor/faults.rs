//! Faults injected by a proxy in front of moto: throttling and 5xx are retried by the SDK
//! (3 attempts); what outlasts them sends the plan back for redelivery; a validation error is
//! reported, not retried; a lost answer never makes a change twice.

use executor::{apply, handle, ApplyError, ApplyOptions};
use shared::messages::{ActionStatus, CountChange, Outcome, PlanActions};
use testbed::messaging::{self, QueueKind};
use testbed::{CallLog, TestBed};

use crate::support::*;
use testbed::strict::{Fault, StrictAws};

const SERVICES: &[ServiceSpec] = &[("web", 1024, 1024, 2)];

fn raise_plan(id: &str) -> shared::messages::ScalingPlan {
    plan(
        id,
        PlanActions {
            group_desired: Some(CountChange { from: 3, to: 4 }),
            services: vec![service("web", 2, 4)],
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_and_applied_once() {
    let bed = TestBed::start().await;
    build_world(&bed, 3, SERVICES).await;
    let proxy = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    // ECS (JSON protocol) and Auto Scaling (query protocol), each throttled twice.
    proxy.fail("UpdateService", Fault::Throttle, 2);
    proxy.fail("SetDesiredCapacity", Fault::Throttle, 1);
    proxy.fail("SetDesiredCapacity", Fault::ServerError, 1);
    let log = CallLog::new();
    let clients = aws_clients(&fast_config(proxy.endpoint()).await, &log);

    let report = apply(
        &clients,
        &raise_plan("p-throttle"),
        &ApplyOptions::default(),
    )
    .await
    .expect("applied despite throttling");
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    for op in ["UpdateService", "SetDesiredCapacity"] {
        assert_eq!(proxy.attempts(op), 3, "{op}: two faults, then success");
        assert_eq!(proxy.forwarded(op), 1, "{op} applied once");
        assert_eq!(log.count(op), 1, "{op}: one operation");
    }
    assert_eq!(desired_count(&bed, "web").await, 4);
    assert_eq!(group_state(&bed).await.2, 4);
}

#[tokio::test]
async fn persistent_5xx_returns_the_plan_for_redelivery_then_applies_it() {
    let bed = TestBed::start().await;
    build_world(&bed, 3, SERVICES).await;
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
        &serde_json::json!({"source": ["ecs-autoscale"]}),
        &queue,
    )
    .await
    .expect("rule");
    let proxy = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    // More 500s than the SDK's three attempts.
    proxy.fail("UpdateService", Fault::ServerError, 3);
    let log = CallLog::new();
    let deps = deps(aws_clients(&fast_config(proxy.endpoint()).await, &log));
    let event = plan_event("m-5xx", &raise_plan("p-5xx"));

    let response = handle(event.clone(), &deps).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m-5xx"], "returned for redelivery");
    assert_eq!(proxy.attempts("UpdateService"), 3);
    assert_eq!(proxy.forwarded("UpdateService"), 0);
    assert_eq!(
        proxy.forwarded("SetDesiredCapacity"),
        1,
        "the group was raised before"
    );
    assert!(
        messaging::receive_bodies(bed.sqs(), &queue)
            .await
            .expect("receive")
            .is_empty(),
        "no report for an unfinished plan"
    );

    // SQS delivers it again.
    let response = handle(event, &deps).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(proxy.forwarded("SetDesiredCapacity"), 1, "not raised twice");
    assert_eq!(proxy.forwarded("UpdateService"), 1);
    let bodies = messaging::receive_bodies(bed.sqs(), &queue)
        .await
        .expect("receive");
    assert_eq!(bodies.len(), 1, "one report");
    let event: serde_json::Value = serde_json::from_str(&bodies[0]).expect("event JSON");
    let report =
        shared::messages::ExecutionReport::from_json(&event["detail"].to_string()).expect("report");
    assert_eq!(report.outcome, Outcome::Applied);
    assert_eq!(
        statuses(&report)
            .into_iter()
            .map(|(_, _, s)| s)
            .collect::<Vec<_>>(),
        [ActionStatus::AlreadyApplied, ActionStatus::Applied]
    );
    assert_eq!(desired_count(&bed, "web").await, 4);
    assert_eq!(group_state(&bed).await.2, 4);
}

#[tokio::test]
async fn a_lost_answer_to_a_termination_never_terminates_twice() {
    let bed = TestBed::start().await;
    let group = build_world(&bed, 3, &[]).await;
    let clients_direct = counted(&bed, &CallLog::new()).await;
    let victims = [instance(&group, 1), instance(&group, 2)];
    let drain = plan(
        "p-drain",
        PlanActions {
            drain: victims.iter().cloned().map(Into::into).collect(),
            ..Default::default()
        },
    );
    apply(&clients_direct, &drain, &ApplyOptions::default())
        .await
        .expect("drain");

    let proxy = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    // moto terminates the instance, the answer is lost; the SDK's retries then fail too
    // (moto answers 500 for an instance it no longer knows), so the plan comes back.
    proxy.fail(
        "TerminateInstanceInAutoScalingGroup",
        Fault::ServerErrorAfterForward,
        1,
    );
    let clients = aws_clients(&fast_config(proxy.endpoint()).await, &CallLog::new());
    let terminate = plan(
        "p-terminate",
        PlanActions {
            terminate: victims.to_vec(),
            ..Default::default()
        },
    );
    let first = apply(&clients, &terminate, &ApplyOptions::default()).await;
    assert!(
        matches!(first, Err(ApplyError::Retryable { .. })),
        "{first:?}"
    );
    assert_eq!(group_state(&bed).await.2, 2, "decremented once");

    let report = apply(&clients, &terminate, &ApplyOptions::default())
        .await
        .expect("replay");
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    assert_eq!(
        statuses(&report)
            .into_iter()
            .map(|(_, _, s)| s)
            .collect::<Vec<_>>(),
        [ActionStatus::AlreadyApplied, ActionStatus::Applied]
    );
    let (_, _, desired, ids) = group_state(&bed).await;
    assert_eq!(desired, 1, "one decrement per instance");
    assert_eq!(ids, vec![group.instances[0].instance_id.clone()]);
}

#[tokio::test]
async fn a_validation_error_is_reported_not_retried() {
    let bed = TestBed::start().await;
    build_world(&bed, 3, SERVICES).await;
    let proxy = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    proxy.fail("UpdateService", Fault::Validation, 1);
    let log = CallLog::new();
    let mut deps = deps(aws_clients(&fast_config(proxy.endpoint()).await, &log));
    deps.bus_name = "default".into();

    let report = apply(
        &deps.clients,
        &raise_plan("p-invalid"),
        &ApplyOptions::default(),
    )
    .await
    .expect("a report, not a retry");
    assert_eq!(report.outcome, Outcome::PartiallyApplied, "{report:#?}");
    let web = &report.actions[1];
    assert_eq!(web.status, ActionStatus::Failed);
    assert!(
        web.error
            .as_deref()
            .is_some_and(|e| e.contains("InvalidParameterException")),
        "{web:?}"
    );
    assert_eq!(
        proxy.attempts("UpdateService"),
        1,
        "not retried by the SDK either"
    );
    assert_eq!(desired_count(&bed, "web").await, 2);

    // Through the handler the record is done (no batch item failure).
    proxy.fail("UpdateService", Fault::Validation, 1);
    let response = handle(plan_event("m-invalid", &raise_plan("p-invalid-2")), &deps).await;
    assert!(response.batch_item_failures.is_empty());
}

#[tokio::test]
async fn a_retryable_failure_holds_back_the_next_plan_of_the_cluster() {
    let bed = TestBed::start().await;
    build_world(&bed, 2, SERVICES).await;
    let proxy = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    proxy.fail("UpdateService", Fault::ServerError, 3);
    let mut deps = deps(aws_clients(
        &fast_config(proxy.endpoint()).await,
        &CallLog::new(),
    ));
    deps.bus_name = "default".into();
    let first = plan(
        "p-n",
        PlanActions {
            services: vec![service("web", 2, 3)],
            ..Default::default()
        },
    );
    let second = plan(
        "p-n-plus-1",
        PlanActions {
            services: vec![service("web", 3, 4)],
            ..Default::default()
        },
    );
    let batch = sqs_event(&[
        ("m-n", CLUSTER, serde_json::to_string(&first).expect("JSON")),
        (
            "m-n1",
            CLUSTER,
            serde_json::to_string(&second).expect("JSON"),
        ),
    ]);

    let response = handle(batch.clone(), &deps).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m-n", "m-n1"], "plan N+1 waits for plan N");
    assert_eq!(
        proxy.attempts("DescribeServices"),
        1,
        "plan N+1 was not even read"
    );
    assert_eq!(desired_count(&bed, "web").await, 2);

    let response = handle(batch, &deps).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(proxy.forwarded("UpdateService"), 2);
    assert_eq!(desired_count(&bed, "web").await, 4);
}

/// PutEvents succeeds but its answer is lost (twice): the SDK sends the report again and the
/// bus carries it three times. Every copy carries the same `dedup_key`, which subscribers
/// keep the first of (on main the copies were indistinguishable from three outcomes).
#[tokio::test]
async fn a_report_published_again_after_a_lost_answer_carries_the_same_dedup_key() {
    let bed = TestBed::start().await;
    build_world(&bed, 3, SERVICES).await;
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
    let proxy = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    proxy.fail("PutEvents", Fault::ServerErrorAfterForward, 2);
    let deps = deps(aws_clients(
        &fast_config(proxy.endpoint()).await,
        &CallLog::new(),
    ));
    let p = plan(
        "p-lost",
        PlanActions {
            services: vec![service("web", 2, 3)],
            ..Default::default()
        },
    );
    let response = handle(plan_event("m-lost", &p), &deps).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(proxy.forwarded("PutEvents"), 3, "published three times");

    let keys: Vec<String> = messaging::receive_bodies(bed.sqs(), &queue)
        .await
        .expect("receive")
        .iter()
        .map(|body| {
            let event: serde_json::Value = serde_json::from_str(body).expect("event JSON");
            event["detail"]["dedup_key"]
                .as_str()
                .expect("a dedup_key")
                .to_owned()
        })
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(
        keys.iter().all(|k| k == &keys[0] && k.len() == 64),
        "{keys:?}"
    );
    assert_eq!(
        keys[0],
        shared::messages::report_dedup_key("p-lost", &p.delivery_id)
    );
}
