//! The planner Lambda's handler: metrics reports in (SQS batch), scaling plans out.
//!
//! Its parts: [`config`] (the environment), [`batch`] (decoding and grouping the records),
//! [`delivery`] (the plans queue and the bus), [`observer`] (a test hook around planning);
//! this module runs them for each batch:
//!
//! 1. every record is decoded ([`decode_body`]) as a metrics report, bare (the collector's,
//!    and synthetic reports the collector forwarded) or wrapped in an EventBridge envelope;
//!    undecodable records (not JSON, another `schema_version`, a missing field, a time that
//!    does not parse) and reports for clusters without a loaded definition become batch item
//!    failures (they end in the DLQ), each with one log line naming the message id and the
//!    field; the other records of the batch go on;
//! 2. the reports are grouped by cluster ([`sort_batch`]); a cluster whose definition has
//!    `enabled: false` is left alone (its records succeed);
//! 3. per cluster: reports too old or dated in the future are left out and named in the
//!    record, the others are merged (newest value of each metric), the live state is read
//!    ([`crate::state_reader`]), the pure core plans ([`crate::plan_delivery`]), and the plan is
//!    - sent to the executor's FIFO queue (`MessageGroupId` = cluster, `MessageDeduplicationId`
//!      = the plan's `delivery_id`) when it has actions — dry-run plans too, the executor
//!      reports what it would have done;
//!    - always published on the bus (source `ecs-autoscale`, detail-type `Scaling Plan`,
//!      detail = the plan), so subscribers see every decision record; `has_actions` lets
//!      rules filter the quiet ones.
//!
//! **Serialization.** The metrics queue is FIFO with one message group per cluster: SQS hands
//! a group's messages to one invocation at a time (a group with messages in flight is held
//! back), so one cluster is never planned by two invocations at once, while other clusters
//! are planned concurrently.
//!
//! A failure of one cluster (reading, sending, publishing) fails all of that cluster's records
//! (one message group: they come back together, in order); the others proceed. A retried
//! batch re-plans the same reports: same `delivery_id`, so the FIFO queue drops the second
//! copy within its 5-minute window, while the next cycle's plan, even an identical decision,
//! is a new delivery. The response lists the failed message ids, so the event source mapping
//! needs `ReportBatchItemFailures` (without it Lambda ignores the list and deletes the whole
//! batch).
//!
//! Clusters of a batch are planned one after the other (a batch rarely holds more than a few).
//! A plan larger than an EventBridge event is published without its structured decision
//! detail ([`event_detail`]); the queue always gets it whole.

pub mod batch;
pub mod config;
pub mod delivery;
pub mod observer;

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_ecs::error::DisplayErrorContext;
use shared::aws::AwsClients;
use shared::definition::{ClusterDefinition, LoadReport};
use shared::messages::MetricsReport;
use shared::time::Timestamp;

pub use batch::{decode_body, sort_batch, Accepted, Batch, RecordError, Rejected};
pub use config::{Config, ConfigError};
pub use delivery::{deliver, event_detail, plan_line, Delivered, MAX_EVENT_DETAIL_BYTES};
pub use observer::PlanningObserver;

use crate::decide::DeliveryRules;
use crate::state_reader::{read_cluster_state_at, ReadError, TaskDefinitionCache};

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
    /// Which reports are current, and how long a plan lives (`METRICS_MAX_AGE_SECS`,
    /// `PLAN_TTL_SECS`).
    pub delivery: DeliveryRules,
    /// Test hook around each cluster's planning; `None` in production.
    pub observer: Option<Arc<dyn PlanningObserver>>,
}

impl Deps {
    /// Dependencies with an empty task definition cache and the default [`DeliveryRules`].
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
            delivery: DeliveryRules::default(),
            observer: None,
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
        if let Some(observer) = &deps.observer {
            observer.started(&cluster).await;
        }
        let planned = plan_and_deliver(deps, definition, &reports, now).await;
        if let Some(observer) = &deps.observer {
            observer.finished(&cluster);
        }
        match planned {
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

/// Reads the state, plans the delivery `reports` ([`crate::plan_delivery`]: the current
/// reports merged) and delivers the plan, for one cluster.
pub async fn plan_and_deliver(
    deps: &Deps,
    definition: &ClusterDefinition,
    reports: &[MetricsReport],
    now: Timestamp,
) -> Result<Delivered, ClusterError> {
    let read =
        read_cluster_state_at(&deps.clients, definition, &deps.task_definitions, now).await?;
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
        crate::plan_delivery(definition, reports, &read.state, now, &deps.delivery)
    }));
    let plan = planned.map_err(|panic| ClusterError::PlannerPanicked {
        cluster: definition.name.clone(),
        message: panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned()),
    })?;
    for ignored in &plan.decisions.detail.cluster {
        if let shared::messages::Reason::ReportIgnored { cycle_id, .. } = ignored {
            tracing::warn!(
                cluster = definition.name.as_str(),
                cycle_id = cycle_id.as_str(),
                "{ignored}"
            );
        }
    }
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
