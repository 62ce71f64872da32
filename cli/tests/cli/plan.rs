//! `plan`: a preview that changes nothing.

use ecs_autoscale_cli::aws::{clients_for, is_read, Access};
use testbed::TestBed;

use crate::support::*;

#[tokio::test]
async fn plan_previews_a_scale_up_and_changes_nothing() {
    let bed = TestBed::start().await;
    let w = world(&bed, "plan-preview").await;
    let before = snapshot(&bed).await;
    let out = cli(bed.endpoint())
        .args([
            "plan",
            "--cluster",
            CLUSTER,
            "--clusters-dir",
            s(&w.clusters_dir),
        ])
        .args(["--set", "queue_length=250", "--set", "backend.cpu_usage=50"])
        .env("RUST_LOG", "aws_calls=debug")
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("for cluster my_cluster: "), "{text}");
    assert!(
        text.contains("service worker desired count: 1 → 2"),
        "{text}"
    );
    assert!(
        text.contains("service backend desired count: 1 → 2"),
        "{text}"
    );
    assert!(text.contains("why:"), "{text}");
    assert!(text.contains("worker: queue_length=250"), "{text}");
    assert!(stderr(&out).contains("preview only: nothing was changed"));

    // Only reads were sent (every operation is logged by the clients' interceptor)...
    let calls: Vec<String> = stderr(&out)
        .lines()
        .filter_map(|l| l.split_once("call ").map(|(_, op)| op.trim().to_owned()))
        .collect();
    assert!(
        calls.iter().any(|c| c == "ECS.DescribeServices"),
        "{calls:?}\n{}",
        stderr(&out)
    );
    assert!(calls
        .iter()
        .any(|c| c.ends_with("DescribeAutoScalingGroups")));
    for call in &calls {
        let op = call.rsplit('.').next().unwrap();
        assert!(is_read(op), "a mutating operation was sent: {call}");
    }
    assert!(!stderr(&out).contains("refused"), "{}", stderr(&out));
    // ...and the state is what it was.
    assert_eq!(snapshot(&bed).await, before);
}

#[tokio::test]
async fn plan_json_is_the_plan_message() {
    let bed = TestBed::start().await;
    let w = world(&bed, "plan-json").await;
    let out = run(
        bed.endpoint(),
        &[
            "plan",
            "--cluster",
            CLUSTER,
            "--clusters-dir",
            s(&w.clusters_dir),
            "--set",
            "worker.queue_length=250",
            "--json",
        ],
    )
    .await;
    assert_code(&out, 0);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(plan["cluster"], CLUSTER);
    assert_eq!(plan["schema_version"], 1);
    assert_eq!(plan["has_actions"], true);
    assert_eq!(
        plan["actions"]["services"],
        serde_json::json!([{"service": "worker", "from": 1, "to": 2}])
    );
    assert!(!plan["decisions"]["headlines"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(desired(&bed, "worker").await, 1);
}

#[tokio::test]
async fn plan_collects_when_nothing_is_set() {
    let bed = TestBed::start().await;
    let w = world(&bed, "plan-collect").await;
    let out = run(
        bed.endpoint(),
        &[
            "plan",
            "--cluster",
            CLUSTER,
            "--clusters-dir",
            s(&w.clusters_dir),
        ],
    )
    .await;
    assert_code(&out, 0);
    let text = stdout(&out);
    // The worker's RabbitMQ is not there and CloudWatch has no datapoints: nothing to act on.
    assert!(
        text.contains("worker: queue_length: request failed"),
        "{text}"
    );
    assert!(text.contains("backend: cpu_usage: no datapoints"), "{text}");
}

#[tokio::test]
async fn plan_output_never_shows_url_credentials_or_queries() {
    let bed = TestBed::start().await;
    let w = world(&bed, "plan-secrets").await;
    let file = w.clusters_dir.join("my_cluster.yml");
    let text = std::fs::read_to_string(&file).unwrap();
    let with_secrets = text.replace(
        "http://127.0.0.1:9/api/queues/%2F/celery",
        "http://monitor:pa%2Fss@127.0.0.1:9/api/queues/%2F/celery?api_key=K3Y",
    );
    assert_ne!(
        with_secrets, text,
        "the test world changed; update this test"
    );
    std::fs::write(&file, with_secrets).unwrap();
    // Logs at `warning` (the default) show the failed source with its URL: redacted.
    let out = run(
        bed.endpoint(),
        &[
            "plan",
            "--cluster",
            CLUSTER,
            "--clusters-dir",
            s(&w.clusters_dir),
        ],
    )
    .await;
    assert_code(&out, 0);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("worker: queue_length: request failed"),
        "{all}"
    );
    assert!(
        all.contains("http://***@127.0.0.1:9/api/queues/%2F/celery?***"),
        "the failed source is logged, redacted: {all}"
    );
    for secret in ["monitor", "pa%2Fss", "pa/ss", "K3Y"] {
        assert!(!all.contains(secret), "`{secret}` shown:\n{all}");
    }
}

#[tokio::test]
async fn plan_refuses_unknown_clusters_and_aliases() {
    let bed = TestBed::start().await;
    let w = world(&bed, "plan-unknown").await;
    let dir = s(&w.clusters_dir);
    let out = run(
        bed.endpoint(),
        &["plan", "--cluster", "my_clustr", "--clusters-dir", dir],
    )
    .await;
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("error: unknown cluster `my_clustr`"), "{err}");
    assert!(err.contains("hint: did you mean `my_cluster`?"), "{err}");

    let out = run(
        bed.endpoint(),
        &[
            "plan",
            "--cluster",
            CLUSTER,
            "--clusters-dir",
            dir,
            "--set",
            "cpu=3",
        ],
    )
    .await;
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("no service of cluster `my_cluster` has a metric alias `cpu`"),
        "{err}"
    );
    assert!(
        err.contains("hint: aliases: worker.queue_length, backend.cpu_usage"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

/// The guard under the preview: a mutating call fails before it is sent.
#[tokio::test]
async fn read_only_clients_refuse_every_change() {
    let bed = TestBed::start().await;
    world(&bed, "plan-guard").await;
    let clients = clients_for(bed.sdk_config(), Access::ReadOnly);
    let err = clients
        .ecs
        .update_service()
        .cluster(CLUSTER)
        .service("worker")
        .desired_count(3)
        .send()
        .await
        .expect_err("refused");
    let text = format!("{}", aws_sdk_ecs::error::DisplayErrorContext(&err));
    assert!(text.contains("UpdateService refused"), "{text}");
    assert!(clients
        .autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(GROUP)
        .desired_capacity(4)
        .send()
        .await
        .is_err());
    assert_eq!(desired(&bed, "worker").await, 1);
    assert!(
        clients.ecs.list_clusters().send().await.is_ok(),
        "reads pass"
    );
}
