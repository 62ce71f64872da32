//! Tests of the test bed itself: one smoke test per SDK client against moto, the scheduler
//! helper, call counting and per-test isolation. All share one moto server (one per binary).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_ecs::types::ContainerInstanceStatus;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use shared::aws::read::{self, TaskFilter};
use shared::aws::state::{container_instance, service_state, task};
use shared::resources::Resources;
use shared::state::{ContainerInstance, InstanceStatus};
use testbed::messaging::{self, QueueKind};
use testbed::scheduler;
use testbed::world::{self, GroupSpec, INSTANCE_RESOURCES};
use testbed::{CallLog, Moto, TestBed};

mod strict;

#[tokio::test]
async fn ecs_smoke_create_and_list_clusters() {
    let bed = TestBed::start().await;
    let arn = world::create_cluster(bed.ecs(), "smoke")
        .await
        .expect("create cluster");
    assert!(arn.ends_with(":cluster/smoke"), "unexpected ARN {arn}");

    let listed = bed
        .ecs()
        .list_clusters()
        .send()
        .await
        .expect("list clusters");
    assert_eq!(listed.cluster_arns(), std::slice::from_ref(&arn));

    let described = bed
        .ecs()
        .describe_clusters()
        .clusters("smoke")
        .send()
        .await
        .expect("describe clusters");
    let cluster = &described.clusters()[0];
    assert_eq!(cluster.status(), Some("ACTIVE"));
    assert_eq!(cluster.cluster_arn(), Some(arn.as_str()));
}

#[tokio::test]
async fn autoscaling_smoke_group_desired_capacity_and_registration() {
    let bed = TestBed::start().await;
    let (asg, ecs) = (bed.autoscaling(), bed.ecs());
    world::create_cluster(ecs, "fleet").await.expect("cluster");
    let group = world::create_group(asg, ecs, "fleet", &GroupSpec::new("fleet-asg", 2).max(6))
        .await
        .expect("group");
    assert_eq!(group.instances.len(), 2);
    assert!(
        group.arn.contains(":autoScalingGroup:"),
        "ARN {}",
        group.arn
    );

    let described = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("fleet-asg")
        .send()
        .await
        .expect("describe groups");
    let g = &described.auto_scaling_groups()[0];
    assert_eq!(
        (g.min_size(), g.max_size(), g.desired_capacity()),
        (Some(0), Some(6), Some(2))
    );
    assert_eq!(g.instances().len(), 2);

    // Registered as container instances with moto's fixed resources.
    let instances = scheduler::container_instances(ecs, "fleet")
        .await
        .expect("container instances");
    assert_eq!(instances.len(), 2);
    for ci in &instances {
        assert!(group
            .instances
            .iter()
            .any(|r| r.instance_id == ci.ec2_instance_id));
        assert_eq!(ci.status, InstanceStatus::Active);
        assert_eq!(ci.registered, INSTANCE_RESOURCES);
        assert_eq!(ci.remaining, INSTANCE_RESOURCES);
    }

    // Scale out: the new instances join the cluster once the "agent" registers them.
    asg.set_desired_capacity()
        .auto_scaling_group_name("fleet-asg")
        .desired_capacity(4)
        .send()
        .await
        .expect("set desired capacity");
    let ids = world::group_instance_ids(asg, "fleet-asg")
        .await
        .expect("ids");
    assert_eq!(ids.len(), 4);
    let new = world::register_group_instances(asg, ecs, "fleet", "fleet-asg")
        .await
        .expect("register new instances");
    assert_eq!(new.len(), 2);
    assert!(new.iter().all(|r| !group.instances.contains(r)));
    let again = world::register_group_instances(asg, ecs, "fleet", "fleet-asg")
        .await
        .expect("register again");
    assert!(
        again.is_empty(),
        "registration must be idempotent: {again:?}"
    );
    assert_eq!(
        world::registered_instances(ecs, "fleet")
            .await
            .expect("list")
            .len(),
        4
    );

    // Scale in: terminated instances leave the cluster.
    asg.set_desired_capacity()
        .auto_scaling_group_name("fleet-asg")
        .desired_capacity(1)
        .send()
        .await
        .expect("scale in");
    let ids = world::group_instance_ids(asg, "fleet-asg")
        .await
        .expect("ids");
    assert_eq!(ids.len(), 1);
    let gone = world::deregister_departed_instances(asg, ecs, "fleet")
        .await
        .expect("deregister");
    assert_eq!(gone.len(), 3);
    let left = world::registered_instances(ecs, "fleet")
        .await
        .expect("list");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].instance_id, ids[0]);
}

