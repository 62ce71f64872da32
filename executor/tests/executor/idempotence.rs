//! Delivering a plan once, three times, after a world change or after a crash.

use executor::{apply, handle, ApplyError, ApplyOptions};
use shared::messages::{
    ActionStatus, CountChange, DrainTarget, GroupLimits, GroupLimitsChange, Outcome, PlanActions,
};
use shared::state::{ScalingRecord, LAST_SCALING_TAG};
use testbed::{world, CallLog, TestBed};

use crate::support::*;

const SERVICES: &[ServiceSpec] = &[("web", 1024, 1024, 2), ("api", 512, 512, 3)];

fn scale_plan(id: &str) -> shared::messages::ScalingPlan {
    plan(
        id,
        PlanActions {
            group_limits: Some(GroupLimitsChange {
                from: GroupLimits { min: 0, max: 10 },
                to: GroupLimits { min: 1, max: 6 },
            }),
            group_desired: Some(CountChange { from: 3, to: 4 }),
            services: vec![service("web", 2, 4), service("api", 3, 1)],
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn applying_a_plan_three_times_has_one_effect() {
    let bed = TestBed::start().await;
    build_world(&bed, 3, SERVICES).await;
    let log = CallLog::new();
    let clients = counted(&bed, &log).await;
    let plan = scale_plan("p-three-times");

    let first = apply(&clients, &plan, &ApplyOptions::default())
        .await
        .expect("first apply");
    assert_eq!(first.outcome, Outcome::Applied, "{first:#?}");
    assert!(all(&first, ActionStatus::Applied), "{first:#?}");
    // Order: limits, desired, scale-ups, scale-downs.
    let kinds: Vec<_> = statuses(&first)
        .into_iter()
        .map(|(k, t, _)| format!("{k}:{t}"))
        .collect();
    assert_eq!(
        kinds,
        [
            "group_limits:prod-asg",
            "group_desired:prod-asg",
            "service:web",
            "service:api"
        ]
    );
    let first_calls = mutating_calls(&log);
    assert_eq!(
        first_calls,
        [
            "UpdateAutoScalingGroup",
            "SetDesiredCapacity",
            "UpdateService",
            "TagResource",
            "UpdateService",
            "TagResource"
        ]
    );
    let tag = service_tag(&bed, "web", LAST_SCALING_TAG)
        .await
        .expect("web tagged");
    let record = ScalingRecord::from_tag_value(&tag).expect("tag value");
    assert_eq!(record.direction, shared::state::Direction::Up);
    let tag = service_tag(&bed, "api", LAST_SCALING_TAG)
        .await
        .expect("api tagged");
    assert!(tag.starts_with("down "), "{tag}");

    for attempt in 2..=3 {
        log.clear();
        let again = apply(&clients, &plan, &ApplyOptions::default())
            .await
            .expect("replay");
        assert_eq!(
            again.outcome,
            Outcome::Applied,
            "attempt {attempt}: {again:#?}"
        );
        assert!(
            all(&again, ActionStatus::AlreadyApplied),
            "attempt {attempt}: {again:#?}"
        );
        assert!(
            mutating_calls(&log).is_empty(),
            "attempt {attempt}: {:?}",
            log.ops()
        );
    }

    assert_eq!(desired_count(&bed, "web").await, 4);
    assert_eq!(desired_count(&bed, "api").await, 1);
    let (min, max, desired, _) = group_state(&bed).await;
    assert_eq!((min, max, desired), (1, 6, 4));
}

#[tokio::test]
async fn a_service_changed_after_planning_is_stale() {
    let bed = TestBed::start().await;
    build_world(&bed, 3, SERVICES).await;
    // Someone scales web by hand between planning (web at 2) and applying.
    world::set_desired_count(bed.ecs(), CLUSTER, "web", 3)
        .await
        .expect("manual change");
    let log = CallLog::new();
    let clients = counted(&bed, &log).await;
    let p = plan(
        "p-stale",
        PlanActions {
            services: vec![service("web", 2, 4), service("api", 3, 5)],
            ..Default::default()
        },
    );

    let report = apply(&clients, &p, &ApplyOptions::default())
        .await
        .expect("apply");
    assert_eq!(report.outcome, Outcome::PartiallyApplied, "{report:#?}");
    let web = &report.actions[0];
    assert_eq!(
        (web.target.as_str(), &web.status),
        ("web", &ActionStatus::Stale)
    );
    assert!(
        web.detail
            .contains("desired count is 3, the plan expected 2"),
        "{}",
        web.detail
    );
    assert_eq!(report.actions[1].status, ActionStatus::Applied);
    assert_eq!(
        desired_count(&bed, "web").await,
        3,
        "nothing applied to web"
    );
    assert_eq!(desired_count(&bed, "api").await, 5);
    assert_eq!(log.count("UpdateService"), 1);
    assert_eq!(service_tag(&bed, "web", LAST_SCALING_TAG).await, None);

    // Only stale actions: the outcome is `stale`.
    let only_web = plan(
        "p-stale-only",
        PlanActions {
            services: vec![service("web", 2, 4)],
            ..Default::default()
        },
    );
    let report = apply(&clients, &only_web, &ApplyOptions::default())
        .await
        .expect("apply");
    assert_eq!(report.outcome, Outcome::Stale);
}

/// A plan with every kind of change before the drain: 7 mutating calls in all, the drain's
/// record (PutAttributes) and the drain last.
fn crash_plan(drain: DrainTarget) -> shared::messages::ScalingPlan {
    plan(
        "p-crash",
        PlanActions {
            group_desired: Some(CountChange { from: 3, to: 4 }),
            services: vec![service("web", 2, 4), service("api", 3, 1)],
            drain: vec![drain],
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn a_crash_mid_apply_then_redelivery_converges_without_double_changes() {
    let bed = TestBed::start().await;
    // k = mutating calls made before the "crash" (7 in a full run).
    for k in [0usize, 1, 3, 4, 6] {
        bed.reset().await.expect("reset");
        let group = build_world(&bed, 3, SERVICES).await;
        // Every task is on one instance: drain one of the two others.
        let mut drain = drain_of(&bed, &group, 2).await;
        if drain.tasks > 0 {
            drain = drain_of(&bed, &group, 1).await;
        }
        let plan = crash_plan(drain.clone());
        let log = CallLog::new();
        let clients = counted(&bed, &log).await;

        let crashed = apply(
            &clients,
            &plan,
            &ApplyOptions {
                stop_after_mutations: Some(k),
                ..Default::default()
            },
        )
        .await;
        assert!(
            matches!(crashed, Err(ApplyError::Interrupted { mutations, .. }) if mutations == k),
            "k={k}: {crashed:?}"
        );
        assert_eq!(mutating_calls(&log).len(), k, "k={k}");

        let report = apply(&clients, &plan, &ApplyOptions::default())
            .await
            .expect("redelivery");
        assert_eq!(report.outcome, Outcome::Applied, "k={k}: {report:#?}");
        // Each change was made exactly once over both deliveries, tags included; a crash
        // between the drain's record and the drain writes the record again (same meaning).
        let records = if k == 6 { 2 } else { 1 };
        for (op, n) in [
            ("SetDesiredCapacity", 1),
            ("UpdateService", 2),
            ("TagResource", 2),
            ("PutAttributes", records),
            ("UpdateContainerInstancesState", 1),
        ] {
            assert_eq!(log.count(op), n, "k={k}: {op} in {:?}", log.ops());
        }
        assert_eq!(desired_count(&bed, "web").await, 4, "k={k}");
        assert_eq!(desired_count(&bed, "api").await, 1, "k={k}");
        assert_eq!(group_state(&bed).await.2, 4, "k={k}");
        assert_eq!(
            instance_status(&bed, &drain.instance.container_instance_arn).await,
            "DRAINING",
            "k={k}"
        );
        // The cooldown tags survive a crash between a change and its tag.
        for name in ["web", "api"] {
            assert!(
                service_tag(&bed, name, LAST_SCALING_TAG).await.is_some(),
                "k={k}: {name} not tagged"
            );
        }
    }
}

#[tokio::test]
async fn dry_run_changes_nothing_and_says_what_it_would_do() {
    let bed = TestBed::start().await;
    let group = build_world(&bed, 3, SERVICES).await;
    let log = CallLog::new();
    let clients = counted(&bed, &log).await;
    let drain = drain_of(&bed, &group, 2).await;
    let full = || {
        plan(
            "p-dry",
            PlanActions {
                group_limits: Some(GroupLimitsChange {
                    from: GroupLimits { min: 0, max: 10 },
                    to: GroupLimits { min: 1, max: 6 },
                }),
                reactivate: vec![],
                group_desired: Some(CountChange { from: 3, to: 4 }),
                services: vec![service("web", 2, 4), service("api", 3, 1)],
                drain: vec![drain.clone()],
                terminate: vec![],
                ..PlanActions::default()
            },
        )
    };
    let check = |report: &shared::messages::ExecutionReport, how: &str| {
        assert_eq!(report.outcome, Outcome::DryRun, "{how}");
        assert_eq!(report.actions.len(), 5, "{how}: {report:#?}");
        for a in &report.actions {
            assert_eq!(a.status, ActionStatus::Skipped, "{how}: {a:?}");
            assert!(a.detail.starts_with("would "), "{how}: {a:?}");
        }
    };

    // 1. The plan says dry run.
    let mut p = full();
    p.dry_run = true;
    let report = apply(
        &clients,
        &p,
        &ApplyOptions {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .expect("dry run");
    check(&report, "plan");

    // 2. Through the handler: the plan's flag, the function's DRY_RUN, the cluster file.
    let mut d = deps(clients.clone());
    d.bus_name = "default".into();
    let response = handle(plan_event("m1", &p), &d).await;
    assert!(response.batch_item_failures.is_empty());
    d.dry_run_env = true;
    let response = handle(plan_event("m2", &full()), &d).await;
    assert!(response.batch_item_failures.is_empty());
    d.dry_run_env = false;
    d.definitions = vec![definition("dry_run: true\n")];
    assert_eq!(
        d.dry_run_reason(&full()),
        Some("the cluster file says dry_run")
    );
    let response = handle(plan_event("m3", &full()), &d).await;
    assert!(response.batch_item_failures.is_empty());

    assert!(
        mutating_calls(&log).is_empty(),
        "mutating calls in a dry run: {:?}",
        log.ops()
    );
    assert_eq!(desired_count(&bed, "web").await, 2);
    assert_eq!(desired_count(&bed, "api").await, 3);
    let (min, max, desired, _) = group_state(&bed).await;
    assert_eq!((min, max, desired), (0, 10, 3));
    assert_eq!(
        instance_status(&bed, &group.instances[2].container_instance_arn).await,
        "ACTIVE"
    );
}
