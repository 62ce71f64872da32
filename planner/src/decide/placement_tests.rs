//! Scenario tests of what ECS really schedules: host ports, GPUs, Fargate, daemons, `memberOf`,
//! ENIs, and services the model cannot judge.

use shared::messages::{CountChange, Reason, ScalingPlan, ServiceChange};
use shared::resources::Resources;
use shared::state::{
    ClusterState, HostPort, InstanceStatus, Launch, NetworkMode, Scheduling, ServiceState,
};

use super::fixtures::*;
use super::plan;

const SMALL: Resources = Resources::new(256, 256);

/// `web` tracking `q` (target 1, max 20), running `running` tasks of `size` on one instance per
/// entry of `per_instance` (each the number of `web` tasks there); `shape` edits the service.
fn world(
    per_instance: &[usize],
    size: Resources,
    shape: impl Fn(&mut ServiceState),
) -> (shared::definition::ClusterDefinition, ClusterState) {
    let mut def = service("web", 0, 20, &["q"]);
    def.target_tracking = tracking("q", 1.0);
    let running: usize = per_instance.iter().sum();
    let mut web = service_state("web", u32::try_from(running).unwrap_or(0), size);
    shape(&mut web);
    let instances = per_instance
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut ci = instance(
                u32::try_from(i).unwrap_or(0),
                InstanceStatus::Active,
                vec![task("web", size); n],
            );
            for _ in 0..n {
                ci.placement
                    .ports_in_use
                    .extend(web.placement.host_ports.iter().copied());
                ci.placement.gpus_free = ci.placement.gpus_free.saturating_sub(web.gpu);
            }
            ci
        })
        .collect();
    (cluster(vec![def]), state(vec![web], instances, 0, 10))
}

fn wants(n: f64) -> std::collections::BTreeMap<String, shared::messages::ServiceMetrics> {
    metrics("web", &[("q", n)], &[])
}

fn launched(plan: &ScalingPlan) -> u32 {
    plan.actions
        .group_desired
        .as_ref()
        .map_or(0, |c| c.to.saturating_sub(c.from))
}

fn unplaced(plan: &ScalingPlan) -> Vec<String> {
    plan.decisions
        .detail
        .capacity
        .iter()
        .flat_map(|c| c.unplaced.iter().map(ToString::to_string))
        .collect()
}

#[test]
fn a_static_host_port_takes_one_instance_per_task() {
    // Four tiny tasks would share one instance by CPU and memory; port 80 allows one each.
    let (def, st) = world(&[1], SMALL, |s| {
        s.placement.host_ports = vec![HostPort::tcp(80)];
    });
    let p = plan(&def, &wants(4.0), &st, now());
    assert_eq!(launched(&p), 3, "{:#?}", p.decisions.headlines);

    // The same tasks on dynamic ports (none static) all fit on the running instance.
    let (def, st) = world(&[1], SMALL, |_| {});
    assert_eq!(launched(&plan(&def, &wants(4.0), &st, now())), 0);

    // Another protocol on the same number is another port.
    let (def, mut st) = world(&[1], SMALL, |s| {
        s.placement.host_ports = vec![HostPort::tcp(80)];
    });
    st.instances[0].placement.ports_in_use = vec![HostPort::udp(80)];
    st.instances[0].tasks.clear();
    st.instances[0].running_tasks = 0;
    st.instances[0].remaining = SIZE;
    st.services[0].running = 0;
    st.services[0].desired = 0;
    let p = plan(&def, &wants(2.0), &st, now());
    assert_eq!(launched(&p), 1, "{:#?}", p.decisions.headlines);
}

#[test]
fn gpu_tasks_need_free_gpus_and_new_instances_bring_the_groups_count() {
    let gpu_world = |gpus: u32| {
        let (def, mut st) = world(&[0, 0], SMALL, |s| s.gpu = 1);
        for ci in &mut st.instances {
            ci.placement.gpus = gpus;
            ci.placement.gpus_free = gpus;
        }
        (def, st)
    };
    // Two instances of 2 GPUs take 4 one-GPU tasks; the fifth and sixth need a new instance.
    let (def, st) = gpu_world(2);
    let p = plan(&def, &wants(6.0), &st, now());
    assert_eq!(launched(&p), 1, "{:#?}", p.decisions.headlines);
    let (def, st) = gpu_world(2);
    assert_eq!(launched(&plan(&def, &wants(4.0), &st, now())), 0);

    // Instances without GPUs never take them, and launching more of them would not help.
    let (def, st) = gpu_world(0);
    let p = plan(&def, &wants(2.0), &st, now());
    assert_eq!(launched(&p), 0);
    let why = unplaced(&p);
    assert!(
        why.iter()
            .any(|l| l.contains("2 task(s) of `web` unplaceable") && l.contains("GPU")),
        "{why:#?}"
    );
    // Unplaceable tasks do not count as a shortage that holds consolidation back.
    assert!(!p
        .decisions
        .detail
        .capacity
        .iter()
        .flat_map(|c| &c.notes)
        .any(|n| *n == Reason::ConsolidationWhileScalingUp));
}

