//! The Lambda handler: one SQS batch of plans from the FIFO plans queue.
//!
//! Per record: decode the plan, check it against its cluster file, apply it, publish the
//! [`ExecutionReport`] on the bus. The response lists the records SQS must deliver again
//! (`ReportBatchItemFailures`):
//!
//! - **rejected**: a message that is not a plan (not JSON, unknown `schema_version`, a missing
//!   field, a time that does not parse), or a plan its cluster file does not allow
//!   ([`shared::plan_check`]: no loaded file, a disabled cluster, another group, a service
//!   not in the file or disabled or changed twice, a count outside the file's bounds or the
//!   APIs' integers, ...): nothing is read or changed, the report (outcome `rejected`, with the
//!   reasons; for a message that is not a plan, only when it names its plan and cluster) is
//!   published, and the record is done at once. It cannot become valid by waiting, and in a
//!   FIFO queue it would hold back every later plan of its cluster while SQS retried it. The
//!   check comes first: a plan that is both rejected and expired is `rejected`. One part of the
//!   check needs the group as it is (a desired capacity above the file's `max`,
//!   [`shared::plan_check::check_live`]): it is made by [`apply`] once the group is read,
//!   before anything is changed, and its rejection is handled the same way;
//! - **expired** (read at or after its `expires_at`): nothing is applied, the report (outcome
//!   `expired`, every action `skipped`) is published and the record is done: it is not retried;
//! - **retryable failure** (throttling, 5xx, timeouts after the SDK's retries, in a read, a
//!   change or the publication): returned as a failure and **no report is published**: the
//!   plan is not finished, and a report per attempt would read as several final outcomes.
//!   The delivery that finishes publishes the one report; actions an earlier attempt applied
//!   then show as `already_applied` (the guards make the replay safe). A plan that keeps
//!   failing ends in the DLQ without a report; its attempts are in the logs;
//! - **non-retryable failures** are inside the report (`failed` actions), the record is done;
//!   a publication that fails non-retryably (e.g. the bus does not exist) is logged with the
//!   whole report, and the record is done too: another delivery would fail the same way.
//!
//! Every report carries a `dedup_key` (the plan and its delivery): a publication whose answer
//! was lost is made again, and subscribers drop the repeats.
//!
//! FIFO: records of one message group (one cluster) arrive in order. Once a record of a group
//! fails in a way another delivery may fix, the later records of that group in the batch are
//! returned as failures without being touched, so plan N+1 never applies before plan N. A
//! rejected record holds nothing back: it can never apply, so there is no order to keep.

use std::collections::HashSet;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use shared::aws::AwsClients;
use shared::definition::ClusterDefinition;
use shared::messages::{ExecutionReport, Outcome, ScalingPlan, APPLIED_DETAIL_TYPE, EVENT_SOURCE};
use shared::plan_check::check;
use shared::resources::Resources;

use shared::time::Timestamp;

use crate::apply::{apply, ApplyError, ApplyOptions};
use crate::config::Config;
use crate::errors::{classify, CallError, Retry};
use crate::expiry::expired_report;
use crate::rejection::{rejected_report, undecodable_report};

/// What the handler needs, built once per Lambda instance.
#[derive(Debug, Clone)]
pub struct Deps {
    /// AWS clients.
    pub clients: AwsClients,
    /// The bus reports are published on.
    pub bus_name: String,
    /// `DRY_RUN` of the function: every plan is a dry run.
    pub dry_run_env: bool,
    /// The cluster definitions: what plans may ask ([`shared::plan_check`]), their `dry_run`
    /// and their buffer.
    pub definitions: Vec<ClusterDefinition>,
}

