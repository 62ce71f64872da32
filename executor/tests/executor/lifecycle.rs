//! Scale-in: drain → the scheduler moves the tasks → the next plan terminates the empty
//! instances, decrementing the group's desired capacity; and back: our drain is reactivated,
//! someone else's is not. MaxSize never goes below the desired capacity.

use executor::{apply, ApplyOptions};
use shared::messages::{
    ActionStatus, DrainTarget, GroupLimits, GroupLimitsChange, InstanceRef, Outcome, PlanActions,
};
use shared::resources::Resources;
use testbed::scheduler;
use testbed::strict::StrictAws;
use testbed::{world, CallLog, TestBed};

use crate::support::*;

#[tokio::test]
async fn drain_then_terminate_empty_instances() {
    let bed = TestBed::start().await;
    // Four tasks fill an instance's CPU: web's 6 tasks land on two instances (4 and 2), the
    // other two stay empty.
    let group = build_world(&bed, 4, &[("web", 1024, 1024, 6)]).await;
    let per = scheduler::tasks_per_instance(bed.ecs(), CLUSTER)
        .await
        .expect("tasks");
    let refs: Vec<InstanceRef> = (0..4).map(|i| instance(&group, i)).collect();
    let tasks = |r: &InstanceRef| per.get(&r.container_instance_arn).copied().unwrap_or(0);
    let keep = refs
        .iter()
        .find(|r| tasks(r) == 4)
        .expect("a full instance");
    let victim = refs
        .iter()
        .find(|r| tasks(r) == 2)
        .expect("a half-full one");
    let empties: Vec<&InstanceRef> = refs.iter().filter(|r| tasks(r) == 0).collect();
    assert_eq!(empties.len(), 2, "{per:?}");
    // One empty instance is drained; the other stays, the room the victim's tasks move to.
    let (empty, spare) = (empties[0], empties[1]);

    let log = CallLog::new();
    // The drain reads the victim's task protection: through the proxy (moto has no answer).
    let (_strict, through_proxy) = counted_strict(&bed, &log).await;
    // Straight to moto for the terminations: ECS deregisters them only when the test says so.
    let clients = counted(&bed, &log).await;

    // Plan 1: web 6 → 4, drain the victim (its two tasks fit on the spare) and the empty one.
    let drain = plan(
        "p-drain",
        PlanActions {
            services: vec![service("web", 6, 4)],
            drain: vec![
                DrainTarget {
                    instance: victim.clone(),
                    tasks: 2,
                    task_sizes: vec![Resources::new(1024, 1024); 2],
                    task_needs: Vec::new(),
                },
                empty.clone().into(),
            ],
            ..Default::default()
        },
    );
    let report = apply(&through_proxy, &drain, &ApplyOptions::default())
        .await
        .expect("drain");
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    for r in [victim, empty] {
        assert_eq!(
            instance_status(&bed, &r.container_instance_arn).await,
            "DRAINING"
        );
        // Recorded as this system's drain (PutAttributes, by container instance id).
        assert!(
            drained_at(&bed, &r.container_instance_arn).await.is_some(),
            "{report:#?}"
        );
    }
    assert_eq!(drained_at(&bed, &keep.container_instance_arn).await, None);
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
    assert_eq!(group_state(&bed).await.2, 4);

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
    let (_, _, desired, mut ids) = group_state(&bed).await;
    assert_eq!(desired, 2);
    ids.sort();
    let mut kept = vec![keep.ec2_instance_id.clone(), spare.ec2_instance_id.clone()];
    kept.sort();
    assert_eq!(ids, kept);

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
        assert_eq!(group_state(&bed).await.2, 2, "{round}");
    }
}