#[test]
fn fargate_services_are_scaled_without_instance_demand() {
    for launch in [
        Launch::Fargate,
        Launch::CapacityProviders {
            providers: vec!["FARGATE_SPOT".into(), "other".into()],
        },
    ] {
        let (def, st) = world(&[4], Resources::new(1024, 2048), |s| {
            s.placement.launch = launch.clone();
        });
        let p = plan(&def, &wants(12.0), &st, now());
        assert_eq!(
            p.actions.services,
            vec![ServiceChange {
                service: "web".into(),
                from: 4,
                to: 12
            }]
        );
        assert_eq!(
            p.actions.group_desired, None,
            "{:#?}",
            p.decisions.headlines
        );
        assert!(p.decisions.detail.services[0]
            .reasons
            .iter()
            .any(|r| matches!(r, Reason::NoInstanceDemand { .. })));
    }
}

#[test]
fn daemons_are_never_scaled_and_reserve_room_on_new_instances() {
    let (mut def, mut st) = world(&[4], Resources::new(1024, 1024), |_| {});
    // A daemon named in the file: its count is left alone whatever the metrics say.
    let mut agent = service_state("agent", 1, Resources::new(1024, 512));
    agent.placement.scheduling = Scheduling::Daemon;
    let mut agent_def = service("agent", 0, 20, &["q"]);
    agent_def.target_tracking = tracking("q", 1.0);
    def.services.push(agent_def);
    st.services.push(agent);
    let mut m = wants(8.0);
    m.extend(metrics("agent", &[("q", 9.0)], &[]));
    let p = plan(&def, &m, &st, now());
    assert!(p.actions.services.iter().all(|c| c.service != "agent"));
    let agent_decision = p
        .decisions
        .detail
        .services
        .iter()
        .find(|d| d.service == "agent")
        .expect("agent decided");
    assert_eq!(agent_decision.reasons, vec![Reason::DaemonNotScaled]);
    // Four more 1024-CPU tasks: an instance of 4096 CPU would take all four, but the daemon
    // takes 1024 of every new one: two instances.
    assert_eq!(launched(&p), 2, "{:#?}", p.decisions.headlines);
    assert!(p
        .decisions
        .detail
        .capacity
        .iter()
        .flat_map(|c| &c.notes)
        .any(|n| matches!(n, Reason::DaemonsReserved { services, .. } if services == &["agent"])));
}

#[test]
fn member_of_instance_type_places_only_on_matching_instances() {
    let typed = |st: &mut ClusterState, types: &[&str]| {
        for (ci, t) in st.instances.iter_mut().zip(types) {
            ci.placement
                .attributes
                .insert("ecs.instance-type".into(), (*t).into());
        }
    };
    let constrained = |s: &mut ServiceState| {
        s.placement.member_of = vec!["attribute:ecs.instance-type == g4dn.xlarge".into()];
    };
    // Room on the m5 instance is not room for a task that must run on g4dn.
    let (def, mut st) = world(&[0, 0], SMALL, constrained);
    typed(&mut st, &["m5.large", "g4dn.xlarge"]);
    st.instances[1].remaining = SMALL; // one task's room on the g4dn instance
    let p = plan(&def, &wants(2.0), &st, now());
    // New instances' type is unknown (the group's instances disagree): never counted on.
    assert_eq!(launched(&p), 0, "{:#?}", p.decisions.headlines);
    let why = unplaced(&p);
    assert!(
        why.iter()
            .any(|l| l.contains("1 task(s) of `web` unplaceable") && l.contains("not known")),
        "{why:#?}"
    );

    // A group of g4dn instances only: a new one is g4dn too.
    let (def, mut st) = world(&[0, 0], SMALL, constrained);
    typed(&mut st, &["g4dn.xlarge", "g4dn.xlarge"]);
    for ci in &mut st.instances {
        ci.remaining = SMALL;
    }
    let p = plan(&def, &wants(3.0), &st, now());
    assert_eq!(launched(&p), 1, "{:#?}", p.decisions.headlines);
    assert!(unplaced(&p).is_empty());
}

