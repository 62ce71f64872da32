//! World builders: clusters, Auto Scaling groups registered as container instances, task
//! definitions, services and their tasks.

use std::collections::HashSet;

use anyhow::{bail, Context, Result};
use aws_sdk_autoscaling::Client as AsgClient;
use aws_sdk_ecs::types::{ContainerDefinition, ContainerInstanceStatus, LaunchType, Resource};
use aws_sdk_ecs::Client as EcsClient;
use shared::aws::read;
use shared::aws::state::group_state;
use shared::resources::Resources;

use crate::bed::REGION;

/// An AMI id moto knows (Amazon Linux 2, x86_64); moto does not validate AMIs by default anyway.
pub const AMI_ID: &str = "ami-04681a1dbd79675a5";
/// The instance type of the groups built here (moto registers every container instance with
/// CPU 4096 / MEMORY 7482 whatever the type).
pub const INSTANCE_TYPE: &str = "m5.large";
/// The availability zone of the groups built here.
pub const AVAILABILITY_ZONE: &str = "us-east-1a";
/// CPU units and MiB of memory moto gives every container instance (it ignores
/// `totalResources`).
pub const INSTANCE_RESOURCES: Resources = Resources::new(4096, 7482);
/// CPU units moto gives every container instance, as the API spells amounts.
pub const INSTANCE_CPU: i32 = INSTANCE_RESOURCES.cpu as i32;
/// MiB of memory moto gives every container instance, as the API spells amounts.
pub const INSTANCE_MEMORY: i32 = INSTANCE_RESOURCES.memory as i32;
/// Image of the containers of the task definitions built here (never pulled).
pub const CONTAINER_IMAGE: &str = "public.ecr.aws/docker/library/nginx:latest";

/// Auto Scaling group sizes for [`create_group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Group name; the launch configuration gets the same name.
    pub name: String,
    /// MinSize.
    pub min: i32,
    /// MaxSize.
    pub max: i32,
    /// DesiredCapacity (instances launched at once).
    pub desired: i32,
    /// AvailabilityZones ([`AVAILABILITY_ZONE`] alone by default).
    pub zones: Vec<String>,
}

impl GroupSpec {
    /// A group of `desired` instances, min 0, max `max(desired, 10)`.
    pub fn new(name: impl Into<String>, desired: i32) -> Self {
        Self {
            name: name.into(),
            min: 0,
            max: desired.max(10),
            desired,
            zones: vec![AVAILABILITY_ZONE.to_owned()],
        }
    }

    /// Sets AvailabilityZones (moto puts the instances of one launch in one of them at random:
    /// see `StrictAws::balance_zones` for Auto Scaling's rule).
    pub fn zones(mut self, zones: &[&str]) -> Self {
        self.zones = zones.iter().map(|z| (*z).to_owned()).collect();
        self
    }

    /// Sets MinSize.
    pub fn min(mut self, min: i32) -> Self {
        self.min = min;
        self
    }

    /// Sets MaxSize.
    pub fn max(mut self, max: i32) -> Self {
        self.max = max;
        self
    }
}

/// An EC2 instance registered as an ECS container instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// EC2 instance id, e.g. `i-0abc...`.
    pub instance_id: String,
    /// Container instance ARN.
    pub container_instance_arn: String,
}

/// An Auto Scaling group built by [`create_group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Group ARN.
    pub arn: String,
    /// Its instances, each registered as a container instance, in group order.
    pub instances: Vec<Registered>,
}

impl Group {
    /// The container instance ARNs, in group order.
    pub fn container_instance_arns(&self) -> Vec<String> {
        self.instances
            .iter()
            .map(|r| r.container_instance_arn.clone())
            .collect()
    }
}

/// Creates an ECS cluster; returns its ARN.
pub async fn create_cluster(ecs: &EcsClient, name: &str) -> Result<String> {
    let out = ecs
        .create_cluster()
        .cluster_name(name)
        .send()
        .await
        .with_context(|| format!("CreateCluster {name}"))?;
    out.cluster()
        .and_then(|c| c.cluster_arn())
        .map(str::to_owned)
        .with_context(|| format!("CreateCluster {name}: no clusterArn in the answer"))
}

