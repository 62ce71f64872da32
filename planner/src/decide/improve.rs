//! The improvement pass after a placement that launched instances: empties the last instances
//! it opened into the room left on the other bins, swapping items between bins to make room.
//!
//! Every move keeps the bins' rules ([`Bin::accepts`]: room, `distinctInstance`, a closed bin
//! takes nothing) and the tasks' needs ([`Needs::met_by`] on the bin's offer: host ports, GPUs,
//! `memberOf`, ENIs; an item leaving a bin gives back what it took), uses only bins the
//! placement could use (and a DRAINING one only if the
//! placement already reactivates it), moves only the items of that placement, and never
//! takes a task off the DRAINING instance it runs on. Deterministic; bounded by [`BUDGET`].

use std::collections::BTreeMap;

use shared::resources::Resources;

use super::packing::{Bin, BinKind, Item, Packer};
#[cfg(doc)]
use super::placement::Needs;

/// Steps the pass may take per placement (a bin examined for one item, one exchange or move
/// examined). On the quality workloads 10,000 leaves the median of seeds 0–999 at 1.006 ×
/// the lower bound, 20,000 at 1.000, more changes no worst case; on a 1,000-instance cluster
/// the first round of insertions uses it up (the plan-time goal).
const BUDGET: u64 = 20_000;

/// Below this a swap does not count as filling a bin (float noise).
const GAIN_EPSILON: f64 = 1e-9;

impl Packer {
    /// While the last bin is an instance this placement opened (index `first_new` or later)
    /// and its items fit on the other bins `usable` allows, moves them there and drops it (one
    /// launch fewer). `movable[i]`: item `i` was placed by this placement.
    pub(super) fn improve(
        &mut self,
        movable: &[bool],
        usable: &impl Fn(&Bin) -> bool,
        first_new: usize,
    ) {
        let weight = Weight::new(&self.items, movable, self.scale());
        let mut budget = BUDGET;
        while self.bins.len() > first_new.max(1)
            && self.bins.last().is_some_and(|b| b.kind == BinKind::New)
            && budget > 0
            && self.empty_last(movable, usable, &weight, &mut budget)
        {}
    }

    /// Tries to empty the last bin: its items become *free*; then, in rounds, free items go
    /// where they fit (heaviest first, each on the bin it leaves with the least room), and
    /// each bin may exchange one or two of its items for one or two free ones that fill it
    /// more (the bins get fuller, the free items lighter, until they fit in the gaps); when
    /// no exchange does, moves between bins merge gaps ([`Packer::concentrate`]). Each round
    /// makes the free items lighter or, at the same weight, Σ load² larger, so the rounds end.
    /// On success the bin is dropped; otherwise nothing changes.
    fn empty_last(
        &mut self,
        movable: &[bool],
        usable: &impl Fn(&Bin) -> bool,
        weight: &Weight,
        budget: &mut u64,
    ) -> bool {
        let saved = self.bins.clone();
        let Some(last) = self.bins.pop() else {
            return false;
        };
        let targets: Vec<usize> = (0..self.bins.len())
            .filter(|&b| {
                let bin = &self.bins[b];
                !bin.closed
                    && usable(bin)
                    && (bin.kind != BinKind::Draining || !bin.placed.is_empty())
            })
            .collect();
        let mut free = last.placed;
        // Hopeless unless the free items fit in the room left, dimension by dimension.
        let total = |sizes: &mut dyn Iterator<Item = Resources>| {
            sizes.fold((0u64, 0u64), |(c, m), s| {
                (c + u64::from(s.cpu), m + u64::from(s.memory))
            })
        };
        let room = total(&mut targets.iter().map(|&b| self.bins[b].free));
        let need = total(&mut free.iter().map(|&i| self.items[i].size));
        if need.0 <= room.0 && need.1 <= room.1 {
            loop {
                self.insert_free(&mut free, &targets, weight, budget);
                if free.is_empty() {
                    self.new_opened = self.new_opened.saturating_sub(1);
                    return true;
                }
                let mut swapped = false;
                for &b in &targets {
                    if *budget == 0 {
                        break;
                    }
                    swapped |= self.swap_into(b, &mut free, movable, weight, budget);
                }
                if !swapped && !self.concentrate(&targets, movable, weight, budget) {
                    break;
                }
                if *budget == 0 {
                    break;
                }
            }
        }
        self.bins = saved;
        false
    }

