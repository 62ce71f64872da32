//! A service's needs and an instance's offer as the planner reads them from the cluster state
//! (the check itself, [`Needs::met_by`], is `shared::placement`'s), and what a new instance of
//! the group brings (its GPUs and attributes as far as the registered instances agree, less the
//! daemons' reservation). The packing simulation asks [`Needs::met_by`] for every placement.

use std::collections::BTreeSet;
use std::sync::Arc;

use shared::resources::Resources;

use super::packing::{Bin, BinKind};
pub(crate) use shared::placement::{Attributes, MemberOf, Needs, Offer};
use shared::state::{
    ClusterState, ContainerInstance, InstanceStatus, NetworkMode, Scheduling, ServiceState,
    AVAILABILITY_ZONE_ATTRIBUTE,
};

/// The needs of a service's tasks.
pub(crate) fn needs_of(s: &ServiceState) -> Needs {
    let p = &s.placement;
    let mut needs = Needs {
        ports: p.host_ports.clone(),
        gpus: s.gpu,
        member_of: Vec::new(),
        eni: p.network_mode == NetworkMode::Awsvpc,
        not_understood: p.unmodelled.clone(),
    };
    for text in &p.member_of {
        match MemberOf::parse(text) {
            Some(m) => needs.member_of.push(m),
            None => {
                needs
                    .not_understood
                    .get_or_insert_with(|| format!("constraint not understood: memberOf `{text}`"));
            }
        }
    }
    needs
}

/// Why the service cannot be planned (held at its count): its own `unmodelled`, or a `memberOf`
/// expression this model does not evaluate.
pub(crate) fn not_modelled(s: &ServiceState) -> Option<String> {
    needs_of(s).not_understood
}

/// The services whose tasks take an ENI each (`awsvpc` network mode), by name.
pub(crate) fn awsvpc_services(state: &ClusterState) -> std::collections::HashSet<&str> {
    state
        .services
        .iter()
        .filter(|s| s.placement.network_mode == NetworkMode::Awsvpc)
        .map(|s| s.name.as_str())
        .collect()
}

/// What an existing container instance offers (`awsvpc`: whether a service's tasks take an
/// ENI; counted only when `max_tasks_set` or its instance type has a limit).
pub(crate) fn offer_of(
    ci: &ContainerInstance,
    awsvpc: &dyn Fn(&str) -> bool,
    max_tasks_set: bool,
) -> Offer {
    let offer = Offer::of(ci);
    let listed = !(ci.tasks.is_empty() && ci.has_tasks());
    let eni_tasks = if !max_tasks_set && offer.eni_limit.is_none() {
        0
    } else if listed {
        let n = ci
            .tasks
            .iter()
            .filter(|t| t.service.as_deref().is_some_and(awsvpc))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    } else {
        // Unlisted tasks might all be awsvpc: count them all.
        ci.running_tasks.saturating_add(ci.pending_tasks)
    };
    Offer { eni_tasks, ..offer }
}

/// A bin for an instance not registered yet (booting, or launched by the plan): `size` less
/// the daemons' reservation, offering what a new instance offers.
pub(crate) fn fresh_bin(kind: BinKind, size: Resources, new: &NewInstance) -> Bin {
    let mut bin = Bin::empty(kind, size);
    bin.free = size.saturating_sub(new.daemons);
    bin.offer = new.offer.clone();
    bin
}

/// What every new (or booting) instance of the group brings, after its daemons.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NewInstance {
    /// What it offers besides CPU and memory.
    pub offer: Offer,
    /// CPU and memory the daemons reserve on it.
    pub daemons: Resources,
    /// The daemon services, for the record.
    pub daemon_services: Vec<String>,
}

/// A new instance of the group in availability zone `zone` ([`NewInstances::in_zone`]).
#[cfg(test)]
pub(crate) fn new_instance(
    state: &ClusterState,
    launch: &super::instances::NewSize,
    zone: Option<&str>,
) -> NewInstance {
    NewInstances::of(state, launch).in_zone(zone)
}

/// What the group's new instances bring, what does not depend on their zone read once.
pub(crate) struct NewInstances<'a> {
    state: &'a ClusterState,
    /// GPUs, those of the least the group may launch.
    gpus: u32,
    /// Attributes but the zone.
    attributes: Attributes,
    /// `awsvpc` tasks per instance.
    eni_limit: Option<u32>,
}

impl<'a> NewInstances<'a> {
    /// GPUs, those of `launch` (the least the group may launch, see `instances::new_size`), so
    /// that a plan never counts on GPUs a launch might not bring; attributes, those on which
    /// every registered instance agrees (the others unknown, all unknown without any registered
    /// instance), `ecs.instance-type` that of `launch` (unknown when the group may launch
    /// several); `awsvpc` tasks, the smallest limit of the registered instances' types (with
    /// none registered, the untrunked limit of the group's one type; none when no type is in
    /// the table).
    pub(crate) fn of(state: &'a ClusterState, launch: &super::instances::NewSize) -> Self {
        let registered: Vec<&ContainerInstance> = state
            .instances
            .iter()
            .filter(|ci| matches!(ci.status, InstanceStatus::Active | InstanceStatus::Draining))
            .collect();
        let mut attributes = Attributes {
            all_unknown: registered.is_empty(),
            ..Attributes::default()
        };
        if let Some(first) = registered.first() {
            let names: BTreeSet<&String> = registered
                .iter()
                .flat_map(|ci| ci.placement.attributes.keys())
                .collect();
            for name in names {
                let value = first.placement.attributes.get(name);
                if registered
                    .iter()
                    .all(|ci| ci.placement.attributes.get(name) == value)
                {
                    if let Some(v) = value {
                        attributes.values.insert(name.clone(), v.clone());
                    }
                } else {
                    attributes.unknown.insert(name.clone());
                }
            }
            // Our own bookkeeping attributes say nothing about a new instance.
            for own in [
                shared::state::DRAINED_AT_ATTRIBUTE,
                shared::state::DRAIN_ABORTED_AT_ATTRIBUTE,
            ] {
                attributes.values.remove(own);
                attributes.unknown.remove(own);
            }
        }
        super::instances::launch_type_onto(&mut attributes, launch);
        let eni_limit = if registered.is_empty() {
            launch
                .instance_type
                .as_deref()
                .and_then(|t| shared::eni::task_limit(t, false))
        } else {
            registered
                .iter()
                .filter_map(|ci| shared::eni::awsvpc_task_limit(&ci.placement.attributes))
                .min()
        };
        NewInstances {
            state,
            gpus: launch.gpus,
            attributes,
            eni_limit,
        }
    }

