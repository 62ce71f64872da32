//! Which container instances are ours to count and act on: those whose EC2 instance is an
//! InService member of the group with a connected agent, ACTIVE, or DRAINING by this system's
//! own drain. Every other one is excluded (never reactivated, drained, terminated or counted as
//! capacity) with its reason; its service tasks are demand when ECS will move them.

use shared::messages::Reason;
use shared::state::{ClusterState, ContainerInstance, GroupInstance, GroupState, InstanceStatus};

use super::services::FastMap;

/// What the planner may do with one container instance.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Standing {
    /// ACTIVE and ours: capacity, and a consolidation candidate.
    Active,
    /// DRAINING by this system: ours to reactivate, or to terminate once empty.
    Draining,
    /// Neither counted nor touched.
    Excluded {
        /// Why, for the decision record.
        reason: Reason,
        /// ECS will move its service tasks (it is DRAINING, or leaving the group): they need
        /// room elsewhere.
        tasks_move: bool,
    },
}

impl Standing {
    /// Whether the instance is excluded with tasks that need room elsewhere.
    pub(crate) fn tasks_move(&self) -> bool {
        matches!(
            self,
            Standing::Excluded {
                tasks_move: true,
                ..
            }
        )
    }
}

/// The standing of `ci` in `group` (`None`: the group does not exist).
#[cfg(test)]
pub(crate) fn standing(ci: &ContainerInstance, group: Option<&GroupState>) -> Standing {
    standing_as(ci, group.and_then(|g| g.instance(&ci.ec2_instance_id)))
}

/// The group's members by EC2 instance id (none without a group).
pub(crate) fn members(group: Option<&GroupState>) -> FastMap<&str, &GroupInstance> {
    group
        .iter()
        .flat_map(|g| &g.instances)
        .map(|gi| (gi.instance_id.as_str(), gi))
        .collect()
}

/// The standing of every instance of `state`, in order: [`standing`] with the group's members
/// looked up by id once (not a scan of the group per instance).
pub(crate) fn standings(state: &ClusterState) -> Vec<Standing> {
    standings_among(state, &members(state.group.as_ref()))
}

/// [`standings`] with the group's [`members`] already at hand.
pub(crate) fn standings_among(
    state: &ClusterState,
    members: &FastMap<&str, &GroupInstance>,
) -> Vec<Standing> {
    state
        .instances
        .iter()
        .map(|ci| standing_as(ci, members.get(ci.ec2_instance_id.as_str()).copied()))
        .collect()
}

/// The standing of `ci`, `member` its EC2 instance in the group (`None`: not in the group).
fn standing_as(ci: &ContainerInstance, member: Option<&GroupInstance>) -> Standing {
    let draining = ci.status == InstanceStatus::Draining;
    let excluded = |reason: fn(u32) -> Reason, tasks_move: bool| Standing::Excluded {
        reason: reason(if tasks_move { service_tasks(ci) } else { 0 }),
        tasks_move,
    };
    let Some(member) = member else {
        return excluded(
            |tasks_to_move| Reason::NotInGroup { tasks_to_move },
            draining,
        );
    };
    if !member.in_service() {
        let lifecycle = member.lifecycle_state.clone();
        let tasks_move = draining || leaving(&lifecycle);
        return Standing::Excluded {
            reason: Reason::NotInService {
                lifecycle,
                tasks_to_move: if tasks_move { service_tasks(ci) } else { 0 },
            },
            tasks_move,
        };
    }
    if !ci.agent_connected {
        return excluded(
            |tasks_to_move| Reason::AgentDisconnected { tasks_to_move },
            draining,
        );
    }
    match &ci.status {
        InstanceStatus::Active => Standing::Active,
        InstanceStatus::Draining if ci.drained_by_us() => Standing::Draining,
        InstanceStatus::Draining => {
            excluded(|tasks_to_move| Reason::NotOurDrain { tasks_to_move }, true)
        }
        // The reader keeps ACTIVE and DRAINING instances only; anything else is not ours.
        InstanceStatus::Other(status) => Standing::Excluded {
            reason: Reason::NotInService {
                lifecycle: format!("container instance {status}"),
                tasks_to_move: 0,
            },
            tasks_move: false,
        },
    }
}

