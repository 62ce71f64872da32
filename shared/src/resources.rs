//! CPU and memory amounts, the two dimensions the planner packs.

use serde::{Deserialize, Serialize};

/// An amount of CPU units (1024 per vCPU) and memory (MiB).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub struct Resources {
    /// CPU units.
    pub cpu: u32,
    /// MiB.
    pub memory: u32,
}

impl Resources {
    /// No resources.
    pub const ZERO: Resources = Resources { cpu: 0, memory: 0 };

    /// A CPU/memory pair.
    pub const fn new(cpu: u32, memory: u32) -> Self {
        Resources { cpu, memory }
    }

    /// Whether `other` fits inside `self` in both dimensions.
    pub fn fits(&self, other: Resources) -> bool {
        other.cpu <= self.cpu && other.memory <= self.memory
    }

    /// Component-wise sum, saturating.
    pub fn saturating_add(self, other: Resources) -> Resources {
        Resources::new(
            self.cpu.saturating_add(other.cpu),
            self.memory.saturating_add(other.memory),
        )
    }

    /// Component-wise difference, saturating at zero.
    pub fn saturating_sub(self, other: Resources) -> Resources {
        Resources::new(
            self.cpu.saturating_sub(other.cpu),
            self.memory.saturating_sub(other.memory),
        )
    }

    /// Whether both dimensions are zero.
    pub fn is_zero(&self) -> bool {
        self.cpu == 0 && self.memory == 0
    }
}

impl std::fmt::Display for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} CPU / {} MiB", self.cpu, self.memory)
    }
}
