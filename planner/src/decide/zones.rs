//! Spread over availability zones, ECS's default placement strategy for a service's tasks:
//! which services spread, and the placement of their new tasks zone by zone before packing.
//!
//! ECS documents it: a service's tasks are placed with `spread(attribute:ecs.availability-zone)`
//! by default (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement-strategies.html>),
//! the service scheduler putting each new task in the zone with the fewest running tasks of the
//! service among the instances that can take it, there on the instance with the fewest tasks
//! of the service (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/update-service-parameters.html>).
//! A strategy is best effort (a task goes to another zone rather than wait), constraints are
//! hard: only instances [`Packer::may_place`] accepts are candidates.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::packing::{sort_decreasing, Bin, BinKind, ItemKind, Packer};

/// The ECS attribute a zone spread reads.
const ZONE_FIELD: &str = "attribute:ecs.availability-zone";

/// How a service's tasks are placed within the zone spread chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum WithinZone {
    /// Not spread over zones: packed with the rest.
    #[default]
    NoSpread,
    /// The instance with the fewest tasks of the service (ECS's default, `spread(instanceId)`).
    FewestTasks,
    /// The instance with the least CPU left (`binpack(cpu)`).
    BinpackCpu,
    /// The instance with the least memory left (`binpack(memory)`).
    BinpackMemory,
    /// Unspecified by ECS (`spread` over zones alone, `random` after it): the simulation's
    /// order, fullest first.
    InOrder,
}

/// How a service with placement strategy `strategy` (`type:field` entries) places its tasks:
/// spread over zones when it has no strategy (ECS's default for a service) or when its first
/// entry spreads over `attribute:ecs.availability-zone`; then by its next entry.
pub(crate) fn within_zone(strategy: &[String]) -> WithinZone {
    let Some(first) = strategy.first() else {
        return WithinZone::FewestTasks;
    };
    if !is(first, "spread", ZONE_FIELD) {
        return WithinZone::NoSpread;
    }
    match strategy.get(1) {
        Some(next) if is(next, "spread", "instanceId") || is(next, "spread", "host") => {
            WithinZone::FewestTasks
        }
        Some(next) if is(next, "binpack", "cpu") => WithinZone::BinpackCpu,
        Some(next) if is(next, "binpack", "memory") => WithinZone::BinpackMemory,
        _ => WithinZone::InOrder,
    }
}

/// Whether a `type:field` entry is that type on that field (ignoring case: the API spells the
/// types in lower case, `instanceId` in camel case, a hand-written strategy may not).
fn is(entry: &str, kind: &str, field: &str) -> bool {
    entry.split_once(':').is_some_and(|(k, f)| {
        k.trim().eq_ignore_ascii_case(kind) && f.trim().eq_ignore_ascii_case(field)
    })
}

/// What the spread needs of the simulation: how each service places, and how many zones the
/// ACTIVE instances span (below two, spreading changes nothing and is skipped).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Zones {
    /// By service index: how its tasks are placed within a zone ([`WithinZone::NoSpread`]
    /// beyond the table).
    pub within: Vec<WithinZone>,
    /// Distinct zones of the ACTIVE bins (an instance without the attribute counts as one
    /// zone of its own).
    pub count: u32,
}

impl Zones {
    /// Whether the tasks of service `s` are spread over zones here.
    fn spreads(&self, s: u32) -> bool {
        self.count >= 2
            && self
                .within
                .get(s as usize)
                .is_some_and(|w| *w != WithinZone::NoSpread)
    }
}

