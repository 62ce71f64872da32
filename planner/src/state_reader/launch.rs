//! What the group launches and who else scales it: its instance types (mixed instances policy
//! overrides, launch template or launch configuration), EC2's sizes of the types no registered
//! instance shows, and the cluster's ECS capacity provider on the group.

use aws_sdk_autoscaling::types::AutoScalingGroup;
use shared::aws::read;
use shared::aws::state::{described_capacities, launch_source, LaunchSource};
use shared::aws::AwsClients;
use shared::definition::ClusterDefinition;
use shared::state::{ClusterState, InstanceStatus, INSTANCE_TYPE_ATTRIBUTE};

use super::ReadError;

/// The instance types `group` may launch: none (unknown) for attribute-based selection or a
/// template that names no type. One call for a launch template or configuration, none when the
/// mixed instances policy's overrides name the types. A template or configuration that cannot
/// be read (deleted, a version gone, the call refused) leaves the types unknown, logged: the
/// core then falls back on the registered instances, and the rest of the read goes on.
pub(super) async fn instance_types(
    clients: &AwsClients,
    cluster: &str,
    group: &AutoScalingGroup,
) -> Vec<String> {
    let read = match launch_source(group) {
        LaunchSource::Types(types) => return types,
        LaunchSource::Unknown => return Vec::new(),
        LaunchSource::Template { id, name, version } => read::launch_template_instance_type(
            &clients.ec2,
            id.as_deref(),
            name.as_deref(),
            &version,
        )
        .await
        .map_err(|e| unread(cluster, "DescribeLaunchTemplateVersions", e)),
        LaunchSource::Configuration(name) => {
            read::launch_configuration_instance_type(&clients.autoscaling, &name)
                .await
                .map_err(|e| unread(cluster, "DescribeLaunchConfigurations", e))
        }
    };
    read.ok().flatten().into_iter().collect()
}

/// Logs what could not be read about the group's launches (the read goes on without it).
fn unread(
    cluster: &str,
    operation: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) {
    let e = ReadError::call(cluster, operation, e);
    let why = std::error::Error::source(&e)
        .map(ToString::to_string)
        .unwrap_or_default();
    tracing::warn!(
        cluster,
        "{e} ({why}): the new instance's size falls back on the registered instances"
    );
}

/// Sets EC2's capacity of the group's types that no registered instance shows, unless the
/// file's `instance_capacity` stands for them (the core's rule): one DescribeInstanceTypes
/// when there is such a type, none otherwise. A failed call is logged and leaves them untold.
pub(super) async fn describe_onto(
    ec2: &aws_sdk_ec2::Client,
    definition: &ClusterDefinition,
    state: &mut ClusterState,
) {
    if definition.instance_capacity.is_some() {
        return;
    }
    let unseen = unseen_types(state);
    if unseen.is_empty() {
        return;
    }
    // A type EC2 does not know (a typo, a type newer than the region) fails the whole call:
    // those types' sizes are then not told, and the core falls back on the registered instances.
    let Ok(described) = read::describe_instance_types(ec2, &unseen)
        .await
        .map_err(|e| unread(&state.cluster, "DescribeInstanceTypes", e))
    else {
        return;
    };
    if let Some(group) = state.group.as_mut() {
        group.launch.described = described_capacities(&described);
    }
}

/// The group's types of which no ACTIVE or DRAINING container instance is registered.
fn unseen_types(state: &ClusterState) -> Vec<String> {
    let Some(group) = &state.group else {
        return Vec::new();
    };
    group
        .launch
        .instance_types
        .iter()
        .filter(|t| {
            !state.instances.iter().any(|ci| {
                matches!(ci.status, InstanceStatus::Active | InstanceStatus::Draining)
                    && ci.placement.attributes.get(INSTANCE_TYPE_ATTRIBUTE) == Some(*t)
            })
        })
        .cloned()
        .collect()
}

/// Sets the cluster's capacity provider on the group, if any: one DescribeClusters, and one
/// DescribeCapacityProviders when the cluster lists providers other than Fargate's.
pub(super) async fn provider_onto(
    ecs: &aws_sdk_ecs::Client,
    group_arn: Option<&str>,
    state: &mut ClusterState,
) -> Result<(), ReadError> {
    let cluster = state.cluster.clone();
    if let Some(group) = state.group.as_mut() {
        group.capacity_provider =
            read::group_capacity_provider(ecs, &cluster, &group.name, group_arn)
                .await
                .map_err(|e| ReadError::call(&cluster, e.operation(), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::resources::Resources;
    use shared::state::{ContainerInstance, GroupState, InstancePlacement};

    fn instance(instance_type: &str, status: InstanceStatus) -> ContainerInstance {
        let mut placement = InstancePlacement::default();
        placement
            .attributes
            .insert(INSTANCE_TYPE_ATTRIBUTE.into(), instance_type.into());
        ContainerInstance {
            arn: format!("arn/{instance_type}"),
            ec2_instance_id: format!("i-{instance_type}"),
            status,
            registered: Resources::new(2048, 3000),
            remaining: Resources::new(2048, 3000),
            running_tasks: 0,
            pending_tasks: 0,
            tasks: vec![],
            draining_since_epoch_secs: None,
            agent_connected: true,
            drain_aborted_at_epoch_secs: None,
            placement,
        }
    }

    #[test]
    fn only_types_without_a_live_registered_instance_are_described() {
        let mut group = GroupState {
            name: "g".into(),
            min: 0,
            max: 1,
            desired: 0,
            instances: vec![],
            ..Default::default()
        };
        group.launch.instance_types =
            vec!["c5.large".into(), "m5.xlarge".into(), "r5.large".into()];
        let state = ClusterState {
            cluster: "prod".into(),
            instances: vec![
                instance("m5.xlarge", InstanceStatus::Active),
                instance("r5.large", InstanceStatus::Other("DEREGISTERING".into())),
            ],
            group: Some(group),
            ..ClusterState::default()
        };
        assert_eq!(unseen_types(&state), vec!["c5.large", "r5.large"]);
    }
}