    /// Places the free items that fit somewhere: heaviest first, each on the bin it leaves
    /// with the least room by weight (ties: the first bin).
    fn insert_free(
        &mut self,
        free: &mut Vec<usize>,
        targets: &[usize],
        weight: &Weight,
        budget: &mut u64,
    ) {
        free.sort_by(|&a, &b| {
            weight
                .of(self.items[b].size)
                .total_cmp(&weight.of(self.items[a].size))
                .then(a.cmp(&b))
        });
        let mut left = Vec::new();
        for &i in free.iter() {
            let item = self.items[i];
            *budget = budget.saturating_sub(targets.len() as u64);
            let mut best: Option<(f64, usize)> = None;
            for &b in targets {
                if self.may_place(b, &item) {
                    let room = weight.of(self.bins[b].free.saturating_sub(item.size));
                    if best.is_none_or(|(r, _)| room < r) {
                        best = Some((room, b));
                    }
                }
            }
            match best {
                Some((_, b)) => self.put(b, i, &item),
                None => left.push(i),
            }
        }
        *free = left;
    }

    /// The best exchange on bin `b`: one or two of its movable items out, one or two free
    /// items in, the bin strictly fuller by weight (the largest gain; ties: the first found).
    /// Applies it; returns whether there was one.
    fn swap_into(
        &mut self,
        b: usize,
        free: &mut Vec<usize>,
        movable: &[bool],
        weight: &Weight,
        budget: &mut u64,
    ) -> bool {
        let bin = &self.bins[b];
        let outs = sets(
            &self.items,
            bin.placed
                .iter()
                .copied()
                .filter(|&p| movable.get(p) == Some(&true) && self.items[p].origin != Some(b)),
            weight,
        );
        if outs.is_empty() {
            return false;
        }
        let mut ins = sets(&self.items, free.iter().copied(), weight);
        ins.sort_by(|x, y| y.weight.total_cmp(&x.weight));
        let mut best: Option<(f64, usize, usize)> = None;
        for (o, out) in outs.iter().enumerate() {
            let room = bin.free.saturating_add(out.size);
            for (n, inn) in ins.iter().enumerate() {
                *budget = budget.saturating_sub(1);
                let gain = inn.weight - out.weight;
                // `ins` is heaviest first: nothing after this one gains more.
                if gain <= best.map_or(GAIN_EPSILON, |(g, _, _)| g) {
                    break;
                }
                if room.fits(inn.size) && self.exchanged(b, out, inn).is_some() {
                    best = Some((gain, o, n));
                    break;
                }
            }
            if *budget == 0 {
                break;
            }
        }
        let Some((_, o, n)) = best else {
            return false;
        };
        let Some(after) = self.exchanged(b, &outs[o], &ins[n]) else {
            return false;
        };
        self.bins[b] = after;
        free.retain(|i| !ins[n].items.contains(&Some(*i)));
        free.extend(outs[o].items.iter().flatten());
        true
    }