impl Packer {
    /// Places the tasks among `indices` whose service spreads over zones as ECS does, one at a
    /// time, onto the ACTIVE bins `usable` allows: each to the zone with the fewest tasks of
    /// its service (those running there, listed, and those placed by the simulation) among the
    /// zones where a bin may take it, there by the service's [`WithinZone`] rule (ties: the
    /// simulation's order). A task no ACTIVE bin takes waits for capacity: it is left to the
    /// packing. Returns the items placed. Tasks moving back to their own DRAINING instance and
    /// the buffer are not ECS's to spread.
    pub(super) fn place_spread(
        &mut self,
        indices: &[usize],
        usable: &impl Fn(&Bin) -> bool,
    ) -> Vec<usize> {
        let mut order: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| {
                self.items.get(i).is_some_and(|it| {
                    it.kind != ItemKind::Buffer
                        && it.origin.is_none()
                        && self.zones.spreads(it.service)
                })
            })
            .collect();
        if order.is_empty() {
            return Vec::new();
        }
        sort_decreasing(&self.items, &mut order, self.scale());
        // One service at a time, largest task first.
        let mut services: Vec<(u32, Vec<usize>)> = Vec::new();
        let mut position: HashMap<u32, usize> = HashMap::new();
        for i in order {
            let s = self.items[i].service;
            let k = *position.entry(s).or_insert_with(|| {
                services.push((s, Vec::new()));
                services.len() - 1
            });
            services[k].1.push(i);
        }
        // The candidates by zone, zones in name order (ties go the same way whatever the
        // bins' order; an instance without the attribute is a zone of its own), each zone's
        // bins in the simulation's order.
        let mut zone_of: Vec<Option<u32>> = Vec::new();
        let mut zone_bins: Vec<Vec<usize>> = Vec::new();
        for (b, bin) in self.bins.iter().enumerate() {
            if bin.kind != BinKind::Active || bin.closed || !usable(bin) {
                continue;
            }
            let z = match zone_of.iter().position(|z| *z == bin.zone) {
                Some(z) => z,
                None => {
                    zone_of.push(bin.zone);
                    zone_bins.push(Vec::new());
                    zone_of.len() - 1
                }
            };
            zone_bins[z].push(b);
        }
        let mut by_name: Vec<usize> = (0..zone_of.len()).collect();
        by_name.sort_by_key(|&z| (zone_of[z].is_none(), zone_of[z]));
        let zone_bins: Vec<Vec<usize>> = by_name
            .into_iter()
            .map(|z| std::mem::take(&mut zone_bins[z]))
            .collect();

        // Each spreading service's tasks on each candidate bin, in one pass: those listed on its
        // instance and those the simulation placed there.
        let mut on_bin: Vec<Vec<u32>> = vec![vec![0; self.bins.len()]; services.len()];
        for &b in zone_bins.iter().flatten() {
            let bin = &self.bins[b];
            for (s, n) in &bin.listed {
                if let Some(&k) = position.get(s) {
                    on_bin[k][b] += n;
                }
            }
            for &p in &bin.placed {
                let Some(item) = self.items.get(p).filter(|it| it.kind != ItemKind::Buffer) else {
                    continue;
                };
                if let Some(&k) = position.get(&item.service) {
                    on_bin[k][b] += 1;
                }
            }
        }

