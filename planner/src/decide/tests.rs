//! Scenario tests of the core: the original's event semantics as a table, then whole plans.

use std::time::Duration;

use shared::definition::ClusterDefinition;
use shared::messages::{CountChange, GroupLimits, GroupLimitsChange, Reason, ServiceChange};
use shared::resources::Resources;
use shared::state::{ClusterState, Direction, InstanceStatus, ScalingRecord};

use super::fixtures::*;
use super::rules::decide_service;
use super::*;

// ---------------------------------------------------------------- step events (the original)

/// `(events, desired, value, min, max) -> to` over one alias `m`.
#[test]
fn step_event_semantics_of_the_original() {
    let up5 = event("m", 1, Some(5.0), None);
    let down3 = event("m", -1, None, Some(3.0));
    type Case = (
        &'static str,
        Vec<shared::definition::StepEvent>,
        u32,
        f64,
        u32,
        u32,
        u32,
    );
    let cases: Vec<Case> = vec![
        (
            "lower bound is inclusive",
            vec![up5.clone()],
            2,
            5.0,
            1,
            5,
            3,
        ),
        (
            "upper bound is inclusive",
            vec![down3.clone()],
            2,
            3.0,
            1,
            5,
            1,
        ),
        (
            "just outside the bounds: no match, hold",
            vec![up5.clone(), down3.clone()],
            2,
            4.0,
            1,
            5,
            2,
        ),
        (
            "null is unbounded",
            vec![event("m", 2, None, None)],
            1,
            -1e9,
            1,
            5,
            3,
        ),
        (
            "first match wins",
            vec![
                event("m", 1, Some(0.0), None),
                event("m", 3, Some(0.0), None),
            ],
            1,
            7.0,
            1,
            9,
            2,
        ),
        (
            "clamped to max",
            vec![event("m", 5, Some(0.0), None)],
            2,
            1.0,
            1,
            4,
            4,
        ),
        (
            "clamped to min",
            vec![event("m", -5, None, None)],
            3,
            1.0,
            2,
            9,
            2,
        ),
        (
            "action 0 holds and stops the search",
            vec![event("m", 0, Some(5.0), None), up5.clone()],
            2,
            6.0,
            1,
            5,
            2,
        ),
        (
            "at max the event is skipped and the next matching one fires",
            vec![
                event("m", 1, Some(5.0), None),
                event("m", -1, Some(0.0), None),
            ],
            4,
            7.0,
            1,
            4,
            3,
        ),
        (
            "at min the event is skipped and the next matching one fires",
            vec![event("m", -1, None, Some(3.0)), event("m", 2, None, None)],
            1,
            0.0,
            1,
            5,
            3,
        ),
        (
            "at max with nothing after: hold",
            vec![up5.clone()],
            4,
            9.0,
            1,
            4,
            4,
        ),
        ("above max: set to max", vec![], 9, 0.0, 1, 4, 4),
        (
            "above max: set to max, and no event that cycle",
            vec![down3.clone()],
            9,
            0.0,
            1,
            4,
            4,
        ),
        (
            "below min: set to min, and no event that cycle",
            vec![up5.clone()],
            0,
            9.0,
            2,
            5,
            2,
        ),
        (
            "expressions over aliases",
            vec![event("m * 2 + 1", 1, Some(11.0), Some(11.0))],
            1,
            5.0,
            1,
            5,
            2,
        ),
    ];
    for (name, events, desired, value, min, max, expected) in cases {
        let mut def = service("s", min, max, &["m"]);
        def.events = events;
        let st = service_state("s", desired, Resources::new(256, 512));
        let m = metrics("s", &[("m", value)], &[]);
        let out = decide_service(&def, Some(&st), m.get("s"), now());
        assert_eq!(
            out.decision.to,
            Some(expected),
            "{name}: {:#?}",
            out.decision
        );
    }
}

#[test]
fn a_skipped_event_is_recorded() {
    let mut def = service("s", 1, 4, &["m"]);
    def.events = vec![event("m", 1, Some(5.0), None)];
    let m = metrics("s", &[("m", 9.0)], &[]);
    let out = decide_service(&def, Some(&service_state("s", 4, SIZE)), m.get("s"), now());
    let rule = &out.decision.rules[0];
    assert!(matches!(
        rule.reasons[0],
        Reason::StepEventSkippedAtBound {
            event: 1,
            bound: 4,
            ..
        }
    ));
    assert!(matches!(rule.reasons[1], Reason::NoStepEventMatched { .. }));
}

#[test]
fn no_match_lists_each_metric_value_once() {
    // The original's usual pair: one metric, a scale-up and a scale-down event.
    let mut def = service("s", 1, 4, &["m"]);
    def.events = vec![
        event("m", 1, Some(5.0), None),
        event("m", -1, None, Some(3.0)),
    ];
    let m = metrics("s", &[("m", 4.0)], &[]);
    let out = decide_service(&def, Some(&service_state("s", 2, SIZE)), m.get("s"), now());
    let reasons = &out.decision.rules[0].reasons;
    let Some(Reason::NoStepEventMatched { values }) = reasons.last() else {
        panic!("{reasons:?}")
    };
    assert_eq!(values, &vec![("m".to_string(), 4.0)]);
}

