//! The launch times of the group's InService instances that have no container instance, so
//! that the core can stop counting one that never registers (EC2 DescribeInstances, called
//! only when there is such an instance).

use shared::aws::read;
use shared::aws::state::launch_times;
use shared::state::ClusterState;

use super::ReadError;

/// Sets `launched_at_epoch_secs` on the group's InService instances that no container instance
/// of `state` runs on. No call when there is none.
pub(super) async fn read_onto(
    ec2: &aws_sdk_ec2::Client,
    state: &mut ClusterState,
) -> Result<(), ReadError> {
    let ids = unregistered(state);
    if ids.is_empty() {
        return Ok(());
    }
    let reservations = read::describe_instances(ec2, &ids)
        .await
        .map_err(|e| ReadError::call(&state.cluster, "DescribeInstances", e))?;
    let times = launch_times(&reservations);
    if let Some(group) = state.group.as_mut() {
        for gi in &mut group.instances {
            if let Some(&at) = times.get(&gi.instance_id) {
                gi.launched_at_epoch_secs = Some(at);
            }
        }
    }
    Ok(())
}

/// InService instances of the group without a container instance in `state`.
fn unregistered(state: &ClusterState) -> Vec<String> {
    let Some(group) = &state.group else {
        return Vec::new();
    };
    group
        .instances
        .iter()
        .filter(|gi| gi.in_service() && state.instance_by_ec2_id(&gi.instance_id).is_none())
        .map(|gi| gi.instance_id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::resources::Resources;
    use shared::state::{ContainerInstance, GroupInstance, GroupState, InstanceStatus};

    fn member(id: &str, lifecycle: &str) -> GroupInstance {
        GroupInstance {
            instance_id: id.into(),
            lifecycle_state: lifecycle.into(),
            health_status: "Healthy".into(),
            protected_from_scale_in: false,
            ..Default::default()
        }
    }

    #[test]
    fn only_inservice_instances_without_a_container_instance_are_asked_about() {
        let state = ClusterState {
            cluster: "prod".into(),
            instances: vec![ContainerInstance {
                arn: "arn:ci/1".into(),
                ec2_instance_id: "i-registered".into(),
                status: InstanceStatus::Active,
                registered: Resources::new(4096, 7482),
                remaining: Resources::new(4096, 7482),
                running_tasks: 0,
                pending_tasks: 0,
                tasks: vec![],
                draining_since_epoch_secs: None,
                agent_connected: true,
                drain_aborted_at_epoch_secs: None,
                placement: Default::default(),
            }],
            group: Some(GroupState {
                name: "asg".into(),
                min: 0,
                max: 9,
                desired: 4,
                instances: vec![
                    member("i-registered", "InService"),
                    member("i-silent", "InService"),
                    member("i-booting", "Pending"),
                    member("i-hooked", "Pending:Wait"),
                ],
                ..Default::default()
            }),
            task_protection_unread: None,
            ..ClusterState::default()
        };
        assert_eq!(unregistered(&state), vec!["i-silent".to_owned()]);
        let none = ClusterState {
            group: None,
            task_protection_unread: None,
            ..state
        };
        assert!(unregistered(&none).is_empty());
    }
}