/// The instances of `st` in `zones` (attribute and group member), the group over `group_zones`.
fn in_zones(st: &mut ClusterState, zones: &[&str], group_zones: &[&str]) {
    let group = st.group.as_mut().expect("a group");
    group.availability_zones = group_zones.iter().map(|z| z.to_string()).collect();
    for ((ci, gi), zone) in st.instances.iter_mut().zip(&mut group.instances).zip(zones) {
        ci.placement
            .attributes
            .insert("ecs.availability-zone".into(), (*zone).into());
        gi.availability_zone = Some((*zone).into());
    }
}

/// `web` may run only in eu-west-1a.
fn in_zone_a(s: &mut ServiceState) {
    s.placement.member_of = vec!["attribute:ecs.availability-zone == eu-west-1a".into()];
}

#[test]
fn a_zone_bound_service_gets_an_instance_where_auto_scaling_launches_next() {
    // i-0000 in a (full), i-0001 and i-0002 in b: Auto Scaling launches in a (1 against 2).
    let (def, mut st) = world(&[0, 0, 0], SMALL, in_zone_a);
    in_zones(
        &mut st,
        &["eu-west-1a", "eu-west-1b", "eu-west-1b"],
        &["eu-west-1a", "eu-west-1b"],
    );
    st.instances[0].remaining = Resources::ZERO;
    let p = plan(&def, &wants(1.0), &st, now());
    assert_eq!(launched(&p), 1, "{:#?}", p.decisions.headlines);
    assert!(unplaced(&p).is_empty(), "{:#?}", unplaced(&p));

    // a and b tie at one instance each (c has two): the next launch may go to either.
    let (def, mut st) = world(&[0, 0, 0, 0], SMALL, in_zone_a);
    in_zones(
        &mut st,
        &["eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1c"],
        &["eu-west-1a", "eu-west-1b", "eu-west-1c"],
    );
    st.instances[0].remaining = Resources::ZERO;
    let p = plan(&def, &wants(1.0), &st, now());
    assert_eq!(launched(&p), 0, "{:#?}", p.decisions.headlines);
    let why = unplaced(&p);
    assert!(
        why.iter()
            .any(|l| l.contains("`ecs.availability-zone` is not known")),
        "{why:#?}"
    );
}

#[test]
fn no_instance_is_launched_for_a_zone_auto_scaling_will_not_launch_in() {
    // Both instances in a (full), none in b: every registered instance agrees on a, yet Auto
    // Scaling launches the next one in b.
    let (def, mut st) = world(&[0, 0], SMALL, in_zone_a);
    in_zones(
        &mut st,
        &["eu-west-1a", "eu-west-1a"],
        &["eu-west-1a", "eu-west-1b"],
    );
    for ci in &mut st.instances {
        ci.remaining = Resources::ZERO;
    }
    let p = plan(&def, &wants(1.0), &st, now());
    assert_eq!(launched(&p), 0, "{:#?}", p.decisions.headlines);
    let why = unplaced(&p);
    assert!(
        why.iter()
            .any(|l| l.contains("1 task(s) of `web` unplaceable")
                && l.contains("ecs.availability-zone is eu-west-1b")),
        "{why:#?}"
    );
}

#[test]
fn a_booting_instance_brings_its_own_zone() {
    // i-0000 in a (full), i-0001 in b; i-0100 boots in a: the task waits for it.
    let (def, mut st) = world(&[0, 0], SMALL, in_zone_a);
    in_zones(
        &mut st,
        &["eu-west-1a", "eu-west-1b"],
        &["eu-west-1a", "eu-west-1b"],
    );
    st.instances[0].remaining = Resources::ZERO;
    let group = st.group.as_mut().expect("a group");
    let mut booting = group_instance("i-0100", "Pending");
    booting.availability_zone = Some("eu-west-1a".into());
    group.instances.push(booting);
    group.desired += 1;
    let p = plan(&def, &wants(1.0), &st, now());
    assert_eq!(launched(&p), 0, "{:#?}", p.decisions.headlines);
    assert!(unplaced(&p).is_empty(), "{:#?}", unplaced(&p));
    // Booting in b instead: a launch goes to a (1 against 2) and takes it.
    let group = st.group.as_mut().expect("a group");
    if let Some(b) = group.instances.last_mut() {
        b.availability_zone = Some("eu-west-1b".into());
    }
    let p = plan(&def, &wants(1.0), &st, now());
    assert_eq!(launched(&p), 1, "{:#?}", p.decisions.headlines);
    assert!(unplaced(&p).is_empty(), "{:#?}", unplaced(&p));
}

