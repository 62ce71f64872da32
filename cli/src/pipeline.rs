//! The local pipeline: what AWS does around the three Lambdas, played in this process with the
//! Lambdas' own handlers and the stack's real queues and bus.
//!
//! One [`Pipeline::cycle`]:
//!
//! 0. what is waiting on the queues (synthetic reports injected since the last cycle,
//!    redeliveries) is delivered first, as the mappings on AWS would have done in the meantime;
//! 1. **the schedule**: the collector's cycle (`collector::handler::run_cycle`), which collects
//!    every enabled cluster (or the selected ones) and sends one report per cluster to the
//!    metrics FIFO queue (message group = cluster);
//! 2. **the metrics queue's event source mapping**: batches of up to 10 messages are received
//!    and given to the planner's handler; the records it does not list as batch item failures
//!    are deleted, the failures are left on the queue: they come back after the queue's
//!    visibility timeout (and reach its DLQ after `maxReceiveCount`), as on AWS (FIFO: a
//!    message group with a message in flight or left is not delivered meanwhile);
//! 3. **the plans FIFO queue's mapping**: the same with the executor's handler.
//!
//! Synthetic reports injected on the bus reach the stack's synthetic-metrics queue through its
//! rule; **that queue's mapping** (played in step 0, when its URL is given) hands them to the
//! collector, which forwards them to the metrics queue with their cluster's message group
//! (`collector::forward`), and they are planned in step 2 like the collector's.
//!
//! The three functions run at the cycle's clock (`now`): the collector's windows and
//! `collected_at`, the planner's judgement of report ages and plan times, the executor's of
//! plan expiry. The demo compresses time with it; `run` passes the real time.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Result;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use collector::cycle::Cycle;
use collector::CollectorConfig;
use shared::aws::AwsClients;
use shared::time::Timestamp;

use crate::aws::call_failed;
use crate::CliError;

/// Messages per batch (the template's `BatchSize` for both mappings).
pub const BATCH_SIZE: i32 = 10;

/// Where the pipeline's pieces are.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Cluster files.
    pub clusters_dir: PathBuf,
    /// The metrics queue (collector → planner).
    pub metrics_queue_url: String,
    /// The plans FIFO queue (planner → executor).
    pub plans_queue_url: String,
    /// The event bus.
    pub bus: String,
    /// Only these clusters are collected (every enabled one when empty).
    pub clusters: Vec<String>,
    /// Every plan is applied as a dry run (the executor's `DRY_RUN`).
    pub dry_run: bool,
    /// The queue the bus sends synthetic reports to (the stack's `SyntheticQueueUrl`); its
    /// mapping is not played when absent.
    pub synthetic_queue_url: Option<String>,
}

/// What a batch delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Messages given to the handler.
    pub received: usize,
    /// Messages the handler returned as batch item failures (left on the queue).
    pub failed: usize,
}

impl Delivery {
    /// Messages the handler took (received and not returned).
    pub fn done(&self) -> usize {
        self.received - self.failed
    }
}

impl std::ops::Add for Delivery {
    type Output = Delivery;
    fn add(self, other: Delivery) -> Delivery {
        Delivery {
            received: self.received + other.received,
            failed: self.failed + other.failed,
        }
    }
}

/// What one cycle did.
#[derive(Debug, Clone, Default)]
pub struct CycleResult {
    /// The collection cycle's id.
    pub cycle_id: String,
    /// Clusters whose metrics report was sent.
    pub reported: Vec<String>,
    /// Aliases with a value / without one, over the reports.
    pub values: usize,
    /// See `values`.
    pub missing: usize,
    /// The collector's error, if it failed (the rest of the cycle still runs).
    pub collect_error: Option<String>,
    /// Synthetic-metrics queue → the collector's forwarder.
    pub synthetic: Delivery,
    /// Metrics queue → planner.
    pub metrics: Delivery,
    /// Plans queue → executor.
    pub plans: Delivery,
}

/// The three handlers' dependencies, built once.
pub struct Pipeline {
    clients: AwsClients,
    collector: collector::Deps,
    planner: planner::handler::Deps,
    executor: executor::Deps,
    config: PipelineConfig,
}

