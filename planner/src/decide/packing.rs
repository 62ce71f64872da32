//! The placement simulation: tasks onto instances in two dimensions (CPU, memory),
//! honouring `distinctInstance`, host ports, GPUs, `memberOf` and ENIs ([`Packer::may_place`],
//! the one check of every placement), and the spread over availability zones of the services
//! that spread (`zones`: their tasks are placed first, one at a time, as ECS places them).
//!
//! Bins are filled in the order the caller built them (ACTIVE, booting, DRAINING, then new
//! instances opened on demand), so reactivation comes before launching; each bin takes the
//! largest-fitting, best-matching tasks first (see [`Packer::place`]); then the improvement
//! pass (`improve`) tries to empty the last instances opened. The simulation returns what it
//! could not place, with the reason: failures are data.

use shared::resources::Resources;

use super::placement::{fresh_bin, Needs, NewInstance, Offer};
use super::zones::Zones;

/// The simulation's state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Packer {
    /// Every bin, in the order they are tried.
    pub bins: Vec<Bin>,
    /// Every item ever added.
    pub items: Vec<Item>,
    /// Size of a new instance.
    pub new_size: Option<Resources>,
    /// How many instances may still be launched.
    pub new_limit: u32,
    /// How many were launched.
    pub new_opened: u32,
    /// What each service's tasks need besides CPU and memory, by service index (none beyond).
    pub needs: Vec<Needs>,
    /// What a new instance offers besides CPU and memory, and its daemons' reservation (its
    /// availability zone unknown).
    pub new_instance: NewInstance,
    /// The first launches' zone when Auto Scaling's rule tells it (`launch_zones`): what a new
    /// instance there offers, and how many of the launches (counted by `new_opened`) go there.
    pub new_in_zone: Option<(NewInstance, u32)>,
    /// `max_tasks_per_instance`: `awsvpc` tasks per instance.
    pub eni_limit: Option<u32>,
    /// Which services spread over availability zones, and how many zones there are.
    pub zones: Zones,
    /// The items the last [`Packer::place`] put where ECS spreads them (for the record).
    pub spread_placed: Vec<usize>,
}

impl Packer {
    /// Whether `item` may go on bin `b`: room, `distinctInstance`, host ports, GPUs, `memberOf`
    /// and ENIs. Every placement path asks this, and only this.
    pub(crate) fn may_place(&self, b: usize, item: &Item) -> bool {
        let Some(bin) = self.bins.get(b) else {
            return false;
        };
        bin.accepts(b, item)
            && (item.origin == Some(b) || self.needs(item).met_by(&bin.offer, self.eni_limit))
    }

    /// What `item` needs besides CPU and memory.
    pub(crate) fn needs(&self, item: &Item) -> &Needs {
        static NONE: Needs = Needs {
            ports: Vec::new(),
            gpus: 0,
            member_of: Vec::new(),
            eni: false,
            not_understood: None,
        };
        match item.kind {
            ItemKind::Buffer => &NONE,
            _ => self.needs.get(item.service as usize).unwrap_or(&NONE),
        }
    }

    /// What the next instance launched brings: in the zone of [`Packer::new_in_zone`] while
    /// its launches last, then in a zone not known.
    pub(crate) fn next_new(&self) -> &NewInstance {
        match &self.new_in_zone {
            Some((new, launches)) if self.new_opened < *launches => new,
            _ => &self.new_instance,
        }
    }

    /// Puts item `index` on bin `b`.
    pub(super) fn put(&mut self, b: usize, index: usize, item: &Item) {
        if item.origin != Some(b) && item.kind != ItemKind::Buffer {
            if let Some(needs) = self.needs.get(item.service as usize) {
                needs.take_from(&mut self.bins[b].offer);
            }
        }
        self.bins[b].take(b, index, item);
    }

    /// Adds an item; returns its index.
    pub fn add(&mut self, item: Item) -> usize {
        self.items.push(item);
        self.items.len() - 1
    }

