//! Services' desired counts: UpdateService guarded on the live desiredCount, then the
//! [`LAST_SCALING_TAG`] tag the planner reads for its cooldowns.
//!
//! The tag is written after the change. If the function dies (or the tag write fails
//! retryably) between the two, the replay finds the count already at its target and a tag
//! older than the plan: it writes the tag then, so the cooldown is never lost.

use shared::messages::ServiceChange;
use shared::state::{Direction, ScalingRecord, ServiceState, LAST_SCALING_TAG};
use shared::time::{self, Timestamp};

use super::Verdict;
use crate::errors::classify;
use crate::run::{ApplyError, Run};

/// `kind` in the report.
pub const KIND: &str = "service";

/// Missing or not ACTIVE → stale; desiredCount = target → already applied; = `from` → apply;
/// else stale.
pub fn guard(change: &ServiceChange, live: Option<&ServiceState>) -> Verdict {
    let Some(service) = live else {
        return Verdict::Stale(format!("service {} does not exist", change.service));
    };
    if service.status != "ACTIVE" {
        return Verdict::Stale(format!("service {} is {}", change.service, service.status));
    }
    if service.desired == change.to {
        Verdict::AlreadyApplied(format!("desired count is already {}", change.to))
    } else if service.desired == change.from {
        Verdict::Apply(format!(
            "set the desired count from {} to {}",
            change.from, change.to
        ))
    } else {
        Verdict::Stale(format!(
            "desired count is {}, the plan expected {}",
            service.desired, change.from
        ))
    }
}

/// Whether the tag must be (re)written for a change found already applied: missing, or
/// older than the plan (so it does not record this change).
pub fn tag_missing(service: &ServiceState, plan_created: Timestamp) -> bool {
    match service.last_scaling {
        None => true,
        Some(record) => record.at_epoch_secs < time::epoch_secs(plan_created),
    }
}

/// Settles each change in the order given and calls UpdateService (then TagResource).
pub async fn run(run: &mut Run<'_>, changes: &[&ServiceChange]) -> Result<(), ApplyError> {
    const OP: &str = "UpdateService";
    for change in changes {
        let target = change.service.as_str();
        let live = match &run.live.services {
            Ok(services) => services.get(target).cloned(),
            Err(e) => {
                let e = e.clone();
                run.failed(KIND, target, "read the service", e)?;
                continue;
            }
        };
        let verdict = guard(change, live.as_ref());
        let record = ScalingRecord {
            direction: if change.to >= change.from {
                Direction::Up
            } else {
                Direction::Down
            },
            at_epoch_secs: run.now_secs,
        };
        if let (Verdict::AlreadyApplied(why), Some(service)) = (&verdict, &live) {
            if !run.dry_run && change.from != change.to && tag_missing(service, run.plan.created_at)
            {
                let note = tag(run, &service.arn, record).await?;
                let detail = format!("{why}; {note}");
                run.settle(KIND, target, Verdict::AlreadyApplied(detail));
                continue;
            }
        }
        let Some(what) = run.settle(KIND, target, verdict) else {
            continue;
        };
        let Some(service) = live else {
            continue; // the guard approves only services it found
        };
        run.begin_mutation()?;
        let answer = run
            .clients
            .ecs
            .update_service()
            .cluster(&run.plan.cluster)
            .service(target)
            .desired_count(i32::try_from(change.to).unwrap_or(i32::MAX))
            .send()
            .await;
        match answer {
            Ok(_) => {
                if let Ok(services) = &mut run.live.services {
                    if let Some(s) = services.get_mut(target) {
                        s.desired = change.to;
                    }
                }
                let note = tag(run, &service.arn, record).await?;
                run.applied(KIND, target, format!("{what}; {note}"));
            }
            Err(e) => run.failed(KIND, target, &what, classify(OP, &e))?,
        }
    }
    Ok(())
}

/// Writes the last-scaling tag. A retryable failure ends the run (the replay writes it, see
/// the module docs); any other failure is noted in the action's detail.
async fn tag(run: &mut Run<'_>, arn: &str, record: ScalingRecord) -> Result<String, ApplyError> {
    const OP: &str = "TagResource";
    run.begin_mutation()?;
    let tag = aws_sdk_ecs::types::Tag::builder()
        .key(LAST_SCALING_TAG)
        .value(record.to_tag_value())
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
        Ok(_) => Ok(format!(
            "recorded {LAST_SCALING_TAG}={}",
            record.to_tag_value()
        )),
        Err(e) => {
            let err = classify(OP, &e);
            if err.is_retryable() {
                return Err(run.retry(KIND, err));
            }
            tracing::warn!(%arn, error = %err, "could not tag the service");
            Ok(format!("could not record {LAST_SCALING_TAG}: {err}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: &str, desired: u32, tagged_at: Option<u64>) -> ServiceState {
        ServiceState {
            name: "web".into(),
            arn: "arn:aws:ecs:us-east-1:123:service/prod/web".into(),
            status: status.into(),
            desired,
            running: desired,
            pending: 0,
            task_definition: "arn:aws:ecs:us-east-1:123:task-definition/web:1".into(),
            task_size: shared::resources::Resources::ZERO,
            gpu: 0,
            distinct_instance: false,
            last_scaling: tagged_at.map(|at| ScalingRecord {
                direction: Direction::Up,
                at_epoch_secs: at,
            }),
            do_not_disrupt: false,
            placement: Default::default(),
        }
    }

    #[test]
    fn guard_is_compare_and_set() {
        let c = ServiceChange {
            service: "web".into(),
            from: 2,
            to: 5,
        };
        assert!(matches!(
            guard(&c, Some(&service("ACTIVE", 2, None))),
            Verdict::Apply(_)
        ));
        assert!(matches!(
            guard(&c, Some(&service("ACTIVE", 5, None))),
            Verdict::AlreadyApplied(_)
        ));
        assert!(matches!(
            guard(&c, Some(&service("ACTIVE", 3, None))),
            Verdict::Stale(_)
        ));
        assert!(matches!(
            guard(&c, Some(&service("DRAINING", 2, None))),
            Verdict::Stale(_)
        ));
        assert!(matches!(guard(&c, None), Verdict::Stale(_)));
    }

    #[test]
    fn tag_is_repaired_only_when_older_than_the_plan() {
        let created = Timestamp::from_second(100).expect("in range");
        assert!(tag_missing(&service("ACTIVE", 5, None), created));
        assert!(tag_missing(&service("ACTIVE", 5, Some(99)), created));
        assert!(!tag_missing(&service("ACTIVE", 5, Some(100)), created));
        assert!(!tag_missing(&service("ACTIVE", 5, Some(101)), created));
    }
}
