//! Draining container instances (UpdateContainerInstancesState DRAINING with full ARNs: the
//! original passed the cluster name and silently drained nothing), then the
//! [`DRAINING_SINCE_TAG`] tag the planner reads for its drain timeout.
//!
//! The tag is best effort: a failure is noted in the action's detail and logged, never retried
//! by redelivery (the drain itself is done, and the replay would find it `already_applied`).

use aws_sdk_ecs::types::ContainerInstanceStatus;
use shared::messages::InstanceRef;
use shared::state::{ContainerInstance, InstanceStatus, DRAINING_SINCE_TAG};

use super::{approve, check_instance, set_live_status, update_instances_state, Verdict};
use crate::errors::classify;
use crate::run::{ApplyError, Run};

/// `kind` in the report.
pub const KIND: &str = "drain";

/// DRAINING → already applied; ACTIVE → apply unless an earlier action of the plan was stale
/// or failed (the planner's packing assumed it) → skipped; gone, moved or other → stale.
pub fn guard(
    target: &InstanceRef,
    live: Option<&ContainerInstance>,
    earlier_problem: bool,
) -> Verdict {
    let live = match check_instance(target, live) {
        Ok(live) => live,
        Err(verdict) => return verdict,
    };
    match &live.status {
        InstanceStatus::Draining => {
            Verdict::AlreadyApplied("container instance is already DRAINING".into())
        }
        InstanceStatus::Active if earlier_problem => Verdict::Skip(
            "an earlier action of this plan was stale or failed; the packing this drain relies \
             on may not hold"
                .into(),
        ),
        InstanceStatus::Active => Verdict::Apply(format!(
            "set container instance {} from ACTIVE to DRAINING",
            target.container_instance_arn
        )),
        other @ InstanceStatus::Other(_) => {
            Verdict::Stale(format!("container instance is {other}"))
        }
    }
}

/// Settles each guard, drains the approved instances 10 per call, then tags each drained one.
pub async fn run(run: &mut Run<'_>, targets: &[InstanceRef]) -> Result<(), ApplyError> {
    let earlier_problem = run.earlier_problem();
    let approved = approve(run, KIND, targets, |t, live| {
        guard(t, live, earlier_problem)
    })?;
    if approved.is_empty() {
        return Ok(());
    }
    let results =
        update_instances_state(run, KIND, approved, ContainerInstanceStatus::Draining).await?;
    for (target, result) in results {
        match result {
            Ok(what) => {
                set_live_status(
                    run,
                    &target.container_instance_arn,
                    InstanceStatus::Draining,
                );
                let note = tag(run, &target.container_instance_arn).await?;
                run.applied(KIND, &target.ec2_instance_id, format!("{what}; {note}"));
            }
            Err(e) => run.failed(KIND, &target.ec2_instance_id, "set it DRAINING", e)?,
        }
    }
    Ok(())
}

async fn tag(run: &mut Run<'_>, arn: &str) -> Result<String, ApplyError> {
    const OP: &str = "TagResource";
    run.begin_mutation()?;
    let value = run.now_secs.to_string();
    let tag = aws_sdk_ecs::types::Tag::builder()
        .key(DRAINING_SINCE_TAG)
        .value(&value)
        .build();
    match run
        .clients
        .ecs
        .tag_resource()
        .resource_arn(arn)
        .tags(tag)
        .send()
        .await
    {
        Ok(_) => Ok(format!("recorded {DRAINING_SINCE_TAG}={value}")),
        Err(e) => {
            let err = classify(OP, &e);
            tracing::warn!(%arn, error = %err, "could not tag the drained container instance");
            Ok(format!("could not record {DRAINING_SINCE_TAG}: {err}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::fixtures;

    fn instance(status: &str) -> ContainerInstance {
        fixtures::instance("i-1", status, 2, 0)
    }

    #[test]
    fn guard_drains_active_instances_unless_the_plan_went_wrong() {
        let t = InstanceRef {
            container_instance_arn: "arn:ci/1".into(),
            ec2_instance_id: "i-1".into(),
        };
        assert!(matches!(
            guard(&t, Some(&instance("ACTIVE")), false),
            Verdict::Apply(_)
        ));
        assert!(matches!(
            guard(&t, Some(&instance("ACTIVE")), true),
            Verdict::Skip(_)
        ));
        assert!(matches!(
            guard(&t, Some(&instance("DRAINING")), true),
            Verdict::AlreadyApplied(_)
        ));
        assert!(matches!(
            guard(&t, Some(&instance("INACTIVE")), false),
            Verdict::Stale(_)
        ));
        assert!(matches!(guard(&t, None, false), Verdict::Stale(_)));
    }
}
