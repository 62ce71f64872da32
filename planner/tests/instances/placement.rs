//! What ECS really schedules, end to end: the planner's plans against the test bed's scheduler,
//! which places by its own rules (host ports, daemons on every instance, Fargate on no instance,
//! `memberOf` on attributes). A plan that counts on room ECS would not give leaves tasks
//! unplaced here.

use aws_sdk_ecs::types::{
    ContainerDefinition, LaunchType, PortMapping, ResourceRequirement, ResourceType,
    SchedulingStrategy, TaskDefinitionPlacementConstraint, TaskDefinitionPlacementConstraintType,
};

use super::*;

/// A task definition of one container (`cpu`, `memory` MiB) binding `host_port` when given,
/// and carrying a `memberOf` when given.
async fn task_definition(
    w: &World,
    family: &str,
    cpu: i32,
    memory: i32,
    host_port: Option<i32>,
    member_of: Option<&str>,
) -> String {
    let mut container = ContainerDefinition::builder()
        .name("app")
        .image(world::CONTAINER_IMAGE)
        .cpu(cpu)
        .memory(memory)
        .essential(true);
    if let Some(port) = host_port {
        container = container.port_mappings(
            PortMapping::builder()
                .container_port(port)
                .host_port(port)
                .build(),
        );
    }
    let mut request = w
        .bed
        .ecs()
        .register_task_definition()
        .family(family)
        .container_definitions(container.build());
    if let Some(expression) = member_of {
        request = request.placement_constraints(
            TaskDefinitionPlacementConstraint::builder()
                .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                .expression(expression)
                .build(),
        );
    }
    let out = request.send().await.expect("register task definition");
    out.task_definition()
        .and_then(|td| td.task_definition_arn())
        .expect("an ARN")
        .to_owned()
}

/// `web` runs `td` from now on.
async fn web_runs(w: &World, td: &str) {
    w.bed
        .ecs()
        .update_service()
        .cluster(CLUSTER)
        .service("web")
        .task_definition(td)
        .send()
        .await
        .expect("update web's task definition");
}

#[tokio::test]
async fn a_host_port_service_gets_one_instance_per_task() {
    let w = World::build("", 1, 0, None).await;
    // 1024 CPU / 1536 MiB: four to an instance by size, one by port 80.
    let td = task_definition(&w, "web-80", TASK_CPU, TASK_MEMORY, Some(80), None).await;
    web_runs(&w, &td).await;

    let (plan, report) = w.cycle(&wanted(3)).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:?}");
    assert_eq!(launched(&plan), 2, "{:#?}", plan.decisions.headlines);
    let converged = w.bed.converge(CLUSTER).await.expect("converge");
    assert!(converged.is_converged(), "{converged:?}");
    let per = scheduler::tasks_per_instance(w.bed.ecs(), CLUSTER)
        .await
        .expect("tasks per instance");
    assert_eq!(per.values().copied().collect::<Vec<_>>(), vec![1, 1, 1]);

    // Stable: the next plan neither launches nor drains.
    let (plan, _) = w.cycle(&wanted(3)).await;
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    assert!(
        plan.actions.drain.is_empty(),
        "{:#?}",
        plan.decisions.headlines
    );
}

#[tokio::test]
async fn an_awsvpc_service_gets_instances_by_their_enis() {
    let w = World::build("", 1, 0, None).await;
    // awsvpc as ECS shows it (the proxy; moto's StartTask refuses awsvpc tasks).
    let td = task_definition(&w, "web-vpc", 256, 512, None, None).await;
    w.strict.set_network_mode("web-vpc", "awsvpc");
    web_runs(&w, &td).await;

    // Six small tasks fit one m5.large by size; it has 3 ENIs (2 for tasks): three instances.
    // ECS (the test bed's scheduler, reading through the proxy, with the ENI counts EC2 gives
    // for the type, not the planner's table) agrees: two per instance.
    let (plan, converged) = cycle_through_proxy(&w, &wanted(6)).await;
    assert_eq!(launched(&plan), 2, "{:#?}", plan.decisions.headlines);
    assert!(converged.is_converged(), "{converged:?}");
    let per = scheduler::tasks_per_instance(w.bed.ecs(), CLUSTER)
        .await
        .expect("tasks per instance");
    assert_eq!(per.values().copied().collect::<Vec<_>>(), vec![2, 2, 2]);
    let plan = w.plan_at(&wanted(6), time::now()).await;
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    assert!(
        plan.actions.drain.is_empty(),
        "{:#?}",
        plan.decisions.headlines
    );
}

