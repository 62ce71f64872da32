//! The disruption controls and fast scale-in on whole plans: each rule, and how they meet (a
//! window closed but the group over its max, a budget used up, a protected task on the only
//! candidate, do-not-disrupt against the surplus, a drain past its deadline).

use std::collections::BTreeMap;

use shared::definition::{
    time_zone, BudgetValue, ClusterDefinition, ConsolidationWindow, DisruptionBudget,
    DrainTimeoutAction, ServiceDisruption,
};
use shared::messages::{Reason, ScalingPlan};
use shared::resources::Resources;
use shared::state::{ClusterState, ContainerInstance, InstanceStatus};

use super::fixtures::*;
use super::plan;

/// Four to an instance of [`SIZE`].
const TASK: Resources = Resources::new(1024, 2048);

/// `busy` instances with one task of `w` each, then `empty` empty ones; group min `min`.
fn cluster_of(busy: u32, empty: u32, min: u32) -> (ClusterDefinition, ClusterState) {
    let def = cluster(vec![service("w", 0, 100, &[])]);
    let mut instances: Vec<ContainerInstance> = (1..=busy)
        .map(|i| {
            let mut t = task("w", TASK);
            t.arn = format!("arn:task/w-{i}");
            instance(i, InstanceStatus::Active, vec![t])
        })
        .collect();
    instances
        .extend((busy + 1..=busy + empty).map(|i| instance(i, InstanceStatus::Active, vec![])));
    let st = state(vec![service_state("w", busy, TASK)], instances, min, 20);
    (def, st)
}

fn decide(def: &ClusterDefinition, st: &ClusterState) -> ScalingPlan {
    plan(def, &BTreeMap::new(), st, now())
}

fn drained(plan: &ScalingPlan) -> Vec<&str> {
    plan.actions
        .drain
        .iter()
        .map(|d| d.instance.ec2_instance_id.as_str())
        .collect()
}

fn terminated(plan: &ScalingPlan) -> Vec<&str> {
    plan.actions
        .terminate
        .iter()
        .map(|i| i.ec2_instance_id.as_str())
        .collect()
}

fn has_line(plan: &ScalingPlan, line: &str) -> bool {
    instance_lines(plan).iter().any(|l| l == line)
}

fn notes(plan: &ScalingPlan) -> Vec<Reason> {
    plan.decisions
        .detail
        .capacity
        .as_ref()
        .map(|c| c.notes.clone())
        .unwrap_or_default()
}

/// Every day from `start` to `end` UTC; [`NOW_SECS`] is a Saturday at 10:27 UTC.
fn window(start: u16, end: u16) -> ConsolidationWindow {
    ConsolidationWindow {
        days: [true; 7],
        start,
        end,
        time_zone: time_zone("UTC").expect("UTC"),
    }
}

// ---------------------------------------------------------------- fast scale-in

#[test]
fn half_the_group_drains_at_once_by_default_when_the_tasks_fit() {
    // Six one-task instances, min 2: six tasks fit on two instances, four may go; the default
    // budget is half of six.
    let (def, st) = cluster_of(6, 0, 2);
    let plan = decide(&def, &st);
    assert_eq!(
        drained(&plan),
        ["i-0001", "i-0002", "i-0003"],
        "{:#?}",
        plan.decisions.headlines
    );
    assert!(
        terminated(&plan).is_empty(),
        "busy instances wait for their tasks to move"
    );
    assert!(has_line(
        &plan,
        "i-0004: kept: the disruption budget of 3 instance(s) DRAINING at once is used (0 DRAINING with tasks before this plan, 3 drained by it)"
    ));
    assert!(notes(&plan).contains(&Reason::DisruptionBudget {
        written: "50%".into(),
        group: 6,
        budget: 3,
        draining: 0,
        inside_windows: true,
    }));
    // Each drain says why it is worth it, with the figures.
    assert!(has_line(
        &plan,
        "i-0001: drain: its 1 task(s) fit on 1 other ACTIVE instance(s) with the buffer and scale-ups; worth it: the group shrinks to 5 instance(s) (25 % of its CPU and 25 % of its memory in use)"
    ));
}

