//! Scale-in by consolidation: drain ACTIVE instances whose tasks fit on the others, within the
//! disruption controls.
//!
//! Candidates go in least-disruption order (empty first, then fewest tasks, then least
//! reserved). A candidate is drained only if a trial simulation, without it and every instance
//! drained before it, places all its tasks, the plan's scale-ups and the buffer on the
//! remaining ACTIVE instances; the group never goes below its MinSize counting DRAINING
//! instances as gone. Empty instances go whatever the windows and the budget say (the caller
//! terminates them in the same plan). A busy one is drained only
//! - while a consolidation window is open, or for the surplus above the file's `max`;
//! - within the busy drains the plan may start (the disruption budget, or
//!   `max_drain_per_cycle`);
//! - when none of its tasks has ECS task scale-in protection (and the protection could be read);
//! - when it runs no task of a do-not-disrupt service, unless it goes for the surplus;
//! - when its drain was not aborted within the cooldown;
//! - when it is worth it: the group shrinks by it, or it is below the consolidation threshold.
//!
//! Each examined candidate gets a reason, drained or kept.

use shared::definition::{ClusterDefinition, ServiceDisruption};
use shared::messages::{Reason, WorthIt};
use shared::resources::Resources;
use shared::state::{ClusterState, ContainerInstance, GroupInstance};

use super::instances::{share, tasks_known};
use super::packing::{BinKind, Item, ItemKind, Packer};
use super::services::{FastMap, ServiceTable, BUFFER};

/// Candidates examined per plan at most: the simulation is cheap but not free, and a
/// candidate that fails usually means the ones after it (busier) fail too.
pub(crate) const MAX_EXAMINED: usize = 16;

/// What consolidation decided.
#[derive(Debug, Default)]
pub(crate) struct Consolidation {
    /// Instances drained (indices), in order.
    pub drained: Vec<usize>,
    /// Instance index → why it is drained or kept, in the order they were examined (a drained
    /// instance may have a second line: why it goes despite the windows or do-not-disrupt).
    pub examined: Vec<(usize, Reason)>,
    /// Further notes.
    pub notes: Vec<Reason>,
}

/// How many busy instances the plan may start draining, and what says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BusyLimit {
    /// `max_drain_per_cycle`: drains per plan.
    PerPlan(u32),
    /// The disruption budget: instances DRAINING at once, `draining` of them busy already.
    Budget { budget: u32, draining: u32 },
}

impl BusyLimit {
    /// Busy drains this plan may start.
    fn allowed(self) -> u32 {
        match self {
            BusyLimit::PerPlan(n) => n,
            BusyLimit::Budget { budget, draining } => budget.saturating_sub(draining),
        }
    }

    /// Why a candidate is kept once the limit is used by `drained` busy drains of this plan.
    fn kept(self, drained: u32) -> Reason {
        match self {
            BusyLimit::PerPlan(limit) => Reason::KeepDrainLimit { limit },
            BusyLimit::Budget { budget, draining } => Reason::KeepBudget {
                budget,
                draining,
                drained,
            },
        }
    }
}

/// The limits and controls consolidation works within.
pub(crate) struct Limits {
    /// The group's MinSize (the new one when the plan changes it).
    pub group_min: u32,
    /// ACTIVE container instances that are ours (aborted drains included).
    pub active: u32,
    /// The group's instances once every drain of ours in progress is terminated: the desired
    /// capacity less our DRAINING instances not reactivated.
    pub group_after_drains: u32,
    /// Busy drains the plan may start.
    pub busy: BusyLimit,
    /// Whether a consolidation window is open (always, without windows).
    pub window_open: bool,
    /// Instances above the file's `max` still to drain: drains up to that many are for the
    /// surplus, and go outside the windows and despite do-not-disrupt services.
    pub surplus: u32,
    /// The file's `max` (for the record of surplus drains).
    pub max: u32,
    /// Seconds since the epoch: the plan's clock, for protections and the abort cooldown.
    pub now_secs: u64,
    /// Instances whose drain this plan aborts (indices): in their cooldown from now.
    pub aborted_now: Vec<usize>,
}

