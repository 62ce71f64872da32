//! A plan read after its `expires_at`: nothing is applied, the outcome is `expired` and every
//! action `skipped` with the reason. The world has had time to change since the plan was made
//! (a redelivery after a long outage, a backlog), and a newer plan decides again.

use shared::messages::{
    ActionOutcome, ActionStatus, ExecutionReport, InstanceRef, Outcome, ScalingPlan, SCHEMA_VERSION,
};
use shared::time::{self, Timestamp};

use crate::actions::{
    abort, drain, force, group_desired, group_limits, reactivate, services, terminate,
};

fn instance(i: &InstanceRef) -> &str {
    i.ec2_instance_id.as_str()
}

/// The report of `plan`, expired when read at `now`: each action in the order the executor
/// would have applied it, `skipped`.
pub fn expired_report(plan: &ScalingPlan, now: Timestamp) -> ExecutionReport {
    let late = now.duration_since(plan.expires_at).as_secs().max(0);
    let detail = format!(
        "not applied: the plan expired at {} (made at {}), {late} s before it was read; a newer plan decides again",
        plan.expires_at, plan.created_at
    );
    not_applied(plan, now, Outcome::Expired, &detail)
}

/// A report of `plan` in which nothing was attempted: every action in the order the executor
/// would have applied it, `skipped` with `detail`.
pub(crate) fn not_applied(
    plan: &ScalingPlan,
    now: Timestamp,
    outcome: Outcome,
    detail: &str,
) -> ExecutionReport {
    let a = &plan.actions;
    let group = plan.autoscale_group.as_str();
    let (ups, downs): (Vec<_>, Vec<_>) = a.services.iter().partition(|c| c.to >= c.from);
    let targets: Vec<(&str, &str)> = a
        .group_limits
        .iter()
        .map(|_| (group_limits::KIND, group))
        .chain(a.reactivate.iter().map(|i| (reactivate::KIND, instance(i))))
        .chain(a.abort_drain.iter().map(|i| (abort::KIND, instance(i))))
        .chain(a.group_desired.iter().map(|_| (group_desired::KIND, group)))
        .chain(
            ups.iter()
                .chain(&downs)
                .map(|c| (services::KIND, c.service.as_str())),
        )
        .chain(a.drain.iter().map(|d| (drain::KIND, instance(&d.instance))))
        .chain(a.terminate.iter().map(|i| (terminate::KIND, instance(i))))
        .chain(
            a.force_drain
                .iter()
                .map(|f| (force::KIND, instance(&f.instance))),
        )
        .collect();
    ExecutionReport {
        schema_version: SCHEMA_VERSION,
        plan_id: plan.plan_id.clone(),
        delivery_id: plan.delivery_id.clone(),
        dedup_key: String::new(),
        cluster: plan.cluster.clone(),
        finished_at: time::to_micros(now),
        outcome,
        actions: targets
            .into_iter()
            .map(|(kind, target)| ActionOutcome {
                kind: kind.to_owned(),
                target: target.to_owned(),
                detail: detail.to_owned(),
                status: ActionStatus::Skipped,
                error: None,
            })
            .collect(),
        reasons: Vec::new(),
    }
    .with_dedup_key()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::messages::{
        CountChange, GroupLimits, GroupLimitsChange, PlanActions, ServiceChange,
    };

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a time")
    }

    fn instance(id: &str) -> InstanceRef {
        InstanceRef {
            container_instance_arn: format!("arn:aws:ecs:us-east-1:1:container-instance/prod/{id}"),
            ec2_instance_id: id.into(),
        }
    }

    #[test]
    fn every_action_is_skipped_in_the_order_of_application() {
        let limits = GroupLimits { min: 1, max: 4 };
        let plan = ScalingPlan {
            schema_version: SCHEMA_VERSION,
            plan_id: "p".into(),
            delivery_id: "d".into(),
            cluster: "prod".into(),
            autoscale_group: "prod-asg".into(),
            created_at: at("2026-11-29T10:00:00Z"),
            expires_at: at("2026-11-29T10:02:00Z"),
            metrics_cycle_ids: vec![],
            dry_run: false,
            has_actions: true,
            actions: PlanActions {
                group_limits: Some(GroupLimitsChange {
                    from: limits,
                    to: limits,
                }),
                reactivate: vec![instance("i-r")],
                group_desired: Some(CountChange { from: 1, to: 2 }),
                services: vec![
                    ServiceChange {
                        service: "down".into(),
                        from: 3,
                        to: 1,
                    },
                    ServiceChange {
                        service: "up".into(),
                        from: 1,
                        to: 3,
                    },
                ],
                drain: vec![instance("i-d").into()],
                drain_eni_use: Default::default(),
                terminate: vec![instance("i-t")],
                abort_drain: vec![instance("i-a")],
                force_drain: vec![shared::messages::ForceDrain {
                    instance: instance("i-f"),
                    tasks: vec!["arn:task/1".into()],
                }],
            },
            decisions: Default::default(),
        };
        let report = expired_report(&plan, at("2026-11-29T10:07:30Z"));
        assert_eq!(report.outcome, Outcome::Expired);
        let order: Vec<(&str, &str)> = report
            .actions
            .iter()
            .map(|a| (a.kind.as_str(), a.target.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("group_limits", "prod-asg"),
                ("reactivate", "i-r"),
                ("abort_drain", "i-a"),
                ("group_desired", "prod-asg"),
                ("service", "up"),
                ("service", "down"),
                ("drain", "i-d"),
                ("terminate", "i-t"),
                ("force_drain", "i-f"),
            ]
        );
        assert!(report
            .actions
            .iter()
            .all(|a| a.status == ActionStatus::Skipped));
        assert_eq!(
            report.actions[0].detail,
            "not applied: the plan expired at 2026-11-29T10:02:00Z (made at 2026-11-29T10:00:00Z), 330 s before it was read; a newer plan decides again"
        );
    }
}