#[tokio::test]
async fn cloudwatch_smoke_put_and_get_metric_data_average() {
    let bed = TestBed::start().await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    // Two whole 5-minute periods that ended at least 10 minutes ago.
    let t0 = UNIX_EPOCH + Duration::from_secs((now / 300) * 300 - 1200);
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    let dims = [("ClusterName", "prod")];
    messaging::put_metric_data(
        bed.cloudwatch(),
        "Test/Autoscale",
        "CPUReservation",
        &dims,
        &[
            (at(0), 10.0),
            (at(60), 20.0),
            (at(120), 30.0),
            (at(300), 50.0),
        ],
    )
    .await
    .expect("put metric data");
    // A different dimension value must not leak into the statistic.
    messaging::put_metric_data(
        bed.cloudwatch(),
        "Test/Autoscale",
        "CPUReservation",
        &[("ClusterName", "other")],
        &[(at(30), 1000.0)],
    )
    .await
    .expect("put other metric data");

    let mut points = messaging::get_metric_stat(
        bed.cloudwatch(),
        "Test/Autoscale",
        "CPUReservation",
        &dims,
        "Average",
        300,
        t0,
        at(600),
    )
    .await
    .expect("get metric data");
    points.sort_by_key(|(t, _)| *t);
    assert_eq!(points, vec![(at(0), 20.0), (at(300), 50.0)]);

    let max = messaging::get_metric_stat(
        bed.cloudwatch(),
        "Test/Autoscale",
        "CPUReservation",
        &dims,
        "Maximum",
        600,
        t0,
        at(600),
    )
    .await
    .expect("get max");
    assert_eq!(max, vec![(at(0), 50.0)]);
}

#[tokio::test]
async fn sqs_smoke_standard_and_fifo() {
    let bed = TestBed::start().await;
    let sqs = bed.sqs();

    let standard = messaging::create_queue(sqs, "plain", QueueKind::Standard)
        .await
        .expect("standard queue");
    for body in ["one", "two", "three"] {
        sqs.send_message()
            .queue_url(&standard)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }
    let mut bodies = messaging::receive_bodies(sqs, &standard)
        .await
        .expect("receive");
    bodies.sort();
    assert_eq!(bodies, ["one", "three", "two"]);
    assert!(messaging::receive_all(sqs, &standard)
        .await
        .expect("empty")
        .is_empty());

    let fifo = messaging::create_queue(sqs, "ordered", QueueKind::Fifo)
        .await
        .expect("fifo queue");
    assert!(fifo.ends_with("ordered.fifo"), "URL {fifo}");
    for body in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"] {
        sqs.send_message()
            .queue_url(&fifo)
            .message_body(body)
            .message_group_id("cluster-prod")
            .send()
            .await
            .expect("send fifo");
    }
    let messages = messaging::receive_all(sqs, &fifo)
        .await
        .expect("receive fifo");
    let bodies: Vec<&str> = messages.iter().filter_map(|m| m.body()).collect();
    assert_eq!(
        bodies,
        ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]
    );
    let group = messages[0]
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId));
    assert_eq!(group.map(String::as_str), Some("cluster-prod"));
}

