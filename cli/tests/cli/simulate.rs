//! `simulate --from-cloudwatch --since 1h`: the timeline from CloudWatch history, read with
//! GetMetricData only.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ecs_autoscale_cli::aws::is_read;
use testbed::messaging::put_metric_data;
use testbed::TestBed;

use crate::support::*;

const CLUSTER_FILE: &str = "autoscale_group: sim-asg
instance_capacity: {cpu: 4096, memory: 8192}
services:
  worker:
    min: 1
    max: 10
    metric_sources:
      cloudwatch:
        - namespace: Custom/Jobs
          metric_name: Backlog
          dimensions: [{name: QueueName, value: jobs}]
          period: 60
          statistics: [{name: Maximum, alias: backlog}]
      third_party:
        - url: http://127.0.0.1:9/api/queues/jobs
          statistics: [{name: messages_ready, alias: ready}]
    target_tracking: {metric: backlog, target: 100}
";

const WORLD: &str = "step_secs: 60
instance: {cpu: 4096, memory: 8192}
instance_boot_secs: 120
task_start_secs: 30
drain_secs: 60
group: {min: 1, max: 5, desired: 1}
services:
  worker: {desired: 1, cpu: 1024, memory: 2048}
";

#[tokio::test]
async fn the_last_hour_of_cloudwatch_is_replayed() {
    let bed = TestBed::start().await;
    // One datapoint a minute over the last hour: a backlog of 20, then 600 for the last half.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let minute = now / 60 * 60;
    let points: Vec<(SystemTime, f64)> = (1..=60u64)
        .map(|k| {
            let at = minute - 60 * k;
            (
                UNIX_EPOCH + Duration::from_secs(at),
                if k <= 30 { 600.0 } else { 20.0 },
            )
        })
        .collect();
    put_metric_data(
        bed.cloudwatch(),
        "Custom/Jobs",
        "Backlog",
        &[("QueueName", "jobs")],
        &points,
    )
    .await
    .unwrap();

    let dir = tempdir("simulate-history");
    std::fs::create_dir_all(dir.join("clusters")).unwrap();
    std::fs::write(dir.join("clusters/sim.yml"), CLUSTER_FILE).unwrap();
    std::fs::write(dir.join("world.yml"), WORLD).unwrap();
    let out_dir = dir.join("out");
    let out = cli(bed.endpoint())
        .args(["simulate", "--cluster", "sim", "--clusters-dir"])
        .arg(dir.join("clusters"))
        .arg("--world")
        .arg(dir.join("world.yml"))
        .args(["--from-cloudwatch", "--since", "1h", "--json", "--out"])
        .arg(&out_dir)
        .env("RUST_LOG", "aws_calls=debug")
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("note: worker.ready: an HTTP source has no history"),
        "{err}"
    );
    // Reads only, and the history was read with GetMetricData.
    let calls: Vec<String> = err
        .lines()
        .filter_map(|l| l.split_once("call ").map(|(_, op)| op.trim().to_owned()))
        .collect();
    assert!(
        calls.iter().any(|c| c.ends_with("GetMetricData")),
        "{calls:?}\n{err}"
    );
    for call in &calls {
        let op = call.rsplit('.').next().unwrap();
        assert!(is_read(op), "a mutating operation was sent: {call}");
    }

    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["steps"], 60, "{summary:#}");
    assert_eq!(summary["invariant_violations"], 0, "{summary:#}");
    // 600 messages at 100 a task: the worker went to 6 tasks on two instances.
    assert!(
        summary["actions"]["service_up"].as_u64() >= Some(1),
        "{summary:#}"
    );
    assert!(summary["peak_instances"].as_u64() >= Some(2), "{summary:#}");

    let timeline = std::fs::read_to_string(out_dir.join("timeline.csv")).unwrap();
    assert!(
        timeline.starts_with("time,service,alias,value\n"),
        "{timeline}"
    );
    assert!(timeline.contains(",worker,backlog,600\n"), "{timeline}");
    assert!(timeline.contains(",worker,backlog,20\n"), "{timeline}");
    let series = std::fs::read_to_string(out_dir.join("series.csv")).unwrap();
    assert!(series.lines().any(|l| l.ends_with(",6,6,600")), "{series}");
}
