//! Reactivating DRAINING container instances this system drained (UpdateContainerInstancesState
//! ACTIVE, full ARNs), before any new instance is launched; then their drain record
//! ([`DRAINED_AT_ATTRIBUTE`]) is removed. Someone else's drain is never undone.

use aws_sdk_ecs::types::ContainerInstanceStatus;
use shared::messages::InstanceRef;
use shared::state::{ContainerInstance, GroupState, InstanceStatus, DRAINED_AT_ATTRIBUTE};

use super::drain::delete_attributes;
use super::{approve, check_instance, set_live_status, update_instances_state, Verdict};
use crate::run::{ApplyError, Run};

/// `kind` in the report.
pub const KIND: &str = "reactivate";

/// ACTIVE → already applied; DRAINING without this system's drain record → skipped (someone
/// else's drain); DRAINING on an instance that is not an InService member of the group or whose
/// agent is disconnected → stale; DRAINING by this system → apply; gone, moved or any other
/// status → stale.
pub fn guard(
    target: &InstanceRef,
    live: Option<&ContainerInstance>,
    group: Option<&GroupState>,
) -> Verdict {
    let live = match check_instance(target, live) {
        Ok(live) => live,
        Err(verdict) => return verdict,
    };
    match &live.status {
        InstanceStatus::Active => {
            return Verdict::AlreadyApplied("container instance is already ACTIVE".into())
        }
        InstanceStatus::Draining => {}
        other @ InstanceStatus::Other(_) => {
            return Verdict::Stale(format!("container instance is {other}"))
        }
    }
    if !live.drained_by_us() {
        return Verdict::Skip(
            "DRAINING by someone else (no ecs-autoscale drain record): left to its owner".into(),
        );
    }
    let member = group.and_then(|g| g.instance(&target.ec2_instance_id));
    match member {
        None => return Verdict::Stale(format!("{} is not in the group", target.ec2_instance_id)),
        Some(m) if !m.in_service() => {
            return Verdict::Stale(format!(
                "{} is {}, not InService",
                target.ec2_instance_id, m.lifecycle_state
            ))
        }
        Some(_) => {}
    }
    if !live.agent_connected {
        return Verdict::Stale("its ECS agent is disconnected".into());
    }
    Verdict::Apply(format!(
        "set container instance {} from DRAINING to ACTIVE",
        target.container_instance_arn
    ))
}

/// Settles each guard, reactivates the approved instances 10 per call, then removes the drain
/// record of every target that is ACTIVE and still carries one (also after an earlier attempt
/// that reactivated it and stopped before the removal).
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
    if !approved.is_empty() {
        let results =
            update_instances_state(run, KIND, approved, ContainerInstanceStatus::Active).await?;
        for (target, result) in results {
            match result {
                Ok(what) => {
                    set_live_status(run, &target.container_instance_arn, InstanceStatus::Active);
                    run.applied(KIND, &target.ec2_instance_id, what);
                }
                Err(e) => run.failed(KIND, &target.ec2_instance_id, "set it ACTIVE", e)?,
            }
        }
    }
    remove_records(run, KIND, targets).await
}

/// DeleteAttributes for the targets that are ACTIVE with a drain record: on an ACTIVE instance
/// it would make someone else's later drain look like ours. Best effort beyond a retryable
/// error (logged).
pub(crate) async fn remove_records(
    run: &mut Run<'_>,
    kind: &'static str,
    targets: &[InstanceRef],
) -> Result<(), ApplyError> {
    let Ok(live) = &run.live.instances else {
        return Ok(());
    };
    let records: Vec<String> = targets
        .iter()
        .filter_map(|t| live.get(&t.container_instance_arn))
        .filter(|ci| ci.status == InstanceStatus::Active && ci.drained_by_us())
        .map(|ci| ci.id().to_owned())
        .collect();
    if records.is_empty() || run.dry_run {
        return Ok(());
    }
    let ids: Vec<&str> = records.iter().map(String::as_str).collect();
    match delete_attributes(run, kind, &ids).await? {
        Ok(()) => {
            if let Ok(live) = &mut run.live.instances {
                for ci in live.values_mut() {
                    if records.iter().any(|id| id == ci.id()) {
                        ci.draining_since_epoch_secs = None;
                    }
                }
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "could not remove {DRAINED_AT_ATTRIBUTE} from reactivated container instances");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::fixtures;

    fn instance(ec2: &str, status: &str, ours: bool) -> ContainerInstance {
        let mut ci = fixtures::instance(ec2, status, 0, 0);
        ci.draining_since_epoch_secs = ours.then_some(1_764_412_345);
        ci
    }

    #[test]
    fn guard_reactivates_only_our_own_drains_it_can_identify() {
        let t = InstanceRef {
            container_instance_arn: "arn:ci/1".into(),
            ec2_instance_id: "i-1".into(),
        };
        let g = fixtures::group(0, 10, 1, &[("i-1", "InService")]);
        let v = |ci: &ContainerInstance| guard(&t, Some(ci), Some(&g));
        assert!(matches!(
            v(&instance("i-1", "DRAINING", true)),
            Verdict::Apply(_)
        ));
        assert!(matches!(
            v(&instance("i-1", "ACTIVE", false)),
            Verdict::AlreadyApplied(_)
        ));
        assert!(matches!(
            v(&instance("i-1", "DRAINING", false)),
            Verdict::Skip(why) if why.contains("someone else")
        ));
        assert!(matches!(
            v(&instance("i-2", "DRAINING", true)),
            Verdict::Stale(_)
        ));
        assert!(matches!(
            v(&instance("i-1", "REGISTERING", true)),
            Verdict::Stale(_)
        ));
        assert!(matches!(guard(&t, None, Some(&g)), Verdict::Stale(_)));
        let mut cut_off = instance("i-1", "DRAINING", true);
        cut_off.agent_connected = false;
        assert!(matches!(v(&cut_off), Verdict::Stale(_)));
    }

    #[test]
    fn guard_never_reactivates_an_instance_leaving_or_gone_from_the_group() {
        let t = InstanceRef {
            container_instance_arn: "arn:ci/1".into(),
            ec2_instance_id: "i-1".into(),
        };
        let ours = instance("i-1", "DRAINING", true);
        for g in [
            fixtures::group(0, 10, 1, &[("i-1", "Terminating:Wait")]),
            fixtures::group(0, 10, 1, &[("i-1", "Standby")]),
            fixtures::group(0, 10, 0, &[]),
        ] {
            assert!(
                matches!(guard(&t, Some(&ours), Some(&g)), Verdict::Stale(_)),
                "{g:?}"
            );
        }
        assert!(matches!(guard(&t, Some(&ours), None), Verdict::Stale(_)));
    }
}