#[tokio::test]
async fn a_fargate_service_in_the_file_is_scaled_and_launches_nothing() {
    let mut w = World::build("", 1, 0, None).await;
    let td = task_definition(&w, "batch", 1024, 2048, None, None).await;
    w.bed
        .ecs()
        .create_service()
        .cluster(CLUSTER)
        .service_name("batch")
        .task_definition(&td)
        .desired_count(0)
        .launch_type(LaunchType::Fargate)
        .send()
        .await
        .expect("create the Fargate service");
    w.def = definition_with(
        "  batch:\n    min: 0\n    max: 40\n    metric_sources:\n      cloudwatch:\n        - metric_name: Batch\n          namespace: Test\n          statistics:\n            - name: Maximum\n              alias: b\n    target_tracking:\n      metric: b\n      target: 1\n",
    );
    let mut m = wanted(2);
    let mut b = ServiceMetrics::default();
    b.set_value("b", 30.0);
    m.insert("batch".into(), b);

    let (plan, report) = w.cycle(&m).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:?}");
    assert!(
        plan.actions
            .services
            .iter()
            .any(|c| c.service == "batch" && c.to == 30),
        "{:#?}",
        plan.decisions.headlines
    );
    // 30 Fargate tasks of 1024 CPU would be 8 instances; web's 2 fit on the one there is.
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    let converged = w.bed.converge(CLUSTER).await.expect("converge");
    assert!(converged.is_converged(), "{converged:?}");
    assert!(converged.service("batch").is_some_and(|s| s.fargate));
}

#[tokio::test]
async fn a_daemon_is_never_scaled_and_its_room_is_kept_on_new_instances() {
    let mut w = World::build("", 1, 0, None).await;
    let td = task_definition(&w, "agent", 1024, 512, None, None).await;
    w.bed
        .ecs()
        .create_service()
        .cluster(CLUSTER)
        .service_name("agent")
        .task_definition(&td)
        .scheduling_strategy(SchedulingStrategy::Daemon)
        .launch_type(LaunchType::Ec2)
        .send()
        .await
        .expect("create the daemon");
    w.bed.converge(CLUSTER).await.expect("the daemon runs");
    // The daemon is named in the file (a mistake the planner must survive).
    w.def = definition_with(
        "  agent:\n    min: 0\n    max: 40\n    metric_sources:\n      cloudwatch:\n        - metric_name: Agent\n          namespace: Test\n          statistics:\n            - name: Maximum\n              alias: a\n    target_tracking:\n      metric: a\n      target: 1\n",
    );
    let mut m = wanted(7);
    let mut a = ServiceMetrics::default();
    a.set_value("a", 9.0);
    m.insert("agent".into(), a);

    let (plan, report) = w.cycle(&m).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:?}");
    assert!(plan.actions.services.iter().all(|c| c.service != "agent"));
    assert!(plan
        .decisions
        .headlines
        .iter()
        .any(|l| l.starts_with("service `agent`") && l.contains("DAEMON")));
    // 3 web tasks beside the daemon on the running instance; 4 more at 3 per new instance
    // (4 without the daemon's 1024 CPU) need 2 instances.
    assert_eq!(launched(&plan), 2, "{:#?}", plan.decisions.headlines);
    let converged = w.bed.converge(CLUSTER).await.expect("converge");
    assert!(converged.is_converged(), "{converged:?}");
    assert_eq!(converged.service("agent").map(|s| s.running), Some(3));
}

