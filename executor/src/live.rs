//! The re-reads: the live values a plan's guards compare with, read in as few calls as the APIs
//! allow and only for what the plan touches (⌈S/10⌉ DescribeServices, one
//! DescribeAutoScalingGroups, ⌈I/100⌉ DescribeContainerInstances; when the plan drains, the
//! whole cluster's container instances instead: max(1, ⌈C/100⌉) ListContainerInstances and
//! ⌈C/100⌉ DescribeContainerInstances for C instances), into the cluster model of
//! `shared::state` (the calls and the conversion are shared with the planner's reader).
//!
//! The snapshot is updated locally after each successful change, so that a later action of
//! the same plan sees what the earlier ones did (e.g. the group's desired capacity after a
//! termination) without reading again.

use std::collections::HashMap;

use aws_sdk_ecs::types::ServiceField;
use shared::aws::read;
use shared::aws::state::{container_instance, group_state, service_state};
use shared::resources::Resources;
use shared::state::{ContainerInstance, GroupState, ServiceState};

use crate::errors::{classify, CallError};

/// What the plan's actions compare with. A part the plan does not touch is left empty; a
/// missing key in a part that was read means the resource does not exist; an error is a
/// non-retryable read failure, which fails the actions that needed that part.
#[derive(Debug, Clone)]
pub struct Live {
    /// The group (`None` when it does not exist).
    pub group: Result<Option<GroupState>, CallError>,
    /// Container instances by full ARN (without tasks); every one of the cluster when the plan
    /// drains, else those the plan names.
    pub instances: Result<HashMap<String, ContainerInstance>, CallError>,
    /// Services by name (their `task_size` is not read: [`Resources::ZERO`]).
    pub services: Result<HashMap<String, ServiceState>, CallError>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            group: Ok(None),
            instances: Ok(HashMap::new()),
            services: Ok(HashMap::new()),
        }
    }
}

/// One DescribeAutoScalingGroups; `None` when the group does not exist. A group without its
/// limits or desired capacity is an answer the guards cannot use.
pub async fn read_group(
    autoscaling: &aws_sdk_autoscaling::Client,
    name: &str,
) -> Result<Option<GroupState>, CallError> {
    const OP: &str = "DescribeAutoScalingGroups";
    let Some(group) = read::describe_group(autoscaling, name)
        .await
        .map_err(|e| classify(OP, &e))?
    else {
        return Ok(None);
    };
    if group.min_size().is_none()
        || group.max_size().is_none()
        || group.desired_capacity().is_none()
    {
        return Err(CallError::invalid_answer(
            OP,
            format!("group {name} is missing MinSize, MaxSize or DesiredCapacity"),
        ));
    }
    Ok(Some(group_state(&group)))
}

/// DescribeContainerInstances 100 at a time; instances ECS does not know (or describes without
/// their identifiers) are absent.
pub async fn read_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
) -> Result<HashMap<String, ContainerInstance>, CallError> {
    let described = read::describe_container_instances(ecs, cluster, arns, &[])
        .await
        .map_err(|e| classify("DescribeContainerInstances", &e))?;
    // Failures (reason MISSING) are simply absent from the map: the guards decide.
    Ok(described
        .found
        .iter()
        .filter_map(|ci| container_instance(ci).ok())
        .map(|ci| (ci.arn.clone(), ci))
        .collect())
}

/// Every container instance of the cluster (ListContainerInstances, pages of 100, then
/// DescribeContainerInstances 100 at a time): what a drain's tasks may move to, read only when
/// the plan drains.
pub async fn read_cluster_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Result<HashMap<String, ContainerInstance>, CallError> {
    let arns = read::list_container_instances(ecs, cluster)
        .await
        .map_err(|e| classify("ListContainerInstances", &e))?;
    read_instances(ecs, cluster, &arns).await
}

/// DescribeServices (with tags) 10 at a time; services ECS does not know (or describes without
/// their name or ARN) are absent.
pub async fn read_services(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    names: &[String],
) -> Result<HashMap<String, ServiceState>, CallError> {
    let described = read::describe_services(ecs, cluster, names, &[ServiceField::Tags])
        .await
        .map_err(|e| classify("DescribeServices", &e))?;
    // The guards compare counts and statuses; a task's size is of no use here.
    Ok(described
        .found
        .iter()
        .filter_map(|s| service_state(s, Resources::ZERO).ok())
        .map(|s| (s.name.clone(), s))
        .collect())
}
