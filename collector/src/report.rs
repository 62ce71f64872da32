//! Assembling one [`MetricsReport`] per cluster from the sources' outcomes.
//!
//! Every alias of every enabled service of a collected cluster appears in its report exactly
//! once: in `values`, or in `missing` with the reason. An alias is first recorded as
//! `not_collected`, then overwritten by its source's outcome, so nothing can be left out.
//!
//! **`default:`** — when an alias has no value (whatever the reason: no datapoints, missing
//! field, not a number, HTTP status, timeout, ...) and its statistic has a `default:`, the
//! default goes into `values` (the planner uses it like any value) and the reason is kept in
//! `defaulted`, so the report still says why the default was needed.
//!
//! **`observed_at`** — an alias whose entry describes another time than the cycle's
//! (`collected_at`) carries it: CloudWatch aliases, the end of the period read. HTTP aliases
//! are fetched during the cycle and carry none.

use std::collections::{BTreeMap, HashMap};

use shared::definition::ClusterDefinition;
use shared::messages::{MetricsReport, MissingReason, ServiceMetrics};
use shared::time::Timestamp;

use crate::sources::{Outcome, Target};

/// The reports of one cycle, filled in as outcomes arrive.
#[derive(Debug)]
pub struct ReportBuilder {
    reports: BTreeMap<String, MetricsReport>,
    defaults: HashMap<Target, Option<f64>>,
}

impl ReportBuilder {
    /// Reports for `clusters` (every enabled service, every alias `not_collected` so far).
    pub fn new(clusters: &[&ClusterDefinition], cycle_id: &str, collected_at: Timestamp) -> Self {
        let mut reports = BTreeMap::new();
        let mut defaults = HashMap::new();
        for cluster in clusters {
            let mut report = MetricsReport::new(&cluster.name, cycle_id, collected_at);
            for service in cluster.enabled_services() {
                let mut metrics = ServiceMetrics::default();
                for stat in service.aliases() {
                    metrics.set_missing(&stat.alias, MissingReason::NotCollected, stat.default);
                    defaults.insert(
                        Target::new(&cluster.name, &service.name, &stat.alias),
                        stat.default,
                    );
                }
                report.services.insert(service.name.clone(), metrics);
            }
            reports.insert(cluster.name.clone(), report);
        }
        ReportBuilder { reports, defaults }
    }

    /// Records the outcome of one alias (targets of clusters not in the cycle are ignored).
    pub fn record(&mut self, target: &Target, outcome: Outcome) {
        let Some(default) = self.defaults.get(target).copied() else {
            tracing::debug!(%target, "outcome for an alias not in this cycle ignored");
            return;
        };
        let Some(metrics) = self
            .reports
            .get_mut(&target.cluster)
            .and_then(|r| r.services.get_mut(&target.service))
        else {
            return;
        };
        match outcome {
            Ok(value) => metrics.set_value(&target.alias, value),
            Err(reason) => metrics.set_missing(&target.alias, reason, default),
        }
    }

    /// Records that `target`'s entry describes `at` rather than the report's `collected_at`
    /// (a CloudWatch period's end); targets of clusters not in the cycle are ignored.
    pub fn observe(&mut self, target: &Target, at: Timestamp) {
        if !self.defaults.contains_key(target) {
            return;
        }
        if let Some(metrics) = self
            .reports
            .get_mut(&target.cluster)
            .and_then(|r| r.services.get_mut(&target.service))
        {
            metrics.observed_at.insert(target.alias.clone(), at);
        }
    }

    /// Records many outcomes.
    pub fn extend(&mut self, outcomes: impl IntoIterator<Item = (Target, Outcome)>) {
        for (target, outcome) in outcomes {
            self.record(&target, outcome);
        }
    }