// ---------------------------------------------------------------- target tracking, combination

#[test]
fn target_tracking_meets_a_step_from_5_to_500_in_one_cycle() {
    let mut def = service("w", 1, 100, &["q"]);
    def.target_tracking = tracking("q", 10.0);
    let st = service_state("w", 1, SIZE);
    let out = decide_service(
        &def,
        Some(&st),
        metrics("w", &[("q", 500.0)], &[]).get("w"),
        now(),
    );
    assert_eq!(out.decision.to, Some(50));
    let out = decide_service(
        &def,
        Some(&st),
        metrics("w", &[("q", 5.0)], &[]).get("w"),
        now(),
    );
    assert_eq!(out.decision.to, Some(1));
    let out = decide_service(
        &def,
        Some(&st),
        metrics("w", &[("q", 5000.0)], &[]).get("w"),
        now(),
    );
    assert_eq!(out.decision.to, Some(100), "clamped");
}

#[test]
fn both_kinds_scale_out_if_any_and_in_only_if_all() {
    let mut def = service("w", 1, 20, &["q", "cpu"]);
    def.target_tracking = tracking("q", 10.0);
    def.events = vec![
        event("cpu", 1, Some(80.0), None),
        event("cpu", -1, None, Some(20.0)),
    ];
    let st = service_state("w", 5, SIZE);
    let to = |q: f64, cpu: f64| {
        let m = metrics("w", &[("q", q), ("cpu", cpu)], &[]);
        decide_service(&def, Some(&st), m.get("w"), now())
            .decision
            .to
    };
    assert_eq!(to(10.0, 90.0), Some(6), "events ask for more");
    assert_eq!(to(90.0, 50.0), Some(9), "tracking asks for more");
    assert_eq!(
        to(10.0, 50.0),
        Some(5),
        "tracking alone wants fewer: no match holds"
    );
    assert_eq!(to(30.0, 10.0), Some(4), "both want fewer: the gentler");
}

#[test]
fn missing_metrics_never_scale_in() {
    let mut def = service("w", 1, 20, &["q", "cpu"]);
    def.target_tracking = tracking("q", 10.0);
    def.events = vec![event("cpu", -1, None, Some(20.0))];
    let st = service_state("w", 5, SIZE);
    // Events want fewer, tracking has no data.
    let m = metrics("w", &[("cpu", 1.0)], &["q"]);
    let out = decide_service(&def, Some(&st), m.get("w"), now());
    assert_eq!(out.decision.to, Some(5));
    assert!(out
        .decision
        .reasons
        .iter()
        .any(|r| matches!(r, Reason::ScaleInNotAgreed { proposed: 4 })));
    // Nothing reported at all.
    let out = decide_service(&def, Some(&st), None, now());
    assert_eq!(out.decision.to, Some(5));
    // A missing alias with a `default` uses it.
    def.metric_sources.cloudwatch[0].statistics[0].default = Some(0.0);
    let out = decide_service(&def, Some(&st), m.get("w"), now());
    assert_eq!(out.decision.to, Some(4));
    assert!(out
        .decision
        .metrics
        .iter()
        .any(|u| u.alias == "q" && u.default_used));
}

#[test]
fn a_missing_metric_in_a_step_event_stops_the_search() {
    let mut def = service("w", 1, 9, &["a", "b"]);
    def.events = vec![event("a", 1, Some(5.0), None), event("b", -1, None, None)];
    let m = metrics("w", &[("b", 1.0)], &["a"]);
    let out = decide_service(&def, Some(&service_state("w", 3, SIZE)), m.get("w"), now());
    assert_eq!(out.decision.to, Some(3));
    assert_eq!(out.decision.rules[0].recommends, None);
}

#[test]
fn division_by_zero_recommends_nothing_and_is_recorded() {
    let mut def = service("w", 1, 9, &["a", "b"]);
    def.target_tracking = tracking("a / b", 1.0);
    let m = metrics("w", &[("a", 1.0), ("b", 0.0)], &[]);
    let out = decide_service(&def, Some(&service_state("w", 3, SIZE)), m.get("w"), now());
    assert_eq!(out.decision.to, Some(3));
    assert!(matches!(
        &out.decision.rules[0].reasons[0],
        Reason::RuleNotEvaluated { error, .. } if error.contains("division by zero")
    ));
}

