//! One collection cycle: plan the requests of every source, send them concurrently, and
//! assemble one report per cluster. No definitions are loaded and nothing is sent here.

use std::time::Duration;

use shared::definition::ClusterDefinition;
use shared::messages::MetricsReport;
use shared::time::Timestamp;
use tokio::time::Instant;

use crate::report::ReportBuilder;
use crate::sources::{self, cloudwatch, http};

/// What a cycle needs to reach the sources.
#[derive(Debug, Clone)]
pub struct Sources {
    /// CloudWatch client.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// HTTP client and settings.
    pub http: http::HttpCollector,
    /// See [`cloudwatch`]'s window.
    pub cloudwatch_lag: Duration,
}

/// The identity and time bounds of a cycle.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// Shared by the reports of the cycle.
    pub id: String,
    /// The clock time the CloudWatch windows are computed from, and `collected_at` (to the
    /// microsecond, see [`shared::time`]).
    pub now: Timestamp,
    /// Collection stops here; unanswered aliases are `timeout` or `not_collected`.
    pub deadline: Instant,
}

/// Collects the metrics of `clusters` (already filtered to the ones to collect) and returns one
/// report per cluster, in name order.
pub async fn collect(
    clusters: &[&ClusterDefinition],
    cycle: &Cycle,
    sources: &Sources,
) -> Vec<MetricsReport> {
    let started = Instant::now();
    let mut reports = ReportBuilder::new(clusters, &cycle.id, cycle.now);

    let cw_calls = cloudwatch::plan(
        sources::cloudwatch_items(clusters),
        cycle.now,
        sources.cloudwatch_lag,
        cloudwatch::MAX_QUERIES_PER_CALL,
    );
    for call in &cw_calls {
        for target in call.targets() {
            reports.observe(target, call.window.observed_at());
        }
    }
    let http_requests = http::plan(sources::http_items(clusters));
    tracing::info!(
        cycle_id = %cycle.id,
        clusters = clusters.len(),
        cloudwatch_calls = cw_calls.len(),
        cloudwatch_queries = cw_calls.iter().map(|c| c.queries.len()).sum::<usize>(),
        http_requests = http_requests.len(),
        "collecting"
    );
    let (cw, web) = tokio::join!(
        cloudwatch::collect(&sources.cloudwatch, cw_calls, started, cycle.deadline),
        sources.http.collect(http_requests, cycle.deadline),
    );
    reports.extend(cw);
    reports.extend(web);
    let reports = reports.finish();
    let (values, missing) = reports
        .iter()
        .flat_map(|r| r.services.values())
        .fold((0, 0), |(v, m), s| {
            (v + s.values.len(), m + s.missing.len())
        });
    tracing::info!(
        cycle_id = %cycle.id,
        values,
        missing,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "collected"
    );
    reports
}