/// Creates a launch configuration and an Auto Scaling group of `spec.desired` instances, then
/// registers each instance in `cluster` as a container instance.
pub async fn create_group(
    asg: &AsgClient,
    ecs: &EcsClient,
    cluster: &str,
    spec: &GroupSpec,
) -> Result<Group> {
    asg.create_launch_configuration()
        .launch_configuration_name(&spec.name)
        .image_id(AMI_ID)
        .instance_type(INSTANCE_TYPE)
        .send()
        .await
        .with_context(|| format!("CreateLaunchConfiguration {}", spec.name))?;
    asg.create_auto_scaling_group()
        .auto_scaling_group_name(&spec.name)
        .launch_configuration_name(&spec.name)
        .min_size(spec.min)
        .max_size(spec.max)
        .desired_capacity(spec.desired)
        .set_availability_zones(Some(spec.zones.clone()))
        .send()
        .await
        .with_context(|| format!("CreateAutoScalingGroup {}", spec.name))?;
    let arn = describe_group(asg, &spec.name)
        .await?
        .auto_scaling_group_arn()
        .unwrap_or_default()
        .to_owned();
    register_group_instances(asg, ecs, cluster, &spec.name).await?;
    let registered = registered_instances(ecs, cluster).await?;
    let instances = group_instance_ids(asg, &spec.name)
        .await?
        .into_iter()
        .map(|id| {
            registered
                .iter()
                .find(|r| r.instance_id == id)
                .cloned()
                .with_context(|| format!("instance {id} was not registered"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Group {
        name: spec.name.clone(),
        arn,
        instances,
    })
}

async fn describe_group(
    asg: &AsgClient,
    name: &str,
) -> Result<aws_sdk_autoscaling::types::AutoScalingGroup> {
    read::describe_group(asg, name)
        .await
        .with_context(|| format!("DescribeAutoScalingGroups {name}"))?
        .with_context(|| format!("Auto Scaling group {name} not found"))
}

/// The ids of the group's live instances (lifecycle `Pending*` or `InService`), in group order.
pub async fn group_instance_ids(asg: &AsgClient, group: &str) -> Result<Vec<String>> {
    let group = group_state(&describe_group(asg, group).await?);
    Ok(group
        .instances
        .into_iter()
        .filter(|i| {
            let state = i.lifecycle_state.as_str();
            state == "InService" || state.starts_with("Pending")
        })
        .map(|i| i.instance_id)
        .collect())
}

/// Registers EC2 instance `instance_id` in `cluster`; returns the container instance ARN.
///
/// moto reads only `instanceId` from the identity document and ignores `totalResources`
/// (every container instance gets CPU 4096 / MEMORY 7482).
pub async fn register_container_instance(
    ecs: &EcsClient,
    cluster: &str,
    instance_id: &str,
) -> Result<String> {
    let document = serde_json::json!({
        "instanceId": instance_id,
        "region": REGION,
        "availabilityZone": AVAILABILITY_ZONE,
        "instanceType": INSTANCE_TYPE,
        "imageId": AMI_ID,
    });
    let out = ecs
        .register_container_instance()
        .cluster(cluster)
        .instance_identity_document(document.to_string())
        .total_resources(integer_resource("CPU", INSTANCE_CPU))
        .total_resources(integer_resource("MEMORY", INSTANCE_MEMORY))
        .send()
        .await
        .with_context(|| format!("RegisterContainerInstance {instance_id} in {cluster}"))?;
    out.container_instance()
        .and_then(|ci| ci.container_instance_arn())
        .map(str::to_owned)
        .with_context(|| format!("RegisterContainerInstance {instance_id}: no ARN in the answer"))
}

fn integer_resource(name: &str, value: i32) -> Resource {
    Resource::builder()
        .name(name)
        .r#type("INTEGER")
        .integer_value(value)
        .build()
}

/// Every container instance of `cluster` (any status) with its EC2 instance id.
pub async fn registered_instances(ecs: &EcsClient, cluster: &str) -> Result<Vec<Registered>> {
    Ok(crate::scheduler::container_instances(ecs, cluster)
        .await?
        .into_iter()
        .map(|ci| Registered {
            instance_id: ci.ec2_instance_id,
            container_instance_arn: ci.arn,
        })
        .collect())
}

/// What the ECS agent of an ECS-optimised AMI does at boot: registers in `cluster` every live
/// instance of `group` that is not registered yet (e.g. launched by SetDesiredCapacity).
/// Returns the newly registered instances.
pub async fn register_group_instances(
    asg: &AsgClient,
    ecs: &EcsClient,
    cluster: &str,
    group: &str,
) -> Result<Vec<Registered>> {
    let known: HashSet<String> = registered_instances(ecs, cluster)
        .await?
        .into_iter()
        .map(|r| r.instance_id)
        .collect();
    let mut new = Vec::new();
    for instance_id in group_instance_ids(asg, group).await? {
        if known.contains(&instance_id) {
            continue;
        }
        let arn = register_container_instance(ecs, cluster, &instance_id).await?;
        new.push(Registered {
            instance_id,
            container_instance_arn: arn,
        });
    }
    Ok(new)
}

/// What ECS does when an instance is terminated: deregisters (with `force`) every container
/// instance of `cluster` whose EC2 instance is no longer live in any Auto Scaling group.
/// Returns the deregistered instances.
pub async fn deregister_departed_instances(
    asg: &AsgClient,
    ecs: &EcsClient,
    cluster: &str,
) -> Result<Vec<Registered>> {
    let mut live = HashSet::new();
    let mut pages = asg
        .describe_auto_scaling_instances()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.context("DescribeAutoScalingInstances")?;
        for instance in page.auto_scaling_instances() {
            let state = instance.lifecycle_state().unwrap_or_default();
            if state == "InService" || state.starts_with("Pending") {
                live.insert(instance.instance_id().unwrap_or_default().to_owned());
            }
        }
    }
    let mut gone = Vec::new();
    for registered in registered_instances(ecs, cluster).await? {
        if live.contains(&registered.instance_id) {
            continue;
        }
        ecs.deregister_container_instance()
            .cluster(cluster)
            .container_instance(&registered.container_instance_arn)
            .force(true)
            .send()
            .await
            .with_context(|| {
                format!(
                    "DeregisterContainerInstance {}",
                    registered.container_instance_arn
                )
            })?;
        gone.push(registered);
    }
    Ok(gone)
}

/// Sets the status of container instances (`ACTIVE` or `DRAINING`). moto only changes the
/// status: tasks are not moved (run [`crate::scheduler::converge`] for that).
pub async fn set_container_instance_status(
    ecs: &EcsClient,
    cluster: &str,
    container_instance_arns: &[String],
    status: ContainerInstanceStatus,
) -> Result<()> {
    for chunk in container_instance_arns.chunks(10) {
        let out = ecs
            .update_container_instances_state()
            .cluster(cluster)
            .set_container_instances(Some(chunk.to_vec()))
            .status(status.clone())
            .send()
            .await
            .context("UpdateContainerInstancesState")?;
        if let Some(failure) = out.failures().first() {
            bail!("UpdateContainerInstancesState failed: {failure:?}");
        }
    }
    Ok(())
}

/// Registers a task definition of one container (`app`) with container-level `cpu` units and
/// `memory_mib` hard memory limit; returns its ARN (`family:revision`).
///
/// No task-level sizes and no `memoryReservation`: ECS and moto's `remainingResources`
/// accounting agree on such a task (see `tests/README.md`).
pub async fn register_task_definition(
    ecs: &EcsClient,
    family: &str,
    cpu: i32,
    memory_mib: i32,
) -> Result<String> {
    let container = ContainerDefinition::builder()
        .name("app")
        .image(CONTAINER_IMAGE)
        .cpu(cpu)
        .memory(memory_mib)
        .essential(true)
        .build();
    let out = ecs
        .register_task_definition()
        .family(family)
        .container_definitions(container)
        .send()
        .await
        .with_context(|| format!("RegisterTaskDefinition {family}"))?;
    out.task_definition()
        .and_then(|td| td.task_definition_arn())
        .map(str::to_owned)
        .with_context(|| format!("RegisterTaskDefinition {family}: no ARN in the answer"))
}

/// Creates an EC2 service with `desired` tasks; returns its ARN. moto places no task for it:
/// run [`crate::scheduler::converge`].
pub async fn create_service(
    ecs: &EcsClient,
    cluster: &str,
    name: &str,
    task_definition: &str,
    desired: i32,
) -> Result<String> {
    let out = ecs
        .create_service()
        .cluster(cluster)
        .service_name(name)
        .task_definition(task_definition)
        .desired_count(desired)
        .launch_type(LaunchType::Ec2)
        .send()
        .await
        .with_context(|| format!("CreateService {name} in {cluster}"))?;
    out.service()
        .and_then(|s| s.service_arn())
        .map(str::to_owned)
        .with_context(|| format!("CreateService {name}: no ARN in the answer"))
}

/// Sets a service's desired count (UpdateService).
pub async fn set_desired_count(
    ecs: &EcsClient,
    cluster: &str,
    service: &str,
    desired: i32,
) -> Result<()> {
    ecs.update_service()
        .cluster(cluster)
        .service(service)
        .desired_count(desired)
        .send()
        .await
        .with_context(|| format!("UpdateService {service} desiredCount={desired}"))?;
    Ok(())
}

/// The `startedBy` the harness gives a service's tasks (ECS allows 36 characters).
pub fn started_by(service: &str) -> String {
    service.chars().take(36).collect()
}

/// The task `group` ECS gives a service's tasks: `service:NAME`.
pub fn service_group(service: &str) -> String {
    format!("service:{service}")
}

/// Starts one task of `service` (its current task definition) on each listed container
/// instance (an ARN may repeat), tagged `startedBy` = [`started_by`] and `group` =
/// [`service_group`]. No capacity check: moto's StartTask places even what does not fit.
/// Returns the task ARNs.
pub async fn start_service_tasks(
    ecs: &EcsClient,
    cluster: &str,
    service: &str,
    container_instance_arns: &[String],
) -> Result<Vec<String>> {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .with_context(|| format!("DescribeServices {service}"))?;
    let task_definition = out
        .services()
        .first()
        .and_then(|s| s.task_definition())
        .with_context(|| format!("service {service} not found in {cluster}"))?
        .to_owned();
    start_tasks(
        ecs,
        cluster,
        service,
        &task_definition,
        container_instance_arns,
    )
    .await
}

/// Like [`start_service_tasks`] with an explicit task definition (no DescribeServices).
pub async fn start_tasks(
    ecs: &EcsClient,
    cluster: &str,
    service: &str,
    task_definition: &str,
    container_instance_arns: &[String],
) -> Result<Vec<String>> {
    start_tasks_in(
        ecs,
        cluster,
        service,
        task_definition,
        container_instance_arns,
        None,
    )
    .await
}

/// [`start_tasks`] of an `awsvpc` task definition: each task's ENI in `subnet` (StartTask
/// requires a network configuration for them).
pub async fn start_tasks_in(
    ecs: &EcsClient,
    cluster: &str,
    service: &str,
    task_definition: &str,
    container_instance_arns: &[String],
    subnet: Option<&str>,
) -> Result<Vec<String>> {
    let network = subnet
        .map(|subnet| {
            aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                .subnets(subnet)
                .security_groups("sg-testbed")
                .build()
                .map(|vpc| {
                    aws_sdk_ecs::types::NetworkConfiguration::builder()
                        .awsvpc_configuration(vpc)
                        .build()
                })
        })
        .transpose()
        .context("an awsvpc configuration")?;
    let mut arns = Vec::new();
    for chunk in container_instance_arns.chunks(10) {
        let out = ecs
            .start_task()
            .cluster(cluster)
            .task_definition(task_definition)
            .set_network_configuration(network.clone())
            .set_container_instances(Some(chunk.to_vec()))
            .started_by(started_by(service))
            .group(service_group(service))
            .send()
            .await
            .with_context(|| format!("StartTask {task_definition} for {service}"))?;
        if let Some(failure) = out.failures().first() {
            bail!("StartTask for {service} failed: {failure:?}");
        }
        for task in out.tasks() {
            arns.push(
                task.task_arn()
                    .context("StartTask: a task without ARN")?
                    .to_owned(),
            );
        }
    }
    Ok(arns)
}
