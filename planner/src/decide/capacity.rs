//! The instance plan: drain deadlines first (an aborted drain is ACTIVE again, a forced one
//! takes no task back); one placement simulation decides what to place where, which DRAINING
//! instances to reactivate and how many instances to launch; then consolidation within the
//! disruption budget and windows, terminations of drained instances (empty ones drained in this
//! plan included), and the group's limits and desired capacity. Only instances that are ours
//! ([`Standing`]) are counted or acted on, and the group's MaxSize is never sent below its
//! desired capacity.

use std::collections::{BTreeMap, HashMap};

use shared::definition::ClusterDefinition;
use shared::messages::{
    CapacityDecision, CountChange, DimensionSummary, DrainTarget, EniUse, ForceDrain, GroupLimits,
    GroupLimitsChange, InstanceDecision, InstanceRef, Reason,
};
use shared::resources::Resources;
use shared::state::{ClusterState, ContainerInstance, GroupInstance, GroupState, InstanceStatus};
use shared::time::{self, Timestamp};

use super::consolidation::{consolidate, BusyLimit, Limits};
use super::deadlines::deadlines;
use super::launch_zones::LaunchZones;
use super::packing::{Bin, BinKind, Item, ItemKind, Packer, Unplaced};
use super::placement::Needs;
use super::services::{FastMap, ServiceTable};
use super::standing::{members, standings_among, Standing};
use super::{demand, instances, lower_bound};

/// The instance side of a plan.
#[derive(Debug)]
pub(crate) struct CapacityPlan {
    pub group_limits: Option<GroupLimitsChange>,
    pub reactivate: Vec<InstanceRef>,
    pub group_desired: Option<CountChange>,
    pub drain: Vec<DrainTarget>,
    pub drain_eni_use: BTreeMap<String, EniUse>,
    pub terminate: Vec<InstanceRef>,
    pub abort_drain: Vec<InstanceRef>,
    pub force_drain: Vec<ForceDrain>,
    pub decision: CapacityDecision,
    /// Cluster-level notes: limits and desired capacity.
    pub notes: Vec<Reason>,
    /// The final simulation (what the plan's placements are), for the invariant tests.
    #[cfg_attr(not(test), allow(dead_code))]
    pub packer: Packer,
}

