//! The planner's imperative shell against the emulator (moto, through `testbed`):
//!
//! - `state_*`: the state reader on seeded clusters — what it reads, and how many calls;
//! - `handler_*`: the Lambda handler end to end — SQS batch in, plans on the FIFO queue and
//!   `Scaling Plan` events on the bus out, batch item failures for what can't be planned;
//! - `serialization`: two invocations on the FIFO metrics queue never plan one cluster at once;
//! - `runtime`: the real binary under the runtime API emulator (`main.rs`'s wiring);
//! - `launch`: the reads of what the group launches and of the cluster's capacity providers.
//!
//! One test binary, so one moto server; `TestBed::start` serialises the tests.

use std::path::Path;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_ecs::types::{
    ContainerDefinition, ContainerInstanceStatus, ResourceRequirement, ResourceType,
};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use planner::handler::{handle_at, Deps};
use planner::state_reader::{read_cluster_state, MissingService, TaskDefinitionCache};
use shared::aws::AwsClients;
use shared::definition::{parse_definition, ClusterDefinition, LoadReport};
use shared::messages::{InstanceRef, MetricsReport, ScalingPlan, ServiceChange};
use shared::resources::Resources;
use shared::state::{Direction, InstanceStatus, ScalingRecord, LAST_SCALING_TAG};
use shared::time::Timestamp;
use testbed::messaging::{self, QueueKind};
use testbed::strict::StrictAws;
use testbed::world::{self, Group, GroupSpec, INSTANCE_CPU, INSTANCE_MEMORY};
use testbed::{CallLog, Clients, TestBed};

#[path = "emulator/serialization.rs"]
mod serialization;

#[path = "emulator/runtime.rs"]
mod runtime;

#[path = "emulator/launch.rs"]
mod launch;

// ---------------------------------------------------------------------------------------
// Helpers

fn aws_clients(c: Clients) -> AwsClients {
    AwsClients {
        ecs: c.ecs,
        autoscaling: c.autoscaling,
        ec2: c.ec2,
        cloudwatch: c.cloudwatch,
        sqs: c.sqs,
        eventbridge: c.eventbridge,
    }
}

fn definition(name: &str, yaml: &str) -> ClusterDefinition {
    let file = Path::new("clusters").join(format!("{name}.yml"));
    match parse_definition(name, &file, yaml, &|_| None) {
        Ok(def) => def,
        Err(errors) => panic!("test definition does not load:\n{errors}"),
    }
}

/// A task definition of two containers: (cpu 256, memoryReservation 300) and
/// (cpu 512, memory 1024, memoryReservation 100, one GPU): ECS reserves the soft limits, so one
/// task takes 768 CPU / 400 MiB and a GPU. (moto accounts 1324 MiB: see `tests/README.md`.)
async fn register_two_container_task_definition(bed: &TestBed, family: &str) -> String {
    let sidecar = ContainerDefinition::builder()
        .name("sidecar")
        .image(world::CONTAINER_IMAGE)
        .cpu(256)
        .memory_reservation(300)
        .essential(false)
        .build();
    let app = ContainerDefinition::builder()
        .name("app")
        .image(world::CONTAINER_IMAGE)
        .cpu(512)
        .memory(1024)
        .memory_reservation(100)
        .resource_requirements(
            ResourceRequirement::builder()
                .r#type(ResourceType::Gpu)
                .value("1")
                .build()
                .expect("type and value"),
        )
        .essential(true)
        .build();
    let out = bed
        .ecs()
        .register_task_definition()
        .family(family)
        .container_definitions(sidecar)
        .container_definitions(app)
        .send()
        .await
        .expect("register two-container task definition");
    out.task_definition()
        .and_then(|td| td.task_definition_arn())
        .expect("task definition ARN")
        .to_owned()
}

struct Seeded {
    group: Group,
    web_arn: String,
}

/// Cluster `prod`: group `prod-asg` (min 1, max 6) of 3 instances; services `web` (1024 CPU /
/// 2048 MiB, desired 2, tagged as scaled up) and `worker` (two containers, 768 / 400, desired
/// 2); web tasks on instances 0 and 1, worker tasks twice on instance 0, one stand-alone
/// `batch` task (no service) on instance 1; instance 2 DRAINING when `drain_third`.
async fn seed_prod(bed: &TestBed, drain_third: bool) -> Seeded {
    let (ecs, asg) = (bed.ecs(), bed.autoscaling());
    world::create_cluster(ecs, "prod").await.expect("cluster");
    let group = world::create_group(
        asg,
        ecs,
        "prod",
        &GroupSpec::new("prod-asg", 3).min(1).max(6),
    )
    .await
    .expect("group");
    let web_td = world::register_task_definition(ecs, "web", 1024, 2048)
        .await
        .expect("web td");
    let worker_td = register_two_container_task_definition(bed, "worker").await;
    let batch_td = world::register_task_definition(ecs, "batch", 128, 128)
        .await
        .expect("batch td");
    let web_arn = world::create_service(ecs, "prod", "web", &web_td, 2)
        .await
        .expect("web");
    world::create_service(ecs, "prod", "worker", &worker_td, 2)
        .await
        .expect("worker");
    ecs.tag_resource()
        .resource_arn(&web_arn)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key(LAST_SCALING_TAG)
                .value("up 1764412345")
                .build(),
        )
        .send()
        .await
        .expect("tag web");

    let ci = group.container_instance_arns();
    world::start_service_tasks(ecs, "prod", "web", &ci[0..2])
        .await
        .expect("web tasks");
    world::start_service_tasks(ecs, "prod", "worker", &[ci[0].clone(), ci[0].clone()])
        .await
        .expect("worker tasks");
    ecs.start_task()
        .cluster("prod")
        .task_definition(&batch_td)
        .container_instances(&ci[1])
        .started_by("cron")
        .send()
        .await
        .expect("batch task");
    if drain_third {
        world::set_container_instance_status(
            ecs,
            "prod",
            &ci[2..3],
            ContainerInstanceStatus::Draining,
        )
        .await
        .expect("drain");
    }
    Seeded { group, web_arn }
}