#[tokio::test]
async fn eventbridge_smoke_pattern_rule_delivers_to_sqs() {
    let bed = TestBed::start().await;
    let (eb, sqs) = (bed.eventbridge(), bed.sqs());
    let bus_arn = messaging::create_event_bus(eb, "autoscale")
        .await
        .expect("bus");
    assert!(bus_arn.ends_with(":event-bus/autoscale"), "ARN {bus_arn}");
    let queue = messaging::create_queue(sqs, "plans", QueueKind::Standard)
        .await
        .expect("queue");
    let fifo = messaging::create_queue(sqs, "plans", QueueKind::Fifo)
        .await
        .expect("fifo queue");
    let pattern =
        serde_json::json!({"source": ["ecs-autoscale.test"], "detail-type": ["ScalePlan"]});
    messaging::route_to_queue(eb, sqs, "autoscale", "plans", &pattern, &queue)
        .await
        .expect("rule to standard queue");
    messaging::route_to_queue(eb, sqs, "autoscale", "plans-fifo", &pattern, &fifo)
        .await
        .expect("rule to fifo queue");

    let entry = |source: &str, detail_type: &str, n: u32| {
        PutEventsRequestEntry::builder()
            .event_bus_name("autoscale")
            .source(source)
            .detail_type(detail_type)
            .detail(serde_json::json!({"cluster": "prod", "n": n}).to_string())
            .build()
    };
    let out = eb
        .put_events()
        .entries(entry("ecs-autoscale.test", "ScalePlan", 1))
        .entries(entry("someone.else", "ScalePlan", 2))
        .entries(entry("ecs-autoscale.test", "Other", 3))
        .send()
        .await
        .expect("put events");
    assert_eq!(out.failed_entry_count(), 0);

    for url in [&queue, &fifo] {
        let bodies = messaging::receive_bodies(sqs, url).await.expect("receive");
        assert_eq!(
            bodies.len(),
            1,
            "only the matching event is routed to {url}: {bodies:?}"
        );
        let event: serde_json::Value = serde_json::from_str(&bodies[0]).expect("event JSON");
        assert_eq!(event["source"], "ecs-autoscale.test");
        assert_eq!(event["detail-type"], "ScalePlan");
        assert_eq!(event["detail"]["n"], 1);
        assert_eq!(event["detail"]["cluster"], "prod");
    }
}

/// Live tasks per container instance, with every instance present (0 when empty).
async fn counts(bed: &TestBed, instances: &[ContainerInstance]) -> BTreeMap<String, usize> {
    let per = scheduler::tasks_per_instance(bed.ecs(), "prod")
        .await
        .expect("tasks per instance");
    instances
        .iter()
        .map(|i| (i.arn.clone(), per.get(&i.arn).copied().unwrap_or(0)))
        .collect()
}

/// `service`'s live tasks per container instance of `prod` (instances without one absent).
async fn service_counts(bed: &TestBed, service: &str) -> BTreeMap<String, usize> {
    let mut per = BTreeMap::new();
    for task in scheduler::service_tasks(bed.ecs(), "prod", service)
        .await
        .expect("service tasks")
    {
        if let Some(ci) = task.container_instance_arn {
            *per.entry(ci).or_default() += 1;
        }
    }
    per
}

/// Every instance's remaining resources must equal its registered ones minus its tasks'.
async fn assert_resources_match(bed: &TestBed, cpu: i32, memory: i32) {
    let instances = scheduler::container_instances(bed.ecs(), "prod")
        .await
        .expect("instances");
    let per = counts(bed, &instances).await;
    let task = Resources::new(
        u32::try_from(cpu).expect("a task's cpu"),
        u32::try_from(memory).expect("a task's memory"),
    );
    for ci in &instances {
        let n = u32::try_from(per[&ci.arn]).expect("small count");
        assert_eq!(
            ci.remaining,
            Resources::new(
                INSTANCE_RESOURCES.cpu - n * task.cpu,
                INSTANCE_RESOURCES.memory - n * task.memory
            ),
            "remaining resources of {} with {n} tasks",
            ci.arn
        );
        assert_eq!(ci.running_tasks, n, "runningTasksCount of {}", ci.arn);
    }
}