    /// One pass of moves between the bins that keep the free items' weight and gather the
    /// room left into fewer bins: a set of one or two items leaves bin y for bin x, possibly
    /// in exchange for a lighter set of x's, when that leaves x's load heavier than y's was
    /// (Σ load² grows: small gaps merge into one that a free item may fit). Returns whether
    /// any move was made.
    fn concentrate(
        &mut self,
        targets: &[usize],
        movable: &[bool],
        weight: &Weight,
        budget: &mut u64,
    ) -> bool {
        let sets_of = |p: &Packer, b: usize| {
            sets(
                &p.items,
                p.bins[b]
                    .placed
                    .iter()
                    .copied()
                    .filter(|&i| movable.get(i) == Some(&true) && p.items[i].origin != Some(b)),
                weight,
            )
        };
        let load = |p: &Packer, b: usize| {
            let bin = &p.bins[b];
            weight.of(bin.capacity.saturating_sub(bin.free))
        };
        let mut all: Vec<Vec<Set>> = targets.iter().map(|&b| sets_of(self, b)).collect();
        let mut moved = false;
        for yi in 0..targets.len() {
            for xi in 0..targets.len() {
                if xi == yi || all[yi].is_empty() {
                    continue;
                }
                let (x, y) = (targets[xi], targets[yi]);
                let (lx, ly) = (load(self, x), load(self, y));
                let mut found: Option<(usize, Option<usize>)> = None;
                'search: for (si, out) in all[yi].iter().enumerate() {
                    if lx + out.weight <= ly + GAIN_EPSILON {
                        continue;
                    }
                    for ti in std::iter::once(None).chain((0..all[xi].len()).map(Some)) {
                        *budget = budget.saturating_sub(1);
                        if *budget == 0 {
                            break 'search;
                        }
                        let back = ti.map(|t| &all[xi][t]);
                        let (bw, bs) = back.map_or((0.0, Resources::ZERO), |t| (t.weight, t.size));
                        let delta = out.weight - bw;
                        if delta <= GAIN_EPSILON || lx - ly + delta <= GAIN_EPSILON {
                            continue;
                        }
                        if !self.bins[x].free.saturating_add(bs).fits(out.size)
                            || !self.bins[y].free.saturating_add(out.size).fits(bs)
                        {
                            continue;
                        }
                        found = Some((si, ti));
                        break 'search;
                    }
                }
                let Some((si, ti)) = found else {
                    if *budget == 0 {
                        return moved;
                    }
                    continue;
                };
                let none = Set::empty();
                let back = ti.map_or(&none, |t| &all[xi][t]);
                let (Some(new_x), Some(new_y)) = (
                    self.exchanged(x, back, &all[yi][si]),
                    self.exchanged(y, &all[yi][si], back),
                ) else {
                    continue;
                };
                self.bins[x] = new_x;
                self.bins[y] = new_y;
                all[xi] = sets_of(self, x);
                all[yi] = sets_of(self, y);
                moved = true;
            }
        }
        moved
    }

    /// Bin `b` with the items of `out` taken off and those of `into` placed, if it accepts
    /// each of them ([`Bin::accepts`]) and meets their needs (as `Packer::may_place` and
    /// `Packer::put` do, on the bin as the exchange leaves it).
    fn exchanged(&self, b: usize, out: &Set, into: &Set) -> Option<Bin> {
        let mut bin = self.bins[b].clone();
        for &i in out.items.iter().flatten() {
            let item = &self.items[i];
            bin.give_back(b, i, item);
            if item.origin != Some(b) {
                self.needs(item).give_back_to(&mut bin.offer);
            }
        }
        for &i in into.items.iter().flatten() {
            let item = &self.items[i];
            let home = item.origin == Some(b);
            if !bin.accepts(b, item)
                || !(home || self.needs(item).met_by(&bin.offer, self.eni_limit))
            {
                return None;
            }
            bin.take(b, i, item);
            if !home {
                self.needs(item).take_from(&mut bin.offer);
            }
        }
        Some(bin)
    }
}

/// How much an item weighs when filling a bin: its shares of an instance, each dimension
/// counted by how much of it the placement's items need in all (the scarcer dimension, the
/// one that decides the instance count, weighs more).
struct Weight {
    cpu: f64,
    memory: f64,
}

impl Weight {
    fn new(items: &[Item], movable: &[bool], scale: Resources) -> Weight {
        let (c, m) = (f64::from(scale.cpu.max(1)), f64::from(scale.memory.max(1)));
        let (dc, dm) =
            items
                .iter()
                .zip(movable)
                .filter(|(_, &mv)| mv)
                .fold((0.0, 0.0), |(x, y), (it, _)| {
                    (
                        x + f64::from(it.size.cpu) / c,
                        y + f64::from(it.size.memory) / m,
                    )
                });
        let total = dc + dm;
        if total <= 0.0 {
            return Weight {
                cpu: 0.5 / c,
                memory: 0.5 / m,
            };
        }
        Weight {
            cpu: dc / total / c,
            memory: dm / total / m,
        }
    }

