//! Builders for the core's tests: definitions, states and metrics by hand.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use shared::definition::{
    CloudWatchSource, ClusterDefinition, Disruption, MetricSources, ServiceDefinition,
    ServiceDisruption, Statistic, StepEvent, TargetTracking, TrackingKind,
    DEFAULT_DRAIN_TIMEOUT_SECS, DEFAULT_REGISTRATION_GRACE_SECS, DEFAULT_SCALE_DOWN_COOLDOWN_SECS,
    DEFAULT_SCALE_UP_COOLDOWN_SECS,
};
use shared::expr::Expr;
use shared::messages::{MissingReason, ScalingPlan, ServiceMetrics};
use shared::resources::Resources;
use shared::state::{
    ClusterState, ContainerInstance, GroupInstance, GroupState, InstanceStatus, PlacedTask,
    ServiceState,
};
use shared::time::Timestamp;

/// The instance size of most tests: 4 vCPU, 8 GiB.
pub(crate) const SIZE: Resources = Resources::new(4096, 8192);

/// A fixed "now".
pub(crate) const NOW_SECS: u64 = 1_764_412_051;

pub(crate) fn now() -> Timestamp {
    Timestamp::from_second(NOW_SECS as i64).expect("in range")
}

pub(crate) fn expr(s: &str) -> Expr {
    Expr::parse(s).unwrap_or_else(|e| panic!("bad test expression {s}: {e}"))
}

pub(crate) fn event(metric: &str, action: i64, min: Option<f64>, max: Option<f64>) -> StepEvent {
    StepEvent {
        metric: expr(metric),
        action,
        min,
        max,
    }
}

/// A service with one CloudWatch statistic per alias (no defaults) and no rules.
pub(crate) fn service(name: &str, min: u32, max: u32, aliases: &[&str]) -> ServiceDefinition {
    let statistics = aliases
        .iter()
        .map(|a| Statistic {
            name: "Average".into(),
            alias: (*a).into(),
            default: None,
            path: None,
        })
        .collect();
    ServiceDefinition {
        name: name.into(),
        enabled: true,
        min,
        max,
        metric_sources: MetricSources {
            third_party: vec![],
            cloudwatch: vec![CloudWatchSource {
                namespace: "AWS/ECS".into(),
                metric_name: "M".into(),
                dimensions: vec![],
                period: 300,
                statistics,
            }],
        },
        events: vec![],
        target_tracking: None,
        scale_up_cooldown: Duration::from_secs(DEFAULT_SCALE_UP_COOLDOWN_SECS),
        scale_down_cooldown: Duration::from_secs(DEFAULT_SCALE_DOWN_COOLDOWN_SECS),
        disruption: ServiceDisruption::Allowed,
    }
}

/// `kind: total` target tracking (the default).
pub(crate) fn tracking(metric: &str, target: f64) -> Option<TargetTracking> {
    Some(TargetTracking {
        metric: expr(metric),
        target,
        kind: TrackingKind::Total,
    })
}

pub(crate) fn cluster(services: Vec<ServiceDefinition>) -> ClusterDefinition {
    ClusterDefinition {
        name: "c".into(),
        source: PathBuf::from("clusters/c.yml"),
        autoscale_group: "asg".into(),
        enabled: true,
        cpu_buffer: 0,
        mem_buffer: 0,
        min: None,
        max: None,
        dry_run: false,
        max_drain_per_cycle: None,
        max_tasks_per_instance: None,
        drain_timeout: Duration::from_secs(DEFAULT_DRAIN_TIMEOUT_SECS),
        disruption: Disruption::default(),
        registration_grace: Duration::from_secs(DEFAULT_REGISTRATION_GRACE_SECS),
        instance_capacity: None,
        services,
    }
}

pub(crate) fn service_state(name: &str, desired: u32, size: Resources) -> ServiceState {
    ServiceState {
        name: name.into(),
        arn: format!("arn:aws:ecs:eu-west-1:1:service/c/{name}"),
        status: "ACTIVE".into(),
        desired,
        running: desired,
        pending: 0,
        task_definition: format!("arn:aws:ecs:eu-west-1:1:task-definition/{name}:1"),
        task_size: size,
        gpu: 0,
        distinct_instance: false,
        last_scaling: None,
        do_not_disrupt: false,
        placement: Default::default(),
    }
}

pub(crate) fn task(service: &str, size: Resources) -> PlacedTask {
    PlacedTask {
        arn: format!("arn:aws:ecs:eu-west-1:1:task/c/{service}"),
        service: Some(service.into()),
        size,
        protected_until_epoch_secs: None,
    }
}

/// A container instance `i-N` of [`SIZE`] running `tasks` (remaining computed from them).
pub(crate) fn instance(
    n: u32,
    status: InstanceStatus,
    tasks: Vec<PlacedTask>,
) -> ContainerInstance {
    let used = tasks
        .iter()
        .fold(Resources::ZERO, |a, t| a.saturating_add(t.size));
    let status_is_draining = status == InstanceStatus::Draining;
    ContainerInstance {
        arn: format!("arn:aws:ecs:eu-west-1:1:container-instance/c/{n:04}"),
        ec2_instance_id: format!("i-{n:04}"),
        status,
        registered: SIZE,
        remaining: SIZE.saturating_sub(used),
        running_tasks: u32::try_from(tasks.len()).unwrap_or(u32::MAX),
        pending_tasks: 0,
        tasks,
        // A DRAINING instance of the fixtures was drained by this system (a minute ago).
        draining_since_epoch_secs: (status_is_draining).then_some(NOW_SECS - 60),
        agent_connected: true,
        drain_aborted_at_epoch_secs: None,
        placement: Default::default(),
    }
}

pub(crate) fn group_instance(id: &str, lifecycle: &str) -> GroupInstance {
    GroupInstance {
        instance_id: id.into(),
        lifecycle_state: lifecycle.into(),
        health_status: "Healthy".into(),
        protected_from_scale_in: false,
        ..Default::default()
    }
}

/// A state whose group holds exactly its container instances (InService), desired = their number.
pub(crate) fn state(
    services: Vec<ServiceState>,
    instances: Vec<ContainerInstance>,
    min: u32,
    max: u32,
) -> ClusterState {
    let group = GroupState {
        name: "asg".into(),
        min,
        max,
        desired: u32::try_from(instances.len()).unwrap_or(u32::MAX),
        instances: instances
            .iter()
            .map(|ci| group_instance(&ci.ec2_instance_id, "InService"))
            .collect(),
        ..Default::default()
    };
    ClusterState {
        cluster: "c".into(),
        services,
        instances,
        group: Some(group),
        task_protection_unread: None,
    }
}

/// Metrics of one service.
pub(crate) fn metrics(
    service: &str,
    values: &[(&str, f64)],
    missing: &[&str],
) -> BTreeMap<String, ServiceMetrics> {
    let mut m = ServiceMetrics::default();
    for (a, v) in values {
        m.values.insert((*a).into(), *v);
    }
    for a in missing {
        m.missing.insert((*a).into(), MissingReason::NoDatapoints);
    }
    BTreeMap::from([(service.to_string(), m)])
}

/// The reasons of every instance decision, as text, prefixed with the instance id.
pub(crate) fn instance_lines(plan: &ScalingPlan) -> Vec<String> {
    plan.decisions
        .detail
        .capacity
        .iter()
        .flat_map(|c| c.instances.iter())
        .map(|d| format!("{}: {}", d.instance.ec2_instance_id, d.reason))
        .collect()
}
