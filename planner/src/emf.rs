//! The planner's decision metrics (Embedded Metric Format) for the stack's dashboard.
//!
//! Written with [`shared::emf`] once a plan is delivered:
//!
//! | dimensions | metric | unit |
//! | --- | --- | --- |
//! | Cluster, Service | `DesiredTasks` (the plan's target), `RunningTasks` | Count |
//! | Cluster | `GroupDesiredCapacity` (the plan's target), `GroupInServiceInstances` | Count |
//! | Cluster | `InstancesToDrain`, `InstancesToTerminate` | Count |

use shared::emf::{MetricLine, DIM_CLUSTER, DIM_SERVICE};
use shared::messages::ScalingPlan;
use shared::state::ClusterState;

/// Metric names (see the module docs).
pub mod metric {
    /// The service's desired task count after the plan.
    pub const DESIRED_TASKS: &str = "DesiredTasks";
    /// The service's running task count the planner saw.
    pub const RUNNING_TASKS: &str = "RunningTasks";
    /// The group's desired capacity after the plan.
    pub const GROUP_DESIRED_CAPACITY: &str = "GroupDesiredCapacity";
    /// The group's instances in the `InService` lifecycle state.
    pub const GROUP_IN_SERVICE_INSTANCES: &str = "GroupInServiceInstances";
    /// Instances the plan drains.
    pub const INSTANCES_TO_DRAIN: &str = "InstancesToDrain";
    /// Instances the plan terminates.
    pub const INSTANCES_TO_TERMINATE: &str = "InstancesToTerminate";
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The lines for one plan and the state it was made from: per service (ACTIVE in
/// `state`) its desired count after the plan and its running count; per cluster the group's
/// desired capacity after the plan (raised to `group_desired.to`, lowered by one per
/// termination), its instances in service, and the instances the plan drains and terminates.
/// Every line carries the `plan_id` property. A cluster without a group gets no group
/// metrics.
pub fn lines(state: &ClusterState, plan: &ScalingPlan, timestamp_ms: u64) -> Vec<MetricLine> {
    let mut lines = Vec::new();
    for service in state.services.iter().filter(|s| s.status == "ACTIVE") {
        let desired = plan
            .actions
            .services
            .iter()
            .find(|c| c.service == service.name)
            .map_or(service.desired, |c| c.to);
        lines.push(
            MetricLine::new(timestamp_ms)
                .dimension(DIM_CLUSTER, plan.cluster.as_str())
                .dimension(DIM_SERVICE, service.name.as_str())
                .count(metric::DESIRED_TASKS, u64::from(desired))
                .count(metric::RUNNING_TASKS, u64::from(service.running))
                .property("plan_id", plan.plan_id.as_str()),
        );
    }
    let actions = &plan.actions;
    let mut cluster = MetricLine::new(timestamp_ms).dimension(DIM_CLUSTER, plan.cluster.as_str());
    if let Some(group) = &state.group {
        let raised = actions.group_desired.map_or(group.desired, |c| c.to);
        let desired = u64::from(raised).saturating_sub(count(actions.terminate.len()));
        let in_service = group
            .instances
            .iter()
            .filter(|i| i.lifecycle_state == "InService")
            .count();
        cluster = cluster
            .count(metric::GROUP_DESIRED_CAPACITY, desired)
            .count(metric::GROUP_IN_SERVICE_INSTANCES, count(in_service));
    }
    cluster = cluster
        .count(metric::INSTANCES_TO_DRAIN, count(actions.drain.len()))
        .count(
            metric::INSTANCES_TO_TERMINATE,
            count(actions.terminate.len()),
        )
        .property("plan_id", plan.plan_id.as_str());
    lines.push(cluster);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use shared::messages::{CountChange, InstanceRef, PlanActions, ServiceChange, SCHEMA_VERSION};
    use shared::resources::Resources;
    use shared::state::{GroupInstance, GroupState, ServiceState};

    fn service(name: &str, status: &str, desired: u32, running: u32) -> ServiceState {
        ServiceState {
            name: name.into(),
            arn: format!("arn:aws:ecs:us-east-1:1:service/prod/{name}"),
            status: status.into(),
            desired,
            running,
            pending: 0,
            task_definition: "td:1".into(),
            task_size: Resources::new(256, 512),
            gpu: 0,
            distinct_instance: false,
            last_scaling: None,
            do_not_disrupt: false,
            placement: Default::default(),
        }
    }

    fn group_instance(id: &str, lifecycle: &str) -> GroupInstance {
        GroupInstance {
            instance_id: id.into(),
            lifecycle_state: lifecycle.into(),
            health_status: "Healthy".into(),
            protected_from_scale_in: false,
            ..Default::default()
        }
    }

    fn instance(id: &str) -> InstanceRef {
        InstanceRef {
            container_instance_arn: format!("arn:aws:ecs:us-east-1:1:container-instance/prod/{id}"),
            ec2_instance_id: id.into(),
        }
    }

    fn plan(actions: PlanActions) -> ScalingPlan {
        ScalingPlan {
            schema_version: SCHEMA_VERSION,
            plan_id: "p-1".into(),
            delivery_id: "d-1".into(),
            cluster: "prod".into(),
            autoscale_group: "prod-asg".into(),
            created_at: "2026-11-29T10:00:00Z".parse().expect("time"),
            expires_at: "2026-11-29T10:02:00Z".parse().expect("time"),
            metrics_cycle_ids: vec!["c-1".into()],
            dry_run: false,
            has_actions: !actions.is_empty(),
            actions,
            decisions: Default::default(),
        }
    }

    fn state() -> ClusterState {
        ClusterState {
            cluster: "prod".into(),
            services: vec![
                service("worker", "ACTIVE", 2, 1),
                service("web", "ACTIVE", 4, 4),
                service("old", "DRAINING", 1, 1),
            ],
            instances: vec![],
            group: Some(GroupState {
                name: "prod-asg".into(),
                min: 1,
                max: 5,
                desired: 3,
                instances: vec![
                    group_instance("i-1", "InService"),
                    group_instance("i-2", "InService"),
                    group_instance("i-3", "Pending"),
                ],
                ..Default::default()
            }),
            task_protection_unread: None,
        }
    }

    fn root(line: &MetricLine) -> Value {
        line.to_json().expect("a valid EMF line")
    }

    #[test]
    fn planner_lines_report_targets_next_to_observations() {
        let actions = PlanActions {
            group_desired: Some(CountChange { from: 3, to: 4 }),
            services: vec![ServiceChange {
                service: "worker".into(),
                from: 2,
                to: 3,
            }],
            ..Default::default()
        };
        let lines = lines(&state(), &plan(actions), 42);
        assert_eq!(lines.len(), 3, "two ACTIVE services and the cluster");
        let worker = root(&lines[0]);
        assert_eq!(worker["Cluster"], "prod");
        assert_eq!(worker["Service"], "worker");
        assert_eq!(worker["DesiredTasks"], 3.0, "the plan's target");
        assert_eq!(worker["RunningTasks"], 1.0);
        assert_eq!(worker["plan_id"], "p-1");
        assert_eq!(
            worker["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Cluster", "Service"]])
        );
        let web = root(&lines[1]);
        assert_eq!(
            web["DesiredTasks"], 4.0,
            "unchanged service: its current count"
        );
        let cluster = root(&lines[2]);
        assert_eq!(
            cluster["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Cluster"]])
        );
        assert_eq!(cluster["GroupDesiredCapacity"], 4.0);
        assert_eq!(cluster["GroupInServiceInstances"], 2.0);
        assert_eq!(cluster["InstancesToDrain"], 0.0);
        assert_eq!(cluster["InstancesToTerminate"], 0.0);
        assert_eq!(cluster["_aws"]["Timestamp"], 42);
    }

    #[test]
    fn terminations_lower_the_planned_group_desired() {
        let actions = PlanActions {
            drain: vec![instance("i-1").into()],
            terminate: vec![instance("i-3")],
            ..Default::default()
        };
        let lines = lines(&state(), &plan(actions), 0);
        let cluster = root(lines.last().expect("cluster line"));
        assert_eq!(cluster["GroupDesiredCapacity"], 2.0);
        assert_eq!(cluster["InstancesToDrain"], 1.0);
        assert_eq!(cluster["InstancesToTerminate"], 1.0);
    }

    #[test]
    fn a_cluster_without_group_gets_no_group_metrics() {
        let mut s = state();
        s.group = None;
        s.services.clear();
        let lines = lines(&s, &plan(PlanActions::default()), 0);
        assert_eq!(lines.len(), 1);
        let names: Vec<&str> = lines[0].metric_names().collect();
        assert_eq!(names, ["InstancesToDrain", "InstancesToTerminate"]);
    }
}
