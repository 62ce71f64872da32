//! Reads one cluster's live state from ECS and Auto Scaling into a [`ClusterState`].
//!
//! # Call budget
//!
//! For a definition naming `S` services, a cluster of `I` container instances and `T` tasks
//! (desired status RUNNING), one read costs at most
//!
//! | calls | operation |
//! | --- | --- |
//! | ⌈S/10⌉ | `DescribeServices` (10 names per call, the API's maximum; `include: [TAGS]`) |
//! | D | `DescribeTaskDefinition`, once per distinct revision not yet in the [`TaskDefinitionCache`] |
//! | max(1, ⌈I/100⌉) | `ListContainerInstances` (pages of 100, the API's maximum; no status filter) |
//! | ⌈I/100⌉ | `DescribeContainerInstances` (100 per call; `include: [TAGS]`) |
//! | 1 | `DescribeAutoScalingGroups` (the group, by name) |
//! | L | `ListTasks` + `DescribeTasks`, only for the tasks the core can use (below) |
//!
//! that is ⌈S/10⌉ + 2⌈I/100⌉ + D + 1 + L. The listing of container instances is paged at 100
//! ARNs, so `I` instances need ⌈I/100⌉ list pages *and* ⌈I/100⌉ describe calls: the issue's
//! "⌈S/10⌉ + ⌈I/100⌉ + a few" is met up to 100 instances and is otherwise the floor plus
//! ⌈I/100⌉. Revisions never change, so the task definition cache may live as long as the
//! process (the handler keeps one across invocations), and D is 0 on a warm Lambda.
//!
//! ## Which tasks are listed, and how
//!
//! Container instances report only totals; the core needs each task's size where it may move
//! tasks. [`crate::task_listing`] says where: the busy DRAINING instances (their tasks must
//! move), the first candidates consolidation may examine (at most 16), or every instance when
//! a `distinctInstance` service needs to know where its tasks run; nothing when no instance
//! with tasks can be emptied. [`choose_listing`] then takes the cheaper of ListTasks for those
//! instances (a page per 100 of their tasks each) and ListTasks for the whole cluster
//! (⌈T/100⌉ pages), counting from the instances' task counts; DescribeTasks follows 100 at a
//! time. So L ≤ min(2⌈T/100⌉, K + ⌈t/100⌉ + …) for K instances holding t tasks — about 20
//! calls for 1,000 instances of 20 tasks, where listing the cluster would take 400. Measured
//! against the emulator (`tests/emulator.rs`): S = 13, I = 3, T = 5 takes 10 calls with a
//! cold cache (3 revisions), 7 with a warm one; one DRAINING instance of 2 tasks in a cluster
//! of 255 takes one ListTasks and one DescribeTasks. A task's size is its task-level
//! `cpu`/`memory` when ECS reports them, else its task definition's (through the same cache).
//! Instances whose tasks were not listed keep an empty [`ContainerInstance::tasks`]; the core
//! reads that as "tasks unknown" and never drains them.
//!
//! Services named in the definition but missing in ECS (or INACTIVE) are listed in
//! [`StateRead::missing_services`], never an error. The group missing is `group: None`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use aws_sdk_ecs::types::{
    ContainerInstanceField, DesiredStatus, PlacementConstraintType, ServiceField,
};
use shared::aws::AwsClients;
use shared::definition::ClusterDefinition;
use shared::resources::Resources;
use shared::state::{
    ClusterState, ContainerInstance, GroupInstance, GroupState, InstanceStatus, PlacedTask,
    ScalingRecord, ServiceState, DRAINING_SINCE_TAG, LAST_SCALING_TAG,
};

/// Services per DescribeServices call (the API's maximum).
pub const SERVICES_PER_CALL: usize = 10;
/// Container instances or tasks per List/Describe call (the APIs' maximum).
pub const ITEMS_PER_CALL: usize = 100;

