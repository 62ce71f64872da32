//! One collection cycle: plan the requests of every source, send them concurrently, and
//! assemble one report per cluster. No definitions are loaded and nothing is sent here.

use std::time::{Duration, SystemTime};

use shared::definition::ClusterDefinition;
use shared::messages::MetricsReport;
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
    /// The clock time the CloudWatch windows are computed from (and `collected_at`).
    pub now: SystemTime,
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
    let collected_at = rfc3339(cycle.now);
    let mut reports = ReportBuilder::new(clusters, &cycle.id, &collected_at);

    let cw_calls = cloudwatch::plan(
        sources::cloudwatch_items(clusters),
        cycle.now,
        sources.cloudwatch_lag,
        cloudwatch::MAX_QUERIES_PER_CALL,
    );
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

/// `2026-11-29T10:27:30.123Z`.
pub fn rfc3339(at: SystemTime) -> String {
    let dt = aws_smithy_types::DateTime::from(at);
    dt.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| dt.secs().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(rfc3339(at), "2026-11-18T11:06:40Z");
    }
}
