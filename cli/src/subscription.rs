//! A temporary subscription to the pipeline's events: a queue and a rule on the bus that sends
//! `Scaling Plan` and `Scaling Plan Applied` events (source `ecs-autoscale`) to it. Created by
//! `watch` and `run`, deleted when they end ([`Subscription::delete`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::QueueAttributeName;
use shared::aws::AwsClients;
use shared::messages::{
    ExecutionReport, ScalingPlan, APPLIED_DETAIL_TYPE, EVENT_SOURCE, PLAN_DETAIL_TYPE,
};

use crate::aws::call_failed;

/// An event the subscription received.
#[derive(Debug, Clone)]
pub enum Event {
    /// `Scaling Plan`.
    Plan(Box<ScalingPlan>),
    /// `Scaling Plan Applied`.
    Applied(ExecutionReport),
    /// Something else, or a message that does not decode (kept as JSON, with the reason).
    Other {
        /// The message body.
        body: serde_json::Value,
        /// Why it is not one of the above.
        why: String,
    },
}

impl Event {
    /// Reads an SQS body: an EventBridge envelope.
    pub fn from_body(body: &str) -> Event {
        let value: serde_json::Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => {
                return Event::Other {
                    body: serde_json::Value::String(body.to_owned()),
                    why: format!("not JSON: {e}"),
                }
            }
        };
        let kind = value["detail-type"].as_str().unwrap_or_default().to_owned();
        let detail = value["detail"].to_string();
        let decoded = match kind.as_str() {
            PLAN_DETAIL_TYPE => ScalingPlan::from_json(&detail).map(|p| Event::Plan(Box::new(p))),
            APPLIED_DETAIL_TYPE => ExecutionReport::from_json(&detail).map(Event::Applied),
            other => {
                return Event::Other {
                    why: format!("detail-type `{other}`"),
                    body: value,
                }
            }
        };
        decoded.unwrap_or_else(|e| Event::Other {
            why: e.to_string(),
            body: value,
        })
    }

    /// The whole event as JSON (`--json`): `{"detail-type": ..., "detail": ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Event::Plan(p) => serde_json::json!({"detail-type": PLAN_DETAIL_TYPE, "detail": p}),
            Event::Applied(r) => {
                serde_json::json!({"detail-type": APPLIED_DETAIL_TYPE, "detail": r})
            }
            Event::Other { body, why } => serde_json::json!({"other": body, "why": why}),
        }
    }
}

/// The event pattern of the subscription.
pub fn pattern() -> serde_json::Value {
    serde_json::json!({
        "source": [EVENT_SOURCE],
        "detail-type": [PLAN_DETAIL_TYPE, APPLIED_DETAIL_TYPE],
    })
}

/// A temporary queue with a rule on the bus pointing at it.
#[derive(Debug)]
pub struct Subscription {
    sqs: aws_sdk_sqs::Client,
    eventbridge: aws_sdk_eventbridge::Client,
    /// The bus.
    pub bus: String,
    /// The rule's name (also the queue's).
    pub name: String,
    /// The queue.
    pub queue_url: String,
    deleted: bool,
}