#[test]
fn a_full_budget_drains_every_instance_whose_tasks_fit_on_those_that_stay() {
    let (mut def, st) = cluster_of(6, 0, 2);
    def.disruption.budget = DisruptionBudget::same(BudgetValue::Percent(100));
    let plan = decide(&def, &st);
    // Each trial runs without every instance drained before it: the six tasks end on the two
    // that stay.
    assert_eq!(drained(&plan), ["i-0001", "i-0002", "i-0003", "i-0004"]);
    assert!(has_line(
        &plan,
        "i-0005: kept: draining it would leave 1 instance(s), below the group's min of 2 (DRAINING counted as gone)"
    ));
}

#[test]
fn empty_instances_are_drained_and_terminated_in_one_plan_outside_any_budget() {
    // A worker back at 0 tasks: eight empty instances, min 0, and a budget of one.
    let (mut def, st) = cluster_of(0, 8, 0);
    def.disruption.budget = DisruptionBudget::same(BudgetValue::Count(1));
    let plan = decide(&def, &st);
    assert_eq!(
        plan.actions.drain.len(),
        8,
        "{:#?}",
        plan.decisions.headlines
    );
    assert_eq!(terminated(&plan), drained(&plan));
    assert!(plan.actions.drain.iter().all(|d| d.tasks == 0));
    assert!(has_line(
        &plan,
        "i-0001: drain: empty, and the buffer still fits elsewhere"
    ));
    assert!(has_line(
        &plan,
        "i-0001: terminate: empty, drained in this plan (the executor re-reads it after the drain and terminates it only if it is still empty)"
    ));
    // `max_drain_per_cycle` counts busy drains only.
    def.max_drain_per_cycle = Some(1);
    assert_eq!(decide(&def, &st).actions.terminate.len(), 8);
    // Turned off, nothing goes.
    def.max_drain_per_cycle = Some(0);
    assert!(decide(&def, &st).actions.drain.is_empty());
}

#[test]
fn empty_instances_go_down_to_the_groups_min_and_busy_ones_wait_their_turn() {
    // Two busy, three empty, min 2: the empty ones go first, and the min stops the third.
    let (def, st) = cluster_of(2, 3, 2);
    let plan = decide(&def, &st);
    assert_eq!(drained(&plan), ["i-0003", "i-0004", "i-0005"]);
    assert_eq!(terminated(&plan), ["i-0003", "i-0004", "i-0005"]);
    let (def, st) = cluster_of(2, 3, 3);
    let plan = decide(&def, &st);
    assert_eq!(drained(&plan), ["i-0003", "i-0004"]);
    assert!(has_line(
        &plan,
        "i-0005: kept: draining it would leave 2 instance(s), below the group's min of 3 (DRAINING counted as gone)"
    ));
}

#[test]
fn busy_drains_in_progress_use_the_budget() {
    // Budget 2; two of our instances are still DRAINING with tasks (which find room on the
    // ACTIVE ones): no busy drain starts, while the empty one still goes.
    let (mut def, mut st) = cluster_of(4, 1, 0);
    def.disruption.budget = DisruptionBudget::same(BudgetValue::Count(2));
    for n in [7, 8] {
        st.instances
            .push(instance(n, InstanceStatus::Draining, vec![task("w", TASK)]));
        if let Some(g) = st.group.as_mut() {
            g.instances
                .push(group_instance(&format!("i-{n:04}"), "InService"));
            g.desired += 1;
        }
    }
    st.services[0].running += 2;
    st.services[0].desired += 2;
    let plan = decide(&def, &st);
    assert_eq!(
        drained(&plan),
        ["i-0005"],
        "{:#?}",
        plan.decisions.headlines
    );
    assert!(has_line(
        &plan,
        "i-0001: kept: the disruption budget of 2 instance(s) DRAINING at once is used (2 DRAINING with tasks before this plan, 0 drained by it)"
    ));
}

// ---------------------------------------------------------------- windows

