//! The planner's invariants on generated clusters: desired ∈ [min, max]; every drained
//! instance's tasks fit on the rest; no termination of an instance with tasks; the group's
//! desired capacity within its limits and MaxSize never below it; no instance that is not ours
//! (someone else's drain, not InService, not in the group, agent disconnected) reactivated,
//! drained or terminated; the plan's placement holds every task and the buffer.

use std::collections::BTreeMap;

use proptest::prelude::*;
use shared::definition::ClusterDefinition;
use shared::messages::{Reason, ScalingPlan, ServiceMetrics};
use shared::resources::Resources;
use shared::state::{ClusterState, InstanceStatus};

use super::fixtures::*;
use super::packing::{BinKind, ItemKind, Packer};
use super::plan_traced;

const SIZES: [Resources; 4] = [
    Resources::new(256, 512),
    Resources::new(512, 1024),
    Resources::new(1024, 2048),
    Resources::new(2048, 1024),
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

prop_compose! {
    pub(super) fn world()(
        services in prop::collection::vec((0usize..4, 0u32..4, 1u32..8, 0u32..10, 0.0f64..60.0, any::<bool>()), 1..4),
        instances in prop::collection::vec((0u8..4, prop::collection::vec(0usize..3, 0..8), 0u8..TROUBLES), 0..8),
        booting in 0u32..3,
        silent in prop::option::of(0u64..1200),
        group in (0u32..4, 4u32..14),
        file_limits in (prop::option::of(0u32..4), prop::option::of(1u32..12)),
        buffer in (0u32..3, any::<bool>()),
        max_drain in 0u32..3,
        unknown_tasks in any::<bool>(),
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
            if unknown_tasks && n == 0 {
                ci.tasks.clear();
            }
            cis.push(ci);
        }
        for s in &mut states {
            s.desired = s.desired.max(s.running);
        }
        let mut def = cluster(defs);
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
        (def, st, metrics_map)
    }
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn plans_keep_the_invariants((def, st, m) in world()) {
        let (plan, packer) = plan_traced(&def, &m, &st, now());
        // desired ∈ [min, max]
        for c in &plan.actions.services {
            let d = def.service(&c.service).expect("planned services are defined");
            prop_assert!(d.min <= c.to && c.to <= d.max, "{:?}", c);
        }
        let (min, max) = limits(&plan, &st);
        let g = st.group.as_ref().expect("generated with a group");
        let desired = plan.actions.group_desired.map_or(g.desired, |c| c.to);
        if plan.actions.group_desired.is_some() {
            prop_assert!(min <= desired && desired <= max, "desired {} not in [{}, {}]", desired, min, max);
        }
        let after = desired.saturating_sub(plan.actions.terminate.len() as u32);
        if !plan.actions.terminate.is_empty() {
            prop_assert!(after >= min, "terminations take desired to {} < {}", after, min);
        }
        // MaxSize never below the desired capacity: not below what the plan leaves, nor below
        // the live desired capacity unless the plan's terminations bring it down first.
        if let Some(l) = plan.actions.group_limits {
            prop_assert!(l.to.max >= after, "MaxSize {} < desired {} after the plan", l.to.max, after);
            if plan.actions.terminate.is_empty() {
                prop_assert!(l.to.max >= g.desired, "MaxSize {} < live desired {}", l.to.max, g.desired);
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
            let ci = st.instances.iter().find(|ci| ci.arn == r.container_instance_arn).expect("known");
            prop_assert!(member(&ci.ec2_instance_id).is_some_and(|m| m.in_service()), "{:?} is not an InService member", r);
            prop_assert!(ci.agent_connected, "{:?}: agent disconnected", r);
            if ci.status == InstanceStatus::Draining {
                prop_assert!(ci.drained_by_us(), "{:?} is someone else's drain", r);
            }
        }
        // Drains carry what the planner counted on the instance.
        for d in &plan.actions.drain {
            let ci = st.instances.iter().find(|ci| ci.arn == d.instance.container_instance_arn).expect("known");
            prop_assert_eq!(d.tasks, ci.running_tasks + ci.pending_tasks);
            let sizes: Vec<Resources> = ci.tasks.iter().map(|t| t.size).collect();
            prop_assert_eq!(&d.task_sizes, &sizes);
        }
        // No termination of an instance with tasks.
        for t in &plan.actions.terminate {
            let ci = st.instances.iter().find(|ci| ci.arn == t.container_instance_arn).expect("known");
            prop_assert!(!ci.has_tasks() && ci.status == InstanceStatus::Draining);
        }
        // Never drain and launch (or reactivate) in one plan; never drain below the min.
        if !plan.actions.drain.is_empty() {
            prop_assert!(plan.actions.reactivate.is_empty());
            prop_assert!(plan.actions.group_desired.is_none_or(|c| c.to <= c.from));
            let active = st.instances.iter().filter(|ci| ci.status == InstanceStatus::Active).count() as u32;
            prop_assert!(active - plan.actions.drain.len() as u32 >= min);
            prop_assert!(plan.actions.drain.len() as u32 <= def.max_drain_per_cycle);
        }
        if let Some(packer) = packer {
            check_packing(&st, &packer, &plan)?;
        }
        prop_assert_eq!(plan.has_actions, !plan.actions.is_empty());
    }
}
