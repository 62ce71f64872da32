//! Reactivating DRAINING container instances (UpdateContainerInstancesState ACTIVE, full ARNs),
//! before any new instance is launched.

use aws_sdk_ecs::types::ContainerInstanceStatus;
use shared::messages::InstanceRef;
use shared::state::{ContainerInstance, InstanceStatus};

use super::{approve, check_instance, set_live_status, update_instances_state, Verdict};
use crate::run::{ApplyError, Run};

/// `kind` in the report.
pub const KIND: &str = "reactivate";

/// ACTIVE → already applied; DRAINING → apply; gone, moved or any other status → stale.
pub fn guard(target: &InstanceRef, live: Option<&ContainerInstance>) -> Verdict {
    let live = match check_instance(target, live) {
        Ok(live) => live,
        Err(verdict) => return verdict,
    };
    match &live.status {
        InstanceStatus::Active => {
            Verdict::AlreadyApplied("container instance is already ACTIVE".into())
        }
        InstanceStatus::Draining => Verdict::Apply(format!(
            "set container instance {} from DRAINING to ACTIVE",
            target.container_instance_arn
        )),
        other @ InstanceStatus::Other(_) => {
            Verdict::Stale(format!("container instance is {other}"))
        }
    }
}

/// Settles each guard, then reactivates the approved instances 10 per call.
pub async fn run(run: &mut Run<'_>, targets: &[InstanceRef]) -> Result<(), ApplyError> {
    let approved = approve(run, KIND, targets, guard)?;
    if approved.is_empty() {
        return Ok(());
    }
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::fixtures;

    fn instance(ec2: &str, status: &str, running: u32) -> ContainerInstance {
        fixtures::instance(ec2, status, running, 0)
    }

    #[test]
    fn guard_reactivates_only_draining_instances_it_can_identify() {
        let t = InstanceRef {
            container_instance_arn: "arn:ci/1".into(),
            ec2_instance_id: "i-1".into(),
        };
        assert!(matches!(
            guard(&t, Some(&instance("i-1", "DRAINING", 0))),
            Verdict::Apply(_)
        ));
        assert!(matches!(
            guard(&t, Some(&instance("i-1", "ACTIVE", 0))),
            Verdict::AlreadyApplied(_)
        ));
        assert!(matches!(
            guard(&t, Some(&instance("i-2", "DRAINING", 0))),
            Verdict::Stale(_)
        ));
        assert!(matches!(
            guard(&t, Some(&instance("i-1", "REGISTERING", 0))),
            Verdict::Stale(_)
        ));
        assert!(matches!(guard(&t, None), Verdict::Stale(_)));
    }
}
