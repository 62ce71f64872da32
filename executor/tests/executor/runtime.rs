//! The executor's real binary (`main.rs`) run as Lambda runs it: started under the test bed's
//! runtime API emulator with the function's environment, invoked twice with batches of the FIFO
//! plans queue (a plan that scales `web` up; then an undecodable record beside the next plan,
//! answered in `batchItemFailures`) by one process, each outcome published on the bus; and a
//! broken configuration reported to the runtime API as the init error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use shared::messages::{ExecutionReport, Outcome, PlanActions};
use testbed::lambda_events::{batch_item_failures, sqs_batch, SqsRecord};
use testbed::lambda_process::LambdaFunction;
use testbed::messaging::{self, QueueKind};
use testbed::TestBed;

use crate::support::{build_world, desired_count, plan, service, ServiceSpec, CLUSTER, GROUP};

const BINARY: &str = env!("CARGO_BIN_EXE_executor");
/// The stack's timeout of the executor.
const TIMEOUT: Duration = Duration::from_secs(120);
/// A debug build starts well within this.
const START: Duration = Duration::from_secs(30);
const SERVICES: &[ServiceSpec] = &[("web", 1024, 1024, 2)];

/// A directory holding the cluster's file, removed when dropped.
struct ClustersDir(PathBuf);

impl ClustersDir {
    fn new(tag: &str) -> ClustersDir {
        let dir = std::env::temp_dir().join(format!(
            "ecs-autoscale-executor-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file =
            format!("autoscale_group: {GROUP}\nservices:\n  web:\n    min: 1\n    max: 10\n");
        std::fs::write(dir.join(format!("{CLUSTER}.yml")), file).expect("cluster file");
        ClustersDir(dir)
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for ClustersDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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
    let dir = ClustersDir::new("runtime");
    let clusters_dir = dir.path();

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
    if let Err(e) = function.api.ready(START).await {
        panic!(
            "the executor did not start: {e}\n{}",
            function.process.output()
        );
    }

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

    let mut process = function.process;
    assert!(process.is_running(), "{}", process.output());
    assert_eq!(function.api.polls(), 3, "waiting for a third event");
    assert!(
        !process.output().contains("panicked"),
        "{}",
        process.output()
    );
}

#[tokio::test]
async fn a_dry_run_value_not_allowed_is_reported_as_the_init_error() {
    let bed = TestBed::start().await;
    let dir = ClustersDir::new("runtime-init");
    let clusters_dir = dir.path();
    let mut function = LambdaFunction::start(
        Path::new(BINARY),
        "executor",
        &[
            ("EVENT_BUS_NAME", "autoscale"),
            ("DRY_RUN", "perhaps"),
            ("CLUSTERS_DIR", clusters_dir.as_str()),
            ("AWS_ENDPOINT_URL", bed.endpoint()),
        ],
    )
    .await
    .expect("executor process");
    let report = function.api.wait_init_error(START).await;
    let output = function.process.output();
    let report = report.unwrap_or_else(|| panic!("no init error reported\n{output}"));
    assert_eq!(report.header_type.as_deref(), Some("Runtime.InitError"));
    assert!(
        report.error_message.contains("DRY_RUN") && report.error_message.contains("perhaps"),
        "{report:?}"
    );
    let status = function.process.wait_exit(Duration::from_secs(10)).await;
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    assert_eq!(function.api.polls(), 0, "no event asked for");
    assert!(!function.process.output().contains("panicked"), "{output}");
}
