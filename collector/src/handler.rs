//! The Lambda handler: which clusters to collect, the cycle's deadline, and sending one
//! report per cluster to the metrics queue.
//!
//! Events ([`invoke`]):
//! - an EventBridge scheduled event (any EventBridge event): every enabled cluster; the
//!   event's `id` is the cycle id (a retried invocation keeps it);
//! - a direct invoke `{"clusters": ["a", "b"]}` (or `{}`): those clusters (all when absent);
//! - an SQS batch of synthetic reports from the bus: forwarded to the metrics queue
//!   ([`crate::forward`]), the answer lists the batch item failures.
//!
//! Cluster files are loaded once per Lambda instance ([`Deps::new`]). Every definition error
//! is logged at each cycle with its file and position, and that cluster gets no report.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use shared::definition::{ClusterDefinition, LoadReport};
use shared::messages::{report_deduplication_id, MetricsReport};
use shared::time::Timestamp;
use tokio::time::Instant;

use crate::config::CollectorConfig;
use crate::cycle::{self, Cycle, Sources};
use crate::sources::http::{ClientError, HttpCollector};

/// SQS's limit of messages in one `SendMessageBatch`.
const SQS_BATCH: usize = 10;
/// SQS's limit of one message, and of the messages of one batch together (256 KiB: the
/// historical limit, still the default of a queue's `MaximumMessageSize`).
const SQS_MAX_BYTES: usize = 256 * 1024;

/// What invokes the collector.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CollectorEvent {
    /// An EventBridge (scheduled) event.
    Scheduled(Box<EventBridgeEvent>),
    /// A direct invoke.
    Direct(DirectInvoke),
}

/// Anything that invokes the collector.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Invocation {
    /// Synthetic reports from the stack's synthetic-metrics queue (an SQS event source).
    Synthetic(SqsEvent),
    /// A collection cycle: scheduled or direct.
    Cycle(CollectorEvent),
}

/// The answer to an [`Invocation`].
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// The records that were not forwarded (`ReportBatchItemFailures`).
    Synthetic(SqsBatchResponse),
    /// What the cycle did.
    Cycle(CycleSummary),
}

/// The Lambda entry point: forwards synthetic reports, or runs a collection cycle.
pub async fn invoke(event: LambdaEvent<Invocation>, deps: &Deps) -> Result<Response, HandlerError> {
    match event.payload {
        Invocation::Synthetic(batch) => Ok(Response::Synthetic(
            crate::forward::forward(batch, deps).await,
        )),
        Invocation::Cycle(cycle) => handle(LambdaEvent::new(cycle, event.context), deps)
            .await
            .map(Response::Cycle),
    }
}

/// A direct invoke's payload.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectInvoke {
    /// Only these clusters (all enabled ones when absent).
    #[serde(default)]
    pub clusters: Option<Vec<String>>,
}

/// What the handler reaches and knows; built once per Lambda instance.
#[derive(Debug)]
pub struct Deps {
    /// The sources' clients.
    pub sources: Sources,
    /// SQS client for the metrics queue.
    pub sqs: aws_sdk_sqs::Client,
    /// The cluster definitions, loaded once.
    pub definitions: LoadReport,
    /// Settings.
    pub config: CollectorConfig,
}

impl Deps {
    /// Deps from clients and settings; loads the cluster files of `config.clusters_dir`
    /// (`%(VAR)` from the process environment).
    pub fn new(
        cloudwatch: aws_sdk_cloudwatch::Client,
        sqs: aws_sdk_sqs::Client,
        config: CollectorConfig,
    ) -> Result<Self, HandlerError> {
        let definitions = shared::definition::load_dir(&config.clusters_dir, &shared::process_env);
        Self::with_definitions(cloudwatch, sqs, config, definitions)
    }

