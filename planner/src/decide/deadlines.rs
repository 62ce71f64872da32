//! Drain deadlines: an instance this system drained that still runs tasks `drain_timeout` after
//! its drain gets the cluster's `drain_timeout_action`: `abort` sets it ACTIVE again (and the
//! abort is recorded so that consolidation leaves it alone for `drain_abort_cooldown`), `force`
//! stops its remaining service tasks (never standalone ones: nothing would restart them) so that
//! it can be terminated once empty, `report` only says so.

use shared::definition::{ClusterDefinition, DrainTimeoutAction};
use shared::messages::Reason;
use shared::state::ClusterState;

use super::instances::tasks_known;
use super::standing::Standing;

/// What the deadlines decided.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Deadlines {
    /// Instances (indices) whose drain is aborted: they are ACTIVE for the rest of the plan.
    pub abort: Vec<usize>,
    /// Instances whose remaining service tasks are stopped, with those tasks' ARNs.
    pub force: Vec<(usize, Vec<String>)>,
    /// Why, per instance past its deadline.
    pub decisions: Vec<(usize, Reason)>,
}

/// The instances of `state` past their drain deadline at `now_secs`, and what happens to each.
/// Only our own drains ([`Standing::Draining`]) have a deadline.
pub(crate) fn deadlines(
    def: &ClusterDefinition,
    state: &ClusterState,
    standings: &[Standing],
    now_secs: u64,
) -> Deadlines {
    let mut out = Deadlines::default();
    let timeout_secs = def.drain_timeout.as_secs();
    for (i, ci) in state.instances.iter().enumerate() {
        if standings.get(i) != Some(&Standing::Draining) || !ci.has_tasks() {
            continue;
        }
        let Some(secs) = ci
            .draining_since_epoch_secs
            .map(|t| now_secs.saturating_sub(t))
            .filter(|secs| *secs > timeout_secs)
        else {
            continue;
        };
        let running = ci.running_tasks.saturating_add(ci.pending_tasks);
        let report = Reason::DrainingTooLong {
            secs,
            timeout_secs,
            running,
        };
        let reason = match def.disruption.drain_timeout_action {
            DrainTimeoutAction::Report => report,
            DrainTimeoutAction::Abort => {
                out.abort.push(i);
                Reason::DrainTimeoutAbort {
                    secs,
                    timeout_secs,
                    running,
                    cooldown_secs: def.disruption.drain_abort_cooldown.as_secs(),
                }
            }
            // Which tasks are standalone is known only from the listing.
            DrainTimeoutAction::Force if !tasks_known(ci) => report,
            DrainTimeoutAction::Force => {
                let services: Vec<String> = ci
                    .tasks
                    .iter()
                    .filter(|t| t.service.is_some())
                    .map(|t| t.arn.clone())
                    .collect();
                let standalone = ci.tasks.len() - services.len();
                let stopping = u32::try_from(services.len()).unwrap_or(u32::MAX);
                if !services.is_empty() {
                    out.force.push((i, services));
                }
                Reason::DrainTimeoutForce {
                    secs,
                    timeout_secs,
                    stopping,
                    standalone: u32::try_from(standalone).unwrap_or(u32::MAX),
                }
            }
        };
        out.decisions.push((i, reason));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::fixtures::*;
    use crate::decide::standing::standing;
    use shared::resources::Resources;
    use shared::state::{InstanceStatus, PlacedTask};

    const SMALL: Resources = Resources::new(512, 1024);

    /// Instance 1 ACTIVE; instance 2 drained by us `ago` seconds ago with these tasks.
    fn world(
        action: DrainTimeoutAction,
        ago: u64,
        tasks: Vec<PlacedTask>,
    ) -> (ClusterDefinition, ClusterState) {
        let mut def = cluster(vec![service("a", 0, 10, &[])]);
        def.disruption.drain_timeout_action = action;
        let mut draining = instance(2, InstanceStatus::Draining, tasks);
        draining.draining_since_epoch_secs = Some(NOW_SECS - ago);
        let st = state(
            vec![service_state("a", 2, SMALL)],
            vec![instance(1, InstanceStatus::Active, vec![]), draining],
            0,
            5,
        );
        (def, st)
    }

    fn decide(def: &ClusterDefinition, st: &ClusterState) -> Deadlines {
        let standings: Vec<Standing> = st
            .instances
            .iter()
            .map(|ci| standing(ci, st.group.as_ref()))
            .collect();
        deadlines(def, st, &standings, NOW_SECS)
    }

    fn standalone(arn: &str) -> PlacedTask {
        PlacedTask {
            arn: arn.into(),
            service: None,
            size: SMALL,
            protected_until_epoch_secs: None,
        }
    }

    #[test]
    fn within_the_timeout_nothing_happens() {
        let (def, st) = world(DrainTimeoutAction::Abort, 900, vec![task("a", SMALL)]);
        assert_eq!(decide(&def, &st), Deadlines::default());
    }

    #[test]
    fn abort_sets_the_instance_active_again_with_its_cooldown() {
        let (def, st) = world(DrainTimeoutAction::Abort, 1000, vec![task("a", SMALL)]);
        let d = decide(&def, &st);
        assert_eq!(d.abort, vec![1]);
        assert!(d.force.is_empty());
        assert_eq!(
            d.decisions,
            vec![(
                1,
                Reason::DrainTimeoutAbort {
                    secs: 1000,
                    timeout_secs: 900,
                    running: 1,
                    cooldown_secs: 3600
                }
            )]
        );
    }

    #[test]
    fn force_stops_service_tasks_only() {
        let mut svc = task("a", SMALL);
        svc.arn = "arn:task/svc".into();
        let (def, st) = world(
            DrainTimeoutAction::Force,
            1000,
            vec![svc, standalone("arn:task/job")],
        );
        let d = decide(&def, &st);
        assert_eq!(d.force, vec![(1, vec!["arn:task/svc".to_string()])]);
        assert!(d.abort.is_empty());
        assert_eq!(
            d.decisions[0].1,
            Reason::DrainTimeoutForce {
                secs: 1000,
                timeout_secs: 900,
                stopping: 1,
                standalone: 1
            }
        );
        assert!(d.decisions[0].1.to_string().contains("standalone"));
        // Only standalone tasks: nothing to stop, the record says why it stays.
        let (def, st) = world(DrainTimeoutAction::Force, 1000, vec![standalone("j")]);
        let d = decide(&def, &st);
        assert!(d.force.is_empty());
        assert_eq!(d.decisions.len(), 1);
    }

    #[test]
    fn force_without_the_task_listing_and_report_only_report() {
        let (def, mut st) = world(DrainTimeoutAction::Force, 1000, vec![task("a", SMALL)]);
        st.instances[1].tasks.clear();
        let d = decide(&def, &st);
        assert!(d.force.is_empty());
        assert!(matches!(d.decisions[0].1, Reason::DrainingTooLong { .. }));
        let (def, st) = world(DrainTimeoutAction::Report, 1000, vec![task("a", SMALL)]);
        let d = decide(&def, &st);
        assert!(d.abort.is_empty() && d.force.is_empty());
        assert_eq!(
            d.decisions,
            vec![(
                1,
                Reason::DrainingTooLong {
                    secs: 1000,
                    timeout_secs: 900,
                    running: 1
                }
            )]
        );
    }

    #[test]
    fn someone_elses_drain_and_an_empty_drain_have_no_deadline() {
        let (def, mut st) = world(DrainTimeoutAction::Abort, 5000, vec![]);
        assert_eq!(
            decide(&def, &st),
            Deadlines::default(),
            "empty: terminated instead"
        );
        st.instances[1] = instance(2, InstanceStatus::Draining, vec![task("a", SMALL)]);
        st.instances[1].draining_since_epoch_secs = None;
        assert_eq!(decide(&def, &st), Deadlines::default(), "not ours");
    }
}
