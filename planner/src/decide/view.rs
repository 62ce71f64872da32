//! Facts derived from the cluster state: the service table, the size of an instance,
//! capacity in flight, whether an instance's tasks are known.

use std::collections::{BTreeMap, HashMap};

use shared::definition::ClusterDefinition;
use shared::messages::InstanceRef;
use shared::resources::Resources;
use shared::state::{ClusterState, ContainerInstance, GroupState, InstanceStatus};

/// The name the buffer pseudo-task goes by in the record.
pub(crate) const BUFFER: &str = "(buffer)";

/// Services by index, so the simulation handles numbers, not strings.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServiceTable {
    names: Vec<String>,
    distinct: Vec<bool>,
    index: HashMap<String, u32>,
}

impl ServiceTable {
    /// Every service of the state (whatever its status), in state order.
    pub fn new(state: &ClusterState) -> ServiceTable {
        let mut table = ServiceTable::default();
        for s in &state.services {
            let i = table.index_of(&s.name);
            if let Some(d) = table.distinct.get_mut(i as usize) {
                *d = s.distinct_instance;
            }
        }
        table
    }

    /// The index of a service, adding it (not distinct) when unknown: tasks on instances
    /// may belong to services the definition does not name.
    pub fn index_of(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_string());
        self.distinct.push(false);
        self.index.insert(name.to_string(), i);
        i
    }

    /// The index of a known service.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    /// Whether the service allows one task per instance.
    pub fn distinct(&self, i: u32) -> bool {
        self.distinct.get(i as usize).copied().unwrap_or(false)
    }

    /// Whether any service is `distinctInstance`.
    pub fn any_distinct(&self) -> bool {
        self.distinct.iter().any(|d| *d)
    }

    /// The name of a service.
    pub fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map_or("?", String::as_str)
    }
}

/// Whether the instance's tasks are listed: ECS gives `runningTasksCount`, the reader lists
/// the tasks; an empty list with tasks counted means they are unknown.
pub(crate) fn tasks_known(ci: &ContainerInstance) -> bool {
    !(ci.tasks.is_empty() && ci.has_tasks())
}

/// The size of a new instance: the file's `instance_capacity` when set (the operator knows
/// what the launch template gives), else the most common `registered` value of the cluster's
/// instances (ties: the larger).
pub(crate) fn instance_size(def: &ClusterDefinition, state: &ClusterState) -> Option<Resources> {
    if let Some(size) = def.instance_capacity {
        return Some(size);
    }
    let mut counts: BTreeMap<Resources, u32> = BTreeMap::new();
    for ci in &state.instances {
        if matches!(ci.status, InstanceStatus::Active | InstanceStatus::Draining)
            && !ci.registered.is_zero()
        {
            *counts.entry(ci.registered).or_default() += 1;
        }
    }
    // max_by_key returns the last maximum: the largest size among equal counts.
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(size, _)| size)
}

/// Instances of the group that will become container instances: those launched but not
/// registered yet (or still REGISTERING), plus those the group has yet to launch to reach
/// its desired capacity.
pub(crate) fn booting(state: &ClusterState, group: &GroupState) -> u32 {
    let live = |s: &str| s.starts_with("Pending") || s == "InService";
    let by_ec2: HashMap<&str, &ContainerInstance> = state
        .instances
        .iter()
        .map(|ci| (ci.ec2_instance_id.as_str(), ci))
        .collect();
    let registering = |ci: &&ContainerInstance| matches!(&ci.status, InstanceStatus::Other(s) if s == "REGISTERING");
    let mut launched = 0u32;
    let mut unregistered = 0u32;
    for gi in group
        .instances
        .iter()
        .filter(|gi| live(&gi.lifecycle_state))
    {
        launched = launched.saturating_add(1);
        if by_ec2.get(gi.instance_id.as_str()).is_none_or(registering) {
            unregistered = unregistered.saturating_add(1);
        }
    }
    // A group listed without its instances must not turn every registered instance into
    // phantom capacity: registered container instances count as launched too.
    let registered = state
        .instances
        .iter()
        .filter(|ci| matches!(ci.status, InstanceStatus::Active | InstanceStatus::Draining))
        .count();
    let launched = launched.max(u32::try_from(registered).unwrap_or(u32::MAX));
    unregistered.saturating_add(group.desired.saturating_sub(launched))
}

/// Both identifiers of an instance.
pub(crate) fn instance_ref(ci: &ContainerInstance) -> InstanceRef {
    InstanceRef {
        container_instance_arn: ci.arn.clone(),
        ec2_instance_id: ci.ec2_instance_id.clone(),
    }
}

/// Share of an instance, summed over both dimensions (for ordering).
pub(crate) fn share(r: Resources, scale: Resources) -> f64 {
    f64::from(r.cpu) / f64::from(scale.cpu.max(1))
        + f64::from(r.memory) / f64::from(scale.memory.max(1))
}