#[test]
fn outside_every_window_busy_instances_stay_and_empty_ones_still_go() {
    let (mut def, st) = cluster_of(3, 1, 0);
    def.disruption.windows = vec![window(60, 120)];
    let plan = decide(&def, &st);
    assert_eq!(drained(&plan), ["i-0004"]);
    assert_eq!(terminated(&plan), ["i-0004"]);
    assert!(has_line(
        &plan,
        "i-0001: kept: it runs tasks and no consolidation window is open"
    ));
    assert!(notes(&plan).contains(&Reason::ConsolidationWindowClosed {
        windows: vec!["mon,tue,wed,thu,fri,sat,sun 01:00–02:00 UTC".into()],
    }));
    // Open now (10:00–11:00): the busy instances drain too.
    def.disruption.windows.push(window(600, 660));
    let plan = decide(&def, &st);
    assert_eq!(drained(&plan), ["i-0004", "i-0001", "i-0002"]);
    assert!(notes(&plan).contains(&Reason::ConsolidationWindowOpen {
        window: "mon,tue,wed,thu,fri,sat,sun 10:00–11:00 UTC".into(),
    }));
}

#[test]
fn outside_every_window_the_surplus_above_max_still_drains_with_the_outside_budget() {
    // Four busy instances, the file's max 2, the window closed: the surplus of two drains,
    // within the outside budget of one per plan... of one DRAINING at once.
    let (mut def, st) = cluster_of(4, 0, 0);
    def.max = Some(2);
    def.disruption.windows = vec![window(60, 120)];
    def.disruption.budget = DisruptionBudget {
        inside_windows: BudgetValue::Percent(100),
        outside_windows: BudgetValue::Count(1),
    };
    let plan = decide(&def, &st);
    assert_eq!(
        drained(&plan),
        ["i-0001"],
        "{:#?}",
        plan.decisions.headlines
    );
    assert!(has_line(
        &plan,
        "i-0001: drained for the surplus above the file's max of 2, although no consolidation window is open"
    ));
    assert!(notes(&plan).iter().any(|n| matches!(
        n,
        Reason::DisruptionBudget {
            budget: 1,
            inside_windows: false,
            ..
        }
    )));
    // No budget left for the second surplus instance.
    assert!(has_line(
        &plan,
        "i-0002: kept: the disruption budget of 1 instance(s) DRAINING at once is used (0 DRAINING with tasks before this plan, 1 drained by it)"
    ));
}

// ---------------------------------------------------------------- task protection

#[test]
fn a_protected_task_keeps_the_only_candidate_and_is_listed() {
    // Two instances: the lighter one runs a protected task; the other is full.
    // Two instances: the lighter one runs a protected task; the other is protected from
    // scale-in, so the first is the only candidate.
    let def = cluster(vec![service("w", 0, 100, &[])]);
    let mut protected = task("w", TASK);
    protected.arn = "arn:task/job-1".into();
    protected.protected_until_epoch_secs = Some(NOW_SECS + 3600);
    let mut st = state(
        vec![service_state("w", 4, TASK)],
        vec![
            instance(1, InstanceStatus::Active, vec![protected]),
            instance(2, InstanceStatus::Active, vec![task("w", TASK); 3]),
        ],
        0,
        5,
    );
    if let Some(g) = st.group.as_mut() {
        g.instances[1].protected_from_scale_in = true;
    }
    let plan = decide(&def, &st);
    assert!(
        plan.actions.drain.is_empty(),
        "{:#?}",
        plan.decisions.headlines
    );
    assert!(has_line(
        &plan,
        "i-0001: kept: 1 task(s) have ECS task scale-in protection: arn:task/job-1"
    ));
    assert!(has_line(&plan, "i-0002: kept: protected from scale-in"));
    // Its protection expired: it goes.
    st.instances[0].tasks[0].protected_until_epoch_secs = Some(NOW_SECS - 1);
    assert_eq!(drained(&decide(&def, &st)), ["i-0001"]);
}

#[test]
fn a_protected_task_keeps_its_instance_even_for_the_surplus() {
    let (mut def, mut st) = cluster_of(3, 0, 0);
    def.max = Some(2);
    for ci in &mut st.instances {
        ci.tasks[0].protected_until_epoch_secs = Some(NOW_SECS + 60);
    }
    let plan = decide(&def, &st);
    assert!(plan.actions.drain.is_empty());
    assert!(notes(&plan).contains(&Reason::SurplusKept { count: 1, max: 2 }));
}

