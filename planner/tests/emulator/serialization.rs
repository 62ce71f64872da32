//! Per-cluster serialization of planning: the metrics queue is FIFO with one message group per
//! cluster, and SQS hands a group's messages to one receiver at a time (a group with a message
//! in flight is held back; moto 5.2.5 does this as AWS does, `tests/tests/strict`). Two planner
//! invocations polling the queue at once — two Lambda instances — never plan the same cluster
//! at the same time, while two clusters are planned side by side.
//!
//! An observer on the planner's [`Deps`] counts, per cluster, the plans in progress; each plan
//! is held open a while so that any overlap shows. With a standard queue the same two
//! invocations do plan one cluster twice at once: the observer sees it, so it can fail.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use planner::handler::{handle, Deps, PlanningObserver};
use shared::aws::AwsClients;
use shared::definition::LoadReport;
use shared::messages::{report_deduplication_id, MetricsReport};
use testbed::messaging::{self, QueueKind};
use testbed::strict::StrictAws;
use testbed::{world, TestBed};

use super::definition;

/// Plans in progress now, and the most at once.
#[derive(Debug, Default, Clone, Copy)]
struct Gauge {
    now: usize,
    most: usize,
}

impl Gauge {
    fn up(&mut self) {
        self.now += 1;
        self.most = self.most.max(self.now);
    }

    fn down(&mut self) {
        self.now = self.now.saturating_sub(1);
    }
}

/// A [`Gauge`] per cluster and one for all.
#[derive(Debug, Default)]
struct Counts {
    per_cluster: HashMap<String, Gauge>,
    all: Gauge,
}

/// The observer: counts plans in progress.
#[derive(Debug, Default)]
struct Overlaps {
    counts: Mutex<Counts>,
}

impl Overlaps {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn most_per_cluster(&self) -> HashMap<String, usize> {
        let counts = self.counts();
        counts
            .per_cluster
            .iter()
            .map(|(c, g)| (c.clone(), g.most))
            .collect()
    }

    fn most_in_all(&self) -> usize {
        self.counts().all.most
    }
}

impl PlanningObserver for Overlaps {
    fn started<'a>(&'a self, cluster: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        {
            let mut counts = self.counts();
            counts
                .per_cluster
                .entry(cluster.to_owned())
                .or_default()
                .up();
            counts.all.up();
        }
        // Held open long enough for the other invocation to receive and start.
        Box::pin(tokio::time::sleep(Duration::from_millis(300)))
    }

    fn finished(&self, cluster: &str) {
        let mut counts = self.counts();
        if let Some(gauge) = counts.per_cluster.get_mut(cluster) {
            gauge.down();
        }
        counts.all.down();
    }
}

/// Two clusters `a` and `b`, each a group of one instance and a service `web` of one task.
async fn seed(bed: &TestBed) {
    for name in ["a", "b"] {
        world::create_cluster(bed.ecs(), name)
            .await
            .expect("cluster");
        world::create_group(
            bed.autoscaling(),
            bed.ecs(),
            name,
            &world::GroupSpec::new(format!("{name}-asg"), 1)
                .min(1)
                .max(1),
        )
        .await
        .expect("group");
        let td = world::register_task_definition(bed.ecs(), &format!("{name}-web"), 256, 512)
            .await
            .expect("task definition");
        world::create_service(bed.ecs(), name, "web", &td, 1)
            .await
            .expect("service");
        bed.converge(name).await.expect("converge");
    }
}

