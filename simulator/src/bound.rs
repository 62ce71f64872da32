//! A lower bound on the instances that can hold a step's desired tasks, computed here from the
//! world (the planner's record carries only the volume bound of its own demand, which counts
//! what runs now rather than what is desired):
//!
//! - the volume bound per dimension, ⌈Σ size ÷ instance size⌉ for CPU and for memory;
//! - tasks larger than half an instance in one dimension: no two of them share an instance
//!   (counted per dimension: one large in CPU and one large in memory may share);
//! - a `distinctInstance` service's desired count;
//! - the group's MinSize.
//!
//! The cluster's buffer (`cpu_buffer`/`mem_buffer`) counts as one more task: the planner keeps
//! that much room free. Tasks larger than an instance are left out: no instance holds them.

use shared::resources::Resources;

/// One service's demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand {
    /// One task's reservation.
    pub size: Resources,
    /// Desired tasks.
    pub count: u32,
    /// `distinctInstance`.
    pub distinct: bool,
}

/// The bound (see the module docs).
pub fn lower_bound(
    demand: &[Demand],
    buffer: Resources,
    instance: Resources,
    group_min: u32,
) -> u32 {
    let (c, m) = (
        u64::from(instance.cpu.max(1)),
        u64::from(instance.memory.max(1)),
    );
    let mut items: Vec<(Resources, u64)> = demand
        .iter()
        .map(|d| (d.size, u64::from(d.count)))
        .collect();
    if !buffer.is_zero() {
        items.push((buffer, 1));
    }
    let (mut cpu, mut mem, mut big_cpu, mut big_mem) = (0u64, 0u64, 0u64, 0u64);
    for (size, n) in items.iter().filter(|(s, _)| instance.fits(*s)) {
        cpu += u64::from(size.cpu) * n;
        mem += u64::from(size.memory) * n;
        if 2 * u64::from(size.cpu) > c {
            big_cpu += n;
        }
        if 2 * u64::from(size.memory) > m {
            big_mem += n;
        }
    }
    let distinct = demand
        .iter()
        .filter(|d| d.distinct && instance.fits(d.size))
        .map(|d| u64::from(d.count))
        .max()
        .unwrap_or(0);
    let bound = cpu
        .div_ceil(c)
        .max(mem.div_ceil(m))
        .max(big_cpu)
        .max(big_mem)
        .max(distinct)
        .max(u64::from(group_min));
    u32::try_from(bound).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTANCE: Resources = Resources::new(4096, 8192);

    fn d(cpu: u32, memory: u32, count: u32) -> Demand {
        Demand {
            size: Resources::new(cpu, memory),
            count,
            distinct: false,
        }
    }

    #[test]
    fn volume_per_dimension() {
        assert_eq!(lower_bound(&[], Resources::ZERO, INSTANCE, 0), 0);
        assert_eq!(
            lower_bound(&[d(1024, 1024, 4)], Resources::ZERO, INSTANCE, 0),
            1
        );
        assert_eq!(
            lower_bound(&[d(1024, 1024, 5)], Resources::ZERO, INSTANCE, 0),
            2
        );
        // Memory decides: 9 × 1 GiB of 8 GiB instances.
        assert_eq!(
            lower_bound(&[d(256, 1024, 9)], Resources::ZERO, INSTANCE, 0),
            2
        );
        assert_eq!(
            lower_bound(&[d(256, 1024, 1)], Resources::ZERO, INSTANCE, 3),
            3,
            "MinSize"
        );
    }

    #[test]
    fn tasks_over_half_an_instance_never_share_one() {
        // 3 tasks of 2049 CPU: volume says 2 (6147 ÷ 4096), but no two fit together.
        assert_eq!(
            lower_bound(&[d(2049, 512, 3)], Resources::ZERO, INSTANCE, 0),
            3
        );
        // Exactly half: two share one.
        assert_eq!(
            lower_bound(&[d(2048, 512, 4)], Resources::ZERO, INSTANCE, 0),
            2
        );
        // Large in different dimensions may pair up: 2 large in CPU, 2 large in memory.
        let mixed = [d(3000, 1000, 2), d(1000, 5000, 2)];
        assert_eq!(lower_bound(&mixed, Resources::ZERO, INSTANCE, 0), 2);
    }

    #[test]
    fn distinct_instance_the_buffer_and_oversized_tasks() {
        let mut spread = d(256, 256, 5);
        spread.distinct = true;
        assert_eq!(lower_bound(&[spread], Resources::ZERO, INSTANCE, 0), 5);
        // The buffer is one more task: 4 × 1024 CPU fill an instance, the buffer needs another.
        assert_eq!(
            lower_bound(&[d(1024, 1024, 4)], Resources::new(512, 0), INSTANCE, 0),
            2
        );
        // A task larger than an instance is held by none: it does not count.
        assert_eq!(
            lower_bound(&[d(8192, 512, 3)], Resources::ZERO, INSTANCE, 0),
            0
        );
    }
}
