//! The executor's real binary (`main.rs`) run as Lambda runs it: started under the test bed's
//! runtime API emulator with the function's environment, invoked twice with batches of the FIFO
//! plans queue (a plan that scales `web` up; then an undecodable record beside the next plan,
//! answered in `batchItemFailures`) by one process, each outcome published on the bus; and a
//! broken configuration reported to the runtime API as the init error.

use std::path::Path;
use std::time::Duration;

use shared::messages::{ExecutionReport, Outcome, PlanActions};
use testbed::lambda_events::{batch_item_failures, sqs_batch, SqsRecord};
use testbed::lambda_process::LambdaFunction;
use testbed::messaging::{self, QueueKind};
use testbed::ClustersDir;
use testbed::TestBed;

use crate::support::{build_world, desired_count, plan, service, ServiceSpec, CLUSTER, GROUP};

const BINARY: &str = env!("CARGO_BIN_EXE_executor");
/// The stack's timeout of the executor.
const TIMEOUT: Duration = Duration::from_secs(120);
/// A debug build starts well within this.
const START: Duration = Duration::from_secs(30);
const SERVICES: &[ServiceSpec] = &[("web", 1024, 1024, 2)];

fn web(id: &str, from: u32, to: u32) -> String {
    let plan = plan(
        id,
        PlanActions {
            services: vec![service("web", from, to)],
            ..Default::default()
        },
    );
    serde_json::to_string(&plan).expect("JSON")
}

/// The outcomes the bus delivered to `queue`, by plan id.
async fn outcomes(bed: &TestBed, queue: &str) -> Vec<(String, Outcome)> {
    messaging::receive_bodies(bed.sqs(), queue)
        .await
        .expect("receive")
        .iter()
        .map(|body| {
            let event: serde_json::Value = serde_json::from_str(body).expect("event JSON");
            let report: ExecutionReport =
                serde_json::from_value(event["detail"].clone()).expect("a report");
            (report.plan_id, report.outcome)
        })
        .collect()
}

#[tokio::test]
async fn the_binary_applies_two_batches_of_the_plans_queue() {
    let bed = TestBed::start().await;
    build_world(&bed, 2, SERVICES).await;
    messaging::create_event_bus(bed.eventbridge(), "autoscale")
        .await
        .expect("bus");
    let applied = messaging::create_queue(bed.sqs(), "applied", QueueKind::Standard)
        .await
        .expect("queue");
    let pattern = serde_json::json!({"detail-type": ["Scaling Plan Applied"]});
    messaging::route_to_queue(
        bed.eventbridge(),
        bed.sqs(),
        "autoscale",
        "applied",
        &pattern,
        &applied,
    )
    .await
    .expect("rule");
    let dir = clusters_dir("runtime");
    let clusters_dir = dir.display();

    let mut function = LambdaFunction::start(
        Path::new(BINARY),
        "executor",
        &[
            ("EVENT_BUS_NAME", "autoscale"),
            ("CLUSTERS_DIR", clusters_dir.as_str()),
            ("AWS_ENDPOINT_URL", bed.endpoint()),
        ],
    )
    .await
    .expect("executor process");
    function.assert_ready(START).await;

    let batch = sqs_batch(
        "stack-plans.fifo",
        &[SqsRecord::fifo("m-1", CLUSTER, web("p-1", 2, 3))],
    );
    let response = function
        .invoke_json(&batch, TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(batch_item_failures(&response), Some(vec![]), "{response}");
    assert_eq!(desired_count(&bed, "web").await, 3);
    assert_eq!(
        outcomes(&bed, &applied).await,
        [("p-1".to_owned(), Outcome::Applied)]
    );

    // The same process: a record that is not a plan is rejected at once (removed, never
    // retried: it cannot become a plan by waiting; no report, as it names no plan), and the
    // next plan is applied.
    let batch = sqs_batch(
        "stack-plans.fifo",
        &[
            SqsRecord::fifo("m-junk", CLUSTER, "not a plan"),
            SqsRecord::fifo("m-2", CLUSTER, web("p-2", 3, 4)),
        ],
    );
    let response = function
        .invoke_json(&batch, TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(batch_item_failures(&response), Some(vec![]), "{response}");
    assert_eq!(desired_count(&bed, "web").await, 4);
    assert_eq!(
        outcomes(&bed, &applied).await,
        [("p-2".to_owned(), Outcome::Applied)]
    );

    function.assert_serving(3);
}

#[tokio::test]
async fn a_dry_run_value_not_allowed_is_reported_as_the_init_error() {
    assert_init_error(
        "runtime-init",
        ("DRY_RUN", "perhaps"),
        &["DRY_RUN", "perhaps"],
    )
    .await;
}

/// The functions read their credentials from the variables Lambda sets (not `aws-config`'s
/// chain): one missing is the init error, naming it, rather than a failure at the first call.
#[tokio::test]
async fn missing_credentials_are_reported_as_the_init_error() {
    // Empty counts as unset; the later value wins over the test bed's.
    assert_init_error(
        "runtime-credentials",
        ("AWS_SECRET_ACCESS_KEY", ""),
        &["AWS_SECRET_ACCESS_KEY", "AWS configuration"],
    )
    .await;
}

/// Starts the binary with its usual configuration and `extra`, and checks that it reports an
/// init error mentioning each of `expected`.
async fn assert_init_error(tag: &str, extra: (&str, &str), expected: &[&str]) {
    let bed = TestBed::start().await;
    let dir = clusters_dir(tag);
    let clusters_dir = dir.display();
    let mut function = LambdaFunction::start(
        Path::new(BINARY),
        "executor",
        &[
            ("EVENT_BUS_NAME", "autoscale"),
            ("CLUSTERS_DIR", clusters_dir.as_str()),
            ("AWS_ENDPOINT_URL", bed.endpoint()),
            extra,
        ],
    )
    .await
    .expect("executor process");
    function.assert_init_error(START, expected).await;
}

/// A clusters directory holding the cluster's file.
fn clusters_dir(tag: &str) -> ClustersDir {
    let dir = ClustersDir::new("executor", tag);
    dir.write(
        &format!("{CLUSTER}.yml"),
        &format!("autoscale_group: {GROUP}\nservices:\n  web:\n    min: 1\n    max: 10\n"),
    );
    dir
}