#[test]
fn awsvpc_tasks_are_limited_per_instance() {
    let (mut def, st) = world(&[2], SMALL, |s| {
        s.placement.network_mode = NetworkMode::Awsvpc;
    });
    def.max_tasks_per_instance = Some(3);
    // 2 running + 4 more, at most 3 per instance: 1 fits there, 3 on a new one.
    let p = plan(&def, &wants(6.0), &st, now());
    assert_eq!(
        p.actions.group_desired,
        Some(CountChange { from: 1, to: 2 }),
        "{:#?}",
        p.decisions.headlines
    );
    def.max_tasks_per_instance = None;
    assert_eq!(launched(&plan(&def, &wants(6.0), &st, now())), 0);
}

#[test]
fn awsvpc_tasks_are_limited_by_the_eni_table_unless_the_key_says_otherwise() {
    let typed = |instance_type: &str, trunk: bool| {
        let (def, mut st) = world(&[2], SMALL, |s| {
            s.placement.network_mode = NetworkMode::Awsvpc;
        });
        let a = &mut st.instances[0].placement.attributes;
        a.insert("ecs.instance-type".into(), instance_type.into());
        if trunk {
            a.insert("ecs.awsvpc-trunk-id".into(), "eni-0123".into());
        }
        (def, st)
    };
    let eni_note = |p: &ScalingPlan| {
        p.decisions
            .headlines
            .iter()
            .any(|l| l.contains("ENI limit unknown"))
    };
    // m5.large: 3 ENIs, 2 awsvpc tasks; 2 run, 4 more need two new instances by ENIs (one by size).
    let (mut def, st) = typed("m5.large", false);
    let p = plan(&def, &wants(6.0), &st, now());
    assert_eq!(launched(&p), 2, "{:#?}", p.decisions.headlines);
    assert!(!eni_note(&p));
    // Trunked: 10 per instance, no launch.
    let (_, trunked) = typed("m5.large", true);
    assert_eq!(launched(&plan(&def, &wants(6.0), &trunked, now())), 0);
    // The key overrides the table.
    def.max_tasks_per_instance = Some(6);
    assert_eq!(launched(&plan(&def, &wants(6.0), &st, now())), 0);
    def.max_tasks_per_instance = None;
    // A type not in the table: not limited, and the record says so.
    let (def, unknown) = typed("x2iezn.2xlarge", false);
    let p = plan(&def, &wants(6.0), &unknown, now());
    assert_eq!(launched(&p), 0, "{:#?}", p.decisions.headlines);
    assert!(eni_note(&p), "{:#?}", p.decisions.headlines);
}

#[test]
fn services_the_model_cannot_judge_are_held_and_the_rest_is_planned() {
    let (mut def, mut st) = world(&[1], SMALL, |s| {
        s.placement.member_of = vec!["attribute:ecs.instance-type =~ g4dn.*".into()];
        s.desired = 3; // two tasks ECS has not placed yet
    });
    let mut other = service("other", 0, 20, &["q"]);
    other.target_tracking = tracking("q", 1.0);
    def.services.push(other);
    st.services
        .push(service_state("other", 0, Resources::new(4096, 4096)));
    let mut m = wants(10.0);
    m.extend(metrics("other", &[("q", 1.0)], &[]));
    let p = plan(&def, &m, &st, now());
    assert_eq!(
        p.actions.services,
        vec![ServiceChange {
            service: "other".into(),
            from: 0,
            to: 1
        }],
        "web is held at its count"
    );
    let web = &p.decisions.detail.services[0];
    assert!(
        matches!(&web.reasons[..], [Reason::ServiceNotModelled { why }] if why.contains("constraint not understood")),
        "{:?}",
        web.reasons
    );
    // web's unplaced tasks are unplaceable (no guess), other's task gets an instance.
    assert_eq!(launched(&p), 1, "{:#?}", p.decisions.headlines);
    assert!(unplaced(&p)
        .iter()
        .any(|l| l.contains("2 task(s) of `web` unplaceable: constraint not understood")));

    // An unknown network mode or an unread task definition holds the same way.
    let (def, st) = world(&[1], SMALL, |s| {
        s.placement.unmodelled = Some("network mode `nat` not understood".into());
    });
    let p = plan(&def, &wants(5.0), &st, now());
    assert!(p.actions.services.is_empty());
    assert_eq!(launched(&p), 0);
}

