//! The metrics report a collector would send at a step, read from the timeline as the
//! collector reads its sources (see `ARCHITECTURE.md`, "Metrics report"):
//!
//! - an HTTP (`third_party`) alias is fetched during the cycle: the timeline's value at the
//!   step, observed at `collected_at`;
//! - a CloudWatch alias reads the last complete period, `end = floor(now / P) · P`: the value
//!   the timeline holds at the period's start (the datapoint's timestamp), observed at `end`;
//! - no value → missing (`not_collected` for HTTP, `no_datapoints` for CloudWatch), or the
//!   statistic's `default:` with that reason, as the collector reports it.
//!
//! Only enabled services are collected, as by the collector.

use shared::definition::{ClusterDefinition, Statistic};
use shared::messages::{MetricsReport, MissingReason};
use shared::time::Timestamp;

use crate::timeline::Timeline;

/// How one alias is read.
#[derive(Debug, Clone)]
struct Source {
    service: String,
    alias: String,
    default: Option<f64>,
    /// CloudWatch period in seconds; `None` for HTTP.
    period: Option<u32>,
}

/// Every alias of a cluster file's enabled services and how to read it.
#[derive(Debug, Clone)]
pub struct Collector {
    cluster: String,
    sources: Vec<Source>,
}

impl Collector {
    /// The aliases of `definition`'s enabled services.
    pub fn new(definition: &ClusterDefinition) -> Collector {
        let mut sources = Vec::new();
        for service in definition.enabled_services() {
            let http = service
                .metric_sources
                .third_party
                .iter()
                .flat_map(|s| s.statistics.iter().map(|st| (st, None)));
            let cloudwatch = service
                .metric_sources
                .cloudwatch
                .iter()
                .flat_map(|s| s.statistics.iter().map(move |st| (st, Some(s.period))));
            for (stat, period) in http.chain(cloudwatch) {
                let stat: &Statistic = stat;
                sources.push(Source {
                    service: service.name.clone(),
                    alias: stat.alias.clone(),
                    default: stat.default,
                    period,
                });
            }
        }
        Collector {
            cluster: definition.name.clone(),
            sources,
        }
    }

    /// The report of the cycle at `now` (epoch seconds).
    pub fn report(&self, timeline: &Timeline, now: i64) -> MetricsReport {
        let collected_at = Timestamp::from_second(now).unwrap_or(Timestamp::UNIX_EPOCH);
        let mut report = MetricsReport::new(&self.cluster, format!("sim-{now}"), collected_at);
        for source in &self.sources {
            let metrics = report.services.entry(source.service.clone()).or_default();
            let (value, reason) = match source.period {
                None => (
                    timeline.value_at(&source.service, &source.alias, now),
                    MissingReason::NotCollected,
                ),
                Some(period) => {
                    let p = i64::from(period.max(1));
                    let end = now.div_euclid(p) * p;
                    let observed = Timestamp::from_second(end).unwrap_or(Timestamp::UNIX_EPOCH);
                    metrics.observed_at.insert(source.alias.clone(), observed);
                    (
                        timeline.value_at(&source.service, &source.alias, end - p),
                        MissingReason::NoDatapoints,
                    )
                }
            };
            match value {
                Some(v) => metrics.set_value(&source.alias, v),
                None => metrics.set_missing(&source.alias, reason, source.default),
            }
        }
        report
    }

    /// The value the planner sees for `service`'s `alias` at `now` (for the chart).
    pub fn value_seen(
        &self,
        timeline: &Timeline,
        service: &str,
        alias: &str,
        now: i64,
    ) -> Option<f64> {
        let source = self
            .sources
            .iter()
            .find(|s| s.service == service && s.alias == alias)?;
        match source.period {
            None => timeline.value_at(service, alias, now),
            Some(period) => {
                let p = i64::from(period.max(1));
                timeline.value_at(service, alias, now.div_euclid(p) * p - p)
            }
        }
        .or(source.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Row;
    use std::path::Path;

    fn definition() -> ClusterDefinition {
        shared::definition::parse_definition(
            "c",
            Path::new("c.yml"),
            "autoscale_group: g
services:
  worker:
    min: 1
    max: 10
    metric_sources:
      third_party:
        - url: http://rabbit/api/queues/q
          statistics: [{name: messages_ready, alias: queue}]
      cloudwatch:
        - metric_name: CPUUtilization
          period: 300
          statistics: [{name: Average, alias: cpu, default: 0}]
  idle:
    enabled: false
    min: 1
    max: 1
    metric_sources:
      third_party:
        - url: http://rabbit/api/queues/q
          statistics: [{name: messages_ready, alias: q}]
",
            &|_| None,
        )
        .expect("a definition")
    }

    fn row(time: i64, alias: &str, value: f64) -> Row {
        Row {
            time,
            service: "worker".into(),
            alias: alias.into(),
            value: Some(value),
        }
    }

    #[test]
    fn http_is_read_at_the_step_and_cloudwatch_at_the_last_complete_period() {
        let t0 = 1_800_000_000 / 300 * 300;
        let timeline = Timeline::from_rows(vec![
            row(t0, "cpu", 10.0),
            row(t0 + 300, "cpu", 90.0),
            row(t0 + 60, "queue", 5.0),
        ]);
        let c = Collector::new(&definition());
        let r = c.report(&timeline, t0 + 360);
        assert_eq!(r.services.len(), 1, "disabled services are not collected");
        let w = &r.services["worker"];
        assert_eq!(w.values["queue"], 5.0);
        // The period 300–600 is not complete at 360: the datapoint of 0–300 is read.
        assert_eq!(w.values["cpu"], 10.0);
        let end = Timestamp::from_second(t0 + 300).expect("time");
        assert_eq!(w.observed_at["cpu"], end);
        assert!(
            !w.observed_at.contains_key("queue"),
            "observed when collected"
        );
        let r = c.report(&timeline, t0 + 600);
        assert_eq!(r.services["worker"].values["cpu"], 90.0);
    }

    #[test]
    fn no_row_yet_is_missing_or_the_default() {
        let c = Collector::new(&definition());
        let r = c.report(&Timeline::default(), 1_800_000_000);
        let w = &r.services["worker"];
        assert_eq!(w.missing["queue"], MissingReason::NotCollected);
        assert_eq!(w.values["cpu"], 0.0, "its default");
        assert_eq!(w.defaulted["cpu"], MissingReason::NoDatapoints);
    }
}
