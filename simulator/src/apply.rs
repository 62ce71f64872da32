//! A plan applied to the world as the executor applies it (`executor::apply`): the same order,
//! each action behind the executor's own guard (`executor::actions::*::guard`) against the
//! world's live values, and the same records — the `ecs-autoscale:last-scaling` tag on each
//! service changed, the `ecs-autoscale.drained-at` attribute on each instance drained, removed
//! on reactivation. No AWS call: the world plays the calls.
//!
//! Not modelled: retryable errors and the executor's re-delivery (the world never fails a call
//! it accepts); the plan's `expires_at` (plans are applied within seconds).

use std::collections::BTreeMap;

use executor::actions::{
    abort, drain, force, group_desired, group_limits, reactivate, services, terminate, Verdict,
};
use shared::messages::{ScalingPlan, ServiceChange};
use shared::resources::Resources;
use shared::state::{Direction, ScalingRecord};

use crate::world::World;

/// What happened to the actions of the plans applied so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Applied actions per kind (`service_up`, `service_down`, `group_desired`, `group_limits`,
    /// `reactivate`, `abort_drain`, `drain`, `terminate`, `force_drain`).
    pub applied: BTreeMap<&'static str, u64>,
    /// Actions a guard did not apply (stale or skipped), per kind.
    pub not_applied: BTreeMap<&'static str, u64>,
    /// Calls the world refused after a guard approved them (Auto Scaling's validation).
    pub refused: BTreeMap<&'static str, u64>,
    /// Every service scaling applied: service, direction, epoch seconds.
    pub scalings: Vec<(String, Direction, u64)>,
}

impl Tally {
    fn count(&mut self, kind: &'static str, verdict: &Verdict) {
        match verdict {
            Verdict::Apply(_) | Verdict::AlreadyApplied(_) => {}
            Verdict::Stale(_) | Verdict::Skip(_) => {
                *self.not_applied.entry(kind).or_default() += 1;
            }
        }
    }

    fn applied(&mut self, kind: &'static str) {
        *self.applied.entry(kind).or_default() += 1;
    }

    fn refused(&mut self, kind: &'static str) {
        *self.refused.entry(kind).or_default() += 1;
    }
}

