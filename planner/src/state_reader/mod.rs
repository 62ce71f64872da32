//! Reads one cluster's live state from ECS and Auto Scaling into a [`ClusterState`]: the
//! orchestration of the reads and their call budget.
//!
//! The calls and their conversion into the model are shared ([`shared::aws::read`],
//! [`shared::aws::state`]); the choice and reading of tasks is in `tasks.rs`, the task
//! definition cache in `task_definitions.rs`.
//!
//! # Call budget
//!
//! For a definition naming `S` services, a cluster listing `I` container instances (any status
//! but INACTIVE) and `T` tasks (desired status RUNNING), one read costs
//!
//! | calls | operation |
//! | --- | --- |
//! | ⌈S/10⌉ | `DescribeServices` (10 names per call, the API's maximum; `include: [TAGS]`) |
//! | D | `DescribeTaskDefinition`, once per distinct revision (of the services, and of the listed tasks without task-level sizes) not yet in the [`TaskDefinitionCache`] |
//! | max(1, ⌈I/100⌉) | `ListContainerInstances` (pages of 100, the API's maximum; no status filter) |
//! | ⌈I/100⌉ | `DescribeContainerInstances` (100 per call; attributes, among them this system's drain record, and `agentConnected` come in every answer) |
//! | 1 | `DescribeAutoScalingGroups` (the group, by name) |
//! | E | `DescribeInstances` (EC2), ⌈U/100⌉ calls for the U InService instances of the group that have no container instance (their launch times, for the registration grace period); 0 in the common case, where every InService instance is registered |
//! | L | `ListTasks` + `DescribeTasks`, only for the tasks the core can use (below) |
//! | P | `GetTaskProtection`, ⌈t/10⌉ calls (10 tasks per call, the API's maximum) for the t tasks of the busy instances consolidation may drain (below); 0 when no busy instance may be drained now |
//! | G | what the group launches (`launch.rs`): 1 `DescribeLaunchTemplateVersions` (EC2) for a launch template, or 1 `DescribeLaunchConfigurations` for a launch configuration; 0 when the mixed instances policy's overrides name the types (or select them by attributes) |
//! | Y | `DescribeInstanceTypes` (EC2), ⌈y/100⌉ calls for the y types of the group no ACTIVE or DRAINING container instance shows; 0 when every type shows, or the file sets `instance_capacity` |
//! | 1 + C | `DescribeClusters` (the cluster's capacity providers), then C = ⌈c/100⌉ `DescribeCapacityProviders` for its c providers other than `FARGATE`/`FARGATE_SPOT`; C = 0 without such providers |
//!
//! (G, Y and 1 + C only when the group exists.) That is ⌈S/10⌉ + max(1, ⌈I/100⌉) + ⌈I/100⌉ + 1 +
//! E + D + L + P + G + Y + 1 + C, where L is 0, or at most
//! max(1, ⌈T/100⌉) + ⌈T/100⌉ (the whole cluster's listing; a listing per instance is chosen
//! only when it is estimated cheaper), and P at most ⌈t/10⌉ for the tasks t of at most 16
//! instances. So a read never costs more than ⌈S/10⌉ + 2⌈I/100⌉ + 2⌈T/100⌉ + E + D + P + Y + C + 5;
//! in the common case (a launch template or configuration, its types registered, no capacity
//! provider but Fargate's) G + Y + 1 + C = 2. The listing of container instances is paged at 100
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
//! instances (max(1, ⌈tᵢ/100⌉) pages for an instance of tᵢ tasks) and ListTasks for the whole
//! cluster (max(1, ⌈T/100⌉) pages), counting from the instances' task counts; DescribeTasks
//! follows 100 at a time. So for K instances holding t tasks in all, L ≤ min(max(1, ⌈T/100⌉) +
//! ⌈T/100⌉, Σ max(1, ⌈tᵢ/100⌉) + ⌈t/100⌉) — about 20 calls for 16 instances of 20 tasks in a cluster
//! of 1,000 such instances, where listing the cluster would take 400. Measured against the
//! emulator (`tests/emulator.rs`): S = 13, I = 3, T = 5 takes 12 calls with a cold cache
//! (3 revisions), 9 with a warm one; one DRAINING instance of 2 tasks in a cluster of 255
//! tasks takes one ListTasks and one DescribeTasks. Instances whose tasks were not listed keep
//! an empty [`ContainerInstance::tasks`]; the core reads that as "tasks unknown" and never
//! drains them.
//!
//! ## Which tasks' protection is read
//!
//! ECS task scale-in protection matters only for a task consolidation might move: the planner
//! reads it (`protection.rs`) for the listed tasks of the busy instances among the first 16
//! candidates, and only when a busy instance may be drained at all — consolidation is on, two
//! instances or more are ACTIVE, and a consolidation window is open or the group is above the
//! file's `max` ([`crate::protection_listing`]). Sixteen instances of 20 tasks cost 32 calls; a
//! cluster outside its windows, or whose candidates are empty, none. The windows are those open at
//! the plan's instant ([`read_cluster_state_at`]). Measured against the test bed
//! (`tests/instances/disruption.rs`): three busy instances of 6 tasks, one call; the same
//! cluster outside its window, none. A failed GetTaskProtection does not fail the read: the state
//! says why ([`ClusterState::task_protection_unread`]) and the core drains no busy instance.
//!
//! Services named in the definition but missing in ECS (or INACTIVE) are listed in
//! [`StateRead::missing_services`], never an error. A service whose task definition cannot be
//! read (DescribeTaskDefinition fails) is kept with the reason in its
//! `placement.unmodelled`: the core holds it at its count and plans the rest. The group missing is `group: None`. The
//! launch times are read in `launch_times.rs`; an instance DescribeInstances does not return
//! keeps none (the core counts it as booting, as within the grace period).

