//! The disruption controls and fast scale-in, planner and executor over cycles on the strict
//! test bed: ECS task scale-in protection (answered by the proxy: moto lacks it), drain
//! deadlines with each `drain_timeout_action`, a consolidation window closed then open (plans
//! made at instants the test chooses), the do-not-disrupt service tag, and six one-task instances
//! shrinking to the ideal.
//!
//! These files have no `max_drain_per_cycle`: the disruption budget (50 % by default) rules.

use std::path::Path;
use std::time::Duration;

use jiff::SignedDuration;
use shared::definition::{parse_definition, ClusterDefinition};
use shared::messages::{ActionStatus, InstanceRef, Outcome, ScalingPlan};
use shared::time::{self, Timestamp};
use testbed::scheduler;
use testbed::strict::StrictEvent;

use super::{line_about, outcome, touched, wanted, World, CLUSTER, YAML};

/// The test file with `extra` keys and the disruption budget instead of `max_drain_per_cycle`.
fn file(extra: &str) -> ClusterDefinition {
    let yaml = format!("{extra}{}", YAML.replace("max_drain_per_cycle: 1\n", ""));
    let path = Path::new("clusters").join(format!("{CLUSTER}.yml"));
    match parse_definition(CLUSTER, &path, &yaml, &|_| None) {
        Ok(def) => def,
        Err(errors) => panic!("test definition does not load:\n{errors}"),
    }
}

/// A world of `instances` with `web` tasks placed one per entry of `placement`, planned with
/// the file `extra`.
async fn world(extra: &str, instances: i32, placement: &[usize]) -> World {
    let tasks = i32::try_from(placement.len()).expect("a few tasks");
    let mut w = World::build("", instances, tasks, Some(placement)).await;
    w.def = file(extra);
    w
}

fn drained(plan: &ScalingPlan) -> Vec<String> {
    plan.actions
        .drain
        .iter()
        .map(|d| d.instance.ec2_instance_id.clone())
        .collect()
}

fn terminated(plan: &ScalingPlan) -> Vec<String> {
    plan.actions
        .terminate
        .iter()
        .map(|i| i.ec2_instance_id.clone())
        .collect()
}

/// The `web` task ARNs on container instance `arn`.
async fn tasks_on(w: &World, arn: &str) -> Vec<String> {
    let cluster = scheduler::cluster_arn(w.bed.ecs(), CLUSTER)
        .await
        .expect("cluster ARN");
    scheduler::live_tasks(w.bed.ecs(), CLUSTER, &cluster, None)
        .await
        .expect("tasks")
        .into_iter()
        .filter(|t| t.container_instance_arn.as_deref() == Some(arn))
        .map(|t| t.arn)
        .collect()
}

/// Nothing killed, nothing refused by Auto Scaling.
fn no_harm(w: &World) {
    assert_eq!(w.strict.tasks_killed(), 0, "{:#?}", w.strict.events());
    assert!(
        !w.strict
            .events()
            .iter()
            .any(|e| matches!(e, StrictEvent::Refused { .. })),
        "{:#?}",
        w.strict.events()
    );
}

/// Plans at `now`, applies, and (when `settle`) lets the scheduler move the tasks.
async fn cycle_at(w: &World, now: Timestamp, settle: bool) -> ScalingPlan {
    let tasks = u32::try_from(w.web_tasks().await).expect("a few tasks");
    let plan = w.plan_at(&wanted(tasks), now).await;
    let report = w.apply(&plan).await;
    assert!(
        !matches!(report.outcome, Outcome::Failed),
        "{report:#?}\n{:#?}",
        plan.decisions.headlines
    );
    if settle {
        w.settle().await;
    }
    plan
}

// ---------------------------------------------------------------------------------------
// Fast scale-in (issue 12, item 5)

/// Six instances with one task each (four fit on one) shrink to two; the cycle in which the
/// group is down to two instances.
async fn six_one_task_instances(extra: &str) -> usize {
    let w = world(extra, 6, &[0, 1, 2, 3, 4, 5]).await;
    let mut reached = None;
    for n in 1..=5 {
        let (plan, report) = w.cycle(&wanted(6)).await;
        assert!(
            !matches!(report.outcome, Outcome::Failed),
            "cycle {n}: {report:#?}\n{:#?}",
            plan.decisions.headlines
        );
        let (_, _, desired, members) = w.group_now().await;
        if desired == 2 && members.len() == 2 {
            reached = Some(n);
            break;
        }
    }
    no_harm(&w);
    let converged = w.bed.converge(CLUSTER).await.expect("converge");
    assert!(converged.is_converged(), "{converged:?}");
    assert_eq!(w.web_tasks().await, 6, "every task still runs");
    reached.expect("the group reaches two instances")
}