#[tokio::test]
async fn scheduler_places_drains_and_scales_in() {
    let bed = TestBed::start().await;
    let ecs = bed.ecs();
    world::create_cluster(ecs, "prod").await.expect("cluster");
    // A decoy cluster whose name contains "prod": moto's ListTasks would mix its tasks in.
    world::create_cluster(ecs, "prod2")
        .await
        .expect("decoy cluster");
    let group = world::create_group(
        bed.autoscaling(),
        ecs,
        "prod",
        &GroupSpec::new("prod-asg", 3),
    )
    .await
    .expect("group");
    assert_eq!(group.instances.len(), 3);
    let decoy = world::create_group(bed.autoscaling(), ecs, "prod2", &GroupSpec::new("decoy", 1))
        .await
        .expect("decoy group");
    // 1024 CPU / 1536 MiB: four tasks fill an instance (4096 CPU / 7482 MiB).
    let (cpu, memory) = (1024, 1536);
    let web = world::register_task_definition(ecs, "web", cpu, memory)
        .await
        .expect("td web");
    let worker = world::register_task_definition(ecs, "worker", cpu, memory)
        .await
        .expect("td worker");
    world::create_service(ecs, "prod", "web", &web, 4)
        .await
        .expect("service web");
    world::create_service(ecs, "prod", "worker", &worker, 3)
        .await
        .expect("service worker");
    world::create_service(ecs, "prod2", "web", &web, 1)
        .await
        .expect("decoy service");
    world::start_service_tasks(ecs, "prod2", "web", &decoy.container_instance_arns())
        .await
        .expect("decoy task");

    // 1. Initial placement, ECS's default (one zone: spread over the instances, fewest tasks of
    //    the service first, ties in listing order): web 2, 1, 1; worker 1 on each.
    let report = bed.converge("prod").await.expect("converge");
    let web_report = report.service("web").expect("web report");
    assert_eq!(
        (web_report.desired, web_report.running, web_report.started),
        (4, 4, 4)
    );
    let worker_report = report.service("worker").expect("worker report");
    assert_eq!(
        (
            worker_report.desired,
            worker_report.running,
            worker_report.started
        ),
        (3, 3, 3)
    );
    assert_eq!(report.unplaced(), 0);
    assert!(report.is_converged());
    assert_eq!(
        scheduler::service_tasks(ecs, "prod", "web")
            .await
            .expect("web")
            .len(),
        4
    );
    assert_eq!(
        scheduler::service_tasks(ecs, "prod", "worker")
            .await
            .expect("worker")
            .len(),
        3
    );
    let instances = scheduler::container_instances(ecs, "prod")
        .await
        .expect("instances");
    let per = counts(&bed, &instances).await;
    let mut sorted: Vec<usize> = per.values().copied().collect();
    sorted.sort();
    assert_eq!(sorted, [2, 2, 3]);
    let workers = service_counts(&bed, "worker").await;
    assert_eq!(workers.values().copied().collect::<Vec<_>>(), [1, 1, 1]);
    assert_resources_match(&bed, cpu, memory).await;

    // Converging a converged cluster changes nothing.
    let again = bed.converge("prod").await.expect("converge again");
    assert!(
        again
            .services
            .iter()
            .all(|s| s.started == 0 && s.stopped == 0),
        "{again:?}"
    );

    // 2. Drain the busiest instance (2 web, 1 worker): its three tasks move, the counts still
    //    match.
    let (full, _) = per
        .iter()
        .find(|(_, n)| **n == 3)
        .expect("the busiest instance");
    world::set_container_instance_status(
        ecs,
        "prod",
        std::slice::from_ref(full),
        ContainerInstanceStatus::Draining,
    )
    .await
    .expect("drain");
    let report = bed.converge("prod").await.expect("converge after drain");
    let web_report = report.service("web").expect("web report");
    assert_eq!(
        (web_report.stopped, web_report.started, web_report.running),
        (2, 2, 4)
    );
    assert_eq!(report.service("worker").expect("worker").stopped, 1);
    assert!(report.is_converged(), "{report:?}");
    let per = counts(&bed, &instances).await;
    assert_eq!(per[full], 0, "no task may remain on the draining instance");
    // One web task to each of the others (one each before), the worker to the first listed.
    let webs = service_counts(&bed, "web").await;
    assert_eq!(
        webs.iter()
            .filter(|(i, _)| *i != full)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>(),
        [2, 2]
    );
    let (workers_home, _) = per
        .iter()
        .find(|(_, n)| **n == 4)
        .expect("the instance that took the worker");
    assert_eq!(per.values().sum::<usize>(), 7);
    for task in scheduler::service_tasks(ecs, "prod", "web")
        .await
        .expect("web tasks")
    {
        assert_ne!(task.container_instance_arn.as_ref(), Some(full));
        assert_eq!(task.last_status, "RUNNING");
    }
    assert_resources_match(&bed, cpu, memory).await;

    // 3. Scale in web 4 -> 2: surplus taken from the instance with the fewest tasks (the one
    //    with 3, then the same one at 2).
    world::set_desired_count(ecs, "prod", "web", 2)
        .await
        .expect("update service");
    let report = bed.converge("prod").await.expect("converge after scale-in");
    let web_report = report.service("web").expect("web report");
    assert_eq!(
        (web_report.desired, web_report.stopped, web_report.running),
        (2, 2, 2)
    );
    assert_eq!(
        scheduler::service_tasks(ecs, "prod", "web")
            .await
            .expect("web")
            .len(),
        2
    );
    let per = counts(&bed, &instances).await;
    assert_eq!(per[workers_home], 4);
    assert_eq!(per.values().sum::<usize>(), 5);
    assert_resources_match(&bed, cpu, memory).await;

    // 4. More than fits: 3 free slots on ACTIVE instances, worker wants 5 more.
    world::set_desired_count(ecs, "prod", "worker", 8)
        .await
        .expect("update service");
    let report = bed
        .converge("prod")
        .await
        .expect("converge beyond capacity");
    let worker_report = report.service("worker").expect("worker report");
    assert_eq!(
        (
            worker_report.started,
            worker_report.running,
            worker_report.unplaced
        ),
        (3, 6, 2)
    );
    assert!(!report.is_converged());
    assert_eq!(
        per[full],
        counts(&bed, &instances).await[full],
        "nothing placed on DRAINING"
    );
    assert_resources_match(&bed, cpu, memory).await;

    // The decoy cluster was never touched.
    let decoy_tasks = scheduler::service_tasks(ecs, "prod2", "web")
        .await
        .expect("decoy tasks");
    assert_eq!(decoy_tasks.len(), 1);

    // moto's ListServices for cluster "rod" also lists "prod"'s services ("prod:web" contains
    // "rod:"): converge must not see them.
    world::create_cluster(ecs, "rod")
        .await
        .expect("cluster rod");
    let report = bed.converge("rod").await.expect("converge rod");
    assert!(report.services.is_empty(), "{report:?}");
}