const PROD_YAML: &str = "\
autoscale_group: prod-asg
max_drain_per_cycle: 0
services:
  web:
    min: 1
    max: 10
    metric_sources:
      cloudwatch:
        - metric_name: ApproximateNumberOfMessagesVisible
          namespace: AWS/SQS
          statistics:
            - name: Maximum
              alias: queue
    target_tracking:
      metric: queue
      target: 10
  worker:
    min: 1
    max: 4
  ghost:
    min: 0
    max: 2
";

// ---------------------------------------------------------------------------------------
// State reader

#[tokio::test]
async fn state_reader_reads_services_instances_tasks_and_group() {
    let bed = TestBed::start().await;
    let seeded = seed_prod(&bed, true).await;
    let ci = seeded.group.container_instance_arns();
    // Draining allowed, so the reader lists tasks.
    let def = definition(
        "prod",
        &PROD_YAML.replace("max_drain_per_cycle: 0", "max_drain_per_cycle: 1"),
    );
    let clients = aws_clients(bed.clients().clone());
    let read = read_cluster_state(&clients, &def, &TaskDefinitionCache::new())
        .await
        .expect("read state");
    let state = &read.state;
    assert_eq!(state.cluster, "prod");

    // Services: sizes from task definitions, as ECS reserves them (container sums; the soft
    // limit `memoryReservation` where a container sets one), and the GPUs.
    let names: Vec<&str> = state.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web", "worker"]);
    let web = state.service("web").expect("web");
    assert_eq!(web.arn, seeded.web_arn);
    assert_eq!((web.status.as_str(), web.desired), ("ACTIVE", 2));
    assert_eq!(web.task_size, Resources::new(1024, 2048));
    assert_eq!(
        web.last_scaling,
        Some(ScalingRecord {
            direction: Direction::Up,
            at_epoch_secs: 1_764_412_345
        })
    );
    let worker = state.service("worker").expect("worker");
    assert_eq!(worker.task_size, Resources::new(768, 400));
    assert_eq!((web.gpu, worker.gpu), (0, 1));
    assert_eq!(worker.last_scaling, None);
    assert!(!worker.distinct_instance);
    assert_eq!(
        read.missing_services,
        [MissingService {
            name: "ghost".into(),
            reason: "MISSING".into()
        }]
    );

    // Instances: all three, the third DRAINING; resources and tasks per instance.
    assert!(read.tasks_listed);
    assert_eq!(state.instances.len(), 3);
    let by_arn = |arn: &str| {
        state
            .instances
            .iter()
            .find(|i| i.arn == arn)
            .unwrap_or_else(|| panic!("instance {arn} not read"))
    };
    let (i0, i1, i2) = (by_arn(&ci[0]), by_arn(&ci[1]), by_arn(&ci[2]));
    assert_eq!(i0.ec2_instance_id, seeded.group.instances[0].instance_id);
    let full = Resources::new(INSTANCE_CPU as u32, INSTANCE_MEMORY as u32);
    for i in [i0, i1, i2] {
        assert_eq!(i.registered, full);
    }
    assert_eq!(
        (i0.status.clone(), i1.status.clone(), i2.status.clone()),
        (
            InstanceStatus::Active,
            InstanceStatus::Active,
            InstanceStatus::Draining
        )
    );
    // remainingResources as moto accounts them (a container's `memory` before its
    // `memoryReservation`); ECS would answer 2048 + 2 × 400 MiB used.
    // Every agent is connected; the third was drained by the harness, not by this system.
    assert!([i0, i1, i2].iter().all(|i| i.agent_connected));
    assert!(!i2.drained_by_us());
    assert_eq!(i0.used(), Resources::new(1024 + 2 * 768, 2048 + 2 * 1324));
    assert_eq!(i0.running_tasks, 3);
    let mut i0_tasks: Vec<(Option<&str>, Resources)> = i0
        .tasks
        .iter()
        .map(|t| (t.service.as_deref(), t.size))
        .collect();
    i0_tasks.sort();
    assert_eq!(
        i0_tasks,
        [
            (Some("web"), Resources::new(1024, 2048)),
            (Some("worker"), Resources::new(768, 400)),
            (Some("worker"), Resources::new(768, 400)),
        ]
    );
    let mut i1_tasks: Vec<(Option<&str>, Resources)> = i1
        .tasks
        .iter()
        .map(|t| (t.service.as_deref(), t.size))
        .collect();
    i1_tasks.sort();
    assert_eq!(
        i1_tasks,
        [
            (None, Resources::new(128, 128)),
            (Some("web"), Resources::new(1024, 2048)),
        ]
    );
    assert!(i2.tasks.is_empty() && !i2.has_tasks());

    // The group: limits, desired and its instances.
    let group = state.group.as_ref().expect("group read");
    assert_eq!(
        (group.name.as_str(), group.min, group.max, group.desired),
        ("prod-asg", 1, 6, 3)
    );
    let mut ids: Vec<&str> = group
        .instances
        .iter()
        .map(|i| i.instance_id.as_str())
        .collect();
    ids.sort();
    let mut expected: Vec<&str> = seeded
        .group
        .instances
        .iter()
        .map(|r| r.instance_id.as_str())
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
    assert!(group
        .instances
        .iter()
        .all(|i| i.lifecycle_state == "InService"));
}