    /// Deps with definitions already loaded.
    pub fn with_definitions(
        cloudwatch: aws_sdk_cloudwatch::Client,
        sqs: aws_sdk_sqs::Client,
        config: CollectorConfig,
        definitions: LoadReport,
    ) -> Result<Self, HandlerError> {
        let http = HttpCollector::new(config.http.clone())?;
        Ok(Deps {
            sources: Sources {
                cloudwatch,
                http,
                cloudwatch_lag: config.cloudwatch_lag,
            },
            sqs,
            definitions,
            config,
        })
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Some reports could not be sent (the others were).
    #[error(
        "{failed} of {total} metrics reports could not be sent to the metrics queue: {clusters}"
    )]
    Send {
        /// Reports not sent.
        failed: usize,
        /// Reports of the cycle.
        total: usize,
        /// Their clusters, comma-separated.
        clusters: String,
    },
}

/// What a cycle did (the Lambda's response).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CycleSummary {
    /// The cycle id.
    pub cycle_id: String,
    /// Clusters whose report was sent.
    pub reported: Vec<String>,
    /// Files whose definitions did not load (their clusters were skipped).
    pub definition_errors: usize,
    /// Aliases with a value, over all reports.
    pub values: usize,
    /// Aliases without one.
    pub missing: usize,
}

/// Handles one invocation.
pub async fn handle(
    event: LambdaEvent<CollectorEvent>,
    deps: &Deps,
) -> Result<CycleSummary, HandlerError> {
    let now = shared::time::now();
    let (payload, context) = (event.payload, event.context);
    let (cycle_id, only) = match payload {
        CollectorEvent::Scheduled(ev) => (ev.id.clone().filter(|id| !id.is_empty()), None),
        CollectorEvent::Direct(direct) => (None, direct.clusters),
    };
    let cycle_id = cycle_id
        .or_else(|| Some(context.request_id.clone()).filter(|id| !id.is_empty()))
        .unwrap_or_else(|| format!("cycle-{now}"));
    // Milliseconds since the epoch; 0 when unknown (outside Lambda).
    let lambda_deadline = i64::try_from(context.deadline)
        .ok()
        .filter(|ms| *ms > 0)
        .and_then(|ms| Timestamp::from_millisecond(ms).ok());
    let deadline = deadline(lambda_deadline, now, &deps.config);
    let cycle = Cycle {
        id: cycle_id,
        now,
        deadline,
    };
    run_cycle(&cycle, only.as_deref(), deps).await
}

/// The instant collection stops: the Lambda's deadline minus the margin, and never later than
/// `collect_timeout` from now.
pub fn deadline(
    lambda_deadline: Option<Timestamp>,
    now: Timestamp,
    config: &CollectorConfig,
) -> Instant {
    let start = Instant::now();
    let mut budget = config.collect_timeout;
    if let Some(at) = lambda_deadline {
        let remaining = Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO);
        budget = budget.min(remaining.saturating_sub(config.deadline_margin));
    }
    start + budget
}

/// One cycle: log definition errors, collect the selected clusters, send their reports.
pub async fn run_cycle(
    cycle: &Cycle,
    only: Option<&[String]>,
    deps: &Deps,
) -> Result<CycleSummary, HandlerError> {
    for file in &deps.definitions.errors {
        for error in &file.errors {
            tracing::error!(
                cycle_id = %cycle.id,
                cluster = file.cluster.as_deref().unwrap_or(""),
                "cluster definition not loaded: {error}"
            );
        }
    }
    let clusters = select(&deps.definitions, only);
    let reports = cycle::collect(&clusters, cycle, &deps.sources).await;
    let (values, missing) = reports
        .iter()
        .flat_map(|r| r.services.values())
        .fold((0, 0), |(v, m), s| {
            (v + s.values.len(), m + s.missing.len())
        });
    let failed = send_reports(&deps.sqs, &deps.config.metrics_queue_url, &reports).await;
    let reported: Vec<String> = reports
        .iter()
        .map(|r| r.cluster.clone())
        .filter(|c| !failed.contains(c))
        .collect();
    if !failed.is_empty() {
        return Err(HandlerError::Send {
            failed: failed.len(),
            total: reports.len(),
            clusters: failed.join(", "),
        });
    }
    tracing::info!(cycle_id = %cycle.id, reports = reported.len(), "metrics reports sent");
    Ok(CycleSummary {
        cycle_id: cycle.id.clone(),
        reported,
        definition_errors: deps.definitions.errors.len(),
        values,
        missing,
    })
}

