//! Forcing drains past their deadline (`drain_timeout_action: force`): the remaining tasks of
//! services on the instance are stopped (StopTask, one call per task), so that their services
//! start them elsewhere and the instance empties; a later plan terminates it once it is empty.
//! Tasks are re-described first (DescribeTasks, 100 per call): only those still running on that
//! instance and started by a service are stopped. A standalone task is never stopped: nothing
//! would start it again.

use shared::aws::read;
use shared::aws::state::task;
use shared::messages::ForceDrain;
use shared::state::{ContainerInstance, GroupState, InstanceStatus};

use super::{check_instance, Verdict};
use crate::errors::{classify, CallError};
use crate::run::{ApplyError, Run};

/// `kind` in the report.
pub const KIND: &str = "force_drain";

/// The reason ECS shows on each task stopped.
pub const STOP_REASON: &str =
    "ecs-autoscale: the drain deadline passed (drain_timeout_action: force)";

/// DRAINING by this system with tasks → apply; with no task left → already applied (a later
/// plan terminates it); ACTIVE again → stale; someone else's drain → skipped; not an InService
/// member of the group, gone, moved or any other status → stale.
pub fn guard(
    target: &ForceDrain,
    live: Option<&ContainerInstance>,
    group: Option<&GroupState>,
) -> Verdict {
    let live = match check_instance(&target.instance, live) {
        Ok(live) => live,
        Err(verdict) => return verdict,
    };
    match &live.status {
        InstanceStatus::Draining => {}
        other => return Verdict::Stale(format!("container instance is {other}, not DRAINING")),
    }
    if !live.drained_by_us() {
        return Verdict::Skip(
            "DRAINING by someone else (no ecs-autoscale drain record): left to its owner".into(),
        );
    }
    let id = &target.instance.ec2_instance_id;
    match group.and_then(|g| g.instance(id)) {
        None => return Verdict::Stale(format!("{id} is not in the group")),
        Some(m) if !m.in_service() => {
            return Verdict::Stale(format!("{id} is {}, not InService", m.lifecycle_state))
        }
        Some(_) => {}
    }
    if !live.has_tasks() {
        return Verdict::AlreadyApplied("no task is left on it: a later plan terminates it".into());
    }
    Verdict::Apply(format!(
        "stop the remaining service tasks of container instance {}",
        target.instance.container_instance_arn
    ))
}

/// What to do with one planned task, from its description now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskFate {
    /// Still running on the instance, started by this service: stop it.
    Stop(String),
    /// Standalone: never stopped.
    Standalone,
    /// Stopped already, or elsewhere: nothing to do.
    Gone,
}

/// The fate of a described task planned to stop on `instance_arn`.
pub fn fate(t: &shared::state::Task, instance_arn: &str) -> TaskFate {
    let here = t.container_instance_arn.as_deref() == Some(instance_arn);
    if !here || t.last_status == "STOPPED" || t.desired_status == "STOPPED" {
        return TaskFate::Gone;
    }
    match t.service() {
        Some(service) => TaskFate::Stop(service.to_owned()),
        None => TaskFate::Standalone,
    }
}

/// Settles each guard, re-describes the approved instances' planned tasks and stops those of
/// services still running there.
pub async fn run(run: &mut Run<'_>, targets: &[ForceDrain]) -> Result<(), ApplyError> {
    for target in targets {
        let id = target.instance.ec2_instance_id.as_str();
        let verdict = match (&run.live.group, &run.live.instances) {
            (Ok(group), Ok(live)) => guard(
                target,
                live.get(&target.instance.container_instance_arn),
                group.as_ref(),
            ),
            (Err(e), _) | (_, Err(e)) => {
                let e = e.clone();
                run.failed(KIND, id, "read the group and the container instance", e)?;
                continue;
            }
        };
        let Some(what) = run.settle(KIND, id, verdict) else {
            continue;
        };
        let described =
            match read::describe_tasks(&run.clients.ecs, &run.plan.cluster, &target.tasks).await {
                Ok(d) => d,
                Err(e) => {
                    let err = classify("DescribeTasks", &e);
                    run.failed(KIND, id, "describe its tasks", err)?;
                    continue;
                }
            };
        let (mut stop, mut standalone) = (Vec::new(), 0usize);
        for t in described.found.iter().filter_map(|t| task(t).ok()) {
            match fate(&t, &target.instance.container_instance_arn) {
                TaskFate::Stop(_) => stop.push(t.arn),
                TaskFate::Standalone => standalone += 1,
                TaskFate::Gone => {}
            }
        }
        let mut failure: Option<CallError> = None;
        let mut stopped = 0usize;
        for arn in &stop {
            match stop_task(run, arn).await? {
                Ok(()) => stopped += 1,
                Err(e) => failure = Some(e),
            }
        }
        let standalone_note = if standalone > 0 {
            format!("; {standalone} standalone task(s) left running (never stopped)")
        } else {
            String::new()
        };
        match failure {
            Some(e) => run.failed(KIND, id, &what, e)?,
            None if stop.is_empty() => {
                run.settle(
                    KIND,
                    id,
                    Verdict::AlreadyApplied(format!(
                        "no planned service task still runs on it{standalone_note}"
                    )),
                );
            }
            None => run.applied(
                KIND,
                id,
                format!("{what}: stopped {stopped} service task(s){standalone_note}; a later plan terminates it once empty"),
            ),
        }
    }
    Ok(())
}