/// The budget of `state_reader`'s docs when the whole cluster's tasks are listed:
/// ⌈S/10⌉ + max(1, ⌈I/100⌉) + ⌈I/100⌉ + 1 + D + max(1, ⌈T/100⌉) + ⌈T/100⌉ + P + 2, with D the
/// revisions not cached and P the GetTaskProtection calls, ⌈t/10⌉ for the t tasks of the busy
/// drain candidates (at most ⌈S/10⌉ + 2⌈I/100⌉ + 2⌈T/100⌉ + D + P + 5); the 2 are the group's
/// launch configuration and DescribeClusters (its type registered, no capacity provider).
fn budget(
    services: usize,
    instances: usize,
    tasks: usize,
    revisions: usize,
    protected: usize,
) -> usize {
    services.div_ceil(10)
        + instances.div_ceil(100).max(1)
        + instances.div_ceil(100)
        + tasks.div_ceil(100).max(1)
        + tasks.div_ceil(100)
        + revisions
        + protected.div_ceil(10)
        + 1
        + 2
}

#[tokio::test]
async fn state_reader_stays_within_the_call_budget() {
    let bed = TestBed::start().await;
    seed_prod(&bed, false).await;
    // Ten more services (S = 13 with web, worker, ghost), all on web's revision.
    let web_td = bed
        .ecs()
        .describe_services()
        .cluster("prod")
        .services("web")
        .send()
        .await
        .expect("web")
        .services()[0]
        .task_definition()
        .expect("web td")
        .to_owned();
    let mut yaml = PROD_YAML.replace("max_drain_per_cycle: 0", "max_drain_per_cycle: 1");
    for n in 0..10 {
        let name = format!("extra{n}");
        world::create_service(bed.ecs(), "prod", &name, &web_td, 0)
            .await
            .expect("extra service");
        yaml.push_str(&format!("  {name}:\n    min: 0\n    max: 1\n"));
    }
    let def = definition("prod", &yaml);
    assert_eq!(def.services.len(), 13);

    // Through the strict layer, which answers GetTaskProtection (moto does not).
    let strict = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    let log = CallLog::new();
    let clients = aws_clients(Clients::counted(strict.sdk_config(), &log));
    let cache = TaskDefinitionCache::new();
    let read = read_cluster_state(&clients, &def, &cache)
        .await
        .expect("read state");
    assert_eq!(read.state.services.len(), 12);
    assert!(read.tasks_listed);
    assert_eq!(read.state.task_protection_unread, None);
    // The 5 tasks are all on busy drain candidates: one GetTaskProtection.
    let (s, i, t, p) = (13, 3, 5, 5);
    assert_eq!(log.count("GetTaskProtection"), 1, "{:?}", log.ops());
    // Revisions: web, worker (services) and batch (a task of no service).
    assert_eq!(log.count("DescribeServices"), 2, "{:?}", log.ops());
    assert_eq!(log.count("DescribeTaskDefinition"), 3, "{:?}", log.ops());
    assert_eq!(log.count("ListContainerInstances"), 1);
    assert_eq!(log.count("DescribeContainerInstances"), 1);
    assert_eq!(log.count("DescribeAutoScalingGroups"), 1);
    // The group's launch configuration; its m5.large is registered: no DescribeInstanceTypes.
    assert_eq!(log.count("DescribeLaunchConfigurations"), 1);
    assert_eq!(log.count("DescribeInstanceTypes"), 0);
    assert_eq!(log.count("DescribeClusters"), 1);
    assert_eq!(log.count("ListTasks"), 1);
    assert_eq!(log.count("DescribeTasks"), 1);
    assert!(
        log.total() <= budget(s, i, t, 3, p),
        "{} calls > budget {}: {:?}",
        log.total(),
        budget(s, i, t, 3, p),
        log.ops()
    );
    assert_eq!(cache.len(), 3);

    // Warm cache: no DescribeTaskDefinition at all.
    log.clear();
    read_cluster_state(&clients, &def, &cache)
        .await
        .expect("read state again");
    assert_eq!(log.count("DescribeTaskDefinition"), 0, "{:?}", log.ops());
    assert_eq!(log.total(), budget(s, i, t, 0, p), "{:?}", log.ops());

    // No draining allowed: tasks are not listed.
    log.clear();
    let no_drain = definition("prod", PROD_YAML);
    let read = read_cluster_state(&clients, &no_drain, &cache)
        .await
        .expect("read state without tasks");
    assert!(!read.tasks_listed);
    assert!(read.state.instances.iter().all(|i| i.tasks.is_empty()));
    assert_eq!((log.count("ListTasks"), log.count("DescribeTasks")), (0, 0));
    // DescribeServices, List- and DescribeContainerInstances, DescribeAutoScalingGroups, the
    // launch configuration, DescribeClusters.
    assert_eq!(log.total(), 1 + 1 + 1 + 1 + 2, "{:?}", log.ops());

    // Straight to moto, which answers GetTaskProtection with a 500: the read goes on, says why,
    // and the plan drains no busy instance.
    let read = read_cluster_state(&aws_clients(bed.counted_clients(&log)), &def, &cache)
        .await
        .expect("a failed GetTaskProtection does not fail the read");
    let why = read
        .state
        .task_protection_unread
        .clone()
        .expect("the failure is in the state");
    assert!(why.starts_with("GetTaskProtection: "), "{why}");
    let plan = planner::plan(&def, &Default::default(), &read.state, shared::time::now());
    assert!(
        plan.actions.drain.iter().all(|d| d.tasks == 0),
        "{:#?}",
        plan.decisions.headlines
    );
    assert!(
        plan.decisions
            .headlines
            .iter()
            .any(|l| l.contains("task scale-in protection of its tasks could not be read")),
        "{:#?}",
        plan.decisions.headlines
    );
}

