//! Metric values as the rules see them: several reports of one batch merged, then each
//! service's aliases resolved to a value (reported, or the statistic's `default`) or to
//! the reason there is none.

use std::collections::BTreeMap;

use shared::definition::ServiceDefinition;
use shared::messages::{MetricUsed, MetricsReport, ServiceMetrics};
use shared::time::Timestamp;

/// Merges the reports of one cluster that arrived in one batch.
///
/// For each alias the **newest observation wins**. An alias's observation time is its
/// `observed_at` in its report, else the report's `collected_at`; reports are taken oldest
/// first by `collected_at` (equal times keep their order in `reports`), and a later report's
/// entry replaces the one held unless it describes an older time. So a newer value replaces
/// an older value or missing reason, and a newer missing reason replaces an older value,
/// because the metric is unavailable *now* and a stale value must not drive a decision (above
/// all not a scale-in); a report collected later about an earlier period changes nothing. An
/// alias a newer report does not mention keeps what an older one said.
///
/// Every alias of the result carries its observation time in `observed_at`. Returns the merged
/// metrics per service and the reports' cycle ids (oldest first, without repeats). The caller
/// groups reports by cluster; this does not look at `cluster`.
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
            let observed = |alias: &str| report.observed_at(service, alias);
            let older = |into: &ServiceMetrics, at: Timestamp, alias: &str| {
                into.observed_at.get(alias).is_some_and(|held| at < *held)
            };
            for (alias, value) in &metrics.values {
                let at = observed(alias);
                if older(into, at, alias) {
                    continue;
                }
                into.missing.remove(alias);
                into.values.insert(alias.clone(), *value);
                into.observed_at.insert(alias.clone(), at);
            }
            for (alias, reason) in &metrics.missing {
                // A report that both gives a value and a reason for one alias is
                // malformed; its value wins.
                let at = observed(alias);
                if metrics.values.contains_key(alias) || older(into, at, alias) {
                    continue;
                }
                into.values.remove(alias);
                into.missing.insert(alias.clone(), reason.clone());
                into.observed_at.insert(alias.clone(), at);
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
    /// Alias → the time its value describes (every alias of `values`).
    pub observed_at: BTreeMap<String, Timestamp>,
    /// Every alias of the definition, for the record.
    pub used: Vec<MetricUsed>,
}

impl ServiceValues {
    /// The value of an alias, if any.
    pub fn get(&self, alias: &str) -> Option<f64> {
        self.values.get(alias).copied()
    }

    /// When the value of an alias was observed, if it has one.
    pub fn observed_at(&self, alias: &str) -> Option<Timestamp> {
        self.observed_at.get(alias).copied()
    }
}

/// Resolves every alias the service defines: the reported value, else the statistic's
/// `default` (the collector normally applied it already), else nothing with the reason.
///
/// A value's time is its `observed_at` (for a default, the time of the report that said it
/// was missing); metrics built without times (`plan --set`) count as observed at `now`.
pub(crate) fn resolve(
    def: &ServiceDefinition,
    reported: Option<&ServiceMetrics>,
    now: Timestamp,
) -> ServiceValues {
    let mut out = ServiceValues::default();
    for stat in def.aliases() {
        let value = reported.and_then(|m| m.values.get(&stat.alias)).copied();
        let missing = reported.and_then(|m| m.missing.get(&stat.alias)).cloned();
        let (value, default_used) = match (value, stat.default) {
            (Some(v), _) => (Some(v), false),
            (None, Some(d)) => (Some(d), true),
            (None, None) => (None, false),
        };
        let observed_at = value.map(|_| {
            reported
                .and_then(|m| m.observed_at.get(&stat.alias))
                .copied()
                .unwrap_or(now)
        });
        if let (Some(v), Some(at)) = (value, observed_at) {
            out.values.insert(stat.alias.clone(), v);
            out.observed_at.insert(stat.alias.clone(), at);
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
            observed_at,
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

    fn at(text: &str) -> shared::time::Timestamp {
        text.parse().expect("a time")
    }

    #[test]
    fn the_merge_keeps_each_aliass_observation_time() {
        let mut cw = report(
            "c1",
            "2025-01-01T00:06:00Z",
            &[("cpu", 50.0), ("q", 3.0)],
            &[],
        );
        let period_end = at("2025-01-01T00:05:00Z");
        if let Some(web) = cw.services.get_mut("web") {
            web.observed_at.insert("cpu".into(), period_end);
        }
        let (merged, _) = merge_reports(&[cw]);
        let web = &merged["web"];
        assert_eq!(web.observed_at.get("cpu"), Some(&period_end));
        assert_eq!(
            web.observed_at.get("q"),
            Some(&at("2025-01-01T00:06:00Z")),
            "without a time of its own: the report's collected_at"
        );
    }

    #[test]
    fn an_older_observation_never_replaces_a_newer_one() {
        // Collected later, but describing an earlier period (a longer CloudWatch lag): the
        // newer observation stays, value or missing reason.
        let mut newer = report("c1", "2025-01-01T00:06:00Z", &[("cpu", 50.0)], &["q"]);
        let mut older = report(
            "c2",
            "2025-01-01T00:07:00Z",
            &[("cpu", 10.0), ("q", 1.0)],
            &[],
        );
        for (r, t) in [
            (&mut newer, "2025-01-01T00:05:00Z"),
            (&mut older, "2025-01-01T00:00:00Z"),
        ] {
            if let Some(web) = r.services.get_mut("web") {
                web.observed_at.insert("cpu".into(), at(t));
                web.observed_at.insert("q".into(), at(t));
            }
        }
        let (merged, cycles) = merge_reports(&[older, newer]);
        let web = &merged["web"];
        assert_eq!(web.values.get("cpu"), Some(&50.0));
        assert_eq!(web.observed_at["cpu"], at("2025-01-01T00:05:00Z"));
        assert_eq!(web.values.get("q"), None, "the newer missing reason stays");
        assert_eq!(web.missing.get("q"), Some(&MissingReason::NoDatapoints));
        assert_eq!(cycles, ["c1", "c2"]);

        // The same observation twice: the later report wins (a failed read, then a good one).
        let mut failed = report("c1", "2025-01-01T00:06:00Z", &[], &["cpu"]);
        let mut good = report("c2", "2025-01-01T00:06:30Z", &[("cpu", 42.0)], &[]);
        for r in [&mut failed, &mut good] {
            if let Some(web) = r.services.get_mut("web") {
                web.observed_at
                    .insert("cpu".into(), at("2025-01-01T00:05:00Z"));
            }
        }
        let (merged, _) = merge_reports(&[good, failed]);
        assert_eq!(merged["web"].values.get("cpu"), Some(&42.0));
        assert!(merged["web"].missing.is_empty());
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