/// StopTask for one task. A retryable error ends the run; any other is returned.
async fn stop_task(run: &mut Run<'_>, arn: &str) -> Result<Result<(), CallError>, ApplyError> {
    run.begin_mutation()?;
    let answer = run
        .clients
        .ecs
        .stop_task()
        .cluster(&run.plan.cluster)
        .task(arn)
        .reason(STOP_REASON)
        .send()
        .await;
    match answer {
        Ok(_) => Ok(Ok(())),
        Err(e) => {
            let err = classify("StopTask", &e);
            if err.is_retryable() {
                return Err(run.retry(KIND, err));
            }
            Ok(Err(err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::fixtures;
    use shared::messages::InstanceRef;

    fn target() -> ForceDrain {
        ForceDrain {
            instance: InstanceRef {
                container_instance_arn: "arn:ci/1".into(),
                ec2_instance_id: "i-1".into(),
            },
            tasks: vec!["arn:task/1".into()],
        }
    }

    fn ours(status: &str, running: u32) -> ContainerInstance {
        let mut ci = fixtures::instance("i-1", status, running, 0);
        ci.draining_since_epoch_secs = Some(1_764_412_345);
        ci
    }

    #[test]
    fn guard_forces_only_our_own_drains_with_tasks_left() {
        let g = fixtures::group(0, 10, 2, &[("i-1", "InService")]);
        let v = |ci: &ContainerInstance| guard(&target(), Some(ci), Some(&g));
        assert!(matches!(v(&ours("DRAINING", 1)), Verdict::Apply(_)));
        assert!(matches!(
            v(&ours("DRAINING", 0)),
            Verdict::AlreadyApplied(_)
        ));
        assert!(matches!(v(&ours("ACTIVE", 1)), Verdict::Stale(_)));
        let mut theirs = ours("DRAINING", 1);
        theirs.draining_since_epoch_secs = None;
        assert!(matches!(v(&theirs), Verdict::Skip(_)));
        let standby = fixtures::group(0, 10, 2, &[("i-1", "Standby")]);
        assert!(matches!(
            guard(&target(), Some(&ours("DRAINING", 1)), Some(&standby)),
            Verdict::Stale(_)
        ));
    }

    #[test]
    fn only_running_service_tasks_on_the_instance_are_stopped() {
        let t = |group: &str, on: &str, last: &str| shared::state::Task {
            arn: "arn:task/1".into(),
            cluster_arn: None,
            container_instance_arn: Some(on.into()),
            group: group.into(),
            started_by: String::new(),
            task_definition_arn: String::new(),
            last_status: last.into(),
            desired_status: "RUNNING".into(),
            cpu: None,
            memory: None,
        };
        assert_eq!(
            fate(&t("service:web", "arn:ci/1", "RUNNING"), "arn:ci/1"),
            TaskFate::Stop("web".into())
        );
        assert_eq!(
            fate(&t("family:job", "arn:ci/1", "RUNNING"), "arn:ci/1"),
            TaskFate::Standalone
        );
        assert_eq!(
            fate(&t("service:web", "arn:ci/2", "RUNNING"), "arn:ci/1"),
            TaskFate::Gone
        );
        assert_eq!(
            fate(&t("service:web", "arn:ci/1", "STOPPED"), "arn:ci/1"),
            TaskFate::Gone
        );
    }
}