#[tokio::test]
async fn state_reader_reads_launch_times_only_of_instances_that_have_not_registered() {
    let bed = TestBed::start().await;
    let seeded = seed_prod(&bed, false).await;
    let def = definition("prod", PROD_YAML);
    let log = CallLog::new();
    let clients = aws_clients(bed.counted_clients(&log));
    let cache = TaskDefinitionCache::new();
    // Every InService instance is registered: no EC2 call.
    let read = read_cluster_state(&clients, &def, &cache)
        .await
        .expect("read state");
    assert_eq!(log.count("DescribeInstances"), 0, "{:?}", log.ops());
    let group = read.state.group.expect("group");
    assert!(group
        .instances
        .iter()
        .all(|i| i.launched_at_epoch_secs.is_none()));

    // The group launches a fourth instance whose agent does not register (yet).
    bed.autoscaling()
        .set_desired_capacity()
        .auto_scaling_group_name("prod-asg")
        .desired_capacity(4)
        .send()
        .await
        .expect("raise desired");
    log.clear();
    let before = shared::time::epoch_secs(shared::time::now());
    let read = read_cluster_state(&clients, &def, &cache)
        .await
        .expect("read state");
    assert_eq!(log.count("DescribeInstances"), 1, "{:?}", log.ops());
    let group = read.state.group.expect("group");
    let registered: Vec<&str> = seeded
        .group
        .instances
        .iter()
        .map(|r| r.instance_id.as_str())
        .collect();
    for i in &group.instances {
        if registered.contains(&i.instance_id.as_str()) {
            assert_eq!(i.launched_at_epoch_secs, None, "{i:?}");
        } else {
            // moto answers LaunchTime: the launch, a moment ago.
            let at = i.launched_at_epoch_secs.expect("a launch time");
            assert!(at.abs_diff(before) < 120, "{at} vs {before}");
        }
    }
    assert_eq!(group.instances.len(), 4);
}

#[tokio::test]
async fn state_reader_lists_only_the_tasks_the_planner_can_use() {
    let bed = TestBed::start().await;
    let seeded = seed_prod(&bed, false).await;
    let ci = seeded.group.container_instance_arns();
    // 250 more tasks on the first instance, and the second (2 tasks) DRAINING. Draining is
    // disabled in PROD_YAML, so only the DRAINING instance's tasks matter (they must move).
    let tiny = world::register_task_definition(bed.ecs(), "tiny", 1, 1)
        .await
        .expect("tiny td");
    world::create_service(bed.ecs(), "prod", "tiny", &tiny, 250)
        .await
        .expect("tiny service");
    world::start_service_tasks(bed.ecs(), "prod", "tiny", &vec![ci[0].clone(); 250])
        .await
        .expect("tiny tasks");
    world::set_container_instance_status(
        bed.ecs(),
        "prod",
        &ci[1..2],
        aws_sdk_ecs::types::ContainerInstanceStatus::Draining,
    )
    .await
    .expect("drain");
    let def = definition("prod", PROD_YAML);

    let log = CallLog::new();
    let clients = aws_clients(bed.counted_clients(&log));
    let read = read_cluster_state(&clients, &def, &TaskDefinitionCache::new())
        .await
        .expect("read state");
    // One page for that instance and one describe, where the whole cluster would take 3 + 3.
    assert_eq!(
        (log.count("ListTasks"), log.count("DescribeTasks")),
        (1, 1),
        "{:?}",
        log.ops()
    );
    assert!(read.tasks_listed);
    let tasks_of = |arn: &str| {
        read.state
            .instances
            .iter()
            .find(|i| i.arn == arn)
            .map(|i| i.tasks.len())
            .expect("instance")
    };
    assert_eq!(
        tasks_of(&ci[1]),
        2,
        "the DRAINING instance's tasks are known"
    );
    assert_eq!(
        tasks_of(&ci[0]),
        0,
        "the busy ACTIVE instance's were not listed"
    );
}

#[tokio::test]
async fn state_reader_describes_tasks_a_hundred_at_a_time() {
    let bed = TestBed::start().await;
    seed_prod(&bed, false).await;
    let ci = world::registered_instances(bed.ecs(), "prod")
        .await
        .expect("instances");
    let tiny = world::register_task_definition(bed.ecs(), "tiny", 16, 16)
        .await
        .expect("tiny td");
    world::create_service(bed.ecs(), "prod", "tiny", &tiny, 115)
        .await
        .expect("tiny service");
    let targets: Vec<String> = (0..115)
        .map(|n| ci[n % ci.len()].container_instance_arn.clone())
        .collect();
    world::start_service_tasks(bed.ecs(), "prod", "tiny", &targets)
        .await
        .expect("tiny tasks");
    let yaml = format!(
        "{}  tiny:\n    min: 0\n    max: 200\n",
        PROD_YAML.replace("max_drain_per_cycle: 0", "max_drain_per_cycle: 1")
    );
    let def = definition("prod", &yaml);

    let log = CallLog::new();
    let clients = aws_clients(bed.counted_clients(&log));
    let read = read_cluster_state(&clients, &def, &TaskDefinitionCache::new())
        .await
        .expect("read state");
    let tasks: usize = read.state.instances.iter().map(|i| i.tasks.len()).sum();
    assert_eq!(tasks, 5 + 115);
    let tiny_tasks = read
        .state
        .instances
        .iter()
        .flat_map(|i| &i.tasks)
        .filter(|t| t.service.as_deref() == Some("tiny"))
        .inspect(|t| assert_eq!(t.size, Resources::new(16, 16)))
        .count();
    assert_eq!(tiny_tasks, 115);
    assert_eq!(log.count("DescribeTasks"), 2, "{:?}", log.ops());
    // Revisions: web, worker, tiny, batch.
    assert!(
        log.total() <= budget(4, 3, 120, 4, 120),
        "{} calls > budget {}: {:?}",
        log.total(),
        budget(4, 3, 120, 4, 120),
        log.ops()
    );
}

