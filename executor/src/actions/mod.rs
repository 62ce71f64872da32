//! One module per kind of action. Each has a pure `guard` (live value vs the plan's `from` and
//! target, unit-tested here) and a `run` that settles the guard's verdict and makes the call.
//! The order in which they run is in [`crate::apply`](mod@crate::apply).

pub mod abort;
pub mod drain;
pub mod force;
pub mod group_desired;
pub mod group_limits;
pub mod reactivate;
pub mod services;
pub mod terminate;

use std::collections::HashMap;

use aws_sdk_ecs::types::ContainerInstanceStatus;
use shared::messages::InstanceRef;
use shared::state::{ContainerInstance, InstanceStatus};

use crate::errors::{classify, CallError};
pub use crate::run::Verdict;
use crate::run::{ApplyError, Run};

/// UpdateContainerInstancesState accepts at most this many container instances.
const INSTANCES_PER_STATE_CALL: usize = 10;

/// Common checks of an instance action: the container instance exists and still runs on the
/// EC2 instance the plan names (the planner's two identifiers must agree with ECS).
pub(crate) fn check_instance<'a>(
    target: &InstanceRef,
    live: Option<&'a ContainerInstance>,
) -> Result<&'a ContainerInstance, Verdict> {
    let Some(live) = live else {
        return Err(Verdict::Stale(format!(
            "container instance {} is not registered in the cluster",
            target.container_instance_arn
        )));
    };
    if live.ec2_instance_id != target.ec2_instance_id {
        return Err(Verdict::Stale(format!(
            "container instance {} runs on {}, not {}",
            target.container_instance_arn, live.ec2_instance_id, target.ec2_instance_id
        )));
    }
    Ok(live)
}

/// Settles each target's guard against its live container instance and returns the approved
/// ones with the change to make; when the instances could not be read, each target fails.
pub(crate) fn approve<'t>(
    run: &mut Run<'_>,
    kind: &'static str,
    targets: &'t [InstanceRef],
    guard: impl Fn(&InstanceRef, Option<&ContainerInstance>) -> Verdict,
) -> Result<Vec<(&'t InstanceRef, String)>, ApplyError> {
    let mut approved = Vec::new();
    for target in targets {
        let verdict = match &run.live.instances {
            Ok(live) => Ok(guard(target, live.get(&target.container_instance_arn))),
            Err(e) => Err(e.clone()),
        };
        match verdict {
            Ok(verdict) => {
                if let Some(what) = run.settle(kind, &target.ec2_instance_id, verdict) {
                    approved.push((target, what));
                }
            }
            Err(e) => run.failed(
                kind,
                &target.ec2_instance_id,
                "read the container instance",
                e,
            )?,
        }
    }
    Ok(approved)
}

/// Records a status change in the live view, so later actions of the plan see it.
pub(crate) fn set_live_status(run: &mut Run<'_>, arn: &str, status: InstanceStatus) {
    if let Ok(live) = &mut run.live.instances {
        if let Some(i) = live.get_mut(arn) {
            i.status = status;
        }
    }
}

/// Sets `status` on the container instances the guards approved, 10 per call, and settles
/// each one's outcome. `approved` holds (instance, description of the change).
pub(crate) async fn update_instances_state(
    run: &mut Run<'_>,
    kind: &'static str,
    approved: Vec<(&InstanceRef, String)>,
    status: ContainerInstanceStatus,
) -> Result<Vec<(InstanceRef, Result<String, CallError>)>, ApplyError> {
    const OP: &str = "UpdateContainerInstancesState";
    let mut results = Vec::new();
    for chunk in approved.chunks(INSTANCES_PER_STATE_CALL) {
        run.begin_mutation()?;
        let arns: Vec<String> = chunk
            .iter()
            .map(|(i, _)| i.container_instance_arn.clone())
            .collect();
        let answer = run
            .clients
            .ecs
            .update_container_instances_state()
            .cluster(&run.plan.cluster)
            .set_container_instances(Some(arns))
            .status(status.clone())
            .send()
            .await;
        match answer {
            Ok(out) => {
                // ECS reports per-instance failures in the answer, by ARN.
                let failures: HashMap<&str, String> = out
                    .failures()
                    .iter()
                    .filter_map(|f| {
                        Some((
                            f.arn()?,
                            format!(
                                "{} {}",
                                f.reason().unwrap_or("failed"),
                                f.detail().unwrap_or_default()
                            )
                            .trim()
                            .to_owned(),
                        ))
                    })
                    .collect();
                for (instance, detail) in chunk {
                    let result = match failures.get(instance.container_instance_arn.as_str()) {
                        Some(reason) => Err(CallError::invalid_answer(OP, reason.clone())),
                        None => Ok(detail.clone()),
                    };
                    results.push(((*instance).clone(), result));
                }
            }
            Err(e) => {
                let err = classify(OP, &e);
                if err.is_retryable() {
                    return Err(run.retry(kind, err));
                }
                for (instance, _) in chunk {
                    results.push(((*instance).clone(), Err(err.clone())));
                }
            }
        }
    }
    Ok(results)
}

/// Live values for the guards' unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use shared::resources::Resources;
    use shared::state::{ContainerInstance, GroupInstance, GroupState, InstanceStatus};

    /// A container instance on `ec2` with that status and task counts.
    pub fn instance(ec2: &str, status: &str, running: u32, pending: u32) -> ContainerInstance {
        ContainerInstance {
            arn: "arn:ci/1".into(),
            ec2_instance_id: ec2.into(),
            status: InstanceStatus::from_ecs(status),
            registered: Resources::new(4096, 7482),
            remaining: Resources::new(4096, 7482),
            running_tasks: running,
            pending_tasks: pending,
            tasks: Vec::new(),
            draining_since_epoch_secs: None,
            agent_connected: true,
            drain_aborted_at_epoch_secs: None,
            placement: Default::default(),
        }
    }

    /// A group with those limits and members (EC2 id, lifecycle state).
    pub fn group(min: u32, max: u32, desired: u32, members: &[(&str, &str)]) -> GroupState {
        GroupState {
            name: "asg".into(),
            min,
            max,
            desired,
            instances: members
                .iter()
                .map(|(id, state)| GroupInstance {
                    instance_id: (*id).into(),
                    lifecycle_state: (*state).into(),
                    health_status: "Healthy".into(),
                    protected_from_scale_in: false,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}
