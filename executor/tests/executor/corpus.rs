//! `tests/corpus/plans/`: hostile messages on the plans queue, through the handler against the
//! cluster files of `tests/corpus/plans/clusters/`. Every one is rejected: nothing is read or
//! changed, the record is done with at once (no batch item failure, so nothing holds back
//! the cluster's later plans), and the report says why — or, for a message that does not
//! name its plan and cluster, the log does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use executor::handler::handle_at;
use shared::messages::{ExecutionReport, Outcome};
use testbed::messaging::{self, QueueKind};
use testbed::{CallLog, TestBed};

use crate::support::*;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/plans")
}

/// Each corpus file and what its rejection says (`None`: no report, the message names no
/// plan and cluster to report).
const EXPECTED: &[(&str, Option<&str>)] = &[
    (
        "unknown_cluster",
        Some("no cluster file of `nope` is loaded"),
    ),
    (
        "disabled_cluster",
        Some("the cluster `off` is disabled in its file"),
    ),
    (
        "other_clusters_group",
        Some("the plan names the group `off-asg`, the cluster file `prod-asg`"),
    ),
    (
        "desired_count_of_a_billion",
        Some("service `web`: desired count 1000000000 is outside the file's [1, 3]"),
    ),
    (
        "desired_count_above_i32",
        Some("service `web`: 4294967295 is larger than the APIs accept (2147483647)"),
    ),
    ("service_twice", Some("service `web` is changed twice in one plan")),
    (
        "service_not_in_file",
        Some("service `db` is not in the cluster file"),
    ),
    (
        "service_disabled",
        Some("service `worker` is disabled in the cluster file"),
    ),
    (
        "group_limits_0_to_60_desired_50",
        Some("group limits: MaxSize 60 is above the file's max (3) and the group's (3)"),
    ),
    (
        "instance_drained_twice",
        Some("drain: the container instance `arn:aws:ecs:us-east-1:123456789012:container-instance/prod/a` is listed twice"),
    ),
    (
        "negative_count",
        Some("the message is not a valid plan: not a valid scaling plan: actions.services[0].to: "),
    ),
    (
        "schema_version_2",
        Some("the message is not a valid plan: scaling plan has schema_version 2"),
    ),
    (
        "missing_expiry",
        Some("the message is not a valid plan: not a valid scaling plan: missing field `expires_at`"),
    ),
    ("not_json", None),
    ("nested_too_deep", None),
];

#[tokio::test]
async fn every_hostile_plan_of_the_corpus_is_rejected_at_once_and_changes_nothing() {
    let bed = TestBed::start().await;
    let queue = messaging::create_queue(bed.sqs(), "rejected", QueueKind::Standard)
        .await
        .expect("queue");
    messaging::create_event_bus(bed.eventbridge(), BUS)
        .await
        .expect("bus");
    messaging::route_to_queue(
        bed.eventbridge(),
        bed.sqs(),
        BUS,
        "applied",
        &serde_json::json!({"source": ["ecs-autoscale"], "detail-type": ["Scaling Plan Applied"]}),
        &queue,
    )
    .await
    .expect("rule");
    let log = CallLog::new();
    let mut deps = deps(counted(&bed, &log).await);
    let loaded = shared::definition::load_dir(&corpus().join("clusters"), &|_| None);
    assert!(loaded.is_ok(), "{:?}", loaded.errors);
    deps.definitions = loaded.clusters;

    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("the corpus")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut listed: Vec<&str> = EXPECTED.iter().map(|(n, _)| *n).collect();
    listed.sort_unstable();
    assert_eq!(names, listed, "every corpus file has an expectation here");

    // Each in a batch of its own, then all in one batch of one message group: none holds
    // back another. The plans are dated in 2026: rejection is decided before expiry.
    let now = shared::time::now();
    for (file, name) in files.iter().zip(&names) {
        let body = std::fs::read_to_string(file).expect("a plan");
        let response = handle_at(sqs_event(&[(name, CLUSTER, body)]), &deps, now).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{name}: returned to the queue"
        );
    }
    let batch: Vec<(&str, &str, String)> = files
        .iter()
        .zip(&names)
        .map(|(f, n)| {
            (
                n.as_str(),
                CLUSTER,
                std::fs::read_to_string(f).expect("plan"),
            )
        })
        .collect();
    let response = handle_at(sqs_event(&batch), &deps, now).await;
    assert!(response.batch_item_failures.is_empty());
    let ops = log.ops();
    assert!(
        ops.iter().all(|op| op == "PutEvents"),
        "nothing but the reports: {ops:?}"
    );

    let mut reports: BTreeMap<String, Vec<ExecutionReport>> = BTreeMap::new();
    for body in messaging::receive_bodies(bed.sqs(), &queue)
        .await
        .expect("receive")
    {
        let event: serde_json::Value = serde_json::from_str(&body).expect("event JSON");
        let report = ExecutionReport::from_json(&event["detail"].to_string()).expect("a report");
        reports
            .entry(report.plan_id.clone())
            .or_default()
            .push(report);
    }
    for (name, expected) in EXPECTED {
        let got = reports.get(*name);
        match expected {
            None => assert!(got.is_none(), "{name}: {got:?}"),
            Some(reason) => {
                let got = got.unwrap_or_else(|| panic!("{name}: no report"));
                assert_eq!(got.len(), 2, "{name}: once per delivery: {got:#?}");
                for report in got {
                    assert_eq!(report.outcome, Outcome::Rejected, "{name}");
                    assert!(
                        report.reasons.iter().any(|r| r.contains(reason)),
                        "{name}: {:#?}",
                        report.reasons
                    );
                    assert!(
                        report
                            .actions
                            .iter()
                            .all(|a| a.status == shared::messages::ActionStatus::Skipped),
                        "{name}"
                    );
                }
                assert_eq!(
                    got[0].dedup_key, got[1].dedup_key,
                    "{name}: two publications of one delivery, one key"
                );
            }
        }
    }
}

/// A plan that raises the group's desired capacity above the file's `max`, within the group's
/// own MaxSize (the group 0..10, the file 1..6): the group is read, the plan rejected, nothing
/// changed, the record done at once. On main the group was raised to 8.
#[tokio::test]
async fn a_desired_capacity_above_the_files_max_is_rejected_once_the_group_is_read() {
    let bed = TestBed::start().await;
    build_world(&bed, 3, &[("web", 256, 512, 2)]).await;
    messaging::create_event_bus(bed.eventbridge(), BUS)
        .await
        .expect("bus");
    let log = CallLog::new();
    let deps = deps(counted(&bed, &log).await);
    let forged = plan(
        "p-forged",
        shared::messages::PlanActions {
            group_desired: Some(shared::messages::CountChange { from: 3, to: 8 }),
            ..Default::default()
        },
    );
    let response = handle_at(plan_event("m-1", &forged), &deps, shared::time::now()).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "returned to the queue"
    );
    assert!(mutating_calls(&log).is_empty(), "{:?}", log.ops());
    assert_eq!(
        group_state(&bed).await.2,
        3,
        "the desired capacity is unchanged"
    );
}
