//! Scale-in: drain → the scheduler moves the tasks → the next plan terminates the empty
//! instances, decrementing the group's desired capacity.

use executor::{apply, ApplyOptions};
use shared::messages::{ActionStatus, InstanceRef, Outcome, PlanActions};
use testbed::scheduler;
use testbed::{world, CallLog, TestBed};

use crate::support::*;

#[tokio::test]
async fn drain_then_terminate_empty_instances() {
    let bed = TestBed::start().await;
    // Two tasks fill an instance's CPU: web's 4 tasks land on two instances, one stays empty.
    let group = build_world(&bed, 3, &[("web", 2048, 1024, 4)]).await;
    let per = scheduler::tasks_per_instance(bed.ecs(), CLUSTER)
        .await
        .expect("tasks");
    let refs: Vec<InstanceRef> = (0..3).map(|i| instance(&group, i)).collect();
    let with_tasks: Vec<&InstanceRef> = refs
        .iter()
        .filter(|r| per.get(&r.container_instance_arn).copied().unwrap_or(0) > 0)
        .collect();
    let empty = refs
        .iter()
        .find(|r| !per.contains_key(&r.container_instance_arn))
        .expect("an empty instance");
    assert_eq!(with_tasks.len(), 2, "{per:?}");
    let (keep, victim) = (with_tasks[0], with_tasks[1]);

    let log = CallLog::new();
    let clients = counted(&bed, &log).await;

    // Plan 1: web 4 → 2, drain the victim and the empty instance.
    let drain = plan(
        "p-drain",
        PlanActions {
            services: vec![service("web", 4, 2)],
            drain: vec![victim.clone(), empty.clone()],
            ..Default::default()
        },
    );
    let report = apply(&clients, &drain, &ApplyOptions::default())
        .await
        .expect("drain");
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    for r in [victim, empty] {
        assert_eq!(
            instance_status(&bed, &r.container_instance_arn).await,
            "DRAINING"
        );
    }
    assert_eq!(
        instance_status(&bed, &keep.container_instance_arn).await,
        "ACTIVE"
    );

    // Terminating the victim before its tasks moved: refused, nothing terminated.
    let early = plan(
        "p-early",
        PlanActions {
            terminate: vec![victim.clone()],
            ..Default::default()
        },
    );
    let report = apply(&clients, &early, &ApplyOptions::default())
        .await
        .expect("early");
    assert_eq!(report.outcome, Outcome::Stale, "{report:#?}");
    assert!(
        report.actions[0]
            .detail
            .contains("running or pending tasks"),
        "{report:#?}"
    );
    assert_eq!(log.count("TerminateInstanceInAutoScalingGroup"), 0);
    assert_eq!(group_state(&bed).await.2, 3);

    // The scheduler moves the tasks off DRAINING instances (and scales web in).
    let converged = bed.converge(CLUSTER).await.expect("converge");
    assert!(converged.is_converged(), "{converged:?}");
    let per = scheduler::tasks_per_instance(bed.ecs(), CLUSTER)
        .await
        .expect("tasks");
    assert_eq!(per.get(&victim.container_instance_arn), None, "{per:?}");

    // Plan 2: terminate both empty DRAINING instances.
    let terminate = plan(
        "p-terminate",
        PlanActions {
            terminate: vec![victim.clone(), empty.clone()],
            ..Default::default()
        },
    );
    log.clear();
    let report = apply(&clients, &terminate, &ApplyOptions::default())
        .await
        .expect("terminate");
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    assert!(all(&report, ActionStatus::Applied), "{report:#?}");
    assert_eq!(log.count("TerminateInstanceInAutoScalingGroup"), 2);
    let (_, _, desired, ids) = group_state(&bed).await;
    assert_eq!(desired, 1);
    assert_eq!(ids, vec![keep.ec2_instance_id.clone()]);

    // Terminating already-terminated instances is a no-op, before and after ECS deregisters them.
    for round in ["replay", "after deregistration"] {
        if round == "after deregistration" {
            let gone = world::deregister_departed_instances(bed.autoscaling(), bed.ecs(), CLUSTER)
                .await
                .expect("deregister");
            assert_eq!(gone.len(), 2);
        }
        log.clear();
        let report = apply(&clients, &terminate, &ApplyOptions::default())
            .await
            .expect("replay");
        assert_eq!(report.outcome, Outcome::Applied, "{round}: {report:#?}");
        assert!(
            all(&report, ActionStatus::AlreadyApplied),
            "{round}: {report:#?}"
        );
        assert!(mutating_calls(&log).is_empty(), "{round}: {:?}", log.ops());
        assert_eq!(group_state(&bed).await.2, 1, "{round}");
    }
}