use crate::TaskListing;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a cluster's state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// An API call failed (after the SDK's retries).
    #[error("cluster `{cluster}`: {operation} failed")]
    Call {
        /// ECS cluster name.
        cluster: String,
        /// The operation, e.g. `DescribeServices`.
        operation: &'static str,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
    /// An answer lacks something the planner cannot do without.
    #[error("cluster `{cluster}`: {operation}: {message}")]
    Invalid {
        /// ECS cluster name.
        cluster: String,
        /// The operation whose answer was incomplete.
        operation: &'static str,
        /// What was missing.
        message: String,
    },
}

impl ReadError {
    fn call(
        cluster: &str,
        operation: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ReadError::Call {
            cluster: cluster.to_owned(),
            operation,
            source: Box::new(source),
        }
    }

    fn invalid(cluster: &str, operation: &'static str, message: impl Into<String>) -> Self {
        ReadError::Invalid {
            cluster: cluster.to_owned(),
            operation,
            message: message.into(),
        }
    }

    /// The cluster the error is about.
    pub fn cluster(&self) -> &str {
        match self {
            ReadError::Call { cluster, .. } | ReadError::Invalid { cluster, .. } => cluster,
        }
    }
}

/// Task sizes by task definition ARN (`family:revision`).
///
/// A revision never changes once registered, so entries never go stale: one cache can serve
/// every read of a process. Thread-safe; the lock is never held across a call.
#[derive(Debug, Default)]
pub struct TaskDefinitionCache {
    sizes: Mutex<HashMap<String, Resources>>,
}

impl TaskDefinitionCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached size of a revision.
    pub fn get(&self, arn: &str) -> Option<Resources> {
        self.lock().get(arn).copied()
    }

    /// Records the size of a revision.
    pub fn insert(&self, arn: impl Into<String>, size: Resources) {
        self.lock().insert(arn.into(), size);
    }

    /// Revisions cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Resources>> {
        // A panic while holding the lock cannot leave the map half-updated (one insert).
        self.sizes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The size of a revision, from the cache or one DescribeTaskDefinition call.
    async fn size(
        &self,
        ecs: &aws_sdk_ecs::Client,
        cluster: &str,
        arn: &str,
    ) -> Result<Resources, ReadError> {
        if let Some(size) = self.get(arn) {
            return Ok(size);
        }
        const OP: &str = "DescribeTaskDefinition";
        let out = ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| ReadError::call(cluster, OP, e))?;
        let td = out.task_definition().ok_or_else(|| {
            ReadError::invalid(cluster, OP, format!("no task definition for `{arn}`"))
        })?;
        let size = task_definition_size(td);
        self.insert(arn, size);
        Ok(size)
    }
}

/// A service the definition names that ECS does not have (or has INACTIVE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingService {
    /// Service name, as in the definition.
    pub name: String,
    /// ECS's reason (`MISSING`, `INACTIVE`, ...).
    pub reason: String,
}

/// What [`read_cluster_state`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct StateRead {
    /// The state for the planner core.
    pub state: ClusterState,
    /// Services of the definition that ECS does not have; not in `state.services`.
    pub missing_services: Vec<MissingService>,
    /// Whether tasks were listed into [`ContainerInstance::tasks`] (see the module docs).
    pub tasks_listed: bool,
}