#[tokio::test]
async fn state_reader_reports_a_missing_cluster_with_context() {
    let bed = TestBed::start().await;
    let def = definition(
        "nowhere",
        "autoscale_group: nowhere-asg\nservices:\n  web:\n    min: 0\n    max: 1\n",
    );
    let clients = aws_clients(bed.clients().clone());
    let err = read_cluster_state(&clients, &def, &TaskDefinitionCache::new())
        .await
        .expect_err("no such cluster");
    assert_eq!(err.cluster(), "nowhere");
    assert_eq!(
        err.to_string(),
        "cluster `nowhere`: DescribeServices failed"
    );
    // The log line (the whole chain) says why.
    let logged = aws_sdk_ecs::error::DisplayErrorContext(&err).to_string();
    assert!(logged.contains("ClusterNotFound"), "{logged}");
}

// ---------------------------------------------------------------------------------------
// Handler

struct Pipeline {
    deps: Deps,
    plans_queue: String,
    /// Standard queue receiving every `Scaling Plan` event of the bus.
    plan_events: String,
    log: CallLog,
}

async fn pipeline(bed: &TestBed, definitions: Vec<ClusterDefinition>) -> Pipeline {
    let (sqs, eb) = (bed.sqs(), bed.eventbridge());
    let plans_queue = messaging::create_queue(sqs, "plans", QueueKind::Fifo)
        .await
        .expect("plans queue");
    let plan_events = messaging::create_queue(sqs, "plan-events", QueueKind::Standard)
        .await
        .expect("events queue");
    messaging::create_event_bus(eb, "autoscale")
        .await
        .expect("bus");
    let pattern = serde_json::json!({"source": ["ecs-autoscale"], "detail-type": ["Scaling Plan"]});
    messaging::route_to_queue(eb, sqs, "autoscale", "plans", &pattern, &plan_events)
        .await
        .expect("rule");
    let log = CallLog::new();
    let deps = Deps::new(
        aws_clients(bed.counted_clients(&log)),
        LoadReport {
            clusters: definitions,
            errors: vec![],
        },
        plans_queue.clone(),
        "autoscale",
    );
    Pipeline {
        deps,
        plans_queue,
        plan_events,
        log,
    }
}

/// A report collected 30 s before [`now`].
fn report(cluster: &str, cycle: &str, values: &[(&str, &str, f64)]) -> MetricsReport {
    let collected_at = now() - jiff::SignedDuration::from_secs(30);
    let mut r = MetricsReport::new(cluster, cycle, collected_at);
    for (service, alias, value) in values {
        r.services
            .entry((*service).to_owned())
            .or_default()
            .values
            .insert((*alias).to_owned(), *value);
    }
    r
}

fn record(id: &str, body: impl Into<String>) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.to_owned());
    m.body = Some(body.into());
    m
}

fn time(text: &str) -> Timestamp {
    text.parse().expect("a time")
}

fn event(records: Vec<SqsMessage>) -> SqsEvent {
    let mut e = SqsEvent::default();
    e.records = records;
    e
}

fn now() -> Timestamp {
    Timestamp::from_second(1_764_500_000).expect("in range")
}

fn failures(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

/// The plans on the FIFO queue, with their MessageGroupId and MessageDeduplicationId.
async fn queued_plans(bed: &TestBed, url: &str) -> Vec<(ScalingPlan, String, String)> {
    messaging::receive_all(bed.sqs(), url)
        .await
        .expect("receive plans")
        .into_iter()
        .map(|m| {
            let attr = |name: MessageSystemAttributeName| {
                m.attributes()
                    .and_then(|a| a.get(&name))
                    .cloned()
                    .unwrap_or_default()
            };
            let plan = ScalingPlan::from_json(m.body().unwrap_or_default()).expect("plan JSON");
            (
                plan,
                attr(MessageSystemAttributeName::MessageGroupId),
                attr(MessageSystemAttributeName::MessageDeduplicationId),
            )
        })
        .collect()
}

/// The `Scaling Plan` events the bus delivered to the rule's queue.
async fn plan_events(bed: &TestBed, url: &str) -> Vec<serde_json::Value> {
    messaging::receive_bodies(bed.sqs(), url)
        .await
        .expect("receive events")
        .iter()
        .map(|b| serde_json::from_str(b).expect("event JSON"))
        .collect()
}

#[tokio::test]
async fn handler_sends_a_plan_with_actions_and_publishes_it() {
    let bed = TestBed::start().await;
    seed_prod(&bed, false).await;
    let p = pipeline(&bed, vec![definition("prod", PROD_YAML)]).await;

    // 40 queued messages, 10 per task: web goes from 2 to 4 tasks (room on the instances).
    let body = report("prod", "cycle-1", &[("web", "queue", 40.0)]).to_json_string();
    let response = handle_at(event(vec![record("m1", body)]), &p.deps, now()).await;
    assert_eq!(failures(&response), Vec::<String>::new());

    let queued = queued_plans(&bed, &p.plans_queue).await;
    assert_eq!(queued.len(), 1, "one plan on the FIFO queue");
    let (plan, group_id, dedup_id) = &queued[0];
    assert_eq!(plan.cluster, "prod");
    assert_eq!(plan.autoscale_group, "prod-asg");
    assert!(plan.has_actions && !plan.dry_run);
    assert_eq!(
        plan.actions.services,
        [ServiceChange {
            service: "web".into(),
            from: 2,
            to: 4
        }]
    );
    assert_eq!(group_id, "prod");
    assert_eq!(dedup_id, &plan.delivery_id, "deduplicated by delivery");
    assert_eq!(
        plan.delivery_id,
        shared::messages::delivery_id("prod", &["cycle-1"])
    );
    assert_eq!(plan.metrics_cycle_ids, ["cycle-1"]);
    assert_eq!(plan.created_at, now());
    assert_eq!(
        plan.expires_at,
        now() + jiff::SignedDuration::from_secs(120),
        "the default TTL"
    );

    let events = plan_events(&bed, &p.plan_events).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["source"], "ecs-autoscale");
    assert_eq!(events[0]["detail-type"], "Scaling Plan");
    let published: ScalingPlan =
        serde_json::from_value(events[0]["detail"].clone()).expect("plan in the event");
    assert_eq!(&published, plan);
    assert!(p.log.count("SendMessage") == 1 && p.log.count("PutEvents") == 1);
}

