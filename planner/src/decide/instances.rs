//! The cluster's instances as the placement simulation sees them: a new one's size, those booting, the bins.

use std::collections::HashMap;

use shared::definition::ClusterDefinition;
use shared::messages::Reason;
use shared::resources::Resources;
use shared::state::{
    ClusterState, ContainerInstance, GroupState, InstanceStatus, Scheduling,
    AVAILABILITY_ZONE_ATTRIBUTE, INSTANCE_TYPE_ATTRIBUTE,
};

use super::launch_zones::LaunchZones;
use super::packing::{Bin, BinKind, Packer};
use super::placement::{fresh_bin, needs_of, offer_of, NewInstance, NewInstances};
use super::services::{FastMap, ServiceTable};
use super::standing::Standing;
use super::zones::{within_zone, WithinZone, Zones};

/// The size of a new instance ([`new_size`]'s CPU and memory).
pub(crate) fn instance_size(def: &ClusterDefinition, state: &ClusterState) -> Option<Resources> {
    new_size(def, state).resources
}

/// What a new instance is counted on to bring: the least, dimension by dimension, of what each
/// instance type the group may launch brings, so that no plan counts on room a launch might
/// not bring.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct NewSize {
    /// CPU and memory; `None` when nothing tells.
    pub resources: Option<Resources>,
    /// GPUs.
    pub gpus: u32,
    /// The instance type, when the group launches only one.
    pub instance_type: Option<String>,
    /// The group may launch several types (or it is not known which).
    pub type_unknown: bool,
    /// The group's types are known (from its launch template, configuration or overrides).
    pub types_known: bool,
}

/// A new instance's size. A type's size is that of the registered instances of that type
/// (their least), else the file's `instance_capacity`, else EC2's description of the type
/// (`shared::state::type_capacity`). When the group's types are not known (attribute-based
/// selection), or a type's size cannot be told, the registered instances stand for what the
/// group launches: the file's `instance_capacity` when set, else the least of the registered
/// instances.
pub(crate) fn new_size(def: &ClusterDefinition, state: &ClusterState) -> NewSize {
    let registered: Vec<&ContainerInstance> = state
        .instances
        .iter()
        .filter(|ci| {
            matches!(ci.status, InstanceStatus::Active | InstanceStatus::Draining)
                && !ci.registered.is_zero()
        })
        .collect();
    let least = |of: &[&ContainerInstance]| -> Option<(Resources, u32)> {
        of.iter().fold(None, |acc, ci| {
            let this = (ci.registered, ci.placement.gpus);
            Some(acc.map_or(this, |a: (Resources, u32)| smaller(a, this)))
        })
    };
    let fallback = || -> Option<(Resources, u32)> {
        let seen = least(&registered);
        match def.instance_capacity {
            Some(size) => Some((size, seen.map_or(0, |(_, g)| g))),
            None => seen,
        }
    };
    let types = state
        .group
        .as_ref()
        .map(|g| g.launch.instance_types.as_slice())
        .unwrap_or_default();
    let mut size = None;
    let mut unknown_type = types.is_empty();
    for t in types {
        let of_type: Vec<&ContainerInstance> = registered
            .iter()
            .copied()
            .filter(|ci| ci.placement.attributes.get(INSTANCE_TYPE_ATTRIBUTE) == Some(t))
            .collect();
        let described = state
            .group
            .as_ref()
            .and_then(|g| g.launch.described.get(t))
            .map(|c| (c.resources, c.gpus));
        let this = least(&of_type).or_else(|| {
            def.instance_capacity
                .map(|c| (c, described.map_or(0, |d| d.1)))
                .or(described)
        });
        match this {
            Some(this) => size = Some(size.map_or(this, |s| smaller(s, this))),
            None => unknown_type = true,
        }
    }
    if unknown_type {
        if let Some(this) = fallback() {
            size = Some(size.map_or(this, |s| smaller(s, this)));
        }
    }
    NewSize {
        resources: size.map(|(r, _)| r),
        gpus: size.map_or(0, |(_, g)| g),
        instance_type: match types {
            [only] => Some(only.clone()),
            _ => None,
        },
        type_unknown: types.len() != 1,
        types_known: !types.is_empty(),
    }
}

/// A new instance's `ecs.instance-type`: the group's only type, unknown when it may launch
/// several; when the types are not known, what the registered instances agree on stands.
pub(crate) fn launch_type_onto(attributes: &mut super::placement::Attributes, launch: &NewSize) {
    let name = INSTANCE_TYPE_ATTRIBUTE.to_owned();
    if let Some(t) = &launch.instance_type {
        attributes.unknown.remove(&name);
        attributes.values.insert(name, t.clone());
    } else if launch.type_unknown && launch.types_known {
        attributes.values.remove(&name);
        attributes.unknown.insert(name);
    }
}

/// The least of two sizes, dimension by dimension.
fn smaller(a: (Resources, u32), b: (Resources, u32)) -> (Resources, u32) {
    (
        Resources::new(a.0.cpu.min(b.0.cpu), a.0.memory.min(b.0.memory)),
        a.1.min(b.1),
    )
}