/// Plans the instances. `targets`: each service's desired count after the service decisions.
pub(crate) fn plan_capacity(
    def: &ClusterDefinition,
    state: &ClusterState,
    group: &GroupState,
    targets: &HashMap<&str, u32>,
    now: Timestamp,
) -> CapacityPlan {
    let now_secs = time::epoch_secs(now);
    let mut notes = Vec::new();
    let limits = wanted_limits(def, group, &mut notes);
    let size = instances::instance_size(def, state);
    let mut table = ServiceTable::new(state);
    let group_instances = members(Some(group));
    let mut standings: Vec<Standing> = standings_among(state, &group_instances);
    // Drains past their deadline: an aborted one is ACTIVE again for the rest of the plan (its
    // tasks stay, it is capacity); a forced one takes no task back (its bin is closed below).
    let deadlines = deadlines(def, state, &standings, now_secs);
    for &i in &deadlines.abort {
        standings[i] = Standing::Active;
    }

    // The desired capacity the group will have anyway: a new MinSize raises it. A MaxSize
    // below it is never sent (Auto Scaling would terminate instances of its own choosing):
    // the surplus above the file's max is drained and terminated instead, and no instance is
    // launched meanwhile.
    let surplus = group.desired.saturating_sub(limits.max);
    let base_desired = if surplus > 0 {
        group.desired
    } else {
        group.desired.clamp(limits.min, limits.max)
    };
    let raised_by_limits = base_desired.saturating_sub(group.desired);
    // A DRAINING instance may be terminated before Auto Scaling launches (by this plan).
    let draining: std::collections::HashSet<&str> = state
        .instances
        .iter()
        .filter(|ci| ci.status == InstanceStatus::Draining)
        .map(|ci| ci.ec2_instance_id.as_str())
        .collect();
    let mut launch_zones = LaunchZones::of(group, |id| draining.contains(id));
    let mut booting = instances::booting(def, state, group, now_secs, &mut launch_zones);
    let in_flight = booting.count.saturating_add(raised_by_limits);
    booting
        .zones
        .extend((0..raised_by_limits).map(|_| launch_zones.next()));

    let (mut packer, bin_of) = instances::bins(
        def,
        state,
        &standings,
        &table,
        size,
        &booting.zones,
        &launch_zones,
    );
    packer.new_limit = limits.max.saturating_sub(base_desired);
    for (i, _) in &deadlines.force {
        if let Some(&b) = bin_of.get(i) {
            packer.bins[b].closed = true;
        }
    }
    let items = demand::items(
        &mut packer,
        def,
        state,
        &standings,
        &mut table,
        targets,
        &bin_of,
    );
    let unplaced = packer.place(&items, |_| true, true);

    let mut decision = CapacityDecision {
        instance_size: size,
        booting: in_flight,
        tasks_to_place: u32::try_from(
            items
                .iter()
                .filter(|&&i| packer.items[i].kind == ItemKind::Task)
                .count(),
        )
        .unwrap_or(u32::MAX),
        ..CapacityDecision::default()
    };
    if size.is_none() {
        decision.notes.push(Reason::InstanceSizeUnknown);
    }
    let daemons = &packer.new_instance;
    if !daemons.daemon_services.is_empty() {
        decision.notes.push(Reason::DaemonsReserved {
            services: daemons.daemon_services.clone(),
            reserved: daemons.daemons,
        });
    }
    if let Some(note) = spread_note(&packer, &table) {
        decision.notes.push(note);
    }
    if let Some(note) = eni_limit_unknown(def, state) {
        decision.notes.push(note);
    }
    decision.notes.extend(booting.not_counted);
    decision.unplaced = unplaced_reasons(&packer, &table, &unplaced, size, limits.max);
    for (ci, standing) in state.instances.iter().zip(&standings) {
        if let Standing::Excluded { reason, .. } = standing {
            decision.instances.push(InstanceDecision {
                instance: instance_ref(ci),
                reason: reason.clone(),
            });
        }
    }
    for (i, reason) in &deadlines.decisions {
        decision.instances.push(InstanceDecision {
            instance: instance_ref(&state.instances[*i]),
            reason: reason.clone(),
        });
    }
    let abort_drain: Vec<InstanceRef> = deadlines
        .abort
        .iter()
        .map(|&i| instance_ref(&state.instances[i]))
        .collect();
    let force_drain: Vec<ForceDrain> = deadlines
        .force
        .iter()
        .map(|(i, tasks)| ForceDrain {
            instance: instance_ref(&state.instances[*i]),
            tasks: tasks.clone(),
        })
        .collect();

    // Reactivations and launches.
    let mut reactivate = Vec::new();
    let mut reactivated = vec![false; state.instances.len()];
    let mut new_index = 0u32;
    for bin in &packer.bins {
        match (bin.kind, bin.instance) {
            (BinKind::Draining, Some(i)) if !bin.placed.is_empty() => {
                reactivated[i] = true;
                reactivate.push(instance_ref(&state.instances[i]));
                let tasks = count(
                    bin.placed
                        .iter()
                        .filter(|&&p| packer.items[p].kind != ItemKind::Buffer),
                );
                decision.instances.push(InstanceDecision {
                    instance: instance_ref(&state.instances[i]),
                    reason: Reason::Reactivate { tasks },
                });
            }
            (BinKind::New, _) => {
                new_index += 1;
                decision
                    .new_instances
                    .push(new_instance_reason(new_index, bin, &packer, &table));
            }
            _ => {}
        }
    }
    let launch = packer.new_opened;

    // Consolidation, only when the plan adds nothing: never drain and launch in one plan.
    // Above the file's max it also runs while instances boot: it removes the surplus.
    let active = count(standings.iter().filter(|s| **s == Standing::Active));
    let leaving = count(
        standings
            .iter()
            .zip(&reactivated)
            .filter(|(s, r)| **s == Standing::Draining && !**r),
    );
    let surplus_to_drain = surplus.saturating_sub(leaving);
    // Tasks no instance can ever take do not hold consolidation back.
    let short = unplaced
        .iter()
        .any(|(_, why)| !matches!(why, Unplaced::TooLarge | Unplaced::Constraint));
    let window_open = def.disruption.window_open(now);
    window_notes(def, window_open, now, &mut decision.notes);
    let mut drain = Vec::new();
    let mut drained_empty = Vec::new();
    if def.max_drain_per_cycle == Some(0) {
        decision.notes.push(Reason::ConsolidationDisabled);
    } else if launch > 0 || !reactivate.is_empty() || short {
        decision.notes.push(Reason::ConsolidationWhileScalingUp);
    } else if in_flight > 0 && surplus_to_drain == 0 {
        decision
            .notes
            .push(Reason::ConsolidationWhileBooting { booting: in_flight });
    } else {
        let busy = busy_limit(
            def,
            state,
            group,
            window_open,
            &deadlines.abort,
            &mut decision.notes,
        );
        let limits = Limits {
            group_min: limits.min,
            active,
            group_after_drains: group.desired.saturating_sub(leaving),
            busy,
            window_open,
            surplus: surplus_to_drain,
            max: limits.max,
            now_secs,
            aborted_now: deadlines.abort.clone(),
        };
        let c = consolidate(
            &mut packer,
            def,
            state,
            &group_instances,
            &mut table,
            &bin_of,
            &limits,
        );
        drain.extend(
            c.drained
                .iter()
                .map(|&i| drain_target(&state.instances[i], &packer, &table)),
        );
        drained_empty.extend(
            c.drained
                .iter()
                .copied()
                .filter(|&i| !state.instances[i].has_tasks()),
        );
        for (i, reason) in c.examined {
            decision.instances.push(InstanceDecision {
                instance: instance_ref(&state.instances[i]),
                reason,
            });
        }
        decision.notes.extend(c.notes);
    }
    let kept = surplus_to_drain.saturating_sub(count(drain.iter()));
    if kept > 0 {
        decision.notes.push(Reason::SurplusKept {
            count: kept,
            max: limits.max,
        });
    }

    // The group's desired capacity: raised for launches (within the new MaxSize), from the
    // value the executor sees once the new limits are applied.
    let target = base_desired.saturating_add(launch);
    let group_desired = (target != base_desired).then_some(CountChange {
        from: base_desired,
        to: target,
    });
    if target != group.desired {
        notes.push(if launch > 0 {
            Reason::GroupDesiredRaised {
                from: group.desired,
                to: target,
                launch,
            }
        } else {
            Reason::GroupDesiredWithinLimits {
                from: group.desired,
                to: target,
            }
        });
    }

    let terminate = terminations(
        state,
        &standings,
        &group_instances,
        &reactivated,
        &drained_empty,
        target,
        limits.min,
        &mut decision,
    );

    // MaxSize never below the desired capacity this plan leaves: lowered step by step as the
    // surplus is terminated (the executor applies a lowering after the terminations).
    let desired_after = target.saturating_sub(count(terminate.iter()));
    let group_limits = limits_change(group, limits, desired_after, &mut notes);

    summarize(&mut decision, state, &standings, &packer, size);
    let drain_eni_use = eni_use(def, state, &standings, &drain);
    CapacityPlan {
        group_limits,
        reactivate,
        group_desired,
        drain,
        drain_eni_use,
        terminate,
        abort_drain,
        force_drain,
        decision,
        notes,
        packer,
    }
}

