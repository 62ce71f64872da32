//! Terminating empty DRAINING instances: TerminateInstanceInAutoScalingGroup with
//! ShouldDecrementDesiredCapacity, so the group does not launch a replacement.
//!
//! An instance the same plan drains (an empty ACTIVE instance drained and terminated in one
//! plan) is re-read after its drain (DescribeContainerInstances, 100 per call) and terminated
//! only if it is still empty: ECS may have placed a task on it before the drain.
//!
//! Idempotent by construction: an instance no longer in the group is `already_applied` (the
//! original tried again every run and failed forever), and a "not found" answer to the call
//! itself (a race, or a lost answer to an earlier attempt) means the same.

use std::collections::HashMap;

use shared::messages::{DrainTarget, InstanceRef};
use shared::state::{ContainerInstance, GroupState, InstanceStatus};

use super::{check_instance, Verdict};
use crate::errors::{classify, CallError};
use crate::live::read_instances;
use crate::run::{ApplyError, Run};

/// `kind` in the report.
pub const KIND: &str = "terminate";

/// Not in the group → already applied; only an InService instance of the group, not protected
/// from scale-in, whose container instance this system drained (its drain record) and is
/// DRAINING with no running or pending task, is terminated, and only if the decremented
/// desired capacity stays within the group's MinSize. Someone else's drain is left alone.
pub fn guard(
    target: &InstanceRef,
    group: Option<&GroupState>,
    live: Option<&ContainerInstance>,
) -> Verdict {
    let Some(group) = group else {
        return Verdict::Stale("the Auto Scaling group does not exist".into());
    };
    if !holds(group, &target.ec2_instance_id) {
        return Verdict::AlreadyApplied(format!(
            "{} is no longer in the group",
            target.ec2_instance_id
        ));
    }
    let live = match check_instance(target, live) {
        Ok(live) => live,
        Err(verdict) => return verdict,
    };
    if live.status != InstanceStatus::Draining {
        return Verdict::Stale(format!(
            "container instance is {}, not DRAINING",
            live.status
        ));
    }
    let tasks = live.running_tasks + live.pending_tasks;
    if tasks > 0 {
        return Verdict::Stale(format!(
            "container instance still has {tasks} running or pending tasks"
        ));
    }
    if !live.drained_by_us() {
        return Verdict::Skip(
            "DRAINING by someone else (no ecs-autoscale drain record): left to its owner".into(),
        );
    }
    if let Some(member) = group.instance(&target.ec2_instance_id) {
        if !member.in_service() {
            return Verdict::Stale(format!(
                "{} is {}, not InService",
                target.ec2_instance_id, member.lifecycle_state
            ));
        }
        if member.protected_from_scale_in {
            return Verdict::Skip("the instance is protected from scale-in".into());
        }
    }
    if group.desired <= group.min {
        return Verdict::Skip(format!(
            "desired capacity {} is at the group's MinSize {}; terminating would go below it",
            group.desired, group.min
        ));
    }
    Verdict::Apply(format!(
        "terminate {} and decrement the desired capacity from {} to {}",
        target.ec2_instance_id,
        group.desired,
        group.desired - 1
    ))
}

/// Whether the EC2 instance is still a member the group could terminate (not already on its
/// way out).
fn holds(group: &GroupState, ec2_instance_id: &str) -> bool {
    group.instance(ec2_instance_id).is_some_and(|i| {
        let state = i.lifecycle_state.as_str();
        !(state.starts_with("Terminat") || state.starts_with("Detach"))
    })
}

/// Settles each guard and terminates the approved instances one call each (the API takes one).
pub async fn run(run: &mut Run<'_>, targets: &[InstanceRef]) -> Result<(), ApplyError> {
    run_after_drains(run, targets, &[]).await
}

/// [`run`], re-reading first the targets that `drains` (the plan's drains, applied just before)
/// name: their live view is what ECS says after the drain.
pub async fn run_after_drains(
    run: &mut Run<'_>,
    targets: &[InstanceRef],
    drains: &[DrainTarget],
) -> Result<(), ApplyError> {
    const OP: &str = "TerminateInstanceInAutoScalingGroup";
    let reread = reread(run, targets, drains).await?;
    for target in targets {
        let id = target.ec2_instance_id.as_str();
        if let Some(e) = reread.get(&target.container_instance_arn) {
            run.failed(KIND, id, "re-read it after its drain", e.clone())?;
            continue;
        }
        let verdict = match (&run.live.group, &run.live.instances) {
            (Ok(group), Ok(live)) => guard(
                target,
                group.as_ref(),
                live.get(&target.container_instance_arn),
            ),
            (Err(e), _) | (_, Err(e)) => {
                let e = e.clone();
                run.failed(KIND, id, "read the group and the container instance", e)?;
                continue;
            }
        };
        // A dry run still counts the termination in the live view, so that what comes after it
        // (a MaxSize lowered to the desired capacity it leaves) reads as a real run would.
        let would_apply = matches!(verdict, Verdict::Apply(_));
        let Some(what) = run.settle(KIND, id, verdict) else {
            if would_apply && run.dry_run {
                forget(run, id);
            }
            continue;
        };
        run.begin_mutation()?;
        let answer = run
            .clients
            .autoscaling
            .terminate_instance_in_auto_scaling_group()
            .instance_id(id)
            .should_decrement_desired_capacity(true)
            .send()
            .await;
        match answer {
            Ok(_) => {
                forget(run, id);
                run.applied(KIND, id, what);
            }
            Err(e) => {
                let err = classify(OP, &e);
                // Auto Scaling answers ValidationError "Instance Id not found" for an
                // instance that is already gone.
                if err.code.as_deref() == Some("ValidationError")
                    && err.message.to_ascii_lowercase().contains("not found")
                {
                    forget(run, id);
                    run.settle(
                        KIND,
                        id,
                        Verdict::AlreadyApplied(format!("{id} is already gone ({err})")),
                    );
                } else {
                    run.failed(KIND, id, &what, err)?;
                }
            }
        }
    }
    Ok(())
}