    /// Places `indices` onto the bins `usable` allows, opening new instances when
    /// `may_launch`. Returns the items left over with the reason.
    ///
    /// Bins are filled one at a time in their order (first fit over bins, so ACTIVE before
    /// booting before DRAINING before new). Each bin takes, while anything fits, the task
    /// that makes the most progress along the remaining demand (its size projected on the
    /// direction of Σ sizes left, both dimensions as shares of an instance) while keeping
    /// the bin's free room in the same proportions, so that what is left can still fill it
    /// (ties: the larger task). Plain first-fit-decreasing fills instances with
    /// memory-heavy tasks first and strands CPU, then the reverse: on the quality workloads
    /// it needed 9 % more instances than the lower bound at the median, this under 2 %.
    /// When instances were opened, [`Packer::improve`] then tries to empty the last ones into
    /// the others (this fill is greedy: 4, 4 | 3, 3, 3 | 3 where 4, 3, 3 | 4, 3, 3 fits).
    pub fn place(
        &mut self,
        indices: &[usize],
        usable: impl Fn(&Bin) -> bool,
        may_launch: bool,
    ) -> Vec<(usize, Unplaced)> {
        // The tasks ECS spreads over zones go where it puts them, before anything is packed;
        // what no ACTIVE instance takes is packed with the rest (it waits for capacity). The
        // spread does not depend on the packing's weight: placed once, before the trials.
        let spread = self.place_spread(indices, &usable);
        self.spread_placed.clone_from(&spread);
        let packed: Vec<usize> = if spread.is_empty() {
            indices.to_vec()
        } else {
            let mut rest = vec![true; self.items.len()];
            for &i in &spread {
                rest[i] = false;
            }
            indices
                .iter()
                .copied()
                .filter(|&i| rest.get(i) == Some(&true))
                .collect()
        };
        let indices = &packed[..];
        let before = self.clone();
        let mut unplaced = self.place_with(indices, &usable, may_launch, BALANCES[0]);
        // One extra instance weighs most when few are launched: there, also try the other
        // weights and keep the placement that leaves the fewest tasks out, then launches the
        // fewest instances (the first weight on ties, so results only ever improve).
        let opened = self.new_opened - before.new_opened;
        if opened == 0 || opened > MULTI_START_MAX_LAUNCHES {
            return unplaced;
        }
        for &balance in &BALANCES[1..] {
            let mut trial = before.clone();
            let left = trial.place_with(indices, &usable, may_launch, balance);
            if (left.len(), trial.new_opened) < (unplaced.len(), self.new_opened) {
                *self = trial;
                unplaced = left;
            }
        }
        unplaced
    }

    /// [`Packer::place`] with one balance weight, after the spread.
    fn place_with(
        &mut self,
        indices: &[usize],
        usable: &impl Fn(&Bin) -> bool,
        may_launch: bool,
        balance: f64,
    ) -> Vec<(usize, Unplaced)> {
        let scale = self.scale();
        let first_new = self.bins.len();
        let mut kinds = Kinds::new(&self.items, indices, scale);
        for b in 0..self.bins.len() {
            if kinds.remaining == 0 {
                break;
            }
            if usable(&self.bins[b]) {
                self.fill(b, &mut kinds, scale, balance);
            }
        }
        let mut unplaced = Vec::new();
        while kinds.remaining > 0 {
            let size = match self.new_size {
                Some(size) if may_launch => size,
                other => {
                    let why = if may_launch && other.is_none() {
                        Unplaced::NoInstanceSize
                    } else {
                        Unplaced::NoRoom
                    };
                    unplaced.extend(kinds.drain(|_| true).into_iter().map(|i| (i, why)));
                    break;
                }
            };
            let fresh = fresh_bin(BinKind::New, size, self.next_new());
            let too_large = kinds.drain(|item| !fresh.free.fits(item.size));
            unplaced.extend(too_large.into_iter().map(|i| (i, Unplaced::TooLarge)));
            let (needs, eni_limit) = (&self.needs, self.eni_limit);
            let refused = kinds.drain(|item| {
                let n = needs.get(item.service as usize);
                item.kind != ItemKind::Buffer
                    && n.is_some_and(|n| !n.met_by(&fresh.offer, eni_limit))
            });
            unplaced.extend(refused.into_iter().map(|i| (i, Unplaced::Constraint)));
            if kinds.remaining == 0 {
                break;
            }
            if self.new_opened >= self.new_limit {
                unplaced.extend(
                    kinds
                        .drain(|_| true)
                        .into_iter()
                        .map(|i| (i, Unplaced::GroupAtMax)),
                );
                break;
            }
            self.bins.push(fresh);
            self.new_opened += 1;
            let b = self.bins.len() - 1;
            self.fill(b, &mut kinds, scale, balance);
        }
        if self.bins.len() > first_new {
            let mut movable = vec![false; self.items.len()];
            for &i in indices {
                if let Some(m) = movable.get_mut(i) {
                    *m = true;
                }
            }
            self.improve(&movable, usable, first_new);
        }
        unplaced.sort_unstable_by_key(|(i, _)| *i);
        unplaced
    }

