//! Availability zones end to end, the group over two zones whose instances the strict proxy
//! puts in zones as Auto Scaling does (moto puts the instances of a launch in one zone at
//! random): spread over zones, ECS's default placement strategy for a service, against the test
//! bed's scheduler, which places each task in the zone with the fewest tasks of its service
//! (where spreading puts a task differs from where packing would, the plan must be what ECS
//! then does); and `memberOf` on the zone, which a new instance meets only if Auto Scaling
//! launches it there.

use super::*;

const A: &str = "us-east-1a";
const B: &str = "us-east-1b";

/// Each instance (index into the group) in its zone.
fn pin(w: &World, zones: &[&str]) {
    for (i, zone) in zones.iter().enumerate() {
        w.strict
            .set_availability_zone(&w.group.instances[i].instance_id, zone);
    }
}

/// `web` may run only in us-east-1a (a service constraint, shown by the proxy).
fn web_in_a(w: &World) {
    w.strict
        .set_service_member_of("web", &["attribute:ecs.availability-zone == us-east-1a"]);
}

/// `web` tasks per instance of the group (index order).
async fn web_per_instance(w: &World) -> Vec<usize> {
    let per = scheduler::tasks_per_instance(w.bed.ecs(), CLUSTER)
        .await
        .expect("tasks per instance");
    w.group
        .instances
        .iter()
        .map(|r| per.get(&r.container_instance_arn).copied().unwrap_or(0))
        .collect()
}

#[tokio::test]
async fn a_scale_up_ecs_spreads_onto_the_buffers_room_launches_for_the_buffer_at_once() {
    // Instance 0 (us-east-1a) runs 2 web tasks, instance 1 (us-east-1b) 3; a buffer of two
    // tasks' CPU. Packed, the 6th task would fill instance 1 and leave the buffer instance 0's
    // room; ECS puts it in us-east-1a (2 tasks against 3), on instance 0.
    let w = World::build_in(&[A, B], "cpu_buffer: 2048\n", 2, 5, Some(&[0, 0, 1, 1, 1])).await;
    pin(&w, &[A, B]);

    let plan = w.plan_at(&wanted(6), time::now()).await;
    assert_eq!(launched(&plan), 1, "{:#?}", plan.decisions.headlines);
    let report = w.apply(&plan).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:?}");
    // ECS places the task when the service is scaled, before the new instance registers.
    let converged = w.converge_as_ecs().await;
    assert!(converged.is_converged(), "{converged:?}");
    assert_eq!(web_per_instance(&w).await, [3, 3], "spread into us-east-1a");
    world::register_group_instances(w.bed.autoscaling(), w.bed.ecs(), CLUSTER, GROUP)
        .await
        .expect("the new instance registers");
    w.converge_as_ecs().await;

    // The buffer is on the new instance: the next plan neither launches nor drains.
    let plan = w.plan_at(&wanted(6), time::now()).await;
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    assert!(
        plan.actions.drain.is_empty(),
        "{:#?}",
        plan.decisions.headlines
    );
}

#[tokio::test]
async fn a_service_that_binpacks_is_placed_where_ecs_binpacks_it() {
    // The world of the test above, web placed by `binpack(memory)`: ECS puts the sixth task on
    // instance 1 (the least memory left), whatever the zones, and the buffer keeps instance
    // 0's room: no launch, where the default strategy needs one.
    let w = World::build_in(&[A, B], "cpu_buffer: 2048\n", 2, 5, Some(&[0, 0, 1, 1, 1])).await;
    pin(&w, &[A, B]);
    w.strict
        .set_service_placement_strategy("web", &[("binpack", "memory")]);

    let plan = w.plan_at(&wanted(6), time::now()).await;
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    let report = w.apply(&plan).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:?}");
    let converged = w.converge_as_ecs().await;
    assert!(converged.is_converged(), "{converged:?}");
    assert_eq!(web_per_instance(&w).await, [2, 4], "packed onto instance 1");
    let plan = w.plan_at(&wanted(6), time::now()).await;
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
}