#[test]
fn cooldowns_block_per_direction() {
    let mut def = service("w", 1, 20, &["q"]);
    def.target_tracking = tracking("q", 1.0);
    def.scale_up_cooldown = Duration::from_secs(60);
    let mut st = service_state("w", 5, SIZE);
    let decide = |st: &shared::state::ServiceState, q: f64| {
        decide_service(
            &def,
            Some(st),
            metrics("w", &[("q", q)], &[]).get("w"),
            now(),
        )
        .decision
    };
    st.last_scaling = Some(ScalingRecord {
        direction: Direction::Up,
        at_epoch_secs: NOW_SECS - 10,
    });
    let d = decide(&st, 9.0);
    assert_eq!(d.to, Some(5));
    assert!(d.reasons.iter().any(|r| matches!(
        r,
        Reason::CooldownBlocked {
            direction: Direction::Up,
            remaining_secs: 50,
            ..
        }
    )));
    assert_eq!(
        decide(&st, 2.0).to,
        Some(5),
        "scale-down waits 300 s after any scaling"
    );
    st.last_scaling = Some(ScalingRecord {
        direction: Direction::Down,
        at_epoch_secs: NOW_SECS - 10,
    });
    assert_eq!(
        decide(&st, 9.0).to,
        Some(9),
        "a scale-down does not hold a scale-up"
    );
    st.last_scaling = Some(ScalingRecord {
        direction: Direction::Up,
        at_epoch_secs: NOW_SECS - 400,
    });
    assert_eq!(decide(&st, 2.0).to, Some(2));
}

// ---------------------------------------------------------------- whole plans

const TASK: Resources = Resources::new(1024, 2048);

/// `n` instances each running 4 tasks of `w` (full), and `w` tracking `q` with target 1.
fn full_cluster(
    n: u32,
    group_max: u32,
) -> (
    shared::definition::ClusterDefinition,
    shared::state::ClusterState,
) {
    let mut def = service("w", 1, 100, &["q"]);
    def.target_tracking = tracking("q", 1.0);
    let instances = (0..n)
        .map(|i| instance(i, InstanceStatus::Active, vec![task("w", TASK); 4]))
        .collect();
    let st = state(
        vec![service_state("w", 4 * n, TASK)],
        instances,
        1,
        group_max,
    );
    (cluster(vec![def]), st)
}

#[test]
fn a_demand_step_needing_k_instances_launches_k_in_one_plan() {
    let (def, st) = full_cluster(2, 10);
    let plan = plan(&def, &metrics("w", &[("q", 18.0)], &[]), &st, now());
    assert_eq!(
        plan.actions.services,
        vec![ServiceChange {
            service: "w".into(),
            from: 8,
            to: 18
        }]
    );
    // 10 more tasks, 4 per instance: 3 instances.
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 2, to: 5 })
    );
    let cap = plan.decisions.detail.capacity.as_ref().expect("capacity");
    assert_eq!(cap.new_instances.len(), 3);
    assert_eq!(cap.lower_bound_instances, 5);
    assert!(
        plan.actions.drain.is_empty(),
        "never drain and launch in one plan"
    );
    assert!(plan.has_actions);
}

#[test]
fn booting_instances_prevent_overshoot() {
    let (def, mut st) = full_cluster(2, 10);
    // The previous plan raised desired to 5; one instance is Pending, two not launched yet.
    if let Some(g) = st.group.as_mut() {
        g.desired = 5;
        g.instances.push(group_instance("i-9000", "Pending"));
    }
    st.services[0].desired = 18;
    let plan = plan(&def, &metrics("w", &[("q", 18.0)], &[]), &st, now());
    assert!(plan.actions.services.is_empty());
    assert_eq!(
        plan.actions.group_desired, None,
        "{:#?}",
        plan.decisions.headlines
    );
    assert_eq!(
        plan.decisions.detail.capacity.as_ref().map(|c| c.booting),
        Some(3)
    );
}

#[test]
fn a_draining_instance_is_reactivated_before_a_launch() {
    let (def, mut st) = full_cluster(2, 10);
    st.instances
        .push(instance(7, InstanceStatus::Draining, vec![]));
    if let Some(g) = st.group.as_mut() {
        g.desired = 3;
        g.instances.push(group_instance("i-0007", "InService"));
    }
    let plan = plan(&def, &metrics("w", &[("q", 12.0)], &[]), &st, now());
    assert_eq!(plan.actions.reactivate.len(), 1);
    assert_eq!(plan.actions.reactivate[0].ec2_instance_id, "i-0007");
    assert_eq!(plan.actions.group_desired, None);
    assert!(plan.actions.terminate.is_empty());
}

#[test]
fn an_empty_draining_instance_is_terminated() {
    let (def, mut st) = full_cluster(2, 10);
    st.instances
        .push(instance(7, InstanceStatus::Draining, vec![]));
    if let Some(g) = st.group.as_mut() {
        g.desired = 3;
        g.instances.push(group_instance("i-0007", "InService"));
    }
    let plan = plan(&def, &metrics("w", &[("q", 8.0)], &[]), &st, now());
    assert_eq!(plan.actions.terminate.len(), 1);
    assert_eq!(plan.actions.terminate[0].ec2_instance_id, "i-0007");
    assert!(plan.actions.reactivate.is_empty());
    assert!(instance_lines(&plan)
        .iter()
        .any(|l| l.starts_with("i-0007: terminate")));
}