/// The enabled clusters, limited to `only` when given (unknown names are logged).
pub fn select<'a>(
    definitions: &'a LoadReport,
    only: Option<&[String]>,
) -> Vec<&'a ClusterDefinition> {
    if let Some(names) = only {
        for name in names {
            let known = definitions.cluster(name).is_some()
                || definitions
                    .errors
                    .iter()
                    .any(|f| f.cluster.as_deref() == Some(name.as_str()));
            if !known {
                tracing::warn!(cluster = %name, "no definition for the requested cluster");
            }
        }
    }
    definitions
        .clusters
        .iter()
        .filter(|c| c.enabled)
        .filter(|c| only.is_none_or(|names| names.contains(&c.name)))
        .collect()
}

/// Sends the reports in as few `SendMessageBatch` calls as SQS allows (see [`pack`]); returns
/// the clusters whose report was not sent (each failure is logged). See [`send`].
pub async fn send_reports(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    reports: &[MetricsReport],
) -> Vec<String> {
    let refs: Vec<&MetricsReport> = reports.iter().collect();
    send(sqs, queue_url, &refs)
        .await
        .into_iter()
        .map(|i| reports[i].cluster.clone())
        .collect()
}

/// Whether `queue_url` names a FIFO queue (SQS requires the `.fifo` suffix).
pub fn is_fifo(queue_url: &str) -> bool {
    queue_url.trim_end_matches('/').ends_with(".fifo")
}

/// Sends each report as one message, batched as SQS allows (see [`pack`]). To a FIFO queue
/// (the stack's metrics queue) each message has `MessageGroupId` = its cluster, so that one
/// cluster's reports are planned one at a time and in order, and `MessageDeduplicationId` =
/// [`report_deduplication_id`] of its cycle and cluster, so that the same cycle sent twice is
/// delivered once. Returns the indices of the reports not sent (each failure is logged).
pub async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    reports: &[&MetricsReport],
) -> Vec<usize> {
    let fifo = is_fifo(queue_url);
    let mut failed = Vec::new();
    let mut encoded: Vec<(usize, String)> = Vec::new();
    for (i, report) in reports.iter().enumerate() {
        match serde_json::to_string(report) {
            Ok(body) => encoded.push((i, body)),
            Err(error) => {
                tracing::error!(cluster = %report.cluster, %error, "metrics report not encoded");
                failed.push(i);
            }
        }
    }
    let cluster = |i: usize| reports[i].cluster.as_str();
    let sizes: Vec<usize> = encoded.iter().map(|(_, body)| body.len()).collect();
    let (batches, too_large) = pack(&sizes);
    for e in too_large {
        let (i, body) = &encoded[e];
        tracing::error!(
            cluster = cluster(*i),
            bytes = body.len(),
            limit = SQS_MAX_BYTES,
            "metrics report larger than an SQS message"
        );
        failed.push(*i);
    }
    for batch in batches {
        let mut entries = Vec::new();
        for (n, &e) in batch.iter().enumerate() {
            let (i, body) = &encoded[e];
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(format!("r{n}"))
                .message_body(body.clone());
            if fifo {
                let report = reports[*i];
                entry = entry
                    .message_group_id(&report.cluster)
                    .message_deduplication_id(report_deduplication_id(
                        &report.cycle_id,
                        &report.cluster,
                    ));
            }
            match entry.build() {
                Ok(entry) => entries.push(entry),
                Err(error) => {
                    tracing::error!(cluster = cluster(*i), %error, "SQS entry not built");
                    failed.push(*i);
                }
            }
        }
        if entries.is_empty() {
            continue;
        }
        // Entry `rN` is the N-th of the batch.
        let report_of = |id: &str| {
            id.strip_prefix('r')
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| batch.get(n))
                .map(|&e| encoded[e].0)
        };
        let ids: Vec<String> = entries.iter().map(|e| e.id().to_owned()).collect();
        match sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => {
                for entry in out.failed() {
                    let Some(i) = report_of(entry.id()) else {
                        tracing::error!(
                            entry = entry.id(),
                            "SQS answered for an entry it was not sent"
                        );
                        continue;
                    };
                    tracing::error!(
                        cluster = cluster(i),
                        code = entry.code(),
                        message = entry.message().unwrap_or(""),
                        "metrics report rejected by SQS"
                    );
                    failed.push(i);
                }
            }
            Err(err) => {
                let error = DisplayErrorContext(err).to_string();
                for i in ids.iter().filter_map(|id| report_of(id)) {
                    tracing::error!(cluster = cluster(i), %error, "SendMessageBatch failed");
                    failed.push(i);
                }
            }
        }
    }
    failed.sort_unstable();
    failed.dedup();
    failed
}