/// The busy drains this plan may start: `max_drain_per_cycle` when the file sets it, else the
/// disruption budget (inside or outside the windows) of the group's desired capacity, less the
/// instances of the group DRAINING with tasks now (ours and others', not those whose drain this
/// plan aborts). Noted in the record.
fn busy_limit(
    def: &ClusterDefinition,
    state: &ClusterState,
    group: &GroupState,
    window_open: bool,
    aborted: &[usize],
    notes: &mut Vec<Reason>,
) -> BusyLimit {
    if let Some(limit) = def.max_drain_per_cycle {
        notes.push(Reason::DrainsPerPlan { limit });
        return BusyLimit::PerPlan(limit);
    }
    let written = if window_open {
        def.disruption.budget.inside_windows
    } else {
        def.disruption.budget.outside_windows
    };
    let budget = written.of(group.desired);
    let draining = count(state.instances.iter().enumerate().filter(|(i, ci)| {
        ci.status == InstanceStatus::Draining
            && ci.has_tasks()
            && group.instance(&ci.ec2_instance_id).is_some()
            && !aborted.contains(i)
    }));
    notes.push(Reason::DisruptionBudget {
        written: written.to_string(),
        group: group.desired,
        budget,
        draining,
        inside_windows: window_open,
    });
    BusyLimit::Budget { budget, draining }
}

/// Which consolidation window is open, or that none is (nothing without windows).
fn window_notes(def: &ClusterDefinition, open: bool, now: Timestamp, notes: &mut Vec<Reason>) {
    let windows = &def.disruption.windows;
    if windows.is_empty() {
        return;
    }
    if open {
        if let Some(w) = windows.iter().find(|w| w.contains(now)) {
            notes.push(Reason::ConsolidationWindowOpen {
                window: w.to_string(),
            });
        }
    } else {
        notes.push(Reason::ConsolidationWindowClosed {
            windows: windows.iter().map(ToString::to_string).collect(),
        });
    }
}