/// Two half-used instances and one with a big task: the small one's tasks fit elsewhere.
#[test]
fn a_half_used_instance_whose_tasks_fit_is_drained_one_that_does_not_fit_is_kept() {
    let small = Resources::new(512, 1024);
    let big = Resources::new(3584, 7168);
    let mut def = cluster(vec![service("a", 1, 10, &[]), service("b", 1, 10, &[])]);
    def.max_drain_per_cycle = Some(2);
    let st = state(
        vec![service_state("a", 4, small), service_state("b", 1, big)],
        vec![
            instance(1, InstanceStatus::Active, vec![task("a", small); 2]),
            instance(
                2,
                InstanceStatus::Active,
                vec![task("a", small), task("a", small)],
            ),
            instance(3, InstanceStatus::Active, vec![task("b", big)]),
        ],
        1,
        5,
    );
    let plan = plan(&def, &BTreeMap::new(), &st, now());
    assert_eq!(
        plan.actions.drain.len(),
        1,
        "{:#?}",
        plan.decisions.headlines
    );
    assert_eq!(plan.actions.drain[0].instance.ec2_instance_id, "i-0001");
    let lines = instance_lines(&plan);
    // Fewest tasks first: i-0003's big task fits nowhere else; i-0001's two fit; then
    // i-0002 (now holding one of them) cannot go.
    assert_eq!(
        lines,
        [
            "i-0003: kept: a task of `b` (3584 CPU / 7168 MiB) fits on no other ACTIVE instance",
            "i-0001: drain: its 2 task(s) fit on 2 other ACTIVE instance(s) with the buffer and scale-ups; worth it: the group shrinks to 2 instance(s) (25 % of its CPU and 25 % of its memory in use)",
            "i-0002: kept: a task of `a` (512 CPU / 1024 MiB) fits on no other ACTIVE instance",
        ]
    );
}

#[test]
fn a_task_that_fits_nowhere_keeps_its_instance() {
    let big = Resources::new(3072, 6144);
    let def = cluster(vec![service("b", 1, 10, &[])]);
    let st = state(
        vec![service_state("b", 2, big)],
        vec![
            instance(1, InstanceStatus::Active, vec![task("b", big)]),
            instance(2, InstanceStatus::Active, vec![task("b", big)]),
        ],
        1,
        5,
    );
    let plan = plan(&def, &BTreeMap::new(), &st, now());
    assert!(plan.actions.drain.is_empty());
    let lines = instance_lines(&plan);
    assert!(
        lines.iter().any(|l| l.contains(
            "kept: a task of `b` (3072 CPU / 6144 MiB) fits on no other ACTIVE instance"
        )),
        "{lines:#?}"
    );
}

#[test]
fn the_group_min_counts_draining_instances_as_gone() {
    let def = cluster(vec![service("a", 1, 10, &[])]);
    let small = Resources::new(512, 1024);
    let mut draining = instance(3, InstanceStatus::Draining, vec![task("a", small)]);
    draining.draining_since_epoch_secs = Some(NOW_SECS - 60);
    let st = state(
        vec![service_state("a", 2, small)],
        vec![
            instance(1, InstanceStatus::Active, vec![]),
            instance(2, InstanceStatus::Active, vec![task("a", small)]),
            draining,
        ],
        2,
        5,
    );
    // The group has 3 instances and min 2, but one is DRAINING: draining another leaves 1.
    let plan = plan(&def, &BTreeMap::new(), &st, now());
    assert!(
        plan.actions.drain.is_empty(),
        "{:#?}",
        plan.decisions.headlines
    );
    assert!(instance_lines(&plan).iter().any(|l| l.starts_with(
        "i-0001: kept: draining it would leave 1 instance(s), below the group's min of 2"
    )));
}

#[test]
fn an_empty_instance_is_drained_when_the_min_allows() {
    let def = cluster(vec![service("a", 1, 10, &[])]);
    let small = Resources::new(512, 1024);
    let st = state(
        vec![service_state("a", 1, small)],
        vec![
            instance(1, InstanceStatus::Active, vec![]),
            instance(2, InstanceStatus::Active, vec![task("a", small)]),
        ],
        1,
        5,
    );
    let plan = plan(&def, &BTreeMap::new(), &st, now());
    assert_eq!(plan.actions.drain.len(), 1);
    assert_eq!(plan.actions.drain[0].instance.ec2_instance_id, "i-0001");
}

#[test]
fn unknown_tasks_and_protection_keep_an_instance() {
    let def = cluster(vec![service("a", 1, 10, &[])]);
    let mut unknown = instance(1, InstanceStatus::Active, vec![]);
    unknown.running_tasks = 2;
    let mut st = state(
        vec![service_state("a", 0, TASK)],
        vec![
            unknown,
            instance(2, InstanceStatus::Active, vec![]),
            instance(3, InstanceStatus::Active, vec![]),
        ],
        1,
        5,
    );
    if let Some(g) = st.group.as_mut() {
        for gi in &mut g.instances {
            gi.protected_from_scale_in = gi.instance_id != "i-0001";
        }
    }
    let plan = plan(&def, &BTreeMap::new(), &st, now());
    assert!(plan.actions.drain.is_empty());
    let lines = instance_lines(&plan);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("i-0001: kept: 2 running task(s) were not listed")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "i-0002: kept: protected from scale-in"),
        "{lines:#?}"
    );
}