#[tokio::test]
async fn handler_plans_the_drain_of_an_empty_instance_with_both_identifiers() {
    let bed = TestBed::start().await;
    let seeded = seed_prod(&bed, false).await;
    let yaml = PROD_YAML.replace("max_drain_per_cycle: 0", "max_drain_per_cycle: 1");
    let p = pipeline(&bed, vec![definition("prod", &yaml)]).await;

    // web holds at 2; instance 2 runs nothing, and its tasks (none) fit elsewhere.
    let body = report("prod", "cycle-1", &[("web", "queue", 20.0)]).to_json_string();
    let response = handle_at(event(vec![record("m1", body)]), &p.deps, now()).await;
    assert_eq!(failures(&response), Vec::<String>::new());

    let queued = queued_plans(&bed, &p.plans_queue).await;
    assert_eq!(queued.len(), 1);
    let plan = &queued[0].0;
    let empty = &seeded.group.instances[2];
    assert_eq!(
        plan.actions.drain,
        [InstanceRef {
            container_instance_arn: empty.container_instance_arn.clone(),
            ec2_instance_id: empty.instance_id.clone(),
        }
        .into()],
        "an empty instance, no task to move: {:#?}",
        plan.decisions.headlines
    );
    assert!(plan.actions.services.is_empty());
    // The reader listed the tasks (a drain was possible): one ListTasks, one DescribeTasks.
    assert_eq!(
        (p.log.count("ListTasks"), p.log.count("DescribeTasks")),
        (1, 1)
    );
}

#[tokio::test]
async fn handler_publishes_a_plan_without_actions_but_does_not_send_it() {
    let bed = TestBed::start().await;
    seed_prod(&bed, false).await;
    let p = pipeline(&bed, vec![definition("prod", PROD_YAML)]).await;

    // 20 queued messages, 10 per task: web stays at 2.
    let body = report("prod", "cycle-1", &[("web", "queue", 20.0)]).to_json_string();
    let response = handle_at(event(vec![record("m1", body)]), &p.deps, now()).await;
    assert_eq!(failures(&response), Vec::<String>::new());

    assert!(queued_plans(&bed, &p.plans_queue).await.is_empty());
    let events = plan_events(&bed, &p.plan_events).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail"]["has_actions"], false);
    assert_eq!(events[0]["detail"]["cluster"], "prod");
    assert_eq!(p.log.count("SendMessage"), 0);
}

#[tokio::test]
async fn handler_fails_only_the_records_it_cannot_plan() {
    let bed = TestBed::start().await;
    seed_prod(&bed, false).await;
    // `broken` has a definition but no ECS cluster: reading its state fails.
    let broken = definition(
        "broken",
        "autoscale_group: broken-asg\nservices:\n  web:\n    min: 0\n    max: 1\n",
    );
    let p = pipeline(&bed, vec![definition("prod", PROD_YAML), broken]).await;

    let good = report("prod", "cycle-1", &[("web", "queue", 20.0)]).to_json_string();
    let records = vec![
        record("undecodable", "{\"cluster\": \"prod\""),
        record("good", good),
        record(
            "unknown",
            report("elsewhere", "cycle-1", &[]).to_json_string(),
        ),
        record(
            "other-version",
            report("prod", "cycle-1", &[])
                .to_json_string()
                .replace("\"schema_version\":1", "\"schema_version\":9"),
        ),
        record("broken", report("broken", "cycle-1", &[]).to_json_string()),
        // The same cluster's next report (one FIFO message group): returned with it.
        record(
            "broken-2",
            report("broken", "cycle-2", &[]).to_json_string(),
        ),
    ];
    let response = handle_at(event(records), &p.deps, now()).await;
    assert_eq!(
        failures(&response),
        [
            "broken",
            "broken-2",
            "other-version",
            "undecodable",
            "unknown"
        ]
    );
    let events = plan_events(&bed, &p.plan_events).await;
    assert_eq!(events.len(), 1, "the good record was planned: {events:?}");
    assert_eq!(events[0]["detail"]["cluster"], "prod");
}

