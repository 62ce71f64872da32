//! Events as Lambda hands them to the functions: an EventBridge schedule rule's event and SQS
//! batches from a standard or a FIFO queue (the shapes of AWS's documented examples), for
//! invoking the real binaries through [`crate::lambda_runtime_api`].

use serde_json::{json, Value};

use crate::lambda_runtime_api::ACCOUNT;

/// The event an EventBridge schedule rule sends (its `id` is the collector's cycle id).
pub fn scheduled_event(id: &str, rule: &str) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": shared::time::to_seconds(shared::time::now()).to_string(),
        "region": crate::REGION,
        "resources": [format!("arn:aws:events:{}:{ACCOUNT}:rule/{rule}", crate::REGION)],
        "detail": {}
    })
}

/// One message of an SQS batch.
#[derive(Debug, Clone)]
pub struct SqsRecord {
    /// The message id (what `batchItemFailures` name).
    pub message_id: String,
    /// The message group (FIFO queues only).
    pub group: Option<String>,
    /// The body.
    pub body: String,
}

impl SqsRecord {
    /// A message of a standard queue.
    pub fn standard(message_id: &str, body: impl Into<String>) -> SqsRecord {
        SqsRecord {
            message_id: message_id.to_owned(),
            group: None,
            body: body.into(),
        }
    }

    /// A message of a FIFO queue, in `group`.
    pub fn fifo(message_id: &str, group: &str, body: impl Into<String>) -> SqsRecord {
        SqsRecord {
            message_id: message_id.to_owned(),
            group: Some(group.to_owned()),
            body: body.into(),
        }
    }
}

/// A batch from the queue named `queue` as an SQS event source mapping delivers it.
pub fn sqs_batch(queue: &str, records: &[SqsRecord]) -> Value {
    let now = shared::time::now().as_millisecond().to_string();
    let records: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let mut attributes = json!({
                "ApproximateReceiveCount": "1",
                "SentTimestamp": now,
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": now,
            });
            if let Some(group) = &record.group {
                attributes["MessageGroupId"] = json!(group);
                attributes["MessageDeduplicationId"] =
                    json!(format!("dedup-{}", record.message_id));
                attributes["SequenceNumber"] = json!(format!("1884949646046769{i:04}"));
            }
            json!({
                "messageId": record.message_id,
                "receiptHandle": format!("AQEB-{}", record.message_id),
                "body": record.body,
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:{}:{ACCOUNT}:{queue}", crate::REGION),
                "awsRegion": crate::REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The message ids a `{"batchItemFailures": [{"itemIdentifier": ...}]}` response names,
/// sorted; `None` when the response does not have that shape.
pub fn batch_item_failures(response: &Value) -> Option<Vec<String>> {
    let mut ids = response["batchItemFailures"]
        .as_array()?
        .iter()
        .map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()?;
    ids.sort();
    Some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_batch_carries_its_group_and_a_sequence_number() {
        let batch = sqs_batch(
            "plans.fifo",
            &[
                SqsRecord::fifo("m-1", "prod", "{}"),
                SqsRecord::standard("m-2", "x"),
            ],
        );
        let first = &batch["Records"][0];
        assert_eq!(first["attributes"]["MessageGroupId"], "prod");
        assert!(first["attributes"]["SequenceNumber"].is_string());
        assert_eq!(
            first["eventSourceARN"],
            "arn:aws:sqs:us-east-1:123456789012:plans.fifo"
        );
        assert!(batch["Records"][1]["attributes"]["MessageGroupId"].is_null());
    }

    #[test]
    fn batch_item_failures_are_read_sorted_and_other_shapes_refused() {
        let response =
            json!({"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "a"}]});
        assert_eq!(
            batch_item_failures(&response),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(
            batch_item_failures(&json!({"batchItemFailures": []})),
            Some(vec![])
        );
        assert_eq!(batch_item_failures(&json!({"cycle_id": "c"})), None);
    }
}