/// Lifecycle states in which the instance is on its way out of the group, its tasks with it.
fn leaving(lifecycle: &str) -> bool {
    ["Terminat", "Standby", "Detach", "Warmed:Terminat"]
        .iter()
        .any(|p| lifecycle.starts_with(p))
}

/// Its service tasks (their number, when they were not listed).
fn service_tasks(ci: &ContainerInstance) -> u32 {
    if ci.tasks.is_empty() {
        ci.running_tasks.saturating_add(ci.pending_tasks)
    } else {
        u32::try_from(ci.tasks.iter().filter(|t| t.service.is_some()).count()).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::fixtures::*;
    use shared::resources::Resources;

    fn group_with(lifecycle: &str) -> GroupState {
        let mut st = state(
            vec![],
            vec![instance(1, InstanceStatus::Active, vec![])],
            0,
            5,
        );
        let mut g = st.group.take().expect("a group");
        g.instances[0].lifecycle_state = lifecycle.into();
        g
    }

    fn ours_draining(tasks: u32) -> ContainerInstance {
        let mut ci = instance(
            1,
            InstanceStatus::Draining,
            vec![task("a", Resources::new(256, 256)); tasks as usize],
        );
        ci.draining_since_epoch_secs = Some(NOW_SECS);
        ci
    }

    #[test]
    fn only_inservice_connected_members_and_our_own_drains_are_ours() {
        let g = group_with("InService");
        let active = instance(1, InstanceStatus::Active, vec![]);
        assert_eq!(standing(&active, Some(&g)), Standing::Active);
        assert_eq!(standing(&ours_draining(0), Some(&g)), Standing::Draining);

        let mut theirs = ours_draining(2);
        theirs.draining_since_epoch_secs = None;
        assert_eq!(
            standing(&theirs, Some(&g)),
            Standing::Excluded {
                reason: Reason::NotOurDrain { tasks_to_move: 2 },
                tasks_move: true
            }
        );

        let mut cut_off = instance(1, InstanceStatus::Active, vec![task("a", SIZE)]);
        cut_off.agent_connected = false;
        assert_eq!(
            standing(&cut_off, Some(&g)),
            Standing::Excluded {
                reason: Reason::AgentDisconnected { tasks_to_move: 0 },
                tasks_move: false
            },
            "a disconnected agent keeps its tasks"
        );
    }

    #[test]
    fn instances_leaving_or_gone_from_the_group_are_excluded() {
        for (lifecycle, tasks_move) in [
            ("Terminating:Wait", true),
            ("Standby", true),
            ("Detaching", true),
            ("Pending:Wait", false),
        ] {
            let got = standing(
                &instance(1, InstanceStatus::Active, vec![task("a", SIZE)]),
                Some(&group_with(lifecycle)),
            );
            assert_eq!(got.tasks_move(), tasks_move, "{lifecycle}");
            assert!(
                matches!(&got, Standing::Excluded { reason: Reason::NotInService { lifecycle: l, .. }, .. } if l == lifecycle),
                "{got:?}"
            );
        }
        // Our own drain, but the EC2 instance is gone: its tasks move, nothing else happens.
        let gone = standing(&ours_draining(3), None);
        assert_eq!(
            gone,
            Standing::Excluded {
                reason: Reason::NotInGroup { tasks_to_move: 3 },
                tasks_move: true
            }
        );
        // An ACTIVE instance of another group keeps its tasks where they are.
        let mut elsewhere = instance(1, InstanceStatus::Active, vec![task("a", SIZE)]);
        elsewhere.ec2_instance_id = "i-other".into();
        assert!(!standing(&elsewhere, Some(&group_with("InService"))).tasks_move());
    }
}
