//! `watch`: a temporary rule and queue, deleted at the end (time-out, Ctrl-C).

use std::process::Stdio;

use testbed::TestBed;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::*;

/// The rules on the bus and the queues whose names contain `watch`.
async fn leftovers(bed: &TestBed) -> (Vec<String>, Vec<String>) {
    let rules = bed
        .eventbridge()
        .list_rules()
        .event_bus_name(BUS)
        .send()
        .await
        .unwrap()
        .rules()
        .iter()
        .filter_map(|r| r.name().map(str::to_owned))
        .filter(|n| n.contains("watch"))
        .collect();
    let queues = bed
        .sqs()
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls()
        .iter()
        .filter(|u| u.contains("watch"))
        .cloned()
        .collect();
    (rules, queues)
}

#[tokio::test]
async fn watch_times_out_and_deletes_its_rule_and_queue() {
    let bed = TestBed::start().await;
    world(&bed, "watch-timeout").await;
    let out = run(
        bed.endpoint(),
        &["watch", "--bus", BUS, "--timeout", "1", "--max-events", "1"],
    )
    .await;
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("timed out after 1 s with 0 of 1 event(s)"),
        "{err}"
    );
    assert!(
        err.contains("deleted the temporary rule and queue"),
        "{err}"
    );
    assert_eq!(leftovers(&bed).await, (vec![], vec![]));

    // Without --max-events, the time-out is the plan: exit 0.
    let out = run(bed.endpoint(), &["watch", "--bus", BUS, "--timeout", "1"]).await;
    assert_code(&out, 0);
}

#[tokio::test]
async fn watch_cleans_up_on_ctrl_c() {
    let bed = TestBed::start().await;
    world(&bed, "watch-sigint").await;
    let mut child = cli(bed.endpoint())
        .args(["watch", "--bus", BUS])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.starts_with("watching bus") {
            break;
        }
    }
    let (rules, queues) = leftovers(&bed).await;
    assert_eq!(
        (rules.len(), queues.len()),
        (1, 1),
        "the subscription exists"
    );
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("watch stops")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(leftovers(&bed).await, (vec![], vec![]));
}

#[tokio::test]
async fn watch_refuses_a_bus_that_does_not_exist() {
    let bed = TestBed::start().await;
    let out = run(
        bed.endpoint(),
        &["watch", "--bus", "nope", "--timeout", "1"],
    )
    .await;
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("error: the event bus `nope` does not exist"),
        "{err}"
    );
    assert!(
        err.contains("hint: pass the stack's bus with `--bus NAME`"),
        "{err}"
    );
}
