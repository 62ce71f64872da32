//! CloudWatch source: every CloudWatch statistic of every service in a cycle, fetched with
//! batched `GetMetricData` calls.
//!
//! # Requests
//! Identical metric statistics (same namespace, metric, dimensions, period and statistic) are
//! asked once, however many aliases read them. Queries are grouped by period (one call has one
//! time window) and packed up to [`MAX_QUERIES_PER_CALL`] (500, CloudWatch's limit) per call, so
//! N statistics of one period cost ⌈N/500⌉ calls, plus their `NextToken` pages. Statistics
//! (`Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount`, percentiles such as `p90` or
//! `p99.9`) are passed through unchanged as the query's `Stat`.
//!
//! # The window
//! For a period `P` (seconds) at time `now`, with an optional lag `L` (`CLOUDWATCH_LAG_SECS`,
//! default 0):
//!
//! ```text
//! end   = floor((now − L) / P) · P      (epoch seconds, UTC)
//! start = end − P
//! ```
//!
//! i.e. the last *complete* period before `now − L`. The alias's value is that period's
//! datapoint; a datapoint of the current, incomplete period is never used. No datapoint →
//! the alias is missing with `no_datapoints` (or takes its `default:`). A lag of a minute or
//! two suits metrics that AWS publishes late (the `AWS/ECS` service metrics).
//!
//! The report records each alias as observed at `end` ([`Window::observed_at`]): cycles that
//! run more often than the period read the same datapoint, and the planner acts on it once.
//!
//! # Failures
//! A failed call marks each alias of its queries `cloud_watch` with the error; a query
//! reported `InternalError`/`Forbidden` marks its own aliases; a call not finished by the
//! cycle's deadline marks its aliases `timeout`. Other calls are unaffected.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StatusCode,
};
use shared::definition::{CloudWatchSource, Statistic};
use shared::messages::MissingReason;
use shared::time::Timestamp;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{Outcome, Target};

/// CloudWatch's limit of queries in one `GetMetricData` call.
pub const MAX_QUERIES_PER_CALL: usize = 500;

/// Calls in flight at once (CloudWatch's default `GetMetricData` quota is 50 per second).
const MAX_CONCURRENT_CALLS: usize = 8;

/// `NextToken` pages followed per call before giving up (a bound on a misbehaving endpoint;
/// a 500-query call over one period never needs more than a few).
const MAX_PAGES: usize = 100;

/// One metric statistic as CloudWatch identifies it; the deduplication key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricRequest {
    /// For example `AWS/ECS`.
    pub namespace: String,
    /// For example `CPUUtilization`.
    pub metric_name: String,
    /// `(name, value)` in file order (CloudWatch matches the exact set).
    pub dimensions: Vec<(String, String)>,
    /// Seconds.
    pub period: u32,
    /// The `Stat`: `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount`, or a percentile.
    pub stat: String,
}

impl MetricRequest {
    /// The request for `stat` of `source`.
    pub fn new(source: &CloudWatchSource, stat: &Statistic) -> Self {
        MetricRequest {
            namespace: source.namespace.clone(),
            metric_name: source.metric_name.clone(),
            dimensions: source
                .dimensions
                .iter()
                .map(|d| (d.name.clone(), d.value.clone()))
                .collect(),
            period: source.period,
            stat: stat.name.clone(),
        }
    }
}

/// The time window of one call, in epoch seconds: `[start, end)`, exactly one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    /// Start of the last complete period (inclusive); its datapoint carries this timestamp.
    pub start: i64,
    /// End of it (exclusive).
    pub end: i64,
}

impl Window {
    /// The last complete period of `period` seconds before `now − lag` (see the module docs).
    pub fn last_complete(now: Timestamp, period: u32, lag: Duration) -> Window {
        let p = i64::from(period.max(1));
        // A lag reaching before the first representable time leaves the earliest window.
        let reference = now.checked_sub(lag).unwrap_or(Timestamp::MIN).as_second();
        let end = reference.div_euclid(p) * p;
        Window {
            start: end - p,
            end,
        }
    }

    /// The time a value read from this window describes: the end of its period. (The
    /// datapoint's own timestamp is the period's *start*; compared with the time of a scaling
    /// made while the next period runs, that would make the next datapoint look older than
    /// the scaling.) Every alias of the window carries it, whatever its outcome.
    pub fn observed_at(&self) -> Timestamp {
        Timestamp::from_second(self.end).unwrap_or(Timestamp::MAX)
    }
}