/// Applies `plan` at `at` (epoch seconds, the executor's clock). `buffer`: the cluster file's
/// `cpu_buffer`/`mem_buffer`, which the executor gives its drain check. A dry-run plan changes
/// nothing, as in the executor.
pub fn apply(world: &mut World, plan: &ScalingPlan, buffer: Resources, at: u64, tally: &mut Tally) {
    if plan.dry_run {
        return;
    }
    let actions = &plan.actions;
    // Whether an earlier action was stale: the drains are then skipped (`drain::guard`).
    let mut problems = false;

    // 1. Group limits, unless they lower MaxSize below the desired capacity and the plan
    //    terminates (then after the terminations; `group_limits::waits_for_terminations`).
    let later_limits = actions
        .group_limits
        .as_ref()
        .filter(|c| !actions.terminate.is_empty() && c.to.max < world.group.desired);
    if let Some(change) = actions
        .group_limits
        .as_ref()
        .filter(|_| later_limits.is_none())
    {
        let verdict = group_limits::guard(change, Some(&world.group_state()));
        if settle(tally, &mut problems, group_limits::KIND, &verdict) {
            match world.set_limits(change.to.min, change.to.max) {
                Ok(()) => tally.applied(group_limits::KIND),
                Err(_) => tally.refused(group_limits::KIND),
            }
        }
    }

    // 2. Reactivations.
    for target in &actions.reactivate {
        let live = world
            .instance_by_arn(&target.container_instance_arn)
            .map(|i| world.container_instance(i));
        let verdict = reactivate::guard(target, live.as_ref(), Some(&world.group_state()));
        if settle(tally, &mut problems, reactivate::KIND, &verdict) {
            match world.reactivate(&target.container_instance_arn) {
                Ok(()) => tally.applied(reactivate::KIND),
                Err(_) => tally.refused(reactivate::KIND),
            }
        }
    }

    // 2b. Drains past their deadline aborted (`drain_timeout_action: abort`).
    for target in &actions.abort_drain {
        let live = world
            .instance_by_arn(&target.container_instance_arn)
            .map(|i| world.container_instance(i));
        let verdict = abort::guard(target, live.as_ref(), Some(&world.group_state()));
        if settle(tally, &mut problems, abort::KIND, &verdict) {
            match world.abort_drain(&target.container_instance_arn, at) {
                Ok(()) => tally.applied(abort::KIND),
                Err(_) => tally.refused(abort::KIND),
            }
        }
    }

    // 3. The group's desired capacity.
    if let Some(change) = &actions.group_desired {
        let verdict = group_desired::guard(change, Some(&world.group_state()));
        if settle(tally, &mut problems, group_desired::KIND, &verdict) {
            match world.set_desired(change.to) {
                Ok(()) => tally.applied(group_desired::KIND),
                Err(_) => tally.refused(group_desired::KIND),
            }
        }
    }

    // 4, 5. Service scale-ups, then scale-downs; each change tagged.
    let (ups, downs): (Vec<&ServiceChange>, Vec<&ServiceChange>) =
        actions.services.iter().partition(|c| c.to >= c.from);
    for change in ups.into_iter().chain(downs) {
        let index = world.service_index(&change.service);
        let live = index.map(|s| world.service_state(s));
        let verdict = services::guard(change, live.as_ref());
        let direction = if change.to >= change.from {
            Direction::Up
        } else {
            Direction::Down
        };
        let record = ScalingRecord {
            direction,
            at_epoch_secs: at,
        };
        // A change found already made whose tag is missing: the executor writes the tag then.
        let repair = matches!(verdict, Verdict::AlreadyApplied(_))
            && change.from != change.to
            && live
                .as_ref()
                .is_some_and(|s| services::tag_missing(s, plan.created_at));
        let apply_it = settle(tally, &mut problems, services::KIND, &verdict);
        let Some(s) = index else { continue };
        if repair {
            world.services[s].last_scaling = Some(record);
        }
        if apply_it {
            world.services[s].desired = change.to;
            world.services[s].last_scaling = Some(record);
            world.schedule();
            tally.applied(match direction {
                Direction::Up => "service_up",
                Direction::Down => "service_down",
            });
            tally.scalings.push((change.service.clone(), direction, at));
        }
    }

    // 6. Drains, re-validated against the room on the other instances.
    if !actions.drain.is_empty() {
        let live = world.container_instances();
        let group = world.group_state();
        let mut room = drain::Room::new(
            &live,
            Some(&group),
            &actions.drain,
            &actions.drain_eni_use,
            buffer,
        );
        let earlier_problem = problems;
        for target in &actions.drain {
            let verdict = drain::guard(
                target,
                live.get(&target.instance.container_instance_arn),
                Some(&group),
                earlier_problem,
                &mut room,
            );
            if settle(tally, &mut problems, drain::KIND, &verdict) {
                match world.drain(&target.instance.container_instance_arn, at) {
                    Ok(()) => tally.applied(drain::KIND),
                    Err(_) => tally.refused(drain::KIND),
                }
            }
        }
    }

    // 7. Terminations of empty DRAINING instances.
    for target in &actions.terminate {
        let live = world
            .instance_by_arn(&target.container_instance_arn)
            .map(|i| world.container_instance(i));
        let verdict = terminate::guard(target, Some(&world.group_state()), live.as_ref());
        if settle(tally, &mut problems, terminate::KIND, &verdict) {
            match world.terminate(&target.ec2_instance_id) {
                Ok(()) => tally.applied(terminate::KIND),
                Err(_) => tally.refused(terminate::KIND),
            }
        }
    }

    // 7b. Drains past their deadline forced (`drain_timeout_action: force`): the remaining
    //     tasks stopped; a later plan terminates the instance once empty.
    for target in &actions.force_drain {
        let live = world
            .instance_by_arn(&target.instance.container_instance_arn)
            .map(|i| world.container_instance(i));
        let verdict = force::guard(target, live.as_ref(), Some(&world.group_state()));
        if settle(tally, &mut problems, force::KIND, &verdict) {
            match world.force_drain(&target.instance.container_instance_arn) {
                Ok(()) => tally.applied(force::KIND),
                Err(_) => tally.refused(force::KIND),
            }
        }
    }

    // 8. Limits that waited for the terminations.
    if let Some(change) = later_limits {
        let verdict = group_limits::guard(change, Some(&world.group_state()));
        if settle(tally, &mut problems, group_limits::KIND, &verdict) {
            match world.set_limits(change.to.min, change.to.max) {
                Ok(()) => tally.applied(group_limits::KIND),
                Err(_) => tally.refused(group_limits::KIND),
            }
        }
    }
}

/// Counts a guard's verdict; whether to make the call.
fn settle(tally: &mut Tally, problems: &mut bool, kind: &'static str, verdict: &Verdict) -> bool {
    *problems |= matches!(verdict, Verdict::Stale(_));
    tally.count(kind, verdict);
    matches!(verdict, Verdict::Apply(_))
}