#[test]
fn a_task_too_big_for_any_instance_is_unschedulable_and_launches_nothing() {
    let (mut def, mut st) = full_cluster(1, 10);
    def.services.push(service("huge", 1, 10, &[]));
    st.services.push(shared::state::ServiceState {
        running: 0,
        ..service_state("huge", 1, Resources::new(8192, 1024))
    });
    let plan = plan(&def, &metrics("w", &[("q", 4.0)], &[]), &st, now());
    assert_eq!(plan.actions.group_desired, None);
    let cap = plan.decisions.detail.capacity.as_ref().expect("capacity");
    assert!(
        matches!(
            &cap.unplaced[..],
            [Reason::TaskUnschedulable { count: 1, .. }]
        ),
        "{cap:#?}"
    );
    assert!(plan
        .decisions
        .headlines
        .iter()
        .any(|h| h.contains("unschedulable")));
}

#[test]
fn the_group_max_caps_launches_and_the_shortfall_is_stated() {
    let (def, st) = full_cluster(2, 3);
    let plan = plan(&def, &metrics("w", &[("q", 20.0)], &[]), &st, now());
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 2, to: 3 })
    );
    let cap = plan.decisions.detail.capacity.as_ref().expect("capacity");
    assert!(
        matches!(
            &cap.unplaced[..],
            [Reason::GroupAtMax {
                count: 8,
                max: 3,
                ..
            }]
        ),
        "{cap:#?}"
    );
}

#[test]
fn the_buffer_launches_an_instance_when_no_room_is_left() {
    let (mut def, st) = full_cluster(2, 10);
    def.cpu_buffer = 1024;
    def.mem_buffer = 1024;
    let plan = plan(&def, &metrics("w", &[("q", 8.0)], &[]), &st, now());
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 2, to: 3 })
    );
    let cap = plan.decisions.detail.capacity.as_ref().expect("capacity");
    assert_eq!(
        cap.new_instances,
        vec![Reason::NewInstanceForBuffer { index: 1 }]
    );
}

#[test]
fn distinct_instance_places_one_task_per_instance() {
    let mut def = service("d", 1, 10, &["q"]);
    def.target_tracking = tracking("q", 1.0);
    let mut svc = service_state("d", 1, Resources::new(256, 256));
    svc.distinct_instance = true;
    let st = state(
        vec![svc],
        vec![
            instance(
                1,
                InstanceStatus::Active,
                vec![task("d", Resources::new(256, 256))],
            ),
            instance(2, InstanceStatus::Active, vec![]),
        ],
        1,
        10,
    );
    let plan = plan(
        &cluster(vec![def]),
        &metrics("d", &[("q", 4.0)], &[]),
        &st,
        now(),
    );
    // 3 more tasks: one fits on i-0002, two need new instances.
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 2, to: 4 })
    );
}

#[test]
fn the_files_group_limits_are_their_own_action() {
    let (mut def, st) = full_cluster(2, 10);
    def.min = Some(3);
    def.max = Some(6);
    let plan = plan(&def, &metrics("w", &[("q", 8.0)], &[]), &st, now());
    assert_eq!(
        plan.actions.group_limits,
        Some(GroupLimitsChange {
            from: GroupLimits { min: 1, max: 10 },
            to: GroupLimits { min: 3, max: 6 }
        })
    );
    // The new min raises the desired capacity: Auto Scaling does it when the limits change
    // (the executor then sees 3), so there is no desired-capacity action, only the note.
    assert_eq!(plan.actions.group_desired, None);
    assert!(plan
        .decisions
        .detail
        .cluster
        .contains(&Reason::GroupDesiredWithinLimits { from: 2, to: 3 }));
}

#[test]
fn a_disabled_cluster_gets_a_plan_without_actions() {
    let (mut def, st) = full_cluster(2, 10);
    def.enabled = false;
    let plan = plan(&def, &metrics("w", &[("q", 50.0)], &[]), &st, now());
    assert!(!plan.has_actions);
    assert!(plan.actions.is_empty());
    assert_eq!(
        plan.decisions.headlines,
        vec!["cluster: the cluster is disabled (`enabled: false`): nothing is changed"]
    );
}

#[test]
fn services_absent_from_the_cluster_or_disabled_are_recorded() {
    let (mut def, st) = full_cluster(2, 10);
    def.services.push(service("ghost", 1, 3, &[]));
    let mut off = service("off", 1, 3, &[]);
    off.enabled = false;
    def.services.push(off);
    let plan = plan(&def, &metrics("w", &[("q", 8.0)], &[]), &st, now());
    let h = &plan.decisions.headlines;
    assert!(
        h.iter()
            .any(|l| l == "service `ghost` (-): not found in the cluster: skipped"),
        "{h:#?}"
    );
    assert!(
        h.iter()
            .any(|l| l == "service `off` (-): disabled (`enabled: false`): left alone"),
        "{h:#?}"
    );
}

#[test]
fn a_dry_run_plan_is_complete_and_marked() {
    let (mut def, st) = full_cluster(2, 10);
    def.dry_run = true;
    let plan = plan(&def, &metrics("w", &[("q", 12.0)], &[]), &st, now());
    assert!(plan.dry_run);
    assert!(plan.has_actions);
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 2, to: 3 })
    );
    assert_eq!(
        plan.decisions.headlines[0],
        "cluster: dry run: the plan is complete but nothing will be changed"
    );
}