        let mut placed = Vec::new();
        for ((s, items), mut tasks) in services.into_iter().zip(on_bin) {
            let within = self
                .zones
                .within
                .get(s as usize)
                .copied()
                .unwrap_or_default();
            let mut counts: Vec<u32> = zone_bins
                .iter()
                .map(|bins| bins.iter().map(|&b| tasks[b]).sum())
                .collect();
            let mut heaps: Vec<BinaryHeap<Reverse<(u64, usize)>>> = Vec::new();
            let mut last = None;
            for i in items {
                let item = self.items[i];
                // A bin that refused a task refuses the same task again: rebuilt per kind, of
                // the bins that take it now (when scaling out most are full: filtering them
                // here costs a check each, popping them from the heap a logarithm each).
                if last != Some(item) {
                    heaps = zone_bins
                        .iter()
                        .map(|bins| {
                            bins.iter()
                                .filter(|&&b| self.may_place(b, &item))
                                .map(|&b| Reverse((self.rank(b, within, tasks[b]), b)))
                                .collect()
                        })
                        .collect();
                    last = Some(item);
                }
                let mut best: Option<usize> = None;
                for z in 0..heaps.len() {
                    while let Some(&Reverse((_, b))) = heaps[z].peek() {
                        if self.may_place(b, &item) {
                            break;
                        }
                        heaps[z].pop();
                    }
                    if !heaps[z].is_empty() && best.is_none_or(|bz| counts[z] < counts[bz]) {
                        best = Some(z);
                    }
                }
                let Some(z) = best else { continue };
                let Some(Reverse((_, b))) = heaps[z].pop() else {
                    continue;
                };
                self.put(b, i, &item);
                tasks[b] += 1;
                counts[z] += 1;
                heaps[z].push(Reverse((self.rank(b, within, tasks[b]), b)));
                placed.push(i);
            }
        }
        placed
    }

    /// A bin's rank within its zone, lowest first: by the rule, then the simulation's order.
    fn rank(&self, b: usize, within: WithinZone, tasks: u32) -> u64 {
        let free = self.bins[b].free;
        match within {
            WithinZone::FewestTasks => u64::from(tasks),
            WithinZone::BinpackCpu => u64::from(free.cpu),
            WithinZone::BinpackMemory => u64::from(free.memory),
            WithinZone::NoSpread | WithinZone::InOrder => 0,
        }
    }

    /// Takes the buffer out of the bin it was placed on, for a trial that places it again
    /// after the tasks ECS spreads (ECS does not know the buffer: it may take its room).
    /// Returns its index when it was placed.
    pub(super) fn lift_buffer(&mut self) -> Option<usize> {
        for b in 0..self.bins.len() {
            if let Some(&index) = self.bins[b].placed.iter().find(|&&p| {
                self.items
                    .get(p)
                    .is_some_and(|it| it.kind == ItemKind::Buffer)
            }) {
                let item = self.items[index];
                self.bins[b].give_back(b, index, &item);
                return Some(index);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use shared::messages::{CountChange, ServiceMetrics};
    use shared::resources::Resources;
    use shared::state::{ClusterState, ContainerInstance, InstanceStatus};

    use super::*;
    use crate::decide::fixtures::*;
    use crate::decide::{plan, plan_traced};

    const WEB: Resources = Resources::new(1024, 1024);

    fn in_zone(mut ci: ContainerInstance, zone: &str) -> ContainerInstance {
        ci.placement
            .attributes
            .insert("ecs.availability-zone".into(), zone.into());
        ci
    }

    /// `web` (1024 CPU tasks, ECS's default strategy) on instances of `tasks` web tasks each in
    /// `zones`, with a buffer of 2048 CPU; `web` wants `wanted` tasks.
    fn world(
        tasks: &[(usize, &str)],
        wanted: u32,
    ) -> (
        shared::definition::ClusterDefinition,
        ClusterState,
        BTreeMap<String, ServiceMetrics>,
    ) {
        let mut web = service("web", 1, 20, &["q"]);
        web.target_tracking = tracking("q", 1.0);
        let mut def = cluster(vec![web]);
        def.cpu_buffer = 2048;
        let running: usize = tasks.iter().map(|(n, _)| n).sum();
        let instances = tasks
            .iter()
            .enumerate()
            .map(|(i, &(n, zone))| {
                let ci = instance(
                    i as u32 + 1,
                    InstanceStatus::Active,
                    vec![task("web", WEB); n],
                );
                in_zone(ci, zone)
            })
            .collect();
        let st = state(
            vec![service_state("web", running as u32, WEB)],
            instances,
            0,
            10,
        );
        (def, st, metrics("web", &[("q", f64::from(wanted))], &[]))
    }

    /// Without zones: the same state, every instance in one zone (no attribute).
    fn one_zone(mut st: ClusterState) -> ClusterState {
        for ci in &mut st.instances {
            ci.placement.attributes.clear();
        }
        st
    }

    #[test]
    fn strategies_read_as_ecs_applies_them() {
        let s = |v: &[&str]| within_zone(&v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(
            s(&[]),
            WithinZone::FewestTasks,
            "ECS's default for services"
        );
        assert_eq!(
            s(&["spread:attribute:ecs.availability-zone"]),
            WithinZone::InOrder
        );
        assert_eq!(
            s(&["SPREAD:attribute:ECS.Availability-Zone", "binpack:memory"]),
            WithinZone::BinpackMemory
        );
        assert_eq!(
            s(&["spread:attribute:ecs.availability-zone", "binpack:CPU"]),
            WithinZone::BinpackCpu
        );
        assert_eq!(
            s(&[
                "spread:attribute:ecs.availability-zone",
                "spread:instanceId"
            ]),
            WithinZone::FewestTasks
        );
        assert_eq!(s(&["binpack:memory"]), WithinZone::NoSpread);
        assert_eq!(s(&["spread:instanceId"]), WithinZone::NoSpread);
        assert_eq!(
            s(&["binpack:memory", "spread:attribute:ecs.availability-zone"]),
            WithinZone::NoSpread,
            "packing decides first, the zone only breaks ties"
        );
        assert_eq!(s(&["random"]), WithinZone::NoSpread);
    }

    #[test]
    fn a_new_task_goes_to_the_zone_with_fewest_and_the_buffer_then_needs_an_instance() {
        // i-0001 (zone a) runs 2 web tasks, 2048 CPU free; i-0002 (zone b) runs 3, 1024 free.
        let (def, st, m) = world(&[(2, "eu-west-1a"), (3, "eu-west-1b")], 6);
        // Packed, the new task fills i-0002 and the buffer keeps i-0001's 2048: no launch.
        let packed = plan(&def, &m, &one_zone(st.clone()), now());
        assert_eq!(
            packed.actions.group_desired, None,
            "{:#?}",
            packed.decisions.headlines
        );
        // ECS puts it in zone a (2 tasks there against 3): 1024 left on each, no room for
        // the buffer.
        let (spread, packer) = plan_traced(&def, &m, &st, now());
        assert_eq!(
            spread.actions.group_desired,
            Some(CountChange { from: 2, to: 3 }),
            "{:#?}",
            spread.decisions.headlines
        );
        let spread_notes = |plan: &shared::messages::ScalingPlan| -> Vec<String> {
            plan.decisions
                .detail
                .capacity
                .iter()
                .flat_map(|c| &c.notes)
                .filter(|n| matches!(n, shared::messages::Reason::TasksSpreadOverZones { .. }))
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(
            spread_notes(&spread),
            ["1 new task(s) of `web` spread over 2 availability zones as ECS places them, before packing"]
        );
        assert!(spread_notes(&packed).is_empty(), "one zone: packed");
        let packer = packer.expect("a placement");
        let on = |i: usize| {
            packer
                .bins
                .iter()
                .find(|b| b.instance == Some(i))
                .map(|b| b.free)
        };
        assert_eq!(on(0), Some(Resources::new(1024, SIZE.memory - 3 * 1024)));
        assert_eq!(on(1), Some(Resources::new(1024, SIZE.memory - 3 * 1024)));
    }

    #[test]
    fn a_drain_whose_tasks_ecs_spreads_onto_the_buffers_room_is_not_made() {
        // i-0001 (zone b, 1 task) is the first candidate; i-0002 (zone b, 3 tasks), i-0003
        // (zone a, 2 tasks).
        let (def, st, m) = world(
            &[(1, "eu-west-1b"), (3, "eu-west-1b"), (2, "eu-west-1a")],
            6,
        );
        // Packed: its task fills i-0002, the buffer stays on i-0003.
        let packed = plan(&def, &m, &one_zone(st.clone()), now());
        let drained: Vec<&str> = packed
            .actions
            .drain
            .iter()
            .map(|d| d.instance.ec2_instance_id.as_str())
            .collect();
        assert_eq!(drained, ["i-0001"], "{:#?}", packed.decisions.headlines);
        // ECS sends it to zone a (2 against 3), onto the buffer's room; draining i-0003
        // instead sends both its tasks to i-0001 (fewest tasks in zone b), and i-0002's to
        // both zones: the buffer never fits.
        let spread = plan(&def, &m, &st, now());
        assert!(
            spread.actions.drain.is_empty(),
            "{:#?}",
            spread.decisions.headlines
        );
        let lines = instance_lines(&spread);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(
            lines.iter().all(|l| l.contains("buffer")),
            "every candidate kept for the buffer: {lines:#?}"
        );
    }

    #[test]
    fn spreading_is_best_effort_a_full_zone_sends_tasks_to_the_others() {
        // Zone a has the fewest tasks but no room: the two new tasks go to zone b's instance.
        let (mut def, mut st, m) = world(
            &[(0, "eu-west-1a"), (3, "eu-west-1b"), (1, "eu-west-1b")],
            6,
        );
        def.cpu_buffer = 0;
        st.instances[0].remaining = Resources::ZERO;
        st.instances[0].running_tasks = 1;
        st.instances[0].tasks = vec![task("other", SIZE)];
        let (plan, packer) = plan_traced(&def, &m, &st, now());
        assert_eq!(
            plan.actions.group_desired, None,
            "{:#?}",
            plan.decisions.headlines
        );
        let packer = packer.expect("a placement");
        let placed: Vec<usize> = packer.bins.iter().map(|b| b.placed.len()).collect();
        // Bins busiest first: i-0001 (full), i-0002 (3 tasks), i-0003 (1 task): in zone b, the
        // fewest web tasks first: i-0003 takes both.
        assert_eq!(placed, [0, 0, 2]);
    }

    #[test]
    fn within_the_zone_binpack_takes_the_instance_with_least_left() {
        let (mut def, mut st, m) = world(
            &[(1, "eu-west-1a"), (2, "eu-west-1a"), (3, "eu-west-1b")],
            7,
        );
        def.cpu_buffer = 0;
        // The placement of the scale-up alone (no consolidation trial after it).
        def.max_drain_per_cycle = Some(0);
        st.services[0].placement.placement_strategy = vec![
            "spread:attribute:ecs.availability-zone".into(),
            "binpack:memory".into(),
        ];
        // i-0001 has less memory left than i-0002 (a task of another service).
        st.instances[0].remaining.memory = 1024;
        let (_, packer) = plan_traced(&def, &m, &st, now());
        let packer = packer.expect("a placement");
        let placed = |i: usize| {
            packer
                .bins
                .iter()
                .find(|b| b.instance == Some(i))
                .map_or(0, |b| b.placed.len())
        };
        // Zone a (3 tasks) against zone b (3): a by name; there the least memory left, i-0001.
        assert_eq!((placed(0), placed(1), placed(2)), (1, 0, 0));
    }
}