    /// A new instance in availability zone `zone` (`None`: not known, see `launch_zones`;
    /// where the registered instances are says nothing of where Auto Scaling launches), with
    /// every ACTIVE EC2 DAEMON service's task that may run there.
    pub(crate) fn in_zone(&self, zone: Option<&str>) -> NewInstance {
        let mut attributes = self.attributes.clone();
        let zone_name = AVAILABILITY_ZONE_ATTRIBUTE.to_owned();
        match zone {
            Some(z) => {
                attributes.unknown.remove(&zone_name);
                attributes.values.insert(zone_name, z.to_owned());
            }
            None => {
                attributes.values.remove(&zone_name);
                attributes.unknown.insert(zone_name);
            }
        }
        let mut new = NewInstance {
            offer: Offer {
                ports: Vec::new(),
                gpus: self.gpus,
                attributes: Arc::new(attributes),
                eni_tasks: 0,
                eni_limit: self.eni_limit,
            },
            ..NewInstance::default()
        };
        for s in self.state.services.iter().filter(|s| {
            s.status == "ACTIVE"
                && s.placement.scheduling == Scheduling::Daemon
                && s.placement.launch.on_instances()
        }) {
            let needs = needs_of(s);
            // A daemon whose constraints surely exclude the new instance does not run there;
            // one that might run there (an attribute unknown) is reserved, so no plan counts on
            // its room.
            let attributes = &new.offer.attributes;
            if needs
                .member_of
                .iter()
                .any(|m| m.holds(attributes) == Some(false))
                || new.offer.gpus < needs.gpus
            {
                continue;
            }
            needs.take_from(&mut new.offer);
            new.daemons = new.daemons.saturating_add(s.task_size);
            new.daemon_services.push(s.name.clone());
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_instance_reserves_the_daemons_that_may_run_there() {
        use crate::decide::fixtures::*;
        use shared::state::{HostPort, Scheduling};
        let mut a = instance(1, InstanceStatus::Active, vec![]);
        let mut b = instance(2, InstanceStatus::Active, vec![]);
        a.placement
            .attributes
            .insert("ecs.availability-zone".into(), "us-east-1a".into());
        b.placement
            .attributes
            .insert("ecs.availability-zone".into(), "us-east-1b".into());
        for ci in [&mut a, &mut b] {
            ci.placement
                .attributes
                .insert("ecs.instance-type".into(), "m5.large".into());
            ci.placement.gpus = 1;
        }
        b.placement.gpus = 2;
        let daemon = |name: &str, member_of: &str, gpu: u32, port: u16| {
            let mut s = service_state(name, 1, Resources::new(128, 64));
            s.placement.scheduling = Scheduling::Daemon;
            s.placement.host_ports = vec![HostPort::udp(port)];
            s.placement.member_of = (!member_of.is_empty())
                .then(|| member_of.to_owned())
                .into_iter()
                .collect();
            s.gpu = gpu;
            s
        };
        let st = state(
            vec![
                daemon("everywhere", "", 0, 8125),
                daemon(
                    "zone-a",
                    "attribute:ecs.availability-zone == us-east-1a",
                    0,
                    8126,
                ),
                daemon("not-m5", "attribute:ecs.instance-type != m5.large", 0, 8127),
                daemon("two-gpus", "", 2, 8128),
            ],
            vec![a, b],
            0,
            5,
        );
        let launch =
            super::super::instances::new_size(&super::super::fixtures::cluster(vec![]), &st);
        let new = new_instance(&st, &launch, None);
        assert_eq!(new.offer.gpus, 1, "the smallest GPU count of the group");
        assert_eq!(
            new.daemon_services,
            ["everywhere", "zone-a"],
            "the zone is unknown (the instances disagree): reserved; m5 is known: not-m5 is not"
        );
        assert_eq!(new.daemons, Resources::new(256, 128));
        assert_eq!(new.offer.ports, [HostPort::udp(8125), HostPort::udp(8126)]);
        assert_eq!(
            new.offer.attributes.get("ecs.instance-type"),
            Some(Some("m5.large"))
        );
        assert_eq!(new.offer.attributes.get("ecs.availability-zone"), None);
        let fresh = fresh_bin(BinKind::New, SIZE, &new);
        assert_eq!(fresh.free, SIZE.saturating_sub(Resources::new(256, 128)));
        // Auto Scaling's next launch is known to go to us-east-1b: zone-a's daemon is not there.
        let in_b = new_instance(&st, &launch, Some("us-east-1b"));
        assert_eq!(in_b.daemon_services, ["everywhere"]);
        assert_eq!(
            in_b.offer.attributes.get("ecs.availability-zone"),
            Some(Some("us-east-1b"))
        );
    }
}