#[test]
fn the_plan_id_is_deterministic_and_independent_of_now() {
    let (def, st) = full_cluster(2, 10);
    let m = metrics("w", &[("q", 12.0)], &[]);
    let a = plan(&def, &m, &st, now());
    let b = plan(&def, &m, &st, now() + jiff::SignedDuration::from_hours(1));
    assert_eq!(a.plan_id, b.plan_id);
    assert_ne!(a.created_at, b.created_at);
    assert_eq!(a.plan_id.len(), 64);
    let c = plan(&def, &metrics("w", &[("q", 16.0)], &[]), &st, now());
    assert_ne!(a.plan_id, c.plan_id);
    assert_eq!(a.created_at.to_string(), "2025-11-29T10:27:31Z");
    // Whole seconds: a fraction of `now` does not reach `created_at`.
    let d = plan(
        &def,
        &m,
        &st,
        now() + jiff::SignedDuration::from_millis(999),
    );
    assert_eq!(d.created_at, a.created_at);
    assert_eq!(d.plan_id, a.plan_id);
}

#[test]
fn the_record_serializes_and_reads_back() {
    let (def, st) = full_cluster(2, 10);
    let plan = plan(&def, &metrics("w", &[("q", 12.0)], &["other"]), &st, now());
    let json = serde_json::to_string(&plan).expect("serializes");
    let back = shared::messages::ScalingPlan::from_json(&json).expect("reads back");
    assert_eq!(back, plan);
    assert!(json.contains("\"reason\":\"new_instance\""), "{json}");
}

#[test]
fn draining_too_long_is_reported() {
    let mut def = cluster(vec![service("a", 1, 10, &[])]);
    let small = Resources::new(512, 1024);
    let mut d = instance(2, InstanceStatus::Draining, vec![task("a", small)]);
    d.draining_since_epoch_secs = Some(NOW_SECS - 1000);
    let mut st = state(
        vec![service_state("a", 2, small)],
        vec![
            instance(1, InstanceStatus::Active, vec![task("a", small)]),
            d,
        ],
        1,
        5,
    );
    // The service already runs its replacement: nothing to move.
    st.services[0].running = 3;
    def.disruption.drain_timeout_action = shared::definition::DrainTimeoutAction::Report;
    let plan = plan(&def, &BTreeMap::new(), &st, now());
    assert!(instance_lines(&plan)
        .iter()
        .any(|l| l.starts_with("i-0002: draining for 1000 s, longer than the timeout of 900 s")));
    assert!(plan.actions.abort_drain.is_empty() && plan.actions.force_drain.is_empty());
}

#[test]
fn a_file_limit_that_contradicts_the_group_is_not_applied() {
    let (mut def, st) = full_cluster(2, 10);
    def.min = Some(12); // above the group's max, and the file sets no max
    let plan = plan(&def, &metrics("w", &[("q", 8.0)], &[]), &st, now());
    assert_eq!(plan.actions.group_limits, None);
    assert!(plan
        .decisions
        .detail
        .cluster
        .contains(&Reason::GroupLimitsConflict { min: 12, max: 10 }));
}

#[test]
fn bounds_are_enforced_despite_a_cooldown() {
    let mut def = service("w", 2, 5, &["q"]);
    def.target_tracking = tracking("q", 1.0);
    let mut st = service_state("w", 9, SIZE);
    st.last_scaling = Some(ScalingRecord {
        direction: Direction::Up,
        at_epoch_secs: NOW_SECS,
    });
    let out = decide_service(
        &def,
        Some(&st),
        metrics("w", &[("q", 1.0)], &[]).get("w"),
        now(),
    );
    // 9 > max: set to 5 now, cooldown or not; the rules wait for the next cycle (the original's
    // semantics), so no scale-in to 2 is even considered.
    assert_eq!(out.decision.to, Some(5));
    assert_eq!(
        out.decision.reasons,
        [Reason::BroughtWithinBounds {
            from: 9,
            to: 5,
            min: 2,
            max: 5
        }]
    );
    assert!(out.decision.rules.is_empty());
}

#[test]
fn a_group_listed_without_its_instances_is_not_phantom_capacity() {
    let (def, mut st) = full_cluster(2, 10);
    if let Some(g) = st.group.as_mut() {
        g.instances.clear();
    }
    let plan = plan(&def, &metrics("w", &[("q", 12.0)], &[]), &st, now());
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 2, to: 3 })
    );
}

#[test]
fn pending_tasks_ecs_could_not_place_are_demand() {
    let (def, mut st) = full_cluster(2, 10);
    // desired 12 but only 8 running: 4 tasks wait for room.
    st.services[0].desired = 12;
    let plan = plan(&def, &metrics("w", &[("q", 12.0)], &[]), &st, now());
    assert!(plan.actions.services.is_empty());
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 2, to: 3 })
    );
}

// ---------------------------------------------------------------- limits that would harm

