//! Drains past their deadline and fast scale-in, on the strict test bed: `abort_drain` sets our
//! stuck drain ACTIVE and records it, `force_drain` stops only the tasks of services and the
//! instance is terminated once empty, and an empty instance drained and terminated in one plan
//! is terminated only if it is still empty after its drain.

use aws_sdk_ecs::types::ContainerInstanceStatus;
use executor::{apply, ApplyOptions};
use shared::messages::{
    ActionStatus, ExecutionReport, ForceDrain, InstanceRef, Outcome, PlanActions,
};
use testbed::strict::StrictAws;
use testbed::{scheduler, world, CallLog, TestBed};

use crate::support::*;

/// The strict proxy in front of the bed, and the executor's clients through it, counted.
async fn strict_clients(bed: &TestBed, log: &CallLog) -> (StrictAws, shared::aws::AwsClients) {
    let strict = StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    let clients = aws_clients(&fast_config(strict.endpoint()).await, log);
    (strict, clients)
}

/// The only report line of `kind`.
fn action<'r>(report: &'r ExecutionReport, kind: &str) -> &'r shared::messages::ActionOutcome {
    let mut of_kind = report.actions.iter().filter(|a| a.kind == kind);
    let a = of_kind
        .next()
        .unwrap_or_else(|| panic!("no {kind}: {report:#?}"));
    assert!(of_kind.next().is_none(), "one {kind}: {report:#?}");
    a
}

/// The instance of the group running `n` tasks (the first such).
async fn with_tasks(bed: &TestBed, group: &world::Group, n: usize) -> usize {
    let per = scheduler::tasks_per_instance(bed.ecs(), CLUSTER)
        .await
        .expect("tasks per instance");
    (0..group.instances.len())
        .find(|&i| {
            per.get(&group.instances[i].container_instance_arn)
                .copied()
                .unwrap_or(0)
                == n
        })
        .unwrap_or_else(|| panic!("no instance with {n} task(s): {per:?}"))
}

/// This system's abort record on a container instance, as the planner reads it.
async fn drain_aborted_at(bed: &TestBed, arn: &str) -> Option<u64> {
    let out = bed
        .ecs()
        .describe_container_instances()
        .cluster(CLUSTER)
        .container_instances(arn)
        .send()
        .await
        .expect("describe container instances");
    let ci = out.container_instances().first()?;
    shared::aws::state::container_instance(ci)
        .expect("a container instance")
        .drain_aborted_at_epoch_secs
}

/// Status of a task (`RUNNING`, `STOPPED`).
async fn task_status(bed: &TestBed, arn: &str) -> String {
    let out = bed
        .ecs()
        .describe_tasks()
        .cluster(CLUSTER)
        .tasks(arn)
        .send()
        .await
        .expect("describe tasks");
    out.tasks()
        .first()
        .and_then(|t| t.last_status())
        .unwrap_or("MISSING")
        .to_owned()
}

async fn drain_with_the_executor(
    bed: &TestBed,
    clients: &shared::aws::AwsClients,
    group: &world::Group,
    i: usize,
) {
    let drain = plan(
        &format!("p-drain-{i}"),
        PlanActions {
            drain: vec![drain_of(bed, group, i).await],
            ..Default::default()
        },
    );
    let report = apply(clients, &drain, &ApplyOptions::default())
        .await
        .expect("drain");
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
}

