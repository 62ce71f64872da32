//! The group's MinSize/MaxSize (from the cluster file's `min`/`max`): UpdateAutoScalingGroup,
//! guarded on the live pair, and never with a MaxSize below the live desired capacity: Auto
//! Scaling would then terminate instances of its own choosing, tasks and all (whatever the
//! plan says, so an old or hand-made plan cannot either). A raised MinSize is harmless: Auto
//! Scaling raises the desired capacity to it and launches.

use shared::messages::{GroupLimits, GroupLimitsChange, InstanceRef};
use shared::state::GroupState;

use super::Verdict;
use crate::errors::classify;
use crate::run::{ApplyError, Run};

/// `kind` in the report.
pub const KIND: &str = "group_limits";

fn show(l: GroupLimits) -> String {
    format!("min {} / max {}", l.min, l.max)
}

/// Live (min, max) = target → already applied; target MaxSize below the live desired capacity
/// → skipped; = `from` → apply; else stale.
pub fn guard(change: &GroupLimitsChange, live: Option<&GroupState>) -> Verdict {
    let Some(group) = live else {
        return Verdict::Stale("the Auto Scaling group does not exist".into());
    };
    let now = GroupLimits {
        min: group.min,
        max: group.max,
    };
    if change.to.min > change.to.max {
        return Verdict::Skip(format!("target {} is not a valid range", show(change.to)));
    }
    if now == change.to {
        Verdict::AlreadyApplied(format!("limits are already {}", show(now)))
    } else if change.to.max < group.desired {
        Verdict::Skip(format!(
            "MaxSize {} is below the desired capacity {}: Auto Scaling would terminate instances \
             of its own choosing, with their tasks",
            change.to.max, group.desired
        ))
    } else if now == change.from {
        Verdict::Apply(format!(
            "set the group limits from {} to {}",
            show(change.from),
            show(change.to)
        ))
    } else {
        Verdict::Stale(format!(
            "limits are {}, the plan expected {}",
            show(now),
            show(change.from)
        ))
    }
}

/// Whether the change lowers MaxSize below the live desired capacity and the plan terminates
/// instances: then it is applied after the terminations, which bring the desired capacity down
/// (the planner lowers MaxSize step by step as the surplus is terminated).
pub fn waits_for_terminations(
    run: &Run<'_>,
    change: &GroupLimitsChange,
    terminate: &[InstanceRef],
) -> bool {
    !terminate.is_empty()
        && matches!(&run.live.group, Ok(Some(group)) if change.to.max < group.desired)
}

/// Settles the guard and calls UpdateAutoScalingGroup.
pub async fn run(run: &mut Run<'_>, change: &GroupLimitsChange) -> Result<(), ApplyError> {
    const OP: &str = "UpdateAutoScalingGroup";
    let target = run.plan.autoscale_group.clone();
    let verdict = match &run.live.group {
        Ok(group) => guard(change, group.as_ref()),
        Err(e) => {
            let e = e.clone();
            return run.failed(KIND, &target, "read the group", e);
        }
    };
    let Some(what) = run.settle(KIND, &target, verdict) else {
        return Ok(());
    };
    run.begin_mutation()?;
    let answer = run
        .clients
        .autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(&target)
        .min_size(i32::try_from(change.to.min).unwrap_or(i32::MAX))
        .max_size(i32::try_from(change.to.max).unwrap_or(i32::MAX))
        .send()
        .await;
    match answer {
        Ok(_) => {
            if let Ok(Some(group)) = &mut run.live.group {
                group.min = change.to.min;
                group.max = change.to.max;
                // Auto Scaling moves the desired capacity into the new range itself.
                group.desired = group.desired.clamp(change.to.min, change.to.max);
            }
            run.applied(KIND, &target, what);
            Ok(())
        }
        Err(e) => run.failed(KIND, &target, &what, classify(OP, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::fixtures;

    fn group(min: u32, max: u32) -> GroupState {
        fixtures::group(min, max, min, &[])
    }

    fn change(from: (u32, u32), to: (u32, u32)) -> GroupLimitsChange {
        GroupLimitsChange {
            from: GroupLimits {
                min: from.0,
                max: from.1,
            },
            to: GroupLimits {
                min: to.0,
                max: to.1,
            },
        }
    }

    #[test]
    fn guard_compares_the_pair() {
        let c = change((0, 10), (1, 4));
        assert!(matches!(guard(&c, Some(&group(0, 10))), Verdict::Apply(_)));
        assert!(matches!(
            guard(&c, Some(&group(1, 4))),
            Verdict::AlreadyApplied(_)
        ));
        assert!(matches!(guard(&c, Some(&group(0, 8))), Verdict::Stale(_)));
        assert!(matches!(guard(&c, None), Verdict::Stale(_)));
        assert!(matches!(
            guard(&change((0, 10), (5, 4)), Some(&group(0, 10))),
            Verdict::Skip(_)
        ));
    }

    #[test]
    fn guard_never_sends_a_max_below_the_desired_capacity() {
        // desired 6, the plan lowers MaxSize to 3: Auto Scaling would terminate 3 instances.
        let busy = fixtures::group(0, 10, 6, &[]);
        let lower = change((0, 10), (0, 3));
        let v = guard(&lower, Some(&busy));
        assert!(
            matches!(&v, Verdict::Skip(why) if why.contains("below the desired capacity 6")),
            "{v:?}"
        );
        // Down to the desired capacity is fine; so is a raised MinSize.
        assert!(matches!(
            guard(&change((0, 10), (0, 6)), Some(&busy)),
            Verdict::Apply(_)
        ));
        assert!(matches!(
            guard(&change((0, 10), (8, 10)), Some(&busy)),
            Verdict::Apply(_)
        ));
    }
}
