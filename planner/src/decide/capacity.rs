//! The instance plan: one placement simulation decides what to place where,
//! which DRAINING instances to reactivate and how many instances to launch; then
//! consolidation, terminations of drained instances, and the group's limits and desired
//! capacity. Only instances that are ours ([`Standing`]) are counted or acted on, and the
//! group's MaxSize is never sent below its desired capacity.

use std::collections::{BTreeMap, HashMap};

use shared::definition::ClusterDefinition;
use shared::messages::{
    CapacityDecision, CountChange, DimensionSummary, DrainTarget, GroupLimits, GroupLimitsChange,
    InstanceDecision, InstanceRef, Reason,
};
use shared::resources::Resources;
use shared::state::{ClusterState, ContainerInstance, GroupInstance, GroupState, InstanceStatus};

use super::consolidation::{consolidate, Limits};
use super::packing::{Bin, BinKind, ItemKind, Packer, Unplaced};
use super::services::ServiceTable;
use super::standing::{standing, Standing};
use super::{demand, instances, lower_bound};

/// The instance side of a plan.
#[derive(Debug)]
pub(crate) struct CapacityPlan {
    pub group_limits: Option<GroupLimitsChange>,
    pub reactivate: Vec<InstanceRef>,
    pub group_desired: Option<CountChange>,
    pub drain: Vec<DrainTarget>,
    pub terminate: Vec<InstanceRef>,
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
    now_secs: u64,
) -> CapacityPlan {
    let mut notes = Vec::new();
    let limits = wanted_limits(def, group, &mut notes);
    let size = instances::instance_size(def, state);
    let mut table = ServiceTable::new(state);
    let group_instances: HashMap<&str, &GroupInstance> = group
        .instances
        .iter()
        .map(|gi| (gi.instance_id.as_str(), gi))
        .collect();
    let standings: Vec<Standing> = state
        .instances
        .iter()
        .map(|ci| standing(ci, Some(group)))
        .collect();

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
    let booting = instances::booting(def, state, group, now_secs);
    let in_flight = booting.count.saturating_add(raised_by_limits);

    let (mut packer, bin_of) = instances::bins(state, &standings, &table, size, in_flight);
    packer.new_limit = limits.max.saturating_sub(base_desired);
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
    let short = unplaced.iter().any(|(_, why)| *why != Unplaced::TooLarge);
    let mut drain = Vec::new();
    if def.max_drain_per_cycle == 0 {
        decision.notes.push(Reason::ConsolidationDisabled);
    } else if launch > 0 || !reactivate.is_empty() || short {
        decision.notes.push(Reason::ConsolidationWhileScalingUp);
    } else if in_flight > 0 && surplus_to_drain == 0 {
        decision
            .notes
            .push(Reason::ConsolidationWhileBooting { booting: in_flight });
    } else {
        let limits = Limits {
            max_drain: def.max_drain_per_cycle,
            group_min: limits.min,
            active,
        };
        let c = consolidate(
            &mut packer,
            state,
            &group_instances,
            &mut table,
            &bin_of,
            &limits,
        );
        drain.extend(c.drained.iter().map(|&i| drain_target(&state.instances[i])));
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
        def,
        state,
        &standings,
        &group_instances,
        &reactivated,
        target,
        limits.min,
        now_secs,
        &mut decision,
    );

    // MaxSize never below the desired capacity this plan leaves: lowered step by step as the
    // surplus is terminated (the executor applies a lowering after the terminations).
    let desired_after = target.saturating_sub(count(terminate.iter()));
    let group_limits = limits_change(group, limits, desired_after, &mut notes);

    summarize(&mut decision, state, &standings, &packer, size);
    CapacityPlan {
        group_limits,
        reactivate,
        group_desired,
        drain,
        terminate,
        decision,
        notes,
        packer,
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
/// group's MinSize and never when protected; instances draining too long are reported.
/// Only instances this system drained are considered (see [`Standing`]).
#[allow(clippy::too_many_arguments)]
fn terminations(
    def: &ClusterDefinition,
    state: &ClusterState,
    standings: &[Standing],
    group_instances: &HashMap<&str, &GroupInstance>,
    reactivated: &[bool],
    desired: u32,
    min: u32,
    now_secs: u64,
    decision: &mut CapacityDecision,
) -> Vec<InstanceRef> {
    let mut terminate = Vec::new();
    let mut desired_after = desired;
    for (i, ci) in state.instances.iter().enumerate() {
        if standings.get(i) != Some(&Standing::Draining)
            || reactivated.get(i).copied().unwrap_or(false)
        {
            continue;
        }
        let reason = if ci.has_tasks() {
            let since = ci
                .draining_since_epoch_secs
                .map(|t| now_secs.saturating_sub(t));
            match since {
                Some(secs) if secs > def.drain_timeout.as_secs() => Reason::DrainingTooLong {
                    secs,
                    timeout_secs: def.drain_timeout.as_secs(),
                    running: ci.running_tasks.saturating_add(ci.pending_tasks),
                },
                _ => continue,
            }
        } else {
            match group_instances.get(ci.ec2_instance_id.as_str()) {
                None => Reason::KeepNotInGroup,
                Some(gi) if gi.protected_from_scale_in => Reason::TerminateBlockedProtected,
                Some(_) if desired_after <= min => Reason::TerminateBlockedByMin {
                    min,
                    desired: desired_after,
                },
                Some(_) => {
                    desired_after -= 1;
                    terminate.push(instance_ref(ci));
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

/// Both identifiers of an instance.
fn instance_ref(ci: &ContainerInstance) -> InstanceRef {
    InstanceRef {
        container_instance_arn: ci.arn.clone(),
        ec2_instance_id: ci.ec2_instance_id.clone(),
    }
}

/// A drain, with what the executor re-checks at apply time: the tasks counted on the instance
/// and the sizes of those that must move (all of them: consolidation drains only instances
/// whose tasks are listed and belong to services).
fn drain_target(ci: &ContainerInstance) -> DrainTarget {
    DrainTarget {
        instance: instance_ref(ci),
        tasks: ci.running_tasks.saturating_add(ci.pending_tasks),
        task_sizes: ci.tasks.iter().map(|t| t.size).collect(),
    }
}