/// One query of a call: an id unique within the call, what it asks, and who reads the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedQuery {
    /// `q0`, `q1`, ... (CloudWatch ids start with a lower-case letter).
    pub id: String,
    /// The statistic asked.
    pub request: MetricRequest,
    /// Every alias that reads it, with their clusters and services.
    pub targets: Vec<Target>,
}

/// One `GetMetricData` call (followed by its `NextToken` pages).
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCall {
    /// The call's window (all its queries share the period).
    pub window: Window,
    /// At most [`MAX_QUERIES_PER_CALL`].
    pub queries: Vec<PlannedQuery>,
}

impl PlannedCall {
    /// The SDK queries of the call.
    pub fn metric_data_queries(&self) -> Vec<MetricDataQuery> {
        self.queries
            .iter()
            .map(|q| {
                let dimensions = q
                    .request
                    .dimensions
                    .iter()
                    .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                    .collect();
                let metric = Metric::builder()
                    .namespace(&q.request.namespace)
                    .metric_name(&q.request.metric_name)
                    .set_dimensions(Some(dimensions))
                    .build();
                let stat = MetricStat::builder()
                    .metric(metric)
                    .period(i32::try_from(q.request.period).unwrap_or(i32::MAX))
                    .stat(&q.request.stat)
                    .build();
                MetricDataQuery::builder()
                    .id(&q.id)
                    .metric_stat(stat)
                    .return_data(true)
                    .build()
            })
            .collect()
    }

    /// Every target of the call.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.queries.iter().flat_map(|q| q.targets.iter())
    }
}

/// The calls for `items` at `now` (pure): statistics deduplicated, grouped by period,
/// `max_per_call` queries per call (clamped to 1..=[`MAX_QUERIES_PER_CALL`]).
pub fn plan<'a>(
    items: impl IntoIterator<Item = (Target, &'a CloudWatchSource, &'a Statistic)>,
    now: Timestamp,
    lag: Duration,
    max_per_call: usize,
) -> Vec<PlannedCall> {
    let max_per_call = max_per_call.clamp(1, MAX_QUERIES_PER_CALL);
    // period → request → targets; BTreeMaps make the plan deterministic.
    let mut by_period: BTreeMap<u32, BTreeMap<MetricRequest, Vec<Target>>> = BTreeMap::new();
    for (target, source, stat) in items {
        by_period
            .entry(source.period)
            .or_default()
            .entry(MetricRequest::new(source, stat))
            .or_default()
            .push(target);
    }
    let mut calls = Vec::new();
    for (period, requests) in by_period {
        let window = Window::last_complete(now, period, lag);
        let requests: Vec<(MetricRequest, Vec<Target>)> = requests.into_iter().collect();
        for chunk in requests.chunks(max_per_call) {
            let queries = chunk
                .iter()
                .enumerate()
                .map(|(i, (request, targets))| PlannedQuery {
                    id: format!("q{i}"),
                    request: request.clone(),
                    targets: targets.clone(),
                })
                .collect();
            calls.push(PlannedCall { window, queries });
        }
    }
    calls
}

/// What CloudWatch answered for one query id, over all pages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// `(epoch seconds, value)`.
    pub points: Vec<(i64, f64)>,
    /// The last status seen (`Complete`, `PartialData`, `InternalError`, `Forbidden`).
    pub status: Option<StatusCode>,
    /// Messages CloudWatch attached to the result.
    pub messages: Vec<String>,
}

/// The outcome of each target of `call` from the answers (pure).
pub fn interpret(call: &PlannedCall, answers: &HashMap<String, Series>) -> Vec<(Target, Outcome)> {
    let mut out = Vec::new();
    for query in &call.queries {
        let outcome = match answers.get(&query.id) {
            Some(series) => value_in_window(call.window, series),
            None => Err(MissingReason::NoDatapoints),
        };
        out.extend(query.targets.iter().map(|t| (t.clone(), outcome.clone())));
    }
    out
}