/// The limits the file asks for (the group's own where the file sets none, or where the file's
/// would contradict the group's other limit).
fn wanted_limits(
    def: &ClusterDefinition,
    group: &GroupState,
    notes: &mut Vec<Reason>,
) -> GroupLimits {
    let live = GroupLimits {
        min: group.min,
        max: group.max,
    };
    let wanted = GroupLimits {
        min: def.min.unwrap_or(group.min),
        max: def.max.unwrap_or(group.max),
    };
    if wanted.min > wanted.max {
        notes.push(Reason::GroupLimitsConflict {
            min: wanted.min,
            max: wanted.max,
        });
        return live;
    }
    wanted
}

/// The limits change to send: the wanted limits, with MaxSize no lower than `desired_after`
/// (the desired capacity once this plan is applied).
fn limits_change(
    group: &GroupState,
    wanted: GroupLimits,
    desired_after: u32,
    notes: &mut Vec<Reason>,
) -> Option<GroupLimitsChange> {
    let from = GroupLimits {
        min: group.min,
        max: group.max,
    };
    let to = GroupLimits {
        min: wanted.min,
        max: wanted.max.max(desired_after),
    };
    if group.desired > wanted.max {
        notes.push(Reason::GroupAboveMax {
            desired: group.desired,
            max: wanted.max,
            max_now: to.max,
        });
    }
    if to == from {
        return None;
    }
    notes.push(Reason::GroupLimitsChanged { from, to });
    Some(GroupLimitsChange { from, to })
}

/// Unplaced items grouped by service and reason.
fn unplaced_reasons(
    packer: &Packer,
    table: &ServiceTable,
    unplaced: &[(usize, Unplaced)],
    size: Option<Resources>,
    max: u32,
) -> Vec<Reason> {
    let mut groups: BTreeMap<(u32, u8, Resources), (u32, Unplaced)> = BTreeMap::new();
    for &(i, why) in unplaced {
        let item = packer.items[i];
        let key = (item.service, why as u8, item.size);
        groups.entry(key).or_insert((0, why)).0 += 1;
    }
    groups
        .into_iter()
        .map(|((s, _, task), (count, why))| {
            let service = table.name(s).to_string();
            match why {
                Unplaced::TooLarge => Reason::TaskUnschedulable {
                    service,
                    count,
                    size: task,
                    instance_size: size.unwrap_or_default(),
                },
                Unplaced::GroupAtMax => Reason::GroupAtMax {
                    service,
                    count,
                    max,
                },
                Unplaced::NoInstanceSize | Unplaced::NoRoom => {
                    Reason::NoInstanceToLaunch { service, count }
                }
                Unplaced::Constraint => {
                    let needs = packer.needs(&Item {
                        service: s,
                        kind: ItemKind::Task,
                        size: task,
                        distinct: false,
                        origin: None,
                    });
                    let fresh = &packer.next_new().offer;
                    Reason::TaskUnplaceable {
                        service,
                        count,
                        why: needs.why_not(fresh, packer.eni_limit),
                    }
                }
            }
        })
        .collect()
}

/// Why a new instance is needed: what the simulation put on it.
fn new_instance_reason(index: u32, bin: &Bin, packer: &Packer, table: &ServiceTable) -> Reason {
    let mut services: Vec<String> = Vec::new();
    let mut tasks = 0u32;
    let mut reserved = Resources::ZERO;
    for &p in &bin.placed {
        let item = packer.items[p];
        if item.kind == ItemKind::Buffer {
            continue;
        }
        tasks += 1;
        reserved = reserved.saturating_add(item.size);
        let name = table.name(item.service);
        if !services.iter().any(|s| s == name) {
            services.push(name.to_string());
        }
    }
    if tasks == 0 {
        return Reason::NewInstanceForBuffer { index };
    }
    Reason::NewInstance {
        index,
        tasks,
        reserved,
        services,
    }
}

