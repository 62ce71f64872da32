//! The planner's invariants on generated clusters: desired ∈ [min, max]; every drained
//! instance's tasks fit on the rest; no termination of an instance with tasks; the group's
//! desired capacity within its limits and MaxSize never below it; no instance that is not ours
//! (someone else's drain, not InService, not in the group, agent disconnected) reactivated,
//! drained or terminated; the plan's placement holds every task and the buffer. And the
//! disruption controls: busy drains within the budget (or `max_drain_per_cycle`); outside the
//! windows only empty instances and the surplus above `max` drained; no instance with a
//! protected task drained; a do-not-disrupt instance drained only for the surplus; drains past
//! their deadline aborted or forced as the file says. Half the clusters span up to three
//! availability zones with services that spread over them. `multi_cycle` runs plans against a
//! model of ECS over several cycles.

use std::collections::BTreeMap;

use proptest::prelude::*;
use shared::definition::{
    time_zone, BudgetValue, ClusterDefinition, ConsolidationWindow, DisruptionBudget,
    DrainTimeoutAction, ServiceDisruption,
};
use shared::messages::{Reason, ScalingPlan, ServiceMetrics};
use shared::resources::Resources;
use shared::state::{ClusterState, ContainerInstance, InstanceStatus};

use shared::time::Timestamp;

use super::fixtures::*;
use super::packing::{BinKind, ItemKind, Packer};
use super::plan_traced;
use super::world_model::WorldModel;

const SIZES: [Resources; 4] = [
    Resources::new(256, 512),
    Resources::new(512, 1024),
    Resources::new(1024, 2048),
    Resources::new(2048, 1024),
];

/// Placement strategies of the generated services: ECS's default (none: spread over zones),
/// spread over zones then nothing, memory or instances, and packing.
const STRATEGIES: [&[&str]; 5] = [
    &[],
    &["spread:attribute:ecs.availability-zone"],
    &["spread:attribute:ecs.availability-zone", "binpack:memory"],
    &[
        "spread:attribute:ecs.availability-zone",
        "spread:instanceId",
    ],
    &["binpack:cpu"],
];

/// What may be wrong with a generated instance (see [`trouble`]).
const TROUBLES: u8 = 12;

/// Makes instance `n` of `st` not ours in one of several ways (most cases: nothing).
fn trouble(st: &mut ClusterState, n: usize, kind: u8) {
    let Some(g) = st.group.as_mut() else { return };
    let id = st.instances[n].ec2_instance_id.clone();
    match kind {
        // Someone else's drain (only DRAINING instances carry a drain record).
        6 => st.instances[n].draining_since_epoch_secs = None,
        7..=9 => {
            let lifecycle = ["Terminating:Wait", "Standby", "Pending:Wait"][usize::from(kind - 7)];
            if let Some(gi) = g.instances.iter_mut().find(|gi| gi.instance_id == id) {
                gi.lifecycle_state = lifecycle.into();
            }
        }
        // Its EC2 instance left the group (terminated behind our back).
        10 => {
            g.instances.retain(|gi| gi.instance_id != id);
            g.desired = g.desired.saturating_sub(1).max(g.min);
        }
        11 => st.instances[n].agent_connected = false,
        _ => {}
    }
}

/// Generated clusters: busy ones whose services scale either way.
pub(super) fn world() -> impl Strategy<
    Value = (
        ClusterDefinition,
        ClusterState,
        BTreeMap<String, ServiceMetrics>,
    ),
> {
    world_of(8, false)
}