#[tokio::test]
async fn a_member_of_instance_type_no_instance_of_the_group_meets_launches_nothing() {
    // min 1: the idle instance stays (the unplaceable tasks do not keep it).
    let w = World::build("min: 1\n", 1, 0, None).await;
    let gpu_only = format!(
        "attribute:ecs.instance-type == {}",
        if world::INSTANCE_TYPE == "g4dn.xlarge" {
            "p3.2xlarge"
        } else {
            "g4dn.xlarge"
        }
    );
    let td = task_definition(
        &w,
        "web-gpu-type",
        TASK_CPU,
        TASK_MEMORY,
        None,
        Some(&gpu_only),
    )
    .await;
    web_runs(&w, &td).await;

    let (plan, _) = w.cycle(&wanted(2)).await;
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    assert!(
        plan.decisions
            .headlines
            .iter()
            .any(|l| l.contains("2 task(s) of `web` unplaceable") && l.contains(&gpu_only)),
        "{:#?}",
        plan.decisions.headlines
    );
    // ECS (the test bed) cannot place them either.
    let converged = w.bed.converge(CLUSTER).await.expect("converge");
    assert_eq!(converged.service("web").map(|s| s.unplaced), Some(2));

    // The group's own type is met: placed on the running instance, nothing launched.
    let own = format!("attribute:ecs.instance-type == {}", world::INSTANCE_TYPE);
    let td = task_definition(&w, "web-own-type", TASK_CPU, TASK_MEMORY, None, Some(&own)).await;
    web_runs(&w, &td).await;
    let (plan, _) = w.cycle(&wanted(2)).await;
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    assert!(
        !plan
            .decisions
            .headlines
            .iter()
            .any(|l| l.contains("unplaceable") || l.contains("unplaced")),
        "{:#?}",
        plan.decisions.headlines
    );
    let converged = w.bed.converge(CLUSTER).await.expect("converge");
    assert!(converged.is_converged(), "{converged:?}");
}

#[tokio::test]
async fn a_gpu_service_gets_instances_with_free_gpus() {
    let w = World::build("", 1, 0, None).await;
    // Each instance registers one GPU (the proxy adds it: moto registers none).
    w.strict.set_gpus_per_instance(1);
    let container = ContainerDefinition::builder()
        .name("app")
        .image(world::CONTAINER_IMAGE)
        .cpu(256)
        .memory(512)
        .essential(true)
        .resource_requirements(
            ResourceRequirement::builder()
                .r#type(ResourceType::Gpu)
                .value("1")
                .build()
                .expect("type and value"),
        )
        .build();
    let out = w
        .bed
        .ecs()
        .register_task_definition()
        .family("web-gpu")
        .container_definitions(container)
        .send()
        .await
        .expect("register task definition");
    let td = out
        .task_definition()
        .and_then(|td| td.task_definition_arn())
        .expect("an ARN")
        .to_owned();
    web_runs(&w, &td).await;

    // Three small tasks fit one instance by size; one GPU each needs three instances.
    let (plan, report) = w.cycle(&wanted(3)).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:?}");
    assert_eq!(launched(&plan), 2, "{:#?}", plan.decisions.headlines);
    // ECS (the test bed's scheduler, reading the GPUs through the proxy) places one per instance.
    let through_proxy = aws_sdk_ecs::Client::new(w.strict.sdk_config());
    let converged = scheduler::converge(&through_proxy, CLUSTER)
        .await
        .expect("converge");
    assert!(converged.is_converged(), "{converged:?}");
    let per = scheduler::tasks_per_instance(w.bed.ecs(), CLUSTER)
        .await
        .expect("tasks per instance");
    assert_eq!(per.values().copied().collect::<Vec<_>>(), vec![1, 1, 1]);
    // The proxy's remaining GPUs follow the tasks: the next plan sees none free, asks nothing.
    let (plan, _) = w.cycle(&wanted(3)).await;
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    assert!(
        plan.actions.drain.is_empty(),
        "{:#?}",
        plan.decisions.headlines
    );
}

#[tokio::test]
async fn a_group_with_an_ecs_capacity_provider_is_left_alone() {
    let w = World::build("", 1, 0, None).await;
    // What ECS does when a capacity provider is associated with the group.
    w.bed
        .autoscaling()
        .create_or_update_tags()
        .tags(
            aws_sdk_autoscaling::types::Tag::builder()
                .resource_id(GROUP)
                .resource_type("auto-scaling-group")
                .key("AmazonECSManaged")
                .value("")
                .propagate_at_launch(true)
                .build(),
        )
        .send()
        .await
        .expect("tag the group");
    let (plan, _) = w.cycle(&wanted(9)).await;
    assert!(!plan.has_actions, "{:#?}", plan.decisions.headlines);
    assert!(
        plan.decisions
            .headlines
            .iter()
            .any(|l| l.contains("AmazonECSManaged") && l.contains("left alone")),
        "{:#?}",
        plan.decisions.headlines
    );
    let (_, _, desired, _) = w.group_now().await;
    assert_eq!(desired, 1);
}

