//! Metric values as the rules see them: several reports of one batch merged, then each
//! service's aliases resolved to a value (reported, or the statistic's `default`) or to
//! the reason there is none.

use std::collections::BTreeMap;

use shared::definition::ServiceDefinition;
use shared::messages::{MetricUsed, MetricsReport, ServiceMetrics};

/// Merges the reports of one cluster that arrived in one batch.
///
/// Reports are taken oldest first by `collected_at` (equal times keep their order in
/// `reports`), and for each alias the **newest
/// observation wins**: a newer value replaces an older value or missing reason, and a newer
/// missing reason replaces an older value, because the metric is unavailable *now* and a
/// stale value must not drive a decision (above all not a scale-in). An alias a newer report
/// does not mention keeps what an older one said.
///
/// Returns the merged metrics per service and the reports' cycle ids (oldest first, without
/// repeats). The caller groups reports by cluster; this does not look at `cluster`.
pub fn merge_reports(reports: &[MetricsReport]) -> (BTreeMap<String, ServiceMetrics>, Vec<String>) {
    let mut order: Vec<&MetricsReport> = reports.iter().collect();
    order.sort_by_key(|r| r.collected_at);
    let mut merged: BTreeMap<String, ServiceMetrics> = BTreeMap::new();
    let mut cycles: Vec<String> = Vec::new();
    for report in order {
        if !cycles.contains(&report.cycle_id) {
            cycles.push(report.cycle_id.clone());
        }
        for (service, metrics) in &report.services {
            let into = merged.entry(service.clone()).or_default();
            for (alias, value) in &metrics.values {
                into.missing.remove(alias);
                into.values.insert(alias.clone(), *value);
            }
            for (alias, reason) in &metrics.missing {
                // A report that both gives a value and a reason for one alias is
                // malformed; its value wins.
                if metrics.values.contains_key(alias) {
                    continue;
                }
                into.values.remove(alias);
                into.missing.insert(alias.clone(), reason.clone());
            }
        }
    }
    (merged, cycles)
}

/// One service's aliases, resolved.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServiceValues {
    /// Alias → the value rules use.
    pub values: BTreeMap<String, f64>,
    /// Every alias of the definition, for the record.
    pub used: Vec<MetricUsed>,
}

impl ServiceValues {
    /// The value of an alias, if any.
    pub fn get(&self, alias: &str) -> Option<f64> {
        self.values.get(alias).copied()
    }
}

/// Resolves every alias the service defines: the reported value, else the statistic's
/// `default` (the collector normally applied it already), else nothing with the reason.
pub(crate) fn resolve(def: &ServiceDefinition, reported: Option<&ServiceMetrics>) -> ServiceValues {
    let mut out = ServiceValues::default();
    for stat in def.aliases() {
        let value = reported.and_then(|m| m.values.get(&stat.alias)).copied();
        let missing = reported.and_then(|m| m.missing.get(&stat.alias)).cloned();
        let (value, default_used) = match (value, stat.default) {
            (Some(v), _) => (Some(v), false),
            (None, Some(d)) => (Some(d), true),
            (None, None) => (None, false),
        };
        if let Some(v) = value {
            out.values.insert(stat.alias.clone(), v);
        }
        out.used.push(MetricUsed {
            alias: stat.alias.clone(),
            value,
            default_used,
            missing: if value.is_some() && !default_used {
                None
            } else {
                missing
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::messages::MissingReason;

    fn report(cycle: &str, at: &str, values: &[(&str, f64)], missing: &[&str]) -> MetricsReport {
        let mut r = MetricsReport::new("c", cycle, at.parse().expect("a time"));
        let mut m = ServiceMetrics::default();
        for (a, v) in values {
            m.values.insert((*a).into(), *v);
        }
        for a in missing {
            m.missing.insert((*a).into(), MissingReason::NoDatapoints);
        }
        r.services.insert("web".into(), m);
        r
    }

    #[test]
    fn newest_observation_wins_including_missing() {
        let old = report(
            "c1",
            "2025-01-01T00:00:00Z",
            &[("a", 1.0), ("b", 2.0), ("c", 3.0)],
            &[],
        );
        let new = report("c2", "2025-01-01T00:05:00Z", &[("a", 10.0)], &["b"]);
        // Given newest first: order comes from collected_at, not from the batch.
        let (merged, cycles) = merge_reports(&[new, old]);
        let web = &merged["web"];
        assert_eq!(web.values.get("a"), Some(&10.0));
        assert_eq!(
            web.values.get("b"),
            None,
            "a newer missing reason erases the stale value"
        );
        assert_eq!(web.missing.get("b"), Some(&MissingReason::NoDatapoints));
        assert_eq!(web.values.get("c"), Some(&3.0), "not mentioned later: kept");
        assert_eq!(cycles, ["c1", "c2"]);
    }

    #[test]
    fn a_newer_value_clears_an_older_missing_reason() {
        let old = report("c1", "2025-01-01T00:00:00Z", &[], &["a"]);
        let new = report("c1", "2025-01-01T00:00:01Z", &[("a", 4.0)], &[]);
        let (merged, cycles) = merge_reports(&[old, new]);
        assert_eq!(merged["web"].values.get("a"), Some(&4.0));
        assert!(merged["web"].missing.is_empty());
        assert_eq!(cycles, ["c1"]);
    }
}
