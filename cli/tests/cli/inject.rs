//! `inject`: a synthetic report through the bus or the queue; unknown names are refused.

use testbed::messaging;
use testbed::TestBed;

use crate::support::*;

#[tokio::test]
async fn inject_through_the_bus_reaches_the_synthetic_queue() {
    let bed = TestBed::start().await;
    let w = world(&bed, "inject-bus").await;
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
            s(&w.clusters_dir),
        ],
    )
    .await;
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("worker.queue_length=250"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains(&format!("bus `{BUS}`")));
    let bodies = messaging::receive_bodies(bed.sqs(), &w.synthetic_queue_url)
        .await
        .unwrap();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let event: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(event["source"], "ecs-autoscale.synthetic");
    assert_eq!(event["detail-type"], "Metrics Report");
    let report = planner::handler::decode_body(&bodies[0]).expect("the planner reads it");
    assert_eq!(report.cluster, CLUSTER);
    assert_eq!(report.origin, "synthetic");
    assert_eq!(report.services["worker"].values["queue_length"], 250.0);
}

#[tokio::test]
async fn inject_through_the_queue_sends_the_bare_report() {
    let bed = TestBed::start().await;
    let w = world(&bed, "inject-queue").await;
    let out = run(
        bed.endpoint(),
        &[
            "inject",
            "--cluster",
            CLUSTER,
            "--service",
            "backend",
            "cpu_usage=42.5",
            "--via",
            "queue",
            "--queue-url",
            &w.metrics_queue_url,
            "--clusters-dir",
            s(&w.clusters_dir),
            "--json",
        ],
    )
    .await;
    assert_code(&out, 0);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(printed["services"]["backend"]["values"]["cpu_usage"], 42.5);
    let messages = messaging::receive_all(bed.sqs(), &w.metrics_queue_url)
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    let sent: serde_json::Value =
        serde_json::from_str(messages[0].body().unwrap_or_default()).unwrap();
    assert_eq!(sent, printed);
    // The FIFO metrics queue: the cluster's message group, an id of the report's own cycle.
    let attribute = |name| {
        messages[0]
            .attributes()
            .and_then(|a| a.get(&name))
            .cloned()
            .unwrap_or_default()
    };
    use aws_sdk_sqs::types::MessageSystemAttributeName as Attribute;
    assert_eq!(attribute(Attribute::MessageGroupId), CLUSTER);
    assert_eq!(
        attribute(Attribute::MessageDeduplicationId),
        shared::messages::report_deduplication_id(printed["cycle_id"].as_str().unwrap(), CLUSTER)
    );

    // Without a queue URL: a usage problem, with the way to give one.
    let out = run(
        bed.endpoint(),
        &[
            "inject",
            "--cluster",
            CLUSTER,
            "--service",
            "backend",
            "cpu_usage=1",
            "--via",
            "queue",
            "--clusters-dir",
            s(&w.clusters_dir),
        ],
    )
    .await;
    assert_code(&out, 1);
    assert!(stderr(&out).contains("hint: pass `--queue-url URL` or set METRICS_QUEUE_URL"));
}

#[tokio::test]
async fn inject_refuses_unknown_clusters_services_and_aliases() {
    let bed = TestBed::start().await;
    let w = world(&bed, "inject-unknown").await;
    let dir = s(&w.clusters_dir);
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["--cluster", "prod", "--service", "worker", "queue_length=1"],
            &[
                "error: unknown cluster `prod`",
                "hint: known clusters: my_cluster",
            ],
        ),
        (
            &[
                "--cluster",
                CLUSTER,
                "--service",
                "wroker",
                "queue_length=1",
            ],
            &[
                "error: cluster `my_cluster` has no service `wroker`",
                "hint: did you mean `worker`?",
                "hint: services of `my_cluster`: worker, backend",
            ],
        ),
        (
            &["--cluster", CLUSTER, "--service", "worker", "cpu_usage=1"],
            &[
                "error: service `worker` of cluster `my_cluster` has no metric alias `cpu_usage`",
                "hint: aliases: worker.queue_length",
            ],
        ),
        (
            &[
                "--cluster",
                CLUSTER,
                "--service",
                "worker",
                "queue_length=lots",
            ],
            &["error: `queue_length=lots`: `lots` is not a number"],
        ),
    ];
    for (args, expected) in cases {
        let out = cli(bed.endpoint())
            .arg("inject")
            .args(args)
            .args(["--bus", BUS, "--clusters-dir", dir])
            .output()
            .await
            .unwrap();
        assert_code(&out, 1);
        let err = stderr(&out);
        for line in expected {
            assert!(err.contains(line), "{args:?}: {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(messaging::receive_bodies(bed.sqs(), &w.metrics_queue_url)
        .await
        .unwrap()
        .is_empty());
}
