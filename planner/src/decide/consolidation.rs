//! Scale-in by consolidation: drain ACTIVE instances whose tasks fit on the others.
//!
//! Candidates go in least-disruption order (empty first, then fewest tasks, then least
//! reserved). A candidate is drained only if a trial simulation, without it, places all its
//! tasks, the plan's scale-ups and the buffer on the remaining ACTIVE instances (other
//! drained candidates excluded); the group never goes below its MinSize counting DRAINING
//! instances as gone. Each examined candidate gets a reason, drained or kept.

use std::collections::HashMap;

use shared::messages::Reason;
use shared::resources::Resources;
use shared::state::{ClusterState, GroupInstance};

use super::instances::{share, tasks_known};
use super::packing::{BinKind, Item, ItemKind, Packer};
use super::services::{ServiceTable, BUFFER};

/// Candidates examined per plan at most: the simulation is cheap but not free, and a
/// candidate that fails usually means the ones after it (busier) fail too.
pub(crate) const MAX_EXAMINED: usize = 16;

/// What consolidation decided.
#[derive(Debug, Default)]
pub(crate) struct Consolidation {
    /// Instances drained (indices).
    pub drained: Vec<usize>,
    /// Instance index → why it is drained or kept, in the order they were examined.
    pub examined: Vec<(usize, Reason)>,
    /// Further notes.
    pub notes: Vec<Reason>,
}

/// The limits consolidation works within.
pub(crate) struct Limits {
    /// `max_drain_per_cycle`.
    pub max_drain: u32,
    /// The group's MinSize (the new one when the plan changes it).
    pub group_min: u32,
    /// ACTIVE container instances now.
    pub active: u32,
}

/// Drains what can go. `bin_of` maps instance index → bin index; on success the trial
/// simulation replaces `packer`, so later candidates see the moved tasks.
pub(crate) fn consolidate(
    packer: &mut Packer,
    state: &ClusterState,
    group_instances: &HashMap<&str, &GroupInstance>,
    table: &mut ServiceTable,
    bin_of: &HashMap<usize, usize>,
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

    for (n, &i) in candidates.iter().enumerate() {
        if n >= MAX_EXAMINED {
            let rest = u32::try_from(candidates.len() - n).unwrap_or(u32::MAX);
            out.notes
                .push(Reason::ConsolidationCandidatesNotTried { count: rest });
            break;
        }
        let drained = u32::try_from(out.drained.len()).unwrap_or(u32::MAX);
        if drained >= limits.max_drain {
            out.examined.push((
                i,
                Reason::KeepDrainLimit {
                    limit: limits.max_drain,
                },
            ));
            break;
        }
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
        match try_drain(packer, state, group_instances, table, bin_of, i) {
            Ok((trial, reason)) => {
                *packer = trial;
                out.drained.push(i);
                out.examined.push((i, reason));
            }
            Err(reason) => out.examined.push((i, reason)),
        }
    }
    out
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
    group_instances: &HashMap<&str, &GroupInstance>,
    table: &mut ServiceTable,
    bin_of: &HashMap<usize, usize>,
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
        }
    };
    Ok((trial, reason))
}