#[test]
fn a_group_with_an_ecs_capacity_provider_is_left_alone() {
    let (def, mut st) = world(&[4], Resources::new(1024, 1024), |_| {});
    let p = plan(&def, &wants(12.0), &st, now());
    assert!(p.has_actions, "the same cluster without the tag scales");
    if let Some(g) = st.group.as_mut() {
        g.ecs_managed = true;
    }
    let p = plan(&def, &wants(12.0), &st, now());
    assert!(!p.has_actions, "{:#?}", p.decisions.headlines);
    assert_eq!(
        p.decisions.detail.cluster,
        vec![Reason::GroupManagedByEcs {
            group: "asg".into()
        }]
    );
}

mod invariants {
    use proptest::prelude::*;

    use super::*;
    use crate::decide::packing::{BinKind, ItemKind};
    use crate::decide::plan_traced;

    /// A service: (tasks wanted, CPU, host port or none, GPUs).
    type Spec = (u32, u32, Option<u16>, u32);

    fn cluster_of(
        specs: &[Spec],
        instances: usize,
        gpus: u32,
    ) -> (shared::definition::ClusterDefinition, ClusterState) {
        let mut defs = Vec::new();
        let mut services = Vec::new();
        for (i, &(_, cpu, port, gpu)) in specs.iter().enumerate() {
            let name = format!("s{i}");
            let mut d = service(&name, 0, 40, &["q"]);
            d.target_tracking = tracking("q", 1.0);
            defs.push(d);
            let mut s = service_state(&name, 0, Resources::new(cpu, 256));
            s.running = 0;
            s.placement.host_ports = port.map(HostPort::tcp).into_iter().collect();
            s.gpu = gpu;
            services.push(s);
        }
        let instances = (0..instances)
            .map(|n| {
                let mut ci = instance(
                    u32::try_from(n).unwrap_or(0),
                    InstanceStatus::Active,
                    vec![],
                );
                ci.placement.gpus = gpus;
                ci.placement.gpus_free = gpus;
                ci.placement.ports_in_use = vec![HostPort::tcp(22)];
                ci
            })
            .collect();
        (cluster(defs), state(services, instances, 0, 30))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// No plan puts two tasks binding one host port on one instance (nor on a port in use
        /// there), nor gives an instance more GPUs than it has free.
        #[test]
        fn plans_never_share_a_host_port_nor_exceed_gpus(
            specs in proptest::collection::vec(
                (1u32..8, 128u32..2048, proptest::option::of(prop_oneof![Just(22u16), Just(80), Just(443)]), 0u32..3),
                1..5,
            ),
            instances in 0usize..4,
            gpus in 0u32..4,
        ) {
            let (def, st) = cluster_of(&specs, instances, gpus);
            let mut m = std::collections::BTreeMap::new();
            for (i, &(wanted, ..)) in specs.iter().enumerate() {
                m.extend(metrics(&format!("s{i}"), &[("q", f64::from(wanted))], &[]));
            }
            let (_, packer) = plan_traced(&def, &m, &st, now());
            let Some(packer) = packer else { return Ok(()) };
            for (b, bin) in packer.bins.iter().enumerate() {
                let (mut ports, free_gpus) = match (bin.kind, bin.instance) {
                    (BinKind::Active | BinKind::Draining, Some(i)) => (
                        st.instances[i].placement.ports_in_use.clone(),
                        st.instances[i].placement.gpus_free,
                    ),
                    _ => (packer.new_instance.offer.ports.clone(), packer.new_instance.offer.gpus),
                };
                let mut used_gpus = 0u32;
                for &p in &bin.placed {
                    let item = packer.items[p];
                    if item.kind == ItemKind::Buffer || item.origin == Some(b) {
                        continue;
                    }
                    let needs = packer.needs(&item);
                    used_gpus += needs.gpus;
                    for port in &needs.ports {
                        prop_assert!(!ports.contains(port), "port {} twice on bin {}", port, b);
                        ports.push(*port);
                    }
                }
                prop_assert!(used_gpus <= free_gpus, "bin {} gives {} of {} GPUs", b, used_gpus, free_gpus);
            }
        }
    }
}
