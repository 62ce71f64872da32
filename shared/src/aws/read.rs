//! The batched and paginated ECS and Auto Scaling reads every reader of a cluster makes, at the
//! APIs' maximum batch sizes. Answers come back as the SDK gives them (turn them into the model
//! with [`super::state`]); errors as the SDK's typed [`SdkError`], so that each caller keeps its
//! own handling (the planner's context, the executor's retryable/non-retryable split). Each
//! helper stops at the first failed call.
//!
//! The SDK's call futures are boxed here: they are deep, and the Lambdas nest them further
//! (handler, reader, join), past the compiler's layout depth limit otherwise.

use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsError;
use aws_sdk_autoscaling::types::AutoScalingGroup;
use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::SdkError;
use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesError;
use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksError;
use aws_sdk_ecs::operation::get_task_protection::GetTaskProtectionError;
use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesError;
use aws_sdk_ecs::operation::list_tasks::ListTasksError;
use aws_sdk_ecs::types::{
    ContainerInstance, ContainerInstanceField, DesiredStatus, Failure, Service, ServiceField, Task,
};

/// Services per DescribeServices call (the API's maximum).
pub const SERVICES_PER_CALL: usize = 10;
/// Container instances or tasks per List page or Describe call (the APIs' maximum).
pub const ITEMS_PER_CALL: usize = 100;

/// What a batched Describe found, and what ECS reported it could not describe.
#[derive(Debug, Clone, PartialEq)]
pub struct Described<T> {
    /// The entries described, in answer order.
    pub found: Vec<T>,
    /// ECS's per-item failures (`arn` and `reason`, e.g. `MISSING`).
    pub failures: Vec<Failure>,
}

impl<T> Default for Described<T> {
    fn default() -> Self {
        Described {
            found: Vec::new(),
            failures: Vec::new(),
        }
    }
}

/// Every container instance ARN of `cluster` (ListContainerInstances, pages of 100, no status
/// filter: ECS then lists every status but INACTIVE). At least one call.
pub async fn list_container_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Result<Vec<String>, SdkError<ListContainerInstancesError, HttpResponse>> {
    let mut arns = Vec::new();
    let mut pages = ecs
        .list_container_instances()
        .cluster(cluster)
        .max_results(ITEMS_PER_CALL as i32)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        arns.extend(page?.container_instance_arns().iter().cloned());
    }
    Ok(arns)
}

/// DescribeContainerInstances, 100 per call (none for no ARN), with the fields of `include`.
pub async fn describe_container_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    include: &[ContainerInstanceField],
) -> Result<Described<ContainerInstance>, SdkError<DescribeContainerInstancesError, HttpResponse>> {
    let mut described = Described::default();
    for chunk in arns.chunks(ITEMS_PER_CALL) {
        let out = Box::pin(
            ecs.describe_container_instances()
                .cluster(cluster)
                .set_container_instances(Some(chunk.to_vec()))
                .set_include((!include.is_empty()).then(|| include.to_vec()))
                .send(),
        )
        .await?;
        described
            .found
            .extend(out.container_instances().iter().cloned());
        described.failures.extend(out.failures().iter().cloned());
    }
    Ok(described)
}

/// DescribeServices, 10 names (or ARNs) per call, with the fields of `include`.
pub async fn describe_services(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    services: &[String],
    include: &[ServiceField],
) -> Result<Described<Service>, SdkError<DescribeServicesError, HttpResponse>> {
    let mut described = Described::default();
    for chunk in services.chunks(SERVICES_PER_CALL) {
        let out = Box::pin(
            ecs.describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.to_vec()))
                .set_include((!include.is_empty()).then(|| include.to_vec()))
                .send(),
        )
        .await?;
        described.found.extend(out.services().iter().cloned());
        described.failures.extend(out.failures().iter().cloned());
    }
    Ok(described)
}

/// Which tasks [`list_tasks`] lists, besides desired status RUNNING (which includes PENDING).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskFilter<'a> {
    /// Only those of this container instance.
    pub container_instance: Option<&'a str>,
    /// Only those with this `startedBy`.
    pub started_by: Option<&'a str>,
}

/// GetTaskProtection takes at most this many tasks.
pub const PROTECTION_TASKS_PER_CALL: usize = 10;