/// Reads the live state of `definition`'s cluster: its services, its ACTIVE and DRAINING
/// container instances (with their tasks when a drain could need them), and its Auto Scaling
/// group. See the module docs for the calls it makes.
pub async fn read_cluster_state(
    clients: &AwsClients,
    definition: &ClusterDefinition,
    cache: &TaskDefinitionCache,
) -> Result<StateRead, ReadError> {
    let cluster = definition.name.as_str();
    let (services, instances, group) = tokio::join!(
        read_services(&clients.ecs, definition, cache),
        read_instances(&clients.ecs, cluster),
        read_group(&clients.autoscaling, cluster, &definition.autoscale_group),
    );
    let (services, missing_services) = services?;
    let instances = instances?;
    let group = group?;

    let mut state = ClusterState {
        cluster: cluster.to_owned(),
        services,
        instances,
        group,
    };
    let listing = crate::task_listing(definition, &state);
    let tasks = match choose_listing(&listing, &state.instances) {
        Listing::Skip => None,
        Listing::Cluster => Some(list_task_arns(&clients.ecs, cluster, None).await?),
        Listing::Instances(arns) => {
            let mut tasks = Vec::new();
            for arn in arns {
                tasks.extend(list_task_arns(&clients.ecs, cluster, Some(arn)).await?);
            }
            Some(tasks)
        }
    };
    let tasks_listed = tasks.is_some();
    if let Some(arns) = tasks {
        let tasks = describe_tasks(&clients.ecs, cluster, &arns, cache).await?;
        assign_tasks(&mut state.instances, tasks);
    }
    Ok(StateRead {
        state,
        missing_services,
        tasks_listed,
    })
}

/// How the reader lists the tasks the core can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing<'a> {
    /// No task listing.
    Skip,
    /// ListTasks for the whole cluster.
    Cluster,
    /// ListTasks per container instance (these ARNs).
    Instances(&'a [String]),
}

/// The cheaper way to get what `listing` asks, counting calls from the instances' task
/// counts: the whole cluster costs ⌈T/100⌉ list pages and ⌈T/100⌉ describes; instances one
/// list page per 100 of their tasks each, and ⌈their tasks/100⌉ describes.
pub fn choose_listing<'a>(
    listing: &'a TaskListing,
    instances: &[ContainerInstance],
) -> Listing<'a> {
    let pages = |n: u64| n.div_ceil(ITEMS_PER_CALL as u64);
    let tasks = |ci: &ContainerInstance| u64::from(ci.running_tasks) + u64::from(ci.pending_tasks);
    let total: u64 = instances.iter().map(tasks).sum();
    let cluster_calls = pages(total).max(1) + pages(total);
    match listing {
        TaskListing::None => Listing::Skip,
        TaskListing::All => Listing::Cluster,
        TaskListing::Instances(arns) => {
            let count = |arn: &String| {
                instances
                    .iter()
                    .find(|ci| &ci.arn == arn)
                    .map(tasks)
                    .unwrap_or(0)
            };
            let listed: u64 = arns.iter().map(count).sum();
            let instance_calls: u64 =
                arns.iter().map(|a| pages(count(a)).max(1)).sum::<u64>() + pages(listed);
            if instance_calls < cluster_calls {
                Listing::Instances(arns)
            } else {
                Listing::Cluster
            }
        }
    }
}

async fn read_services(
    ecs: &aws_sdk_ecs::Client,
    definition: &ClusterDefinition,
    cache: &TaskDefinitionCache,
) -> Result<(Vec<ServiceState>, Vec<MissingService>), ReadError> {
    const OP: &str = "DescribeServices";
    let cluster = definition.name.as_str();
    let names: Vec<String> = definition.services.iter().map(|s| s.name.clone()).collect();
    let mut found: BTreeMap<String, aws_sdk_ecs::types::Service> = BTreeMap::new();
    let mut reasons: HashMap<String, String> = HashMap::new();
    for chunk in names.chunks(SERVICES_PER_CALL) {
        let out = ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|e| ReadError::call(cluster, OP, e))?;
        for service in out.services() {
            let Some(name) = service.service_name() else {
                return Err(ReadError::invalid(
                    cluster,
                    OP,
                    "a service without serviceName",
                ));
            };
            if service.status() == Some("INACTIVE") {
                reasons.insert(name.to_owned(), "INACTIVE".to_owned());
                continue;
            }
            found.insert(name.to_owned(), service.clone());
        }
        for failure in out.failures() {
            // `arn` is the service's ARN (`...:service/CLUSTER/NAME`) or the name as asked.
            let name = failure
                .arn()
                .and_then(|arn| arn.rsplit('/').next())
                .unwrap_or_default();
            reasons.insert(
                name.to_owned(),
                failure.reason().unwrap_or("unknown").to_owned(),
            );
        }
    }

    let mut services = Vec::new();
    let mut missing = Vec::new();
    for name in &names {
        let Some(service) = found.get(name) else {
            let reason = reasons
                .get(name)
                .cloned()
                .unwrap_or_else(|| "MISSING".to_owned());
            missing.push(MissingService {
                name: name.clone(),
                reason,
            });
            continue;
        };
        let task_definition = service.task_definition().ok_or_else(|| {
            ReadError::invalid(
                cluster,
                OP,
                format!("service `{name}` has no taskDefinition"),
            )
        })?;
        let size = cache.size(ecs, cluster, task_definition).await?;
        services
            .push(service_state(service, size).map_err(|m| ReadError::invalid(cluster, OP, m))?);
    }
    Ok((services, missing))
}