#[tokio::test]
async fn handler_accepts_a_synthetic_report_routed_from_the_bus() {
    let bed = TestBed::start().await;
    seed_prod(&bed, false).await;
    let p = pipeline(&bed, vec![definition("prod", PROD_YAML)]).await;
    let (sqs, eb) = (bed.sqs(), bed.eventbridge());

    // A user injects a report on the bus; a rule routes it to the metrics queue.
    let metrics_queue = messaging::create_queue(sqs, "metrics", QueueKind::Standard)
        .await
        .expect("metrics queue");
    let pattern = serde_json::json!({"source": ["ecs-autoscale.synthetic"], "detail-type": ["Metrics Report"]});
    messaging::route_to_queue(eb, sqs, "autoscale", "synthetic", &pattern, &metrics_queue)
        .await
        .expect("rule");
    let mut synthetic = report("prod", "synthetic-1", &[("web", "queue", 20.0)]);
    synthetic.origin = "synthetic".into();
    let out = eb
        .put_events()
        .entries(
            PutEventsRequestEntry::builder()
                .event_bus_name("autoscale")
                .source("ecs-autoscale.synthetic")
                .detail_type("Metrics Report")
                .detail(synthetic.to_json_string())
                .build(),
        )
        .send()
        .await
        .expect("put synthetic report");
    assert_eq!(out.failed_entry_count(), 0);
    let delivered = messaging::receive_all(sqs, &metrics_queue)
        .await
        .expect("receive");
    assert_eq!(delivered.len(), 1);
    let envelope = delivered[0].body().unwrap_or_default().to_owned();
    assert!(envelope.contains("\"detail-type\""), "{envelope}");

    let response = handle_at(event(vec![record("synthetic", envelope)]), &p.deps, now()).await;
    assert_eq!(failures(&response), Vec::<String>::new());
    let events = plan_events(&bed, &p.plan_events).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail"]["cluster"], "prod");
}

#[tokio::test]
async fn handler_merges_a_clusters_reports_into_one_plan() {
    let bed = TestBed::start().await;
    seed_prod(&bed, false).await;
    let p = pipeline(&bed, vec![definition("prod", PROD_YAML)]).await;

    // Two reports for prod in one batch, the newer one first: the newest value wins.
    let mut older = report("prod", "cycle-1", &[("web", "queue", 40.0)]);
    older.collected_at = now() - jiff::SignedDuration::from_secs(150);
    let mut newer = report("prod", "cycle-2", &[("web", "queue", 60.0)]);
    newer.collected_at = now() - jiff::SignedDuration::from_secs(30);
    let records = vec![
        record("m2", newer.to_json_string()),
        record("m1", older.to_json_string()),
    ];
    let response = handle_at(event(records), &p.deps, now()).await;
    assert_eq!(failures(&response), Vec::<String>::new());

    let queued = queued_plans(&bed, &p.plans_queue).await;
    assert_eq!(queued.len(), 1, "one plan for the cluster");
    let plan = &queued[0].0;
    assert_eq!(
        plan.actions.services,
        [ServiceChange {
            service: "web".into(),
            from: 2,
            to: 6
        }]
    );
    assert_eq!(plan.metrics_cycle_ids, ["cycle-1", "cycle-2"]);
    assert_eq!(plan_events(&bed, &p.plan_events).await.len(), 1);
    // One state read for the two reports.
    assert_eq!(p.log.count("DescribeServices"), 1, "{:?}", p.log.ops());
}

#[tokio::test]
async fn handler_sends_dry_run_plans_and_leaves_disabled_clusters_alone() {
    let bed = TestBed::start().await;
    seed_prod(&bed, false).await;
    let dry = definition("prod", &format!("dry_run: true\n{PROD_YAML}"));
    // `off` has no ECS cluster: touching it would fail.
    let off = definition(
        "off",
        "autoscale_group: off-asg\nenabled: false\nservices:\n  web:\n    min: 0\n    max: 1\n",
    );
    let p = pipeline(&bed, vec![dry, off]).await;

    let records = vec![
        record(
            "prod",
            report("prod", "cycle-1", &[("web", "queue", 40.0)]).to_json_string(),
        ),
        record("off", report("off", "cycle-1", &[]).to_json_string()),
    ];
    let response = handle_at(event(records), &p.deps, now()).await;
    assert_eq!(failures(&response), Vec::<String>::new());

    let queued = queued_plans(&bed, &p.plans_queue).await;
    assert_eq!(queued.len(), 1, "the dry-run plan goes to the executor");
    assert!(queued[0].0.dry_run && queued[0].0.has_actions);
    let events = plan_events(&bed, &p.plan_events).await;
    assert_eq!(
        events.len(),
        1,
        "nothing for the disabled cluster: {events:?}"
    );
    assert_eq!(events[0]["detail"]["dry_run"], true);
    assert_eq!(p.log.count("DescribeServices"), 1, "{:?}", p.log.ops());
}

trait ToJsonString {
    fn to_json_string(&self) -> String;
}

impl ToJsonString for MetricsReport {
    fn to_json_string(&self) -> String {
        serde_json::to_string(self).expect("report JSON")
    }
}

#[tokio::test]
async fn handler_does_not_plan_on_reports_too_old_or_from_the_future() {
    let bed = TestBed::start().await;
    seed_prod(&bed, false).await;
    let p = pipeline(&bed, vec![definition("prod", PROD_YAML)]).await;
    let at = |secs: i64| now() + jiff::SignedDuration::from_secs(secs);

    // 40 queued messages would take web from 2 to 4 tasks, if the report could be believed.
    for (n, collected_at) in [
        time("2001-01-01T00:00:00Z"),
        time("9999-12-30T00:00:00Z"),
        at(-10 * 60),
        at(5 * 60),
    ]
    .into_iter()
    .enumerate()
    {
        let mut stale = report("prod", &format!("cycle-{n}"), &[("web", "queue", 40.0)]);
        stale.collected_at = collected_at;
        let response = handle_at(
            event(vec![record("m1", stale.to_json_string())]),
            &p.deps,
            now(),
        )
        .await;
        assert_eq!(failures(&response), Vec::<String>::new());
        assert!(
            queued_plans(&bed, &p.plans_queue).await.is_empty(),
            "a report collected at {collected_at} drives nothing"
        );
        let events = plan_events(&bed, &p.plan_events).await;
        assert_eq!(events.len(), 1, "the cluster is still planned: {events:?}");
        let plan: ScalingPlan = serde_json::from_value(events[0]["detail"].clone()).expect("plan");
        assert!(
            plan.actions.services.is_empty(),
            "{:#?}",
            plan.decisions.headlines
        );
        let ignored = serde_json::to_value(&plan.decisions.detail.cluster).expect("JSON");
        assert_eq!(ignored[0]["reason"], "report_ignored", "{ignored:#}");
        assert_eq!(ignored[0]["cycle_id"], format!("cycle-{n}"), "{ignored:#}");
        assert!(
            plan.decisions.headlines[0].contains(&format!("cycle-{n}")),
            "{:#?}",
            plan.decisions.headlines
        );
    }

    // A report of 30 s ago is current.
    let mut current = report("prod", "cycle-now", &[("web", "queue", 40.0)]);
    current.collected_at = at(-30);
    let response = handle_at(
        event(vec![record("m1", current.to_json_string())]),
        &p.deps,
        now(),
    )
    .await;
    assert_eq!(failures(&response), Vec::<String>::new());
    let queued = queued_plans(&bed, &p.plans_queue).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].0.actions.services,
        [ServiceChange {
            service: "web".into(),
            from: 2,
            to: 4
        }]
    );
}

