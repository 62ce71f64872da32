//! What the placement simulation places: tasks to start, tasks that must move, the buffer.

use std::collections::{HashMap, HashSet};

use shared::definition::ClusterDefinition;
use shared::resources::Resources;
use shared::state::{ClusterState, Scheduling};

use super::packing::{Item, ItemKind, Packer};
use super::services::{FastMap, ServiceTable, BUFFER};
use super::standing::Standing;

/// The demand to place: tasks of services scaling up or not yet placed (desired beyond
/// running + pending), tasks that must leave DRAINING instances (ours, which may take them
/// back if reactivated, and others', which may not) or instances leaving the group, and the
/// buffer.
pub(crate) fn items(
    packer: &mut Packer,
    def: &ClusterDefinition,
    state: &ClusterState,
    standings: &[Standing],
    table: &mut ServiceTable,
    targets: &HashMap<&str, u32>,
    bin_of: &FastMap<usize, usize>,
) -> Vec<usize> {
    let mut items = Vec::new();
    // Tasks beyond desired (a deployment or a drain in progress): their replacements
    // already run, so that many tasks on DRAINING instances need no new room.
    let mut excess: HashMap<u32, u32> = HashMap::new();
    // Only EC2 REPLICA services take room the plan provides: Fargate and capacity provider
    // tasks run elsewhere, daemons are placed by ECS on every instance (their reservation on
    // new instances is in the bins, see `placement::new_instance`).
    let on_instances = |s: &&shared::state::ServiceState| {
        s.status == "ACTIVE"
            && s.placement.launch.on_instances()
            && s.placement.scheduling == Scheduling::Replica
    };
    let daemons: HashSet<&str> = state
        .services
        .iter()
        .filter(|s| s.placement.scheduling == Scheduling::Daemon)
        .map(|s| s.name.as_str())
        .collect();
    for s in state.services.iter().filter(on_instances) {
        let idx = table.index_of(&s.name);
        let placed = s.running.saturating_add(s.pending);
        let target = targets.get(s.name.as_str()).copied().unwrap_or(s.desired);
        excess.insert(idx, placed.saturating_sub(s.desired));
        let item = Item {
            size: s.task_size,
            service: idx,
            distinct: s.distinct_instance,
            origin: None,
            kind: ItemKind::Task,
        };
        for _ in 0..target.saturating_sub(placed) {
            items.push(packer.add(item));
        }
    }
    for (i, ci) in state.instances.iter().enumerate() {
        // Our own DRAINING instances are bins: a task placed back on its own is free (the
        // instance is reactivated). Others' have no bin: their tasks need room elsewhere.
        let origin = match standings.get(i) {
            Some(Standing::Draining) => match bin_of.get(&i) {
                Some(&b) => Some(b),
                None => continue,
            },
            Some(s) if s.tasks_move() => None,
            _ => continue,
        };
        // Tasks of no service stay where they are; ECS moves only service tasks.
        for t in &ci.tasks {
            let Some(name) = t.service.as_deref() else {
                continue;
            };
            // A daemon's task stops with its instance; it is not moved.
            if daemons.contains(name) {
                continue;
            }
            let s = table.index_of(name);
            if let Some(e) = excess.get_mut(&s).filter(|e| **e > 0) {
                *e -= 1;
                continue;
            }
            items.push(packer.add(Item {
                size: t.size,
                service: s,
                distinct: table.distinct(s),
                origin,
                kind: ItemKind::Moved,
            }));
        }
    }
    let buffer = Resources::new(def.cpu_buffer, def.mem_buffer);
    if !buffer.is_zero() {
        items.push(packer.add(Item {
            size: buffer,
            service: table.index_of(BUFFER),
            distinct: false,
            origin: None,
            kind: ItemKind::Buffer,
        }));
    }
    items
}