#[tokio::test]
async fn a_task_definition_that_cannot_be_read_holds_its_service_and_the_rest_is_planned() {
    let w = World::build("", 1, 2, None).await;
    // Every attempt of the SDK (and its retries) fails.
    w.strict.fail(
        "DescribeTaskDefinition",
        testbed::strict::Fault::Validation,
        10,
    );
    let plan = w.plan_at(&wanted(9), time::now()).await;
    assert!(
        plan.actions.services.is_empty(),
        "{:#?}",
        plan.decisions.headlines
    );
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    assert!(
        plan.decisions
            .headlines
            .iter()
            .any(|l| l.starts_with("service `web`")
                && l.contains("not read")
                && l.contains("left at its count")),
        "{:#?}",
        plan.decisions.headlines
    );
}

/// One cycle in which ECS is what the strict proxy shows (what moto cannot store included):
/// plan, apply, the agents register, the test bed's scheduler converges through the proxy.
async fn cycle_through_proxy(
    w: &World,
    metrics: &BTreeMap<String, ServiceMetrics>,
) -> (ScalingPlan, scheduler::ConvergeReport) {
    let plan = w.plan_at(metrics, time::now()).await;
    let report = w.apply(&plan).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:?}");
    world::register_group_instances(w.bed.autoscaling(), w.bed.ecs(), CLUSTER, GROUP)
        .await
        .expect("the agents register");
    let converged = w.converge_as_ecs().await;
    (plan, converged)
}

#[tokio::test]
async fn a_service_level_member_of_no_instance_meets_launches_nothing_and_ecs_places_nothing() {
    let w = World::build("min: 1\n", 1, 0, None).await;
    let elsewhere = "attribute:ecs.instance-type == g4dn.xlarge";
    assert_ne!(world::INSTANCE_TYPE, "g4dn.xlarge");
    // On the service, not its task definition (the proxy shows it: moto drops it).
    w.strict.set_service_member_of("web", &[elsewhere]);

    let (plan, converged) = cycle_through_proxy(&w, &wanted(2)).await;
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    assert!(
        plan.decisions
            .headlines
            .iter()
            .any(|l| l.contains("2 task(s) of `web` unplaceable") && l.contains(elsewhere)),
        "{:#?}",
        plan.decisions.headlines
    );
    assert_eq!(converged.service("web").map(|s| s.unplaced), Some(2));

    // A constraint the group's instances meet: placed, nothing launched.
    let own = format!("attribute:ecs.instance-type == {}", world::INSTANCE_TYPE);
    w.strict.set_service_member_of("web", &[&own]);
    let (plan, converged) = cycle_through_proxy(&w, &wanted(2)).await;
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    assert!(converged.is_converged(), "{converged:?}");
}

#[tokio::test]
async fn a_member_of_the_groups_instance_type_gets_a_new_instance_of_that_type() {
    // The one instance is full of web; web may run only on the group's type: a new instance is
    // of that type (the group's launch configuration), so the plan counts on it and ECS agrees.
    let w = World::build("", 1, 4, Some(&[0, 0, 0, 0])).await;
    let own_type = format!("attribute:ecs.instance-type == {}", world::INSTANCE_TYPE);
    w.strict.set_service_member_of("web", &[&own_type]);

    let (plan, converged) = cycle_through_proxy(&w, &wanted(5)).await;
    assert_eq!(launched(&plan), 1, "{:#?}", plan.decisions.headlines);
    assert!(converged.is_converged(), "{converged:?}");
}

#[tokio::test]
async fn a_service_with_a_capacity_provider_strategy_is_scaled_and_launches_nothing() {
    let w = World::build("", 1, 0, None).await;
    w.strict
        .set_service_capacity_providers("web", &["gpu-fleet-provider"]);

    let (plan, converged) = cycle_through_proxy(&w, &wanted(9)).await;
    assert_eq!(
        plan.actions
            .services
            .iter()
            .map(|c| (c.service.as_str(), c.to))
            .collect::<Vec<_>>(),
        [("web", 9)],
        "{:#?}",
        plan.decisions.headlines
    );
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    // ECS runs them by the provider, not on the group's instance.
    let web = converged.service("web").expect("web");
    assert!(web.fargate && web.started == 0, "{converged:?}");
    let per = scheduler::tasks_per_instance(w.bed.ecs(), CLUSTER)
        .await
        .expect("tasks per instance");
    assert_eq!(per.values().sum::<usize>(), 0, "{per:?}");
}