/// Re-reads the targets the plan also drains into the live view (not in a dry run: nothing was
/// drained). Returns the targets whose re-read failed, with the error; a retryable error ends
/// the run.
async fn reread(
    run: &mut Run<'_>,
    targets: &[InstanceRef],
    drains: &[DrainTarget],
) -> Result<HashMap<String, CallError>, ApplyError> {
    let arns: Vec<String> = targets
        .iter()
        .filter(|t| {
            drains
                .iter()
                .any(|d| d.instance.container_instance_arn == t.container_instance_arn)
        })
        .map(|t| t.container_instance_arn.clone())
        .collect();
    if arns.is_empty() || run.dry_run || run.live.instances.is_err() {
        return Ok(HashMap::new());
    }
    match read_instances(&run.clients.ecs, &run.plan.cluster, &arns).await {
        Ok(mut fresh) => {
            if let Ok(live) = &mut run.live.instances {
                for arn in &arns {
                    // An instance ECS no longer knows is gone from the view too.
                    match fresh.remove(arn) {
                        Some(ci) => live.insert(arn.clone(), ci),
                        None => live.remove(arn),
                    };
                }
            }
            Ok(HashMap::new())
        }
        Err(e) if e.is_retryable() => Err(run.retry(KIND, e)),
        Err(e) => Ok(arns.into_iter().map(|a| (a, e.clone())).collect()),
    }
}

/// The instance left the group and took one unit of desired capacity with it.
fn forget(run: &mut Run<'_>, id: &str) {
    if let Ok(Some(group)) = &mut run.live.group {
        let before = group.instances.len();
        group.instances.retain(|i| i.instance_id != id);
        if group.instances.len() < before {
            group.desired = group.desired.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::fixtures;

    fn group(desired: u32, min: u32, members: &[(&str, &str)]) -> GroupState {
        fixtures::group(min, 10, desired, members)
    }

    /// A container instance on i-1; a DRAINING one drained by this system.
    fn instance(status: &str, running: u32, pending: u32) -> ContainerInstance {
        let mut ci = fixtures::instance("i-1", status, running, pending);
        ci.draining_since_epoch_secs = (status == "DRAINING").then_some(1_764_412_345);
        ci
    }

    #[test]
    fn guard_terminates_only_empty_draining_members() {
        let t = InstanceRef {
            container_instance_arn: "arn:ci/1".into(),
            ec2_instance_id: "i-1".into(),
        };
        let g = group(3, 1, &[("i-1", "InService")]);
        let v = |g: &GroupState, i: Option<&ContainerInstance>| guard(&t, Some(g), i);
        assert!(matches!(
            v(&g, Some(&instance("DRAINING", 0, 0))),
            Verdict::Apply(_)
        ));
        assert!(matches!(
            v(&g, Some(&instance("DRAINING", 1, 0))),
            Verdict::Stale(_)
        ));
        assert!(matches!(
            v(&g, Some(&instance("DRAINING", 0, 1))),
            Verdict::Stale(_)
        ));
        assert!(matches!(
            v(&g, Some(&instance("ACTIVE", 0, 0))),
            Verdict::Stale(_)
        ));
        assert!(matches!(v(&g, None), Verdict::Stale(_)));
        let at_min = group(1, 1, &[("i-1", "InService")]);
        assert!(matches!(
            v(&at_min, Some(&instance("DRAINING", 0, 0))),
            Verdict::Skip(_)
        ));
        // Gone, or on its way out: nothing to do, whatever ECS says.
        for gone in [
            group(2, 0, &[]),
            group(2, 0, &[("i-1", "Terminating:Wait")]),
        ] {
            assert!(matches!(v(&gone, None), Verdict::AlreadyApplied(_)));
        }
        assert!(matches!(guard(&t, None, None), Verdict::Stale(_)));
    }

    #[test]
    fn guard_never_terminates_someone_elses_drain_nor_an_instance_not_inservice() {
        let t = InstanceRef {
            container_instance_arn: "arn:ci/1".into(),
            ec2_instance_id: "i-1".into(),
        };
        let mut theirs = instance("DRAINING", 0, 0);
        theirs.draining_since_epoch_secs = None;
        let g = group(3, 1, &[("i-1", "InService")]);
        assert!(matches!(
            guard(&t, Some(&g), Some(&theirs)),
            Verdict::Skip(why) if why.contains("someone else")
        ));
        for lifecycle in ["Standby", "Pending:Wait"] {
            let g = group(3, 1, &[("i-1", lifecycle)]);
            assert!(
                matches!(
                    guard(&t, Some(&g), Some(&instance("DRAINING", 0, 0))),
                    Verdict::Stale(_)
                ),
                "{lifecycle}"
            );
        }
        let mut protected = group(3, 1, &[("i-1", "InService")]);
        protected.instances[0].protected_from_scale_in = true;
        assert!(matches!(
            guard(&t, Some(&protected), Some(&instance("DRAINING", 0, 0))),
            Verdict::Skip(_)
        ));
    }
}
