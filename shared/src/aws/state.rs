//! ECS and Auto Scaling answers turned into the cluster model of [`crate::state`]: one
//! conversion for the planner's reader, the executor's re-read and the test bed. Pure functions
//! of the SDK's types; the calls are in [`super::read`].

use aws_sdk_autoscaling::types::AutoScalingGroup;
use aws_sdk_ecs::types::{
    LaunchType, PlacementConstraintType, Resource, ResourceType, SchedulingStrategy, Service,
    TaskDefinition, TaskDefinitionPlacementConstraintType, TransportProtocol,
};

use crate::resources::Resources;
use crate::state::{
    type_capacity, CapacityProviderLink, ContainerInstance, GroupInstance, GroupState, HostPort,
    InstancePlacement, InstanceStatus, Launch, NetworkMode, ScalingRecord, Scheduling,
    ServicePlacement, ServiceState, Task, TypeCapacity, DO_NOT_DISRUPT_TAG, DRAINED_AT_ATTRIBUTE,
    DRAIN_ABORTED_AT_ATTRIBUTE, ECS_MANAGED_TAG, LAST_SCALING_TAG,
};

/// An answer lacks something the model cannot do without (an identifier, mostly).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Incomplete(pub String);

/// A [`ServiceState`] from a DescribeServices entry and the size of one of its tasks. The
/// placement fields of the task definition ([`TaskSize::network_mode`], host ports) are the
/// caller's to set (see [`TaskSize::apply_to`]).
pub fn service_state(service: &Service, task_size: Resources) -> Result<ServiceState, Incomplete> {
    let name = service
        .service_name()
        .ok_or_else(|| Incomplete("a service without serviceName".into()))?;
    let arn = service
        .service_arn()
        .ok_or_else(|| Incomplete(format!("service `{name}` has no serviceArn")))?;
    let last_scaling = service
        .tags()
        .iter()
        .find(|t| t.key() == Some(LAST_SCALING_TAG))
        .and_then(|t| t.value())
        .and_then(ScalingRecord::from_tag_value);
    let do_not_disrupt = service.tags().iter().any(|t| {
        t.key() == Some(DO_NOT_DISRUPT_TAG)
            && t.value()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    });
    let mut distinct_instance = false;
    let mut member_of = Vec::new();
    let mut unmodelled = None;
    for c in service.placement_constraints() {
        match c.r#type() {
            Some(PlacementConstraintType::DistinctInstance) => distinct_instance = true,
            Some(PlacementConstraintType::MemberOf) => {
                member_of.push(c.expression().unwrap_or_default().trim().to_owned())
            }
            other => {
                let what = other.map_or("none", |t| t.as_str());
                unmodelled = Some(format!(
                    "placement constraint of type `{what}` not understood"
                ));
            }
        }
    }
    let placement = ServicePlacement {
        launch: launch(service),
        scheduling: match service.scheduling_strategy() {
            Some(SchedulingStrategy::Daemon) => Scheduling::Daemon,
            _ => Scheduling::Replica,
        },
        member_of,
        placement_strategy: service
            .placement_strategy()
            .iter()
            .map(|p| {
                let kind = p.r#type().map_or("", |t| t.as_str());
                match p.field() {
                    Some(field) => format!("{kind}:{field}"),
                    None => kind.to_owned(),
                }
            })
            .collect(),
        unmodelled,
        ..ServicePlacement::default()
    };
    Ok(ServiceState {
        name: name.to_owned(),
        arn: arn.to_owned(),
        status: service.status().unwrap_or_default().to_owned(),
        desired: count(service.desired_count()),
        running: count(service.running_count()),
        pending: count(service.pending_count()),
        task_definition: service.task_definition().unwrap_or_default().to_owned(),
        task_size,
        gpu: 0,
        distinct_instance,
        last_scaling,
        do_not_disrupt,
        placement,
    })
}

/// Where a service's tasks run: its capacity provider strategy when it has one (FARGATE and
/// FARGATE_SPOT only: Fargate), else its launch type (none: EC2).
fn launch(service: &Service) -> Launch {
    let strategy = service.capacity_provider_strategy();
    if !strategy.is_empty() {
        let providers: Vec<String> = strategy
            .iter()
            .map(|p| p.capacity_provider().to_owned())
            .collect();
        if providers
            .iter()
            .all(|p| p == "FARGATE" || p == "FARGATE_SPOT")
        {
            return Launch::Fargate;
        }
        return Launch::CapacityProviders { providers };
    }
    match service.launch_type() {
        Some(LaunchType::Fargate) => Launch::Fargate,
        Some(LaunchType::External) => Launch::External,
        _ => Launch::Ec2,
    }
}