#[tokio::test]
async fn abort_sets_our_stuck_drain_active_and_records_it_once() {
    let bed = TestBed::start().await;
    // Two tasks on one instance (the scheduler fills the first one first), the other empty.
    let group = build_world(&bed, 2, &[("web", 1024, 1024, 2)]).await;
    let log = CallLog::new();
    let (_strict, clients) = strict_clients(&bed, &log).await;
    let busy = with_tasks(&bed, &group, 2).await;
    let stuck = instance(&group, busy);
    let other = instance(&group, 1 - busy);
    drain_with_the_executor(&bed, &clients, &group, busy).await;
    // The scheduler never moves the tasks: the drain is stuck past its deadline.

    let abort = plan(
        "p-abort",
        PlanActions {
            abort_drain: vec![stuck.clone()],
            ..Default::default()
        },
    );
    let before = shared::time::to_seconds(shared::time::now()).as_second();
    log.clear();
    let report = apply(&clients, &abort, &ApplyOptions::default())
        .await
        .expect("abort");
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    let a = action(&report, "abort_drain");
    assert_eq!(a.status, ActionStatus::Applied, "{report:#?}");
    assert!(
        a.detail.contains("ecs-autoscale.drain-aborted-at="),
        "{}",
        a.detail
    );
    assert_eq!(
        instance_status(&bed, &stuck.container_instance_arn).await,
        "ACTIVE"
    );
    assert_eq!(drained_at(&bed, &stuck.container_instance_arn).await, None);
    let at = drain_aborted_at(&bed, &stuck.container_instance_arn)
        .await
        .expect("the abort is recorded");
    assert!(u64::try_from(before).unwrap_or(0) <= at, "{at} vs {before}");
    assert_eq!(
        mutating_calls(&log),
        [
            "PutAttributes",
            "UpdateContainerInstancesState",
            "DeleteAttributes"
        ]
    );
    assert_eq!(
        scheduler::service_tasks(bed.ecs(), CLUSTER, "web")
            .await
            .unwrap()
            .len(),
        2
    );

    // Replayed: already applied, nothing called.
    log.clear();
    let report = apply(&clients, &abort, &ApplyOptions::default())
        .await
        .expect("replay");
    assert_eq!(
        action(&report, "abort_drain").status,
        ActionStatus::AlreadyApplied,
        "{report:#?}"
    );
    assert!(mutating_calls(&log).is_empty(), "{:?}", log.ops());

    // Someone else's drain is left to its owner.
    world::set_container_instance_status(
        bed.ecs(),
        CLUSTER,
        std::slice::from_ref(&other.container_instance_arn),
        ContainerInstanceStatus::Draining,
    )
    .await
    .expect("operator drain");
    let theirs = plan(
        "p-abort-theirs",
        PlanActions {
            abort_drain: vec![other.clone()],
            ..Default::default()
        },
    );
    let report = apply(&clients, &theirs, &ApplyOptions::default())
        .await
        .expect("theirs");
    assert_eq!(action(&report, "abort_drain").status, ActionStatus::Skipped);
    assert_eq!(
        instance_status(&bed, &other.container_instance_arn).await,
        "DRAINING"
    );
    assert_eq!(
        drain_aborted_at(&bed, &other.container_instance_arn).await,
        None
    );
}

#[tokio::test]
async fn an_abort_whose_drain_finished_meanwhile_is_stale() {
    let bed = TestBed::start().await;
    let group = build_world(&bed, 2, &[("web", 1024, 1024, 2)]).await;
    let log = CallLog::new();
    let (_strict, clients) = strict_clients(&bed, &log).await;
    let busy = with_tasks(&bed, &group, 2).await;
    let drained = instance(&group, busy);
    drain_with_the_executor(&bed, &clients, &group, busy).await;
    // The tasks move after the plan was made, before it is applied.
    let converged = bed.converge(CLUSTER).await.expect("converge");
    assert!(converged.is_converged(), "{converged:?}");

    let abort = plan(
        "p-abort-late",
        PlanActions {
            abort_drain: vec![drained.clone()],
            ..Default::default()
        },
    );
    log.clear();
    let report = apply(&clients, &abort, &ApplyOptions::default())
        .await
        .expect("abort");
    assert_eq!(report.outcome, Outcome::Stale, "{report:#?}");
    assert!(
        action(&report, "abort_drain")
            .detail
            .contains("terminated instead"),
        "{report:#?}"
    );
    assert!(mutating_calls(&log).is_empty(), "{:?}", log.ops());
    assert_eq!(
        instance_status(&bed, &drained.container_instance_arn).await,
        "DRAINING"
    );
    assert!(drained_at(&bed, &drained.container_instance_arn)
        .await
        .is_some());
}