impl Deps {
    /// From the configuration: loads the cluster files of `config.clusters_dir` (`%(VAR)`
    /// resolved through `vars`), logging the ones that do not load.
    pub fn load(
        clients: AwsClients,
        config: Config,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Deps {
        let report = shared::definition::load_dir(&config.clusters_dir, vars);
        for failed in &report.errors {
            tracing::error!(file = %failed.file.display(), errors = %failed, "cluster file not loaded");
        }
        Deps {
            clients,
            bus_name: config.bus_name,
            dry_run_env: config.dry_run,
            definitions: report.clusters,
        }
    }

    /// The cluster's `cpu_buffer`/`mem_buffer`, which drains must leave room for. Zero for a
    /// cluster whose file this function could not load (logged at start): the drain guard then
    /// still checks that the tasks fit.
    pub fn buffer(&self, cluster: &str) -> Resources {
        self.definitions
            .iter()
            .find(|d| d.name == cluster)
            .map_or(Resources::ZERO, |d| {
                Resources::new(d.cpu_buffer, d.mem_buffer)
            })
    }

    /// Whether a plan must be a dry run, and why: the plan says so, the cluster file says so,
    /// or the function's `DRY_RUN` does.
    pub fn dry_run_reason(&self, plan: &ScalingPlan) -> Option<&'static str> {
        if plan.dry_run {
            Some("the plan is a dry run")
        } else if self.dry_run_env {
            Some("DRY_RUN is set")
        } else if self
            .definitions
            .iter()
            .any(|d| d.name == plan.cluster && d.dry_run)
        {
            Some("the cluster file says dry_run")
        } else {
            None
        }
    }
}

/// Why a record is returned to SQS.
#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("publishing the report: {0}")]
    Publish(CallError),
}

/// Handles one batch; see the module docs for what is returned as a failure.
pub async fn handle(event: SqsEvent, deps: &Deps) -> SqsBatchResponse {
    handle_at(event, deps, shared::time::now()).await
}

/// [`handle`] with the clock plans' expiry is judged by (tests; the local pipeline).
pub async fn handle_at(event: SqsEvent, deps: &Deps, now: Timestamp) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let mut failed_groups: HashSet<String> = HashSet::new();
    for record in &event.records {
        let Some(id) = record.message_id.as_deref() else {
            // Cannot be reported for redelivery without an id; SQS always sets one.
            tracing::error!("an SQS record without messageId; skipped");
            continue;
        };
        let group = record.attributes.get("MessageGroupId").cloned();
        if let Some(g) = &group {
            if failed_groups.contains(g) {
                tracing::warn!(message_id = id, group = %g,
                    "an earlier plan of this message group failed in this batch; returned unprocessed to keep the order");
                response.add_failure(id);
                continue;
            }
        }
        if let Err(e) = process(id, record, deps, now).await {
            tracing::warn!(message_id = id, error = %e, "plan returned to the queue for another delivery");
            if let Some(g) = group {
                failed_groups.insert(g);
            }
            response.add_failure(id);
        }
    }
    response
}

/// The record's plan; an error (naming the field that does not decode) with the start of
/// the body otherwise.
fn decode(record: &SqsMessage) -> Result<ScalingPlan, String> {
    let body = record.body.as_deref().unwrap_or_default();
    ScalingPlan::from_json(body).map_err(|e| {
        let excerpt: String = body.chars().take(200).collect();
        format!("{e}; body starts with {excerpt:?}")
    })
}

async fn process(
    id: &str,
    record: &SqsMessage,
    deps: &Deps,
    now: Timestamp,
) -> Result<(), RecordError> {
    let plan = match decode(record) {
        Ok(plan) => plan,
        Err(error) => {
            tracing::error!(message_id = id, %error,
                "message {id} is not a valid plan: rejected and removed from the queue");
            let body = record.body.as_deref().unwrap_or_default();
            if let Some(report) = undecodable_report(body, &error, now) {
                publish_rejection(deps, &report).await;
            }
            return Ok(());
        }
    };
    if let Err(reasons) = check(&plan, &deps.definitions) {
        tracing::error!(message_id = id, plan_id = %plan.plan_id, cluster = %plan.cluster,
            reasons = ?reasons, "plan rejected: its cluster file does not allow it; nothing applied");
        publish_rejection(deps, &rejected_report(&plan, now, reasons)).await;
        return Ok(());
    }
    let report = if plan.is_expired(now) {
        tracing::warn!(plan_id = %plan.plan_id, cluster = %plan.cluster, expires_at = %plan.expires_at,
            "plan expired before it was applied; nothing is changed");
        expired_report(&plan, now)
    } else {
        let reason = deps.dry_run_reason(&plan);
        let options = ApplyOptions {
            dry_run: reason.is_some(),
            buffer: deps.buffer(&plan.cluster),
            file: deps
                .definitions
                .iter()
                .find(|d| d.name == plan.cluster)
                .cloned(),
            stop_after_mutations: None,
        };
        tracing::info!(plan_id = %plan.plan_id, cluster = %plan.cluster, dry_run = ?reason, "applying plan");
        apply(&deps.clients, &plan, &options).await?
    };
    if report.outcome == Outcome::Rejected {
        // Rejected once the group was read: done with at once, like every rejection.
        tracing::error!(message_id = id, plan_id = %plan.plan_id, cluster = %plan.cluster,
            reasons = ?report.reasons, "plan rejected: its cluster file does not allow it; nothing applied");
        publish_rejection(deps, &report).await;
        return Ok(());
    }
    tracing::info!(plan_id = %report.plan_id, cluster = %report.cluster, outcome = ?report.outcome, "plan settled");
    let settled = match publish(&deps.clients.eventbridge, &deps.bus_name, &report).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_retryable() => Err(RecordError::Publish(e)),
        Err(e) => {
            let json = serde_json::to_string(&report).unwrap_or_default();
            tracing::error!(plan_id = %report.plan_id, error = %e, report = %json,
                "could not publish the report; not retried (it would fail the same way)");
            Ok(())
        }
    };
    // Decision metrics (Embedded Metric Format) only for a settled plan, so that a plan
    // returned for redelivery is not counted twice.
    if settled.is_ok() {
        let now = shared::emf::timestamp_ms(shared::time::now());
        shared::emf::emit(&crate::emf::lines(&report, now));
    }
    settled
}