#[tokio::test]
async fn six_one_task_instances_reach_two_in_three_cycles_with_the_default_budget() {
    let cycles = six_one_task_instances("min: 2\n").await;
    assert!(cycles <= 3, "{cycles} cycles");
}

#[tokio::test]
async fn six_one_task_instances_reach_two_in_two_cycles_with_a_full_budget() {
    let cycles = six_one_task_instances("min: 2\ndisruption_budget: 100%\n").await;
    assert!(cycles <= 2, "{cycles} cycles");
}

#[tokio::test]
async fn eight_empty_instances_go_in_one_cycle_once_the_worker_is_at_zero() {
    // A worker back at 0 tasks; group min 0.
    let w = world("min: 0\n", 8, &[]).await;
    let (plan, report) = w.cycle(&wanted(0)).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    assert_eq!(drained(&plan).len(), 8, "{:#?}", plan.decisions.headlines);
    assert_eq!(terminated(&plan).len(), 8);
    let (_, _, desired, members) = w.group_now().await;
    assert_eq!((desired, members.len()), (0, 0));
    no_harm(&w);
}

// ---------------------------------------------------------------------------------------
// Task protection

#[tokio::test]
async fn an_instance_running_a_protected_task_is_never_drained() {
    // One full instance and two with one task each: consolidation empties one of the two.
    let w = world("", 3, &[0, 0, 0, 0, 1, 2]).await;
    let now = time::now();
    let calls = w.strict.attempts("GetTaskProtection");
    let unprotected = w.plan_at(&wanted(6), now).await;
    assert_eq!(
        w.strict.attempts("GetTaskProtection") - calls,
        1,
        "the candidates' 6 tasks: one call"
    );
    let first = drained(&unprotected);
    assert_eq!(first.len(), 1, "{:#?}", unprotected.decisions.headlines);
    let x = (0..3)
        .find(|&i| w.group.instances[i].instance_id == first[0])
        .expect("a drained instance of the group");
    let kept = w.instance(x);

    // Its task gets scale-in protection (a worker busy with a job), through the proxy.
    let protected = tasks_on(&w, &kept.container_instance_arn).await;
    assert_eq!(protected.len(), 1);
    aws_sdk_ecs::Client::new(w.strict.sdk_config())
        .update_task_protection()
        .cluster(CLUSTER)
        .tasks(&protected[0])
        .protection_enabled(true)
        .expires_in_minutes(600)
        .send()
        .await
        .expect("UpdateTaskProtection");

    let plan = w.plan_at(&wanted(6), now).await;
    assert!(!touched(&plan).contains(&kept.ec2_instance_id));
    let line = line_about(&plan, &kept.ec2_instance_id).expect("the instance is reported");
    assert!(
        line.contains("scale-in protection") && line.contains(&protected[0]),
        "{line}"
    );
    assert_eq!(drained(&plan).len(), 1, "the other one is drained instead");

    // Over the cycles the group still shrinks to two, around the protected task.
    for _ in 0..3 {
        let (plan, _) = w.cycle(&wanted(6)).await;
        assert!(
            !touched(&plan).contains(&kept.ec2_instance_id),
            "{:#?}",
            plan.decisions.headlines
        );
    }
    let (_, _, desired, members) = w.group_now().await;
    assert_eq!((desired, members.len()), (2, 2));
    assert!(tasks_on(&w, &kept.container_instance_arn)
        .await
        .contains(&protected[0]));
    assert_eq!(w.status(&kept.container_instance_arn).await, "ACTIVE");
    no_harm(&w);
}

// ---------------------------------------------------------------------------------------
// Do-not-disrupt

/// Tags service `web` with `ecs-autoscale:do-not-disrupt=true` (straight on moto).
async fn do_not_disrupt(w: &World) {
    let arn = w
        .bed
        .ecs()
        .describe_services()
        .cluster(CLUSTER)
        .services("web")
        .send()
        .await
        .expect("describe web")
        .services()[0]
        .service_arn()
        .expect("an ARN")
        .to_owned();
    w.bed
        .ecs()
        .tag_resource()
        .resource_arn(arn)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("ecs-autoscale:do-not-disrupt")
                .value("true")
                .build(),
        )
        .send()
        .await
        .expect("tag web");
}