/// One invocation after another on whatever the queue hands out, one message per batch (so
/// that two invocations share the queue), until `total` messages were planned.
async fn poll(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    deps: &Deps,
    done: &Mutex<usize>,
    total: usize,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while *done.lock().unwrap_or_else(|p| p.into_inner()) < total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queue was not emptied"
        );
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(1)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("ReceiveMessage");
        if out.messages().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let mut event = SqsEvent::default();
        event.records = out
            .messages()
            .iter()
            .map(|m| {
                let mut r = SqsMessage::default();
                r.message_id = m.message_id().map(str::to_owned);
                r.body = m.body().map(str::to_owned);
                r.attributes = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                r
            })
            .collect();
        let response = handle(event, deps).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        let entries: Vec<DeleteMessageBatchRequestEntry> = out
            .messages()
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .expect("entry")
            })
            .collect();
        sqs.delete_message_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("DeleteMessageBatch");
        *done.lock().unwrap_or_else(|p| p.into_inner()) += out.messages().len();
    }
}

/// Two reports per cluster on a metrics queue of `kind` (FIFO: grouped by cluster, as the
/// collector sends them), planned by two invocations at once; the observer's counts.
async fn plan_concurrently(bed: &TestBed, strict: &StrictAws, kind: QueueKind) -> Arc<Overlaps> {
    let name = match kind {
        QueueKind::Fifo => "metrics-fifo",
        QueueKind::Standard => "metrics-standard",
    };
    let queue = messaging::create_queue(bed.sqs(), name, kind)
        .await
        .expect("queue");
    let plans = messaging::create_queue(bed.sqs(), &format!("{name}-plans"), QueueKind::Fifo)
        .await
        .expect("plans queue");
    messaging::create_event_bus(bed.eventbridge(), name)
        .await
        .expect("bus");
    let sqs = aws_sdk_sqs::Client::new(strict.sdk_config());
    for (cluster, cycle) in [("a", "c-1"), ("a", "c-2"), ("b", "c-1"), ("b", "c-2")] {
        let report = MetricsReport::new(cluster, format!("{name}-{cycle}"), shared::time::now());
        let mut send = sqs
            .send_message()
            .queue_url(&queue)
            .message_body(serde_json::to_string(&report).expect("JSON"));
        if kind == QueueKind::Fifo {
            send = send
                .message_group_id(cluster)
                .message_deduplication_id(report_deduplication_id(&report.cycle_id, cluster));
        }
        send.send().await.expect("SendMessage");
    }
    let observer = Arc::new(Overlaps::default());
    let mut deps = Deps::new(
        AwsClients::new(strict.sdk_config()),
        LoadReport {
            clusters: ["a", "b"]
                .iter()
                .map(|c| {
                    definition(
                        c,
                        &format!(
                            "autoscale_group: {c}-asg\nservices:\n  web:\n    min: 1\n    max: 2\n"
                        ),
                    )
                })
                .collect(),
            errors: vec![],
        },
        plans,
        name,
    );
    deps.observer = Some(observer.clone());
    let done = Mutex::new(0);
    tokio::join!(
        poll(&sqs, &queue, &deps, &done, 4),
        poll(&sqs, &queue, &deps, &done, 4),
    );
    observer
}

#[tokio::test]
async fn one_cluster_is_never_planned_twice_at_once_and_two_clusters_are_planned_side_by_side() {
    let bed = TestBed::start().await;
    let strict = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    seed(&bed).await;

    // The observer sees an overlap when there is one: without message groups, the two
    // invocations take both of a's reports at once.
    let standard = plan_concurrently(&bed, &strict, QueueKind::Standard).await;
    assert_eq!(
        standard.most_per_cluster().get("a"),
        Some(&2),
        "a standard queue lets two invocations plan `a` at once: {:?}",
        standard.most_per_cluster()
    );

    // The FIFO metrics queue, one group per cluster.
    let fifo = plan_concurrently(&bed, &strict, QueueKind::Fifo).await;
    assert_eq!(
        fifo.most_per_cluster(),
        HashMap::from([("a".to_owned(), 1), ("b".to_owned(), 1)]),
        "each cluster planned by one invocation at a time"
    );
    assert_eq!(
        fifo.most_in_all(),
        2,
        "a and b were planned at the same time"
    );
}