/// `n` ACTIVE instances with one task of `w` each (`w` has no rule: it holds).
fn one_task_each(n: u32, file_max: u32) -> (ClusterDefinition, ClusterState) {
    let mut def = cluster(vec![service("w", 0, 100, &[])]);
    def.max = Some(file_max);
    let instances = (1..=n)
        .map(|i| instance(i, InstanceStatus::Active, vec![task("w", TASK)]))
        .collect();
    (
        def,
        state(vec![service_state("w", n, TASK)], instances, 0, 10),
    )
}

#[test]
fn a_drain_carries_its_tasks_needs_for_the_executors_recheck() {
    let (def, mut st) = one_task_each(4, 2);
    let team = "attribute:team == web";
    st.services[0].placement.member_of = vec![team.into()];
    for ci in &mut st.instances {
        ci.placement.attributes.insert("team".into(), "web".into());
    }
    let drained = plan(&def, &BTreeMap::new(), &st, now());
    assert_eq!(
        drained.actions.drain.len(),
        2,
        "{:#?}",
        drained.decisions.headlines
    );
    for d in &drained.actions.drain {
        assert_eq!(d.task_needs.len(), 1);
        let texts: Vec<&str> = d.task_needs[0]
            .member_of
            .iter()
            .map(|m| m.text.as_str())
            .collect();
        assert_eq!(texts, [team]);
    }
    // Plain tasks carry none.
    let (def, st) = one_task_each(4, 2);
    let plain = plan(&def, &BTreeMap::new(), &st, now());
    assert!(plain.actions.drain.iter().all(|d| d.task_needs.is_empty()));
}

#[test]
fn a_max_below_the_desired_capacity_is_never_sent_the_surplus_is_drained() {
    let (def, st) = one_task_each(4, 2);
    let plan = plan(&def, &BTreeMap::new(), &st, now());
    // MaxSize goes down only as far as the desired capacity; nothing is launched or lowered.
    assert_eq!(
        plan.actions.group_limits,
        Some(GroupLimitsChange {
            from: GroupLimits { min: 0, max: 10 },
            to: GroupLimits { min: 0, max: 4 }
        })
    );
    assert_eq!(plan.actions.group_desired, None);
    // The least disruptive instances are drained, as many as the default budget allows (half
    // of 4), with what the executor re-checks.
    assert_eq!(
        plan.actions.drain.len(),
        2,
        "{:#?}",
        plan.decisions.headlines
    );
    for d in &plan.actions.drain {
        assert_eq!(d.tasks, 1);
        assert_eq!(d.task_sizes, vec![TASK]);
    }
    assert!(instance_lines(&plan).contains(
        &"i-0003: kept: the disruption budget of 2 instance(s) DRAINING at once is used (0 DRAINING with tasks before this plan, 2 drained by it)".to_string()
    ));
    assert!(plan
        .decisions
        .detail
        .cluster
        .contains(&Reason::GroupAboveMax {
            desired: 4,
            max: 2,
            max_now: 4
        }));
}

#[test]
fn max_size_steps_down_as_the_surplus_is_terminated() {
    // Three busy instances and our empty DRAINING one; desired 4, the file's max 2; one drain
    // per plan.
    let (mut def, mut st) = one_task_each(3, 2);
    def.max_drain_per_cycle = Some(1);
    st.instances
        .push(instance(4, InstanceStatus::Draining, vec![]));
    if let Some(g) = st.group.as_mut() {
        g.desired = 4;
        g.instances.push(group_instance("i-0004", "InService"));
    }
    let plan = plan(&def, &BTreeMap::new(), &st, now());
    assert_eq!(plan.actions.terminate.len(), 1);
    // The terminated one leaves desired 3: MaxSize 3 (the executor applies it after the
    // termination); one more surplus instance starts draining.
    assert_eq!(
        plan.actions.group_limits.map(|l| l.to.max),
        Some(3),
        "{:#?}",
        plan.decisions.headlines
    );
    assert_eq!(plan.actions.drain.len(), 1);
}

#[test]
fn a_surplus_that_cannot_be_drained_is_reported_and_max_stays_at_the_desired_capacity() {
    // Two full instances, the file's max 1: neither instance's tasks fit on the other.
    let (mut def, st) = full_cluster(2, 10);
    def.max = Some(1);
    let plan = plan(&def, &metrics("w", &[("q", 8.0)], &[]), &st, now());
    assert!(plan.actions.drain.is_empty());
    assert_eq!(plan.actions.group_limits.map(|l| l.to.max), Some(2));
    let notes = &plan
        .decisions
        .detail
        .capacity
        .as_ref()
        .expect("capacity")
        .notes;
    assert!(
        notes.contains(&Reason::SurplusKept { count: 1, max: 1 }),
        "{notes:#?}"
    );
}

#[test]
fn a_raised_min_and_launches_are_one_change_from_the_desired_capacity_the_new_min_gives() {
    let (mut def, st) = full_cluster(2, 10);
    def.min = Some(3);
    // 8 more tasks: 4 on the instance the new min brings, 4 on one launch.
    let plan = plan(&def, &metrics("w", &[("q", 16.0)], &[]), &st, now());
    assert_eq!(plan.actions.group_limits.map(|l| l.to.min), Some(3));
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 3, to: 4 }),
        "from = what the executor sees once the limits are applied"
    );
}