prop_compose! {
    /// Clusters of up to 8 instances with fewer than `max_tasks` tasks each; when `quiet`, the
    /// services hold their count, so that consolidation runs (most plans drain something).
    fn world_of(max_tasks: usize, quiet: bool)(
        services in prop::collection::vec((0usize..4, 0u32..4, 1u32..8, 0u32..10, 0.0f64..60.0, any::<bool>()), 1..4),
        instances in prop::collection::vec((0u8..4, prop::collection::vec(0usize..3, 0..max_tasks), 0u8..TROUBLES), 0..8),
        booting in 0u32..3,
        silent in prop::option::of(0u64..1200),
        group in (0u32..4, 4u32..14),
        file_limits in (prop::option::of(0u32..4), prop::option::of(1u32..12)),
        buffer in (0u32..3, any::<bool>()),
        max_drain in prop::option::of(0u32..3),
        unknown_tasks in any::<bool>(),
        controls in controls(),
        protected in prop::collection::vec(any::<bool>(), 8),
        do_not_disrupt in (0u8..4, 0u8..4),
        deadlines in prop::collection::vec((0u64..2000, prop::option::weighted(0.7, 0u64..5400)), 8),
        zoning in (any::<bool>(), prop::collection::vec(0usize..3, 8), prop::collection::vec(0usize..STRATEGIES.len(), 3)),
    ) -> (ClusterDefinition, ClusterState, BTreeMap<String, ServiceMetrics>) {
        let names = ["s0", "s1", "s2"];
        let mut defs = Vec::new();
        let mut states = Vec::new();
        let mut metrics_map = BTreeMap::new();
        for (i, (size, min, span, desired, q, distinct)) in services.iter().enumerate() {
            let name = names[i];
            let mut d = service(name, *min, min + span, &["q"]);
            d.target_tracking = tracking("q", 2.0);
            defs.push(d);
            let mut s = service_state(name, *desired, SIZES[*size]);
            s.distinct_instance = *distinct;
            s.running = 0;
            states.push(s);
            metrics_map.extend(metrics(name, &[("q", *q)], &[]));
        }
        let mut cis = Vec::new();
        for (n, (status, tasks, _)) in instances.iter().enumerate() {
            let status = if *status == 0 { InstanceStatus::Draining } else { InstanceStatus::Active };
            let mut placed = Vec::new();
            for &t in tasks.iter() {
                let Some(s) = states.get_mut(t) else { continue };
                let ci_used: u32 = placed.iter().map(|p: &shared::state::PlacedTask| p.size.cpu).sum();
                let mem_used: u32 = placed.iter().map(|p: &shared::state::PlacedTask| p.size.memory).sum();
                if ci_used + s.task_size.cpu > SIZE.cpu || mem_used + s.task_size.memory > SIZE.memory {
                    continue;
                }
                if s.distinct_instance && placed.iter().any(|p: &shared::state::PlacedTask| p.service.as_deref() == Some(s.name.as_str())) {
                    continue;
                }
                s.running += 1;
                placed.push(task(&s.name, s.task_size));
            }
            let mut ci = instance(n as u32, status, placed);
            for (k, t) in ci.tasks.iter_mut().enumerate() {
                t.arn = format!("arn:task/{n}-{k}");
                // Protected until after now, or a protection that expired.
                if protected[(n + k) % protected.len()] {
                    t.protected_until_epoch_secs = Some(if k % 3 == 2 { NOW_SECS - 1 } else { NOW_SECS + 600 });
                }
            }
            let (drained_ago, aborted_ago) = deadlines[n % deadlines.len()];
            if ci.status == InstanceStatus::Draining {
                ci.draining_since_epoch_secs = Some(NOW_SECS - drained_ago);
            }
            ci.drain_aborted_at_epoch_secs = aborted_ago.map(|ago| NOW_SECS - ago);
            if unknown_tasks && n == 0 {
                ci.tasks.clear();
            }
            cis.push(ci);
        }
        for s in &mut states {
            s.desired = s.desired.max(s.running);
            // Target tracking at 2 per task: this asks for the count it has.
            if quiet {
                metrics_map.extend(metrics(&s.name, &[("q", f64::from(s.desired) * 2.0)], &[]));
            }
        }
        // Service `s{file}` is `disruption: never`, service `s{tag}` tagged (3: none).
        if let Some(d) = defs.get_mut(usize::from(do_not_disrupt.0)) {
            d.disruption = ServiceDisruption::Never;
        }
        if let Some(s) = states.get_mut(usize::from(do_not_disrupt.1)) {
            s.do_not_disrupt = true;
        }
        let mut def = cluster(defs);
        def.disruption = controls;
        def.cpu_buffer = buffer.0 * 512;
        def.mem_buffer = if buffer.1 { 1024 } else { 0 };
        def.max_drain_per_cycle = max_drain;
        def.min = file_limits.0;
        def.max = file_limits.1;
        let mut st = state(states, cis, group.0, group.1);
        if let Some(g) = st.group.as_mut() {
            g.desired = g.desired.saturating_add(booting).clamp(g.min, g.max);
            for b in 0..booting {
                g.instances.push(group_instance(&format!("i-b{b}"), "Pending"));
            }
            // An InService instance that has not registered, launched `age` seconds ago.
            if let Some(age) = silent {
                let mut gi = group_instance("i-silent", "InService");
                gi.launched_at_epoch_secs = Some(NOW_SECS - age);
                g.instances.push(gi);
                g.desired = g.desired.saturating_add(1).min(g.max);
            }
        }
        for (n, (_, _, kind)) in instances.iter().enumerate() {
            trouble(&mut st, n, *kind);
        }
        // Half the clusters span up to three zones, their services spreading as ECS does.
        let (zoned, zones, strategies) = zoning;
        if zoned {
            const NAMES: [&str; 3] = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
            let mut of_instance = std::collections::HashMap::new();
            for (n, ci) in st.instances.iter_mut().enumerate() {
                let zone = NAMES[zones[n % zones.len()]];
                ci.placement.attributes.insert("ecs.availability-zone".into(), zone.into());
                of_instance.insert(ci.ec2_instance_id.clone(), zone);
            }
            // The group spans the three zones; its booting instances are in some of them.
            if let Some(g) = st.group.as_mut() {
                g.availability_zones = NAMES.iter().map(|z| z.to_string()).collect();
                for (n, gi) in g.instances.iter_mut().enumerate() {
                    let zone = of_instance.get(&gi.instance_id).copied().unwrap_or(NAMES[n % 3]);
                    gi.availability_zone = Some(zone.into());
                }
            }
        }
        for (s, &k) in st.services.iter_mut().zip(&strategies) {
            s.placement.placement_strategy = STRATEGIES[k].iter().map(|e| e.to_string()).collect();
        }
        (def, st, metrics_map)
    }
}