/// Drains what can go. `bin_of` maps instance index → bin index; on success the trial
/// simulation replaces `packer`, so later candidates see the moved tasks.
pub(crate) fn consolidate(
    packer: &mut Packer,
    def: &ClusterDefinition,
    state: &ClusterState,
    group_instances: &FastMap<&str, &GroupInstance>,
    table: &mut ServiceTable,
    bin_of: &FastMap<usize, usize>,
    limits: &Limits,
) -> Consolidation {
    let mut out = Consolidation::default();
    let scale = packer.new_size.unwrap_or(Resources::new(1, 1));
    let active: Vec<usize> = packer
        .bins
        .iter()
        .filter(|b| b.kind == BinKind::Active)
        .filter_map(|b| b.instance)
        .collect();
    let candidates = candidate_order(state, active, scale);
    let mut busy_drained = 0u32;

    for (n, &i) in candidates.iter().enumerate() {
        if n >= MAX_EXAMINED {
            let rest = u32::try_from(candidates.len() - n).unwrap_or(u32::MAX);
            out.notes
                .push(Reason::ConsolidationCandidatesNotTried { count: rest });
            break;
        }
        let ci = &state.instances[i];
        let drained = u32::try_from(out.drained.len()).unwrap_or(u32::MAX);
        let remaining = limits.active.saturating_sub(drained).saturating_sub(1);
        if remaining < limits.group_min || limits.active <= drained {
            out.examined.push((
                i,
                Reason::KeepGroupMin {
                    min: limits.group_min,
                    remaining,
                },
            ));
            break;
        }
        let busy = ci.has_tasks();
        let for_surplus = drained < limits.surplus;
        let do_not_disrupt = do_not_disrupt(def, state, ci);
        if busy {
            if let Some(reason) = cooling_down(def, ci, i, limits) {
                out.examined.push((i, reason));
                continue;
            }
            // Candidates are in order, empty first: every later one is busy too.
            if !limits.window_open && !for_surplus {
                out.examined.push((i, Reason::KeepOutsideWindow));
                break;
            }
            if busy_drained >= limits.busy.allowed() {
                out.examined.push((i, limits.busy.kept(busy_drained)));
                break;
            }
            if let Some(error) = &state.task_protection_unread {
                out.examined.push((
                    i,
                    Reason::KeepProtectionUnread {
                        error: error.clone(),
                    },
                ));
                continue;
            }
            let protected: Vec<String> = ci
                .tasks
                .iter()
                .filter(|t| t.protected_at(limits.now_secs))
                .map(|t| t.arn.clone())
                .collect();
            if !protected.is_empty() {
                out.examined
                    .push((i, Reason::KeepTaskProtected { tasks: protected }));
                continue;
            }
            if !for_surplus && !do_not_disrupt.is_empty() {
                out.examined.push((
                    i,
                    Reason::KeepDoNotDisrupt {
                        services: do_not_disrupt,
                    },
                ));
                continue;
            }
        }
        let worth = (busy && !for_surplus).then(|| worth_it(def, ci, limits, drained));
        if let Some(w) = worth.filter(|w| !is_worth_it(w)) {
            out.examined.push((
                i,
                Reason::KeepNotWorthIt {
                    cpu_percent: w.cpu_percent,
                    memory_percent: w.memory_percent,
                    threshold_percent: w.threshold_percent,
                },
            ));
            continue;
        }
        match try_drain(packer, state, group_instances, table, bin_of, i) {
            Ok((trial, reason)) => {
                *packer = trial;
                out.drained.push(i);
                if busy {
                    busy_drained += 1;
                }
                out.examined.push((i, with_worth(reason, worth)));
                let outside_window = busy && !limits.window_open;
                if for_surplus && (outside_window || !do_not_disrupt.is_empty()) {
                    out.examined.push((
                        i,
                        Reason::DrainSurplus {
                            max: limits.max,
                            outside_window,
                            do_not_disrupt,
                        },
                    ));
                }
            }
            Err(reason) => out.examined.push((i, reason)),
        }
    }
    out
}

/// The do-not-disrupt services `ci` runs tasks of (`disruption: never` in the file, or the
/// service's `ecs-autoscale:do-not-disrupt` tag), sorted.
fn do_not_disrupt(
    def: &ClusterDefinition,
    state: &ClusterState,
    ci: &ContainerInstance,
) -> Vec<String> {
    let mut services: Vec<String> = ci
        .tasks
        .iter()
        .filter_map(|t| t.service.as_deref())
        .filter(|name| {
            def.service(name)
                .is_some_and(|s| s.disruption == ServiceDisruption::Never)
                || state.service(name).is_some_and(|s| s.do_not_disrupt)
        })
        .map(str::to_owned)
        .collect();
    services.sort();
    services.dedup();
    services
}

/// Why a candidate whose drain was aborted lately is kept, if it was.
fn cooling_down(
    def: &ClusterDefinition,
    ci: &ContainerInstance,
    i: usize,
    limits: &Limits,
) -> Option<Reason> {
    let cooldown_secs = def.disruption.drain_abort_cooldown.as_secs();
    let aborted_at = if limits.aborted_now.contains(&i) {
        Some(limits.now_secs)
    } else {
        ci.drain_aborted_at_epoch_secs
    };
    let secs_ago = limits.now_secs.saturating_sub(aborted_at?);
    (secs_ago < cooldown_secs).then_some(Reason::KeepDrainAborted {
        secs_ago,
        cooldown_secs,
    })
}