/// A [`ServiceState`] from a DescribeServices entry and the size of its task definition.
pub fn service_state(
    service: &aws_sdk_ecs::types::Service,
    task_size: Resources,
) -> Result<ServiceState, String> {
    let name = service
        .service_name()
        .ok_or("a service without serviceName")?;
    let arn = service
        .service_arn()
        .ok_or_else(|| format!("service `{name}` has no serviceArn"))?;
    let last_scaling = service
        .tags()
        .iter()
        .find(|t| t.key() == Some(LAST_SCALING_TAG))
        .and_then(|t| t.value())
        .and_then(ScalingRecord::from_tag_value);
    let distinct_instance = service
        .placement_constraints()
        .iter()
        .any(|c| c.r#type() == Some(&PlacementConstraintType::DistinctInstance));
    Ok(ServiceState {
        name: name.to_owned(),
        arn: arn.to_owned(),
        status: service.status().unwrap_or_default().to_owned(),
        desired: count(service.desired_count()),
        running: count(service.running_count()),
        pending: count(service.pending_count()),
        task_definition: service.task_definition().unwrap_or_default().to_owned(),
        task_size,
        distinct_instance,
        last_scaling,
    })
}

/// The reservation of one task of `td`: the task-level `cpu`/`memory` when set, else the
/// sum over its containers of `cpu` and `memory` (`memoryReservation` when `memory` is absent).
/// Each dimension falls back on its own.
pub fn task_definition_size(td: &aws_sdk_ecs::types::TaskDefinition) -> Resources {
    let containers = td.container_definitions();
    let cpu = td.cpu().and_then(parse_cpu).unwrap_or_else(|| {
        containers
            .iter()
            .fold(0u32, |sum, c| sum.saturating_add(count(c.cpu())))
    });
    let memory = td.memory().and_then(parse_memory).unwrap_or_else(|| {
        containers.iter().fold(0u32, |sum, c| {
            sum.saturating_add(count(c.memory().or(c.memory_reservation()).unwrap_or(0)))
        })
    });
    Resources::new(cpu, memory)
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

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

async fn read_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Result<Vec<ContainerInstance>, ReadError> {
    // No status filter: ECS then lists every status but INACTIVE, in one pass; REGISTERING and
    // DEREGISTERING instances are dropped below (the group still shows them as booting/leaving).
    let mut arns = Vec::new();
    let mut pages = ecs
        .list_container_instances()
        .cluster(cluster)
        .max_results(ITEMS_PER_CALL as i32)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| ReadError::call(cluster, "ListContainerInstances", e))?;
        arns.extend(page.container_instance_arns().iter().cloned());
    }
    const OP: &str = "DescribeContainerInstances";
    let mut instances = Vec::new();
    for chunk in arns.chunks(ITEMS_PER_CALL) {
        let out = ecs
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(chunk.to_vec()))
            .include(ContainerInstanceField::Tags)
            .send()
            .await
            .map_err(|e| ReadError::call(cluster, OP, e))?;
        for ci in out.container_instances() {
            let instance =
                container_instance(ci).map_err(|m| ReadError::invalid(cluster, OP, m))?;
            if matches!(
                instance.status,
                InstanceStatus::Active | InstanceStatus::Draining
            ) {
                instances.push(instance);
            }
        }
        // A failure here is an instance deregistered between List and Describe: it is gone.
        for failure in out.failures() {
            tracing::debug!(
                cluster,
                arn = failure.arn().unwrap_or_default(),
                reason = failure.reason().unwrap_or_default(),
                "container instance listed but not described; skipped"
            );
        }
    }
    Ok(instances)
}