    /// The reports, by cluster name.
    pub fn finish(self) -> Vec<MetricsReport> {
        self.reports.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::definition::parse_definition;
    use std::path::Path;

    const CLUSTER: &str = r#"
autoscale_group: asg
enabled: true
cpu_buffer: 0
mem_buffer: 0
services:
  worker:
    enabled: true
    min: 1
    max: 3
    metric_sources:
      third_party:
        - url: http://127.0.0.1:1/api
          statistics:
            - name: messages_ready
              alias: queue_length
            - name: rate
              alias: rate
              default: 0
    events: []
  idle:
    enabled: false
    min: 1
    max: 1
    events: []
"#;

    fn cluster() -> ClusterDefinition {
        parse_definition("c", Path::new("c.yml"), CLUSTER, &|_| None).expect("valid definition")
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a time")
    }

    #[test]
    fn every_alias_is_reported_once_and_defaults_keep_their_reason() {
        let def = cluster();
        let mut builder = ReportBuilder::new(&[&def], "cycle-1", at("2026-01-01T00:00:00Z"));
        let reports = ReportBuilder::new(&[&def], "cycle-1", at("2026-01-01T00:00:00Z")).finish();
        let untouched = &reports[0].services["worker"];
        assert_eq!(
            untouched.missing["queue_length"],
            MissingReason::NotCollected
        );
        assert_eq!(
            untouched.values["rate"], 0.0,
            "a default stands in from the start"
        );

        builder.record(&Target::new("c", "worker", "queue_length"), Ok(12.0));
        builder.record(
            &Target::new("c", "worker", "rate"),
            Err(MissingReason::MissingField {
                path: "rate".into(),
            }),
        );
        builder.record(&Target::new("elsewhere", "worker", "x"), Ok(1.0));
        let reports = builder.finish();
        assert_eq!(reports.len(), 1);
        let report = &reports[0];
        assert_eq!(
            (report.cluster.as_str(), report.cycle_id.as_str()),
            ("c", "cycle-1")
        );
        assert_eq!(
            report.services.keys().collect::<Vec<_>>(),
            ["worker"],
            "disabled services are not collected"
        );
        let worker = &report.services["worker"];
        assert_eq!(worker.values["queue_length"], 12.0);
        assert_eq!(worker.values["rate"], 0.0);
        assert!(worker.missing.is_empty());
        assert_eq!(
            worker.defaulted["rate"],
            MissingReason::MissingField {
                path: "rate".into()
            }
        );
    }

    #[test]
    fn observation_times_are_recorded_where_they_are_not_the_collection_time() {
        let def = cluster();
        let collected = at("2026-01-01T00:01:30Z");
        let period_end = at("2026-01-01T00:00:00Z");
        let mut builder = ReportBuilder::new(&[&def], "c1", collected);
        builder.observe(&Target::new("c", "worker", "rate"), period_end);
        builder.observe(&Target::new("elsewhere", "worker", "rate"), period_end);
        builder.record(&Target::new("c", "worker", "queue_length"), Ok(3.0));
        builder.record(&Target::new("c", "worker", "rate"), Ok(0.5));
        let report = &builder.finish()[0];
        assert_eq!(report.observed_at("worker", "rate"), period_end);
        assert_eq!(
            report.observed_at("worker", "queue_length"),
            collected,
            "an alias fetched during the cycle was observed at collected_at"
        );
        assert_eq!(
            report.services["worker"]
                .observed_at
                .keys()
                .collect::<Vec<_>>(),
            ["rate"]
        );
    }

    #[test]
    fn a_missing_alias_without_default_carries_its_reason() {
        let def = cluster();
        // The cycle's clock, to the microsecond, is the report's `collected_at`.
        let now = shared::time::to_micros(at("2026-11-29T10:27:30.123456789Z"));
        let mut builder = ReportBuilder::new(&[&def], "c1", now);
        builder.record(
            &Target::new("c", "worker", "queue_length"),
            Err(MissingReason::HttpStatus { status: 503 }),
        );
        let report = &builder.finish()[0];
        let worker = &report.services["worker"];
        assert_eq!(
            worker.missing["queue_length"],
            MissingReason::HttpStatus { status: 503 }
        );
        assert!(!worker.values.contains_key("queue_length"));
        let json = serde_json::to_value(report).expect("serialises");
        assert_eq!(json["collected_at"], "2026-11-29T10:27:30.123456Z");
        assert_eq!(
            json["services"]["worker"]["missing"]["queue_length"],
            serde_json::json!({"reason": "http_status", "status": 503})
        );
    }
}
