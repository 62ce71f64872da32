//! A message on the plans queue that must not be applied: a plan its cluster file does not
//! allow ([`shared::plan_check`]), or a message that is not a plan at all. Nothing of it is
//! read or changed, its report (outcome `rejected`, with the reasons) is published, and the
//! message is done with at once: it cannot become valid by waiting, and in a FIFO queue it
//! would hold back every later plan of its cluster while SQS retried it.

use serde_json::Value;
use shared::messages::{ExecutionReport, Outcome, ScalingPlan, SCHEMA_VERSION};
use shared::time::{self, Timestamp};

use crate::expiry::not_applied;

/// The detail of each action of a rejected plan.
const DETAIL: &str = "not applied: the plan was rejected (see `reasons`)";

/// The report of a plan rejected for `reasons`: every action `skipped`.
pub fn rejected_report(
    plan: &ScalingPlan,
    now: Timestamp,
    reasons: Vec<String>,
) -> ExecutionReport {
    let mut report = not_applied(plan, now, Outcome::Rejected, DETAIL);
    report.reasons = reasons;
    report
}

/// Longest `plan_id` and `cluster` of an undecodable message that are reported (a plan's id is
/// 64 characters and a cluster name at most 255; anything longer is not worth publishing).
const MAX_REPORTED_ID: usize = 255;

/// The report of a message that does not decode as a plan (`error` says why), when it names a
/// plan and a cluster that can be reported: a `plan_id` and a `cluster` that are strings of a
/// sensible length (its `delivery_id` too, when it has one). Without them there is nothing a
/// subscriber could match the report with; the log line is all there is.
pub fn undecodable_report(body: &str, error: &str, now: Timestamp) -> Option<ExecutionReport> {
    // serde_json refuses nesting deeper than 128 levels: bounded whatever the body.
    let value: Value = serde_json::from_str(body).ok()?;
    let field = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.chars().count() <= MAX_REPORTED_ID)
            .map(str::to_owned)
    };
    let report = ExecutionReport {
        schema_version: SCHEMA_VERSION,
        plan_id: field("plan_id")?,
        delivery_id: field("delivery_id").unwrap_or_default(),
        dedup_key: String::new(),
        cluster: field("cluster")?,
        finished_at: time::to_micros(now),
        outcome: Outcome::Rejected,
        actions: Vec::new(),
        reasons: vec![format!("the message is not a valid plan: {error}")],
    };
    Some(report.with_dedup_key())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-29T10:00:00Z".parse().expect("a time")
    }

    #[test]
    fn an_undecodable_message_is_reported_when_it_names_its_plan_and_cluster() {
        let report = undecodable_report(
            r#"{"plan_id": "p-1", "cluster": "prod", "delivery_id": "d-1", "actions": 3}"#,
            "actions: invalid type",
            now(),
        )
        .expect("a report");
        assert_eq!(report.outcome, Outcome::Rejected);
        assert_eq!(
            (report.plan_id.as_str(), report.cluster.as_str()),
            ("p-1", "prod")
        );
        assert_eq!(
            report.dedup_key,
            shared::messages::report_dedup_key("p-1", "d-1")
        );
        assert_eq!(
            report.reasons,
            ["the message is not a valid plan: actions: invalid type"]
        );
        for body in [
            "not json",
            r#"{"plan_id": "p-1"}"#,
            r#"{"plan_id": 7, "cluster": "prod"}"#,
            &format!(r#"{{"plan_id": "p", "cluster": "{}"}}"#, "c".repeat(300)),
            &format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000)),
        ] {
            assert!(undecodable_report(body, "e", now()).is_none(), "{body:.40}");
        }
    }
}