/// A [`ContainerInstance`] (without tasks) from a DescribeContainerInstances entry, with the
/// [`DRAINED_AT_ATTRIBUTE`] and [`DRAIN_ABORTED_AT_ATTRIBUTE`] (attributes come in every answer)
/// and `agentConnected`.
pub fn container_instance(
    ci: &aws_sdk_ecs::types::ContainerInstance,
) -> Result<ContainerInstance, Incomplete> {
    let arn = ci
        .container_instance_arn()
        .ok_or_else(|| Incomplete("a container instance without containerInstanceArn".into()))?;
    let ec2_instance_id = ci
        .ec2_instance_id()
        .ok_or_else(|| Incomplete(format!("container instance `{arn}` has no ec2InstanceId")))?;
    let epoch_attribute = |name: &str| {
        ci.attributes()
            .iter()
            .find(|a| a.name() == name)
            .and_then(|a| a.value())
            .and_then(|v| v.trim().parse().ok())
    };
    let mut ports_in_use: Vec<HostPort> = ports(ci.remaining_resources(), "PORTS", HostPort::tcp)
        .chain(ports(ci.remaining_resources(), "PORTS_UDP", HostPort::udp))
        .collect();
    ports_in_use.sort_unstable();
    ports_in_use.dedup();
    let placement = InstancePlacement {
        ports_in_use,
        gpus: gpus(ci.registered_resources()),
        gpus_free: gpus(ci.remaining_resources()),
        attributes: ci
            .attributes()
            .iter()
            .map(|a| {
                (
                    a.name().to_owned(),
                    a.value().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    };
    let draining_since_epoch_secs = epoch_attribute(DRAINED_AT_ATTRIBUTE);
    let drain_aborted_at_epoch_secs = epoch_attribute(DRAIN_ABORTED_AT_ATTRIBUTE);
    Ok(ContainerInstance {
        arn: arn.to_owned(),
        ec2_instance_id: ec2_instance_id.to_owned(),
        status: InstanceStatus::from_ecs(ci.status().unwrap_or_default()),
        registered: resources(ci.registered_resources()),
        remaining: resources(ci.remaining_resources()),
        running_tasks: count(ci.running_tasks_count()),
        pending_tasks: count(ci.pending_tasks_count()),
        tasks: Vec::new(),
        draining_since_epoch_secs,
        agent_connected: ci.agent_connected(),
        drain_aborted_at_epoch_secs,
        placement,
    })
}

/// The ports of a `STRINGSET` resource (`PORTS`, `PORTS_UDP`); entries that are not port
/// numbers are left out.
fn ports<'a>(
    list: &'a [Resource],
    name: &'a str,
    make: fn(u16) -> HostPort,
) -> impl Iterator<Item = HostPort> + 'a {
    list.iter()
        .filter(move |r| r.name() == Some(name))
        .flat_map(|r| r.string_set_value())
        .filter_map(move |p| p.trim().parse::<u16>().ok().map(make))
}

/// The GPUs of a resources list: ECS gives them as a `STRINGSET` of GPU ids; an `INTEGER`
/// count is read too.
fn gpus(list: &[Resource]) -> u32 {
    list.iter()
        .find(|r| r.name() == Some("GPU"))
        .map_or(0, |r| {
            if r.string_set_value().is_empty() {
                count(r.integer_value())
            } else {
                u32::try_from(r.string_set_value().len()).unwrap_or(u32::MAX)
            }
        })
}

/// CPU and MEMORY (integer resources) from a resources list; absent or negative ones are 0.
pub fn resources(list: &[Resource]) -> Resources {
    let get = |name: &str| {
        list.iter()
            .find(|r| r.name() == Some(name))
            .map(|r| count(r.integer_value()))
            .unwrap_or(0)
    };
    Resources::new(get("CPU"), get("MEMORY"))
}

/// A [`Task`] from a DescribeTasks entry. Task-level `cpu`/`memory` are read as
/// [`parse_cpu`]/[`parse_memory`] read them; an unreadable one is `None`.
pub fn task(task: &aws_sdk_ecs::types::Task) -> Result<Task, Incomplete> {
    let arn = task
        .task_arn()
        .ok_or_else(|| Incomplete("a task without taskArn".into()))?;
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    Ok(Task {
        arn: arn.to_owned(),
        cluster_arn: task.cluster_arn().map(str::to_owned),
        container_instance_arn: task.container_instance_arn().map(str::to_owned),
        group: text(task.group()),
        started_by: text(task.started_by()),
        task_definition_arn: text(task.task_definition_arn()),
        last_status: text(task.last_status()),
        desired_status: text(task.desired_status()),
        cpu: task.cpu().and_then(parse_cpu),
        memory: task.memory().and_then(parse_memory),
    })
}

/// What one task of a task definition takes on an EC2 container instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskSize {
    /// CPU units and MiB, as ECS reserves them (see [`task_definition_size`]).
    pub reservation: Resources,
    /// GPUs: the `resourceRequirements` of type `GPU`, summed over the containers.
    pub gpu: u32,
    /// Its network mode (absent: `bridge`).
    pub network_mode: NetworkMode,
    /// The static host ports it binds (see [`host_ports`]).
    pub host_ports: Vec<HostPort>,
    /// The expressions of its `memberOf` placement constraints (a task definition may carry
    /// them as well as its service).
    pub member_of: Vec<String>,
}

impl TaskSize {
    /// Sets the service's fields that come from its task definition: GPUs, network mode and
    /// host ports (an unknown network mode makes the service unmodelled).
    pub fn apply_to(&self, service: &mut ServiceState) {
        service.gpu = self.gpu;
        service.placement.network_mode = self.network_mode.clone();
        service.placement.host_ports = self.host_ports.clone();
        for m in &self.member_of {
            if !service.placement.member_of.contains(m) {
                service.placement.member_of.push(m.clone());
            }
        }
        if let NetworkMode::Other(mode) = &self.network_mode {
            service
                .placement
                .unmodelled
                .get_or_insert_with(|| format!("network mode `{mode}` not understood"));
        }
    }
}

