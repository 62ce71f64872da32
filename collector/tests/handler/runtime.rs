//! The collector's real binary (`main.rs`) run as Lambda runs it: started under the test bed's
//! runtime API emulator with the function's environment, invoked with the EventBridge schedule
//! event and then with a batch of the synthetic queue, serving both from one process; and a
//! broken configuration reported to the runtime API as the init error.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use shared::messages::MetricsReport;
use testbed::lambda_events::{batch_item_failures, scheduled_event, sqs_batch, SqsRecord};
use testbed::lambda_process::LambdaFunction;
use testbed::messaging::{self, QueueKind};
use testbed::{ClustersDir, TestBed};

use super::cluster_file;
use super::support::http_server::{Reply, TestServer};

const BINARY: &str = env!("CARGO_BIN_EXE_collector");
/// The stack's timeout of the collector.
const TIMEOUT: Duration = Duration::from_secs(50);
/// A debug build starts well within this.
const START: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_binary_serves_a_schedule_event_then_a_synthetic_batch() {
    let bed = TestBed::start().await;
    let server = TestServer::start(|_| Reply::json(json!({"messages_ready": 4}))).await;
    let queue = messaging::create_queue(bed.sqs(), "metrics.fifo", QueueKind::Fifo)
        .await
        .expect("queue");
    let dir = ClustersDir::new("collector", "runtime");
    dir.write("prod.yml", &cluster_file(true, &server.url("/q")));
    let clusters_dir = dir.display();

    let mut function = LambdaFunction::start(
        Path::new(BINARY),
        "collector",
        &[
            ("METRICS_QUEUE_URL", queue.as_str()),
            ("CLUSTERS_DIR", clusters_dir.as_str()),
            ("AWS_ENDPOINT_URL", bed.endpoint()),
        ],
    )
    .await
    .expect("collector process");
    function.assert_ready(START).await;

    let summary = function
        .invoke_json(&scheduled_event("cycle-runtime-1", "collect"), TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary["cycle_id"], "cycle-runtime-1", "{summary}");
    assert_eq!(summary["reported"], json!(["prod"]), "{summary}");
    let reports: Vec<MetricsReport> = messaging::receive_bodies(bed.sqs(), &queue)
        .await
        .expect("receive")
        .iter()
        .map(|body| MetricsReport::from_json(body).expect("a report"))
        .collect();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].cycle_id, "cycle-runtime-1");
    assert_eq!(
        reports[0].services["worker"].values.get("queue_length"),
        Some(&4.0),
        "the HTTP source's value: {:?}",
        reports[0].services
    );

    // The same process: a batch of the synthetic queue, one report and one undecodable record.
    let mut synthetic = MetricsReport::new("prod", "synthetic-1", shared::time::now());
    synthetic.origin = "synthetic".into();
    let batch = sqs_batch(
        "stack-synthetic",
        &[
            SqsRecord::standard("m-good", serde_json::to_string(&synthetic).expect("JSON")),
            SqsRecord::standard("m-junk", "not json"),
        ],
    );
    let response = function
        .invoke_json(&batch, TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        batch_item_failures(&response),
        Some(vec!["m-junk".to_owned()]),
        "{response}"
    );
    let forwarded = messaging::receive_bodies(bed.sqs(), &queue)
        .await
        .expect("receive");
    assert_eq!(forwarded.len(), 1, "{forwarded:?}");
    assert_eq!(
        MetricsReport::from_json(&forwarded[0])
            .expect("a report")
            .cycle_id,
        "synthetic-1"
    );

    function.assert_serving(3);
}

#[tokio::test]
async fn a_missing_queue_url_is_reported_as_the_init_error() {
    let bed = TestBed::start().await;
    let dir = ClustersDir::new("collector", "runtime-init");
    let clusters_dir = dir.display();
    let mut function = LambdaFunction::start(
        Path::new(BINARY),
        "collector",
        &[
            ("CLUSTERS_DIR", clusters_dir.as_str()),
            ("AWS_ENDPOINT_URL", bed.endpoint()),
        ],
    )
    .await
    .expect("collector process");
    function
        .assert_init_error(START, &["METRICS_QUEUE_URL"])
        .await;
}