#[test]
fn unread_protection_keeps_every_busy_instance_and_lets_empty_ones_go() {
    // Three one-task instances and an empty one; GetTaskProtection failed.
    let (def, mut st) = cluster_of(3, 1, 0);
    let read = decide(&def, &st);
    assert_eq!(drained(&read), ["i-0004", "i-0001", "i-0002"]);
    st.task_protection_unread = Some("GetTaskProtection: AccessDeniedException: no".into());
    let plan = decide(&def, &st);
    assert_eq!(
        drained(&plan),
        ["i-0004"],
        "{:#?}",
        plan.decisions.headlines
    );
    assert_eq!(terminated(&plan), ["i-0004"]);
    assert!(has_line(
        &plan,
        "i-0001: kept: the ECS task scale-in protection of its tasks could not be read (GetTaskProtection: AccessDeniedException: no), so none of them is moved"
    ));
}

// ---------------------------------------------------------------- do-not-disrupt

#[test]
fn do_not_disrupt_services_keep_their_instances_from_consolidation() {
    let tasks = |service: &str, n: u32| -> Vec<_> {
        (0..n)
            .map(|k| {
                let mut t = task(service, TASK);
                t.arn = format!("arn:task/{service}-{k}");
                t
            })
            .collect()
    };
    let mut def = cluster(vec![
        service("batch", 0, 10, &[]),
        service("tagged", 0, 10, &[]),
        service("web", 0, 10, &[]),
    ]);
    def.services[0].disruption = ServiceDisruption::Never;
    let mut tagged = service_state("tagged", 1, TASK);
    tagged.do_not_disrupt = true;
    let st = state(
        vec![
            service_state("batch", 1, TASK),
            tagged,
            service_state("web", 2, TASK),
        ],
        vec![
            instance(1, InstanceStatus::Active, tasks("batch", 1)),
            instance(2, InstanceStatus::Active, tasks("tagged", 1)),
            instance(3, InstanceStatus::Active, tasks("web", 2)),
        ],
        0,
        5,
    );
    let plan = decide(&def, &st);
    assert!(has_line(
        &plan,
        "i-0001: kept: it runs tasks of `batch` (do-not-disrupt: `disruption: never` or the `ecs-autoscale:do-not-disrupt` tag)"
    ));
    assert!(has_line(
        &plan,
        "i-0002: kept: it runs tasks of `tagged` (do-not-disrupt: `disruption: never` or the `ecs-autoscale:do-not-disrupt` tag)"
    ));
    // The web instance, busier, is the one that goes; its tasks land beside the others.
    assert_eq!(drained(&plan), ["i-0003"]);

    // The file lowers max to 2: one instance must go, and the least disruptive one does,
    // do-not-disrupt or not, with the reason.
    let mut def = def;
    def.max = Some(2);
    let plan = decide(&def, &st);
    assert_eq!(drained(&plan)[0], "i-0001");
    assert!(has_line(
        &plan,
        "i-0001: drained for the surplus above the file's max of 2, although it runs do-not-disrupt tasks of `batch`"
    ));
}

// ---------------------------------------------------------------- drain deadlines

/// Two ACTIVE instances with room, and instance 3 drained by us 1000 s ago, its task still there.
fn stuck(action: DrainTimeoutAction) -> (ClusterDefinition, ClusterState) {
    let mut def = cluster(vec![service("w", 0, 100, &[])]);
    def.disruption.drain_timeout_action = action;
    let mut t = task("w", TASK);
    t.arn = "arn:task/stuck".into();
    let mut draining = instance(3, InstanceStatus::Draining, vec![t]);
    draining.draining_since_epoch_secs = Some(NOW_SECS - 1000);
    let full = |n| instance(n, InstanceStatus::Active, vec![task("w", TASK); 2]);
    let st = state(
        vec![service_state("w", 5, TASK)],
        vec![full(1), full(2), draining],
        2,
        5,
    );
    (def, st)
}

#[test]
fn a_drain_past_its_deadline_is_aborted_by_default_and_cools_down() {
    let (def, st) = stuck(DrainTimeoutAction::Abort);
    let plan = decide(&def, &st);
    assert_eq!(
        plan.actions
            .abort_drain
            .iter()
            .map(|i| i.ec2_instance_id.as_str())
            .collect::<Vec<_>>(),
        ["i-0003"]
    );
    assert!(plan.actions.reactivate.is_empty() && plan.actions.terminate.is_empty());
    assert!(
        plan.actions.group_desired.is_none(),
        "its task stays: nothing to launch"
    );
    assert!(has_line(
        &plan,
        "i-0003: draining for 1000 s with 1 task(s) left, past the timeout of 900 s: drain aborted (set ACTIVE again, not drained for 3600 s)"
    ));
    // ACTIVE again, it is not drained again in this plan (its cooldown starts now).
    assert!(has_line(
        &plan,
        "i-0003: kept: its drain was aborted 0 s ago (past its deadline with tasks left); not drained again for 3600 s"
    ));
}