/// The static host ports a task of `td` binds on its instance: with `host` networking every
/// container port (its `containerPort`, which a `hostPort` must equal there), with `bridge` each non-zero
/// `hostPort` (0 or none is a dynamic port, never a conflict); none with `awsvpc` or `none`.
/// Sorted, without duplicates.
pub fn host_ports(td: &TaskDefinition, mode: &NetworkMode) -> Vec<HostPort> {
    let mut out = Vec::new();
    for m in td
        .container_definitions()
        .iter()
        .flat_map(|c| c.port_mappings())
    {
        let port = match mode {
            NetworkMode::Host => m.container_port().or(m.host_port()),
            NetworkMode::Bridge => m.host_port(),
            _ => None,
        };
        let Some(port) = port.and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0) else {
            continue;
        };
        out.push(match m.protocol() {
            Some(TransportProtocol::Udp) => HostPort::udp(port),
            _ => HostPort::tcp(port),
        });
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The size of one task of `td`, as ECS reserves it on an EC2 instance. CPU: the task-level
/// `cpu` when set, else the sum of the containers' `cpu`. Memory: the task-level `memory` when
/// set, else the sum over the containers of `memoryReservation` (the soft limit, what ECS
/// reserves) where set, else `memory` (the hard limit). Each dimension falls back on its own;
/// an unreadable task-level value counts as unset.
pub fn task_definition_size(td: &TaskDefinition) -> TaskSize {
    let containers = td.container_definitions();
    let cpu = td.cpu().and_then(parse_cpu).unwrap_or_else(|| {
        containers
            .iter()
            .fold(0u32, |sum, c| sum.saturating_add(count(c.cpu())))
    });
    let memory = td.memory().and_then(parse_memory).unwrap_or_else(|| {
        containers.iter().fold(0u32, |sum, c| {
            sum.saturating_add(count(c.memory_reservation().or(c.memory()).unwrap_or(0)))
        })
    });
    let gpu = containers
        .iter()
        .flat_map(|c| c.resource_requirements())
        .filter(|r| *r.r#type() == ResourceType::Gpu)
        .filter_map(|r| r.value().trim().parse::<u32>().ok())
        .fold(0u32, u32::saturating_add);
    let network_mode = NetworkMode::from_ecs(td.network_mode().map(|m| m.as_str()));
    let member_of = td
        .placement_constraints()
        .iter()
        .filter(|c| c.r#type() == Some(&TaskDefinitionPlacementConstraintType::MemberOf))
        .map(|c| c.expression().unwrap_or_default().trim().to_owned())
        .collect();
    TaskSize {
        reservation: Resources::new(cpu, memory),
        gpu,
        host_ports: host_ports(td, &network_mode),
        network_mode,
        member_of,
    }
}

/// CPU units from an API string: `"1024"`, or `"1 vCPU"` / `"0.5 vcpu"` (as registration
/// accepts). `None` for anything else.
pub fn parse_cpu(text: &str) -> Option<u32> {
    parse_amount(text, &["vcpu"], 1024.0)
}

/// MiB from an API string: `"2048"`, or `"2 GB"` / `"0.5gb"`. `None` for anything else.
pub fn parse_memory(text: &str) -> Option<u32> {
    parse_amount(text, &["gb"], 1024.0)
}

fn parse_amount(text: &str, units: &[&str], per_unit: f64) -> Option<u32> {
    let t = text.trim().to_ascii_lowercase();
    if let Ok(n) = t.parse::<u32>() {
        return Some(n);
    }
    let number = units.iter().find_map(|u| t.strip_suffix(u))?.trim();
    let value: f64 = number.parse().ok()?;
    let scaled = (value * per_unit).round();
    (scaled.is_finite() && (0.0..=f64::from(u32::MAX)).contains(&scaled)).then_some(scaled as u32)
}

/// A [`GroupState`] from a DescribeAutoScalingGroups entry: absent limits read as 0, instances
/// without an id are left out.
pub fn group_state(group: &AutoScalingGroup) -> GroupState {
    GroupState {
        ecs_managed: group
            .tags()
            .iter()
            .any(|t| t.key() == Some(ECS_MANAGED_TAG)),
        capacity_in_units: capacity_in_units(group),
        name: group
            .auto_scaling_group_name()
            .unwrap_or_default()
            .to_owned(),
        min: count(group.min_size().unwrap_or(0)),
        max: count(group.max_size().unwrap_or(0)),
        desired: count(group.desired_capacity().unwrap_or(0)),
        availability_zones: group.availability_zones().to_vec(),
        instances: group
            .instances()
            .iter()
            .filter_map(|i| {
                Some(GroupInstance {
                    instance_id: i.instance_id()?.to_owned(),
                    lifecycle_state: i
                        .lifecycle_state()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    health_status: i.health_status().unwrap_or_default().to_owned(),
                    protected_from_scale_in: i.protected_from_scale_in().unwrap_or(false),
                    availability_zone: i.availability_zone().map(str::to_owned),
                    ..Default::default()
                })
            })
            .collect(),
        ..Default::default()
    }
}

/// Why `group`'s desired capacity is not a count of instances ([`GroupState::capacity_in_units`]):
/// a `DesiredCapacityType` other than `units`, or an override of its mixed instances policy
/// weighing other than 1.
pub fn capacity_in_units(group: &AutoScalingGroup) -> Option<String> {
    if let Some(kind) = group
        .desired_capacity_type()
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("units"))
    {
        return Some(format!("its DesiredCapacityType is `{kind}`"));
    }
    let template = group.mixed_instances_policy()?.launch_template()?;
    template.overrides().iter().find_map(|o| {
        let weight = o.weighted_capacity()?.trim();
        (weight != "1").then(|| {
            format!(
                "its mixed instances policy weighs {} at {weight}",
                o.instance_type()
                    .map_or_else(|| "an override".to_owned(), |t| format!("`{t}`"))
            )
        })
    })
}

/// Where a group's instance types are to be read, as DescribeAutoScalingGroups tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchSource {
    /// The mixed instances policy's overrides name them (no further call).
    Types(Vec<String>),
    /// A launch template's version gives it (EC2 DescribeLaunchTemplateVersions).
    Template {
        /// `LaunchTemplateId`, when given.
        id: Option<String>,
        /// `LaunchTemplateName`, when given.
        name: Option<String>,
        /// The version: a number, `$Latest` or `$Default` (the default when not given).
        version: String,
    },
    /// A launch configuration gives it (DescribeLaunchConfigurations).
    Configuration(String),
    /// Not knowable: attribute-based instance selection (overrides without an instance type),
    /// or no launch template or configuration at all.
    Unknown,
}

/// Where `group`'s instance types come from: the mixed instances policy's overrides when each
/// names a type (an override by instance requirements makes them unknown), else the policy's
/// or the group's launch template, else its launch configuration.
pub fn launch_source(group: &AutoScalingGroup) -> LaunchSource {
    let template =
        |spec: &aws_sdk_autoscaling::types::LaunchTemplateSpecification| LaunchSource::Template {
            id: spec.launch_template_id().map(str::to_owned),
            name: spec.launch_template_name().map(str::to_owned),
            version: spec.version().unwrap_or("$Default").to_owned(),
        };
    if let Some(mixed) = group
        .mixed_instances_policy()
        .and_then(|p| p.launch_template())
    {
        let overrides = mixed.overrides();
        if !overrides.is_empty() {
            let types: Option<Vec<String>> = overrides
                .iter()
                .map(|o| o.instance_type().map(str::to_owned))
                .collect();
            return types.map_or(LaunchSource::Unknown, LaunchSource::Types);
        }
        return mixed
            .launch_template_specification()
            .map_or(LaunchSource::Unknown, template);
    }
    if let Some(spec) = group.launch_template() {
        return template(spec);
    }
    group
        .launch_configuration_name()
        .map_or(LaunchSource::Unknown, |n| {
            LaunchSource::Configuration(n.to_owned())
        })
}

/// The instance type a launch template version gives, `None` when it names none (attribute-based
/// selection in the template, or a type left to the group).
pub fn template_instance_type(
    version: &aws_sdk_ec2::types::LaunchTemplateVersion,
) -> Option<String> {
    version
        .launch_template_data()
        .and_then(|d| d.instance_type())
        .map(|t| t.as_str().to_owned())
}

/// The capacity of each type EC2 describes, by [`crate::state::type_capacity`]; a type whose
/// vCPUs or memory are not given is left out.
pub fn described_capacities(
    types: &[aws_sdk_ec2::types::InstanceTypeInfo],
) -> std::collections::BTreeMap<String, TypeCapacity> {
    types
        .iter()
        .filter_map(|t| {
            let name = t.instance_type()?.as_str().to_owned();
            let vcpus = count(t.v_cpu_info()?.default_v_cpus()?);
            let memory = u32::try_from(t.memory_info()?.size_in_mib()?.max(0)).unwrap_or(u32::MAX);
            let gpus = t.gpu_info().map_or(0, |g| {
                g.gpus()
                    .iter()
                    .map(|d| count(d.count().unwrap_or(0)))
                    .fold(0u32, u32::saturating_add)
            });
            Some((name, type_capacity(vcpus, memory, gpus)))
        })
        .collect()
}

/// The capacity provider among `providers` whose Auto Scaling group is `group` (by ARN, or by
/// name where a provider names the group so), with whether its managed scaling is `ENABLED`.
pub fn provider_on_group(
    providers: &[aws_sdk_ecs::types::CapacityProvider],
    group_name: &str,
    group_arn: Option<&str>,
) -> Option<CapacityProviderLink> {
    providers.iter().find_map(|p| {
        let asg = p.auto_scaling_group_provider()?;
        let target = asg.auto_scaling_group_arn();
        let by_name = target
            .rsplit_once(":autoScalingGroupName/")
            .map_or(target, |(_, name)| name);
        let ours = group_arn == Some(target) || by_name == group_name;
        ours.then(|| CapacityProviderLink {
            name: p.name().unwrap_or_default().to_owned(),
            managed_scaling: asg
                .managed_scaling()
                .and_then(|m| m.status())
                .is_some_and(|s| *s == aws_sdk_ecs::types::ManagedScalingStatus::Enabled),
        })
    })
}

/// Launch times (seconds since the epoch) by EC2 instance id, from DescribeInstances
/// reservations; instances without an id or a launch time are left out.
pub fn launch_times(
    reservations: &[aws_sdk_ec2::types::Reservation],
) -> std::collections::HashMap<String, u64> {
    reservations
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| {
            let secs = u64::try_from(i.launch_time()?.secs()).ok()?;
            Some((i.instance_id()?.to_owned(), secs))
        })
        .collect()
}