/// Capacity on its way: instances of the group that will become container instances.
#[derive(Debug, Default)]
pub(crate) struct Booting {
    /// How many.
    pub count: u32,
    /// The availability zone of each, when known: a launched instance's own, else where Auto
    /// Scaling's rule puts it (`launch_zones`).
    pub zones: Vec<Option<String>>,
    /// Instances of the group without a container instance that are not counted, and why.
    pub not_counted: Vec<Reason>,
}

/// Instances of the group that will become container instances: those launched but not
/// registered yet (or still REGISTERING), plus those the group has yet to launch to reach
/// its desired capacity. Not counted: an instance in a lifecycle hook (`Pending:Wait`), and an
/// InService one that has not registered within `registration_grace` of its launch (a broken
/// agent, the wrong cluster in its user data), which would otherwise absorb scale-ups forever.
pub(crate) fn booting(
    def: &ClusterDefinition,
    state: &ClusterState,
    group: &GroupState,
    now_secs: u64,
    launch_zones: &mut LaunchZones,
) -> Booting {
    let live = |s: &str| s.starts_with("Pending") || s == "InService";
    let by_ec2: HashMap<&str, &ContainerInstance> = state
        .instances
        .iter()
        .map(|ci| (ci.ec2_instance_id.as_str(), ci))
        .collect();
    let registering = |ci: &&ContainerInstance| matches!(&ci.status, InstanceStatus::Other(s) if s == "REGISTERING");
    let grace = def.registration_grace.as_secs();
    let mut out = Booting::default();
    let mut launched = 0u32;
    for gi in group
        .instances
        .iter()
        .filter(|gi| live(&gi.lifecycle_state))
    {
        launched = launched.saturating_add(1);
        if !by_ec2.get(gi.instance_id.as_str()).is_none_or(registering) {
            continue;
        }
        if gi.lifecycle_state == "Pending:Wait" {
            out.not_counted.push(Reason::BootingNotCounted {
                instance_id: gi.instance_id.clone(),
                lifecycle: gi.lifecycle_state.clone(),
            });
            continue;
        }
        let age = gi
            .launched_at_epoch_secs
            .filter(|_| gi.in_service())
            .map(|at| now_secs.saturating_sub(at));
        match age {
            Some(secs) if secs > grace => out.not_counted.push(Reason::NeverRegistered {
                instance_id: gi.instance_id.clone(),
                secs,
                grace_secs: grace,
            }),
            _ => {
                out.count = out.count.saturating_add(1);
                out.zones.push(gi.availability_zone.clone());
            }
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
    let to_launch = group.desired.saturating_sub(launched);
    out.count = out.count.saturating_add(to_launch);
    out.zones
        .extend((0..to_launch).map(|_| launch_zones.next()));
    out
}

/// Bins in the order they are tried: ACTIVE (busiest first, so scale-ups fill them and
/// leave the emptiest free to consolidate), booting, DRAINING (roomiest first). Only
/// instances that are ours ([`Standing`]) are bins: nothing else is capacity. Booting bins
/// offer what a new instance does (after its daemons); each service's needs are indexed as
/// `table` numbers them.
pub(crate) fn bins(
    def: &ClusterDefinition,
    state: &ClusterState,
    standings: &[Standing],
    table: &ServiceTable,
    size: Option<Resources>,
    booting: &[Option<String>],
    launch_zones: &LaunchZones,
) -> (Packer, FastMap<usize, usize>) {
    let launch = new_size(def, state);
    let new_instances = NewInstances::of(state, &launch);
    let new_instance = new_instances.in_zone(None);
    // Booting instances in each zone bring what a new one there does.
    let mut in_zone: Vec<(&str, NewInstance)> = Vec::new();
    for zone in booting.iter().flatten() {
        if !in_zone.iter().any(|(z, _)| z == zone) {
            in_zone.push((zone, new_instances.in_zone(Some(zone))));
        }
    }
    let new_in_zone = launch_zones
        .run()
        .map(|(zone, launches)| (new_instances.in_zone(Some(&zone)), launches));
    let awsvpc = super::placement::awsvpc_services(state);
    let is_awsvpc = |name: &str| awsvpc.contains(name);
    let eni_limited = def.max_tasks_per_instance.is_some();
    let scale = size.unwrap_or(Resources::new(1, 1));
    let by_standing = |standing: Standing| -> Vec<usize> {
        (0..state.instances.len())
            .filter(|&i| standings.get(i) == Some(&standing))
            .collect()
    };
    let mut active = by_standing(Standing::Active);
    active.sort_by(|&a, &b| {
        let (x, y) = (&state.instances[a], &state.instances[b]);
        share(y.used(), scale)
            .total_cmp(&share(x.used(), scale))
            .then(x.arn.cmp(&y.arn))
    });
    let mut draining = by_standing(Standing::Draining);
    draining.sort_by(|&a, &b| {
        let (x, y) = (&state.instances[a], &state.instances[b]);
        share(y.remaining, scale)
            .total_cmp(&share(x.remaining, scale))
            .then(x.arn.cmp(&y.arn))
    });
    let any_distinct = table.any_distinct();
    let zones = zones(state, standings, table);
    let spreading = zones.count >= 2;
    // Zone names in order: a bin's zone is its index here.
    let zone_names: std::collections::BTreeSet<&str> = state
        .instances
        .iter()
        .filter_map(|ci| ci.placement.attribute(AVAILABILITY_ZONE_ATTRIBUTE))
        .collect();
    let zone_index = |ci: &ContainerInstance| {
        let name = ci.placement.attribute(AVAILABILITY_ZONE_ATTRIBUTE)?;
        let z = zone_names.iter().position(|n| *n == name)?;
        u32::try_from(z).ok()
    };
    let instance_bin = |i: usize, kind: BinKind| {
        let ci = &state.instances[i];
        let mut bin = Bin::empty(kind, ci.registered);
        bin.instance = Some(i);
        bin.free = ci.remaining;
        bin.hosts_unknown = !tasks_known(ci);
        bin.offer = offer_of(ci, &is_awsvpc, eni_limited);
        bin.zone = zone_index(ci);
        if spreading || any_distinct {
            // One lookup per task for both.
            for t in &ci.tasks {
                let Some(s) = t.service.as_deref().and_then(|n| table.get(n)) else {
                    continue;
                };
                if spreading
                    && zones
                        .within
                        .get(s as usize)
                        .is_some_and(|w| *w != WithinZone::NoSpread)
                {
                    match bin.listed.iter_mut().find(|(x, _)| *x == s) {
                        Some((_, n)) => *n += 1,
                        None => bin.listed.push((s, 1)),
                    }
                }
                if any_distinct && table.distinct(s) && !bin.hosts.contains(&s) {
                    bin.hosts.push(s);
                }
            }
        }
        bin
    };
    let mut bins: Vec<Bin> = active
        .iter()
        .map(|&i| instance_bin(i, BinKind::Active))
        .collect();
    if let Some(size) = size {
        bins.extend(booting.iter().map(|zone| {
            let new = zone
                .as_deref()
                .and_then(|z| in_zone.iter().find(|(x, _)| *x == z))
                .map_or(&new_instance, |(_, new)| new);
            fresh_bin(BinKind::Booting, size, new)
        }));
    }
    bins.extend(draining.iter().map(|&i| instance_bin(i, BinKind::Draining)));
    let bin_of = bins
        .iter()
        .enumerate()
        .filter_map(|(b, bin)| bin.instance.map(|i| (i, b)))
        .collect();
    let packer = Packer {
        bins,
        items: Vec::new(),
        new_size: size,
        new_limit: 0,
        new_opened: 0,
        needs: needs_table(state, table),
        new_instance,
        new_in_zone,
        eni_limit: def.max_tasks_per_instance,
        zones,
        spread_placed: Vec::new(),
    };
    (packer, bin_of)
}

/// Which services spread over availability zones (EC2 REPLICA services whose strategy does,
/// or that have none: see `zones`), by their index in `table`, and how many zones the ACTIVE
/// instances that are ours span (an instance without the attribute counts as a zone).
fn zones(state: &ClusterState, standings: &[Standing], table: &ServiceTable) -> Zones {
    let mut within = Vec::new();
    for s in &state.services {
        let Some(i) = table.get(&s.name) else {
            continue;
        };
        let i = i as usize;
        if within.len() <= i {
            within.resize(i + 1, WithinZone::NoSpread);
        }
        if s.placement.scheduling == Scheduling::Replica && s.placement.launch.on_instances() {
            within[i] = within_zone(&s.placement.placement_strategy);
        }
    }
    let distinct: std::collections::BTreeSet<Option<&str>> = state
        .instances
        .iter()
        .zip(standings)
        .filter(|(_, s)| **s == Standing::Active)
        .map(|(ci, _)| ci.placement.attribute(AVAILABILITY_ZONE_ATTRIBUTE))
        .collect();
    Zones {
        within,
        count: u32::try_from(distinct.len()).unwrap_or(u32::MAX),
    }
}

/// Each service's needs, by its index in `table` (services of the table not in the state need
/// nothing beyond CPU and memory).
fn needs_table(state: &ClusterState, table: &ServiceTable) -> Vec<super::placement::Needs> {
    let mut needs = Vec::new();
    for s in &state.services {
        if let Some(i) = table.get(&s.name) {
            let i = i as usize;
            if needs.len() <= i {
                needs.resize(i + 1, Default::default());
            }
            needs[i] = needs_of(s);
        }
    }
    needs
}

/// Whether the instance's tasks are listed: ECS gives `runningTasksCount`, the reader lists
/// the tasks; an empty list with tasks counted means they are unknown.
pub(crate) fn tasks_known(ci: &ContainerInstance) -> bool {
    !(ci.tasks.is_empty() && ci.has_tasks())
}

/// Share of an instance, summed over both dimensions (for ordering).
pub(crate) fn share(r: Resources, scale: Resources) -> f64 {
    f64::from(r.cpu) / f64::from(scale.cpu.max(1))
        + f64::from(r.memory) / f64::from(scale.memory.max(1))
}
