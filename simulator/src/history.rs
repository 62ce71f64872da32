//! `--from-cloudwatch --since 7d`: a timeline from the cluster file's CloudWatch sources over a
//! past range, read with `GetMetricData` (the caller gives read-only clients).
//!
//! The queries are the collector's (`collector::sources::cloudwatch`: one per distinct metric
//! statistic, each at its source's period), over the whole range instead of one period: one
//! call per period and up to [`MAX_QUERIES_PER_CALL`] queries, fewer when a call would exceed
//! CloudWatch's [`MAX_DATAPOINTS_PER_CALL`]. A datapoint becomes a row at its timestamp (the
//! period's start, which is what the simulated collector reads); a period without a datapoint
//! becomes a row without a value, so the missing-data rules apply as they did. HTTP aliases
//! have no history: they stay without a value, and a note says so.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_cloudwatch::types::StatusCode;
use collector::sources::cloudwatch::{
    fetch_pages, MetricRequest, PlannedCall, PlannedQuery, Series, Window, MAX_QUERIES_PER_CALL,
};
use collector::sources::{cloudwatch_items, http_items, Target};
use shared::definition::ClusterDefinition;

use crate::timeline::{Row, Timeline};

/// Datapoints one `GetMetricData` call may return (CloudWatch's limit).
pub const MAX_DATAPOINTS_PER_CALL: u64 = 100_800;

/// Pages followed per call at most.
const MAX_PAGES: usize = 1000;

/// The fetched timeline and what the operator should know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The rows, as a timeline.
    pub timeline: Timeline,
    /// Aliases without history, queries CloudWatch refused, ...
    pub notes: Vec<String>,
    /// `GetMetricData` calls made (pages included).
    pub calls: usize,
}

/// A call that failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("GetMetricData failed: {0}")]
pub struct HistoryError(pub String);

/// The calls for `definition`'s CloudWatch aliases over `[start, end)` (epoch seconds): each
/// period's range is `[⌊start / P⌋ · P, ⌊end / P⌋ · P)`, complete periods only.
pub fn plan(definition: &ClusterDefinition, start: i64, end: i64) -> Vec<PlannedCall> {
    let clusters = [definition];
    let mut by_period: BTreeMap<u32, BTreeMap<MetricRequest, Vec<Target>>> = BTreeMap::new();
    for (target, source, stat) in cloudwatch_items(&clusters) {
        by_period
            .entry(source.period)
            .or_default()
            .entry(MetricRequest::new(source, stat))
            .or_default()
            .push(target);
    }
    let mut calls = Vec::new();
    for (period, requests) in by_period {
        let p = i64::from(period.max(1));
        let window = Window {
            start: start.div_euclid(p) * p,
            end: end.div_euclid(p) * p,
        };
        if window.end <= window.start {
            continue;
        }
        let points = u64::try_from((window.end - window.start) / p)
            .unwrap_or(u64::MAX)
            .max(1);
        let per_call = usize::try_from(MAX_DATAPOINTS_PER_CALL / points)
            .unwrap_or(MAX_QUERIES_PER_CALL)
            .clamp(1, MAX_QUERIES_PER_CALL);
        let requests: Vec<(MetricRequest, Vec<Target>)> = requests.into_iter().collect();
        for chunk in requests.chunks(per_call) {
            let queries = chunk
                .iter()
                .enumerate()
                .map(|(i, (request, targets))| PlannedQuery {
                    id: format!("q{i}"),
                    request: request.clone(),
                    targets: targets.clone(),
                })
                .collect();
            // One call covers at most the datapoint limit: split long ranges.
            let span = i64::try_from(MAX_DATAPOINTS_PER_CALL)
                .unwrap_or(i64::MAX)
                .saturating_mul(p);
            let mut from = window.start;
            while from < window.end {
                let to = from.saturating_add(span).min(window.end);
                calls.push(PlannedCall {
                    window: Window {
                        start: from,
                        end: to,
                    },
                    queries: Vec::clone(&queries),
                });
                from = to;
            }
        }
    }
    calls
}