/// The period's datapoint: the point whose timestamp falls in `[start, end)` (the earliest, should
/// a service answer more than one).
fn value_in_window(window: Window, series: &Series) -> Outcome {
    let point = series
        .points
        .iter()
        .filter(|(at, value)| (window.start..window.end).contains(at) && value.is_finite())
        .min_by_key(|(at, _)| *at);
    match (point, &series.status) {
        (Some((_, value)), _) => Ok(*value),
        (None, Some(StatusCode::InternalError | StatusCode::Forbidden)) => {
            let status = series.status.as_ref().map(|s| s.as_str()).unwrap_or("");
            let error = if series.messages.is_empty() {
                status.to_owned()
            } else {
                format!("{status}: {}", series.messages.join("; "))
            };
            Err(MissingReason::CloudWatch { error })
        }
        (None, _) => Err(MissingReason::NoDatapoints),
    }
}

/// Sends `calls` (at most a few at a time) and returns every target's outcome. Calls not
/// answered by `deadline` give `timeout` outcomes, counted from `cycle_start`.
pub async fn collect(
    client: &aws_sdk_cloudwatch::Client,
    calls: Vec<PlannedCall>,
    cycle_start: Instant,
    deadline: Instant,
) -> Vec<(Target, Outcome)> {
    let limit = Arc::new(Semaphore::new(MAX_CONCURRENT_CALLS));
    let mut tasks = JoinSet::new();
    let mut pending: Vec<Vec<Target>> = Vec::new();
    for (index, call) in calls.into_iter().enumerate() {
        pending.push(call.targets().cloned().collect());
        let (client, limit) = (client.clone(), limit.clone());
        tasks.spawn(async move {
            let outcomes = tokio::time::timeout_at(deadline, async {
                let _permit = limit.acquire_owned().await;
                run_call(&client, &call).await
            })
            .await;
            (index, outcomes)
        });
    }
    let mut out = Vec::new();
    let mut done = vec![false; pending.len()];
    let timeout = |targets: &[Target], out: &mut Vec<(Target, Outcome)>| {
        let after_secs = round_ms(cycle_start.elapsed());
        out.extend(
            targets
                .iter()
                .map(|t| (t.clone(), Err(MissingReason::Timeout { after_secs }))),
        );
    };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, Ok(outcomes))) => {
                done[index] = true;
                out.extend(outcomes);
            }
            Ok((index, Err(_elapsed))) => {
                done[index] = true;
                tracing::warn!(
                    queries = pending[index].len(),
                    "GetMetricData did not finish before the deadline"
                );
                timeout(&pending[index], &mut out);
            }
            // A panicking task: its targets are reported below as not collected.
            Err(err) => tracing::error!(error = %err, "a GetMetricData task failed"),
        }
    }
    for (index, targets) in pending.iter().enumerate() {
        if !done[index] {
            out.extend(
                targets
                    .iter()
                    .map(|t| (t.clone(), Err(MissingReason::NotCollected))),
            );
        }
    }
    out
}

/// One call and its pages; a failed call gives every target the error.
async fn run_call(
    client: &aws_sdk_cloudwatch::Client,
    call: &PlannedCall,
) -> Vec<(Target, Outcome)> {
    match fetch(client, call).await {
        Ok(answers) => interpret(call, &answers),
        Err(error) => {
            tracing::warn!(
                queries = call.queries.len(),
                period = call.window.end - call.window.start,
                %error,
                "GetMetricData failed"
            );
            call.targets()
                .map(|t| {
                    let reason = MissingReason::CloudWatch {
                        error: error.clone(),
                    };
                    (t.clone(), Err(reason))
                })
                .collect()
        }
    }
}

async fn fetch(
    client: &aws_sdk_cloudwatch::Client,
    call: &PlannedCall,
) -> Result<HashMap<String, Series>, String> {
    let fetched = fetch_pages(client, call, MAX_PAGES).await?;
    if fetched.truncated {
        tracing::warn!(
            pages = MAX_PAGES,
            "GetMetricData kept paginating; using what was read"
        );
    }
    Ok(fetched.answers)
}

/// One call's answers, read page by page.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The series per query id.
    pub answers: HashMap<String, Series>,
    /// Pages read (calls made).
    pub pages: usize,
    /// Whether CloudWatch still had pages after `max_pages`.
    pub truncated: bool,
}

