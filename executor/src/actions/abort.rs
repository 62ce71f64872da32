//! Aborting drains past their deadline (`drain_timeout_action: abort`). The abort is recorded
//! first, as the [`DRAIN_ABORTED_AT_ATTRIBUTE`] (PutAttributes, 10 per call), so that the
//! planner does not drain the instance again for the cooldown even if the run stops here; then
//! the instance is set ACTIVE (UpdateContainerInstancesState, 10 per call) and its drain record
//! ([`DRAINED_AT_ATTRIBUTE`]) removed, as a reactivation does.

use aws_sdk_ecs::types::ContainerInstanceStatus;
use shared::messages::InstanceRef;
#[cfg(doc)]
use shared::state::DRAINED_AT_ATTRIBUTE;
use shared::state::{ContainerInstance, GroupState, InstanceStatus, DRAIN_ABORTED_AT_ATTRIBUTE};

use super::drain::{put_attribute, ATTRIBUTES_PER_CALL};
use super::reactivate::remove_records;
use super::{approve, set_live_status, update_instances_state, Verdict};
use crate::run::{ApplyError, Run};

/// `kind` in the report.
pub const KIND: &str = "abort_drain";

/// ACTIVE → already applied; DRAINING without this system's drain record → skipped (someone
/// else's drain); not an InService member of the group, agent disconnected, gone, moved or any
/// other status → stale; DRAINING by this system with no task left → stale (it is terminated
/// instead); DRAINING by this system with tasks → apply.
pub fn guard(
    target: &InstanceRef,
    live: Option<&ContainerInstance>,
    group: Option<&GroupState>,
) -> Verdict {
    // Everything a reactivation requires of the instance, then the tasks still on it.
    let verdict = super::reactivate::guard(target, live, group);
    let (Verdict::Apply(_), Some(live)) = (&verdict, live) else {
        return verdict;
    };
    if !live.has_tasks() {
        return Verdict::Stale(
            "no task is left on it: the drain finished, it is terminated instead".into(),
        );
    }
    Verdict::Apply(format!(
        "abort the drain: set container instance {} from DRAINING to ACTIVE with its {} task(s)",
        target.container_instance_arn,
        live.running_tasks.saturating_add(live.pending_tasks)
    ))
}

/// Settles each guard, records the aborts, sets the approved instances ACTIVE 10 per call, then
/// removes their drain records.
pub async fn run(run: &mut Run<'_>, targets: &[InstanceRef]) -> Result<(), ApplyError> {
    if targets.is_empty() {
        return Ok(());
    }
    let group = match &run.live.group {
        Ok(group) => group.clone(),
        Err(e) => {
            let e = e.clone();
            for t in targets {
                run.failed(KIND, &t.ec2_instance_id, "read the group", e.clone())?;
            }
            return Ok(());
        }
    };
    let approved = approve(run, KIND, targets, |t, live| guard(t, live, group.as_ref()))?;
    if approved.is_empty() {
        return Ok(());
    }
    let value = run.now_secs.to_string();
    let mut recorded = Vec::new();
    for chunk in approved.chunks(ATTRIBUTES_PER_CALL) {
        let ids: Vec<&str> = chunk
            .iter()
            .map(|(t, _)| shared::state::container_instance_id(&t.container_instance_arn))
            .collect();
        match put_attribute(run, KIND, DRAIN_ABORTED_AT_ATTRIBUTE, &ids, &value).await? {
            Ok(()) => recorded.extend(chunk.iter().cloned()),
            Err(e) => {
                for (t, _) in chunk {
                    run.failed(KIND, &t.ec2_instance_id, "record the abort", e.clone())?;
                }
            }
        }
    }
    if recorded.is_empty() {
        return Ok(());
    }
    let results =
        update_instances_state(run, KIND, recorded, ContainerInstanceStatus::Active).await?;
    let now = run.now_secs;
    for (target, result) in results {
        match result {
            Ok(what) => {
                let arn = &target.container_instance_arn;
                set_live_status(run, arn, InstanceStatus::Active);
                if let Ok(live) = &mut run.live.instances {
                    if let Some(ci) = live.get_mut(arn) {
                        ci.drain_aborted_at_epoch_secs = Some(now);
                    }
                }
                run.applied(
                    KIND,
                    &target.ec2_instance_id,
                    format!("{what}; recorded {DRAIN_ABORTED_AT_ATTRIBUTE}={value}"),
                );
            }
            Err(e) => run.failed(KIND, &target.ec2_instance_id, "set it ACTIVE", e)?,
        }
    }
    // The drain record must not stay on an ACTIVE instance (see `reactivate`).
    remove_records(run, KIND, targets).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::fixtures;

    fn target() -> InstanceRef {
        InstanceRef {
            container_instance_arn: "arn:ci/1".into(),
            ec2_instance_id: "i-1".into(),
        }
    }

    fn ours(status: &str, running: u32) -> ContainerInstance {
        let mut ci = fixtures::instance("i-1", status, running, 0);
        ci.draining_since_epoch_secs = Some(1_764_412_345);
        ci
    }

    #[test]
    fn guard_aborts_only_our_own_drains_that_still_run_tasks() {
        let g = fixtures::group(0, 10, 2, &[("i-1", "InService")]);
        let v = |ci: &ContainerInstance| guard(&target(), Some(ci), Some(&g));
        assert!(matches!(v(&ours("DRAINING", 2)), Verdict::Apply(_)));
        assert!(matches!(v(&ours("ACTIVE", 2)), Verdict::AlreadyApplied(_)));
        assert!(matches!(
            v(&ours("DRAINING", 0)),
            Verdict::Stale(why) if why.contains("terminated instead")
        ));
        let mut theirs = ours("DRAINING", 2);
        theirs.draining_since_epoch_secs = None;
        assert!(matches!(v(&theirs), Verdict::Skip(why) if why.contains("someone else")));
        let mut cut_off = ours("DRAINING", 2);
        cut_off.agent_connected = false;
        assert!(matches!(v(&cut_off), Verdict::Stale(_)));
        assert!(matches!(
            guard(&target(), None, Some(&g)),
            Verdict::Stale(_)
        ));
        for g in [
            fixtures::group(0, 10, 1, &[("i-1", "Terminating:Wait")]),
            fixtures::group(0, 10, 0, &[]),
        ] {
            assert!(matches!(
                guard(&target(), Some(&ours("DRAINING", 2)), Some(&g)),
                Verdict::Stale(_)
            ));
        }
    }
}
