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
