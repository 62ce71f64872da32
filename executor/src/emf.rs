//! The executor's outcome metrics (Embedded Metric Format) for the stack's dashboard.
//!
//! Written with [`shared::emf`] once a plan is settled:
//!
//! | dimensions | metric | unit |
//! | --- | --- | --- |
//! | Cluster | `InstancesDrained`, `InstancesTerminated`, `InstancesReactivated`, `ServicesScaled`, `ActionsFailed`, `ActionsStale` | Count |

use serde_json::Value;
use shared::emf::{MetricLine, DIM_CLUSTER};
use shared::messages::{ActionStatus, ExecutionReport};

/// Metric names (see the module docs).
pub mod metric {
    /// Instances the executor set DRAINING.
    pub const INSTANCES_DRAINED: &str = "InstancesDrained";
    /// Instances the executor terminated.
    pub const INSTANCES_TERMINATED: &str = "InstancesTerminated";
    /// DRAINING instances the executor set ACTIVE again.
    pub const INSTANCES_REACTIVATED: &str = "InstancesReactivated";
    /// Services whose desired count the executor changed.
    pub const SERVICES_SCALED: &str = "ServicesScaled";
    /// Actions that failed.
    pub const ACTIONS_FAILED: &str = "ActionsFailed";
    /// Actions left because the world moved away from the plan.
    pub const ACTIONS_STALE: &str = "ActionsStale";
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The line for one execution report: the actions it *applied* (a dry run applies
/// none) by kind, and the failed and stale ones. Properties `plan_id` and `outcome`.
pub fn lines(report: &ExecutionReport, timestamp_ms: u64) -> Vec<MetricLine> {
    let applied = |kind: &str| {
        count(
            report
                .actions
                .iter()
                .filter(|a| a.kind == kind && a.status == ActionStatus::Applied)
                .count(),
        )
    };
    let with_status =
        |status: ActionStatus| count(report.actions.iter().filter(|a| a.status == status).count());
    let outcome = serde_json::to_value(report.outcome).unwrap_or(Value::Null);
    vec![MetricLine::new(timestamp_ms)
        .dimension(DIM_CLUSTER, report.cluster.as_str())
        .count(metric::INSTANCES_DRAINED, applied("drain"))
        .count(metric::INSTANCES_TERMINATED, applied("terminate"))
        .count(metric::INSTANCES_REACTIVATED, applied("reactivate"))
        .count(metric::SERVICES_SCALED, applied("service"))
        .count(metric::ACTIONS_FAILED, with_status(ActionStatus::Failed))
        .count(metric::ACTIONS_STALE, with_status(ActionStatus::Stale))
        .property("plan_id", report.plan_id.as_str())
        .property("outcome", outcome)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::messages::{ActionOutcome, Outcome, SCHEMA_VERSION};

    fn root(line: &MetricLine) -> Value {
        line.to_json().expect("a valid EMF line")
    }

    #[test]
    fn executor_lines_count_applied_actions_by_kind() {
        let action = |kind: &str, status: ActionStatus| ActionOutcome {
            kind: kind.into(),
            target: "t".into(),
            detail: "d".into(),
            status,
            error: None,
        };
        let report = ExecutionReport {
            schema_version: SCHEMA_VERSION,
            plan_id: "p-9".into(),
            delivery_id: "d-9".into(),
            dedup_key: String::new(),
            cluster: "prod".into(),
            finished_at: "2026-11-29T10:00:05Z".parse().expect("time"),
            outcome: Outcome::PartiallyApplied,
            actions: vec![
                action("drain", ActionStatus::Applied),
                action("drain", ActionStatus::AlreadyApplied),
                action("terminate", ActionStatus::Applied),
                action("terminate", ActionStatus::Failed),
                action("service", ActionStatus::Applied),
                action("service", ActionStatus::Stale),
                action("reactivate", ActionStatus::Skipped),
            ],
            reasons: vec![],
        };
        let lines = lines(&report, 7);
        assert_eq!(lines.len(), 1);
        let r = root(&lines[0]);
        assert_eq!(r["Cluster"], "prod");
        assert_eq!(r["InstancesDrained"], 1.0);
        assert_eq!(r["InstancesTerminated"], 1.0);
        assert_eq!(r["InstancesReactivated"], 0.0);
        assert_eq!(r["ServicesScaled"], 1.0);
        assert_eq!(r["ActionsFailed"], 1.0);
        assert_eq!(r["ActionsStale"], 1.0);
        assert_eq!(r["plan_id"], "p-9");
        assert_eq!(r["outcome"], "partially_applied");
        let units: Vec<&str> = r["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("Metrics")
            .iter()
            .map(|m| m["Unit"].as_str().expect("Unit"))
            .collect();
        assert!(units.iter().all(|u| *u == "Count"));
    }
}