/// A window around [`NOW_SECS`] (Saturday 10:27 UTC) when `open`, else at night.
fn window(open: bool) -> ConsolidationWindow {
    let (start, end) = if open { (10 * 60, 11 * 60) } else { (60, 120) };
    ConsolidationWindow {
        days: [true; 7],
        start,
        end,
        time_zone: time_zone("UTC").expect("UTC"),
    }
}

fn budget_value() -> impl Strategy<Value = BudgetValue> {
    prop_oneof![
        (1u32..4).prop_map(BudgetValue::Count),
        prop::sample::select(vec![10u32, 25, 50, 100]).prop_map(BudgetValue::Percent),
    ]
}

prop_compose! {
    /// Budgets, windows (none, open now, closed now), threshold, deadline action.
    fn controls()(
        inside in budget_value(),
        outside in budget_value(),
        windows in 0u8..3,
        threshold in prop::sample::select(vec![0.2f64, 0.5, 1.0]),
        action in prop::sample::select(vec![DrainTimeoutAction::Abort, DrainTimeoutAction::Force, DrainTimeoutAction::Report]),
    ) -> shared::definition::Disruption {
        shared::definition::Disruption {
            budget: DisruptionBudget { inside_windows: inside, outside_windows: outside },
            windows: match windows {
                0 => vec![],
                1 => vec![window(true)],
                _ => vec![window(false)],
            },
            consolidation_threshold: threshold,
            drain_timeout_action: action,
            ..shared::definition::Disruption::default()
        }
    }
}

/// The instance of `st` an action names.
fn instance_of<'s>(st: &'s ClusterState, arn: &str) -> &'s ContainerInstance {
    st.instances
        .iter()
        .find(|ci| ci.arn == arn)
        .expect("an instance of the state")
}

/// Whether `ci` runs a task of a do-not-disrupt service.
fn runs_do_not_disrupt(def: &ClusterDefinition, st: &ClusterState, ci: &ContainerInstance) -> bool {
    ci.tasks
        .iter()
        .filter_map(|t| t.service.as_deref())
        .any(|name| {
            def.service(name)
                .is_some_and(|s| s.disruption == ServiceDisruption::Never)
                || st.service(name).is_some_and(|s| s.do_not_disrupt)
        })
}

