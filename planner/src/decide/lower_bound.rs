//! The lower bound on instances: no placement of the demand, however clever, fits on fewer
//! instances of one size. Reported in the decision record; the yardstick of the packing
//! quality tests.
//!
//! Why each part is a lower bound. Instances have the size (C₁, C₂) (CPU, memory); each task
//! i has the size (s_i1, s_i2) and fits an instance. Every inequality below holds for any
//! placement of the tasks on n instances, so also for the fewest possible.
//!
//! 1. **Largest load.** An instance's load in dimension d is a sum of task sizes that is at
//!    most C_d, so it is at most L_d: the largest sum of some of the tasks' sizes that is at
//!    most C_d (with memory sizes in steps of 512 MiB and C₂ = 31,482 MiB, L₂ = 31,232).
//!    n instances hold at most n·L_d: n ≥ ⌈Σ s_d ÷ L_d⌉.
//! 2. **Large tasks, one dimension** (Martello and Toth's L2, with L_d for C_d). Two tasks
//!    larger than C_d/2 never share an instance: their sum exceeds C_d. For a threshold
//!    k ≤ C_d/2 let J1 = {s_d > C_d − k}, J2 = {C_d/2 < s_d ≤ C_d − k}, J3 = {k ≤ s_d ≤ C_d/2}.
//!    J1 ∪ J2 need one instance each. A J3 task never fits beside a J1 task (the sum exceeds
//!    C_d); beside a J2 task j it has at most the room L_d − s_jd (the instance's load is at
//!    most L_d); what is left of J3 needs further instances of load at most L_d:
//!    n ≥ |J1| + |J2| + ⌈(Σ_J3 s_d − Σ_J2 (L_d − s_d))⁺ ÷ L_d⌉. Tasks below k are left out: a
//!    bound for some of the tasks bounds them all. (k = 0 gives max(|J2|, ⌈Σ s_d ÷ L_d⌉).)
//! 3. **Large tasks across dimensions.** Tasks large in *different* dimensions may share an
//!    instance ((0.6, 0.1) and (0.1, 0.6) of an instance do), so "larger than half in either
//!    dimension" alone bounds nothing. A set B of tasks no two of which fit together does: all
//!    tasks larger than half in CPU, plus the memory-large ones that fit beside none of them
//!    (and the same with the dimensions swapped). B needs |B| instances. The other tasks R go
//!    beside B's tasks or onto E further instances. The tasks R₀ ⊆ R that fit beside no task of
//!    B are all on the E: E ≥ ⌈Σ_R₀ s_d ÷ L_d⌉. The rest can use only the room L_d − s_bd beside
//!    the tasks b ∈ B′ ⊆ B next to which some task of R fits:
//!    E ≥ ⌈(Σ_R s_d − Σ_B′ (L_d − s_bd))⁺ ÷ L_d⌉. So n ≥ |B| + E.
//! 4. **Unknown sizes.** Tasks whose sizes are not known (instances whose tasks are not listed)
//!    and tasks larger than an instance count as volume only: n ≥ ⌈(Σ s_d + unknown_d) ÷ C_d⌉.
//!    1–3 use the known tasks alone (part of the demand).
//!
//! `distinctInstance` is ignored: it only forbids placements, so the bound stays valid.

use std::collections::BTreeMap;

use shared::resources::Resources;

/// Bitsets longer than this (in bits) are not built: the largest load is then only rounded
/// down to a multiple of the sizes' greatest common divisor (still a valid L_d).
const MAX_LOAD_BITS: u64 = 1 << 16;

/// Task kinds beyond which the cross-dimension bound (3, quadratic in kinds) is skipped.
const MAX_CROSS_KINDS: usize = 1024;

/// What must fit on the instances.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Demand {
    /// Tasks of known size: size → how many.
    tasks: BTreeMap<Resources, u64>,
    /// Reserved by tasks whose sizes are not known.
    unknown: (u64, u64),
}

impl Demand {
    /// `count` tasks of `size`.
    pub fn add_tasks(&mut self, size: Resources, count: u64) {
        if count > 0 {
            *self.tasks.entry(size).or_default() += count;
        }
    }

    /// Reservations of tasks whose sizes are not known, in total.
    pub fn add_unknown(&mut self, reserved: Resources) {
        self.unknown.0 += u64::from(reserved.cpu);
        self.unknown.1 += u64::from(reserved.memory);
    }
}

