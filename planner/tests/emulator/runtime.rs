//! The planner's real binary (`main.rs`) run as Lambda runs it: started under the test bed's
//! runtime API emulator with the function's environment and the cluster file in `CLUSTERS_DIR`,
//! invoked twice with batches of the FIFO metrics queue (a report that scales `web` out; then an
//! undecodable record beside a good report, answered in `batchItemFailures`) by one process; and
//! a broken configuration reported to the runtime API as the init error.

use std::path::Path;
use std::time::Duration;

use shared::messages::ServiceChange;
use testbed::lambda_events::{batch_item_failures, sqs_batch, SqsRecord};
use testbed::lambda_process::LambdaFunction;
use testbed::messaging::{self, QueueKind};
use testbed::ClustersDir;
use testbed::TestBed;

use super::{queued_plans, seed_prod, MetricsReport, ToJsonString, PROD_YAML};

const BINARY: &str = env!("CARGO_BIN_EXE_planner");
/// The stack's timeout of the planner.
const TIMEOUT: Duration = Duration::from_secs(60);
/// A debug build starts well within this.
const START: Duration = Duration::from_secs(30);

/// A report of `web`'s queue, collected 30 s ago (the binary plans at its own clock).
fn report(cycle: &str, queue: f64) -> String {
    let collected_at = shared::time::now() - jiff::SignedDuration::from_secs(30);
    let mut r = MetricsReport::new("prod", cycle, collected_at);
    r.services
        .entry("web".to_owned())
        .or_default()
        .values
        .insert("queue".to_owned(), queue);
    r.to_json_string()
}

#[tokio::test]
async fn the_binary_plans_two_batches_of_the_metrics_queue() {
    let bed = TestBed::start().await;
    seed_prod(&bed, false).await;
    let plans = messaging::create_queue(bed.sqs(), "plans", QueueKind::Fifo)
        .await
        .expect("plans queue");
    messaging::create_event_bus(bed.eventbridge(), "autoscale")
        .await
        .expect("bus");
    let dir = clusters_dir("runtime");
    let clusters_dir = dir.display();

    let mut function = LambdaFunction::start(
        Path::new(BINARY),
        "planner",
        &[
            ("PLANS_QUEUE_URL", plans.as_str()),
            ("EVENT_BUS_NAME", "autoscale"),
            ("CLUSTERS_DIR", clusters_dir.as_str()),
            ("COLLECTION_PERIOD", "rate(1 minute)"),
            ("AWS_ENDPOINT_URL", bed.endpoint()),
        ],
    )
    .await
    .expect("planner process");
    function.assert_ready(START).await;

    // 40 queued messages, 10 per task: web goes from 2 to 4 tasks.
    let batch = sqs_batch(
        "stack-metrics.fifo",
        &[SqsRecord::fifo("m-1", "prod", report("cycle-1", 40.0))],
    );
    let response = function
        .invoke_json(&batch, TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(batch_item_failures(&response), Some(vec![]), "{response}");
    let queued = queued_plans(&bed, &plans).await;
    assert_eq!(queued.len(), 1, "one plan on the FIFO queue");
    assert_eq!(
        queued[0].0.actions.services,
        [ServiceChange {
            service: "web".into(),
            from: 2,
            to: 4
        }]
    );
    assert_eq!(queued[0].0.metrics_cycle_ids, ["cycle-1"]);

    // The same process: an undecodable record fails alone, the good report is planned.
    let batch = sqs_batch(
        "stack-metrics.fifo",
        &[
            SqsRecord::fifo("m-junk", "prod", "{\"cluster\": \"prod\""),
            SqsRecord::fifo("m-2", "prod", report("cycle-2", 40.0)),
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
    let queued = queued_plans(&bed, &plans).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].0.metrics_cycle_ids, ["cycle-2"]);

    function.assert_serving(3);
}

#[tokio::test]
async fn a_missing_plans_queue_is_reported_as_the_init_error() {
    let bed = TestBed::start().await;
    let dir = clusters_dir("runtime-init");
    let clusters_dir = dir.display();
    let mut function = LambdaFunction::start(
        Path::new(BINARY),
        "planner",
        &[
            ("EVENT_BUS_NAME", "autoscale"),
            ("CLUSTERS_DIR", clusters_dir.as_str()),
            ("AWS_ENDPOINT_URL", bed.endpoint()),
        ],
    )
    .await
    .expect("planner process");
    function
        .assert_init_error(START, &["PLANS_QUEUE_URL"])
        .await;
}

/// A clusters directory holding `prod.yml`.
fn clusters_dir(tag: &str) -> ClustersDir {
    let dir = ClustersDir::new("planner", tag);
    dir.write("prod.yml", PROD_YAML);
    dir
}
