//! The planner Lambda's handler: metrics reports in (SQS batch), scaling plans out.
//!
//! For each batch:
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_ecs::error::DisplayErrorContext;
use shared::aws::AwsClients;
use shared::definition::{ClusterDefinition, LoadReport};
use shared::messages::{
    DecodeError, MetricsReport, ScalingPlan, EVENT_SOURCE, METRICS_REPORT_DETAIL_TYPE,
    PLAN_DETAIL_TYPE,
};
use shared::time::Timestamp;

use crate::state_reader::{read_cluster_state, ReadError, TaskDefinitionCache};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Environment variable: URL of the executor's FIFO plans queue (required).
pub const PLANS_QUEUE_URL_VAR: &str = "PLANS_QUEUE_URL";
/// Environment variable: name (or ARN) of the EventBridge bus plans are published on (required).
pub const EVENT_BUS_NAME_VAR: &str = "EVENT_BUS_NAME";
/// Environment variable: directory of the cluster files (optional, see [`Config::from_env`]).
pub const CLUSTERS_DIR_VAR: &str = "CLUSTERS_DIR";

/// What the planner reads from its environment at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `PLANS_QUEUE_URL`.
    pub plans_queue_url: String,
    /// `EVENT_BUS_NAME`.
    pub bus_name: String,
    /// `CLUSTERS_DIR`, or its default.
    pub clusters_dir: PathBuf,
}

/// A required variable is missing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("environment variable {0} is not set (or empty)")]
pub struct ConfigError(pub &'static str);

impl Config {
    /// Reads the configuration through `env` (the process environment in `main`).
    ///
    /// `CLUSTERS_DIR` defaults to `$LAMBDA_TASK_ROOT/clusters` on Lambda (`/var/task/clusters`,
    /// where the deployment package puts the files), else to `clusters` next to the binary
    /// (`exe_dir`), else `clusters` in the working directory.
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
        exe_dir: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let required = |name: &'static str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError(name))
        };
        let clusters_dir = match env(CLUSTERS_DIR_VAR).filter(|v| !v.trim().is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => match env("LAMBDA_TASK_ROOT").filter(|v| !v.trim().is_empty()) {
                Some(root) => Path::new(&root).join("clusters"),
                None => exe_dir.map_or_else(|| PathBuf::from("clusters"), |d| d.join("clusters")),
            },
        };
        Ok(Config {
            plans_queue_url: required(PLANS_QUEUE_URL_VAR)?,
            bus_name: required(EVENT_BUS_NAME_VAR)?,
            clusters_dir,
        })
    }
}

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

/// Why a record is rejected (reported as a batch item failure).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record has no body.
    #[error("the message has no body")]
    NoBody,
    /// The body is not a metrics report.
    #[error(transparent)]
    Undecodable(#[from] DecodeError),
    /// An EventBridge envelope of another kind of event.
    #[error("an EventBridge event of detail-type `{0}`, expected `{METRICS_REPORT_DETAIL_TYPE}`")]
    WrongDetailType(String),
    /// No loaded definition for the report's cluster.
    #[error("no cluster definition `{0}` is loaded")]
    UnknownCluster(String),
}

/// Reads a record body: a metrics report, or an EventBridge event whose `detail` is one.
pub fn decode_body(body: &str) -> Result<MetricsReport, RecordError> {
    // An envelope is recognised by its `detail-type` and `detail` keys; anything else is read
    // as a bare report, so that its decoding error is about the report.
    if let Ok(serde_json::Value::Object(object)) = serde_json::from_str(body) {
        if let (Some(kind), Some(detail)) = (object.get("detail-type"), object.get("detail")) {
            let kind = kind.as_str().unwrap_or_default();
            if kind != METRICS_REPORT_DETAIL_TYPE {
                return Err(RecordError::WrongDetailType(kind.to_owned()));
            }
            return Ok(MetricsReport::from_json(&detail.to_string())?);
        }
    }
    Ok(MetricsReport::from_json(body)?)
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The SQS message id.
    pub message_id: String,
    /// Its report.
    pub report: MetricsReport,
}

/// A record that is reported as a batch item failure.
#[derive(Debug)]
pub struct Rejected {
    /// The SQS message id.
    pub message_id: String,
    /// Why.
    pub error: RecordError,
}

/// A batch sorted by cluster.
#[derive(Debug, Default)]
pub struct Batch {
    /// Decoded reports of known clusters, by cluster name, in batch order.
    pub clusters: BTreeMap<String, Vec<Accepted>>,
    /// Records that are failures.
    pub rejected: Vec<Rejected>,
}

