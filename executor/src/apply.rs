//! Applying one plan: re-read what it touches, then each action in a fixed order, each behind
//! its guard (see [`crate::actions`]).
//!
//! The order (each entry: why it comes there):
//! 1. group limits: the desired capacity below is checked against the limits the file asks for
//!    (a change whose MaxSize is below the live desired capacity waits until after the
//!    terminations, which bring the desired capacity down to it; see [`group_limits`]);
//! 2. reactivate DRAINING instances: reuse capacity before launching more;
//! 3. abort drains past their deadline: they are ACTIVE capacity again, as the plan counted;
//! 4. raise the group's desired capacity: instances start booting as early as possible;
//! 5. service scale-ups: tasks wait for capacity that is already on its way;
//! 6. service scale-downs: free room before instances are emptied;
//! 7. drain instances: their tasks move to the room freed above;
//! 8. terminate empty DRAINING instances: the group's desired capacity goes down with them
//!    (an empty instance drained at step 7 is re-read first, and terminated only if still
//!    empty);
//! 9. force drains past their deadline: stop their remaining service tasks (a later plan
//!    terminates them once empty);
//! 10. group limits that lower MaxSize below the desired capacity seen at step 1, once the
//!     terminations brought it down (still refused if it is above the new MaxSize).
//!
//! **Outcome rules** ("done" = `applied` or `already_applied`):
//! - dry run → `dry_run` (every action `skipped`, its detail says what would have been done);
//! - every action done (or no action) → `applied`;
//! - some done, some not → `partially_applied`;
//! - none done and at least one `failed` → `failed`;
//! - none done, none failed (stale, or skipped by a safety rule) → `stale`.
//!
//! A retryable error (after the SDK's own retries) stops the run at once: nothing later is
//! attempted and [`ApplyError::Retryable`] tells the handler to have the plan delivered again.
//! A non-retryable error marks that action `failed` and the run goes on, except that drains
//! are skipped once any earlier action was stale or failed: the planner chose them assuming the
//! earlier actions happen (e.g. tasks fitting where a scale-down frees room).

use shared::aws::AwsClients;
use shared::definition::ClusterDefinition;
use shared::messages::{
    ActionOutcome, ActionStatus, ExecutionReport, Outcome, ScalingPlan, ServiceChange,
    SCHEMA_VERSION,
};
use shared::plan_check::check_live;
use shared::resources::Resources;
use shared::time;
use std::collections::HashSet;

use crate::actions::{
    abort, drain, force, group_desired, group_limits, reactivate, services, terminate,
};
use crate::errors::CallError;
use crate::live::{read_cluster_instances, read_group, read_instances, read_services, Live};
use crate::rejection::rejected_report;
pub use crate::run::ApplyError;
use crate::run::{Run, RunOptions};

/// How to apply a plan.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Make no mutating call; report what would have been done.
    pub dry_run: bool,
    /// The cluster file's `cpu_buffer`/`mem_buffer`: a drain is applied only if its tasks fit
    /// on the other instances with this much room left somewhere (zero: no buffer).
    pub buffer: Resources,
    /// The plan's cluster file: when given, the plan is checked against the group as read
    /// ([`shared::plan_check::check_live`]: the desired capacity within the file's `max`)
    /// before anything is applied, and a plan that fails is `rejected`.
    pub file: Option<ClusterDefinition>,
    /// Test hook: behave as if the function died just before its (k+1)-th mutating call
    /// (counting tag writes). `None` in production.
    pub stop_after_mutations: Option<usize>,
}

/// Applies `plan` once. Safe to call again with the same plan: actions whose target holds are
/// `already_applied`, and actions whose live value moved away from `from` are `stale`.
pub async fn apply(
    clients: &AwsClients,
    plan: &ScalingPlan,
    options: &ApplyOptions,
) -> Result<ExecutionReport, ApplyError> {
    let live = load(clients, plan).await?;
    if let (Some(file), Ok(Some(group))) = (&options.file, &live.group) {
        if let Err(reasons) = check_live(plan, file, group) {
            return Ok(rejected_report(plan, time::now(), reasons));
        }
    }
    let mut run = Run::new(
        clients,
        plan,
        live,
        RunOptions {
            dry_run: options.dry_run,
            now_secs: time::epoch_secs(time::now()),
            buffer: options.buffer,
            stop_after_mutations: options.stop_after_mutations,
        },
    );
    let actions = &plan.actions;
    let mut later_limits = None;
    if let Some(change) = &actions.group_limits {
        if group_limits::waits_for_terminations(&run, change, &actions.terminate) {
            later_limits = Some(change);
        } else {
            group_limits::run(&mut run, change).await?;
        }
    }
    reactivate::run(&mut run, &actions.reactivate).await?;
    abort::run(&mut run, &actions.abort_drain).await?;
    if let Some(change) = &actions.group_desired {
        group_desired::run(&mut run, change).await?;
    }
    let (ups, downs): (Vec<&ServiceChange>, Vec<&ServiceChange>) =
        actions.services.iter().partition(|c| c.to >= c.from);
    services::run(&mut run, &ups).await?;
    services::run(&mut run, &downs).await?;
    drain::run(&mut run, &actions.drain).await?;
    terminate::run_after_drains(&mut run, &actions.terminate, &actions.drain).await?;
    force::run(&mut run, &actions.force_drain).await?;
    if let Some(change) = later_limits {
        group_limits::run(&mut run, change).await?;
    }

    let actions = run.into_outcomes();
    Ok(ExecutionReport {
        schema_version: SCHEMA_VERSION,
        plan_id: plan.plan_id.clone(),
        delivery_id: plan.delivery_id.clone(),
        dedup_key: String::new(),
        cluster: plan.cluster.clone(),
        finished_at: time::now(),
        outcome: overall(options.dry_run, &actions),
        actions,
        reasons: Vec::new(),
    }
    .with_dedup_key())
}