/// Registers `family` with one container (`cpu`, hard `memory`, soft `memoryReservation`)
/// and optional task-level sizes; returns its ARN.
async fn register_sized(
    bed: &TestBed,
    family: &str,
    container: (i32, Option<i32>, Option<i32>),
    task_level: (Option<&str>, Option<&str>),
) -> String {
    let (cpu, memory, reservation) = container;
    let app = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("app")
        .image(world::CONTAINER_IMAGE)
        .cpu(cpu)
        .set_memory(memory)
        .set_memory_reservation(reservation)
        .essential(true)
        .build();
    bed.ecs()
        .register_task_definition()
        .family(family)
        .container_definitions(app)
        .set_cpu(task_level.0.map(str::to_owned))
        .set_memory(task_level.1.map(str::to_owned))
        .send()
        .await
        .expect("register task definition")
        .task_definition()
        .and_then(|td| td.task_definition_arn())
        .expect("task definition ARN")
        .to_owned()
}

async fn described(bed: &TestBed, arn: &str) -> aws_sdk_ecs::types::TaskDefinition {
    bed.ecs()
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .expect("describe task definition")
        .task_definition()
        .expect("a task definition")
        .clone()
}

#[tokio::test]
async fn scheduler_reserves_what_ecs_reserves_not_what_moto_accounts() {
    let bed = TestBed::start().await;
    let ecs = bed.ecs();
    world::create_cluster(ecs, "soft").await.expect("cluster");
    world::create_group(
        bed.autoscaling(),
        ecs,
        "soft",
        &GroupSpec::new("soft-asg", 1),
    )
    .await
    .expect("group");
    // ECS reserves the soft limit: 512 CPU / 1024 MiB, seven fit in 7482 MiB. moto counts the
    // hard limit, 4096 MiB: by its remainingResources only one would.
    let soft = register_sized(&bed, "soft", (512, Some(4096), Some(1024)), (None, None)).await;
    assert_eq!(
        scheduler::reservation(&described(&bed, &soft).await).expect("reservation"),
        Resources::new(512, 1024)
    );
    // Task-level sizes win over the containers' (ECS places by them; moto ignores them).
    let sized = register_sized(
        &bed,
        "sized",
        (0, Some(256), None),
        (Some("1024"), Some("2048")),
    )
    .await;
    let td = described(&bed, &sized).await;
    assert_eq!(
        (td.cpu(), td.memory()),
        (Some("1024"), Some("2048")),
        "moto answers task-level sizes"
    );
    assert_eq!(
        scheduler::reservation(&td).expect("reservation"),
        Resources::new(1024, 2048)
    );

    world::create_service(ecs, "soft", "soft", &soft, 7)
        .await
        .expect("service");
    let report = bed.converge("soft").await.expect("converge");
    let placed = report.service("soft").expect("soft report");
    assert_eq!((placed.started, placed.unplaced), (7, 0), "{report:?}");
    let instances = scheduler::container_instances(ecs, "soft")
        .await
        .expect("instances");
    assert_eq!(
        instances[0].remaining.memory, 0,
        "moto's own accounting went below zero (7 × 4096 > 7482): why the scheduler does not read it"
    );

    // Converging again places nothing more and stops nothing; an eighth task does not fit.
    let again = bed.converge("soft").await.expect("converge again");
    assert_eq!(
        again.service("soft").map(|s| (s.started, s.stopped)),
        Some((0, 0))
    );
    world::set_desired_count(ecs, "soft", "soft", 8)
        .await
        .expect("update service");
    let report = bed
        .converge("soft")
        .await
        .expect("converge beyond capacity");
    let over = report.service("soft").expect("soft report");
    assert_eq!((over.started, over.running, over.unplaced), (0, 7, 1));
}