impl Pipeline {
    /// Loads the cluster files (once, as each Lambda does at start) and builds the handlers'
    /// dependencies. Unknown `config.clusters` are an error (exit code 1).
    pub fn new(clients: AwsClients, config: PipelineConfig) -> Result<Pipeline> {
        let definitions = crate::clusters::load(&config.clusters_dir)?;
        for file in &definitions.errors {
            for e in &file.errors {
                eprintln!("warning: cluster file not loaded: {e}");
            }
        }
        for name in &config.clusters {
            crate::clusters::find(&definitions, name, &config.clusters_dir)?;
        }
        if definitions.clusters.is_empty() {
            return Err(CliError::problem(format!(
                "no cluster file loaded from `{}`",
                config.clusters_dir.display()
            ))
            .hint("pass `--clusters-dir DIR` or set CLUSTERS_DIR")
            .into());
        }
        let executor_definitions = definitions.clusters.clone();
        let planner_definitions = crate::clusters::load(&config.clusters_dir)?;
        let collector = collector::Deps::with_definitions(
            clients.cloudwatch.clone(),
            clients.sqs.clone(),
            CollectorConfig::new(&config.metrics_queue_url, &config.clusters_dir),
            definitions,
        )
        .map_err(|e| CliError::failure(format!("starting the collector: {e}")))?;
        let planner = planner::handler::Deps::new(
            clients.clone(),
            planner_definitions,
            &config.plans_queue_url,
            &config.bus,
        );
        let executor = executor::Deps {
            clients: clients.clone(),
            bus_name: config.bus.clone(),
            dry_run_env: config.dry_run,
            definitions: executor_definitions,
        };
        Ok(Pipeline {
            clients,
            collector,
            planner,
            executor,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The clients.
    pub fn clients(&self) -> &AwsClients {
        &self.clients
    }

    /// The loaded cluster definitions.
    pub fn definitions(&self) -> &shared::definition::LoadReport {
        &self.planner.definitions
    }

    /// One whole cycle at `now` (the clock the collector's CloudWatch windows are computed
    /// from; `shared::time::now()` except in the demo, which compresses time).
    pub async fn cycle(&self, id: &str, now: Timestamp) -> Result<CycleResult> {
        let mut result = CycleResult {
            cycle_id: id.to_owned(),
            ..CycleResult::default()
        };
        // Reports that arrived since the last cycle (injected on the bus, redeliveries): on AWS
        // the mappings hand them on within seconds, not at the next schedule.
        result.synthetic = self.deliver_synthetic().await?;
        let pending_metrics = self.deliver_metrics(now).await?;
        let pending_plans = self.deliver_plans(now).await?;
        let cycle = Cycle {
            id: id.to_owned(),
            now,
            deadline: tokio::time::Instant::now() + self.collector.config.collect_timeout,
        };
        let only = (!self.config.clusters.is_empty()).then_some(self.config.clusters.as_slice());
        match collector::handler::run_cycle(&cycle, only, &self.collector).await {
            Ok(summary) => {
                result.reported = summary.reported;
                result.values = summary.values;
                result.missing = summary.missing;
            }
            Err(e) => result.collect_error = Some(shared::redact::redact_text(&e.to_string())),
        }
        result.metrics = pending_metrics + self.deliver_metrics(now).await?;
        result.plans = pending_plans + self.deliver_plans(now).await?;
        Ok(result)
    }

    /// The synthetic-metrics queue's event source mapping (to the collector, which forwards
    /// each report to the metrics queue), until the queue has no visible message; nothing
    /// without its URL.
    pub async fn deliver_synthetic(&self) -> Result<Delivery> {
        let Some(url) = self.config.synthetic_queue_url.as_deref() else {
            return Ok(Delivery::default());
        };
        let collector = &self.collector;
        deliver(&self.clients.sqs, url, |event| {
            collector::forward::forward(event, collector)
        })
        .await
    }

    /// The metrics queue's event source mapping at `now`, until the queue has no visible
    /// message.
    pub async fn deliver_metrics(&self, now: Timestamp) -> Result<Delivery> {
        let planner = &self.planner;
        deliver(&self.clients.sqs, &self.config.metrics_queue_url, |event| {
            planner::handler::handle_at(event, planner, now)
        })
        .await
    }

    /// The plans queue's event source mapping at `now`, until the queue has no visible
    /// message.
    pub async fn deliver_plans(&self, now: Timestamp) -> Result<Delivery> {
        let executor = &self.executor;
        deliver(&self.clients.sqs, &self.config.plans_queue_url, |event| {
            executor::handler::handle_at(event, executor, now)
        })
        .await
    }
}

/// Receives batches from `queue_url` and hands them to `handler` like an SQS event source
/// mapping with `ReportBatchItemFailures`: successes are deleted, failures left.
pub async fn deliver<F, Fut>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    handler: F,
) -> Result<Delivery>
where
    F: Fn(SqsEvent) -> Fut,
    Fut: std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse>,
{
    let mut total = Delivery::default();
    let arn = queue_arn(queue_url);
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(BATCH_SIZE)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| call_failed(&format!("ReceiveMessage {queue_url}"), e))?;
        let messages = out.messages();
        if messages.is_empty() {
            return Ok(total);
        }
        let mut event = SqsEvent::default();
        event.records = messages.iter().map(|m| record(m, &arn)).collect();
        let response = handler(event).await;
        let failed: HashSet<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        // An empty identifier fails the whole batch, as Lambda does.
        let whole_batch_failed = failed.contains("");
        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                !whole_batch_failed && !failed.contains(m.message_id().unwrap_or_default())
            })
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        total.received += messages.len();
        total.failed += messages.len() - done.len();
        if !done.is_empty() {
            sqs.delete_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(done))
                .send()
                .await
                .map_err(|e| call_failed(&format!("DeleteMessageBatch {queue_url}"), e))?;
        }
    }
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME` from a queue URL `https://HOST/ACCOUNT/NAME` (best effort:
/// the handlers only log it).
fn queue_arn(url: &str) -> String {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let name = parts.next().unwrap_or_default();
    let account = parts.next().unwrap_or_default();
    format!("arn:aws:sqs:local:{account}:{name}")
}

/// An SQS message as Lambda hands it to a function.
fn record(m: &Message, arn: &str) -> SqsMessage {
    let mut r = SqsMessage::default();
    r.message_id = m.message_id().map(str::to_owned);
    r.receipt_handle = m.receipt_handle().map(str::to_owned);
    r.body = m.body().map(str::to_owned);
    r.md5_of_body = m.md5_of_body().map(str::to_owned);
    if let Some(attributes) = m.attributes() {
        r.attributes = attributes
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
            .collect();
    }
    r.event_source = Some("aws:sqs".to_owned());
    r.event_source_arn = Some(arn.to_owned());
    r
}