#[tokio::test]
async fn force_stops_only_service_tasks_and_the_instance_goes_once_empty() {
    let bed = TestBed::start().await;
    let group = build_world(&bed, 2, &[("web", 1024, 1024, 2)]).await;
    let log = CallLog::new();
    let (strict, clients) = strict_clients(&bed, &log).await;
    let busy = with_tasks(&bed, &group, 2).await;
    let stuck = instance(&group, busy);
    // A standalone task (RunTask/StartTask without a service) on the same instance.
    let batch_td = world::register_task_definition(bed.ecs(), "batch", 256, 256)
        .await
        .expect("batch definition");
    let out = bed
        .ecs()
        .start_task()
        .cluster(CLUSTER)
        .task_definition(&batch_td)
        .container_instances(&stuck.container_instance_arn)
        .started_by("nightly")
        .send()
        .await
        .expect("standalone task");
    let batch = out.tasks()[0].task_arn().expect("an ARN").to_owned();
    let cluster_arn = scheduler::cluster_arn(bed.ecs(), CLUSTER).await.unwrap();
    let web: Vec<String> = scheduler::live_tasks(bed.ecs(), CLUSTER, &cluster_arn, None)
        .await
        .expect("tasks")
        .into_iter()
        .filter(|t| t.group == "service:web")
        .map(|t| t.arn)
        .collect();
    assert_eq!(web.len(), 2);
    drain_with_the_executor(&bed, &clients, &group, busy).await;

    // The plan names the standalone task too: the executor still never stops it.
    let force = plan(
        "p-force",
        PlanActions {
            force_drain: vec![ForceDrain {
                instance: stuck.clone(),
                tasks: web.iter().cloned().chain([batch.clone()]).collect(),
            }],
            ..Default::default()
        },
    );
    log.clear();
    let report = apply(&clients, &force, &ApplyOptions::default())
        .await
        .expect("force");
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    let a = action(&report, "force_drain");
    assert_eq!(a.status, ActionStatus::Applied);
    assert!(
        a.detail.contains("stopped 2 service task(s)")
            && a.detail.contains("1 standalone task(s) left running"),
        "{}",
        a.detail
    );
    assert_eq!(log.count("StopTask"), 2);
    for t in &web {
        assert_eq!(task_status(&bed, t).await, "STOPPED");
    }
    assert_eq!(task_status(&bed, &batch).await, "RUNNING");

    // Replayed: nothing left to stop.
    log.clear();
    let report = apply(&clients, &force, &ApplyOptions::default())
        .await
        .expect("replay");
    assert_eq!(
        action(&report, "force_drain").status,
        ActionStatus::AlreadyApplied,
        "{report:#?}"
    );
    assert!(mutating_calls(&log).is_empty(), "{:?}", log.ops());

    // Not terminated while the standalone task runs; once it ends, terminated with the
    // desired capacity decremented, no task killed.
    let terminate = plan(
        "p-terminate",
        PlanActions {
            terminate: vec![stuck.clone()],
            ..Default::default()
        },
    );
    let report = apply(&clients, &terminate, &ApplyOptions::default())
        .await
        .expect("terminate early");
    assert_eq!(action(&report, "terminate").status, ActionStatus::Stale);
    assert_eq!(group_state(&bed).await.2, 2);
    bed.ecs()
        .stop_task()
        .cluster(CLUSTER)
        .task(&batch)
        .send()
        .await
        .expect("the batch ends");
    let report = apply(&clients, &terminate, &ApplyOptions::default())
        .await
        .expect("terminate");
    assert_eq!(
        action(&report, "terminate").status,
        ActionStatus::Applied,
        "{report:#?}"
    );
    let (_, _, desired, ids) = group_state(&bed).await;
    assert_eq!(desired, 1);
    assert!(!ids.contains(&stuck.ec2_instance_id));
    assert_eq!(strict.tasks_killed(), 0, "{:#?}", strict.events());

    // A force on someone else's drain is left to its owner.
    let other = instance(&group, 1 - busy);
    world::set_container_instance_status(
        bed.ecs(),
        CLUSTER,
        std::slice::from_ref(&other.container_instance_arn),
        ContainerInstanceStatus::Draining,
    )
    .await
    .expect("operator drain");
    let theirs = plan(
        "p-force-theirs",
        PlanActions {
            force_drain: vec![ForceDrain {
                instance: other,
                tasks: web.clone(),
            }],
            ..Default::default()
        },
    );
    log.clear();
    let report = apply(&clients, &theirs, &ApplyOptions::default())
        .await
        .expect("theirs");
    assert_eq!(action(&report, "force_drain").status, ActionStatus::Skipped);
    assert_eq!(log.count("StopTask"), 0);
}