/// The re-reads, batched and limited to what the plan touches. A retryable read error ends
/// the run; a non-retryable one is kept and fails the actions that needed the read.
async fn load(clients: &AwsClients, plan: &ScalingPlan) -> Result<Live, ApplyError> {
    let actions = &plan.actions;
    let mut live = Live::default();

    if actions.group_limits.is_some()
        || actions.group_desired.is_some()
        || !actions.reactivate.is_empty()
        || !actions.drain.is_empty()
        || !actions.terminate.is_empty()
        || !actions.abort_drain.is_empty()
        || !actions.force_drain.is_empty()
    {
        live.group = keep(read_group(&clients.autoscaling, &plan.autoscale_group).await)?;
    }

    if !actions.drain.is_empty() {
        // A drain needs the room on every other instance (its targets are among them).
        live.instances = keep(read_cluster_instances(&clients.ecs, &plan.cluster).await)?;
    } else {
        let mut seen = HashSet::new();
        let arns: Vec<String> = actions
            .reactivate
            .iter()
            .chain(&actions.terminate)
            .chain(&actions.abort_drain)
            .chain(actions.force_drain.iter().map(|f| &f.instance))
            .filter(|i| seen.insert(i.container_instance_arn.as_str()))
            .map(|i| i.container_instance_arn.clone())
            .collect();
        if !arns.is_empty() {
            live.instances = keep(read_instances(&clients.ecs, &plan.cluster, &arns).await)?;
        }
    }

    let mut seen = HashSet::new();
    let names: Vec<String> = actions
        .services
        .iter()
        .filter(|c| seen.insert(c.service.as_str()))
        .map(|c| c.service.clone())
        .collect();
    if !names.is_empty() {
        live.services = keep(read_services(&clients.ecs, &plan.cluster, &names).await)?;
    }
    Ok(live)
}

/// A retryable read error ends the run; anything else is kept for the guards.
fn keep<T>(read: Result<T, CallError>) -> Result<Result<T, CallError>, ApplyError> {
    match read {
        Err(error) if error.is_retryable() => Err(ApplyError::Retryable {
            kind: "read",
            error,
            done: Vec::new(),
        }),
        other => Ok(other),
    }
}

/// The overall outcome from the actions' statuses (rules in the module docs).
pub fn overall(dry_run: bool, actions: &[ActionOutcome]) -> Outcome {
    if dry_run {
        return Outcome::DryRun;
    }
    let done = |a: &&ActionOutcome| {
        matches!(
            a.status,
            ActionStatus::Applied | ActionStatus::AlreadyApplied
        )
    };
    let n_done = actions.iter().filter(done).count();
    if n_done == actions.len() {
        Outcome::Applied
    } else if n_done > 0 {
        Outcome::PartiallyApplied
    } else if actions.iter().any(|a| a.status == ActionStatus::Failed) {
        Outcome::Failed
    } else {
        Outcome::Stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(status: ActionStatus) -> ActionOutcome {
        ActionOutcome {
            kind: "service".into(),
            target: "web".into(),
            detail: String::new(),
            status,
            error: None,
        }
    }

    #[test]
    fn outcome_rules() {
        use ActionStatus::*;
        let cases: &[(&[ActionStatus], Outcome)] = &[
            (&[], Outcome::Applied),
            (&[Applied, AlreadyApplied], Outcome::Applied),
            (&[AlreadyApplied], Outcome::Applied),
            (&[Applied, Stale], Outcome::PartiallyApplied),
            (&[AlreadyApplied, Failed], Outcome::PartiallyApplied),
            (&[Applied, Skipped], Outcome::PartiallyApplied),
            (&[Stale, Skipped], Outcome::Stale),
            (&[Stale, Failed], Outcome::Failed),
            (&[Failed], Outcome::Failed),
        ];
        for (statuses, expected) in cases {
            let actions: Vec<_> = statuses.iter().cloned().map(action).collect();
            assert_eq!(overall(false, &actions), *expected, "{statuses:?}");
        }
        assert_eq!(overall(true, &[action(Skipped)]), Outcome::DryRun);
    }
}