/// Decodes every record and groups the reports by cluster; reports for clusters `is_known`
/// rejects become [`RecordError::UnknownCluster`].
pub fn sort_batch(records: &[SqsMessage], is_known: &dyn Fn(&str) -> bool) -> Batch {
    let mut batch = Batch::default();
    for record in records {
        // Lambda always sets the id; an empty identifier in the response fails the whole
        // batch, which is the safe outcome for a record we cannot name.
        let message_id = record.message_id.clone().unwrap_or_default();
        let decoded = record
            .body
            .as_deref()
            .ok_or(RecordError::NoBody)
            .and_then(decode_body)
            .and_then(|report| {
                if is_known(&report.cluster) {
                    Ok(report)
                } else {
                    Err(RecordError::UnknownCluster(report.cluster))
                }
            });
        match decoded {
            Ok(report) => batch
                .clusters
                .entry(report.cluster.clone())
                .or_default()
                .push(Accepted { message_id, report }),
            Err(error) => batch.rejected.push(Rejected { message_id, error }),
        }
    }
    batch
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

/// What happened to one cluster's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    /// The plan.
    pub plan: ScalingPlan,
    /// Whether it was sent to the plans queue (only plans with actions are).
    pub sent_to_queue: bool,
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
            Ok(delivered) => log_plan(&delivered),
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
    shared::emf::emit(&shared::emf::planner_lines(
        &read.state,
        &plan,
        shared::emf::timestamp_ms(now),
    ));
    Ok(Delivered {
        plan,
        sent_to_queue,
    })
}

/// Sends `plan` to the plans queue when it has actions, and publishes it on the bus always.
/// Returns whether it was sent to the queue.
pub async fn deliver(deps: &Deps, plan: &ScalingPlan) -> Result<bool, ClusterError> {
    let cluster = plan.cluster.clone();
    let plan_id = plan.plan_id.clone();
    let body = serde_json::to_string(plan).map_err(|source| ClusterError::Encode {
        cluster: cluster.clone(),
        plan_id: plan_id.clone(),
        source,
    })?;
    // Queue first: the executor matters more than the notification, and a retry after a
    // failed publish re-sends a plan the FIFO queue deduplicates.
    if plan.has_actions {
        deps.clients
            .sqs
            .send_message()
            .queue_url(&deps.plans_queue_url)
            .message_body(&body)
            .message_group_id(&plan.cluster)
            .message_deduplication_id(&plan.plan_id)
            .send()
            .await
            .map_err(|e| ClusterError::Send {
                cluster: cluster.clone(),
                plan_id: plan_id.clone(),
                source: Box::new(e),
            })?;
    }
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(&deps.bus_name)
        .source(EVENT_SOURCE)
        .detail_type(PLAN_DETAIL_TYPE)
        .detail(event_detail(plan, body))
        .build();
    let out = deps
        .clients
        .eventbridge
        .put_events()
        .entries(entry)
        .send()
        .await
        .map_err(|e| ClusterError::Publish {
            cluster: cluster.clone(),
            plan_id: plan_id.clone(),
            source: Box::new(e),
        })?;
    if out.failed_entry_count() > 0 {
        let failed = out.entries().iter().find(|e| e.error_code().is_some());
        return Err(ClusterError::PublishRejected {
            cluster,
            plan_id,
            code: failed
                .and_then(|e| e.error_code())
                .unwrap_or("unknown")
                .to_owned(),
            message: failed
                .and_then(|e| e.error_message())
                .unwrap_or_default()
                .to_owned(),
        });
    }
    Ok(plan.has_actions)
}

/// EventBridge's limit on an event (256 KB), less room for the envelope.
pub const MAX_EVENT_DETAIL_BYTES: usize = 250_000;

/// The bus event's detail: the plan JSON (`body`), or, when that exceeds
/// [`MAX_EVENT_DETAIL_BYTES`], the plan with its structured `decisions.detail` replaced by
/// `{"truncated": "..."}` (actions and headlines kept; [`ScalingPlan::from_json`] reads it
/// back with an empty detail), so that a large cluster's plan is still published.
pub fn event_detail(plan: &ScalingPlan, body: String) -> String {
    if body.len() <= MAX_EVENT_DETAIL_BYTES {
        return body;
    }
    let Ok(mut trimmed) = serde_json::to_value(plan) else {
        return body;
    };
    trimmed["decisions"]["detail"] = serde_json::json!({
        "truncated": format!(
            "the plan is {} bytes, more than an event holds; the executor's queue has it whole",
            body.len()
        )
    });
    serde_json::to_string(&trimmed).unwrap_or(body)
}