#[tokio::test]
async fn a_drain_whose_task_ecs_spreads_onto_the_buffers_room_is_not_made() {
    // Instance 0 (us-east-1b) runs 1 web task, instance 1 (us-east-1b) 3, instance 2
    // (us-east-1a) 2; a buffer of two tasks' CPU, kept on instance 2. Packed, instance 0's task
    // fits on instance 1 and instance 0 could go; ECS would put it in us-east-1a (2 tasks
    // against 3), on the buffer's room.
    let w = World::build_in(
        &[A, B],
        "cpu_buffer: 2048\n",
        3,
        6,
        Some(&[0, 1, 1, 1, 2, 2]),
    )
    .await;
    pin(&w, &[B, B, A]);

    let plan = w.plan_at(&wanted(6), time::now()).await;
    assert!(
        plan.actions.drain.is_empty(),
        "{:#?}",
        plan.decisions.headlines
    );
    let kept = line_about(&plan, &w.group.instances[0].instance_id).unwrap_or_default();
    assert!(kept.contains("buffer"), "{:#?}", plan.decisions.headlines);

    // What the drain would have done: ECS (the test bed) moves the task to us-east-1a, and
    // the buffer then needs an instance.
    w.operator_drain(0).await;
    let converged = w.converge_as_ecs().await;
    assert!(converged.is_converged(), "{converged:?}");
    assert_eq!(web_per_instance(&w).await, [0, 3, 3]);
    let plan = w.plan_at(&wanted(6), time::now()).await;
    assert_eq!(launched(&plan), 1, "{:#?}", plan.decisions.headlines);
}

#[tokio::test]
async fn a_zone_bound_service_gets_the_instance_auto_scaling_launches_in_its_zone() {
    // us-east-1a: instance 0, full of web (four tasks); us-east-1b: instances 1 and 2, empty.
    // web runs only in us-east-1a, where Auto Scaling launches next (one instance against two).
    let w = World::build_in(&[A, B], "", 3, 4, Some(&[0, 0, 0, 0])).await;
    pin(&w, &[A, B, B]);
    web_in_a(&w);

    let plan = w.plan_at(&wanted(5), time::now()).await;
    assert_eq!(launched(&plan), 1, "{:#?}", plan.decisions.headlines);
    let report = w.apply(&plan).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:?}");
    world::register_group_instances(w.bed.autoscaling(), w.bed.ecs(), CLUSTER, GROUP)
        .await
        .expect("the new instance registers");
    // ECS places the fifth task on the new instance: the only room in us-east-1a.
    let converged = w.converge_as_ecs().await;
    assert!(converged.is_converged(), "{converged:?}");
    assert_eq!(web_per_instance(&w).await, [4, 0, 0]);
}

#[tokio::test]
async fn no_instance_is_launched_for_a_zone_auto_scaling_would_not_launch_it_in() {
    // Both instances in us-east-1a, full of web; the group also spans us-east-1b, empty: every
    // registered instance is in us-east-1a, yet Auto Scaling launches the next one in us-east-1b.
    let w = World::build_in(&[A, B], "", 2, 8, Some(&[0, 0, 0, 0, 1, 1, 1, 1])).await;
    pin(&w, &[A, A]);
    web_in_a(&w);

    let plan = w.plan_at(&wanted(9), time::now()).await;
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
    assert!(
        plan.decisions
            .headlines
            .iter()
            .any(|l| l.contains("1 task(s) of `web` unplaceable")
                && l.contains("ecs.availability-zone is us-east-1b")),
        "{:#?}",
        plan.decisions.headlines
    );

    // What a launch would have done: the instance comes up in us-east-1b, where the task may
    // not run.
    w.bed
        .autoscaling()
        .set_desired_capacity()
        .auto_scaling_group_name(GROUP)
        .desired_capacity(3)
        .send()
        .await
        .expect("launch one");
    world::register_group_instances(w.bed.autoscaling(), w.bed.ecs(), CLUSTER, GROUP)
        .await
        .expect("the new instance registers");
    world::set_desired_count(w.bed.ecs(), CLUSTER, "web", 9)
        .await
        .expect("web wants 9");
    let converged = w.converge_as_ecs().await;
    assert!(!converged.is_converged(), "{converged:?}");
    assert_eq!(web_per_instance(&w).await, [4, 4]);
}
