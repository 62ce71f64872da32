//! The world, the pipeline's queues and bus, and the command.

use std::path::{Path, PathBuf};
use std::process::Output;

use testbed::messaging::{self, QueueKind};
use testbed::{world, TestBed};

pub const CLUSTER: &str = "my_cluster";
pub const GROUP: &str = "EC2ContainerService-my_cluster-EcsInstanceAsg-AAAAA";
pub const BUS: &str = "ecs-autoscale-test";

/// What a test works with.
pub struct World {
    pub clusters_dir: TempDir,
    pub metrics_queue_url: String,
    pub plans_queue_url: String,
    pub synthetic_queue_url: String,
}

/// The README's `my_cluster` on the emulator: services `worker` and `backend` (1 task each, 1024
/// CPU / 1536 MiB), a group of 2 instances (min 1, max 4); the pipeline's queues as the stack
/// names them (`stack-metrics.fifo`, `stack-plans.fifo`, `stack-synthetic`), the bus and the
/// rule that sends synthetic reports to the synthetic queue; the cluster file, with the
/// worker's RabbitMQ URL pointing at a closed port (collection fails fast).
pub async fn world(bed: &TestBed, name: &str) -> World {
    world::create_cluster(bed.ecs(), CLUSTER).await.unwrap();
    world::create_group(
        bed.autoscaling(),
        bed.ecs(),
        CLUSTER,
        &world::GroupSpec::new(GROUP, 2).min(1).max(4),
    )
    .await
    .unwrap();
    for service in ["worker", "backend"] {
        let td = world::register_task_definition(bed.ecs(), service, 1024, 1536)
            .await
            .unwrap();
        world::create_service(bed.ecs(), CLUSTER, service, &td, 1)
            .await
            .unwrap();
    }
    assert!(bed.converge(CLUSTER).await.unwrap().is_converged());
    let metrics_queue_url = messaging::create_queue(bed.sqs(), "stack-metrics", QueueKind::Fifo)
        .await
        .unwrap();
    let plans_queue_url = messaging::create_queue(bed.sqs(), "stack-plans", QueueKind::Fifo)
        .await
        .unwrap();
    let synthetic_queue_url =
        messaging::create_queue(bed.sqs(), "stack-synthetic", QueueKind::Standard)
            .await
            .unwrap();
    messaging::create_event_bus(bed.eventbridge(), BUS)
        .await
        .unwrap();
    messaging::route_to_queue(
        bed.eventbridge(),
        bed.sqs(),
        BUS,
        "synthetic-metrics",
        &serde_json::json!({"source": ["ecs-autoscale.synthetic"], "detail-type": ["Metrics Report"]}),
        &synthetic_queue_url,
    )
    .await
    .unwrap();
    let clusters_dir = tempdir(name);
    let original = std::fs::read_to_string(repo().join("clusters/my_cluster.yml")).unwrap();
    let file = original.replace(
        "https://username:password@my_rabbitmq_host.com/api/queues/celery",
        "http://127.0.0.1:9/api/queues/%2F/celery",
    );
    assert_ne!(file, original, "the example changed; update this test");
    std::fs::write(clusters_dir.join("my_cluster.yml"), file).unwrap();
    World {
        clusters_dir,
        metrics_queue_url,
        plans_queue_url,
        synthetic_queue_url,
    }
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The command with the emulator's environment (and nothing of the caller's AWS set-up).
pub fn cli(endpoint: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_ecs-autoscale"));
    for var in [
        "RUST_LOG",
        "LOG_LEVEL",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "EVENT_BUS_NAME",
        "METRICS_QUEUE_URL",
        "PLANS_QUEUE_URL",
        "SYNTHETIC_QUEUE_URL",
        "CLUSTERS_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .kill_on_drop(true);
    cmd
}

/// Runs the command to its end.
pub async fn run(endpoint: &str, args: &[&str]) -> Output {
    cli(endpoint)
        .args(args)
        .output()
        .await
        .expect("run ecs-autoscale")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
pub fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

/// Desired counts of the services, the group's desired capacity, the container instances'
/// statuses: what `plan` must leave alone.
pub async fn snapshot(bed: &TestBed) -> (Vec<(String, i32)>, i32, Vec<String>) {
    let services = testbed::scheduler::services(bed.ecs(), CLUSTER)
        .await
        .unwrap()
        .iter()
        .map(|s| {
            (
                s.service_name().unwrap_or_default().to_owned(),
                s.desired_count(),
            )
        })
        .collect();
    let group = bed
        .autoscaling()
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(GROUP)
        .send()
        .await
        .unwrap();
    let desired = group.auto_scaling_groups()[0].desired_capacity().unwrap();
    let statuses = testbed::scheduler::container_instances(bed.ecs(), CLUSTER)
        .await
        .unwrap()
        .into_iter()
        .map(|i| format!("{} {}", i.ec2_instance_id, i.status))
        .collect();
    (services, desired, statuses)
}

/// The desired count of a service.
pub async fn desired(bed: &TestBed, service: &str) -> i32 {
    snapshot(bed)
        .await
        .0
        .into_iter()
        .find(|(s, _)| s == service)
        .map(|(_, d)| d)
        .unwrap()
}

/// A scratch directory removed when dropped.
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn tempdir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("ecs-autoscale-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// The path as a `&str`.
pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}
