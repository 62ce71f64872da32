//! CloudWatch metrics, SQS queues and EventBridge routing helpers.

use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use aws_sdk_cloudwatch::primitives::DateTime as CwDateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat};
use aws_sdk_eventbridge::types::{SqsParameters, Target};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};

/// PutMetricData of `points` (timestamp, value) for one metric, with explicit timestamps;
/// sent 1000 data points per call.
pub async fn put_metric_data(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    metric: &str,
    dimensions: &[(&str, &str)],
    points: &[(SystemTime, f64)],
) -> Result<()> {
    let dims: Vec<Dimension> = dimensions
        .iter()
        .map(|(name, value)| Dimension::builder().name(*name).value(*value).build())
        .collect();
    for chunk in points.chunks(1000) {
        let data = chunk
            .iter()
            .map(|(at, value)| {
                MetricDatum::builder()
                    .metric_name(metric)
                    .set_dimensions(Some(dims.clone()))
                    .timestamp(CwDateTime::from(*at))
                    .value(*value)
                    .build()
            })
            .collect();
        cloudwatch
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .with_context(|| format!("PutMetricData {namespace}/{metric}"))?;
    }
    Ok(())
}

/// GetMetricData of one metric and statistic (`Average`, `Maximum`, `Minimum`, `Sum`,
/// `SampleCount`) over [`start`, `end`) at `period_secs`; returns (timestamp, value) pairs in
/// the order CloudWatch answers them.
#[allow(clippy::too_many_arguments)]
pub async fn get_metric_stat(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    metric: &str,
    dimensions: &[(&str, &str)],
    stat: &str,
    period_secs: i32,
    start: SystemTime,
    end: SystemTime,
) -> Result<Vec<(SystemTime, f64)>> {
    let dims: Vec<Dimension> = dimensions
        .iter()
        .map(|(name, value)| Dimension::builder().name(*name).value(*value).build())
        .collect();
    let query = MetricDataQuery::builder()
        .id("q0")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(namespace)
                        .metric_name(metric)
                        .set_dimensions(Some(dims))
                        .build(),
                )
                .period(period_secs)
                .stat(stat)
                .build(),
        )
        .build();
    let mut points = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let out = cloudwatch
            .get_metric_data()
            .metric_data_queries(query.clone())
            .start_time(CwDateTime::from(start))
            .end_time(CwDateTime::from(end))
            .set_next_token(next_token.take())
            .send()
            .await
            .with_context(|| format!("GetMetricData {namespace}/{metric} {stat}"))?;
        for result in out.metric_data_results() {
            for (at, value) in result.timestamps().iter().zip(result.values()) {
                let at = SystemTime::try_from(*at)
                    .with_context(|| format!("GetMetricData timestamp {at}"))?;
                points.push((at, *value));
            }
        }
        match out.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => break,
        }
    }
    Ok(points)
}

/// The kind of queue [`create_queue`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    /// A standard queue.
    Standard,
    /// A FIFO queue (name suffixed `.fifo` if needed) with content-based deduplication.
    Fifo,
}

/// Creates a queue; returns its URL.
pub async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    kind: QueueKind,
) -> Result<String> {
    let mut request = sqs.create_queue();
    match kind {
        QueueKind::Standard => request = request.queue_name(name),
        QueueKind::Fifo => {
            let name = if name.ends_with(".fifo") {
                name.to_owned()
            } else {
                format!("{name}.fifo")
            };
            request = request
                .queue_name(name)
                .attributes(QueueAttributeName::FifoQueue, "true")
                .attributes(QueueAttributeName::ContentBasedDeduplication, "true");
        }
    }
    let out = request
        .send()
        .await
        .with_context(|| format!("CreateQueue {name}"))?;
    out.queue_url()
        .map(str::to_owned)
        .with_context(|| format!("CreateQueue {name}: no URL in the answer"))
}

/// The ARN of the queue at `queue_url`.
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<String> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .with_context(|| format!("GetQueueAttributes {queue_url}"))?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .with_context(|| format!("queue {queue_url} has no QueueArn"))
}

/// Receives (10 at a time, no long polling) and deletes every message currently visible on
/// the queue, until a receive comes back empty; returns them in receive order, with all
/// system and message attributes.
pub async fn receive_all(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<Vec<Message>> {
    let mut all = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .with_context(|| format!("ReceiveMessage {queue_url}"))?;
        let messages = out.messages();
        if messages.is_empty() {
            return Ok(all);
        }
        for message in messages {
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .with_context(|| format!("DeleteMessage {queue_url}"))?;
            }
        }
        all.extend(messages.iter().cloned());
    }
}

/// The bodies of [`receive_all`].
pub async fn receive_bodies(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<Vec<String>> {
    Ok(receive_all(sqs, queue_url)
        .await?
        .into_iter()
        .map(|m| m.body.unwrap_or_default())
        .collect())
}

/// Creates a custom event bus; returns its ARN.
pub async fn create_event_bus(
    eventbridge: &aws_sdk_eventbridge::Client,
    name: &str,
) -> Result<String> {
    let out = eventbridge
        .create_event_bus()
        .name(name)
        .send()
        .await
        .with_context(|| format!("CreateEventBus {name}"))?;
    out.event_bus_arn()
        .map(str::to_owned)
        .with_context(|| format!("CreateEventBus {name}: no ARN in the answer"))
}

/// Creates rule `rule` on `bus` matching `pattern` and targeting the queue at `queue_url`
/// (FIFO queues get message group `events`); returns the rule ARN.
pub async fn route_to_queue(
    eventbridge: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    bus: &str,
    rule: &str,
    pattern: &serde_json::Value,
    queue_url: &str,
) -> Result<String> {
    let out = eventbridge
        .put_rule()
        .name(rule)
        .event_bus_name(bus)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .with_context(|| format!("PutRule {rule} on {bus}"))?;
    let rule_arn = out
        .rule_arn()
        .map(str::to_owned)
        .with_context(|| format!("PutRule {rule}: no ARN in the answer"))?;
    let mut target = Target::builder()
        .id("queue")
        .arn(queue_arn(sqs, queue_url).await?);
    if queue_url.ends_with(".fifo") {
        target = target.sqs_parameters(SqsParameters::builder().message_group_id("events").build());
    }
    let target = target.build().context("building the SQS target")?;
    let out = eventbridge
        .put_targets()
        .rule(rule)
        .event_bus_name(bus)
        .targets(target)
        .send()
        .await
        .with_context(|| format!("PutTargets {rule} on {bus}"))?;
    if out.failed_entry_count() > 0 {
        bail!("PutTargets {rule}: {:?}", out.failed_entries());
    }
    Ok(rule_arn)
}
