//! Services by index for the placement simulation, and the buffer's pseudo-service.

use std::collections::HashMap;

use shared::state::ClusterState;

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