/// A [`ContainerInstance`] (without tasks) from a DescribeContainerInstances entry.
pub fn container_instance(
    ci: &aws_sdk_ecs::types::ContainerInstance,
) -> Result<ContainerInstance, String> {
    let arn = ci
        .container_instance_arn()
        .ok_or("a container instance without containerInstanceArn")?;
    let ec2_instance_id = ci
        .ec2_instance_id()
        .ok_or_else(|| format!("container instance `{arn}` has no ec2InstanceId"))?;
    let status = match ci.status().unwrap_or_default() {
        "ACTIVE" => InstanceStatus::Active,
        "DRAINING" => InstanceStatus::Draining,
        other => InstanceStatus::Other(other.to_owned()),
    };
    let draining_since_epoch_secs = ci
        .tags()
        .iter()
        .find(|t| t.key() == Some(DRAINING_SINCE_TAG))
        .and_then(|t| t.value())
        .and_then(|v| v.trim().parse().ok());
    Ok(ContainerInstance {
        arn: arn.to_owned(),
        ec2_instance_id: ec2_instance_id.to_owned(),
        status,
        registered: resources(ci.registered_resources()),
        remaining: resources(ci.remaining_resources()),
        running_tasks: count(ci.running_tasks_count()),
        pending_tasks: count(ci.pending_tasks_count()),
        tasks: Vec::new(),
        draining_since_epoch_secs,
    })
}

/// CPU and MEMORY (integer resources) from a resources list; absent ones are 0.
pub fn resources(list: &[aws_sdk_ecs::types::Resource]) -> Resources {
    let get = |name: &str| {
        list.iter()
            .find(|r| r.name() == Some(name))
            .map(|r| count(r.integer_value()))
            .unwrap_or(0)
    };
    Resources::new(get("CPU"), get("MEMORY"))
}

async fn read_group(
    asg: &aws_sdk_autoscaling::Client,
    cluster: &str,
    name: &str,
) -> Result<Option<GroupState>, ReadError> {
    const OP: &str = "DescribeAutoScalingGroups";
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(|e| ReadError::call(cluster, OP, e))?;
    Ok(out
        .auto_scaling_groups()
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some(name))
        .map(group_state))
}

/// A [`GroupState`] from a DescribeAutoScalingGroups entry.
pub fn group_state(group: &aws_sdk_autoscaling::types::AutoScalingGroup) -> GroupState {
    GroupState {
        name: group
            .auto_scaling_group_name()
            .unwrap_or_default()
            .to_owned(),
        min: count(group.min_size().unwrap_or(0)),
        max: count(group.max_size().unwrap_or(0)),
        desired: count(group.desired_capacity().unwrap_or(0)),
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
                })
            })
            .collect(),
    }
}

/// A task on a container instance, before it is attached to the instance.
#[derive(Debug, Clone, PartialEq)]
struct TaskOnInstance {
    container_instance_arn: String,
    task: PlacedTask,
}

/// The ARNs of the cluster's tasks with desired status RUNNING (PENDING ones too), of one
/// container instance when given.
async fn list_task_arns(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    container_instance: Option<&str>,
) -> Result<Vec<String>, ReadError> {
    let mut arns = Vec::new();
    let mut pages = ecs
        .list_tasks()
        .cluster(cluster)
        .set_container_instance(container_instance.map(str::to_owned))
        .desired_status(DesiredStatus::Running)
        .max_results(ITEMS_PER_CALL as i32)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| ReadError::call(cluster, "ListTasks", e))?;
        arns.extend(page.task_arns().iter().cloned());
    }
    Ok(arns)
}