    /// Fills bin `b` with the best-matching items while any fits.
    fn fill(&mut self, b: usize, kinds: &mut Kinds, scale: Resources, balance: f64) {
        let (c, m) = (f64::from(scale.cpu.max(1)), f64::from(scale.memory.max(1)));
        loop {
            let bin = &self.bins[b];
            let (rc, rm) = (f64::from(bin.free.cpu) / c, f64::from(bin.free.memory) / m);
            let (dc, dm) = (kinds.demand_cpu as f64 / c, kinds.demand_mem as f64 / m);
            let norm = (dc * dc + dm * dm).sqrt();
            let (dc, dm) = if norm > 0.0 {
                (dc / norm, dm / norm)
            } else {
                (0.0, 0.0)
            };
            let mut best: Option<(usize, f64)> = None;
            for (k, kind) in kinds.kinds.iter().enumerate() {
                if kind.indices.is_empty() || !self.may_place(b, &kind.item) {
                    continue;
                }
                // Its own instance takes a moved task back for free: always first.
                let score = if kind.item.origin == Some(b) {
                    f64::INFINITY
                } else {
                    let (sc, sm) = (
                        f64::from(kind.item.size.cpu) / c,
                        f64::from(kind.item.size.memory) / m,
                    );
                    // Progress along the demand, minus how far the room left strays from it.
                    let (ac, am) = (rc - sc, rm - sm);
                    (sc * dc + sm * dm) - balance * (ac * dm - am * dc).abs()
                };
                if best.is_none_or(|(_, s)| score > s) {
                    best = Some((k, score));
                }
            }
            let Some((k, _)) = best else { return };
            let Some(index) = kinds.kinds[k].indices.pop() else {
                return;
            };
            let item = kinds.kinds[k].item;
            self.put(b, index, &item);
            kinds.remaining = kinds.remaining.saturating_sub(1);
            kinds.demand_cpu = kinds.demand_cpu.saturating_sub(u64::from(item.size.cpu));
            kinds.demand_mem = kinds.demand_mem.saturating_sub(u64::from(item.size.memory));
        }
    }

    /// The size sorting normalizes by: a new instance, else the largest bin.
    pub(super) fn scale(&self) -> Resources {
        self.new_size
            .or_else(|| self.bins.iter().map(|b| b.capacity).max())
            .unwrap_or(Resources::new(1, 1))
    }
}

/// How much keeping a bin's free room in the proportions of the remaining demand counts
/// against taking the largest item. The first is the default (on the quality workloads:
/// 0.5 → median 1.044, 1 → 1.024, 2 → 1.021, 4 → 1.017, 8 → 1.018 instances per lower
/// bound); the others are tried when few instances are launched (see [`Packer::place`]).
const BALANCES: [f64; 4] = [4.0, 1.0, 16.0, 0.0];

/// Launches up to which [`Packer::place`] tries every weight in [`BALANCES`].
const MULTI_START_MAX_LAUNCHES: u32 = 48;

/// Why an item was not placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unplaced {
    /// Larger than a new instance and than the free room of every instance.
    TooLarge,
    /// A new instance would be needed but the group is at its max.
    GroupAtMax,
    /// A new instance would be needed but its size is unknown.
    NoInstanceSize,
    /// Fits on no open bin and the caller allowed no launch (consolidation trials).
    NoRoom,
    /// A new instance cannot take it whatever its room: ports, GPUs, `memberOf`, ENIs, or a
    /// constraint not understood (see [`Packer::needs`]).
    Constraint,
}

/// Something to place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Item {
    /// Its reservation.
    pub size: Resources,
    /// Index into the service table (meaningless for the buffer).
    pub service: u32,
    /// At most one task of its service per instance.
    pub distinct: bool,
    /// The bin it currently runs on (a DRAINING instance): placing it back there is free.
    pub origin: Option<usize>,
    /// What it is.
    pub kind: ItemKind,
}

/// What an item stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    /// A task to start: a service scaling up, or a task ECS could not place yet.
    Task,
    /// The cluster's buffer: a pseudo-task that keeps (cpu_buffer, mem_buffer) free somewhere.
    Buffer,
    /// A task that must move: it runs on an instance being drained.
    Moved,
}