    fn of(&self, s: Resources) -> f64 {
        self.cpu * f64::from(s.cpu) + self.memory * f64::from(s.memory)
    }
}

/// One or two items taken together in an exchange.
struct Set {
    items: [Option<usize>; 2],
    size: Resources,
    weight: f64,
}

impl Set {
    fn empty() -> Set {
        Set {
            items: [None, None],
            size: Resources::ZERO,
            weight: 0.0,
        }
    }
}

/// What tells items apart in an exchange: size, service if `distinctInstance`, origin.
type KindKey = (Resources, Option<u32>, Option<usize>);

/// Every set of one or two of `indices`, one per combination of kinds: items of the same size
/// that placement cannot tell apart (the same service if `distinctInstance`, the same origin)
/// make the same exchanges.
fn sets(items: &[Item], indices: impl Iterator<Item = usize>, weight: &Weight) -> Vec<Set> {
    // Up to two indices per kind, kinds in the order of their lowest index.
    let mut groups: BTreeMap<KindKey, [Option<usize>; 2]> = BTreeMap::new();
    let mut order: Vec<usize> = indices.collect();
    order.sort_unstable();
    for i in order {
        let Some(it) = items.get(i) else { continue };
        let key = (it.size, it.distinct.then_some(it.service), it.origin);
        let group = groups.entry(key).or_insert([None, None]);
        if group[0].is_none() {
            group[0] = Some(i);
        } else if group[1].is_none() {
            group[1] = Some(i);
        }
    }
    let set = |a: usize, b: Option<usize>| {
        let size = b.map_or(items[a].size, |b| {
            items[a].size.saturating_add(items[b].size)
        });
        Set {
            items: [Some(a), b],
            size,
            weight: weight.of(size),
        }
    };
    let groups: Vec<[Option<usize>; 2]> = groups.into_values().collect();
    let mut out = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let Some(a) = group[0] else { continue };
        out.push(set(a, None));
        if group[1].is_some() {
            out.push(set(a, group[1]));
        }
        for other in &groups[g + 1..] {
            if other[0].is_some() {
                out.push(set(a, other[0]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::packing::ItemKind;
    use crate::decide::placement::{Needs, NewInstance};
    use shared::state::HostPort;

    /// Memory is what counts: CPU never runs out.
    const SIZE: Resources = Resources::new(1000, 10);

    fn task(memory: u32) -> Item {
        Item {
            size: Resources::new(1, memory),
            service: 0,
            distinct: false,
            origin: None,
            kind: ItemKind::Task,
        }
    }

    fn packer() -> Packer {
        Packer {
            bins: Vec::new(),
            items: Vec::new(),
            new_size: Some(SIZE),
            new_limit: 10,
            new_opened: 0,
            needs: Vec::new(),
            new_instance: NewInstance::default(),
            new_in_zone: None,
            eni_limit: None,
            zones: Default::default(),
            spread_placed: Vec::new(),
        }
    }

    /// A bin of `kind` holding `items` (added to the packer), as the placement left it.
    fn bin(p: &mut Packer, kind: BinKind, items: &[Item]) -> usize {
        p.bins.push(Bin::empty(kind, SIZE));
        let b = p.bins.len() - 1;
        for item in items {
            let i = p.add(*item);
            p.bins[b].take(b, i, item);
        }
        if kind == BinKind::New {
            p.new_opened += 1;
        }
        b
    }

    /// Memory per bin, in bin order, each sorted.
    fn loads(p: &Packer) -> Vec<Vec<u32>> {
        p.bins
            .iter()
            .map(|b| {
                let mut m: Vec<u32> = b.placed.iter().map(|&i| p.items[i].size.memory).collect();
                m.sort_unstable();
                m
            })
            .collect()
    }

    fn all_movable(p: &Packer) -> Vec<bool> {
        vec![true; p.items.len()]
    }

    #[test]
    fn the_greedy_fill_leaves_a_third_instance_the_pass_removes() {
        // 4, 4, 3, 3, 3, 3 on instances of 10: the fill opens 4+4 | 3+3+3 | 3; two suffice.
        let mut p = packer();
        let idx: Vec<usize> = [4, 4, 3, 3, 3, 3].map(|m| p.add(task(m))).to_vec();
        assert!(p.place(&idx, |_| true, true).is_empty());
        assert_eq!(p.new_opened, 2);
        assert_eq!(loads(&p), vec![vec![3, 3, 4], vec![3, 3, 4]]);
        assert!(p.bins.iter().all(|b| b.free.memory == 0));
    }

    #[test]
    fn tasks_with_other_needs_are_rearranged_when_their_needs_allow() {
        // The workload above, its tasks awsvpc (an ENI each, no limit here): the pass runs.
        let mut p = packer();
        p.needs = vec![Needs {
            eni: true,
            ..Needs::default()
        }];
        let idx: Vec<usize> = [4, 4, 3, 3, 3, 3].map(|m| p.add(task(m))).to_vec();
        assert!(p.place(&idx, |_| true, true).is_empty());
        assert_eq!(p.new_opened, 2);
        assert!(p
            .bins
            .iter()
            .all(|b| b.offer.eni_tasks == b.placed.len() as u32));
        // At most 2 ENIs per instance: three instances, and the pass keeps the limit.
        let mut p = packer();
        p.needs = vec![Needs {
            eni: true,
            ..Needs::default()
        }];
        p.eni_limit = Some(2);
        let idx: Vec<usize> = [4, 4, 3, 3, 3, 3].map(|m| p.add(task(m))).to_vec();
        assert!(p.place(&idx, |_| true, true).is_empty());
        assert_eq!(p.new_opened, 3);
        assert!(
            p.bins.iter().all(|b| b.placed.len() <= 2),
            "{:?}",
            loads(&p)
        );
    }

    #[test]
    fn moves_honour_host_ports() {
        // The same workload, its service binding a host port: the pass may move tasks only
        // where the port is free, so one task per instance stands.
        let mut p = packer();
        p.needs = vec![Needs {
            ports: vec![HostPort::tcp(8080)],
            ..Needs::default()
        }];
        let idx: Vec<usize> = [4, 4, 3, 3, 3, 3].map(|m| p.add(task(m))).to_vec();
        let left = p.place(&idx, |_| true, true);
        assert_eq!(left.len(), 0, "one task per instance fits: {left:?}");
        assert!(
            p.bins.iter().all(|b| b.placed.len() <= 1),
            "one port-8080 task per instance"
        );
    }

    #[test]
    fn gaps_are_merged_by_moves_between_bins_then_filled() {
        // 4+4 (gap 2) and 3+3+3 (gap 1) cannot take the last 3 by exchanges with it alone:
        // a 4 and a 3 trade places (10 and 7), and the 3 goes into the gap of 3.
        let mut p = packer();
        bin(&mut p, BinKind::New, &[task(4), task(4)]);
        bin(&mut p, BinKind::New, &[task(3), task(3), task(3)]);
        bin(&mut p, BinKind::New, &[task(3)]);
        let movable = all_movable(&p);
        p.improve(&movable, &|_| true, 0);
        assert_eq!(p.new_opened, 2);
        assert_eq!(loads(&p), vec![vec![3, 3, 4], vec![3, 3, 4]]);
    }

    #[test]
    fn distinct_instance_is_kept() {
        // 4+4 (gap 2) | 4+3+3 (full) | 1+1: both 1s fit in the gap, unless they are tasks of
        // one distinctInstance service; then no arrangement empties the third instance.
        let run = |distinct: bool| {
            let mut p = packer();
            let mut e = task(1);
            e.service = 8;
            e.distinct = distinct;
            bin(&mut p, BinKind::New, &[task(4), task(4)]);
            bin(&mut p, BinKind::New, &[task(4), task(3), task(3)]);
            bin(&mut p, BinKind::New, &[e, e]);
            let before = p.clone();
            let movable = all_movable(&p);
            p.improve(&movable, &|_| true, 0);
            (before, p)
        };
        let (before, after) = run(true);
        assert_eq!(after, before);
        let (_, after) = run(false);
        assert_eq!(after.new_opened, 2);
        assert_eq!(loads(&after), vec![vec![1, 1, 4, 4], vec![3, 3, 4]]);
    }

    #[test]
    fn only_this_placements_items_move_and_only_onto_bins_it_may_use() {
        // The 4s were placed before (not movable): nothing can make room for the 3.
        let mut p = packer();
        bin(&mut p, BinKind::Active, &[task(4), task(4)]);
        bin(&mut p, BinKind::New, &[task(3), task(3), task(3)]);
        bin(&mut p, BinKind::New, &[task(3)]);
        let mut movable = all_movable(&p);
        movable[0] = false;
        movable[1] = false;
        let before = p.clone();
        p.improve(&movable, &|_| true, 1);
        assert_eq!(p, before);
        // A DRAINING bin the placement does not reactivate, a closed bin and a bin `usable`
        // refuses take nothing, however empty.
        let mut q = packer();
        bin(&mut q, BinKind::Draining, &[]);
        let closed = bin(&mut q, BinKind::Active, &[]);
        q.bins[closed].closed = true;
        let refused = bin(&mut q, BinKind::Booting, &[]);
        bin(&mut q, BinKind::New, &[task(9)]);
        bin(&mut q, BinKind::New, &[task(3)]);
        let before = q.clone();
        let movable = all_movable(&q);
        q.improve(&movable, &|b: &Bin| b.kind != BinKind::Booting, 3);
        assert_eq!(q, before);
        // ... but one it reactivates anyway does (and so does the booting one if usable).
        let mut r = before.clone();
        let back = r.add(Item {
            origin: Some(0),
            kind: ItemKind::Moved,
            ..task(5)
        });
        let item = r.items[back];
        r.bins[0].free = Resources::new(1000, 5); // the 5 runs there
        r.bins[0].take(0, back, &item);
        let movable = all_movable(&r);
        r.improve(&movable, &|b: &Bin| b.kind != BinKind::Booting, 3);
        assert_eq!(r.new_opened, 1);
        assert_eq!(loads(&r)[0], vec![3, 5]);
        assert!(r.bins[refused].placed.is_empty());
    }

    #[test]
    fn a_task_going_back_to_its_draining_instance_stays_there() {
        // The 9 runs on the DRAINING bin 0 (its room already counts it) and goes back there:
        // it is never moved off to make room, so the 6 cannot go there and the instance stays.
        let mut p = packer();
        p.bins.push(Bin::empty(BinKind::Draining, SIZE));
        p.bins[0].free = Resources::new(1000, 1);
        let home = p.add(Item {
            origin: Some(0),
            kind: ItemKind::Moved,
            ..task(9)
        });
        let item = p.items[home];
        p.bins[0].take(0, home, &item);
        bin(&mut p, BinKind::New, &[task(6)]);
        let before = p.clone();
        let movable = all_movable(&p);
        p.improve(&movable, &|_| true, 1);
        assert_eq!(p, before);
    }

    #[test]
    fn a_failed_attempt_or_a_spent_budget_changes_nothing() {
        let mut p = packer();
        bin(&mut p, BinKind::New, &[task(4), task(4)]);
        bin(&mut p, BinKind::New, &[task(3), task(3), task(3)]);
        bin(&mut p, BinKind::New, &[task(3)]);
        let before = p.clone();
        let movable = all_movable(&p);
        let weight = Weight::new(&p.items, &movable, p.scale());
        // Three steps: the insertion round alone uses them up.
        let mut budget = 3;
        assert!(!p.empty_last(&movable, &|_| true, &weight, &mut budget));
        assert_eq!(p, before);
        assert_eq!(budget, 0);
        // Full bins and a 4 that fits nowhere: nothing to do.
        let mut q = packer();
        bin(&mut q, BinKind::New, &[task(5), task(5)]);
        bin(&mut q, BinKind::New, &[task(4)]);
        let before = q.clone();
        let movable = all_movable(&q);
        q.improve(&movable, &|_| true, 0);
        assert_eq!(q, before);
    }
}