#[tokio::test]
async fn our_drain_is_reactivated_and_forgotten_someone_elses_is_left_alone() {
    let bed = TestBed::start().await;
    let group = build_world(&bed, 3, &[]).await;
    let log = CallLog::new();
    // DeleteAttributes as AWS takes it (no value): through the strict layer.
    let strict = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    let clients = aws_clients(&fast_config(strict.endpoint()).await, &log);
    let (ours, theirs) = (instance(&group, 1), instance(&group, 2));
    let drain = plan(
        "p-drain",
        PlanActions {
            drain: vec![ours.clone().into()],
            ..Default::default()
        },
    );
    let report = apply(&clients, &drain, &ApplyOptions::default())
        .await
        .expect("drain");
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    assert!(drained_at(&bed, &ours.container_instance_arn)
        .await
        .is_some());
    // An operator drains the other one: a plain UpdateContainerInstancesState.
    world::set_container_instance_status(
        bed.ecs(),
        CLUSTER,
        std::slice::from_ref(&theirs.container_instance_arn),
        aws_sdk_ecs::types::ContainerInstanceStatus::Draining,
    )
    .await
    .expect("operator drain");

    let reactivate = plan(
        "p-reactivate",
        PlanActions {
            reactivate: vec![ours.clone(), theirs.clone()],
            terminate: vec![theirs.clone()],
            ..Default::default()
        },
    );
    log.clear();
    let report = apply(&clients, &reactivate, &ApplyOptions::default())
        .await
        .expect("reactivate");
    assert_eq!(
        statuses(&report)
            .into_iter()
            .map(|(kind, target, status)| (kind, target == theirs.ec2_instance_id, status))
            .collect::<Vec<_>>(),
        [
            ("reactivate".to_owned(), true, ActionStatus::Skipped),
            ("reactivate".to_owned(), false, ActionStatus::Applied),
            ("terminate".to_owned(), true, ActionStatus::Skipped),
        ],
        "{report:#?}"
    );
    assert_eq!(
        instance_status(&bed, &ours.container_instance_arn).await,
        "ACTIVE"
    );
    assert_eq!(
        drained_at(&bed, &ours.container_instance_arn).await,
        None,
        "the drain record is removed (DeleteAttributes)"
    );
    assert_eq!(log.count("DeleteAttributes"), 1, "{:?}", log.ops());
    assert_eq!(
        instance_status(&bed, &theirs.container_instance_arn).await,
        "DRAINING"
    );
    assert_eq!(group_state(&bed).await.3.len(), 3, "nothing terminated");

    // A replay changes nothing more.
    log.clear();
    let report = apply(&clients, &reactivate, &ApplyOptions::default())
        .await
        .expect("replay");
    assert_eq!(report.actions[0].status, ActionStatus::AlreadyApplied);
    assert!(mutating_calls(&log).is_empty(), "{:?}", log.ops());
}

#[tokio::test]
async fn a_max_below_the_desired_capacity_is_refused_unless_the_plans_terminations_bring_it_down() {
    let bed = TestBed::start().await;
    // Three tasks fit on one instance: the scheduler leaves two instances empty.
    let group = build_world(&bed, 3, &[("web", 1024, 1024, 3)]).await;
    let strict = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    let clients = aws_clients(&fast_config(strict.endpoint()).await, &CallLog::new());
    let limits = |max: u32| GroupLimitsChange {
        from: GroupLimits { min: 0, max: 10 },
        to: GroupLimits { min: 0, max },
    };

    // Whatever a plan says, MaxSize 1 at desired 3 would have Auto Scaling pick two victims.
    let lower = plan(
        "p-lower",
        PlanActions {
            group_limits: Some(limits(1)),
            ..Default::default()
        },
    );
    let report = apply(&clients, &lower, &ApplyOptions::default())
        .await
        .expect("apply");
    assert_eq!(
        report.actions[0].status,
        ActionStatus::Skipped,
        "{report:#?}"
    );
    assert!(
        report.actions[0]
            .detail
            .contains("below the desired capacity 3"),
        "{report:#?}"
    );
    assert_eq!(group_state(&bed).await.1, 10);

    // Our empty instance drained, then terminated: MaxSize 2 follows the termination.
    let per = scheduler::tasks_per_instance(bed.ecs(), CLUSTER)
        .await
        .expect("tasks");
    let empty = (0..3)
        .map(|i| instance(&group, i))
        .find(|r| !per.contains_key(&r.container_instance_arn))
        .expect("an empty instance");
    let drain = plan(
        "p-drain",
        PlanActions {
            drain: vec![empty.clone().into()],
            ..Default::default()
        },
    );
    apply(&clients, &drain, &ApplyOptions::default())
        .await
        .expect("drain");
    let shrink = plan(
        "p-shrink",
        PlanActions {
            group_limits: Some(limits(2)),
            terminate: vec![empty.clone()],
            ..Default::default()
        },
    );
    let report = apply(&clients, &shrink, &ApplyOptions::default())
        .await
        .expect("apply");
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    let kinds: Vec<&str> = report.actions.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["terminate", "group_limits"]);
    let (_, max, desired, _) = group_state(&bed).await;
    assert_eq!((max, desired), (2, 2));
    assert_eq!(strict.tasks_killed(), 0, "{:?}", strict.events());
}