mod launch;
mod launch_times;
mod protection;
mod task_definitions;
mod tasks;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_ecs::types::ServiceField;
use shared::aws::read;
use shared::aws::state::{container_instance, group_state, service_state};
use shared::aws::AwsClients;
use shared::definition::ClusterDefinition;
use shared::resources::Resources;
use shared::state::{ClusterState, ContainerInstance, InstanceStatus, ServiceState};

pub use task_definitions::TaskDefinitionCache;
pub use tasks::{choose_listing, Listing};

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
    read_cluster_state_at(clients, definition, cache, shared::time::now()).await
}

/// [`read_cluster_state`] for a plan made at `now`: whether task protection is read depends on
/// the consolidation windows open at the plan's instant, not the clock's.
pub async fn read_cluster_state_at(
    clients: &AwsClients,
    definition: &ClusterDefinition,
    cache: &TaskDefinitionCache,
    now: shared::time::Timestamp,
) -> Result<StateRead, ReadError> {
    let cluster = definition.name.as_str();
    let (services, instances, group) = tokio::join!(
        read_services(&clients.ecs, definition, cache),
        read_instances(&clients.ecs, cluster),
        read_group(&clients.autoscaling, cluster, &definition.autoscale_group),
    );
    let (services, missing_services) = services?;
    let instances = instances?;
    let raw_group = group?;
    let mut group = raw_group.as_ref().map(group_state);
    if let (Some(raw), Some(group)) = (&raw_group, group.as_mut()) {
        group.launch.instance_types = launch::instance_types(clients, cluster, raw).await;
    }

    let mut state = ClusterState {
        cluster: cluster.to_owned(),
        services,
        instances,
        group,
        task_protection_unread: None,
    };
    if state.group.is_some() {
        let arn = raw_group.as_ref().and_then(|g| g.auto_scaling_group_arn());
        launch::provider_onto(&clients.ecs, arn, &mut state).await?;
        launch::describe_onto(&clients.ec2, definition, &mut state).await;
    }
    launch_times::read_onto(&clients.ec2, &mut state).await?;
    let listing = crate::task_listing(definition, &state);
    let chosen = choose_listing(&listing, &state.instances);
    let tasks_listed =
        tasks::list_onto(&clients.ecs, cluster, chosen, &mut state.instances, cache).await?;
    let candidates = crate::protection_listing(definition, &state, now);
    if let Err(why) =
        protection::read_onto(&clients.ecs, cluster, &candidates, &mut state.instances).await
    {
        tracing::warn!(
            cluster,
            "task scale-in protection not read ({why}): no busy instance is drained this plan"
        );
        state.task_protection_unread = Some(why);
    }
    Ok(StateRead {
        state,
        missing_services,
        tasks_listed,
    })
}