/// DescribeTasks 100 at a time: each task's instance, service and size.
async fn describe_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    cache: &TaskDefinitionCache,
) -> Result<Vec<TaskOnInstance>, ReadError> {
    const OP: &str = "DescribeTasks";
    let asked: HashSet<&str> = arns.iter().map(String::as_str).collect();
    let cluster_suffix = format!("/{cluster}");
    let mut tasks = Vec::new();
    for chunk in arns.chunks(ITEMS_PER_CALL) {
        let out = ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| ReadError::call(cluster, OP, e))?;
        for task in out.tasks() {
            let Some(arn) = task.task_arn() else {
                return Err(ReadError::invalid(cluster, OP, "a task without taskArn"));
            };
            let elsewhere = task
                .cluster_arn()
                .is_some_and(|c| !c.ends_with(&cluster_suffix));
            if !asked.contains(arn) || elsewhere || task.last_status() == Some("STOPPED") {
                continue;
            }
            // Not on an instance (Fargate, or not placed yet): not part of any drain.
            let Some(instance) = task.container_instance_arn() else {
                continue;
            };
            let cpu = task.cpu().and_then(parse_cpu);
            let memory = task.memory().and_then(parse_memory);
            let size = match (cpu, memory) {
                (Some(cpu), Some(memory)) => Resources::new(cpu, memory),
                _ => {
                    let td_arn = task.task_definition_arn().ok_or_else(|| {
                        ReadError::invalid(
                            cluster,
                            OP,
                            format!("task `{arn}` has no taskDefinitionArn"),
                        )
                    })?;
                    let td = cache.size(ecs, cluster, td_arn).await?;
                    Resources::new(cpu.unwrap_or(td.cpu), memory.unwrap_or(td.memory))
                }
            };
            tasks.push(TaskOnInstance {
                container_instance_arn: instance.to_owned(),
                task: PlacedTask {
                    arn: arn.to_owned(),
                    service: task.group().and_then(service_of_group).map(str::to_owned),
                    size,
                },
            });
        }
    }
    Ok(tasks)
}

/// The service a task group names: `service:NAME` → `NAME`.
pub fn service_of_group(group: &str) -> Option<&str> {
    group.strip_prefix("service:").filter(|s| !s.is_empty())
}