// ---------------------------------------------------------------- instances that are not ours

#[test]
fn someone_elses_drain_is_neither_reactivated_nor_terminated_and_its_tasks_are_demand() {
    let (def, mut st) = full_cluster(2, 10);
    let mut busy = instance(5, InstanceStatus::Draining, vec![task("w", TASK); 2]);
    busy.draining_since_epoch_secs = None;
    let mut empty = instance(6, InstanceStatus::Draining, vec![]);
    empty.draining_since_epoch_secs = None;
    st.instances.extend([busy, empty]);
    st.services[0].desired = 10;
    st.services[0].running = 10;
    if let Some(g) = st.group.as_mut() {
        g.desired = 4;
        g.instances.push(group_instance("i-0005", "InService"));
        g.instances.push(group_instance("i-0006", "InService"));
    }
    let plan = plan(&def, &metrics("w", &[("q", 10.0)], &[]), &st, now());
    assert!(plan.actions.reactivate.is_empty(), "{:#?}", plan.actions);
    assert!(plan.actions.terminate.is_empty(), "{:#?}", plan.actions);
    // Its two tasks need room: the ACTIVE instances are full, so one instance is launched.
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 4, to: 5 }),
        "{:#?}",
        plan.decisions.headlines
    );
    let lines = instance_lines(&plan);
    assert!(
        lines.iter().any(|l| l.starts_with("i-0005: not ours")
            && l.ends_with("its 2 service task(s) need room elsewhere")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("i-0006: not ours")),
        "{lines:#?}"
    );
    assert_eq!(plan.decisions.detail.capacity.map(|c| c.excluded), Some(2));
}

#[test]
fn instances_leaving_or_gone_from_the_group_or_cut_off_are_not_capacity() {
    let (def, mut st) = full_cluster(1, 10);
    st.instances.extend([
        instance(5, InstanceStatus::Active, vec![]),
        instance(6, InstanceStatus::Draining, vec![]),
        instance(7, InstanceStatus::Active, vec![]),
    ]);
    st.instances[3].agent_connected = false;
    if let Some(g) = st.group.as_mut() {
        // 5 in a lifecycle hook on its way out; 6 terminated behind our back; 7 InService.
        g.instances
            .push(group_instance("i-0005", "Terminating:Wait"));
        g.instances.push(group_instance("i-0007", "InService"));
        g.desired = 3;
    }
    // Four more tasks: none of the three has room to count, so one instance is launched.
    let plan = plan(&def, &metrics("w", &[("q", 8.0)], &[]), &st, now());
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 3, to: 4 }),
        "{:#?}",
        plan.decisions.headlines
    );
    assert!(plan.actions.reactivate.is_empty() && plan.actions.terminate.is_empty());
    let lines = instance_lines(&plan);
    for (id, why) in [
        ("i-0005", "not InService (Terminating:Wait)"),
        ("i-0006", "not an instance of the group"),
        ("i-0007", "its ECS agent is disconnected"),
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("{id}: {why}"))),
            "{id}: {lines:#?}"
        );
    }
    // Scaled back, none of them is drained either.
    let plan = super::plan(&def, &metrics("w", &[("q", 4.0)], &[]), &st, now());
    assert!(plan.actions.drain.is_empty(), "{:#?}", plan.actions);
}

#[test]
fn an_instance_that_never_registers_stops_counting_after_the_grace_period() {
    let (def, mut st) = full_cluster(1, 10);
    let silent = |age: u64| {
        let mut s = st.clone();
        if let Some(g) = s.group.as_mut() {
            let mut gi = group_instance("i-silent", "InService");
            gi.launched_at_epoch_secs = Some(NOW_SECS - age);
            g.instances.push(gi);
            g.desired = 2;
        }
        s
    };
    let m = metrics("w", &[("q", 8.0)], &[]);
    // Within 10 minutes of its launch it is capacity on its way.
    let within = plan(&def, &m, &silent(100), now());
    assert_eq!(within.actions.group_desired, None);
    // After, it no longer counts, and the record says why.
    let after = plan(&def, &m, &silent(700), now());
    assert_eq!(
        after.actions.group_desired,
        Some(CountChange { from: 2, to: 3 })
    );
    let notes = &after
        .decisions
        .detail
        .capacity
        .as_ref()
        .expect("capacity")
        .notes;
    assert!(notes.contains(&Reason::NeverRegistered {
        instance_id: "i-silent".into(),
        secs: 700,
        grace_secs: 600
    }));
    // The grace period is the file's.
    let mut patient = def.clone();
    patient.registration_grace = Duration::from_secs(900);
    assert_eq!(
        plan(&patient, &m, &silent(700), now())
            .actions
            .group_desired,
        None
    );
    // An instance in a lifecycle hook is not capacity on its way either.
    if let Some(g) = st.group.as_mut() {
        g.instances.push(group_instance("i-hook", "Pending:Wait"));
        g.desired = 2;
    }
    let hooked = plan(&def, &m, &st, now());
    assert_eq!(
        hooked.actions.group_desired,
        Some(CountChange { from: 2, to: 3 })
    );
}