/// Empty DRAINING instances are terminated (desired capacity decremented), never below the
/// group's MinSize and never when protected; then the empty instances this plan drains (the
/// executor re-reads each after its drain). Only instances this system drained are considered
/// (see [`Standing`]); those still running tasks wait (their deadline is in `deadlines`).
#[allow(clippy::too_many_arguments)]
fn terminations(
    state: &ClusterState,
    standings: &[Standing],
    group_instances: &FastMap<&str, &GroupInstance>,
    reactivated: &[bool],
    drained_empty: &[usize],
    desired: u32,
    min: u32,
    decision: &mut CapacityDecision,
) -> Vec<InstanceRef> {
    let mut terminate = Vec::new();
    let mut desired_after = desired;
    let drained_now = drained_empty.iter().map(|&i| (i, true));
    let draining = (0..state.instances.len())
        .filter(|&i| {
            standings.get(i) == Some(&Standing::Draining)
                && !reactivated.get(i).copied().unwrap_or(false)
                && !state.instances[i].has_tasks()
        })
        .map(|i| (i, false));
    for (i, now) in draining.chain(drained_now) {
        let ci = &state.instances[i];
        let reason = match group_instances.get(ci.ec2_instance_id.as_str()) {
            None => Reason::KeepNotInGroup,
            Some(gi) if gi.protected_from_scale_in => Reason::TerminateBlockedProtected,
            Some(_) if desired_after <= min => Reason::TerminateBlockedByMin {
                min,
                desired: desired_after,
            },
            Some(_) => {
                desired_after -= 1;
                terminate.push(instance_ref(ci));
                if now {
                    Reason::TerminateEmptyNow
                } else {
                    Reason::TerminateDrained
                }
            }
        };
        decision.instances.push(InstanceDecision {
            instance: instance_ref(ci),
            reason,
        });
    }
    terminate
}

/// Demand against planned capacity per dimension, and the lower bound on instances (see
/// [`lower_bound`]: tasks on instances whose tasks are not listed count as volume only).
fn summarize(
    decision: &mut CapacityDecision,
    state: &ClusterState,
    standings: &[Standing],
    packer: &Packer,
    size: Option<Resources>,
) {
    let (mut demand_cpu, mut demand_mem) = (0u64, 0u64);
    let mut demand = lower_bound::Demand::default();
    for ci in &state.instances {
        if matches!(ci.status, InstanceStatus::Active | InstanceStatus::Draining) {
            demand_cpu += u64::from(ci.used().cpu);
            demand_mem += u64::from(ci.used().memory);
            let mut listed = Resources::ZERO;
            for t in &ci.tasks {
                demand.add_tasks(t.size, 1);
                listed = listed.saturating_add(t.size);
            }
            demand.add_unknown(ci.used().saturating_sub(listed));
        }
    }
    for item in &packer.items {
        // Moved tasks are already counted where they run; unschedulable ones never run.
        let fits = size.is_none_or(|s| s.fits(item.size));
        if matches!(item.kind, ItemKind::Task | ItemKind::Buffer) && fits {
            demand_cpu += u64::from(item.size.cpu);
            demand_mem += u64::from(item.size.memory);
            demand.add_tasks(item.size, 1);
        }
    }
    let (mut cap_cpu, mut cap_mem, mut planned) = (0u64, 0u64, 0u32);
    for bin in &packer.bins {
        let keep = match bin.kind {
            // Drained candidates are closed in the committed simulation.
            BinKind::Active => !bin.closed,
            BinKind::Draining => !bin.placed.is_empty(),
            BinKind::Booting | BinKind::New => true,
        };
        if keep {
            cap_cpu += u64::from(bin.capacity.cpu);
            cap_mem += u64::from(bin.capacity.memory);
            planned += 1;
        }
    }
    let bound = size.map_or_else(lower_bound::Bound::default, |s| {
        lower_bound::bound(&demand, s)
    });
    decision.cpu = DimensionSummary {
        demand: demand_cpu,
        planned_capacity: cap_cpu,
        lower_bound_instances: bound.cpu,
    };
    decision.memory = DimensionSummary {
        demand: demand_mem,
        planned_capacity: cap_mem,
        lower_bound_instances: bound.memory,
    };
    decision.lower_bound_instances = bound.instances;
    decision.planned_instances = planned;
    decision.active = count(
        state
            .instances
            .iter()
            .filter(|ci| ci.status == InstanceStatus::Active),
    );
    decision.draining = count(
        state
            .instances
            .iter()
            .filter(|ci| ci.status == InstanceStatus::Draining),
    );
    decision.excluded = count(
        standings
            .iter()
            .filter(|s| matches!(s, Standing::Excluded { .. })),
    );
}

