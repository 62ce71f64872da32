//! Plans and execution reports as a person reads them (the `--json` forms are the messages
//! themselves).

use std::fmt::Write as _;

use shared::messages::{ActionStatus, ExecutionReport, InstanceRef, Outcome, ScalingPlan};

/// The first 12 characters of a plan id.
pub fn short_id(plan_id: &str) -> &str {
    plan_id.get(..12).unwrap_or(plan_id)
}

/// An instance as `i-0abc (container-instance/...)`, short.
pub fn instance(i: &InstanceRef) -> String {
    let ci = i
        .container_instance_arn
        .rsplit('/')
        .next()
        .unwrap_or(&i.container_instance_arn);
    format!(
        "{} (container instance {})",
        i.ec2_instance_id,
        short_id(ci)
    )
}

/// The plan's actions, one line each (`from → to`), in the order the executor applies them.
pub fn action_lines(plan: &ScalingPlan) -> Vec<String> {
    let a = &plan.actions;
    let mut lines = Vec::new();
    if let Some(l) = &a.group_limits {
        lines.push(format!(
            "group {} limits: min {} → {}, max {} → {}",
            plan.autoscale_group, l.from.min, l.to.min, l.from.max, l.to.max
        ));
    }
    for i in &a.reactivate {
        lines.push(format!("reactivate {}", instance(i)));
    }
    if let Some(d) = &a.group_desired {
        lines.push(format!(
            "group {} desired capacity: {} → {}",
            plan.autoscale_group, d.from, d.to
        ));
    }
    for s in &a.services {
        lines.push(format!(
            "service {} desired count: {} → {}",
            s.service, s.from, s.to
        ));
    }
    for i in &a.drain {
        lines.push(format!("drain {}", instance(&i.instance)));
    }
    for i in &a.terminate {
        lines.push(format!("terminate {}", instance(i)));
    }
    lines
}

/// A plan: a title line, its actions and its headlines.
pub fn plan(plan: &ScalingPlan) -> String {
    let mut out = String::new();
    let mode = if plan.dry_run { " (dry run)" } else { "" };
    let actions = action_lines(plan);
    let _ = writeln!(
        out,
        "plan {} for cluster {}{mode}: {}",
        short_id(&plan.plan_id),
        plan.cluster,
        match actions.len() {
            0 => "no change".to_owned(),
            1 => "1 action".to_owned(),
            n => format!("{n} actions"),
        }
    );
    for line in &actions {
        let _ = writeln!(out, "  {line}");
    }
    if !plan.decisions.headlines.is_empty() {
        let _ = writeln!(out, "  why:");
        for h in &plan.decisions.headlines {
            let _ = writeln!(out, "    - {h}");
        }
    }
    out
}

/// The metrics the plan was decided on, one line per service (`service: alias=value, ...`).
pub fn metric_lines(plan: &ScalingPlan) -> Vec<String> {
    plan.decisions
        .detail
        .services
        .iter()
        .map(|s| {
            let values: Vec<String> = s
                .metrics
                .iter()
                .map(|m| match (m.value, &m.missing) {
                    (Some(v), _) if m.default_used => format!("{}={} (default)", m.alias, v),
                    (Some(v), _) => format!("{}={}", m.alias, v),
                    (None, Some(reason)) => format!("{}: {}", m.alias, reason),
                    (None, None) => format!("{}: no value", m.alias),
                })
                .collect();
            format!(
                "{}: {}",
                s.service,
                if values.is_empty() {
                    "no metrics".to_owned()
                } else {
                    values.join(", ")
                }
            )
        })
        .collect()
}

/// An outcome in words.
pub fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Applied => "applied",
        Outcome::PartiallyApplied => "partially applied",
        Outcome::Stale => "stale (nothing applied)",
        Outcome::DryRun => "dry run (nothing changed)",
        Outcome::Failed => "failed",
        Outcome::Expired => "expired (nothing applied)",
        Outcome::Rejected => "rejected (nothing applied)",
    }
}

/// An action status in words.
pub fn status(status: &ActionStatus) -> &'static str {
    match status {
        ActionStatus::Applied => "applied",
        ActionStatus::AlreadyApplied => "already applied",
        ActionStatus::Stale => "stale",
        ActionStatus::Skipped => "skipped",
        ActionStatus::Failed => "failed",
    }
}

/// An execution report: the outcome, then each action with its status.
pub fn report(report: &ExecutionReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan {} for cluster {}: {}",
        short_id(&report.plan_id),
        report.cluster,
        outcome(report.outcome)
    );
    for reason in &report.reasons {
        let _ = writeln!(out, "  rejected: {reason}");
    }
    for a in &report.actions {
        let _ = write!(
            out,
            "  [{}] {} {}: {}",
            status(&a.status),
            a.kind,
            a.target,
            a.detail
        );
        if let Some(e) = &a.error {
            let _ = write!(out, " ({e})");
        }
        out.push('\n');
    }
    out
}