/// Publishes a rejection. A failure is logged with the report and never retried: the message
/// is removed from the queue whatever happens (see the module docs). No outcome metric is
/// written: a forged plan's cluster name must not become a metric dimension.
async fn publish_rejection(deps: &Deps, report: &ExecutionReport) {
    if let Err(e) = publish(&deps.clients.eventbridge, &deps.bus_name, report).await {
        let json = serde_json::to_string(report).unwrap_or_default();
        tracing::error!(plan_id = %report.plan_id, error = %e, report = %json,
            "could not publish the rejection; the message is removed from the queue all the same");
    }
}

/// Publishes the report: source `ecs-autoscale`, detail-type `Scaling Plan Applied`.
pub async fn publish(
    eventbridge: &aws_sdk_eventbridge::Client,
    bus_name: &str,
    report: &ExecutionReport,
) -> Result<(), CallError> {
    const OP: &str = "PutEvents";
    let detail = serde_json::to_string(report)
        .map_err(|e| CallError::invalid_answer(OP, format!("serialising the report: {e}")))?;
    let entry = PutEventsRequestEntry::builder()
        .event_bus_name(bus_name)
        .source(EVENT_SOURCE)
        .detail_type(APPLIED_DETAIL_TYPE)
        .detail(detail)
        .build();
    let out = eventbridge
        .put_events()
        .entries(entry)
        .send()
        .await
        .map_err(|e| classify(OP, &e))?;
    // PutEvents answers 200 with per-entry failures.
    if out.failed_entry_count() > 0 {
        let entry = out.entries().first();
        let code = entry.and_then(|e| e.error_code()).map(str::to_owned);
        let retry = match code.as_deref() {
            Some("ThrottlingException" | "InternalException" | "InternalFailure") => {
                Retry::Retryable
            }
            _ => Retry::NonRetryable,
        };
        return Err(CallError {
            operation: OP,
            retry,
            message: entry
                .and_then(|e| e.error_message())
                .unwrap_or("entry rejected")
                .to_owned(),
            code,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some("m1".into());
        m.body = Some(body.to_owned());
        m
    }

    fn plan_json(created_at: &str) -> String {
        serde_json::json!({
            "schema_version": 1,
            "plan_id": "p-1",
            "delivery_id": "d-1",
            "cluster": "prod",
            "autoscale_group": "prod-asg",
            "created_at": created_at,
            "expires_at": "2026-11-29T10:02:00Z",
            "metrics_cycle_ids": [],
            "dry_run": false,
            "has_actions": false,
            "actions": {},
            "decisions": {"headlines": [], "detail": {}},
        })
        .to_string()
    }

    #[test]
    fn a_plan_decodes_with_its_creation_time() {
        let plan = decode(&record(&plan_json("2026-11-29T10:00:00Z"))).expect("a plan");
        assert_eq!(plan.created_at.to_string(), "2026-11-29T10:00:00Z");
    }

    #[test]
    fn a_plan_with_an_invalid_time_is_undecodable_naming_the_field() {
        for bad in ["2025-02-31T00:00:00Z", "2026-11-29", "soon"] {
            let text = decode(&record(&plan_json(bad))).expect_err(bad);
            assert!(
                text.starts_with("not a valid scaling plan: created_at: "),
                "{text}"
            );
        }
    }
}
