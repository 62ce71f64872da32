//! The world as AWS reports it: the planner's `ClusterState` (what its state reader would build
//! from DescribeServices, DescribeContainerInstances, DescribeTasks and
//! DescribeAutoScalingGroups) and the pieces the executor's guards re-read.

use std::collections::HashMap;

use shared::state::{
    ClusterState, ContainerInstance, GroupInstance, GroupState, InstanceStatus, PlacedTask,
    ServiceState,
};

use super::{Instance, Status, World, ACCOUNT, REGION};

impl World {
    /// The state the planner reads. `listed(name)`: whether the cluster file names the service
    /// (the reader describes only those). Every instance's tasks are listed: the planner's
    /// reader lists fewer, but only those its core can use (see `planner::task_listing`).
    pub fn cluster_state(&self, listed: impl Fn(&str) -> bool) -> ClusterState {
        let counts = self.task_counts();
        ClusterState {
            cluster: self.cluster.clone(),
            services: self
                .services
                .iter()
                .enumerate()
                .filter(|(_, s)| listed(&s.name))
                .map(|(k, _)| self.service_state_with(k, counts[k]))
                .collect(),
            instances: self
                .instances
                .iter()
                .filter(|i| i.registered)
                .map(|i| self.container_instance(i))
                .collect(),
            group: Some(self.group_state()),
            task_protection_unread: None,
        }
    }

    /// DescribeServices of service `s`.
    pub fn service_state(&self, s: usize) -> ServiceState {
        let counts = self.task_counts();
        self.service_state_with(s, counts[s])
    }

    fn service_state_with(&self, s: usize, counts: super::TaskCounts) -> ServiceState {
        let service = &self.services[s];
        ServiceState {
            name: service.name.clone(),
            arn: service.arn.clone(),
            status: "ACTIVE".into(),
            desired: service.desired,
            running: counts.running,
            pending: counts.pending,
            task_definition: format!(
                "arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{}:1",
                service.name
            ),
            task_size: service.size,
            gpu: 0,
            distinct_instance: service.distinct,
            last_scaling: service.last_scaling,
            do_not_disrupt: false,
            placement: Default::default(),
        }
    }

    /// DescribeContainerInstances (with the drain record among its attributes) and its tasks.
    pub fn container_instance(&self, i: &Instance) -> ContainerInstance {
        let (mut running, mut pending) = (0, 0);
        let tasks = i
            .tasks
            .iter()
            .map(|t| {
                if t.running(self.now) {
                    running += 1;
                } else {
                    pending += 1;
                }
                let service = &self.services[t.service];
                PlacedTask {
                    arn: format!(
                        "arn:aws:ecs:{REGION}:{ACCOUNT}:task/{}/{:032x}",
                        self.cluster, t.id
                    ),
                    service: Some(service.name.clone()),
                    size: service.size,
                    protected_until_epoch_secs: None,
                }
            })
            .collect();
        ContainerInstance {
            arn: i.arn.clone(),
            ec2_instance_id: i.ec2_id.clone(),
            status: match i.status {
                Status::Active => InstanceStatus::Active,
                Status::Draining { .. } => InstanceStatus::Draining,
            },
            registered: self.timings.instance,
            remaining: i.free,
            running_tasks: running,
            pending_tasks: pending,
            tasks,
            draining_since_epoch_secs: i.drained_at,
            drain_aborted_at_epoch_secs: i.drain_aborted_at,
            agent_connected: true,
            placement: Default::default(),
        }
    }

    /// The registered container instances by ARN (the executor's re-read before drains).
    pub fn container_instances(&self) -> HashMap<String, ContainerInstance> {
        self.instances
            .iter()
            .filter(|i| i.registered)
            .map(|i| (i.arn.clone(), self.container_instance(i)))
            .collect()
    }

    /// DescribeAutoScalingGroups: Pending until registered with ECS, InService after.
    pub fn group_state(&self) -> GroupState {
        GroupState {
            name: self.group.name.clone(),
            min: self.group.min,
            max: self.group.max,
            desired: self.group.desired,
            instances: self
                .instances
                .iter()
                .map(|i| GroupInstance {
                    instance_id: i.ec2_id.clone(),
                    lifecycle_state: if i.registered { "InService" } else { "Pending" }.into(),
                    health_status: "Healthy".into(),
                    protected_from_scale_in: false,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}