fn assign_tasks(instances: &mut [ContainerInstance], tasks: Vec<TaskOnInstance>) {
    let index: HashMap<String, usize> = instances
        .iter()
        .enumerate()
        .map(|(i, ci)| (ci.arn.clone(), i))
        .collect();
    for t in tasks {
        // Tasks on instances not read (REGISTERING, DEREGISTERING) are not part of any drain.
        if let Some(&i) = index.get(&t.container_instance_arn) {
            instances[i].tasks.push(t.task);
        }
    }
    for ci in instances.iter_mut() {
        ci.tasks.sort_by(|a, b| a.arn.cmp(&b.arn));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{
        ContainerDefinition, PlacementConstraint, Resource, Service, Tag, TaskDefinition,
    };

    fn container(cpu: i32, memory: Option<i32>, reservation: Option<i32>) -> ContainerDefinition {
        ContainerDefinition::builder()
            .name("c")
            .cpu(cpu)
            .set_memory(memory)
            .set_memory_reservation(reservation)
            .build()
    }

    #[test]
    fn task_size_sums_containers_with_memory_reservation_fallback() {
        let td = TaskDefinition::builder()
            .container_definitions(container(256, Some(512), Some(128)))
            .container_definitions(container(128, None, Some(300)))
            .container_definitions(container(0, None, None))
            .build();
        assert_eq!(task_definition_size(&td), Resources::new(384, 812));
    }

    #[test]
    fn task_size_prefers_task_level_values_per_dimension() {
        let td = TaskDefinition::builder()
            .cpu("1 vCPU")
            .container_definitions(container(256, Some(512), None))
            .build();
        assert_eq!(task_definition_size(&td), Resources::new(1024, 512));
        let td = TaskDefinition::builder()
            .cpu("512")
            .memory("2048")
            .container_definitions(container(256, Some(512), None))
            .build();
        assert_eq!(task_definition_size(&td), Resources::new(512, 2048));
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
            .build();
        let s = service_state(&service, Resources::new(256, 512)).expect("valid");
        assert_eq!((s.desired, s.running, s.pending), (4, 3, 1));
        assert!(s.distinct_instance);
        assert_eq!(
            s.last_scaling,
            ScalingRecord::from_tag_value("down 1764412345")
        );
        assert_eq!(s.task_size, Resources::new(256, 512));

        let plain = Service::builder()
            .service_name("w")
            .service_arn("a")
            .tags(
                Tag::builder()
                    .key(LAST_SCALING_TAG)
                    .value("sideways")
                    .build(),
            )
            .build();
        let s = service_state(&plain, Resources::ZERO).expect("valid");
        assert!(!s.distinct_instance);
        assert_eq!(s.last_scaling, None);
        assert!(service_state(&Service::builder().build(), Resources::ZERO).is_err());
    }

    #[test]
    fn container_instance_reads_resources_status_and_draining_tag() {
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
            .remaining_resources(res("MEMORY", 482))
            .running_tasks_count(2)
            .tags(
                Tag::builder()
                    .key(DRAINING_SINCE_TAG)
                    .value("1764412345")
                    .build(),
            )
            .build();
        let i = container_instance(&ci).expect("valid");
        assert_eq!(i.status, InstanceStatus::Draining);
        assert_eq!(i.registered, Resources::new(4096, 7482));
        assert_eq!(i.remaining, Resources::new(1024, 482));
        assert_eq!((i.running_tasks, i.pending_tasks), (2, 0));
        assert_eq!(i.draining_since_epoch_secs, Some(1_764_412_345));

        let no_id = aws_sdk_ecs::types::ContainerInstance::builder()
            .container_instance_arn("arn:ci/2")
            .build();
        assert!(container_instance(&no_id).is_err());
    }

    #[test]
    fn group_state_reads_limits_and_instances() {
        use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance, LifecycleState};
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
        assert!(s.instances[0].protected_from_scale_in);
    }

    #[test]
    fn the_cheaper_listing_is_chosen() {
        let instance = |arn: &str, running: u32| ContainerInstance {
            arn: arn.into(),
            ec2_instance_id: "i".into(),
            status: InstanceStatus::Active,
            registered: Resources::new(4096, 7482),
            remaining: Resources::new(4096, 7482),
            running_tasks: running,
            pending_tasks: 0,
            tasks: vec![],
            draining_since_epoch_secs: None,
        };
        // 1,000 instances of 20 tasks: the cluster costs 200 + 200 calls; 16 instances 16 + 4.
        let big: Vec<_> = (0..1000).map(|n| instance(&format!("ci{n}"), 20)).collect();
        let some: Vec<String> = (0..16).map(|n| format!("ci{n}")).collect();
        let listing = TaskListing::Instances(some.clone());
        assert_eq!(choose_listing(&listing, &big), Listing::Instances(&some));
        // Three instances of 2 tasks: one cluster-wide page and one describe are cheaper.
        let small: Vec<_> = (0..3).map(|n| instance(&format!("ci{n}"), 2)).collect();
        let three: Vec<String> = (0..3).map(|n| format!("ci{n}")).collect();
        let listing = TaskListing::Instances(three);
        assert_eq!(choose_listing(&listing, &small), Listing::Cluster);
        assert_eq!(choose_listing(&TaskListing::None, &big), Listing::Skip);
        assert_eq!(choose_listing(&TaskListing::All, &small), Listing::Cluster);
    }

    #[test]
    fn task_groups_name_services() {
        assert_eq!(service_of_group("service:web"), Some("web"));
        assert_eq!(service_of_group("family:web"), None);
        assert_eq!(service_of_group("service:"), None);
    }
}
