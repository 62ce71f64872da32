//! The group's desired capacity: SetDesiredCapacity (HonorCooldown false: the planner already
//! decided with its own cooldowns), guarded on the live value and the live limits.

use shared::messages::CountChange;
use shared::state::GroupState;

use super::Verdict;
use crate::errors::classify;
use crate::run::{ApplyError, Run};

/// `kind` in the report.
pub const KIND: &str = "group_desired";

/// Live = target → already applied; target outside the live [min, max] → skipped; live =
/// `from` → apply; else stale.
pub fn guard(change: &CountChange, live: Option<&GroupState>) -> Verdict {
    let Some(group) = live else {
        return Verdict::Stale("the Auto Scaling group does not exist".into());
    };
    if group.desired == change.to {
        return Verdict::AlreadyApplied(format!("desired capacity is already {}", change.to));
    }
    if change.to < group.min || change.to > group.max {
        return Verdict::Skip(format!(
            "target {} is outside the group's limits [{}, {}]",
            change.to, group.min, group.max
        ));
    }
    if group.desired == change.from {
        Verdict::Apply(format!(
            "set the desired capacity from {} to {}",
            change.from, change.to
        ))
    } else {
        Verdict::Stale(format!(
            "desired capacity is {}, the plan expected {}",
            group.desired, change.from
        ))
    }
}

/// Settles the guard and calls SetDesiredCapacity.
pub async fn run(run: &mut Run<'_>, change: &CountChange) -> Result<(), ApplyError> {
    const OP: &str = "SetDesiredCapacity";
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
        .set_desired_capacity()
        .auto_scaling_group_name(&target)
        .desired_capacity(i32::try_from(change.to).unwrap_or(i32::MAX))
        .honor_cooldown(false)
        .send()
        .await;
    match answer {
        Ok(_) => {
            if let Ok(Some(group)) = &mut run.live.group {
                group.desired = change.to;
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

    fn group(min: u32, max: u32, desired: u32) -> GroupState {
        fixtures::group(min, max, desired, &[])
    }

    #[test]
    fn guard_checks_value_then_limits() {
        let c = CountChange { from: 2, to: 4 };
        assert!(matches!(
            guard(&c, Some(&group(0, 10, 2))),
            Verdict::Apply(_)
        ));
        assert!(matches!(
            guard(&c, Some(&group(0, 10, 4))),
            Verdict::AlreadyApplied(_)
        ));
        assert!(matches!(
            guard(&c, Some(&group(0, 10, 3))),
            Verdict::Stale(_)
        ));
        assert!(matches!(guard(&c, Some(&group(0, 3, 2))), Verdict::Skip(_)));
        assert!(matches!(
            guard(&c, Some(&group(5, 10, 2))),
            Verdict::Skip(_)
        ));
        assert!(matches!(guard(&c, None), Verdict::Stale(_)));
    }
}
