//! Which instances' tasks the core can use, so that the shell lists no more than those.
//!
//! Container instances report only totals; the core needs each task's size where it may move
//! tasks: off DRAINING instances (demand to place), off the instances consolidation may examine
//! (its first [`MAX_EXAMINED`] candidates), and everywhere when a `distinctInstance` service must
//! know which instances already host it. Listing a whole cluster costs 2⌈T/100⌉ calls for T
//! tasks; listing a few instances costs about one call each, which is what keeps the read
//! budget independent of the cluster's size.

use shared::definition::ClusterDefinition;
use shared::resources::Resources;
use shared::state::{ClusterState, ContainerInstance};
use shared::time::Timestamp;

use super::consolidation::{candidate_order, MAX_EXAMINED};
use super::instances::instance_size;
use super::standing::{standings, Standing};

/// The tasks the core can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskListing {
    /// None: no instance with tasks may be drained or emptied.
    None,
    /// Every instance's: a `distinctInstance` service needs to know where its tasks run.
    All,
    /// These container instances' (ARNs, in the order consolidation examines them).
    Instances(Vec<String>),
}

/// What the core can use of `state` (whose instances' `tasks` are not read yet): the tasks
/// that must move (off our DRAINING instances, and off instances others drain or that leave
/// the group) and those of the consolidation candidates (ACTIVE instances that are ours).
pub fn task_listing(definition: &ClusterDefinition, state: &ClusterState) -> TaskListing {
    let busy = |ci: &ContainerInstance| ci.has_tasks();
    let standings = standings(state);
    let relevant = |i: usize| {
        matches!(standings[i], Standing::Active | Standing::Draining) || standings[i].tasks_move()
    };
    if !(0..state.instances.len()).any(|i| relevant(i) && busy(&state.instances[i])) {
        return TaskListing::None;
    }
    if state.services.iter().any(|s| s.distinct_instance) {
        return TaskListing::All;
    }
    let mut arns: Vec<String> = (0..state.instances.len())
        .filter(|&i| relevant(i) && standings[i] != Standing::Active)
        .map(|i| &state.instances[i])
        .filter(|ci| busy(ci))
        .map(|ci| ci.arn.clone())
        .collect();
    let active: Vec<usize> = (0..state.instances.len())
        .filter(|&i| standings[i] == Standing::Active)
        .collect();
    if definition.max_drain_per_cycle != Some(0) && active.len() >= 2 {
        let scale = instance_size(definition, state).unwrap_or(Resources::new(1, 1));
        arns.extend(
            candidate_order(state, active, scale)
                .into_iter()
                .take(MAX_EXAMINED)
                .map(|i| &state.instances[i])
                .filter(|ci| busy(ci))
                .map(|ci| ci.arn.clone()),
        );
    }
    if arns.is_empty() {
        TaskListing::None
    } else {
        TaskListing::Instances(arns)
    }
}