#[tokio::test]
async fn the_do_not_disrupt_tag_keeps_busy_instances_but_not_from_a_lowered_max() {
    let mut w = world("", 3, &[0, 0, 0, 0, 1, 2]).await;
    let now = time::now();
    assert_eq!(drained(&w.plan_at(&wanted(6), now).await).len(), 1);
    do_not_disrupt(&w).await;
    let plan = w.plan_at(&wanted(6), now).await;
    assert!(drained(&plan).is_empty(), "{:#?}", plan.decisions.headlines);
    for i in [1, 2] {
        let line = line_about(&plan, &w.instance(i).ec2_instance_id).expect("reported");
        assert!(
            line.contains("kept: it runs tasks of") && line.contains("do-not-disrupt"),
            "{line}"
        );
    }

    // The file lowers max to 2: one instance is surplus, drained all the same, and the record
    // says so.
    w.def = file("max: 2\n");
    let plan = w.plan_at(&wanted(6), now).await;
    let surplus = drained(&plan);
    assert_eq!(surplus.len(), 1, "{:#?}", plan.decisions.headlines);
    let line = plan
        .decisions
        .headlines
        .iter()
        .find(|l| l.contains(&surplus[0]) && l.contains("surplus"))
        .unwrap_or_else(|| panic!("{:#?}", plan.decisions.headlines));
    assert!(line.contains("do-not-disrupt tasks of"), "{line}");
}

// ---------------------------------------------------------------------------------------
// Drain deadlines

/// A world whose drain gets stuck: instances of 3, 1 and 2 tasks; the one-task instance is
/// drained at `t0` and the scheduler does not move its task. Returns the world, that
/// instance's index and `t0`.
async fn stuck_drain(action: &str) -> (World, usize, Timestamp) {
    let w = world(
        &format!("drain_timeout: 900\ndrain_timeout_action: {action}\n"),
        3,
        &[0, 0, 0, 1, 2, 2],
    )
    .await;
    let t0 = time::now();
    let plan = cycle_at(&w, t0, false).await;
    let victim = w.instance(1);
    assert_eq!(
        drained(&plan),
        std::slice::from_ref(&victim.ec2_instance_id),
        "{:#?}",
        plan.decisions.headlines
    );
    assert_eq!(w.status(&victim.container_instance_arn).await, "DRAINING");
    (w, 1, t0)
}

fn after(t: Timestamp, secs: i64) -> Timestamp {
    t + SignedDuration::from_secs(secs)
}

#[tokio::test]
async fn a_drain_past_its_deadline_is_aborted_and_not_drained_again_for_the_cooldown() {
    let (w, i, t0) = stuck_drain("abort").await;
    let victim = w.instance(i);
    let its_task = tasks_on(&w, &victim.container_instance_arn).await;
    // Within the deadline nothing happens to it.
    let plan = cycle_at(&w, after(t0, 600), false).await;
    assert!(plan.actions.abort_drain.is_empty(), "{:#?}", plan.actions);
    assert!(!touched(&plan).contains(&victim.ec2_instance_id));

    // Past it: aborted, ACTIVE again with its task, the abort recorded.
    let plan = w.plan_at(&wanted(6), after(t0, 960)).await;
    assert_eq!(
        plan.actions.abort_drain,
        std::slice::from_ref(&victim),
        "{:#?}",
        plan.actions
    );
    let line = line_about(&plan, &victim.ec2_instance_id).expect("reported");
    assert!(line.contains("drain aborted"), "{line}");
    let report = w.apply(&plan).await;
    let abort = report
        .actions
        .iter()
        .find(|a| a.kind == "abort_drain")
        .expect("in the report");
    assert_eq!(abort.status, ActionStatus::Applied, "{report:#?}");
    w.settle().await;
    assert_eq!(w.status(&victim.container_instance_arn).await, "ACTIVE");
    // Its task never moved (the plan may have drained another instance onto it meanwhile).
    let now_there = tasks_on(&w, &victim.container_instance_arn).await;
    assert!(now_there.contains(&its_task[0]), "{now_there:?}");

    // The next cycles, within the cooldown (3600 s by default): not drained again.
    for secs in [1020, 1800] {
        let plan = cycle_at(&w, after(t0, secs), true).await;
        assert!(
            !touched(&plan).contains(&victim.ec2_instance_id)
                && plan.actions.abort_drain.is_empty(),
            "{:#?}",
            plan.actions
        );
        let line = line_about(&plan, &victim.ec2_instance_id).expect("reported");
        assert!(line.contains("drain was aborted"), "{line}");
    }
    no_harm(&w);
}