/// When the scale-in protection of each protected task among `tasks` lapses, in seconds since
/// the epoch (`u64::MAX` when ECS gives no expiry: it holds until removed). GetTaskProtection,
/// [`PROTECTION_TASKS_PER_CALL`] tasks per call; a task ECS reports as a failure (stopped since
/// it was listed) is left out: it is gone.
pub async fn task_protection(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    tasks: &[String],
) -> Result<std::collections::HashMap<String, u64>, SdkError<GetTaskProtectionError, HttpResponse>>
{
    let mut until = std::collections::HashMap::new();
    for chunk in tasks.chunks(PROTECTION_TASKS_PER_CALL) {
        let answer = Box::pin(
            ecs.get_task_protection()
                .cluster(cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send(),
        )
        .await?;
        for p in answer.protected_tasks() {
            let Some(arn) = p.task_arn() else { continue };
            if p.protection_enabled() {
                let secs = p
                    .expiration_date()
                    .map_or(u64::MAX, |d| u64::try_from(d.secs()).unwrap_or(0));
                until.insert(arn.to_owned(), secs);
            }
        }
        for failure in answer.failures() {
            tracing::debug!(
                cluster,
                arn = failure.arn().unwrap_or_default(),
                reason = failure.reason().unwrap_or_default(),
                "task protection not read (the task is gone)"
            );
        }
    }
    Ok(until)
}

/// The ARNs of `cluster`'s tasks with desired status RUNNING that match `filter` (ListTasks,
/// pages of 100). At least one call.
pub async fn list_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    filter: TaskFilter<'_>,
) -> Result<Vec<String>, SdkError<ListTasksError, HttpResponse>> {
    let mut arns = Vec::new();
    let mut pages = ecs
        .list_tasks()
        .cluster(cluster)
        .set_container_instance(filter.container_instance.map(str::to_owned))
        .set_started_by(filter.started_by.map(str::to_owned))
        .desired_status(DesiredStatus::Running)
        .max_results(ITEMS_PER_CALL as i32)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        arns.extend(page?.task_arns().iter().cloned());
    }
    Ok(arns)
}

/// DescribeTasks, 100 per call (none for no ARN).
pub async fn describe_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
) -> Result<Described<Task>, SdkError<DescribeTasksError, HttpResponse>> {
    let mut described = Described::default();
    for chunk in arns.chunks(ITEMS_PER_CALL) {
        let out = Box::pin(
            ecs.describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send(),
        )
        .await?;
        described.found.extend(out.tasks().iter().cloned());
        described.failures.extend(out.failures().iter().cloned());
    }
    Ok(described)
}

/// EC2 instance ids per DescribeInstances call (the API has no documented maximum for
/// `InstanceIds`; 100 keeps each request and answer small).
pub const EC2_INSTANCES_PER_CALL: usize = 100;

/// DescribeInstances for `ids`, 100 per call (none for no id): the reservations, paginated.
pub async fn describe_instances(
    ec2: &aws_sdk_ec2::Client,
    ids: &[String],
) -> Result<
    Vec<aws_sdk_ec2::types::Reservation>,
    aws_sdk_ec2::error::SdkError<
        aws_sdk_ec2::operation::describe_instances::DescribeInstancesError,
        aws_sdk_ec2::config::http::HttpResponse,
    >,
> {
    let mut reservations = Vec::new();
    for chunk in ids.chunks(EC2_INSTANCES_PER_CALL) {
        let mut pages = ec2
            .describe_instances()
            .set_instance_ids(Some(chunk.to_vec()))
            .into_paginator()
            .send();
        while let Some(page) = Box::pin(pages.next()).await {
            reservations.extend(page?.reservations().iter().cloned());
        }
    }
    Ok(reservations)
}

/// The Auto Scaling group of that name (one DescribeAutoScalingGroups); `None` when it does
/// not exist.
pub async fn describe_group(
    autoscaling: &aws_sdk_autoscaling::Client,
    name: &str,
) -> Result<Option<AutoScalingGroup>, SdkError<DescribeAutoScalingGroupsError, HttpResponse>> {
    let out = Box::pin(
        autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send(),
    )
    .await?;
    Ok(out
        .auto_scaling_groups()
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some(name))
        .cloned())
}

/// EC2 errors, as the EC2 client gives them.
pub type Ec2Error<E> = aws_sdk_ec2::error::SdkError<E, aws_sdk_ec2::config::http::HttpResponse>;

/// The instance type of one launch template version (one DescribeLaunchTemplateVersions);
/// `None` when the version names none. `id` or `name` identifies the template.
pub async fn launch_template_instance_type(
    ec2: &aws_sdk_ec2::Client,
    id: Option<&str>,
    name: Option<&str>,
    version: &str,
) -> Result<
    Option<String>,
    Ec2Error<aws_sdk_ec2::operation::describe_launch_template_versions::DescribeLaunchTemplateVersionsError>,
>{
    let out = Box::pin(
        ec2.describe_launch_template_versions()
            .set_launch_template_id(id.map(str::to_owned))
            .set_launch_template_name(name.map(str::to_owned))
            .versions(version)
            .send(),
    )
    .await?;
    Ok(out
        .launch_template_versions()
        .first()
        .and_then(super::state::template_instance_type))
}

/// The instance type of a launch configuration (one DescribeLaunchConfigurations); `None` when
/// it does not exist.
pub async fn launch_configuration_instance_type(
    autoscaling: &aws_sdk_autoscaling::Client,
    name: &str,
) -> Result<
    Option<String>,
    SdkError<
        aws_sdk_autoscaling::operation::describe_launch_configurations::DescribeLaunchConfigurationsError,
        HttpResponse,
    >,
