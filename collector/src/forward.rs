//! Synthetic metrics reports, forwarded from the bus to the FIFO metrics queue with their
//! cluster's message group.
//!
//! An EventBridge rule can target a FIFO queue only with one static message group for every
//! event, which would make all clusters one group (planned one at a time, and one cluster's
//! failure holding back the others). So the stack routes synthetic reports (`source:
//! ecs-autoscale.synthetic`, `detail-type: Metrics Report`) to a standard queue whose event
//! source mapping invokes the collector with an SQS batch. Each record is decoded (the
//! EventBridge envelope, or a bare report), checked (a cluster with a loaded definition) and
//! sent to the metrics queue like the collector's own reports ([`send`]: group = cluster,
//! deduplication id from the cycle id and cluster, so give each synthetic report its own
//! `cycle_id`).
//!
//! Records that do not decode or name an unknown cluster are batch item failures, each logged
//! with its message id and what is wrong (the field, when a field is), and end in the queue's
//! DLQ; the other records go on. Records SQS did not take are failures too, and come back.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::messages::{report_from_body, MetricsReport};

use crate::handler::{send, Deps};

/// Forwards each record's report to the metrics queue; see the module docs.
pub async fn forward(event: SqsEvent, deps: &Deps) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let mut accepted: Vec<(String, MetricsReport)> = Vec::new();
    for record in event.records {
        // Lambda always sets the id; an empty identifier fails the whole batch, the safe outcome
        // for a record that cannot be named.
        let id = record.message_id.unwrap_or_default();
        let report = match record.body.as_deref().map(report_from_body) {
            None => Err("the message has no body".to_owned()),
            Some(Err(e)) => Err(e.to_string()),
            Some(Ok(report)) if deps.definitions.cluster(&report.cluster).is_none() => Err(
                format!("no cluster definition `{}` is loaded", report.cluster),
            ),
            Some(Ok(report)) => Ok(report),
        };
        match report {
            Ok(report) => accepted.push((id, report)),
            Err(error) => {
                tracing::error!(
                    message_id = id.as_str(),
                    "synthetic report in message {id} not forwarded: {error}"
                );
                response.add_failure(id);
            }
        }
    }
    let reports: Vec<&MetricsReport> = accepted.iter().map(|(_, r)| r).collect();
    let unsent = send(&deps.sqs, &deps.config.metrics_queue_url, &reports).await;
    for &i in &unsent {
        let (id, _) = &accepted[i];
        response.add_failure(id.clone());
    }
    tracing::info!(
        forwarded = accepted.len() - unsent.len(),
        failed = response.batch_item_failures.len(),
        "synthetic metrics reports forwarded to the metrics queue"
    );
    response
}