/// `call` sent to GetMetricData, following its pages up to `max_pages`; the error is the SDK's,
/// displayed with its context.
pub async fn fetch_pages(
    client: &aws_sdk_cloudwatch::Client,
    call: &PlannedCall,
    max_pages: usize,
) -> Result<Fetched, String> {
    let queries = call.metric_data_queries();
    let mut fetched = Fetched::default();
    let mut next_token: Option<String> = None;
    while fetched.pages < max_pages {
        let out = client
            .get_metric_data()
            .set_metric_data_queries(Some(queries.clone()))
            .start_time(DateTime::from_secs(call.window.start))
            .end_time(DateTime::from_secs(call.window.end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|e| DisplayErrorContext(e).to_string())?;
        fetched.pages += 1;
        for result in out.metric_data_results() {
            let Some(id) = result.id() else { continue };
            let series = fetched.answers.entry(id.to_owned()).or_default();
            series.points.extend(
                result
                    .timestamps()
                    .iter()
                    .map(DateTime::secs)
                    .zip(result.values().iter().copied()),
            );
            if let Some(status) = result.status_code() {
                series.status = Some(status.clone());
            }
            series.messages.extend(
                result
                    .messages()
                    .iter()
                    .filter_map(|m| m.value().map(str::to_owned)),
            );
        }
        match out.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => return Ok(fetched),
        }
    }
    fetched.truncated = true;
    Ok(fetched)
}

