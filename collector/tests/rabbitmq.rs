//! The original README's quick start, end to end on a real RabbitMQ: a `celery` queue holding
//! N messages, the README's cluster file `clusters/my_cluster.yml` with its RabbitMQ source
//! pointed at a private node (credentials through `%(VAR)`), one scheduled collector run, and
//! the report on the metrics queue carrying `worker.queue_length = N`.
//!
//! Needs `rabbitmq-server` (install with `bash scripts/rabbitmq.sh`) and moto (`make venv`).

mod support;

use std::path::Path;
use std::time::Duration;

use collector::handler::{handle, CollectorEvent, Deps};
use collector::CollectorConfig;
use lambda_runtime::{Context, LambdaEvent};
use shared::definition::LoadReport;
use shared::messages::MetricsReport;
use testbed::messaging::{self, QueueKind};
use testbed::RabbitMq;
use testbed::TestBed;

/// Messages published to `celery`.
const N: u64 = 7;

/// The README's `my_cluster.yml` with its RabbitMQ URL replaced by `url` (nothing else changes).
fn readme_cluster_file(url: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../clusters/my_cluster.yml");
    let text = std::fs::read_to_string(&path).expect("reading clusters/my_cluster.yml");
    let original = "url: https://username:password@my_rabbitmq_host.com/api/queues/celery";
    assert!(
        text.contains(original),
        "the README example's source changed: {original}"
    );
    text.replace(original, &format!("url: {url}"))
}

#[tokio::test]
async fn readme_quick_start_reports_the_celery_queue_length() {
    let rabbit = RabbitMq::start()
        .await
        .expect("RabbitMQ (install it with `bash scripts/rabbitmq.sh`)");
    rabbit
        .declare_queue("celery")
        .await
        .expect("declare celery");
    rabbit.publish("celery", N).await.expect("publish");
    // The management API's counters lag the broker a little.
    rabbit
        .wait_for_ready("celery", N, Duration::from_secs(60))
        .await
        .expect("messages ready");

    let url = format!(
        "http://%(RABBITMQ_USER):%(RABBITMQ_PASSWORD)@127.0.0.1:{}/api/queues/%2F/celery",
        rabbit.management_port
    );
    let text = readme_cluster_file(&url);
    let vars = [("RABBITMQ_USER", "guest"), ("RABBITMQ_PASSWORD", "guest")];
    let definition = support::defs::cluster("my_cluster", &text, &vars);
    let source = &definition
        .service("worker")
        .expect("worker")
        .metric_sources
        .third_party[0];
    assert!(
        source.url.starts_with("http://guest:guest@127.0.0.1:"),
        "substituted"
    );

    let bed = TestBed::start().await;
    let queue = messaging::create_queue(bed.sqs(), "metrics", QueueKind::Standard)
        .await
        .expect("metrics queue");
    let config = CollectorConfig::new(queue.clone(), "unused");
    let definitions = LoadReport {
        clusters: vec![definition],
        errors: vec![],
    };
    let deps = Deps::with_definitions(
        bed.cloudwatch().clone(),
        bed.sqs().clone(),
        config,
        definitions,
    )
    .expect("deps");
    let event: CollectorEvent = serde_json::from_value(serde_json::json!({
        "version": "0", "id": "quick-start-cycle", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-11-29T10:00:00Z",
        "region": "us-east-1", "resources": [], "detail": {}
    }))
    .expect("scheduled event");
    let summary = handle(LambdaEvent::new(event, Context::default()), &deps)
        .await
        .expect("collector cycle");
    assert_eq!(summary.reported, ["my_cluster"]);

    let bodies = messaging::receive_bodies(bed.sqs(), &queue)
        .await
        .expect("receive");
    assert_eq!(bodies.len(), 1, "one report per cluster");
    let report = MetricsReport::from_json(&bodies[0]).expect("a metrics report");
    assert_eq!(report.cluster, "my_cluster");
    assert_eq!(report.cycle_id, "quick-start-cycle");
    let worker = &report.services["worker"];
    assert_eq!(
        worker.values.get("queue_length"),
        Some(&(N as f64)),
        "{worker:?}"
    );
    assert!(worker.missing.is_empty(), "{worker:?}");
    // The README's backend service reads CloudWatch, which has no data here.
    assert!(report.services["backend"].missing.contains_key("cpu_usage"));
    assert!(
        !bodies[0].contains("guest:guest"),
        "no credentials in the report"
    );
}
