//! The planner Lambda's handler: metrics reports in (SQS batch), scaling plans out.
//!
//! Its parts: [`config`] (the environment), [`batch`] (decoding and grouping the records),
//! [`delivery`] (the plans queue and the bus); this module runs them for each batch:
//!
//! 1. every record is decoded ([`decode_body`]) as a metrics report, either bare (from the
//!    collector) or wrapped in an EventBridge envelope (a synthetic report routed from the bus
//!    by a rule: `{"detail-type": "Metrics Report", "source": "ecs-autoscale.synthetic",
//!    "detail": {...}}`); undecodable records and reports for clusters without a loaded
//!    definition become batch item failures (they end in the DLQ), each with one log line
//!    naming the message id;
//! 2. the reports are grouped by cluster ([`sort_batch`]); a cluster whose definition has
//!    `enabled: false` is left alone (its records succeed);
//! 3. per cluster: the reports are merged (newest value of each metric), the live state is
//!    read ([`crate::state_reader`]), the pure core plans, and the plan is
//!    - sent to the executor's FIFO queue (`MessageGroupId` = cluster, `MessageDeduplicationId`
//!      = plan id) when it has actions — dry-run plans too, the executor reports what it would
//!      have done;
//!    - always published on the bus (source `ecs-autoscale`, detail-type `Scaling Plan`,
//!      detail = the plan), so subscribers see every decision record; `has_actions` lets
//!      rules filter the quiet ones.
//!
//! A failure of one cluster (reading, sending, publishing) fails only that cluster's records;
//! the others proceed. A retried batch re-plans; an identical plan has the same id, so the FIFO
//! queue's deduplication drops the second copy within its 5-minute window. The response lists
//! the failed message ids, so the event source mapping needs `ReportBatchItemFailures`
//! (without it Lambda ignores the list and deletes the whole batch).
//!
//! Clusters are planned one after the other (a batch rarely holds more than a few). A plan
//! larger than an EventBridge event is published without its structured decision detail
//! ([`event_detail`]); the queue always gets it whole.

pub mod batch;
pub mod config;
pub mod delivery;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_ecs::error::DisplayErrorContext;
use shared::aws::AwsClients;
use shared::definition::{ClusterDefinition, LoadReport};
use shared::messages::MetricsReport;
use shared::time::Timestamp;

pub use batch::{decode_body, sort_batch, Accepted, Batch, RecordError, Rejected};
pub use config::{Config, ConfigError};
pub use delivery::{deliver, event_detail, plan_line, Delivered, MAX_EVENT_DETAIL_BYTES};

use crate::state_reader::{read_cluster_state, ReadError, TaskDefinitionCache};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything the handler needs, built once per process.
#[derive(Debug)]
pub struct Deps {
    /// AWS clients.
    pub clients: AwsClients,
    /// The cluster files loaded at start (valid clusters, and the errors of the others).
    pub definitions: LoadReport,
    /// The executor's FIFO queue.
    pub plans_queue_url: String,
    /// The EventBridge bus.
    pub bus_name: String,
    /// Task definition sizes, kept across invocations (revisions are immutable).
    pub task_definitions: TaskDefinitionCache,
}

impl Deps {
    /// Dependencies with an empty task definition cache.
    pub fn new(
        clients: AwsClients,
        definitions: LoadReport,
        plans_queue_url: impl Into<String>,
        bus_name: impl Into<String>,
    ) -> Self {
        Deps {
            clients,
            definitions,
            plans_queue_url: plans_queue_url.into(),
            bus_name: bus_name.into(),
            task_definitions: TaskDefinitionCache::new(),
        }
    }
}

