//! `run` end to end: injected metrics → plan → applied → the outcome seen by `watch`.

use std::process::Stdio;
use std::time::Duration;

use testbed::TestBed;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::support::*;

#[tokio::test]
async fn injected_metrics_are_planned_applied_and_watched() {
    let bed = TestBed::start().await;
    let w = world(&bed, "run-e2e").await;
    let dir = s(&w.clusters_dir);

    let mut watch = cli(bed.endpoint())
        .args([
            "watch",
            "--bus",
            BUS,
            "--json",
            "--max-events",
            "2",
            "--timeout",
            "60",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err_lines = BufReader::new(watch.stderr.take().unwrap()).lines();
    while let Some(line) = err_lines.next_line().await.unwrap() {
        if line.starts_with("watching bus") {
            break;
        }
    }

    let out = run(
        bed.endpoint(),
        &[
            "inject",
            "--cluster",
            CLUSTER,
            "--service",
            "worker",
            "queue_length=250",
            "--bus",
            BUS,
            "--clusters-dir",
            dir,
        ],
    )
    .await;
    assert_code(&out, 0);

    let out = run(
        bed.endpoint(),
        &[
            "run",
            "--cycles",
            "1",
            "--interval",
            "0",
            "--bus",
            BUS,
            "--clusters-dir",
            dir,
            "--metrics-queue-url",
            &w.metrics_queue_url,
            "--plans-queue-url",
            &w.plans_queue_url,
            "--synthetic-queue-url",
            &w.synthetic_queue_url,
        ],
    )
    .await;
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("; 1 synthetic report(s) forwarded;"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("cycle 1: collected my_cluster")),
        "{text}"
    );
    assert!(
        text.contains("service worker desired count: 1 → 2"),
        "{text}"
    );
    assert!(text.contains(": applied\n"), "{text}");
    assert!(text.contains("[applied] service worker"), "{text}");
    assert_eq!(desired(&bed, "worker").await, 2, "the plan was applied");

    // What `watch` saw: the plan, then its outcome.
    let status = tokio::time::timeout(Duration::from_secs(60), watch.wait())
        .await
        .expect("watch ends after 2 events")
        .unwrap();
    let mut seen = String::new();
    watch
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut seen)
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "{seen}");
    let events: Vec<serde_json::Value> = seen
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(events.len(), 2, "{seen}");
    assert_eq!(events[0]["detail-type"], "Scaling Plan");
    let plan = &events[0]["detail"];
    assert_eq!(
        plan["actions"]["services"][0],
        serde_json::json!({"service": "worker", "from": 1, "to": 2})
    );
    assert_eq!(events[1]["detail-type"], "Scaling Plan Applied");
    assert_eq!(events[1]["detail"]["plan_id"], plan["plan_id"]);
    assert_eq!(events[1]["detail"]["outcome"], "applied");
    // Both subscriptions are gone.
    let rules = bed
        .eventbridge()
        .list_rules()
        .event_bus_name(BUS)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = rules.rules().iter().filter_map(|r| r.name()).collect();
    assert_eq!(names, ["synthetic-metrics"]);
}

#[tokio::test]
async fn run_refuses_an_unknown_cluster() {
    let bed = TestBed::start().await;
    let w = world(&bed, "run-unknown").await;
    let out = run(
        bed.endpoint(),
        &[
            "run",
            "--cycles",
            "1",
            "--cluster",
            "prod",
            "--bus",
            BUS,
            "--clusters-dir",
            s(&w.clusters_dir),
            "--metrics-queue-url",
            &w.metrics_queue_url,
            "--plans-queue-url",
            &w.plans_queue_url,
        ],
    )
    .await;
    assert_code(&out, 1);
    assert!(stderr(&out).contains("error: unknown cluster `prod`"));
}

#[tokio::test]
async fn run_finds_a_stacks_queues_by_name_and_needs_them() {
    let bed = TestBed::start().await;
    let w = world(&bed, "run-stack").await;
    let dir = s(&w.clusters_dir);
    // The support world's queues are `stack-metrics.fifo`, `stack-plans.fifo` and
    // `stack-synthetic`.
    let out = run(
        bed.endpoint(),
        &[
            "run",
            "--stack",
            "stack",
            "--cycles",
            "1",
            "--interval",
            "0",
            "--bus",
            BUS,
            "--clusters-dir",
            dir,
        ],
    )
    .await;
    assert_code(&out, 0);
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("cycle 1: collected my_cluster")),
        "{}",
        stdout(&out)
    );

    let out = run(
        bed.endpoint(),
        &[
            "run",
            "--stack",
            "nope",
            "--cycles",
            "1",
            "--bus",
            BUS,
            "--clusters-dir",
            dir,
        ],
    )
    .await;
    assert_code(&out, 1);
    assert!(stderr(&out).contains("error: the stack `nope` has no queue `nope-metrics.fifo`"));

    let out = run(
        bed.endpoint(),
        &["run", "--cycles", "1", "--clusters-dir", dir],
    )
    .await;
    assert_code(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("error: `--metrics-queue-url` is required"),
        "{err}"
    );
    assert!(
        err.contains("hint: or name the stack with `--stack NAME`"),
        "{err}"
    );
}

/// `run` and `watch` read the outcomes from a queue of their own. When deleting a received
/// event fails, the event is still returned and the command goes on (a warning on stderr);
/// on main the failure ended `run` with exit code 3 mid-loop, after the plan was applied.
#[tokio::test]
async fn a_failed_deletion_from_the_watch_queue_is_a_warning_not_an_error() {
    use ecs_autoscale_cli::subscription::Subscription;
    use testbed::strict::{Fault, StrictAws};

    let bed = TestBed::start().await;
    let strict = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    testbed::messaging::create_event_bus(bed.eventbridge(), BUS)
        .await
        .expect("bus");
    let clients = shared::aws::AwsClients::new(strict.sdk_config());
    let mut sub = Subscription::create(&clients, BUS)
        .await
        .expect("subscription");
    let detail = serde_json::json!({"schema_version": 1, "plan_id": "p-1", "cluster": "c"});
    bed.eventbridge()
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(BUS)
                .source(shared::messages::EVENT_SOURCE)
                .detail_type(shared::messages::APPLIED_DETAIL_TYPE)
                .detail(detail.to_string())
                .build(),
        )
        .send()
        .await
        .expect("PutEvents");
    strict.fail("DeleteMessage", Fault::Validation, 1);
    let events = sub
        .receive(Duration::from_secs(10))
        .await
        .expect("the events, despite the failed deletion");
    sub.delete().await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        strict.attempts("DeleteMessage"),
        1,
        "the failure was injected"
    );
}