#[tokio::test]
async fn call_log_counts_operations() {
    let bed = TestBed::start().await;
    world::create_cluster(bed.ecs(), "counted")
        .await
        .expect("cluster");
    let td = world::register_task_definition(bed.ecs(), "app", 256, 512)
        .await
        .expect("td");
    world::create_service(bed.ecs(), "counted", "app", &td, 1)
        .await
        .expect("service");

    let log = CallLog::new();
    let clients = bed.counted_clients(&log);
    let out = clients
        .ecs
        .describe_services()
        .cluster("counted")
        .services("app")
        .send()
        .await
        .expect("describe services");
    assert_eq!(out.services()[0].desired_count(), 1);
    clients
        .ecs
        .list_clusters()
        .send()
        .await
        .expect("list clusters");
    clients.sqs.list_queues().send().await.expect("list queues");
    // The harness's own clients are not counted.
    bed.ecs()
        .describe_services()
        .cluster("counted")
        .services("app")
        .send()
        .await
        .expect("uncounted");

    assert_eq!(log.count("DescribeServices"), 1);
    assert_eq!(
        log.ops(),
        ["DescribeServices", "ListClusters", "ListQueues"]
    );
    assert_eq!(log.total(), 3);
    let services: Vec<String> = log.calls().into_iter().map(|c| c.service).collect();
    assert_eq!(
        services[0], services[1],
        "both ECS calls name the same service"
    );
    assert_ne!(services[0], services[2]);

    log.clear();
    assert_eq!(log.count("DescribeServices"), 0);
    assert!(log.ops().is_empty());
    clients
        .ecs
        .describe_services()
        .cluster("counted")
        .services("app")
        .send()
        .await
        .expect("again");
    assert_eq!(log.count("DescribeServices"), 1);
}