/// A count or amount from the APIs' `i32`; a negative one is 0.
fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{
        Attribute, ContainerDefinition, PlacementConstraint, ResourceRequirement, ResourceType, Tag,
    };

    fn container(cpu: i32, memory: Option<i32>, reservation: Option<i32>) -> ContainerDefinition {
        ContainerDefinition::builder()
            .name("c")
            .cpu(cpu)
            .set_memory(memory)
            .set_memory_reservation(reservation)
            .build()
    }

    fn gpus(count: &str) -> ResourceRequirement {
        ResourceRequirement::builder()
            .r#type(ResourceType::Gpu)
            .value(count)
            .build()
            .expect("type and value are set")
    }

    #[test]
    fn task_size_reserves_memory_reservation_where_a_container_sets_it() {
        // ECS reserves a container's soft limit (`memoryReservation`) when it has one, and its
        // hard limit (`memory`) only when it has no soft limit.
        let td = TaskDefinition::builder()
            .container_definitions(container(256, Some(512), Some(128)))
            .container_definitions(container(128, None, Some(300)))
            .container_definitions(container(64, Some(700), None))
            .container_definitions(container(0, None, None))
            .build();
        let size = task_definition_size(&td);
        assert_eq!(size.reservation, Resources::new(448, 128 + 300 + 700));
        assert_eq!(size.gpu, 0);
    }

    #[test]
    fn task_size_prefers_task_level_values_per_dimension() {
        let td = TaskDefinition::builder()
            .cpu("1 vCPU")
            .container_definitions(container(256, Some(512), Some(256)))
            .build();
        assert_eq!(
            task_definition_size(&td).reservation,
            Resources::new(1024, 256)
        );
        let td = TaskDefinition::builder()
            .memory("1 GB")
            .container_definitions(container(256, Some(512), Some(256)))
            .build();
        assert_eq!(
            task_definition_size(&td).reservation,
            Resources::new(256, 1024)
        );
        let td = TaskDefinition::builder()
            .cpu("512")
            .memory("2048")
            .container_definitions(container(256, Some(512), Some(128)))
            .build();
        assert_eq!(
            task_definition_size(&td).reservation,
            Resources::new(512, 2048)
        );
        // An unreadable task-level value leaves that dimension to the containers.
        let td = TaskDefinition::builder()
            .cpu("lots")
            .memory("")
            .container_definitions(container(256, Some(512), Some(128)))
            .build();
        assert_eq!(
            task_definition_size(&td).reservation,
            Resources::new(256, 128)
        );
    }

    #[test]
    fn task_size_counts_the_gpus_of_every_container() {
        let with = |requirements: Vec<ResourceRequirement>| {
            ContainerDefinition::builder()
                .name("g")
                .memory(512)
                .set_resource_requirements(Some(requirements))
                .build()
        };
        let inference = ResourceRequirement::builder()
            .r#type(ResourceType::InferenceAccelerator)
            .value("device-1")
            .build()
            .expect("type and value are set");
        let td = TaskDefinition::builder()
            .container_definitions(with(vec![gpus("2"), inference]))
            .container_definitions(with(vec![gpus(" 1 ")]))
            .container_definitions(with(vec![gpus("many")]))
            .container_definitions(container(128, Some(256), None))
            .build();
        let size = task_definition_size(&td);
        assert_eq!(
            size.gpu, 3,
            "unreadable counts and other resources add nothing"
        );
        assert_eq!(size.reservation, Resources::new(128, 512 * 3 + 256));
    }

    #[test]
    fn amounts_parse_numbers_and_units() {
        assert_eq!(parse_cpu("1024"), Some(1024));
        assert_eq!(parse_cpu(" 0.25 vCPU"), Some(256));
        assert_eq!(parse_memory("2 GB"), Some(2048));
        assert_eq!(parse_memory("512"), Some(512));
        for junk in ["", "lots", "-1", "1 MB", "NaN GB", "-2 GB"] {
            assert_eq!(parse_memory(junk), None, "{junk}");
        }
    }

    #[test]
    fn service_state_reads_tags_counts_and_distinct_instance() {
        let service = Service::builder()
            .service_name("web")
            .service_arn("arn:aws:ecs:us-east-1:1:service/prod/web")
            .status("ACTIVE")
            .desired_count(4)
            .running_count(3)
            .pending_count(1)
            .task_definition("arn:td/web:3")
            .placement_constraints(
                PlacementConstraint::builder()
                    .r#type(PlacementConstraintType::DistinctInstance)
                    .build(),
            )
            .tags(Tag::builder().key("team").value("x").build())
            .tags(
                Tag::builder()
                    .key(LAST_SCALING_TAG)
                    .value("down 1764412345")
                    .build(),
            )
            .tags(Tag::builder().key(DO_NOT_DISRUPT_TAG).value("True").build())
            .build();
        let s = service_state(&service, Resources::new(256, 512)).expect("valid");
        assert_eq!((s.desired, s.running, s.pending), (4, 3, 1));
        assert!(s.do_not_disrupt);
        assert!(s.distinct_instance);
        assert_eq!(
            s.last_scaling,
            ScalingRecord::from_tag_value("down 1764412345")
        );
        assert_eq!(s.task_size, Resources::new(256, 512));
        assert_eq!(s.task_definition, "arn:td/web:3");

        let plain = Service::builder()
            .service_name("w")
            .service_arn("a")
            .tags(
                Tag::builder()
                    .key(LAST_SCALING_TAG)
                    .value("sideways")
                    .build(),
            )
            .tags(Tag::builder().key(DO_NOT_DISRUPT_TAG).value("no").build())
            .build();
        let s = service_state(&plain, Resources::ZERO).expect("valid");
        assert!(!s.distinct_instance);
        assert!(!s.do_not_disrupt, "only `true` keeps its instances");
        assert_eq!(s.last_scaling, None);
        assert!(service_state(&Service::builder().build(), Resources::ZERO).is_err());
        let no_arn = Service::builder().service_name("w").build();
        assert_eq!(
            service_state(&no_arn, Resources::ZERO),
            Err(Incomplete("service `w` has no serviceArn".into()))
        );
    }

    #[test]
    fn container_instance_reads_resources_status_drain_record_and_agent() {
        let res = |name: &str, v: i32| {
            Resource::builder()
                .name(name)
                .r#type("INTEGER")
                .integer_value(v)
                .build()
        };
        let ci = aws_sdk_ecs::types::ContainerInstance::builder()
            .container_instance_arn("arn:ci/1")
            .ec2_instance_id("i-1")
            .status("DRAINING")
            .registered_resources(res("CPU", 4096))
            .registered_resources(res("MEMORY", 7482))
            .registered_resources(res("PORTS", 0))
            .remaining_resources(res("CPU", 1024))
            .remaining_resources(res("MEMORY", -482))
            .running_tasks_count(2)
            .agent_connected(true)
            .attributes(
                Attribute::builder()
                    .name("ecs.os-type")
                    .value("linux")
                    .build()
                    .expect("attribute"),
            )
            .attributes(
                Attribute::builder()
                    .name(DRAINED_AT_ATTRIBUTE)
                    .value("1764412345")
                    .build()
                    .expect("attribute"),
            )
            .attributes(
                Attribute::builder()
                    .name(DRAIN_ABORTED_AT_ATTRIBUTE)
                    .value("1764400000")
                    .build()
                    .expect("attribute"),
            )
            .build();
        let i = container_instance(&ci).expect("valid");
        assert_eq!(i.drain_aborted_at_epoch_secs, Some(1_764_400_000));
        assert_eq!(i.status, InstanceStatus::Draining);
        assert_eq!(i.registered, Resources::new(4096, 7482));
        assert_eq!(i.remaining, Resources::new(1024, 0), "negative reads as 0");
        assert_eq!((i.running_tasks, i.pending_tasks), (2, 0));
        assert_eq!(i.draining_since_epoch_secs, Some(1_764_412_345));
        assert!(i.drained_by_us() && i.agent_connected);
        assert!(i.tasks.is_empty());

        let other = aws_sdk_ecs::types::ContainerInstance::builder()
            .container_instance_arn("arn:ci/3")
            .ec2_instance_id("i-3")
            .status("REGISTERING")
            .build();
        let i = container_instance(&other).expect("valid");
        assert_eq!(i.status, InstanceStatus::Other("REGISTERING".into()));
        assert_eq!(i.registered, Resources::ZERO);
        assert_eq!(i.draining_since_epoch_secs, None);
        assert_eq!(i.drain_aborted_at_epoch_secs, None);
        assert!(!i.agent_connected, "ECS did not say it is connected");

        let no_id = aws_sdk_ecs::types::ContainerInstance::builder()
            .container_instance_arn("arn:ci/2")
            .build();
        assert!(container_instance(&no_id).is_err());
    }

    #[test]
    fn task_reads_placement_group_and_task_level_size() {
        let t = aws_sdk_ecs::types::Task::builder()
            .task_arn("arn:task/1")
            .cluster_arn("arn:cluster/prod")
            .container_instance_arn("arn:ci/1")
            .group("service:web")
            .started_by("web")
            .task_definition_arn("arn:td/web:3")
            .last_status("RUNNING")
            .desired_status("RUNNING")
            .cpu("0.5 vCPU")
            .memory("lots")
            .build();
        let t = task(&t).expect("valid");
        assert_eq!(t.service(), Some("web"));
        assert_eq!(t.container_instance_arn.as_deref(), Some("arn:ci/1"));
        assert_eq!(t.cluster_arn.as_deref(), Some("arn:cluster/prod"));
        assert_eq!((t.cpu, t.memory), (Some(512), None));
        assert_eq!(
            (t.last_status.as_str(), t.desired_status.as_str()),
            ("RUNNING", "RUNNING")
        );

        let bare = task(
            &aws_sdk_ecs::types::Task::builder()
                .task_arn("arn:task/2")
                .build(),
        )
        .expect("valid");
        assert_eq!((bare.service(), bare.group.as_str()), (None, ""));
        assert_eq!(bare.container_instance_arn, None);
        assert!(task(&aws_sdk_ecs::types::Task::builder().build()).is_err());
    }

    #[test]
    fn launch_times_read_describe_instances() {
        use aws_sdk_ec2::primitives::DateTime;
        use aws_sdk_ec2::types::{Instance, Reservation};
        let r = Reservation::builder()
            .instances(
                Instance::builder()
                    .instance_id("i-1")
                    .launch_time(DateTime::from_secs(1_764_412_345))
                    .build(),
            )
            .instances(Instance::builder().instance_id("i-2").build())
            .build();
        let times = launch_times(&[r]);
        assert_eq!(times.get("i-1"), Some(&1_764_412_345));
        assert_eq!(times.len(), 1);
    }

    #[test]
    fn group_state_reads_limits_and_instances() {
        use aws_sdk_autoscaling::types::{Instance, LifecycleState};
        let g = AutoScalingGroup::builder()
            .auto_scaling_group_name("asg")
            .min_size(1)
            .max_size(5)
            .desired_capacity(3)
            .instances(
                Instance::builder()
                    .instance_id("i-1")
                    .lifecycle_state(LifecycleState::Pending)
                    .health_status("Healthy")
                    .protected_from_scale_in(true)
                    .build(),
            )
            .instances(Instance::builder().build())
            .build();
        let s = group_state(&g);
        assert_eq!((s.min, s.max, s.desired), (1, 5, 3));
        assert_eq!(s.instances.len(), 1);
        assert_eq!(s.instances[0].lifecycle_state, "Pending");
        assert!(!s.instances[0].in_service());
        assert!(s.instances[0].protected_from_scale_in);
        assert_eq!(
            s.instance("i-1").map(|i| i.health_status.as_str()),
            Some("Healthy")
        );
        assert!(s.instance("i-2").is_none());
        assert!(!s.ecs_managed);
        let managed = AutoScalingGroup::builder()
            .auto_scaling_group_name("asg")
            .tags(
                aws_sdk_autoscaling::types::TagDescription::builder()
                    .key("AmazonECSManaged")
                    .value("")
                    .build(),
            )
            .build();
        assert!(group_state(&managed).ecs_managed);
    }

    #[test]
    fn service_state_reads_launch_scheduling_and_placement() {
        use aws_sdk_ecs::types::{
            CapacityProviderStrategyItem, PlacementStrategy, PlacementStrategyType,
        };
        let member_of = |e: &str| {
            PlacementConstraint::builder()
                .r#type(PlacementConstraintType::MemberOf)
                .expression(e)
                .build()
        };
        let base = || Service::builder().service_name("s").service_arn("arn:s");
        let gpu = base()
            .launch_type(LaunchType::Ec2)
            .scheduling_strategy(SchedulingStrategy::Replica)
            .placement_constraints(member_of("attribute:ecs.instance-type =~ g4dn.*"))
            .placement_constraints(member_of(
                " attribute:ecs.availability-zone in [us-east-1a, us-east-1b] ",
            ))
            .placement_strategy(
                PlacementStrategy::builder()
                    .r#type(PlacementStrategyType::Spread)
                    .field("attribute:ecs.availability-zone")
                    .build(),
            )
            .placement_strategy(
                PlacementStrategy::builder()
                    .r#type(PlacementStrategyType::Binpack)
                    .field("memory")
                    .build(),
            )
            .build();
        let p = service_state(&gpu, Resources::ZERO)
            .expect("valid")
            .placement;
        assert_eq!(p.launch, Launch::Ec2);
        assert_eq!(p.scheduling, Scheduling::Replica);
        assert_eq!(
            p.member_of,
            [
                "attribute:ecs.instance-type =~ g4dn.*",
                "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"
            ]
        );
        assert_eq!(
            p.placement_strategy,
            ["spread:attribute:ecs.availability-zone", "binpack:memory"]
        );
        assert_eq!(p.unmodelled, None);

        let provider = |name: &str| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(name)
                .weight(1)
                .build()
                .expect("provider named")
        };
        let fargate = base()
            .capacity_provider_strategy(provider("FARGATE"))
            .capacity_provider_strategy(provider("FARGATE_SPOT"))
            .build();
        let p = service_state(&fargate, Resources::ZERO)
            .expect("valid")
            .placement;
        assert_eq!(p.launch, Launch::Fargate);
        assert!(!p.launch.on_instances());
        let mixed = base()
            .capacity_provider_strategy(provider("FARGATE"))
            .capacity_provider_strategy(provider("prod-cp"))
            .build();
        assert_eq!(
            service_state(&mixed, Resources::ZERO)
                .expect("valid")
                .placement
                .launch,
            Launch::CapacityProviders {
                providers: vec!["FARGATE".into(), "prod-cp".into()]
            }
        );
        let by_type = base().launch_type(LaunchType::Fargate).build();
        assert_eq!(
            service_state(&by_type, Resources::ZERO)
                .expect("valid")
                .placement
                .launch,
            Launch::Fargate
        );
        let daemon = base()
            .scheduling_strategy(SchedulingStrategy::Daemon)
            .placement_constraints(
                PlacementConstraint::builder()
                    .r#type(PlacementConstraintType::from("spreadAcross"))
                    .build(),
            )
            .build();
        let p = service_state(&daemon, Resources::ZERO)
            .expect("valid")
            .placement;
        assert_eq!(p.scheduling, Scheduling::Daemon);
        assert_eq!(p.launch, Launch::Ec2, "no launch type: EC2");
        assert_eq!(
            p.unmodelled.as_deref(),
            Some("placement constraint of type `spreadAcross` not understood")
        );
    }

    #[test]
    fn task_definitions_give_host_ports_by_network_mode() {
        use aws_sdk_ecs::types::{NetworkMode as Mode, PortMapping};
        let mapping = |container: i32, host: Option<i32>, udp: bool| {
            PortMapping::builder()
                .container_port(container)
                .set_host_port(host)
                .protocol(if udp {
                    TransportProtocol::Udp
                } else {
                    TransportProtocol::Tcp
                })
                .build()
        };
        let td = |mode: Option<Mode>| {
            TaskDefinition::builder()
                .set_network_mode(mode)
                .container_definitions(
                    ContainerDefinition::builder()
                        .name("web")
                        .memory(512)
                        .port_mappings(mapping(8080, Some(80), false))
                        .port_mappings(mapping(9000, Some(0), false))
                        .port_mappings(mapping(9001, None, false))
                        .port_mappings(mapping(53, Some(53), true))
                        .build(),
                )
                .container_definitions(
                    ContainerDefinition::builder()
                        .name("sidecar")
                        .memory(64)
                        .port_mappings(mapping(8080, Some(80), false))
                        .build(),
                )
                .build()
        };
        let bridge = task_definition_size(&td(None));
        assert_eq!(bridge.network_mode, NetworkMode::Bridge);
        assert_eq!(
            bridge.host_ports,
            [HostPort::udp(53), HostPort::tcp(80)],
            "dynamic ports (0, none) conflict with nothing; duplicates once"
        );
        // (ECS registers host mode only with hostPort equal to containerPort, or none.)
        let host = task_definition_size(&td(Some(Mode::Host)));
        assert_eq!(host.network_mode, NetworkMode::Host);
        assert_eq!(
            host.host_ports,
            [
                HostPort::udp(53),
                HostPort::tcp(8080),
                HostPort::tcp(9000),
                HostPort::tcp(9001)
            ]
        );
        let vpc = task_definition_size(&td(Some(Mode::Awsvpc)));
        assert_eq!(vpc.network_mode, NetworkMode::Awsvpc);
        assert!(vpc.host_ports.is_empty(), "each task has its own ENI");

        let mut service = service_state(
            &Service::builder()
                .service_name("s")
                .service_arn("a")
                .build(),
            Resources::ZERO,
        )
        .expect("valid");
        let constrained = TaskDefinition::builder()
            .placement_constraints(
                aws_sdk_ecs::types::TaskDefinitionPlacementConstraint::builder()
                    .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                    .expression("attribute:ecs.instance-type == g4dn.xlarge")
                    .build(),
            )
            .build();
        let from_td = task_definition_size(&constrained);
        assert_eq!(
            from_td.member_of,
            ["attribute:ecs.instance-type == g4dn.xlarge"]
        );
        from_td.apply_to(&mut service);
        from_td.apply_to(&mut service);
        assert_eq!(
            service.placement.member_of,
            ["attribute:ecs.instance-type == g4dn.xlarge"],
            "the task definition's constraints join the service's, once"
        );
        let mut odd = task_definition_size(&td(Some(Mode::from("nat"))));
        assert_eq!(odd.network_mode, NetworkMode::Other("nat".into()));
        odd.gpu = 2;
        odd.apply_to(&mut service);
        assert_eq!(service.gpu, 2);
        assert_eq!(
            service.placement.unmodelled.as_deref(),
            Some("network mode `nat` not understood")
        );
        host.apply_to(&mut service);
        assert_eq!(service.placement.host_ports.len(), 4);
    }

    #[test]
    fn container_instance_reads_ports_gpus_and_attributes() {
        let set = |name: &str, values: &[&str]| {
            Resource::builder()
                .name(name)
                .r#type("STRINGSET")
                .set_string_set_value(Some(values.iter().map(|v| v.to_string()).collect()))
                .build()
        };
        let attribute = |name: &str, value: Option<&str>| {
            Attribute::builder()
                .name(name)
                .set_value(value.map(str::to_owned))
                .build()
                .expect("attribute")
        };
        // As the agent registers a g4dn.12xlarge: four GPU ids; its reserved ports in use.
        let ci = aws_sdk_ecs::types::ContainerInstance::builder()
            .container_instance_arn("arn:ci/1")
            .ec2_instance_id("i-1")
            .status("ACTIVE")
            .registered_resources(set("PORTS", &["22", "2375", "2376", "51678", "51679"]))
            .registered_resources(set("GPU", &["GPU-a", "GPU-b", "GPU-c", "GPU-d"]))
            .remaining_resources(set(
                "PORTS",
                &["22", "2375", "2376", "51678", "51679", "80", "x"],
            ))
            .remaining_resources(set("PORTS_UDP", &["53"]))
            .remaining_resources(set("GPU", &["GPU-c"]))
            .attributes(attribute("ecs.instance-type", Some("g4dn.12xlarge")))
            .attributes(attribute("ecs.availability-zone", Some("us-east-1a")))
            .attributes(attribute(
                "com.amazonaws.ecs.capability.docker-remote-api.1.17",
                None,
            ))
            .attributes(attribute("team", Some("ml")))
            .build();
        let p = container_instance(&ci).expect("valid").placement;
        assert_eq!((p.gpus, p.gpus_free), (4, 1));
        assert!(p.ports_in_use.contains(&HostPort::tcp(80)));
        assert!(p.ports_in_use.contains(&HostPort::udp(53)));
        assert!(!p.ports_in_use.contains(&HostPort::udp(80)));
        assert_eq!(
            p.ports_in_use.len(),
            7,
            "an entry that is no port is left out"
        );
        assert_eq!(p.attribute("ecs.instance-type"), Some("g4dn.12xlarge"));
        assert_eq!(p.attribute("team"), Some("ml"));
        assert_eq!(
            p.attribute("com.amazonaws.ecs.capability.docker-remote-api.1.17"),
            Some("")
        );
        assert_eq!(p.attribute("ecs.os-type"), None);

        let counted = aws_sdk_ecs::types::ContainerInstance::builder()
            .container_instance_arn("arn:ci/2")
            .ec2_instance_id("i-2")
            .registered_resources(
                Resource::builder()
                    .name("GPU")
                    .r#type("INTEGER")
                    .integer_value(2)
                    .build(),
            )
            .build();
        let p = container_instance(&counted).expect("valid").placement;
        assert_eq!((p.gpus, p.gpus_free), (2, 0));
    }

    #[test]
    fn a_desired_capacity_in_units_is_told() {
        use aws_sdk_autoscaling::types::{
            LaunchTemplate, LaunchTemplateOverrides, MixedInstancesPolicy,
        };
        let weighed = |weights: &[Option<&str>]| {
            let overrides = weights
                .iter()
                .enumerate()
                .map(|(n, w)| {
                    LaunchTemplateOverrides::builder()
                        .instance_type(format!("m5.{n}xlarge"))
                        .set_weighted_capacity(w.map(str::to_owned))
                        .build()
                })
                .collect();
            AutoScalingGroup::builder()
                .mixed_instances_policy(
                    MixedInstancesPolicy::builder()
                        .launch_template(
                            LaunchTemplate::builder()
                                .set_overrides(Some(overrides))
                                .build(),
                        )
                        .build(),
                )
                .build()
        };
        assert_eq!(
            capacity_in_units(&AutoScalingGroup::builder().build()),
            None
        );
        assert_eq!(capacity_in_units(&weighed(&[None, None])), None);
        assert_eq!(capacity_in_units(&weighed(&[Some("1"), Some(" 1 ")])), None);
        assert_eq!(
            capacity_in_units(&weighed(&[Some("1"), Some("2")])).as_deref(),
            Some("its mixed instances policy weighs `m5.1xlarge` at 2")
        );
        let by_vcpu = AutoScalingGroup::builder()
            .desired_capacity_type("vcpu")
            .build();
        assert_eq!(
            group_state(&by_vcpu).capacity_in_units.as_deref(),
            Some("its DesiredCapacityType is `vcpu`")
        );
        let by_units = AutoScalingGroup::builder()
            .desired_capacity_type("units")
            .build();
        assert_eq!(capacity_in_units(&by_units), None);
    }

    #[test]
    fn launch_sources_prefer_the_overrides_then_a_template_then_a_configuration() {
        use aws_sdk_autoscaling::types::{
            InstanceRequirements, LaunchTemplate, LaunchTemplateOverrides,
            LaunchTemplateSpecification, MixedInstancesPolicy, VCpuCountRequest,
        };
        let spec = LaunchTemplateSpecification::builder()
            .launch_template_name("lt")
            .build();
        let mixed = |overrides: Vec<LaunchTemplateOverrides>| {
            MixedInstancesPolicy::builder()
                .launch_template(
                    LaunchTemplate::builder()
                        .launch_template_specification(spec.clone())
                        .set_overrides(Some(overrides))
                        .build(),
                )
                .build()
        };
        let by_type = |t: &str| LaunchTemplateOverrides::builder().instance_type(t).build();
        let group = AutoScalingGroup::builder()
            .launch_configuration_name("lc")
            .mixed_instances_policy(mixed(vec![by_type("c5.large"), by_type("m5.large")]))
            .build();
        assert_eq!(
            launch_source(&group),
            LaunchSource::Types(vec!["c5.large".into(), "m5.large".into()])
        );
        // One override by attributes: the types are not known.
        let by_attributes = LaunchTemplateOverrides::builder()
            .instance_requirements(
                InstanceRequirements::builder()
                    .v_cpu_count(VCpuCountRequest::builder().min(2).build())
                    .build(),
            )
            .build();
        let group = AutoScalingGroup::builder()
            .mixed_instances_policy(mixed(vec![by_type("c5.large"), by_attributes]))
            .build();
        assert_eq!(launch_source(&group), LaunchSource::Unknown);
        // No override: the policy's template, at its default version.
        let group = AutoScalingGroup::builder()
            .mixed_instances_policy(mixed(vec![]))
            .build();
        assert_eq!(
            launch_source(&group),
            LaunchSource::Template {
                id: None,
                name: Some("lt".into()),
                version: "$Default".into()
            }
        );
        let group = AutoScalingGroup::builder()
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id("lt-1")
                    .version("3")
                    .build(),
            )
            .build();
        assert_eq!(
            launch_source(&group),
            LaunchSource::Template {
                id: Some("lt-1".into()),
                name: None,
                version: "3".into()
            }
        );
        let group = AutoScalingGroup::builder()
            .launch_configuration_name("lc")
            .build();
        assert_eq!(
            launch_source(&group),
            LaunchSource::Configuration("lc".into())
        );
        assert_eq!(
            launch_source(&AutoScalingGroup::builder().build()),
            LaunchSource::Unknown
        );
    }

    #[test]
    fn ec2_sizes_become_what_ecs_may_count_on() {
        use aws_sdk_ec2::types::{
            GpuDeviceInfo, GpuInfo, InstanceType, InstanceTypeInfo, MemoryInfo, VCpuInfo,
        };
        let info = |t: InstanceType, vcpus: i32, mib: i64, gpus: Option<i32>| {
            let mut b = InstanceTypeInfo::builder()
                .instance_type(t)
                .v_cpu_info(VCpuInfo::builder().default_v_cpus(vcpus).build())
                .memory_info(MemoryInfo::builder().size_in_mib(mib).build());
            if let Some(n) = gpus {
                b = b.gpu_info(
                    GpuInfo::builder()
                        .gpus(GpuDeviceInfo::builder().count(n).build())
                        .build(),
                );
            }
            b.build()
        };
        let sizes = described_capacities(&[
            info(InstanceType::C5Large, 2, 4096, None),
            info(InstanceType::G4dnXlarge, 4, 16384, Some(1)),
            // Without its memory: left out.
            InstanceTypeInfo::builder()
                .instance_type(InstanceType::M5Large)
                .build(),
        ]);
        // 4,096 MiB: 512 MiB kept back (a tenth would be less); 16,384 MiB: a tenth.
        assert_eq!(
            sizes.get("c5.large"),
            Some(&TypeCapacity {
                resources: Resources::new(2048, 3584),
                gpus: 0
            })
        );
        assert_eq!(
            sizes.get("g4dn.xlarge"),
            Some(&TypeCapacity {
                resources: Resources::new(4096, 14746),
                gpus: 1
            })
        );
        assert_eq!(sizes.len(), 2);
    }

    #[test]
    fn the_provider_on_the_group_is_found_by_arn_or_name() {
        use aws_sdk_ecs::types::{
            AutoScalingGroupProvider, CapacityProvider, ManagedScaling, ManagedScalingStatus,
        };
        let arn = |g: &str| {
            format!("arn:aws:autoscaling:us-east-1:1:autoScalingGroup:abc:autoScalingGroupName/{g}")
        };
        let provider = |name: &str, target: &str, status: Option<ManagedScalingStatus>| {
            let mut scaling = ManagedScaling::builder();
            if let Some(s) = status {
                scaling = scaling.status(s);
            }
            CapacityProvider::builder()
                .name(name)
                .auto_scaling_group_provider(
                    AutoScalingGroupProvider::builder()
                        .auto_scaling_group_arn(target)
                        .managed_scaling(scaling.build())
                        .build()
                        .expect("an ARN"),
                )
                .build()
        };
        let providers = [
            provider(
                "other",
                &arn("other-asg"),
                Some(ManagedScalingStatus::Enabled),
            ),
            provider("ours", &arn("asg"), Some(ManagedScalingStatus::Enabled)),
        ];
        let found = provider_on_group(&providers, "asg", Some(&arn("asg")));
        assert_eq!(
            found,
            Some(CapacityProviderLink {
                name: "ours".into(),
                managed_scaling: true
            })
        );
        // The group's ARN not known: its name in the provider's ARN.
        assert_eq!(provider_on_group(&providers, "asg", None), found);
        assert_eq!(provider_on_group(&providers, "third-asg", None), None);
        // A name where an ARN belongs, managed scaling not given: not ENABLED.
        let by_name = [provider("named", "asg", None)];
        assert_eq!(
            provider_on_group(&by_name, "asg", Some(&arn("asg"))),
            Some(CapacityProviderLink {
                name: "named".into(),
                managed_scaling: false
            })
        );
    }
}
