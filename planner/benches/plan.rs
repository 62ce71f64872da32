//! Plan time of the pure core on a large cluster: 1,000 instances, 200 services, 20,000
//! tasks (goal: ≤ 10 ms median in release on a 2-core machine).
//!
//! `scale_up`: every other service scales up by 50–56 tasks (5,300 tasks to place, about 50
//! instances to launch).
//! `steady`: nothing changes (consolidation examines its candidates).
//! `scale_up_3az`: `scale_up` with the instances over three availability zones, so that every
//! service's new tasks are spread over them first (ECS's default strategy).
//! `scale_up_ports_constraints`: `scale_up` with a quarter of the services binding a host port
//! of their own and constrained by `memberOf` to two of the three zones (instances carry their
//! zone and type), so every placement of theirs checks ports and attributes (and, the instances
//! being over three zones, every service spreads too).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use shared::definition::{
    CloudWatchSource, ClusterDefinition, MetricSources, ServiceDefinition, Statistic,
    TargetTracking, TrackingKind,
};
use shared::expr::Expr;
use shared::messages::ServiceMetrics;
use shared::resources::Resources;
use shared::state::{
    ClusterState, ContainerInstance, GroupInstance, GroupState, HostPort, InstancePlacement,
    InstanceStatus, PlacedTask, ServicePlacement, ServiceState,
};

const INSTANCES: usize = 1000;
const SERVICES: usize = 200;
const TASKS_PER_SERVICE: usize = 100;
const INSTANCE: Resources = Resources::new(6144, 24_576);

fn task_size(s: usize) -> Resources {
    Resources::new([128, 256, 384][s % 3], [512, 768, 1024, 1536][s % 4])
}