#[tokio::test]
async fn reset_isolates_tests() {
    let bed = TestBed::start().await;
    // Every test starts from an empty account, whatever ran before in this binary.
    let clusters = bed
        .ecs()
        .list_clusters()
        .send()
        .await
        .expect("list clusters");
    assert!(
        clusters.cluster_arns().is_empty(),
        "leftover: {:?}",
        clusters.cluster_arns()
    );
    let groups = bed
        .autoscaling()
        .describe_auto_scaling_groups()
        .send()
        .await
        .expect("groups");
    assert!(groups.auto_scaling_groups().is_empty());

    world::create_cluster(bed.ecs(), "doomed")
        .await
        .expect("cluster");
    messaging::create_queue(bed.sqs(), "doomed", QueueKind::Standard)
        .await
        .expect("queue");
    let listed = bed.ecs().list_clusters().send().await.expect("list");
    assert_eq!(listed.cluster_arns().len(), 1);

    bed.reset().await.expect("reset");
    let clusters = bed
        .ecs()
        .list_clusters()
        .send()
        .await
        .expect("list after reset");
    assert!(clusters.cluster_arns().is_empty());
    let queues = bed
        .sqs()
        .list_queues()
        .send()
        .await
        .expect("queues after reset");
    assert!(queues.queue_urls().is_empty());
}

#[test]
fn missing_moto_binary_says_make_venv() {
    let err = Moto::start_with(Path::new("/nonexistent/moto_server"))
        .err()
        .expect("starting a missing executable must fail");
    let message = format!("{err:#}");
    assert!(message.contains("make venv"), "{message}");
    assert!(message.contains("/nonexistent/moto_server"), "{message}");
}