/// Why a cluster's plan could not be made or delivered.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Reading the live state failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The core panicked (a bug): this cluster fails, the others are still planned.
    #[error("cluster `{cluster}`: the planner core panicked: {message}")]
    PlannerPanicked {
        /// Cluster.
        cluster: String,
        /// The panic message.
        message: String,
    },
    /// The plan could not be serialised.
    #[error("cluster `{cluster}`: plan {plan_id} could not be serialised")]
    Encode {
        /// Cluster.
        cluster: String,
        /// Plan id.
        plan_id: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// SendMessage to the plans queue failed.
    #[error("cluster `{cluster}`: SendMessage of plan {plan_id} to the plans queue failed")]
    Send {
        /// Cluster.
        cluster: String,
        /// Plan id.
        plan_id: String,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
    /// PutEvents failed.
    #[error("cluster `{cluster}`: PutEvents of plan {plan_id} failed")]
    Publish {
        /// Cluster.
        cluster: String,
        /// Plan id.
        plan_id: String,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
    /// The bus refused the event.
    #[error("cluster `{cluster}`: the bus rejected plan {plan_id}: {code}: {message}")]
    PublishRejected {
        /// Cluster.
        cluster: String,
        /// Plan id.
        plan_id: String,
        /// EventBridge error code.
        code: String,
        /// EventBridge error message.
        message: String,
    },
}

/// The Lambda handler: see the module docs.
pub async fn handle(event: SqsEvent, deps: &Deps) -> SqsBatchResponse {
    handle_at(event, deps, shared::time::now()).await
}

/// [`handle`] at a given time (tests).
pub async fn handle_at(event: SqsEvent, deps: &Deps, now: Timestamp) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let batch = sort_batch(&event.records, &|name| {
        deps.definitions.cluster(name).is_some()
    });
    for rejected in batch.rejected {
        let file_failed = |name: &str| {
            deps.definitions
                .errors
                .iter()
                .any(|f| f.cluster.as_deref() == Some(name))
        };
        let hint = match &rejected.error {
            RecordError::UnknownCluster(name) if file_failed(name) => {
                " (its file has errors, logged at start)"
            }
            _ => "",
        };
        tracing::error!(
            message_id = rejected.message_id.as_str(),
            "rejected message {}: {}{hint}",
            rejected.message_id,
            rejected.error
        );
        response.add_failure(rejected.message_id);
    }

    for (cluster, records) in batch.clusters {
        let Some(definition) = deps.definitions.cluster(&cluster) else {
            continue; // sort_batch only accepts known clusters
        };
        if !definition.enabled {
            tracing::info!(
                cluster = cluster.as_str(),
                "cluster {cluster} is disabled (`enabled: false`); {} report(s) ignored",
                records.len()
            );
            continue;
        }
        let reports: Vec<MetricsReport> = records.iter().map(|r| r.report.clone()).collect();
        match plan_and_deliver(deps, definition, &reports, now).await {
            Ok(delivered) => delivery::log_plan(&delivered),
            Err(err) => {
                tracing::error!(
                    cluster = cluster.as_str(),
                    "no plan for cluster {cluster}; its {} message(s) will be retried: {}",
                    records.len(),
                    DisplayErrorContext(&err)
                );
                for r in records {
                    response.add_failure(r.message_id);
                }
            }
        }
    }
    response
}

/// Merges `reports`, reads the state, plans and delivers the plan for one cluster.
pub async fn plan_and_deliver(
    deps: &Deps,
    definition: &ClusterDefinition,
    reports: &[MetricsReport],
    now: Timestamp,
) -> Result<Delivered, ClusterError> {
    let (metrics, cycle_ids) = crate::merge_reports(reports);
    let read = read_cluster_state(&deps.clients, definition, &deps.task_definitions).await?;
    for missing in &read.missing_services {
        tracing::warn!(
            cluster = definition.name.as_str(),
            service = missing.name.as_str(),
            "service {} of cluster {} is not in ECS ({}); left out of the plan",
            missing.name,
            definition.name,
            missing.reason
        );
    }
    if read.state.group.is_none() {
        tracing::warn!(
            cluster = definition.name.as_str(),
            "Auto Scaling group {} of cluster {} not found; the plan leaves instances alone",
            definition.autoscale_group,
            definition.name
        );
    }
    tracing::debug!(
        cluster = definition.name.as_str(),
        services = read.state.services.len(),
        instances = read.state.instances.len(),
        tasks_listed = read.tasks_listed,
        "state read"
    );
    // The core is pure and must not panic; if it does on one cluster's state, only that
    // cluster's records fail (the panic message is logged), the others are still planned.
    let planned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::plan(definition, &metrics, &read.state, now)
    }));
    let mut plan = planned.map_err(|panic| ClusterError::PlannerPanicked {
        cluster: definition.name.clone(),
        message: panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned()),
    })?;
    // The core leaves them to the caller (they are not part of the plan id, so a retried
    // batch that decides the same deduplicates on the FIFO queue).
    plan.metrics_cycle_ids = cycle_ids;
    let sent_to_queue = deliver(deps, &plan).await?;
    // Decision metrics for the dashboard (CloudWatch Embedded Metric Format), once delivered.
    shared::emf::emit(&crate::emf::lines(
        &read.state,
        &plan,
        shared::emf::timestamp_ms(now),
    ));
    Ok(Delivered {
        plan,
        sent_to_queue,
    })
}