/// An instance in the simulation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bin {
    /// What it is.
    pub kind: BinKind,
    /// Index into `ClusterState::instances`, for container instances.
    pub instance: Option<usize>,
    /// Registered resources.
    pub capacity: Resources,
    /// Free resources, after what the simulation placed.
    pub free: Resources,
    /// Services with `distinctInstance` that have a task on it.
    pub hosts: Vec<u32>,
    /// Its tasks are not listed: it may host any service.
    pub hosts_unknown: bool,
    /// Items the simulation placed on it.
    pub placed: Vec<usize>,
    /// Taken out of the simulation (being drained).
    pub closed: bool,
    /// Ports, GPUs, attributes and ENIs, after what the simulation placed on it.
    pub offer: Offer,
    /// A container instance's availability zone (index into the zones' names, in name order),
    /// when known; the spread reads it on ACTIVE bins. A booting or new instance's zone is in
    /// its offer's attributes.
    pub zone: Option<u32>,
    /// Tasks listed on its instance per service that spreads over zones, `(service, count)`
    /// (filled only when the spread is simulated).
    pub listed: Vec<(u32, u32)>,
}

impl Bin {
    /// An empty bin of that size.
    pub fn empty(kind: BinKind, capacity: Resources) -> Bin {
        Bin {
            kind,
            instance: None,
            capacity,
            free: capacity,
            hosts: Vec::new(),
            hosts_unknown: false,
            placed: Vec::new(),
            closed: false,
            offer: Offer::default(),
            zone: None,
            listed: Vec::new(),
        }
    }

    /// Whether bin `me` may take `item`: open, with room, `distinctInstance` kept (a task
    /// going back to the instance it runs on always may).
    pub(super) fn accepts(&self, me: usize, item: &Item) -> bool {
        if self.closed {
            return false;
        }
        if item.origin == Some(me) {
            return true;
        }
        self.free.fits(item.size)
            && !(item.distinct && (self.hosts_unknown || self.hosts.contains(&item.service)))
    }

    /// Places item `index` on bin `me`.
    pub(super) fn take(&mut self, me: usize, index: usize, item: &Item) {
        if item.origin != Some(me) {
            self.free = self.free.saturating_sub(item.size);
            if item.distinct {
                self.hosts.push(item.service);
            }
        }
        self.placed.push(index);
    }

    /// Undoes [`Bin::take`] of item `index` (nothing if it is not on bin `me`).
    pub(super) fn give_back(&mut self, me: usize, index: usize, item: &Item) {
        let Some(at) = self.placed.iter().position(|&p| p == index) else {
            return;
        };
        self.placed.remove(at);
        if item.origin != Some(me) {
            self.free = self.free.saturating_add(item.size);
            if item.distinct {
                if let Some(h) = self.hosts.iter().position(|&s| s == item.service) {
                    self.hosts.remove(h);
                }
            }
        }
    }
}

/// What a bin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinKind {
    /// An ACTIVE container instance.
    Active,
    /// An instance of the group not yet registered (capacity in flight).
    Booting,
    /// A DRAINING container instance: using it means reactivating it.
    Draining,
    /// An instance the plan launches.
    New,
}

/// Items grouped by what placement cares about (size, service, distinctness, origin), so
/// a bin scans a few kinds rather than every task.
struct Kinds {
    kinds: Vec<Kind>,
    remaining: usize,
    demand_cpu: u64,
    demand_mem: u64,
}

struct Kind {
    item: Item,
    /// Item indices, popped from the end (the lowest index first).
    indices: Vec<usize>,
}

impl Kinds {
    fn new(items: &[Item], indices: &[usize], scale: Resources) -> Kinds {
        let mut order = indices.to_vec();
        // Largest kinds first: among equal scores the larger item wins.
        sort_decreasing(items, &mut order, scale);
        let mut kinds: Vec<Kind> = Vec::new();
        let mut by_key: super::services::FastMap<(Resources, u32, bool, Option<usize>, u8), usize> =
            Default::default();
        let mut remaining = 0;
        let (mut demand_cpu, mut demand_mem) = (0u64, 0u64);
        for i in order {
            let Some(item) = items.get(i) else { continue };
            let key = (
                item.size,
                item.service,
                item.distinct,
                item.origin,
                item.kind as u8,
            );
            let k = *by_key.entry(key).or_insert_with(|| {
                kinds.push(Kind {
                    item: *item,
                    indices: Vec::new(),
                });
                kinds.len() - 1
            });
            kinds[k].indices.push(i);
            remaining += 1;
            demand_cpu += u64::from(item.size.cpu);
            demand_mem += u64::from(item.size.memory);
        }
        for kind in &mut kinds {
            kind.indices.reverse();
        }
        Kinds {
            kinds,
            remaining,
            demand_cpu,
            demand_mem,
        }
    }