impl Subscription {
    /// Creates the queue and the rule. On a failure half-way, what was created is deleted.
    pub async fn create(clients: &AwsClients, bus: &str) -> anyhow::Result<Subscription> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let name = format!("ecs-autoscale-watch-{}-{nanos:08x}", std::process::id());
        // The bus must exist: say so clearly rather than through PutRule's error.
        if let Err(e) = clients
            .eventbridge
            .describe_event_bus()
            .name(bus)
            .send()
            .await
        {
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                return Err(crate::CliError::problem(format!("the event bus `{bus}` does not exist"))
                    .hint("pass the stack's bus with `--bus NAME` or EVENT_BUS_NAME (the template's default is `ecs-autoscale`)")
                    .into());
            }
            return Err(call_failed(&format!("DescribeEventBus {bus}"), e));
        }
        let created = clients
            .sqs
            .create_queue()
            .queue_name(&name)
            .attributes(QueueAttributeName::MessageRetentionPeriod, "3600")
            .send()
            .await
            .map_err(|e| call_failed(&format!("CreateQueue {name}"), e))?;
        let queue_url = created.queue_url().unwrap_or_default().to_owned();
        let mut sub = Subscription {
            sqs: clients.sqs.clone(),
            eventbridge: clients.eventbridge.clone(),
            bus: bus.to_owned(),
            name,
            queue_url,
            deleted: false,
        };
        if let Err(e) = sub.wire().await {
            sub.delete().await;
            return Err(e);
        }
        Ok(sub)
    }

    async fn wire(&mut self) -> anyhow::Result<()> {
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| call_failed("GetQueueAttributes", e))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        let rule = self
            .eventbridge
            .put_rule()
            .name(&self.name)
            .event_bus_name(&self.bus)
            .description("ecs-autoscale watch (temporary; deleted when the command ends)")
            .event_pattern(pattern().to_string())
            .send()
            .await
            .map_err(|e| call_failed(&format!("PutRule {}", self.name), e))?;
        let rule_arn = rule.rule_arn().unwrap_or_default();
        // On AWS, EventBridge may only deliver with the queue's permission.
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }],
        });
        self.sqs
            .set_queue_attributes()
            .queue_url(&self.queue_url)
            .attributes(QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .map_err(|e| call_failed("SetQueueAttributes", e))?;
        let target = Target::builder()
            .id("watch")
            .arn(arn)
            .build()
            .map_err(|e| anyhow::anyhow!("building the rule's target: {e}"))?;
        let out = self
            .eventbridge
            .put_targets()
            .rule(&self.name)
            .event_bus_name(&self.bus)
            .targets(target)
            .send()
            .await
            .map_err(|e| call_failed(&format!("PutTargets {}", self.name), e))?;
        if out.failed_entry_count() > 0 {
            anyhow::bail!("PutTargets {}: {:?}", self.name, out.failed_entries());
        }
        Ok(())
    }

    /// Waits up to `wait` (long polling, at most 20 s) for events; returns those received (and
    /// deletes them from the queue), possibly none.
    ///
    /// A failed deletion is a warning on stderr, not an error: the event was received and is
    /// returned (what it reports happened), and the queue is this command's own; at worst the
    /// event comes again after its visibility timeout, with the same `dedup_key`.
    pub async fn receive(&self, wait: Duration) -> anyhow::Result<Vec<Event>> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .send()
            .await
            .map_err(|e| call_failed("ReceiveMessage", e))?;
        let mut events = Vec::new();
        for m in out.messages() {
            events.push(Event::from_body(m.body().unwrap_or_default()));
            if let Some(handle) = m.receipt_handle() {
                if let Err(e) = self
                    .sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                {
                    eprintln!(
                        "warning: could not delete an event from the watch queue ({}); it may be shown again",
                        call_failed("DeleteMessage", e)
                    );
                }
            }
        }
        Ok(events)
    }

    /// Every event currently on the queue (no waiting).
    pub async fn drain(&self) -> anyhow::Result<Vec<Event>> {
        let mut all = Vec::new();
        loop {
            let batch = self.receive(Duration::ZERO).await?;
            if batch.is_empty() {
                return Ok(all);
            }
            all.extend(batch);
        }
    }

    /// Deletes the rule (after its targets) and the queue; failures are reported on stderr.
    pub async fn delete(&mut self) {
        if self.deleted {
            return;
        }
        self.deleted = true;
        let mut problems = Vec::new();
        if let Err(e) = self
            .eventbridge
            .remove_targets()
            .rule(&self.name)
            .event_bus_name(&self.bus)
            .ids("watch")
            .force(false)
            .send()
            .await
        {
            problems.push(format!(
                "RemoveTargets: {}",
                aws_sdk_eventbridge::error::DisplayErrorContext(e)
            ));
        }
        if let Err(e) = self
            .eventbridge
            .delete_rule()
            .name(&self.name)
            .event_bus_name(&self.bus)
            .send()
            .await
        {
            problems.push(format!(
                "DeleteRule: {}",
                aws_sdk_eventbridge::error::DisplayErrorContext(e)
            ));
        }
        if let Err(e) = self
            .sqs
            .delete_queue()
            .queue_url(&self.queue_url)
            .send()
            .await
        {
            problems.push(format!(
                "DeleteQueue: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            ));
        }
        for p in problems {
            eprintln!("warning: cleaning up the subscription `{}`: {p}", self.name);
        }
    }
}