#[test]
fn an_aborted_drain_is_recorded_and_the_instance_left_alone_for_the_cooldown() {
    let (def, mut st) = cluster_of(3, 0, 0);
    st.instances[0].drain_aborted_at_epoch_secs = Some(NOW_SECS - 600);
    let plan = decide(&def, &st);
    assert!(has_line(
        &plan,
        "i-0001: kept: its drain was aborted 600 s ago (past its deadline with tasks left); not drained again for 3600 s"
    ));
    assert!(!drained(&plan).contains(&"i-0001"));
    st.instances[0].drain_aborted_at_epoch_secs = Some(NOW_SECS - 3600);
    assert!(drained(&decide(&def, &st)).contains(&"i-0001"));
}

#[test]
fn a_forced_drain_stops_its_service_tasks_and_they_need_room_elsewhere() {
    let (def, st) = stuck(DrainTimeoutAction::Force);
    let plan = decide(&def, &st);
    assert_eq!(plan.actions.force_drain.len(), 1);
    assert_eq!(plan.actions.force_drain[0].tasks, ["arn:task/stuck"]);
    assert!(plan.actions.reactivate.is_empty(), "it takes no task back");
    assert!(has_line(
        &plan,
        "i-0003: draining for 1000 s, past the timeout of 900 s: forced: its 1 service task(s) are stopped; terminated once empty"
    ));
    // No room left on the ACTIVE instances: the stopped task gets a new instance.
    let (def, mut st) = stuck(DrainTimeoutAction::Force);
    for ci in &mut st.instances[..2] {
        ci.remaining = Resources::ZERO;
    }
    let plan = decide(&def, &st);
    assert_eq!(plan.actions.force_drain.len(), 1);
    assert_eq!(plan.actions.group_desired.map(|c| c.to), Some(4));
}

#[test]
fn report_only_reports() {
    let (def, st) = stuck(DrainTimeoutAction::Report);
    let plan = decide(&def, &st);
    assert!(plan.actions.abort_drain.is_empty() && plan.actions.force_drain.is_empty());
    assert!(instance_lines(&plan)
        .iter()
        .any(|l| l.starts_with("i-0003: draining for 1000 s, longer than the timeout of 900 s")));
}

// ---------------------------------------------------------------- worth it

#[test]
fn a_drain_that_cannot_shrink_the_group_goes_only_below_the_threshold() {
    // Three instances, but Auto Scaling's desired capacity is already down to 1, the min: a
    // drained instance could not be terminated. Instance 1 is 50 % used (two tasks).
    let mut def = cluster(vec![service("w", 0, 100, &[])]);
    def.min = Some(1);
    let mut st = state(
        vec![service_state("w", 4, TASK)],
        vec![
            instance(1, InstanceStatus::Active, vec![task("w", TASK); 2]),
            instance(2, InstanceStatus::Active, vec![task("w", TASK)]),
            instance(3, InstanceStatus::Active, vec![task("w", TASK)]),
        ],
        1,
        5,
    );
    if let Some(g) = st.group.as_mut() {
        g.desired = 1;
    }
    let plan = decide(&def, &st);
    // i-0002 and i-0003 (25 %) are below the threshold; i-0001 (50 %) is not.
    assert!(has_line(
        &plan,
        "i-0002: drain: its 1 task(s) fit on 1 other ACTIVE instance(s) with the buffer and scale-ups; worth it: below the consolidation threshold of 50 % (25 % of its CPU and 25 % of its memory in use)"
    ), "{:#?}", instance_lines(&plan));
    def.disruption.consolidation_threshold = 0.25;
    let plan = decide(&def, &st);
    assert!(plan.actions.drain.is_empty());
    assert!(has_line(
        &plan,
        "i-0002: kept: not worth it: draining it would not shrink the group, and 25 % of its CPU and 25 % of its memory are in use, not both below the consolidation threshold of 25 %"
    ));
}