    /// Takes out every item of the kinds `which` selects.
    fn drain(&mut self, which: impl Fn(&Item) -> bool) -> Vec<usize> {
        let mut out = Vec::new();
        for kind in self.kinds.iter_mut().filter(|k| which(&k.item)) {
            let n = kind.indices.len() as u64;
            self.demand_cpu = self
                .demand_cpu
                .saturating_sub(n * u64::from(kind.item.size.cpu));
            self.demand_mem = self
                .demand_mem
                .saturating_sub(n * u64::from(kind.item.size.memory));
            out.append(&mut kind.indices);
        }
        self.remaining = self.remaining.saturating_sub(out.len());
        out
    }
}

/// Largest first, by the larger of the item's two shares of an instance, then by the sum
/// of both shares (a task large in both dimensions first), then by index (deterministic).
pub(crate) fn sort_decreasing(items: &[Item], order: &mut [usize], scale: Resources) {
    let (c, m) = (f64::from(scale.cpu.max(1)), f64::from(scale.memory.max(1)));
    let key = |i: &usize| {
        let s = items.get(*i).map_or(Resources::ZERO, |it| it.size);
        let (a, b) = (f64::from(s.cpu) / c, f64::from(s.memory) / m);
        (a.max(b), a + b)
    };
    order.sort_by(|x, y| {
        let (kx, ky) = (key(x), key(y));
        ky.0.total_cmp(&kx.0)
            .then(ky.1.total_cmp(&kx.1))
            .then(x.cmp(y))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(cpu: u32, memory: u32) -> Item {
        Item {
            size: Resources::new(cpu, memory),
            service: 0,
            distinct: false,
            origin: None,
            kind: ItemKind::Task,
        }
    }

    fn packer(size: Resources, limit: u32) -> Packer {
        Packer {
            bins: Vec::new(),
            items: Vec::new(),
            new_size: Some(size),
            new_limit: limit,
            new_opened: 0,
            needs: Vec::new(),
            new_instance: NewInstance::default(),
            new_in_zone: None,
            eni_limit: None,
            zones: Zones::default(),
            spread_placed: Vec::new(),
        }
    }

    #[test]
    fn opens_as_few_instances_as_needed() {
        let mut p = packer(Resources::new(1024, 1024), 10);
        let idx: Vec<usize> = [600, 400, 600, 400, 300]
            .into_iter()
            .map(|c| p.add(task(c, 100)))
            .collect();
        assert!(p.place(&idx, |_| true, true).is_empty());
        assert_eq!(p.new_opened, 3); // 600+400, 600+400, 300
    }

    #[test]
    fn failures_are_data() {
        let mut p = packer(Resources::new(1024, 1024), 1);
        let big = p.add(task(2048, 10));
        let a = p.add(task(1000, 10));
        let b = p.add(task(1000, 10));
        let left = p.place(&[big, a, b], |_| true, true);
        assert_eq!(
            left,
            vec![(big, Unplaced::TooLarge), (b, Unplaced::GroupAtMax)]
        );
        let mut q = p.clone();
        q.new_size = None;
        let c = q.add(task(1, 1));
        q.bins[0].free = Resources::ZERO;
        assert_eq!(
            q.place(&[c], |_| true, true),
            vec![(c, Unplaced::NoInstanceSize)]
        );
    }

    #[test]
    fn distinct_instance_spreads_and_own_origin_is_free() {
        let mut p = packer(Resources::new(4096, 4096), 5);
        let mut t = task(100, 100);
        t.distinct = true;
        let idx: Vec<usize> = (0..3).map(|_| p.add(t)).collect();
        assert!(p.place(&idx, |_| true, true).is_empty());
        assert_eq!(p.new_opened, 3);

        let mut full = Bin::empty(BinKind::Draining, Resources::new(100, 100));
        full.free = Resources::ZERO;
        let mut q = packer(Resources::new(100, 100), 0);
        q.bins.push(full);
        let mut moved = task(100, 100);
        moved.origin = Some(0);
        moved.kind = ItemKind::Moved;
        let i = q.add(moved);
        assert!(q.place(&[i], |_| true, true).is_empty());
        assert_eq!(q.bins[0].placed, vec![i]);
    }
}
