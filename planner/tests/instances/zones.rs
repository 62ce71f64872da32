//! Spread over availability zones, ECS's default placement strategy for a service, end to end:
//! the planner's plans against the test bed's scheduler, which places each task in the zone
//! with the fewest tasks of its service (the zones set through the strict proxy: moto puts the
//! instances of a launch in one zone). Where spreading puts a task differs from where packing
//! would, the plan must be what ECS then does.

use super::*;

/// The container instances' zones as the proxy shows them: `b` for the instances (indices into
/// the group) listed, moto's `us-east-1a` for the others.
fn zone_b(w: &World, instances: &[usize]) {
    for &i in instances {
        w.strict
            .set_availability_zone(&w.group.instances[i].instance_id, "us-east-1b");
    }
}

/// ECS through the proxy (it shows the zones): the test bed's scheduler converges.
async fn converge_seeing_zones(w: &World) -> scheduler::ConvergeReport {
    let through_proxy = aws_sdk_ecs::Client::new(w.strict.sdk_config());
    scheduler::converge(&through_proxy, CLUSTER)
        .await
        .expect("converge")
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
    let w = World::build("cpu_buffer: 2048\n", 2, 5, Some(&[0, 0, 1, 1, 1])).await;
    zone_b(&w, &[1]);

    let plan = w.plan_at(&wanted(6), time::now()).await;
    assert_eq!(launched(&plan), 1, "{:#?}", plan.decisions.headlines);
    let report = w.apply(&plan).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:?}");
    // ECS places the task when the service is scaled, before the new instance registers.
    let converged = converge_seeing_zones(&w).await;
    assert!(converged.is_converged(), "{converged:?}");
    assert_eq!(web_per_instance(&w).await, [3, 3], "spread into us-east-1a");
    world::register_group_instances(w.bed.autoscaling(), w.bed.ecs(), CLUSTER, GROUP)
        .await
        .expect("the new instance registers");
    converge_seeing_zones(&w).await;

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
async fn a_drain_whose_task_ecs_spreads_onto_the_buffers_room_is_not_made() {
    // Instance 0 (us-east-1b) runs 1 web task, instance 1 (us-east-1b) 3, instance 2
    // (us-east-1a) 2; a buffer of two tasks' CPU, kept on instance 2. Packed, instance 0's task
    // fits on instance 1 and instance 0 could go; ECS would put it in us-east-1a (2 tasks
    // against 3), on the buffer's room.
    let w = World::build("cpu_buffer: 2048\n", 3, 6, Some(&[0, 1, 1, 1, 2, 2])).await;
    zone_b(&w, &[0, 1]);

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
    let converged = converge_seeing_zones(&w).await;
    assert!(converged.is_converged(), "{converged:?}");
    assert_eq!(web_per_instance(&w).await, [0, 3, 3]);
    let plan = w.plan_at(&wanted(6), time::now()).await;
    assert_eq!(launched(&plan), 1, "{:#?}", plan.decisions.headlines);
}