#[tokio::test]
async fn an_instance_whose_agent_is_disconnected_is_not_room_and_receives_no_task() {
    // Two instances with room for four tasks each; the second one's agent is disconnected.
    let w = World::build("", 2, 0, None).await;
    let cut_off = w.group.instances[1].container_instance_arn.clone();
    w.strict.set_agent_connected(&cut_off, false);

    // Six tasks: the connected instance takes four, a new one the other two.
    let (plan, converged) = cycle_through_proxy(&w, &wanted(6)).await;
    assert_eq!(launched(&plan), 1, "{:#?}", plan.decisions.headlines);
    assert!(converged.is_converged(), "{converged:?}");
    let per = scheduler::tasks_per_instance(w.bed.ecs(), CLUSTER)
        .await
        .expect("tasks per instance");
    assert_eq!(per.get(&cut_off), None, "{per:?}");
    assert_eq!(per.values().sum::<usize>(), 6, "{per:?}");
}

/// The test file with `services` appended to `web`.
fn definition_with(services: &str) -> ClusterDefinition {
    let yaml = format!("{YAML}{services}");
    let file = Path::new("clusters").join(format!("{CLUSTER}.yml"));
    match parse_definition(CLUSTER, &file, &yaml, &|_| None) {
        Ok(def) => def,
        Err(errors) => panic!("test definition does not load:\n{errors}"),
    }
}

#[tokio::test]
async fn a_drain_whose_awsvpc_task_lost_its_eni_since_the_plan_is_not_made() {
    // Three m5.large (two ENIs for tasks each): one, two and one awsvpc web task. Consolidation
    // drains an instance; its tasks' ENIs are free on the others when the plan is made.
    let w = World::build("", 3, 0, None).await;
    let td = task_definition(&w, "web-vpc", 256, 512, None, None).await;
    w.strict.set_network_mode("web-vpc", "awsvpc");
    web_runs(&w, &td).await;
    let arns: Vec<String> = [0, 1, 1, 2]
        .iter()
        .map(|&i| w.group.instances[i].container_instance_arn.clone())
        .collect();
    world::start_service_tasks(w.bed.ecs(), CLUSTER, "web", &arns)
        .await
        .expect("web tasks");
    world::set_desired_count(w.bed.ecs(), CLUSTER, "web", 4)
        .await
        .expect("web wants 4");

    let plan = w.plan_at(&wanted(4), time::now()).await;
    let [drained] = plan.actions.drain.as_slice() else {
        panic!("one drain: {:#?}", plan.decisions.headlines);
    };
    let drained = drained.instance.container_instance_arn.clone();
    assert!(
        !plan.actions.drain_eni_use.is_empty(),
        "the plan carries the ENIs it saw"
    );
    // Before the executor reads the cluster, another awsvpc task starts on every instance that
    // had an ENI left (a deployment, a standalone task): none is left for the drained tasks.
    let ecs = w.bed.ecs().clone();
    let others: Vec<String> = (0..3)
        .map(|i| w.group.instances[i].container_instance_arn.clone())
        .filter(|arn| *arn != drained && *arn != arns[1])
        .collect();
    let family = td.clone();
    w.strict
        .before_next("DescribeContainerInstances", move || async move {
            world::start_tasks(&ecs, CLUSTER, "batch", &family, &others)
                .await
                .expect("another awsvpc task");
        });

    let report = w.apply(&plan).await;
    let drain = outcome(&report, "drain");
    assert_eq!(drain.status, ActionStatus::Stale, "{report:#?}");
    assert!(drain.detail.contains("an ENI"), "{}", drain.detail);
    assert_eq!(w.status(&drained).await, "ACTIVE");
    // What the drain would have done: ECS (the test bed's scheduler, with EC2's ENI counts)
    // finds no ENI for the tasks it moves.
    let i = (0..3)
        .find(|&i| w.group.instances[i].container_instance_arn == drained)
        .expect("a group instance");
    w.operator_drain(i).await;
    let converged = w.converge_as_ecs().await;
    assert!(!converged.is_converged(), "{converged:?}");
}