/// The rows of one call's answers (pure): each datapoint, and a row without a value for every
/// period of the window that has none. Notes for queries CloudWatch refused.
pub fn rows(call: &PlannedCall, answers: &HashMap<String, Series>) -> (Vec<Row>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for query in &call.queries {
        let p = i64::from(query.request.period.max(1));
        let points: BTreeMap<i64, f64> = answers
            .get(&query.id)
            .map(|s| {
                s.points
                    .iter()
                    .filter(|(t, v)| {
                        (call.window.start..call.window.end).contains(t) && v.is_finite()
                    })
                    .map(|(t, v)| (t.div_euclid(p) * p, *v))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(series) = answers.get(&query.id) {
            if matches!(
                series.status,
                Some(StatusCode::InternalError | StatusCode::Forbidden)
            ) {
                let status = series.status.as_ref().map(|s| s.as_str()).unwrap_or("");
                notes.push(format!(
                    "{}/{} ({}): CloudWatch answered {status} {}",
                    query.request.namespace,
                    query.request.metric_name,
                    query.request.stat,
                    series.messages.join("; ")
                ));
            }
        }
        let mut t = call.window.start;
        while t < call.window.end {
            let value = points.get(&t).copied();
            for target in &query.targets {
                out.push(Row {
                    time: t,
                    service: target.service.clone(),
                    alias: target.alias.clone(),
                    value,
                });
            }
            t += p;
        }
    }
    (out, notes)
}

/// The timeline of `definition`'s CloudWatch aliases over `[start, end)`.
pub async fn fetch(
    client: &aws_sdk_cloudwatch::Client,
    definition: &ClusterDefinition,
    start: i64,
    end: i64,
) -> Result<History, HistoryError> {
    let mut all = Vec::new();
    let mut notes: Vec<String> = http_items(&[definition])
        .map(|(t, _, _)| {
            format!(
                "{}.{}: an HTTP source has no history; it has no value in the simulation",
                t.service, t.alias
            )
        })
        .collect();
    let mut calls = 0;
    for call in plan(definition, start, end) {
        let fetched = fetch_pages(client, &call, MAX_PAGES)
            .await
            .map_err(HistoryError)?;
        calls += fetched.pages;
        if fetched.truncated {
            notes.push(format!(
                "GetMetricData still had pages after {MAX_PAGES}; the timeline ends where they stopped"
            ));
        }
        let answers = fetched.answers;
        let (rows, call_notes) = rows(&call, &answers);
        all.extend(rows);
        notes.extend(call_notes);
    }
    Ok(History {
        timeline: Timeline::from_rows(all),
        notes,
        calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn definition(period: u32) -> ClusterDefinition {
        shared::definition::parse_definition(
            "c",
            Path::new("c.yml"),
            &format!(
                "autoscale_group: g
services:
  web:
    min: 1
    max: 10
    metric_sources:
      cloudwatch:
        - metric_name: CPUUtilization
          period: {period}
          statistics: [{{name: Average, alias: cpu}}, {{name: Maximum, alias: cpu_max}}]
      third_party:
        - url: http://h/q
          statistics: [{{name: n, alias: queue}}]
  api:
    min: 1
    max: 10
    metric_sources:
      cloudwatch:
        - metric_name: CPUUtilization
          period: {period}
          statistics: [{{name: Average, alias: load}}]
"
            ),
            &|_| None,
        )
        .expect("a definition")
    }

    #[test]
    fn a_week_at_one_minute_splits_by_the_datapoint_limit() {
        let start = 1_800_000_000 / 60 * 60;
        let end = start + 7 * 86_400;
        let calls = plan(&definition(60), start + 30, end + 30);
        // 3 distinct statistics (different dimensions per service: none here, so web's and
        // api's Average are one request), 10,080 points each: 10 queries fit one call.
        let queries: usize = calls.iter().map(|c| c.queries.len()).sum();
        assert_eq!(queries, 2, "Average (web.cpu and api.load) and Maximum");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].window, Window { start, end });
        let average = calls[0]
            .queries
            .iter()
            .find(|q| q.request.stat == "Average")
            .expect("one");
        assert_eq!(average.targets.len(), 2);
    }

    #[test]
    fn ranges_beyond_the_limit_of_one_query_are_cut() {
        let start = 0;
        let end = 120 * 86_400; // 172,800 one-minute points
        let calls = plan(&definition(60), start, end);
        // Two statistics, one query per call, each range in two windows.
        assert_eq!(calls.len(), 4);
        assert!(calls.iter().all(|c| c.queries.len() == 1));
        assert_eq!(calls[0].window.end - calls[0].window.start, 100_800 * 60);
        assert_eq!(
            calls[1].window,
            Window {
                start: 100_800 * 60,
                end
            }
        );
    }

    #[test]
    fn datapoints_become_rows_and_gaps_rows_without_value() {
        let start = 1_800_000_000 / 300 * 300;
        let calls = plan(&definition(300), start, start + 1200);
        let call = &calls[0];
        let average = call
            .queries
            .iter()
            .find(|q| q.request.stat == "Average")
            .expect("one");
        let maximum = call
            .queries
            .iter()
            .find(|q| q.request.stat == "Maximum")
            .expect("one");
        let answers = HashMap::from([
            (
                average.id.clone(),
                Series {
                    points: vec![(start, 10.0), (start + 600, 30.0), (start + 9999, 1.0)],
                    status: Some(StatusCode::Complete),
                    messages: vec![],
                },
            ),
            (
                maximum.id.clone(),
                Series {
                    points: vec![],
                    status: Some(StatusCode::Forbidden),
                    messages: vec!["no access".into()],
                },
            ),
        ]);
        let (rows, notes) = rows(call, &answers);
        let timeline = Timeline::from_rows(rows);
        assert_eq!(timeline.value_at("web", "cpu", start + 299), Some(10.0));
        assert_eq!(timeline.value_at("web", "cpu", start + 300), None, "a gap");
        assert_eq!(timeline.value_at("api", "load", start + 600), Some(30.0));
        assert_eq!(
            timeline.value_at("web", "cpu", start + 5000),
            None,
            "outside the window"
        );
        assert_eq!(timeline.value_at("web", "cpu_max", start), None);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("Forbidden no access"), "{notes:?}");
    }
}