/// A task definition `family` of one 256 CPU / 256 MiB container binding host port 80.
async fn port_80_task_definition(bed: &TestBed, family: &str) -> String {
    use aws_sdk_ecs::types::{ContainerDefinition, PortMapping};
    let container = ContainerDefinition::builder()
        .name("app")
        .image(world::CONTAINER_IMAGE)
        .cpu(256)
        .memory(256)
        .essential(true)
        .port_mappings(
            PortMapping::builder()
                .container_port(80)
                .host_port(80)
                .build(),
        )
        .build();
    let out = bed
        .ecs()
        .register_task_definition()
        .family(family)
        .container_definitions(container)
        .send()
        .await
        .expect("register task definition");
    out.task_definition()
        .and_then(|td| td.task_definition_arn())
        .expect("an ARN")
        .to_owned()
}

#[tokio::test]
async fn a_drain_whose_host_port_task_would_no_longer_fit_elsewhere_is_stale() {
    use shared::placement::Needs;
    use shared::state::HostPort;

    let bed = TestBed::start().await;
    let group = build_world(&bed, 2, &[]).await;
    let (victim, other) = (instance(&group, 0), instance(&group, 1));
    let web = port_80_task_definition(&bed, "web-80").await;
    world::create_service(bed.ecs(), CLUSTER, "web", &web, 1)
        .await
        .expect("web");
    world::start_tasks(
        bed.ecs(),
        CLUSTER,
        "web",
        &web,
        std::slice::from_ref(&victim.container_instance_arn),
    )
    .await
    .expect("web's task on the victim");
    // The plan, made when the other instance was free: the victim's task (port 80) moves there.
    let drain = plan(
        "p-ports",
        PlanActions {
            drain: vec![DrainTarget {
                instance: victim.clone(),
                tasks: 1,
                task_sizes: vec![Resources::new(256, 256)],
                task_needs: vec![Needs {
                    ports: vec![HostPort::tcp(80)],
                    ..Needs::default()
                }],
            }],
            ..Default::default()
        },
    );
    // Since then, another service's task binds port 80 there: CPU and memory would still fit,
    // the port does not.
    let api = port_80_task_definition(&bed, "api-80").await;
    world::start_tasks(
        bed.ecs(),
        CLUSTER,
        "api",
        &api,
        std::slice::from_ref(&other.container_instance_arn),
    )
    .await
    .expect("api's task on the other instance");

    let log = CallLog::new();
    let (_strict, clients) = counted_strict(&bed, &log).await;
    let report = apply(&clients, &drain, &ApplyOptions::default())
        .await
        .expect("apply");
    assert_eq!(report.outcome, Outcome::Stale, "{report:#?}");
    assert!(
        report.actions[0].detail.contains("no longer fit elsewhere")
            && report.actions[0].detail.contains("host port 80/tcp"),
        "{report:#?}"
    );
    assert_eq!(
        instance_status(&bed, &victim.container_instance_arn).await,
        "ACTIVE"
    );
    assert!(mutating_calls(&log).is_empty(), "{:?}", log.ops());
}