#[tokio::test]
async fn a_drain_past_its_deadline_is_forced_and_the_instance_terminated_once_empty() {
    let (w, i, t0) = stuck_drain("force").await;
    let victim = w.instance(i);
    let stuck = tasks_on(&w, &victim.container_instance_arn).await;
    let plan = w.plan_at(&wanted(6), after(t0, 960)).await;
    assert_eq!(plan.actions.force_drain.len(), 1, "{:#?}", plan.actions);
    assert_eq!(plan.actions.force_drain[0].instance, victim);
    assert_eq!(plan.actions.force_drain[0].tasks, stuck);
    let report = w.apply(&plan).await;
    let force = report
        .actions
        .iter()
        .find(|a| a.kind == "force_drain")
        .expect("in the report");
    assert_eq!(force.status, ActionStatus::Applied, "{report:#?}");
    assert!(
        force.detail.contains("stopped 1 service task(s)"),
        "{}",
        force.detail
    );
    // web starts its task again elsewhere.
    w.settle().await;
    assert!(tasks_on(&w, &victim.container_instance_arn)
        .await
        .is_empty());

    // The next cycle terminates it, decrementing the desired capacity.
    let plan = cycle_at(&w, after(t0, 1020), true).await;
    assert_eq!(
        terminated(&plan),
        std::slice::from_ref(&victim.ec2_instance_id)
    );
    let (_, _, desired, members) = w.group_now().await;
    assert_eq!(desired, 2);
    assert!(!members.iter().any(|(id, _)| *id == victim.ec2_instance_id));
    assert_eq!(w.web_tasks().await, 6);
    no_harm(&w);
}

#[tokio::test]
async fn a_drain_past_its_deadline_is_only_reported_with_report() {
    let (w, i, t0) = stuck_drain("report").await;
    let victim = w.instance(i);
    for secs in [960, 1560] {
        let plan = cycle_at(&w, after(t0, secs), false).await;
        assert!(
            plan.actions.abort_drain.is_empty() && plan.actions.force_drain.is_empty(),
            "{:#?}",
            plan.actions
        );
        assert!(!touched(&plan).contains(&victim.ec2_instance_id));
        let line = line_about(&plan, &victim.ec2_instance_id).expect("reported");
        assert!(line.contains("longer than the timeout of 900 s"), "{line}");
        assert_eq!(w.status(&victim.container_instance_arn).await, "DRAINING");
        assert_eq!(tasks_on(&w, &victim.container_instance_arn).await.len(), 1);
    }
    // Once its task moves, it is terminated as any empty drain.
    w.settle().await;
    let plan = cycle_at(&w, after(t0, 1620), true).await;
    assert_eq!(
        terminated(&plan),
        std::slice::from_ref(&victim.ec2_instance_id)
    );
    no_harm(&w);
}

// ---------------------------------------------------------------------------------------
// Consolidation windows

/// "HH:MM" of `t` in UTC.
fn hh_mm(t: Timestamp) -> String {
    let civil = jiff::tz::TimeZone::UTC.to_datetime(t);
    format!("{:02}:{:02}", civil.hour(), civil.minute())
}