/// The disruption controls on one plan: busy drains within the budget, only the surplus or
/// empty instances outside the windows, never a protected task, do-not-disrupt only for the
/// surplus, aborted drains cooling down, deadlines handled as the file says.
fn check_disruption(
    def: &ClusterDefinition,
    st: &ClusterState,
    plan: &ScalingPlan,
    now_secs: u64,
) -> Result<(), TestCaseError> {
    let g = st.group.as_ref().expect("generated with a group");
    let now = Timestamp::from_second(now_secs as i64).expect("in range");
    let open = def.disruption.window_open(now);
    let busy: Vec<&ContainerInstance> = plan
        .actions
        .drain
        .iter()
        .map(|d| instance_of(st, &d.instance.container_instance_arn))
        .filter(|ci| ci.has_tasks())
        .collect();
    let busy_n = busy.len() as u32;
    match def.max_drain_per_cycle {
        Some(limit) => prop_assert!(busy_n <= limit, "{} busy drains > {}", busy_n, limit),
        None => {
            let written = if open {
                def.disruption.budget.inside_windows
            } else {
                def.disruption.budget.outside_windows
            };
            let draining = busy_draining(st, &plan.actions.abort_drain);
            let budget = written.of(g.desired);
            prop_assert!(
                busy_n <= budget.saturating_sub(draining),
                "{} busy drains, budget {} with {} DRAINING",
                busy_n,
                budget,
                draining
            );
        }
    }
    // The surplus above the file's max is all that may go busy outside the windows, or with
    // do-not-disrupt tasks.
    let surplus = def.max.map_or(0, |max| g.desired.saturating_sub(max));
    if !open {
        prop_assert!(
            busy_n <= surplus,
            "{} busy drains outside the windows, surplus {}",
            busy_n,
            surplus
        );
    }
    let dnd = busy
        .iter()
        .filter(|ci| runs_do_not_disrupt(def, st, ci))
        .count() as u32;
    prop_assert!(
        dnd <= surplus,
        "{} do-not-disrupt drains, surplus {}",
        dnd,
        surplus
    );
    for ci in &busy {
        prop_assert!(
            !ci.tasks.iter().any(|t| t.protected_at(now_secs)),
            "{} runs a protected task",
            ci.arn
        );
        let cooldown = def.disruption.drain_abort_cooldown.as_secs();
        prop_assert!(
            ci.drain_aborted_at_epoch_secs
                .is_none_or(|at| now_secs.saturating_sub(at) >= cooldown),
            "{} drained within its abort cooldown",
            ci.arn
        );
    }
    // Deadlines: only our drains past the timeout with tasks, as the file says.
    let past = |ci: &ContainerInstance| {
        ci.status == InstanceStatus::Draining
            && ci.drained_by_us()
            && ci.has_tasks()
            && ci
                .draining_since_epoch_secs
                .is_some_and(|t| now_secs.saturating_sub(t) > def.drain_timeout.as_secs())
    };
    for r in &plan.actions.abort_drain {
        let ci = instance_of(st, &r.container_instance_arn);
        prop_assert!(past(ci) && def.disruption.drain_timeout_action == DrainTimeoutAction::Abort);
        prop_assert!(!plan.actions.reactivate.contains(r) && !plan.actions.terminate.contains(r));
    }
    for f in &plan.actions.force_drain {
        let ci = instance_of(st, &f.instance.container_instance_arn);
        prop_assert!(past(ci) && def.disruption.drain_timeout_action == DrainTimeoutAction::Force);
        for arn in &f.tasks {
            prop_assert!(
                ci.tasks
                    .iter()
                    .any(|t| &t.arn == arn && t.service.is_some()),
                "{} is not a service task of {}",
                arn,
                ci.arn
            );
        }
        prop_assert!(!plan.actions.reactivate.contains(&f.instance));
    }
    Ok(())
}

/// The limits the plan works within.
fn limits(plan: &ScalingPlan, st: &ClusterState) -> (u32, u32) {
    match (&plan.actions.group_limits, &st.group) {
        (Some(l), _) => (l.to.min, l.to.max),
        (None, Some(g)) => (g.min, g.max),
        (None, None) => (0, u32::MAX),
    }
}