async fn read_services(
    ecs: &aws_sdk_ecs::Client,
    definition: &ClusterDefinition,
    cache: &TaskDefinitionCache,
) -> Result<(Vec<ServiceState>, Vec<MissingService>), ReadError> {
    const OP: &str = "DescribeServices";
    let cluster = definition.name.as_str();
    let names: Vec<String> = definition.services.iter().map(|s| s.name.clone()).collect();
    let described = read::describe_services(ecs, cluster, &names, &[ServiceField::Tags])
        .await
        .map_err(|e| ReadError::call(cluster, OP, e))?;
    let mut found: BTreeMap<String, aws_sdk_ecs::types::Service> = BTreeMap::new();
    let mut reasons: HashMap<String, String> = HashMap::new();
    for service in described.found {
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
        found.insert(name.to_owned(), service);
    }
    for failure in &described.failures {
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
        // A task definition that cannot be read holds its service at its count (the
        // core plans the rest of the cluster); it does not fail the read.
        let size = cache.size(ecs, cluster, task_definition).await;
        let reservation = size.as_ref().map_or(Resources::ZERO, |s| s.reservation);
        let mut state = service_state(service, reservation)
            .map_err(|e| ReadError::invalid(cluster, OP, e.to_string()))?;
        match size {
            Ok(size) => size.apply_to(&mut state),
            Err(why) => {
                let why = format!("task definition `{task_definition}` not read: {why}");
                tracing::warn!(cluster, service = name.as_str(), "{why}");
                state.placement.unmodelled = Some(why);
            }
        }
        services.push(state);
    }
    Ok((services, missing))
}

async fn read_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Result<Vec<ContainerInstance>, ReadError> {
    // No status filter: ECS then lists every status but INACTIVE, in one pass; REGISTERING and
    // DEREGISTERING instances are dropped below (the group still shows them as booting/leaving).
    let arns = read::list_container_instances(ecs, cluster)
        .await
        .map_err(|e| ReadError::call(cluster, "ListContainerInstances", e))?;
    const OP: &str = "DescribeContainerInstances";
    let described = read::describe_container_instances(ecs, cluster, &arns, &[])
        .await
        .map_err(|e| ReadError::call(cluster, OP, e))?;
    let mut instances = Vec::new();
    for ci in &described.found {
        let instance =
            container_instance(ci).map_err(|e| ReadError::invalid(cluster, OP, e.to_string()))?;
        if matches!(
            instance.status,
            InstanceStatus::Active | InstanceStatus::Draining
        ) {
            instances.push(instance);
        }
    }
    // A failure here is an instance deregistered between List and Describe: it is gone.
    for failure in &described.failures {
        tracing::debug!(
            cluster,
            arn = failure.arn().unwrap_or_default(),
            reason = failure.reason().unwrap_or_default(),
            "container instance listed but not described; skipped"
        );
    }
    Ok(instances)
}

async fn read_group(
    autoscaling: &aws_sdk_autoscaling::Client,
    cluster: &str,
    name: &str,
) -> Result<Option<aws_sdk_autoscaling::types::AutoScalingGroup>, ReadError> {
    read::describe_group(autoscaling, name)
        .await
        .map_err(|e| ReadError::call(cluster, "DescribeAutoScalingGroups", e))
}