/// The bounds for one instance size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bound {
    /// From CPU alone (1, 2 and 4 in CPU).
    pub cpu: u32,
    /// From memory alone (1, 2 and 4 in memory).
    pub memory: u32,
    /// The largest of all: no placement needs fewer instances.
    pub instances: u32,
}

/// The lower bound on instances of `size` that `demand` needs (see the module comment).
pub(crate) fn bound(demand: &Demand, size: Resources) -> Bound {
    // Known tasks that fit an instance; the others are volume (4). Empty tasks need nothing.
    let mut kinds: Vec<(Resources, u64)> = Vec::new();
    let mut volume = demand.unknown;
    for (&s, &n) in &demand.tasks {
        volume.0 += u64::from(s.cpu) * n;
        volume.1 += u64::from(s.memory) * n;
        if size.fits(s) && !s.is_zero() {
            kinds.push((s, n));
        }
    }
    let caps = [u64::from(size.cpu), u64::from(size.memory)];
    let dim = |s: Resources, d: usize| u64::from(if d == 0 { s.cpu } else { s.memory });
    let mut loads = [0u64; 2];
    let mut per_dim = [0u64; 2];
    for d in 0..2 {
        loads[d] = largest_load(kinds.iter().map(|&(s, n)| (dim(s, d), n)), caps[d]);
        let total = if d == 0 { volume.0 } else { volume.1 };
        let by_volume = div_ceil(total, caps[d]);
        let mut values: BTreeMap<u64, u64> = BTreeMap::new();
        for &(s, n) in &kinds {
            *values.entry(dim(s, d)).or_default() += n;
        }
        per_dim[d] = by_volume.max(large_tasks_1d(&values, caps[d], loads[d]));
    }
    let mut instances = per_dim[0].max(per_dim[1]);
    if kinds.len() <= MAX_CROSS_KINDS {
        for d in 0..2 {
            instances = instances.max(large_tasks_2d(&kinds, size, loads, d));
        }
    }
    let cap = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    Bound {
        cpu: cap(per_dim[0]),
        memory: cap(per_dim[1]),
        instances: cap(instances),
    }
}

/// ⌈a ÷ b⌉, 0 when b is 0 (nothing fits a zero dimension but zero).
fn div_ceil(a: u64, b: u64) -> u64 {
    if b == 0 {
        0
    } else {
        a.div_ceil(b)
    }
}

/// L_d: the largest sum of some of the `values` (each given with its count) that is at most
/// `cap` (a bounded subset sum, on a bitset in units of the values' greatest common divisor).
fn largest_load(values: impl Iterator<Item = (u64, u64)>, cap: u64) -> u64 {
    let values: Vec<(u64, u64)> = values.filter(|&(v, n)| v > 0 && n > 0).collect();
    let g = values.iter().fold(0, |g, &(v, _)| gcd(g, v));
    if g == 0 {
        return cap;
    }
    let units = cap / g;
    if units > MAX_LOAD_BITS {
        return units * g;
    }
    let width = usize::try_from(units + 1).unwrap_or(usize::MAX);
    let mut bits = vec![0u64; width.div_ceil(64)];
    bits[0] = 1;
    let top = |bits: &[u64]| bits[(units / 64) as usize] >> (units % 64) & 1 == 1;
    for (v, n) in values {
        let w = v / g;
        // No instance holds more than units ÷ w of them; binary splitting of the count.
        let mut left = n.min(units / w);
        let mut chunk = 1;
        while left > 0 {
            let take = chunk.min(left);
            shift_or(&mut bits, w * take, units);
            left -= take;
            chunk *= 2;
            if top(&bits) {
                return units * g;
            }
        }
    }
    let highest = bits
        .iter()
        .enumerate()
        .rev()
        .find(|(_, &w)| w != 0)
        .map_or(0, |(i, &w)| {
            i as u64 * 64 + 63 - u64::from(w.leading_zeros())
        });
    highest * g
}