fn count<T>(it: impl Iterator<Item = T>) -> u32 {
    u32::try_from(it.count()).unwrap_or(u32::MAX)
}

/// The note that `awsvpc` tasks are not limited on some instances: an ACTIVE EC2 `awsvpc`
/// service, no `max_tasks_per_instance`, and registered instances whose type the ENI table
/// does not know (the decision: not limited rather than guessed, see the README).
fn eni_limit_unknown(def: &ClusterDefinition, state: &ClusterState) -> Option<Reason> {
    let awsvpc = state.services.iter().any(|s| {
        s.status == "ACTIVE"
            && s.placement.launch.on_instances()
            && s.placement.network_mode == shared::state::NetworkMode::Awsvpc
    });
    if !awsvpc || def.max_tasks_per_instance.is_some() {
        return None;
    }
    let unknown: std::collections::BTreeSet<String> = state
        .instances
        .iter()
        .filter(|ci| shared::eni::awsvpc_task_limit(&ci.placement.attributes).is_none())
        .map(|ci| {
            ci.placement
                .attribute(shared::state::INSTANCE_TYPE_ATTRIBUTE)
                .unwrap_or("(no ecs.instance-type)")
                .to_owned()
        })
        .collect();
    (!unknown.is_empty()).then(|| Reason::EniLimitUnknown {
        instance_types: unknown.into_iter().collect(),
    })
}

/// Both identifiers of an instance.
fn instance_ref(ci: &ContainerInstance) -> InstanceRef {
    InstanceRef {
        container_instance_arn: ci.arn.clone(),
        ec2_instance_id: ci.ec2_instance_id.clone(),
    }
}

/// Which new tasks the placement put where ECS spreads them over zones, for the record.
fn spread_note(packer: &Packer, table: &ServiceTable) -> Option<Reason> {
    if packer.spread_placed.is_empty() {
        return None;
    }
    let mut services: Vec<String> = Vec::new();
    for &i in &packer.spread_placed {
        let name = table.name(packer.items[i].service);
        if !services.iter().any(|s| s == name) {
            services.push(name.to_string());
        }
    }
    Some(Reason::TasksSpreadOverZones {
        services,
        tasks: count(packer.spread_placed.iter()),
        zones: packer.zones.count,
    })
}

/// The `awsvpc` tasks on each ACTIVE instance, for the executor's ENI re-check of `drain`; none
/// when no drain moves an `awsvpc` task.
fn eni_use(
    def: &ClusterDefinition,
    state: &ClusterState,
    standings: &[Standing],
    drain: &[DrainTarget],
) -> BTreeMap<String, EniUse> {
    if !drain.iter().flat_map(|d| &d.task_needs).any(|n| n.eni) {
        return BTreeMap::new();
    }
    let awsvpc = super::placement::awsvpc_services(state);
    let is_awsvpc = |name: &str| awsvpc.contains(name);
    state
        .instances
        .iter()
        .zip(standings)
        .filter(|(_, s)| **s == Standing::Active)
        .map(|(ci, _)| {
            let offer = super::placement::offer_of(ci, &is_awsvpc, true);
            (
                ci.arn.clone(),
                EniUse {
                    awsvpc_tasks: offer.eni_tasks,
                    tasks: ci.running_tasks.saturating_add(ci.pending_tasks),
                    limit: def.max_tasks_per_instance.or(offer.eni_limit),
                },
            )
        })
        .collect()
}

/// A drain, with what the executor re-checks at apply time: the tasks counted on the instance,
/// the sizes of those that must move (all of them: consolidation drains only instances whose
/// tasks are listed and belong to services) and their needs besides CPU and memory (none
/// listed when every task is plain).
fn drain_target(ci: &ContainerInstance, packer: &Packer, table: &ServiceTable) -> DrainTarget {
    let needs_of = |service: Option<&str>| -> Needs {
        service
            .and_then(|name| table.get(name))
            .and_then(|i| packer.needs.get(i as usize))
            .cloned()
            .unwrap_or_default()
    };
    let mut task_needs: Vec<Needs> = ci
        .tasks
        .iter()
        .map(|t| needs_of(t.service.as_deref()))
        .collect();
    if task_needs.iter().all(Needs::is_plain) {
        task_needs.clear();
    }
    DrainTarget {
        instance: instance_ref(ci),
        tasks: ci.running_tasks.saturating_add(ci.pending_tasks),
        task_sizes: ci.tasks.iter().map(|t| t.size).collect(),
        task_needs,
    }
}