/// The container instances (ARNs) whose tasks' scale-in protection the core needs at `now`: the
/// busy candidates consolidation may examine (its first [`MAX_EXAMINED`]), when it may drain a
/// busy instance at all — consolidation is on, two instances or more are ACTIVE, and a window
/// is open or the group is above the file's `max`. Call after the tasks are listed: only
/// instances with listed tasks are named.
pub fn protection_listing(
    definition: &ClusterDefinition,
    state: &ClusterState,
    now: Timestamp,
) -> Vec<String> {
    let above_max = state
        .group
        .as_ref()
        .is_some_and(|g| definition.max.is_some_and(|max| g.desired > max));
    let busy_drains = definition.disruption.window_open(now) || above_max;
    let active: Vec<usize> = standings(state)
        .iter()
        .enumerate()
        .filter(|(_, s)| **s == Standing::Active)
        .map(|(i, _)| i)
        .collect();
    if definition.max_drain_per_cycle == Some(0) || active.len() < 2 || !busy_drains {
        return Vec::new();
    }
    let scale = instance_size(definition, state).unwrap_or(Resources::new(1, 1));
    candidate_order(state, active, scale)
        .into_iter()
        .take(MAX_EXAMINED)
        .map(|i| &state.instances[i])
        .filter(|ci| ci.has_tasks() && !ci.tasks.is_empty())
        .map(|ci| ci.arn.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::state::{GroupInstance, GroupState, InstanceStatus, ServiceState};

    fn def(max_drain: u32) -> ClusterDefinition {
        shared::definition::parse_definition(
            "prod",
            std::path::Path::new("prod.yml"),
            &format!("autoscale_group: asg\nmax_drain_per_cycle: {max_drain}\n"),
            &|_| None,
        )
        .expect("definition")
    }

    /// A container instance; a DRAINING one is drained by this system.
    fn instance(arn: &str, status: InstanceStatus, tasks: u32) -> ContainerInstance {
        let ours = (status == InstanceStatus::Draining).then_some(1);
        ContainerInstance {
            arn: arn.into(),
            ec2_instance_id: format!("i-{arn}"),
            status,
            registered: Resources::new(4096, 8192),
            remaining: Resources::new(4096 - 256 * tasks, 8192 - 512 * tasks),
            running_tasks: tasks,
            pending_tasks: 0,
            tasks: vec![],
            draining_since_epoch_secs: ours,
            agent_connected: true,
            drain_aborted_at_epoch_secs: None,
            placement: Default::default(),
        }
    }

    /// The instances, all InService in the group.
    fn state(instances: Vec<ContainerInstance>) -> ClusterState {
        let group = GroupState {
            name: "asg".into(),
            min: 0,
            max: 100,
            desired: u32::try_from(instances.len()).unwrap_or(u32::MAX),
            instances: instances
                .iter()
                .map(|ci| GroupInstance {
                    instance_id: ci.ec2_instance_id.clone(),
                    lifecycle_state: "InService".into(),
                    health_status: "Healthy".into(),
                    protected_from_scale_in: false,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        ClusterState {
            cluster: "prod".into(),
            instances,
            group: Some(group),
            task_protection_unread: None,
            ..ClusterState::default()
        }
    }

    #[test]
    fn tasks_that_must_move_are_listed_and_instances_not_ours_are_no_candidates() {
        let mut theirs = instance("theirs", InstanceStatus::Draining, 2);
        theirs.draining_since_epoch_secs = None;
        let mut cut_off = instance("cut-off", InstanceStatus::Active, 1);
        cut_off.agent_connected = false;
        let mut s = state(vec![
            instance("busy", InstanceStatus::Active, 9),
            theirs,
            instance("leaving", InstanceStatus::Active, 3),
            cut_off,
            instance("light", InstanceStatus::Active, 1),
        ]);
        if let Some(g) = s.group.as_mut() {
            g.instances[2].lifecycle_state = "Terminating:Wait".into();
        }
        assert_eq!(
            task_listing(&def(1), &s),
            TaskListing::Instances(vec![
                "theirs".into(),
                "leaving".into(),
                "light".into(),
                "busy".into()
            ])
        );
    }

    #[test]
    fn nothing_when_no_instance_runs_tasks() {
        let s = state(vec![
            instance("a", InstanceStatus::Active, 0),
            instance("b", InstanceStatus::Active, 0),
        ]);
        assert_eq!(task_listing(&def(1), &s), TaskListing::None);
    }

    #[test]
    fn busy_draining_instances_and_candidates_in_examination_order() {
        let s = state(vec![
            instance("busy", InstanceStatus::Active, 9),
            instance("empty", InstanceStatus::Active, 0),
            instance("light", InstanceStatus::Active, 1),
            instance("leaving", InstanceStatus::Draining, 2),
            instance("gone", InstanceStatus::Draining, 0),
        ]);
        assert_eq!(
            task_listing(&def(1), &s),
            TaskListing::Instances(vec!["leaving".into(), "light".into(), "busy".into()])
        );
        // Draining disabled: only the tasks that must leave a DRAINING instance matter.
        assert_eq!(
            task_listing(&def(0), &s),
            TaskListing::Instances(vec!["leaving".into()])
        );
    }

    #[test]
    fn a_single_active_instance_is_never_a_candidate() {
        let s = state(vec![instance("only", InstanceStatus::Active, 3)]);
        assert_eq!(task_listing(&def(1), &s), TaskListing::None);
    }

    #[test]
    fn candidates_beyond_those_examined_are_not_listed() {
        let instances: Vec<_> = (0..40)
            .map(|n| instance(&format!("ci{n:02}"), InstanceStatus::Active, 1 + n % 5))
            .collect();
        let TaskListing::Instances(arns) = task_listing(&def(1), &state(instances)) else {
            panic!("instances expected")
        };
        assert_eq!(arns.len(), MAX_EXAMINED);
    }

    #[test]
    fn protection_is_read_for_busy_candidates_only_when_busy_drains_may_happen() {
        let mut busy = instance("busy", InstanceStatus::Active, 2);
        busy.tasks = vec![shared::state::PlacedTask {
            arn: "t1".into(),
            service: Some("web".into()),
            size: Resources::new(256, 512),
            protected_until_epoch_secs: None,
        }];
        let mut unlisted = instance("unlisted", InstanceStatus::Active, 1);
        unlisted.tasks.clear();
        let s = state(vec![
            busy,
            unlisted,
            instance("empty", InstanceStatus::Active, 0),
            instance("leaving", InstanceStatus::Draining, 2),
        ]);
        let now: Timestamp = "2025-01-06T12:00:00Z".parse().expect("a time");
        assert_eq!(
            protection_listing(&def(1), &s, now),
            vec!["busy".to_string()]
        );
        assert!(
            protection_listing(&def(0), &s, now).is_empty(),
            "consolidation off"
        );

        // Outside every window: nothing, unless the group is above the file's max.
        let night = |extra: &str| {
            shared::definition::parse_definition(
                "prod",
                std::path::Path::new("prod.yml"),
                &format!("autoscale_group: asg\n{extra}consolidation_windows: [{{start: \"01:00\", end: \"02:00\"}}]\n"),
                &|_| None,
            )
            .expect("definition")
        };
        assert!(protection_listing(&night(""), &s, now).is_empty());
        assert_eq!(
            protection_listing(&night("max: 2\n"), &s, now),
            vec!["busy".to_string()]
        );
    }

    #[test]
    fn distinct_instance_services_need_every_task() {
        let mut s = state(vec![
            instance("a", InstanceStatus::Active, 1),
            instance("b", InstanceStatus::Active, 0),
        ]);
        s.services.push(ServiceState {
            name: "web".into(),
            arn: "arn:web".into(),
            status: "ACTIVE".into(),
            desired: 1,
            running: 1,
            pending: 0,
            task_definition: "td".into(),
            task_size: Resources::new(256, 512),
            gpu: 0,
            distinct_instance: true,
            last_scaling: None,
            do_not_disrupt: false,
            placement: Default::default(),
        });
        assert_eq!(task_listing(&def(0), &s), TaskListing::All);
    }
}
