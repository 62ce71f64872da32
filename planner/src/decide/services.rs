//! Services by index for the placement simulation, and the buffer's pseudo-service.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use shared::state::ClusterState;

/// The name the buffer pseudo-task goes by in the record.
pub(crate) const BUFFER: &str = "(buffer)";

/// Services by index, so the simulation handles numbers, not strings.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServiceTable {
    names: Vec<String>,
    distinct: Vec<bool>,
    index: HashMap<String, u32, BuildHasherDefault<NameHasher>>,
}

/// A map hashed with [`NameHasher`]: the planner's own keys (names, ids, indices, items).
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<NameHasher>>;

/// A hasher for the service names the simulation looks up once per task (20,000 lookups on a
/// large cluster, where the standard SipHash took an eighth of the plan), and the other keys
/// the plan looks up by the thousand (instance ids, bin indices, item kinds): eight bytes at a
/// time, rotate, xor and multiply. Not resistant to chosen collisions, which needs no
/// resisting here: the keys are the cluster's own.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NameHasher(u64);

impl NameHasher {
    /// An odd constant with well-mixed bits (the fractional part of the golden ratio).
    const K: u64 = 0x9e37_79b9_7f4a_7c15;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            if let Ok(word) = <[u8; 8]>::try_from(chunk) {
                self.add(u64::from_le_bytes(word));
            }
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // Byte by byte: a copy of a variable length would call `memcpy`.
            let word = rest
                .iter()
                .rev()
                .fold(0u64, |w, &b| (w << 8) | u64::from(b));
            self.add(word);
        }
        // `a` and `a\0` pad to the same word: the length tells them apart.
        self.add(bytes.len() as u64);
    }

    fn write_u8(&mut self, n: u8) {
        // `str`'s hash ends with 0xff: taken as a word of its own.
        self.add(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
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

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn names_hash_apart_and_look_up() {
        let hash = |name: &str| BuildHasherDefault::<NameHasher>::default().hash_one(name);
        let names = [
            "web",
            "web-2",
            "web-3",
            "a",
            "a\0",
            "",
            "a-service-with-a-long-name",
        ];
        for (i, x) in names.iter().enumerate() {
            for y in &names[i + 1..] {
                assert_ne!(hash(x), hash(y), "{x:?} {y:?}");
            }
        }
        let mut table = ServiceTable::default();
        let indices: Vec<u32> = (0..1000)
            .map(|n| table.index_of(&format!("svc-{n}")))
            .collect();
        assert_eq!(indices, (0..1000).collect::<Vec<u32>>());
        assert_eq!(table.get("svc-417"), Some(417));
        assert_eq!(table.get("svc-1000"), None);
    }
}