/// Whether draining the busy instance `ci` (after `drained` others in this plan) is worth it,
/// with the figures: the group it shrinks to, and its CPU and memory in use.
fn worth_it(
    def: &ClusterDefinition,
    ci: &ContainerInstance,
    limits: &Limits,
    drained: u32,
) -> WorthIt {
    let used = ci.used();
    let percent = |used: u32, of: u32| {
        u32::try_from(u64::from(used) * 100 / u64::from(of.max(1))).unwrap_or(u32::MAX)
    };
    // Once this instance and every drain before it are terminated.
    let after = limits
        .group_after_drains
        .saturating_sub(drained)
        .checked_sub(1);
    WorthIt {
        shrinks_to: after.filter(|n| *n >= limits.group_min),
        cpu_percent: percent(used.cpu, ci.registered.cpu),
        memory_percent: percent(used.memory, ci.registered.memory),
        // The threshold is in (0, 1]: as a percent it fits.
        threshold_percent: (def.disruption.consolidation_threshold * 100.0).round() as u32,
    }
}

/// A drain that shrinks the group pays; one that does not pays only below the threshold in
/// both CPU and memory.
fn is_worth_it(w: &WorthIt) -> bool {
    w.shrinks_to.is_some()
        || (w.cpu_percent < w.threshold_percent && w.memory_percent < w.threshold_percent)
}

/// The drain's reason with the worth-it figures of a busy drain.
fn with_worth(reason: Reason, worth: Option<WorthIt>) -> Reason {
    match reason {
        Reason::DrainTasksFit { tasks, onto, .. } => Reason::DrainTasksFit {
            tasks,
            onto,
            worth_it: worth,
        },
        other => other,
    }
}

/// Instances (indices into `state.instances`) in the order consolidation examines them: empty
/// first, then fewest tasks, then least reserved (as a share of `scale`), ties by ARN.
pub(crate) fn candidate_order(
    state: &ClusterState,
    mut candidates: Vec<usize>,
    scale: Resources,
) -> Vec<usize> {
    candidates.sort_by(|&a, &b| {
        let key = |i: usize| {
            let ci = &state.instances[i];
            let n = ci.running_tasks.saturating_add(ci.pending_tasks);
            (n > 0, n, share(ci.used(), scale))
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0)
            .then(ka.1.cmp(&kb.1))
            .then(ka.2.total_cmp(&kb.2))
            .then(state.instances[a].arn.cmp(&state.instances[b].arn))
    });
    candidates
}

/// Simulates the cluster without instance `i`: the new simulation and why it may go, or why not.
fn try_drain(
    packer: &Packer,
    state: &ClusterState,
    group_instances: &FastMap<&str, &GroupInstance>,
    table: &mut ServiceTable,
    bin_of: &FastMap<usize, usize>,
    i: usize,
) -> Result<(Packer, Reason), Reason> {
    let ci = &state.instances[i];
    match group_instances.get(ci.ec2_instance_id.as_str()) {
        Some(gi) if gi.protected_from_scale_in => return Err(Reason::KeepProtected),
        Some(gi) if gi.lifecycle_state == "InService" => {}
        _ => return Err(Reason::KeepNotInGroup),
    }
    if !tasks_known(ci) {
        return Err(Reason::KeepTasksUnknown {
            running: ci.running_tasks.saturating_add(ci.pending_tasks),
        });
    }
    let standalone = ci.tasks.iter().filter(|t| t.service.is_none()).count();
    if standalone > 0 {
        return Err(Reason::KeepStandaloneTasks {
            count: u32::try_from(standalone).unwrap_or(u32::MAX),
        });
    }
    let Some(&b) = bin_of.get(&i) else {
        return Err(Reason::KeepNotInGroup);
    };
    let mut trial = packer.clone();
    trial.bins[b].closed = true;
    let mut moving = std::mem::take(&mut trial.bins[b].placed);
    for t in &ci.tasks {
        let s = table.index_of(t.service.as_deref().unwrap_or(BUFFER));
        moving.push(trial.add(Item {
            size: t.size,
            service: s,
            distinct: table.distinct(s),
            origin: None,
            kind: ItemKind::Moved,
        }));
    }
    // Where ECS spreads the moved tasks over zones it does not keep the buffer's room: the
    // buffer is placed again after them.
    if trial.zones.count >= 2 {
        moving.extend(trial.lift_buffer());
    }
    let before: Vec<usize> = trial.bins.iter().map(|bin| bin.placed.len()).collect();
    let left = trial.place(&moving, |bin| bin.kind == BinKind::Active, false);
    if let Some(&(index, _)) = left.first() {
        let item = trial.items[index];
        return Err(match item.kind {
            ItemKind::Moved => Reason::KeepTaskDoesNotFit {
                service: table.name(item.service).to_string(),
                size: item.size,
            },
            ItemKind::Task | ItemKind::Buffer => Reason::KeepBufferOrScaleUp,
        });
    }
    let onto = trial
        .bins
        .iter()
        .zip(&before)
        .filter(|(bin, n)| bin.placed.len() > **n)
        .count();
    let reason = if ci.tasks.is_empty() {
        Reason::DrainEmpty
    } else {
        Reason::DrainTasksFit {
            tasks: u32::try_from(ci.tasks.len()).unwrap_or(u32::MAX),
            onto: u32::try_from(onto).unwrap_or(u32::MAX),
            worth_it: None,
        }
    };
    Ok((trial, reason))
}