#[tokio::test]
async fn an_empty_instance_drained_and_terminated_in_one_plan_goes_only_if_still_empty() {
    let bed = TestBed::start().await;
    // web's two tasks on one instance; two empty instances.
    let group = build_world(&bed, 3, &[("web", 1024, 1024, 2)]).await;
    let log = CallLog::new();
    let (strict, clients) = strict_clients(&bed, &log).await;
    let busy = with_tasks(&bed, &group, 2).await;
    let empties: Vec<InstanceRef> = (0..3)
        .filter(|&i| i != busy)
        .map(|i| instance(&group, i))
        .collect();
    let (goes, taken) = (empties[0].clone(), empties[1].clone());
    let both = plan(
        "p-fast",
        PlanActions {
            drain: empties.iter().cloned().map(Into::into).collect(),
            terminate: empties.clone(),
            ..Default::default()
        },
    );

    // A dry run says it would drain and terminate both, and changes nothing.
    let mut dry = both.clone();
    dry.dry_run = true;
    log.clear();
    let report = apply(
        &clients,
        &dry,
        &ApplyOptions {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .expect("dry run");
    assert_eq!(report.actions.len(), 4, "{report:#?}");
    for a in &report.actions {
        assert_eq!(a.status, ActionStatus::Skipped, "{a:?}");
        assert!(
            a.detail.starts_with("would ") && !a.detail.contains("stale"),
            "{a:?}"
        );
    }
    assert!(mutating_calls(&log).is_empty(), "{:?}", log.ops());

    // ECS places a task on one of them just before the drain reaches it.
    {
        let ecs = bed.ecs().clone();
        let on = taken.container_instance_arn.clone();
        strict.before_next("UpdateContainerInstancesState", move || async move {
            world::start_service_tasks(&ecs, CLUSTER, "web", &[on])
                .await
                .expect("a task placed before the drain");
        });
    }
    log.clear();
    let report = apply(&clients, &both, &ApplyOptions::default())
        .await
        .expect("apply");
    let terminations: Vec<(String, ActionStatus)> = report
        .actions
        .iter()
        .filter(|a| a.kind == "terminate")
        .map(|a| (a.target.clone(), a.status.clone()))
        .collect();
    assert_eq!(
        terminations,
        [
            (goes.ec2_instance_id.clone(), ActionStatus::Applied),
            (taken.ec2_instance_id.clone(), ActionStatus::Stale),
        ],
        "{report:#?}"
    );
    // Re-read after the drain: one more DescribeContainerInstances than the live read.
    assert_eq!(
        log.count("DescribeContainerInstances"),
        2,
        "{:?}",
        log.ops()
    );
    let (_, _, desired, ids) = group_state(&bed).await;
    assert_eq!(desired, 2);
    assert!(!ids.contains(&goes.ec2_instance_id) && ids.contains(&taken.ec2_instance_id));
    assert_eq!(
        instance_status(&bed, &taken.container_instance_arn).await,
        "DRAINING"
    );
    assert_eq!(strict.tasks_killed(), 0, "{:#?}", strict.events());
    assert_eq!(
        scheduler::service_tasks(bed.ecs(), CLUSTER, "web")
            .await
            .unwrap()
            .len(),
        3
    );
}