/// The placement is real: no bin over its free room, every item on a bin the plan keeps,
/// closed (drained) bins empty, one task per instance for distinct services.
fn check_packing(
    st: &ClusterState,
    packer: &Packer,
    plan: &ScalingPlan,
) -> Result<(), TestCaseError> {
    let mut seen = vec![0u32; packer.items.len()];
    for (b, bin) in packer.bins.iter().enumerate() {
        let initial = match bin.instance {
            Some(i) => st.instances[i].remaining,
            None => bin.capacity,
        };
        let mut used = Resources::ZERO;
        let mut distinct = Vec::new();
        for &p in &bin.placed {
            seen[p] += 1;
            let item = packer.items[p];
            if item.origin != Some(b) {
                used = used.saturating_add(item.size);
                if item.distinct {
                    prop_assert!(
                        !distinct.contains(&item.service),
                        "two distinct tasks on bin {}",
                        b
                    );
                    distinct.push(item.service);
                }
            }
        }
        prop_assert!(
            initial.fits(used),
            "bin {} over capacity: {} > {}",
            b,
            used,
            initial
        );
        if bin.closed {
            prop_assert!(bin.placed.is_empty());
        }
        if bin.kind == BinKind::Draining && !bin.placed.is_empty() {
            let i = bin.instance.unwrap_or(usize::MAX);
            prop_assert!(plan
                .actions
                .reactivate
                .iter()
                .any(|r| r.container_instance_arn == st.instances[i].arn));
        }
    }
    prop_assert!(seen.iter().all(|&n| n <= 1), "an item placed twice");
    // Every item is placed, unless the plan states why not.
    let stated: u32 = plan
        .decisions
        .detail
        .capacity
        .iter()
        .flat_map(|c| &c.unplaced)
        .map(|r| match r {
            Reason::TaskUnschedulable { count, .. }
            | Reason::GroupAtMax { count, .. }
            | Reason::NoInstanceToLaunch { count, .. } => *count,
            _ => 0,
        })
        .sum();
    let unplaced = seen.iter().filter(|&&n| n == 0).count() as u32;
    prop_assert_eq!(unplaced, stated);
    // Drained instances' tasks were all moved (they became items placed elsewhere).
    for d in &plan.actions.drain {
        let i = st
            .instances
            .iter()
            .position(|ci| ci.arn == d.instance.container_instance_arn)
            .unwrap_or(usize::MAX);
        let ci = &st.instances[i];
        prop_assert!(
            !ci.tasks.is_empty() || !ci.has_tasks(),
            "drained an instance with unknown tasks"
        );
        let moved = packer
            .items
            .iter()
            .filter(|it| it.kind == ItemKind::Moved && it.origin.is_none())
            .count();
        prop_assert!(moved >= ci.tasks.len());
    }
    let launched = packer
        .bins
        .iter()
        .filter(|b| b.kind == BinKind::New)
        .count() as u32;
    prop_assert_eq!(launched, packer.new_opened);
    Ok(())
}

/// Every invariant of one plan made on `st` at `now_secs`.
fn check_plan(
    def: &ClusterDefinition,
    st: &ClusterState,
    plan: &ScalingPlan,
    packer: Option<&Packer>,
    now_secs: u64,
) -> Result<(), TestCaseError> {
    // desired ∈ [min, max]
    for c in &plan.actions.services {
        let d = def
            .service(&c.service)
            .expect("planned services are defined");
        prop_assert!(d.min <= c.to && c.to <= d.max, "{:?}", c);
    }
    let (min, max) = limits(plan, st);
    let g = st.group.as_ref().expect("generated with a group");
    let desired = plan.actions.group_desired.map_or(g.desired, |c| c.to);
    if plan.actions.group_desired.is_some() {
        prop_assert!(
            min <= desired && desired <= max,
            "desired {} not in [{}, {}]",
            desired,
            min,
            max
        );
    }
    let after = desired.saturating_sub(plan.actions.terminate.len() as u32);
    if !plan.actions.terminate.is_empty() {
        prop_assert!(
            after >= min,
            "terminations take desired to {} < {}",
            after,
            min
        );
    }
    // MaxSize never below the desired capacity: not below what the plan leaves, nor below
    // the live desired capacity unless the plan's terminations bring it down first.
    if let Some(l) = plan.actions.group_limits {
        prop_assert!(
            l.to.max >= after,
            "MaxSize {} < desired {} after the plan",
            l.to.max,
            after
        );
        if plan.actions.terminate.is_empty() {
            prop_assert!(
                l.to.max >= g.desired,
                "MaxSize {} < live desired {}",
                l.to.max,
                g.desired
            );
        }
        prop_assert!(l.to.min <= l.to.max);
    }
    // Never reactivate, drain or terminate an instance that is not ours: someone else's
    // drain, not InService, not in the group, agent disconnected.
    let member = |id: &str| g.instance(id);
    let touched = plan
        .actions
        .reactivate
        .iter()
        .chain(&plan.actions.terminate)
        .chain(plan.actions.drain.iter().map(|d| &d.instance));
    for r in touched {
        let ci = st
            .instances
            .iter()
            .find(|ci| ci.arn == r.container_instance_arn)
            .expect("known");
        prop_assert!(
            member(&ci.ec2_instance_id).is_some_and(|m| m.in_service()),
            "{:?} is not an InService member",
            r
        );
        prop_assert!(ci.agent_connected, "{:?}: agent disconnected", r);
        if ci.status == InstanceStatus::Draining {
            prop_assert!(ci.drained_by_us(), "{:?} is someone else's drain", r);
        }
    }
    // Drains carry what the planner counted on the instance.
    for d in &plan.actions.drain {
        let ci = st
            .instances
            .iter()
            .find(|ci| ci.arn == d.instance.container_instance_arn)
            .expect("known");
        prop_assert_eq!(d.tasks, ci.running_tasks + ci.pending_tasks);
        let sizes: Vec<Resources> = ci.tasks.iter().map(|t| t.size).collect();
        prop_assert_eq!(&d.task_sizes, &sizes);
    }
    // No termination of an instance with tasks: a DRAINING one, or an empty ACTIVE one the
    // plan drains.
    for t in &plan.actions.terminate {
        let ci = st
            .instances
            .iter()
            .find(|ci| ci.arn == t.container_instance_arn)
            .expect("known");
        let drained_now = plan.actions.drain.iter().any(|d| &d.instance == t);
        prop_assert!(!ci.has_tasks());
        prop_assert!(
            ci.status == InstanceStatus::Draining
                || (drained_now && ci.status == InstanceStatus::Active)
        );
    }
    // Never drain and launch (or reactivate) in one plan; never drain below the min.
    if !plan.actions.drain.is_empty() {
        prop_assert!(plan.actions.reactivate.is_empty());
        prop_assert!(plan.actions.group_desired.is_none_or(|c| c.to <= c.from));
        let active = st
            .instances
            .iter()
            .filter(|ci| ci.status == InstanceStatus::Active)
            .count() as u32;
        prop_assert!(
            active + plan.actions.abort_drain.len() as u32 - plan.actions.drain.len() as u32 >= min
        );
    }
    check_disruption(def, st, plan, now_secs)?;
    if let Some(packer) = packer {
        check_packing(st, packer, plan)?;
    }
    prop_assert_eq!(plan.has_actions, !plan.actions.is_empty());
    Ok(())
}