/// One readable line per plan: its headlines.
pub fn plan_line(delivered: &Delivered) -> String {
    let plan = &delivered.plan;
    let headlines = if plan.decisions.headlines.is_empty() {
        "no change".to_owned()
    } else {
        plan.decisions.headlines.join("; ")
    };
    let mode = if plan.dry_run { " (dry run)" } else { "" };
    let route = if delivered.sent_to_queue {
        "sent to the executor and published"
    } else {
        "published (no actions)"
    };
    format!(
        "plan {} for {}{mode}, {route}: {headlines}",
        plan.plan_id, plan.cluster
    )
}

fn log_plan(delivered: &Delivered) {
    tracing::info!(
        cluster = delivered.plan.cluster.as_str(),
        plan_id = delivered.plan.plan_id.as_str(),
        has_actions = delivered.plan.has_actions,
        dry_run = delivered.plan.dry_run,
        "{}",
        plan_line(delivered)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_json(cluster: &str, cycle: &str) -> serde_json::Value {
        serde_json::json!({
            "schema_version": 1,
            "cluster": cluster,
            "cycle_id": cycle,
            "collected_at": "2026-11-29T10:00:00Z",
            "services": {"web": {"values": {"queue": 5.0}}}
        })
    }

    fn message(id: &str, body: Option<String>) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.body = body;
        m
    }

    #[test]
    fn decodes_a_bare_report() {
        let r = decode_body(&report_json("prod", "c1").to_string()).expect("report");
        assert_eq!((r.cluster.as_str(), r.cycle_id.as_str()), ("prod", "c1"));
        assert_eq!(r.origin, "collector");
    }

    #[test]
    fn decodes_a_report_wrapped_in_an_eventbridge_envelope() {
        let mut detail = report_json("prod", "s1");
        detail["origin"] = "synthetic".into();
        let envelope = serde_json::json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "Metrics Report",
            "source": "ecs-autoscale.synthetic",
            "time": "2026-11-29T10:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        });
        let r = decode_body(&envelope.to_string()).expect("report");
        assert_eq!(
            (r.cluster.as_str(), r.origin.as_str()),
            ("prod", "synthetic")
        );
    }

    #[test]
    fn rejects_junk_other_events_and_other_versions() {
        assert!(matches!(
            decode_body("not json"),
            Err(RecordError::Undecodable(_))
        ));
        assert!(matches!(
            decode_body("{}"),
            Err(RecordError::Undecodable(_))
        ));
        let other = serde_json::json!({"detail-type": "Scaling Plan", "detail": {}});
        assert!(matches!(
            decode_body(&other.to_string()),
            Err(RecordError::WrongDetailType(t)) if t == "Scaling Plan"
        ));
        let bad_detail = serde_json::json!({"detail-type": "Metrics Report", "detail": {"x": 1}});
        assert!(matches!(
            decode_body(&bad_detail.to_string()),
            Err(RecordError::Undecodable(_))
        ));
        let mut v2 = report_json("prod", "c1");
        v2["schema_version"] = 2.into();
        let err = decode_body(&v2.to_string()).expect_err("version 2");
        assert!(err.to_string().contains("schema_version 2"), "{err}");
    }

    #[test]
    fn sorts_a_batch_by_cluster_and_rejects_the_rest() {
        let records = vec![
            message("m1", Some(report_json("prod", "c1").to_string())),
            message("m2", Some("{oops".to_owned())),
            message("m3", Some(report_json("staging", "c1").to_string())),
            message("m4", Some(report_json("prod", "c2").to_string())),
            message("m5", None),
            message("m6", Some(report_json("ghost", "c1").to_string())),
        ];
        let batch = sort_batch(&records, &|c| c == "prod" || c == "staging");
        let ids = |c: &str| -> Vec<String> {
            batch.clusters[c]
                .iter()
                .map(|a| a.message_id.clone())
                .collect()
        };
        assert_eq!(ids("prod"), ["m1", "m4"]);
        assert_eq!(ids("staging"), ["m3"]);
        let rejected: Vec<(&str, String)> = batch
            .rejected
            .iter()
            .map(|r| (r.message_id.as_str(), r.error.to_string()))
            .collect();
        assert_eq!(rejected.len(), 3);
        assert_eq!(rejected[0].0, "m2");
        assert!(
            rejected[0].1.starts_with("not a valid metrics report"),
            "{}",
            rejected[0].1
        );
        assert_eq!(rejected[1], ("m5", "the message has no body".to_owned()));
        assert_eq!(
            rejected[2],
            ("m6", "no cluster definition `ghost` is loaded".to_owned())
        );
    }

    #[test]
    fn oversized_plans_are_published_without_their_detail() {
        let mut plan = sample_plan();
        let small = serde_json::to_string(&plan).expect("json");
        assert_eq!(event_detail(&plan, small.clone()), small);
        plan.decisions.headlines = vec!["web: 2 → 4".into()];
        plan.decisions.detail.services = (0..5000)
            .map(|n| {
                serde_json::from_value(serde_json::json!({"service": format!("service-{n:060}")}))
                    .expect("decision")
            })
            .collect();
        let big = serde_json::to_string(&plan).expect("json");
        assert!(big.len() > MAX_EVENT_DETAIL_BYTES);
        let published = event_detail(&plan, big);
        assert!(published.len() < MAX_EVENT_DETAIL_BYTES);
        let value: serde_json::Value = serde_json::from_str(&published).expect("json");
        assert!(value["decisions"]["detail"]["truncated"].is_string());
        let back = ScalingPlan::from_json(&published).expect("still a plan");
        assert_eq!(back.actions, plan.actions);
        assert_eq!(back.decisions.headlines, plan.decisions.headlines);
        assert!(back.decisions.detail.services.is_empty());
    }

    fn sample_plan() -> ScalingPlan {
        ScalingPlan {
            schema_version: 1,
            plan_id: "p1".into(),
            cluster: "prod".into(),
            autoscale_group: "asg".into(),
            created_at: "2026-11-29T10:00:00Z".parse().expect("a time"),
            metrics_cycle_ids: vec![],
            dry_run: true,
            has_actions: true,
            actions: Default::default(),
            decisions: Default::default(),
        }
    }

    #[test]
    fn one_line_per_plan_with_its_headlines() {
        let mut plan = sample_plan();
        plan.decisions.headlines = vec!["web: 2 → 4 tasks".into(), "no new instance".into()];
        let line = plan_line(&Delivered {
            plan: plan.clone(),
            sent_to_queue: true,
        });
        assert_eq!(
            line,
            "plan p1 for prod (dry run), sent to the executor and published: web: 2 → 4 tasks; no new instance"
        );
        plan.decisions.headlines.clear();
        plan.dry_run = false;
        let line = plan_line(&Delivered {
            plan,
            sent_to_queue: false,
        });
        assert_eq!(line, "plan p1 for prod, published (no actions): no change");
    }

    #[test]
    fn config_reads_required_variables_and_defaults_the_clusters_dir() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let c = Config::from_env(
            &env(&[
                ("PLANS_QUEUE_URL", "http://q/plans.fifo"),
                ("EVENT_BUS_NAME", "bus"),
            ]),
            Some(Path::new("/opt/bin")),
        )
        .expect("config");
        assert_eq!(c.plans_queue_url, "http://q/plans.fifo");
        assert_eq!(c.clusters_dir, Path::new("/opt/bin/clusters"));
        let c = Config::from_env(
            &env(&[
                ("PLANS_QUEUE_URL", "q"),
                ("EVENT_BUS_NAME", "bus"),
                ("LAMBDA_TASK_ROOT", "/var/task"),
            ]),
            Some(Path::new("/opt/bin")),
        )
        .expect("config");
        assert_eq!(c.clusters_dir, Path::new("/var/task/clusters"));
        let c = Config::from_env(
            &env(&[
                ("PLANS_QUEUE_URL", "q"),
                ("EVENT_BUS_NAME", "bus"),
                ("LAMBDA_TASK_ROOT", "/var/task"),
                ("CLUSTERS_DIR", "/etc/clusters"),
            ]),
            None,
        )
        .expect("config");
        assert_eq!(c.clusters_dir, Path::new("/etc/clusters"));
        assert_eq!(
            Config::from_env(&env(&[("EVENT_BUS_NAME", "bus")]), None),
            Err(ConfigError("PLANS_QUEUE_URL"))
        );
        assert_eq!(
            Config::from_env(
                &env(&[("PLANS_QUEUE_URL", "q"), ("EVENT_BUS_NAME", " ")]),
                None
            ),
            Err(ConfigError("EVENT_BUS_NAME"))
        );
    }
}