/// bits |= bits << shift, keeping bits 0..=units.
fn shift_or(bits: &mut [u64], shift: u64, units: u64) {
    let (q, r) = ((shift / 64) as usize, (shift % 64) as u32);
    for i in (q..bits.len()).rev() {
        let mut add = bits[i - q] << r;
        if r > 0 && i > q {
            add |= bits[i - q - 1] >> (64 - r);
        }
        bits[i] |= add;
    }
    let last = bits.len() - 1;
    let keep = units % 64;
    if keep < 63 {
        bits[last] &= (1u64 << (keep + 1)) - 1;
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Part 2 for one dimension: `values` maps a size in that dimension to how many tasks have it.
fn large_tasks_1d(values: &BTreeMap<u64, u64>, cap: u64, load: u64) -> u64 {
    if cap == 0 || load == 0 {
        return 0;
    }
    // Ascending sizes with prefix counts and sums, so each threshold costs a binary search.
    let sizes: Vec<u64> = values.keys().copied().collect();
    let (mut counts, mut sums) = (vec![0u64], vec![0u64]);
    for (&v, &n) in values {
        counts.push(counts[counts.len() - 1] + n);
        sums.push(sums[sums.len() - 1] + v * n);
    }
    // Tasks with sizes in sizes[a..b]: (count, sum).
    let range = |a: usize, b: usize| (counts[b] - counts[a], sums[b] - sums[a]);
    let at_or_above = |x: u64| sizes.partition_point(|&v| v < x);
    let half = sizes.partition_point(|&v| 2 * v <= cap); // sizes[half..] are large
    let mut best = 0;
    let thresholds = std::iter::once(0).chain(sizes[..half].iter().copied());
    for k in thresholds {
        let j1 = at_or_above((cap - k).saturating_add(1)).max(half);
        let (n1, _) = range(j1, sizes.len());
        let (n2, sum2) = range(half, j1);
        let (_, sum3) = range(at_or_above(k), half);
        let room = (n2 * load).saturating_sub(sum2);
        let b = n1 + n2 + sum3.saturating_sub(room).div_ceil(load);
        best = best.max(b);
    }
    best
}

/// Part 3 with B built from the tasks larger than half an instance in dimension `first`,
/// extended by those larger than half in the other dimension that fit beside none of them.
fn large_tasks_2d(
    kinds: &[(Resources, u64)],
    size: Resources,
    loads: [u64; 2],
    first: usize,
) -> u64 {
    let dim = |s: Resources, d: usize| u64::from(if d == 0 { s.cpu } else { s.memory });
    let caps = [u64::from(size.cpu), u64::from(size.memory)];
    let large = |s: Resources, d: usize| 2 * dim(s, d) > caps[d];
    let together = |a: Resources, b: Resources| size.fits(a.saturating_add(b));
    let mut in_b: Vec<bool> = kinds.iter().map(|&(s, _)| large(s, first)).collect();
    let seed: Vec<Resources> = kinds
        .iter()
        .zip(&in_b)
        .filter(|(_, &b)| b)
        .map(|(&(s, _), _)| s)
        .collect();
    if seed.is_empty() {
        return 0;
    }
    // Large in the other dimension (so pairwise apart), and apart from every task of the seed.
    for (k, &(s, _)) in kinds.iter().enumerate() {
        if !in_b[k] && large(s, 1 - first) && seed.iter().all(|&b| !together(s, b)) {
            in_b[k] = true;
        }
    }
    let b_kinds: Vec<(Resources, u64)> = kinds
        .iter()
        .zip(&in_b)
        .filter(|(_, &b)| b)
        .map(|(&k, _)| k)
        .collect();
    let r_kinds: Vec<(Resources, u64)> = kinds
        .iter()
        .zip(&in_b)
        .filter(|(_, &b)| !b)
        .map(|(&k, _)| k)
        .collect();
    let b_count: u64 = b_kinds.iter().map(|&(_, n)| n).sum();
    let mut extra = 0u64;
    for (d, &load) in loads.iter().enumerate() {
        if load == 0 {
            continue;
        }
        let (mut r_sum, mut r0_sum, mut room) = (0u64, 0u64, 0u64);
        for &(r, n) in &r_kinds {
            r_sum += dim(r, d) * n;
            if b_kinds.iter().all(|&(b, _)| !together(r, b)) {
                r0_sum += dim(r, d) * n;
            }
        }
        for &(b, n) in &b_kinds {
            if r_kinds.iter().any(|&(r, _)| together(r, b)) {
                room += load.saturating_sub(dim(b, d)) * n;
            }
        }
        extra = extra
            .max(r0_sum.div_ceil(load))
            .max(r_sum.saturating_sub(room).div_ceil(load));
    }
    b_count + extra
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::packing::{Item, ItemKind, Packer};
    use crate::decide::placement::NewInstance;
    use proptest::prelude::*;

    fn demand(tasks: &[(u32, u32)]) -> Demand {
        let mut d = Demand::default();
        for &(c, m) in tasks {
            d.add_tasks(Resources::new(c, m), 1);
        }
        d
    }

    const BOX: Resources = Resources::new(100, 100);

    #[test]
    fn the_largest_load_rounds_the_volume_bound_up() {
        // 61 tasks of 512 MiB fit a 31,482 MiB instance, 62 do not (L₂ = 31,232): 245 of them
        // need 5 instances where the volume says ⌈125,440 ÷ 31,482⌉ = ⌈3.98⌉ = 4.
        let size = Resources::new(8192, 31_482);
        let mut d = Demand::default();
        d.add_tasks(Resources::new(10, 512), 245);
        assert_eq!(bound(&d, size).memory, 5);
        let mut e = Demand::default();
        e.add_tasks(Resources::new(10, 512), 61);
        assert_eq!(bound(&e, size).instances, 1);
        // Five tasks of 40 and two of 35 on 100: no instance holds more than 80 (40 + 40), so
        // 270 needs ⌈270 ÷ 80⌉ = 4 (40+40, 40+40, 40+35, 35) where the volume says 3.
        let f = demand(&[
            (40, 1),
            (40, 1),
            (40, 1),
            (40, 1),
            (40, 1),
            (35, 1),
            (35, 1),
        ]);
        assert_eq!(bound(&f, BOX).cpu, 4);
    }

    #[test]
    fn tasks_larger_than_half_need_an_instance_each() {
        // Three tasks of 0.6 CPU: the volume says 2.
        let d = demand(&[(60, 10), (60, 10), (60, 10)]);
        assert_eq!(bound(&d, BOX).cpu, 3);
        assert_eq!(bound(&d, BOX).instances, 3);
        // 0.6 CPU and 0.6 memory in different tasks share an instance: 1.
        let e = demand(&[(60, 10), (10, 60)]);
        assert_eq!(bound(&e, BOX).instances, 1);
        // Two of 0.6 and four of 0.45: no 0.45 fits beside a 0.6, and two 0.45 share one:
        // 4 (60, 60, 45+45, 45+45) where the volume says 3.
        let g = demand(&[(60, 1), (60, 1), (45, 1), (45, 1), (45, 1), (45, 1)]);
        assert_eq!(bound(&g, BOX).cpu, 4);
    }

    #[test]
    fn large_tasks_of_both_dimensions_that_never_fit_together_need_an_instance_each() {
        // Two CPU-large tasks (0.6, 0.5) and three memory-large ones (0.1, 0.6): a memory-large
        // one fits beside no CPU-large one (memory 1.1), so all five are apart: 5. CPU alone
        // says 2, memory alone 4 (three of 0.6, and the two 0.5 share one).
        let d = demand(&[(60, 50), (60, 50), (10, 60), (10, 60), (10, 60)]);
        let b = bound(&d, BOX);
        assert_eq!((b.cpu, b.memory, b.instances), (2, 4, 5));
    }

    #[test]
    fn small_tasks_that_fit_beside_no_large_one_need_their_own_instances() {
        // A CPU-large task (0.6, 0.55) and two small ones that fit beside it in neither case:
        // (0.45, 0.1) by CPU, (0.1, 0.5) by memory; together they fit: 1 + 1 = 2.
        let d = demand(&[(60, 55), (45, 10), (10, 50)]);
        assert_eq!(bound(&d, BOX).instances, 2);
        // Four of each: 2.2 CPU and 2.4 memory, none beside the large task: 1 + 3 = 4, where
        // CPU alone says 3 (the 0.6 alone, the 0.45 two by two) and memory alone 3.
        let mut e = demand(&[(60, 55)]);
        e.add_tasks(Resources::new(45, 10), 4);
        e.add_tasks(Resources::new(10, 50), 4);
        let b = bound(&e, BOX);
        assert_eq!((b.cpu, b.memory, b.instances), (3, 3, 4));
    }

    #[test]
    fn unknown_sizes_and_tasks_too_large_count_as_volume_only() {
        let mut d = Demand::default();
        d.add_unknown(Resources::new(250, 10));
        assert_eq!(bound(&d, BOX).instances, 3);
        d.add_tasks(Resources::new(150, 10), 1);
        assert_eq!(bound(&d, BOX).cpu, 4);
        assert_eq!(bound(&Demand::default(), BOX).instances, 0);
        assert_eq!(bound(&d, Resources::ZERO).instances, 0);
    }

    #[test]
    fn the_largest_load_falls_back_to_the_divisor_on_huge_instances() {
        // 2^20 units of the divisor 3: no bitset, the capacity rounded down to a multiple of 3.
        let values = [(3u64, 10u64)];
        assert_eq!(largest_load(values.into_iter(), 3 << 20 | 2), 3 << 20);
        assert_eq!(largest_load([(7, 2), (5, 1)].into_iter(), 13), 12);
        assert_eq!(largest_load([(64, 3), (1, 0)].into_iter(), 200), 192);
    }

    /// The fewest bins that hold `tasks`, by dynamic programming over subsets.
    fn optimum(tasks: &[Resources], size: Resources) -> u32 {
        let n = tasks.len();
        let full = (1usize << n) - 1;
        let fits: Vec<bool> = (0..=full)
            .map(|mask| {
                let sum = (0..n)
                    .filter(|i| mask >> i & 1 == 1)
                    .fold(Resources::ZERO, |a, i| a.saturating_add(tasks[i]));
                size.fits(sum)
            })
            .collect();
        let mut best = vec![u32::MAX; full + 1];
        best[0] = 0;
        for mask in 1..=full {
            // The lowest task's bin: some subset of the mask containing it.
            let low = mask & mask.wrapping_neg();
            let rest = mask ^ low;
            let mut sub = rest;
            loop {
                let bin = sub | low;
                if fits[bin] && best[mask ^ bin] != u32::MAX {
                    best[mask] = best[mask].min(best[mask ^ bin] + 1);
                }
                if sub == 0 {
                    break;
                }
                sub = (sub - 1) & rest;
            }
        }
        best[full]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        /// Never above the optimum, with or without some tasks' sizes unknown; never below the
        /// volume bound.
        #[test]
        fn the_bound_never_exceeds_the_optimum(
            size in (1u32..40, 1u32..40),
            tasks in prop::collection::vec((0u32..40, 0u32..40, any::<bool>()), 0..=8),
        ) {
            let size = Resources::new(size.0, size.1);
            let tasks: Vec<(Resources, bool)> = tasks
                .into_iter()
                .map(|(c, m, known)| (Resources::new(c.min(size.cpu), m.min(size.memory)), known))
                .collect();
            let all: Vec<Resources> = tasks.iter().map(|&(s, _)| s).collect();
            let opt = optimum(&all, size);
            let mut known = Demand::default();
            let mut partly = Demand::default();
            for &(s, k) in &tasks {
                known.add_tasks(s, 1);
                if k { partly.add_tasks(s, 1) } else { partly.add_unknown(s) }
            }
            let b = bound(&known, size);
            prop_assert!(b.instances <= opt, "bound {:?} > optimum {} for {:?} in {}", b, opt, all, size);
            prop_assert!(b.cpu <= b.instances && b.memory <= b.instances);
            let p = bound(&partly, size);
            prop_assert!(p.instances <= opt, "partly known: {:?} > {}", p, opt);
            let volume = |d: fn(&Resources) -> u32, cap: u32| -> u32 {
                all.iter().map(d).sum::<u32>().div_ceil(cap)
            };
            prop_assert!(b.cpu >= volume(|s| s.cpu, size.cpu));
            prop_assert!(b.memory >= volume(|s| s.memory, size.memory));
        }

        /// Never above what the packer (with its improvement pass) launches for workloads
        /// too large for the exact optimum, `distinctInstance` services included.
        #[test]
        fn the_bound_never_exceeds_what_the_packer_launches(
            services in prop::collection::vec((1u32..=64, 1u32..=64, 1u64..40, any::<bool>()), 1..12),
        ) {
            let size = Resources::new(64, 64);
            let mut packer = Packer {
                bins: Vec::new(),
                items: Vec::new(),
                new_size: Some(size),
                new_limit: u32::MAX,
                new_opened: 0,
                needs: Vec::new(),
                new_instance: NewInstance::default(),
                new_in_zone: None,
                eni_limit: None,
                zones: Default::default(),
                spread_placed: Vec::new(),
            };
            let mut d = Demand::default();
            let mut indices = Vec::new();
            for (service, &(cpu, memory, count, distinct)) in services.iter().enumerate() {
                let task = Resources::new(cpu, memory);
                d.add_tasks(task, count);
                for _ in 0..count {
                    indices.push(packer.add(Item {
                        size: task,
                        service: service as u32,
                        distinct,
                        origin: None,
                        kind: ItemKind::Task,
                    }));
                }
            }
            prop_assert!(packer.place(&indices, |_| true, true).is_empty());
            let b = bound(&d, size);
            prop_assert!(b.instances <= packer.new_opened, "bound {:?} > {} launched", b, packer.new_opened);
        }
    }
}