/// Busy instances of the group DRAINING, not counting those whose drain `aborted` lists.
fn busy_draining(st: &ClusterState, aborted: &[shared::messages::InstanceRef]) -> u32 {
    let Some(g) = &st.group else { return 0 };
    st.instances
        .iter()
        .filter(|ci| {
            ci.status == InstanceStatus::Draining
                && ci.has_tasks()
                && g.instance(&ci.ec2_instance_id).is_some()
                && !aborted.iter().any(|a| a.container_instance_arn == ci.arn)
        })
        .count() as u32
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn plans_keep_the_invariants((def, st, m) in world()) {
        let (plan, packer) = plan_traced(&def, &m, &st, now());
        check_plan(&def, &st, &plan, packer.as_ref(), NOW_SECS)?;
    }

    /// Quiet clusters, where consolidation runs: the disruption controls are what stops it.
    #[test]
    fn quiet_plans_keep_the_invariants((def, st, m) in world_of(4, true)) {
        let (plan, packer) = plan_traced(&def, &m, &st, now());
        check_plan(&def, &st, &plan, packer.as_ref(), NOW_SECS)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, .. ProptestConfig::default() })]

    /// Plans applied to a model of ECS, cycle after cycle: every plan keeps the invariants, and
    /// the instances DRAINING at once never exceed the budget (or what was DRAINING already).
    #[test]
    fn plans_keep_the_invariants_over_cycles((def, st, m) in prop_oneof![world(), world_of(4, true)]) {
        let mut world = WorldModel::new(st, NOW_SECS);
        for _ in 0..5 {
            let now = Timestamp::from_second(world.now_secs as i64).expect("in range");
            let (plan, packer) = plan_traced(&def, &m, &world.state, now);
            check_plan(&def, &world.state, &plan, packer.as_ref(), world.now_secs)?;
            let g = world.state.group.clone().expect("generated with a group");
            let before = busy_draining(&world.state, &plan.actions.abort_drain);
            world.apply(&plan);
            let after = busy_draining(&world.state, &[]);
            let limit = match def.max_drain_per_cycle {
                Some(n) => before + n,
                None => {
                    let written = if def.disruption.window_open(now) {
                        def.disruption.budget.inside_windows
                    } else {
                        def.disruption.budget.outside_windows
                    };
                    written.of(g.desired).max(before)
                }
            };
            prop_assert!(after <= limit, "{} busy DRAINING after the plan, limit {}", after, limit);
            world.converge();
        }
    }
}