fn world(
    scale_up: bool,
    needs: bool,
) -> (
    ClusterDefinition,
    BTreeMap<String, ServiceMetrics>,
    ClusterState,
) {
    let mut services = Vec::new();
    let mut states = Vec::new();
    let mut metrics = BTreeMap::new();
    for s in 0..SERVICES {
        let name = format!("svc{s:03}");
        services.push(ServiceDefinition {
            name: name.clone(),
            enabled: true,
            min: 1,
            max: 500,
            metric_sources: MetricSources {
                third_party: vec![],
                cloudwatch: vec![CloudWatchSource {
                    namespace: "AWS/ECS".into(),
                    metric_name: "Q".into(),
                    dimensions: vec![],
                    period: 60,
                    statistics: vec![Statistic {
                        name: "Average".into(),
                        alias: "q".into(),
                        default: None,
                        path: None,
                    }],
                }],
            },
            events: vec![],
            target_tracking: Some(TargetTracking {
                metric: Expr::parse("q").expect("parses"),
                target: 10.0,
                kind: TrackingKind::Total,
            }),
            scale_up_cooldown: Duration::ZERO,
            scale_down_cooldown: Duration::from_secs(300),
            disruption: Default::default(),
        });
        let desired = TASKS_PER_SERVICE as u32;
        let wanted = if scale_up && s % 2 == 0 {
            desired + 50 + (s as u32 % 7)
        } else {
            desired
        };
        let mut m = ServiceMetrics::default();
        m.values.insert("q".into(), f64::from(wanted) * 10.0);
        metrics.insert(name.clone(), m);
        states.push(ServiceState {
            name: name.clone(),
            arn: format!("arn:aws:ecs:eu-west-1:1:service/big/{name}"),
            status: "ACTIVE".into(),
            desired,
            running: desired,
            pending: 0,
            task_definition: format!("arn:aws:ecs:eu-west-1:1:task-definition/{name}:1"),
            task_size: task_size(s),
            gpu: 0,
            distinct_instance: s % 50 == 0,
            last_scaling: None,
            do_not_disrupt: false,
            placement: if needs && constrained(s) {
                ServicePlacement {
                    host_ports: vec![port_of(s)],
                    member_of: vec![
                        "attribute:ecs.availability-zone in [eu-west-1a, eu-west-1b]".into(),
                    ],
                    ..ServicePlacement::default()
                }
            } else {
                ServicePlacement::default()
            },
        });
    }
    // 20,000 tasks dealt round-robin: 20 per instance.
    let mut tasks: Vec<Vec<PlacedTask>> = vec![Vec::new(); INSTANCES];
    for s in 0..SERVICES {
        for t in 0..TASKS_PER_SERVICE {
            let n = (s * TASKS_PER_SERVICE + t) % INSTANCES;
            tasks[n].push(PlacedTask {
                arn: format!("arn:aws:ecs:eu-west-1:1:task/big/{s}-{t}"),
                service: Some(format!("svc{s:03}")),
                size: task_size(s),
                protected_until_epoch_secs: None,
            });
        }
    }
    let instances: Vec<ContainerInstance> = tasks
        .into_iter()
        .enumerate()
        .map(|(n, tasks)| {
            let used = tasks
                .iter()
                .fold(Resources::ZERO, |a, t| a.saturating_add(t.size));
            let mut placement = InstancePlacement::default();
            if needs {
                placement.attributes.insert(
                    "ecs.availability-zone".into(),
                    ["eu-west-1a", "eu-west-1b", "eu-west-1c"][n % 3].into(),
                );
                placement
                    .attributes
                    .insert("ecs.instance-type".into(), "m5.2xlarge".into());
                // The ports the constrained services' tasks here bind.
                placement.ports_in_use = tasks
                    .iter()
                    .filter_map(|t| {
                        let s: usize = t.service.as_deref()?.strip_prefix("svc")?.parse().ok()?;
                        constrained(s).then(|| port_of(s))
                    })
                    .collect();
            }
            ContainerInstance {
                arn: format!("arn:aws:ecs:eu-west-1:1:container-instance/big/{n:05}"),
                ec2_instance_id: format!("i-{n:05}"),
                status: InstanceStatus::Active,
                registered: INSTANCE,
                remaining: INSTANCE.saturating_sub(used),
                running_tasks: tasks.len() as u32,
                pending_tasks: 0,
                tasks,
                draining_since_epoch_secs: None,
                agent_connected: true,
                drain_aborted_at_epoch_secs: None,
                placement,
            }
        })
        .collect();
    let group = GroupState {
        name: "big-asg".into(),
        min: 1,
        max: 2000,
        desired: INSTANCES as u32,
        instances: instances
            .iter()
            .map(|ci| GroupInstance {
                instance_id: ci.ec2_instance_id.clone(),
                lifecycle_state: "InService".into(),
                health_status: "Healthy".into(),
                protected_from_scale_in: false,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let def = ClusterDefinition {
        name: "big".into(),
        source: PathBuf::from("clusters/big.yml"),
        autoscale_group: "big-asg".into(),
        enabled: true,
        cpu_buffer: 512,
        mem_buffer: 1024,
        min: None,
        max: None,
        dry_run: false,
        max_drain_per_cycle: Some(1),
        max_tasks_per_instance: None,
        drain_timeout: Duration::from_secs(900),
        disruption: Default::default(),
        registration_grace: Duration::from_secs(600),
        instance_capacity: None,
        services,
    };
    let state = ClusterState {
        cluster: "big".into(),
        services: states,
        instances,
        group: Some(group),
        task_protection_unread: None,
    };
    (def, metrics, state)
}

/// A quarter of the services bind a host port and carry a `memberOf` (with `needs`).
fn constrained(s: usize) -> bool {
    s % 4 == 1
}

fn port_of(s: usize) -> HostPort {
    HostPort::tcp(8000 + s as u16)
}

fn bench(c: &mut Criterion) {
    let now = shared::time::Timestamp::from_second(1_764_412_051).expect("in range");
    for (name, scale_up, zones, needs) in [
        ("plan/1000i_200s_20000t/scale_up", true, 1, false),
        ("plan/1000i_200s_20000t/steady", false, 1, false),
        // Over three availability zones every service spreads (ECS's default strategy).
        ("plan/1000i_200s_20000t/scale_up_3az", true, 3, false),
        (
            "plan/1000i_200s_20000t/scale_up_ports_constraints",
            true,
            1,
            true,
        ),
    ] {
        let (def, metrics, mut state) = world(scale_up, needs);
        if zones > 1 {
            for (n, ci) in state.instances.iter_mut().enumerate() {
                let zone = ["eu-west-1a", "eu-west-1b", "eu-west-1c"][n % zones];
                ci.placement
                    .attributes
                    .insert("ecs.availability-zone".into(), zone.into());
            }
        }
        // The group lists its zones and each instance's, as DescribeAutoScalingGroups does.
        let zone_of: std::collections::HashMap<String, String> = state
            .instances
            .iter()
            .filter_map(|ci| {
                let zone = ci.placement.attributes.get("ecs.availability-zone")?;
                Some((ci.ec2_instance_id.clone(), zone.clone()))
            })
            .collect();
        if let Some(group) = state.group.as_mut() {
            for gi in &mut group.instances {
                gi.availability_zone = zone_of.get(&gi.instance_id).cloned();
            }
            let mut zones: Vec<String> = zone_of.values().cloned().collect();
            zones.sort();
            zones.dedup();
            group.availability_zones = zones;
        }
        let plan = planner::plan(&def, &metrics, &state, now);
        eprintln!(
            "{name}: {} service change(s), group desired {:?}, drain {}, {} headline(s)",
            plan.actions.services.len(),
            plan.actions.group_desired,
            plan.actions.drain.len(),
            plan.decisions.headlines.len()
        );
        c.bench_function(name, |b| {
            b.iter(|| planner::plan(black_box(&def), black_box(&metrics), black_box(&state), now))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