/// The reads every reader of a cluster shares (`shared::aws::read`: the planner's, the
/// executor's re-read, this scheduler) page and batch at the APIs' maxima, keep ECS's filters
/// and report what ECS could not describe; their answers convert into the model.
#[tokio::test]
async fn shared_reads_page_and_batch_at_the_api_maxima() {
    let bed = TestBed::start().await;
    let ecs = bed.ecs();
    world::create_cluster(ecs, "big").await.expect("cluster");
    world::create_group(
        bed.autoscaling(),
        ecs,
        "big",
        &GroupSpec::new("big-asg", 105),
    )
    .await
    .expect("105 instances");
    let td = world::register_task_definition(ecs, "tiny", 1, 1)
        .await
        .expect("td");
    world::create_service(ecs, "big", "tiny", &td, 150)
        .await
        .expect("service");
    let log = CallLog::new();
    let counted = bed.counted_clients(&log);

    // 105 container instances: all listed (moto answers List* in one page whatever
    // maxResults, so the paging itself is not observable here), described in two calls.
    let arns = read::list_container_instances(&counted.ecs, "big")
        .await
        .expect("list instances");
    assert_eq!(arns.len(), 105);
    let described = read::describe_container_instances(&counted.ecs, "big", &arns, &[])
        .await
        .expect("describe instances");
    assert_eq!(
        log.count("DescribeContainerInstances"),
        2,
        "{:?}",
        log.ops()
    );
    assert!(described.failures.is_empty(), "{:?}", described.failures);
    assert_eq!(described.found.len(), 105);
    for found in &described.found {
        let ci = container_instance(found).expect("complete answer");
        assert!(arns.contains(&ci.arn));
        assert_eq!(ci.status, InstanceStatus::Active);
        assert_eq!(ci.registered, INSTANCE_RESOURCES);
    }

    // 150 tasks on the first instance: all listed, described in two calls; the filters hold.
    world::start_service_tasks(ecs, "big", "tiny", &vec![arns[0].clone(); 150])
        .await
        .expect("tasks");
    log.clear();
    let tasks = read::list_tasks(&counted.ecs, "big", TaskFilter::default())
        .await
        .expect("list tasks");
    assert_eq!(tasks.len(), 150);
    fn on(container_instance: &str) -> TaskFilter<'_> {
        TaskFilter {
            container_instance: Some(container_instance),
            ..TaskFilter::default()
        }
    }
    fn by(started_by: &str) -> TaskFilter<'_> {
        TaskFilter {
            started_by: Some(started_by),
            ..TaskFilter::default()
        }
    }
    for (filter, expected) in [
        (on(&arns[0]), 150),
        (on(&arns[1]), 0),
        (by("tiny"), 150),
        (by("nobody"), 0),
    ] {
        let listed = read::list_tasks(bed.ecs(), "big", filter)
            .await
            .expect("list filtered");
        assert_eq!(listed.len(), expected, "{filter:?}");
    }
    let described = read::describe_tasks(&counted.ecs, "big", &tasks)
        .await
        .expect("describe tasks");
    assert_eq!(log.count("DescribeTasks"), 2, "{:?}", log.ops());
    assert_eq!(described.found.len(), 150);
    for found in &described.found {
        let t = task(found).expect("complete answer");
        assert_eq!(t.service(), Some("tiny"));
        assert_eq!(t.container_instance_arn.as_deref(), Some(arns[0].as_str()));
        assert_eq!(t.task_definition_arn, td);
    }

    // Services 10 per call; the names ECS does not know come back as failures.
    let names: Vec<String> = (0..12)
        .map(|n| format!("ghost{n}"))
        .chain(["tiny".to_owned()])
        .collect();
    log.clear();
    let described = read::describe_services(&counted.ecs, "big", &names, &[])
        .await
        .expect("describe services");
    assert_eq!(log.count("DescribeServices"), 2, "{:?}", log.ops());
    let found: Vec<_> = described
        .found
        .iter()
        .map(|s| service_state(s, Resources::ZERO).expect("complete answer"))
        .collect();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].name.as_str(), found[0].desired), ("tiny", 150));
    assert_eq!(described.failures.len(), 12, "{:?}", described.failures);
    assert!(described
        .failures
        .iter()
        .all(|f| f.reason() == Some("MISSING")));

    // No group of that name: nothing, not an error.
    let group = read::describe_group(&counted.autoscaling, "nowhere")
        .await
        .expect("describe group");
    assert!(group.is_none());
}

#[tokio::test]
async fn the_eni_table_agrees_with_ec2s_description_of_each_type() {
    // moto answers DescribeInstanceTypes from EC2's own data: each untrunked limit of the
    // planner's table must be the type's network interfaces less the primary one.
    let bed = TestBed::start().await;
    let table: Vec<(String, u32, Option<u32>)> = shared::eni::table().collect();
    let types: Vec<String> = table.iter().map(|(t, _, _)| t.clone()).collect();
    let described = read::describe_instance_types(&bed.clients().ec2, &types)
        .await
        .expect("DescribeInstanceTypes");
    for (instance_type, untrunked, _) in &table {
        let info = described
            .iter()
            .find(|i| i.instance_type().map(|x| x.as_str()) == Some(instance_type.as_str()))
            .unwrap_or_else(|| panic!("EC2 does not describe {instance_type}"));
        let enis = info
            .network_info()
            .and_then(|n| n.maximum_network_interfaces())
            .unwrap_or_else(|| panic!("no network interfaces for {instance_type}"));
        assert_eq!(
            i64::from(*untrunked),
            i64::from(enis) - 1,
            "{instance_type}: {enis} interfaces"
        );
    }
}