>{
    let out = Box::pin(
        autoscaling
            .describe_launch_configurations()
            .launch_configuration_names(name)
            .send(),
    )
    .await?;
    Ok(out
        .launch_configurations()
        .iter()
        .find(|c| c.launch_configuration_name() == Some(name))
        .and_then(|c| c.instance_type())
        .map(str::to_owned))
}

/// Instance types per DescribeInstanceTypes call (the API's maximum).
pub const INSTANCE_TYPES_PER_CALL: usize = 100;

/// EC2's description of `types` (DescribeInstanceTypes, 100 per call, paginated; none for no
/// type).
pub async fn describe_instance_types(
    ec2: &aws_sdk_ec2::Client,
    types: &[String],
) -> Result<
    Vec<aws_sdk_ec2::types::InstanceTypeInfo>,
    Ec2Error<aws_sdk_ec2::operation::describe_instance_types::DescribeInstanceTypesError>,
> {
    let mut described = Vec::new();
    for chunk in types.chunks(INSTANCE_TYPES_PER_CALL) {
        let names = chunk
            .iter()
            .map(|t| aws_sdk_ec2::types::InstanceType::from(t.as_str()))
            .collect();
        let mut pages = ec2
            .describe_instance_types()
            .set_instance_types(Some(names))
            .into_paginator()
            .send();
        while let Some(page) = Box::pin(pages.next()).await {
            described.extend(page?.instance_types().iter().cloned());
        }
    }
    Ok(described)
}

/// The capacity providers `cluster` lists (one DescribeClusters), `FARGATE` and `FARGATE_SPOT`
/// left out (they have no Auto Scaling group); none for a cluster ECS does not have.
pub async fn cluster_capacity_providers(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Result<
    Vec<String>,
    SdkError<aws_sdk_ecs::operation::describe_clusters::DescribeClustersError, HttpResponse>,
> {
    let out = Box::pin(ecs.describe_clusters().clusters(cluster).send()).await?;
    Ok(out
        .clusters()
        .iter()
        .flat_map(|c| c.capacity_providers())
        .filter(|p| !matches!(p.as_str(), "FARGATE" | "FARGATE_SPOT"))
        .cloned()
        .collect())
}

/// Which call of [`group_capacity_provider`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderReadError {
    /// DescribeClusters.
    #[error(transparent)]
    Clusters(
        SdkError<aws_sdk_ecs::operation::describe_clusters::DescribeClustersError, HttpResponse>,
    ),
    /// DescribeCapacityProviders.
    #[error(transparent)]
    Providers(
        SdkError<
            aws_sdk_ecs::operation::describe_capacity_providers::DescribeCapacityProvidersError,
            HttpResponse,
        >,
    ),
}

impl ProviderReadError {
    /// The operation that failed.
    pub fn operation(&self) -> &'static str {
        match self {
            ProviderReadError::Clusters(_) => "DescribeClusters",
            ProviderReadError::Providers(_) => "DescribeCapacityProviders",
        }
    }
}

/// The capacity provider of `cluster` on the Auto Scaling group `group_name` (`group_arn`), if
/// any, with its managed scaling: one DescribeClusters, and one DescribeCapacityProviders when
/// the cluster lists providers other than Fargate's. The planner's read and `validate --live`
/// both ask it.
pub async fn group_capacity_provider(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    group_name: &str,
    group_arn: Option<&str>,
) -> Result<Option<crate::state::CapacityProviderLink>, ProviderReadError> {
    let names = cluster_capacity_providers(ecs, cluster)
        .await
        .map_err(ProviderReadError::Clusters)?;
    if names.is_empty() {
        return Ok(None);
    }
    let providers = describe_capacity_providers(ecs, &names)
        .await
        .map_err(ProviderReadError::Providers)?;
    Ok(super::state::provider_on_group(
        &providers, group_name, group_arn,
    ))
}

/// Capacity providers per DescribeCapacityProviders call (the API's maximum).
pub const CAPACITY_PROVIDERS_PER_CALL: usize = 100;

/// DescribeCapacityProviders for `names`, 100 per call (none for no name).
pub async fn describe_capacity_providers(
    ecs: &aws_sdk_ecs::Client,
    names: &[String],
) -> Result<
    Vec<aws_sdk_ecs::types::CapacityProvider>,
    SdkError<
        aws_sdk_ecs::operation::describe_capacity_providers::DescribeCapacityProvidersError,
        HttpResponse,
    >,
> {
    let mut providers = Vec::new();
    for chunk in names.chunks(CAPACITY_PROVIDERS_PER_CALL) {
        let out = Box::pin(
            ecs.describe_capacity_providers()
                .set_capacity_providers(Some(chunk.to_vec()))
                .send(),
        )
        .await?;
        providers.extend(out.capacity_providers().iter().cloned());
    }
    Ok(providers)
}