#[tokio::test]
async fn outside_the_window_only_the_empty_instance_goes_inside_it_busy_ones_drain() {
    // A window from two to four hours from now (UTC, every day; it may cross midnight).
    let now = time::now();
    let window = format!(
        "consolidation_windows:\n  - {{start: \"{}\", end: \"{}\", timezone: UTC}}\n",
        hh_mm(after(now, 2 * 3600)),
        hh_mm(after(now, 4 * 3600))
    );
    // Instances of 3, 1, 2 and 0 tasks.
    let w = world(&window, 4, &[0, 0, 0, 1, 2, 2]).await;
    let (busy, empty) = (w.instance(1), w.instance(3));

    // Closed: the empty instance is drained and terminated in the same plan; nothing busy
    // moves, and no task protection is read.
    let calls = w.strict.attempts("GetTaskProtection");
    let plan = cycle_at(&w, now, true).await;
    assert_eq!(w.strict.attempts("GetTaskProtection"), calls);
    assert_eq!(drained(&plan), std::slice::from_ref(&empty.ec2_instance_id));
    assert_eq!(
        terminated(&plan),
        std::slice::from_ref(&empty.ec2_instance_id)
    );
    assert!(
        plan.decisions
            .headlines
            .iter()
            .any(|l| l.contains("no consolidation window is open")),
        "{:#?}",
        plan.decisions.headlines
    );
    let (_, _, desired, members) = w.group_now().await;
    assert_eq!((desired, members.len()), (3, 3));
    let plan = cycle_at(&w, after(now, 600), true).await;
    assert!(drained(&plan).is_empty(), "{:#?}", plan.decisions.headlines);
    let line = line_about(&plan, &busy.ec2_instance_id).expect("reported");
    assert!(line.contains("no consolidation window is open"), "{line}");

    // Open, three hours later: the one-task instance is drained, its task moves, and the
    // next cycle terminates it.
    let open = after(now, 3 * 3600);
    let plan = cycle_at(&w, open, true).await;
    assert_eq!(
        drained(&plan),
        std::slice::from_ref(&busy.ec2_instance_id),
        "{:#?}",
        plan.decisions.headlines
    );
    assert!(w.strict.attempts("GetTaskProtection") > calls);
    let plan = cycle_at(&w, after(open, 60), true).await;
    assert_eq!(
        terminated(&plan),
        std::slice::from_ref(&busy.ec2_instance_id)
    );
    let (_, _, desired, _) = w.group_now().await;
    assert_eq!(desired, 2);
    assert_eq!(w.web_tasks().await, 6);
    no_harm(&w);
}

#[tokio::test]
async fn a_lapsed_protection_no_longer_keeps_the_instance() {
    let w = world("", 3, &[0, 0, 0, 0, 1, 2]).await;
    let now = time::now();
    let first = drained(&w.plan_at(&wanted(6), now).await);
    let target = group_instance(&w, &first[0]);
    protect_its_task(&w, &target, 10).await;
    let plan = w.plan_at(&wanted(6), now).await;
    assert!(!drained(&plan).contains(&target.ec2_instance_id));
    // Eleven minutes later (the proxy's clock and the plan's) it has lapsed.
    w.strict.advance(Duration::from_secs(11 * 60));
    let plan = w.plan_at(&wanted(6), after(now, 11 * 60)).await;
    assert_eq!(
        drained(&plan),
        std::slice::from_ref(&target.ec2_instance_id),
        "{:#?}",
        plan.decisions.headlines
    );
}

#[tokio::test]
async fn a_task_protected_after_the_plan_keeps_its_instance_at_apply_time() {
    // One full instance and two with one task each: consolidation drains one of the two.
    let w = world("", 3, &[0, 0, 0, 0, 1, 2]).await;
    let plan = w.plan_at(&wanted(6), time::now()).await;
    let first = drained(&plan);
    assert_eq!(first.len(), 1, "{:#?}", plan.decisions.headlines);
    let target = group_instance(&w, &first[0]);

    // Between the plan and its application, its task gets scale-in protection (a worker takes
    // a job): draining it would stop the job.
    protect_its_task(&w, &target, 60).await;

    let report = w.apply(&plan).await;
    let drain = outcome(&report, "drain");
    assert_eq!(drain.status, ActionStatus::Stale, "{report:#?}");
    assert!(drain.detail.contains("protected"), "{}", drain.detail);
    assert_eq!(w.status(&target.container_instance_arn).await, "ACTIVE");
}

/// The group's instance of EC2 id `id`.
fn group_instance(w: &World, id: &str) -> InstanceRef {
    let i = (0..w.group.instances.len())
        .find(|&i| w.group.instances[i].instance_id == id)
        .unwrap_or_else(|| panic!("{id} is not an instance of the group"));
    w.instance(i)
}

/// Scale-in protection for `minutes` on the one task of `target`'s instance, through the proxy
/// (a worker busy with a job).
async fn protect_its_task(w: &World, target: &InstanceRef, minutes: i32) {
    let task = tasks_on(w, &target.container_instance_arn).await;
    assert_eq!(task.len(), 1, "{task:?}");
    aws_sdk_ecs::Client::new(w.strict.sdk_config())
        .update_task_protection()
        .cluster(CLUSTER)
        .tasks(&task[0])
        .protection_enabled(true)
        .expires_in_minutes(minutes)
        .send()
        .await
        .expect("UpdateTaskProtection");
}