/// Captures this test's log lines (text) until the guard is dropped.
fn capture_logs() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    let buffer = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(buffer.clone())
        .with_ansi(false)
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

#[tokio::test]
async fn handler_fails_each_bad_report_alone_naming_the_message_and_the_field() {
    let bed = TestBed::start().await;
    seed_prod(&bed, false).await;
    let p = pipeline(&bed, vec![definition("prod", PROD_YAML)]).await;
    let good = report("prod", "cycle-1", &[("web", "queue", 40.0)]);
    let edited = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut value = serde_json::to_value(&good).expect("JSON");
        edit(&mut value);
        value.to_string()
    };
    let records = vec![
        record(
            "m-no-time",
            edited(&|v| {
                v.as_object_mut().expect("object").remove("collected_at");
            }),
        ),
        record(
            "m-bad-time",
            edited(&|v| v["collected_at"] = "10:00 yesterday".into()),
        ),
        record(
            "m-v7",
            edited(&|v| {
                v["schema_version"] = 7.into();
                v.as_object_mut().expect("object").remove("cluster");
            }),
        ),
        record(
            "m-no-cycle",
            edited(&|v| {
                v.as_object_mut().expect("object").remove("cycle_id");
            }),
        ),
        record(
            "m-bad-value",
            edited(&|v| v["services"]["web"]["values"]["queue"] = "many".into()),
        ),
        record("m-good", good.to_json_string()),
    ];
    let (logs, _guard) = capture_logs();
    let response = handle_at(event(records), &p.deps, now()).await;
    assert_eq!(
        failures(&response),
        [
            "m-bad-time",
            "m-bad-value",
            "m-no-cycle",
            "m-no-time",
            "m-v7"
        ]
    );
    let queued = queued_plans(&bed, &p.plans_queue).await;
    assert_eq!(queued.len(), 1, "the good report was planned");
    assert_eq!(queued[0].0.metrics_cycle_ids, ["cycle-1"]);
    let text = logs.text();
    for (id, what) in [
        ("m-no-time", "missing field `collected_at`"),
        ("m-bad-time", "not a valid metrics report: collected_at: "),
        (
            "m-v7",
            "metrics report has schema_version 7; this build reads version 1",
        ),
        ("m-no-cycle", "missing field `cycle_id`"),
        (
            "m-bad-value",
            "not a valid metrics report: services.web.values.queue: ",
        ),
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains(&format!("rejected message {id}: ")) && l.contains(what)),
            "{id}: {what}\n{text}"
        );
    }
}

#[tokio::test]
async fn handler_acts_on_a_step_event_once_per_observation() {
    let bed = TestBed::start().await;
    seed_prod(&bed, false).await;
    // web's tag says it was last scaled at 1764412345 (2025-11-29T10:32:25Z).
    let yaml = PROD_YAML.replace(
        "    target_tracking:\n      metric: queue\n      target: 10\n",
        "    events:\n      - {metric: queue, action: 1, min: 5}\n",
    );
    let p = pipeline(&bed, vec![definition("prod", &yaml)]).await;
    let observed = |period_end: &str| {
        let mut r = report("prod", "cycle-1", &[("web", "queue", 40.0)]);
        if let Some(web) = r.services.get_mut("web") {
            web.observed_at.insert("queue".into(), time(period_end));
        }
        r.to_json_string()
    };

    // The datapoint of the period that ended before the last scaling: already acted on.
    let body = observed("2025-11-29T10:30:00Z");
    let response = handle_at(event(vec![record("m1", body)]), &p.deps, now()).await;
    assert_eq!(failures(&response), Vec::<String>::new());
    assert!(queued_plans(&bed, &p.plans_queue).await.is_empty());
    let events = plan_events(&bed, &p.plan_events).await;
    let quiet: ScalingPlan =
        serde_json::from_value(events[0]["detail"].clone()).expect("plan in the event");
    assert!(!quiet.has_actions);
    assert!(
        quiet
            .decisions
            .headlines
            .iter()
            .any(|h| h.contains("service `web` (2)") && h.contains("waiting for a new datapoint")),
        "{:#?}",
        quiet.decisions.headlines
    );

    // The next period's datapoint: one step.
    let body = observed("2025-11-29T10:35:00Z");
    let response = handle_at(event(vec![record("m2", body)]), &p.deps, now()).await;
    assert_eq!(failures(&response), Vec::<String>::new());
    let queued = queued_plans(&bed, &p.plans_queue).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].0.actions.services,
        [ServiceChange {
            service: "web".into(),
            from: 2,
            to: 3
        }]
    );
}
