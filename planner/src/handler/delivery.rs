//! Delivery of a plan: the plans FIFO queue when it has actions, always the bus; its log line.

use shared::messages::{ScalingPlan, EVENT_SOURCE, PLAN_DETAIL_TYPE};

use super::{ClusterError, Deps};

/// What happened to one cluster's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    /// The plan.
    pub plan: ScalingPlan,
    /// Whether it was sent to the plans queue (only plans with actions are).
    pub sent_to_queue: bool,
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
    // failed publish re-sends a plan of the same delivery, which the FIFO queue drops.
    if plan.has_actions {
        deps.clients
            .sqs
            .send_message()
            .queue_url(&deps.plans_queue_url)
            .message_body(&body)
            .message_group_id(&plan.cluster)
            .message_deduplication_id(&plan.delivery_id)
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

/// Logs [`plan_line`] with the plan's fields.
pub(super) fn log_plan(delivered: &Delivered) {
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
            delivery_id: "d1".into(),
            cluster: "prod".into(),
            autoscale_group: "asg".into(),
            created_at: "2026-11-29T10:00:00Z".parse().expect("a time"),
            expires_at: "2026-11-29T10:02:00Z".parse().expect("a time"),
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
}