/// Groups messages of `sizes` bytes into batches of at most `SQS_BATCH` (10) messages and
/// `SQS_MAX_BYTES` (256 KiB) in total, in order (pure). Returns the batches (indices) and the
/// messages too large to send at all.
pub fn pack(sizes: &[usize]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut too_large = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut bytes = 0;
    for (i, &size) in sizes.iter().enumerate() {
        if size > SQS_MAX_BYTES {
            too_large.push(i);
            continue;
        }
        if current.len() == SQS_BATCH || bytes + size > SQS_MAX_BYTES {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(i);
        bytes += size;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    (batches, too_large)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_recognised() {
        let scheduled = r#"{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event",
            "source":"aws.events","account":"123456789012","time":"2026-11-29T10:00:00Z","region":"us-east-1",
            "resources":["arn:aws:events:us-east-1:123456789012:rule/collect"],"detail":{}}"#;
        match serde_json::from_str::<CollectorEvent>(scheduled).expect("scheduled") {
            CollectorEvent::Scheduled(ev) => {
                assert_eq!(
                    ev.id.as_deref(),
                    Some("53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa")
                )
            }
            other => panic!("not scheduled: {other:?}"),
        }
        match serde_json::from_str::<CollectorEvent>(r#"{"clusters": ["a", "b"]}"#).expect("direct")
        {
            CollectorEvent::Direct(d) => assert_eq!(d.clusters, Some(vec!["a".into(), "b".into()])),
            other => panic!("not direct: {other:?}"),
        }
        assert!(matches!(
            serde_json::from_str::<CollectorEvent>("{}").expect("empty"),
            CollectorEvent::Direct(DirectInvoke { clusters: None })
        ));
        assert!(serde_json::from_str::<CollectorEvent>(r#"{"cluster": ["a"]}"#).is_err());
    }

    #[test]
    fn batches_hold_ten_messages_and_256_kib() {
        let (batches, too_large) = pack(&[10; 23]);
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 3]);
        assert!(too_large.is_empty());
        let kib = 1024;
        let (batches, too_large) = pack(&[100 * kib, 100 * kib, 100 * kib, 300 * kib, 10 * kib]);
        assert_eq!(batches, [vec![0, 1], vec![2, 4]]);
        assert_eq!(too_large, [3]);
    }

    #[test]
    fn the_deadline_keeps_a_margin() {
        let mut config = CollectorConfig::new("q", "clusters");
        config.deadline_margin = Duration::from_millis(1500);
        config.collect_timeout = Duration::from_secs(60);
        let now = shared::time::now();
        let before = Instant::now();
        let d = deadline(Some(now + Duration::from_secs(10)), now, &config);
        let budget = d - before;
        assert!(
            budget <= Duration::from_millis(8600) && budget > Duration::from_millis(8000),
            "{budget:?}"
        );
        let d = deadline(None, now, &config);
        assert!(d - before >= Duration::from_secs(59));
        let d = deadline(Some(now + Duration::from_millis(500)), now, &config);
        assert!(
            d - before < Duration::from_millis(100),
            "no time left: collect nothing"
        );
    }
}