/// Seconds with millisecond precision, for reasons.
pub(crate) fn round_ms(d: Duration) -> f64 {
    (d.as_millis() as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::definition::Dimension as DefDimension;

    fn source(metric: &str, period: u32, stats: &[&str]) -> CloudWatchSource {
        CloudWatchSource {
            namespace: "AWS/ECS".into(),
            metric_name: metric.into(),
            dimensions: vec![
                DefDimension {
                    name: "ClusterName".into(),
                    value: "prod".into(),
                },
                DefDimension {
                    name: "ServiceName".into(),
                    value: "web".into(),
                },
            ],
            period,
            statistics: stats
                .iter()
                .enumerate()
                .map(|(i, s)| Statistic {
                    name: (*s).into(),
                    alias: format!("a{i}"),
                    default: None,
                    path: None,
                })
                .collect(),
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("in range")
    }

    #[test]
    fn the_window_is_the_last_complete_period() {
        // 10:07:30 with 5-minute periods: 10:00–10:05 (10:05–10:10 is still running).
        let now = at(36_450);
        let w = Window::last_complete(now, 300, Duration::ZERO);
        assert_eq!(
            w,
            Window {
                start: 36_000,
                end: 36_300
            }
        );
        // Exactly on a boundary, the period that just ended is complete.
        assert_eq!(
            Window::last_complete(at(36_300), 300, Duration::ZERO),
            Window {
                start: 36_000,
                end: 36_300
            }
        );
        // A lag of 3 minutes moves 10:07:30 back to 10:04:30: 09:55–10:00.
        assert_eq!(
            Window::last_complete(now, 300, Duration::from_secs(180)),
            Window {
                start: 35_700,
                end: 36_000
            }
        );
        assert_eq!(
            Window::last_complete(at(36_450), 60, Duration::ZERO),
            Window {
                start: 36_360,
                end: 36_420
            }
        );
    }

    #[test]
    fn a_window_is_observed_at_its_end() {
        let w = Window::last_complete(at(36_450), 300, Duration::ZERO);
        assert_eq!(w.observed_at(), at(36_300));
        let calls = plan(
            [(
                Target::new("c", "s", "a0"),
                &source("M", 300, &["Average"]),
                &Statistic {
                    name: "Average".into(),
                    alias: "a0".into(),
                    default: None,
                    path: None,
                },
            )],
            at(36_450),
            Duration::from_secs(120),
            MAX_QUERIES_PER_CALL,
        );
        // 10:07:30 − 2 min lag → 10:00–10:05: what the datapoint describes ends at 10:05.
        assert_eq!(calls[0].window.observed_at(), at(36_300));
    }

    #[test]
    fn statistics_pass_through_including_percentiles() {
        let src = source(
            "CPUUtilization",
            60,
            &["Average", "p90", "p99.9", "SampleCount"],
        );
        let items: Vec<_> = src
            .statistics
            .iter()
            .map(|s| (Target::new("prod", "web", &s.alias), &src, s))
            .collect();
        let calls = plan(items, at(36_450), Duration::ZERO, MAX_QUERIES_PER_CALL);
        assert_eq!(calls.len(), 1);
        let queries = calls[0].metric_data_queries();
        let stats: Vec<&str> = queries
            .iter()
            .filter_map(|q| q.metric_stat().and_then(|m| m.stat()))
            .collect();
        // Sorted by the deduplication key (stat names), not file order.
        assert_eq!(stats, ["Average", "SampleCount", "p90", "p99.9"]);
        let first = queries[0].metric_stat().expect("metric stat");
        assert_eq!(first.period(), Some(60));
        let metric = first.metric().expect("metric");
        assert_eq!(metric.namespace(), Some("AWS/ECS"));
        assert_eq!(metric.metric_name(), Some("CPUUtilization"));
        let dims: Vec<(&str, &str)> = metric
            .dimensions()
            .iter()
            .filter_map(|d| Some((d.name()?, d.value()?)))
            .collect();
        assert_eq!(dims, [("ClusterName", "prod"), ("ServiceName", "web")]);
        let ids: Vec<&str> = queries.iter().filter_map(|q| q.id()).collect();
        assert_eq!(ids, ["q0", "q1", "q2", "q3"]);
    }

    #[test]
    fn identical_statistics_are_asked_once_and_calls_hold_500_queries() {
        // 1,200 distinct metrics across 120 services, plus a second alias on one of them.
        let sources: Vec<CloudWatchSource> = (0..1200)
            .map(|i| source(&format!("M{i}"), 300, &["Average"]))
            .collect();
        let mut items: Vec<(Target, &CloudWatchSource, &Statistic)> = sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    Target::new("prod", &format!("svc{}", i / 10), &format!("m{i}")),
                    s,
                    &s.statistics[0],
                )
            })
            .collect();
        items.push((
            Target::new("other", "svc", "again"),
            &sources[7],
            &sources[7].statistics[0],
        ));
        let calls = plan(items, at(36_450), Duration::ZERO, MAX_QUERIES_PER_CALL);
        let sizes: Vec<usize> = calls.iter().map(|c| c.queries.len()).collect();
        assert_eq!(sizes, [500, 500, 200]);
        let shared_query = calls
            .iter()
            .flat_map(|c| c.queries.iter())
            .find(|q| q.request.metric_name == "M7")
            .expect("M7 is asked");
        assert_eq!(shared_query.targets.len(), 2);
        // Ids are unique within each call.
        for call in &calls {
            let mut ids: Vec<&str> = call.queries.iter().map(|q| q.id.as_str()).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), call.queries.len());
        }
    }

    #[test]
    fn periods_get_their_own_windows() {
        let five = source("A", 300, &["Sum"]);
        let one = source("B", 60, &["Sum"]);
        let items = vec![
            (Target::new("c", "s", "five"), &five, &five.statistics[0]),
            (Target::new("c", "s", "one"), &one, &one.statistics[0]),
        ];
        let calls = plan(items, at(36_450), Duration::ZERO, MAX_QUERIES_PER_CALL);
        let windows: Vec<Window> = calls.iter().map(|c| c.window).collect();
        assert_eq!(
            windows,
            [
                Window {
                    start: 36_360,
                    end: 36_420
                },
                Window {
                    start: 36_000,
                    end: 36_300
                }
            ]
        );
    }

    #[test]
    fn answers_become_values_or_reasons() {
        let src = source("CPUUtilization", 300, &["Average", "Maximum", "Minimum"]);
        let items: Vec<_> = src
            .statistics
            .iter()
            .map(|s| (Target::new("prod", "web", &s.alias), &src, s))
            .collect();
        let calls = plan(items, at(36_450), Duration::ZERO, MAX_QUERIES_PER_CALL);
        let call = &calls[0];
        // q0 = Average, q1 = Maximum, q2 = Minimum.
        let mut answers = HashMap::new();
        answers.insert(
            "q0".to_owned(),
            Series {
                // A point of the incomplete period (36_300) is ignored.
                points: vec![(36_000, 42.0), (36_300, 99.0)],
                status: Some(StatusCode::Complete),
                messages: vec![],
            },
        );
        answers.insert(
            "q1".to_owned(),
            Series {
                points: vec![],
                status: Some(StatusCode::InternalError),
                messages: vec!["boom".into()],
            },
        );
        let outcomes: BTreeMap<String, Outcome> = interpret(call, &answers)
            .into_iter()
            .map(|(t, o)| (t.alias, o))
            .collect();
        assert_eq!(outcomes["a0"], Ok(42.0));
        assert_eq!(
            outcomes["a1"],
            Err(MissingReason::CloudWatch {
                error: "InternalError: boom".into()
            })
        );
        assert_eq!(outcomes["a2"], Err(MissingReason::NoDatapoints));
    }
}
