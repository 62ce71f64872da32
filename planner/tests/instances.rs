//! Instances are never harmed: the planner and the executor end to end, over several cycles,
//! against the strict test bed (`testbed::strict`: Auto Scaling refuses what AWS refuses,
//! instances it terminates die with their tasks, lifecycle states show on the wire).
//!
//! Each cycle reads the cluster through the proxy, plans with the pure core, applies the plan
//! with the executor, then lets the world move on: the ECS agent registers new instances and
//! the test bed's scheduler converges the services (moving tasks off DRAINING instances).
//!
//! `disruption`: the disruption controls and fast scale-in over cycles (task protection, drain
//! deadlines, consolidation windows, budgets). `placement`: host ports, Fargate, daemons and
//! `memberOf` against the test bed's scheduler. `launch`: the new instance's size from the
//! group's mixed instances policy, and an ECS capacity provider on the group. `zones`: spread
//! over availability zones against the test bed's scheduler.
//!
//! One test binary, so one moto server; `TestBed::start` serialises the tests.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use aws_sdk_ecs::types::ContainerInstanceStatus;
use executor::{apply, ApplyOptions};
use jiff::SignedDuration;
use shared::aws::AwsClients;
use shared::definition::{parse_definition, ClusterDefinition};
use shared::messages::{
    ActionStatus, CountChange, ExecutionReport, InstanceRef, Outcome, PlanActions, ScalingPlan,
    ServiceMetrics, SCHEMA_VERSION,
};
use shared::time::{self, Timestamp};
use testbed::strict::{StrictAws, StrictEvent};
use testbed::world::{self, Group, GroupSpec};
use testbed::{scheduler, TestBed};

#[path = "instances/disruption.rs"]
mod disruption;
#[path = "instances/launch.rs"]
mod launch;
#[path = "instances/placement.rs"]
mod placement;
#[path = "instances/zones.rs"]
mod zones;

const CLUSTER: &str = "prod";
const GROUP: &str = "prod-asg";

/// `web` tracks `q` with target 1: `q` is the number of tasks wanted. Tasks are 1024 CPU /
/// 1536 MiB, four to an instance of the test bed (4096 CPU / 7482 MiB).
const YAML: &str = "\
autoscale_group: prod-asg
max_drain_per_cycle: 1
services:
  web:
    min: 0
    max: 40
    metric_sources:
      cloudwatch:
        - metric_name: Wanted
          namespace: Test
          statistics:
            - name: Maximum
              alias: q
    target_tracking:
      metric: q
      target: 1
    scale_down_cooldown: 0
";

const TASK_CPU: i32 = 1024;
const TASK_MEMORY: i32 = 1536;

fn definition(extra: &str) -> ClusterDefinition {
    let yaml = format!("{extra}{YAML}");
    let file = Path::new("clusters").join(format!("{CLUSTER}.yml"));
    match parse_definition(CLUSTER, &file, &yaml, &|_| None) {
        Ok(def) => def,
        Err(errors) => panic!("test definition does not load:\n{errors}"),
    }
}

/// `web` wants `n` tasks.
fn wanted(n: u32) -> BTreeMap<String, ServiceMetrics> {
    let mut m = ServiceMetrics::default();
    m.set_value("q", f64::from(n));
    BTreeMap::from([("web".to_owned(), m)])
}

/// A cluster on the strict test bed, with the planner's and the executor's clients through the
/// proxy and the harness's straight to moto.
struct World {
    bed: TestBed,
    strict: StrictAws,
    clients: AwsClients,
    def: ClusterDefinition,
    cache: planner::state_reader::TaskDefinitionCache,
    group: Group,
    /// EC2 instances the ECS agent never registers (broken agent, wrong cluster).
    never_register: HashSet<String>,
}

impl World {
    /// Cluster `prod`, group `prod-asg` of `instances` (min 0, max 10), service `web` with
    /// `tasks` desired; each entry of `placement` starts one `web` task on that instance
    /// (index into the group), or the scheduler places them when `placement` is `None`.
    async fn build(
        extra_yaml: &str,
        instances: i32,
        tasks: i32,
        placement: Option<&[usize]>,
    ) -> World {
        World::build_in(
            &[world::AVAILABILITY_ZONE],
            extra_yaml,
            instances,
            tasks,
            placement,
        )
        .await
    }

    /// [`World::build`] with the group over `zones`, its instances put in them as Auto Scaling
    /// does (`StrictAws::balance_zones`; a test pins one with `set_availability_zone`).
    async fn build_in(
        zones: &[&str],
        extra_yaml: &str,
        instances: i32,
        tasks: i32,
        placement: Option<&[usize]>,
    ) -> World {
        let bed = TestBed::start().await;
        let strict = StrictAws::start(bed.endpoint())
            .await
            .expect("strict proxy");
        strict.balance_zones(GROUP);
        let (ecs, asg) = (bed.ecs(), bed.autoscaling());
        world::create_cluster(ecs, CLUSTER).await.expect("cluster");
        let spec = GroupSpec::new(GROUP, instances).zones(zones);
        let group = world::create_group(asg, ecs, CLUSTER, &spec)
            .await
            .expect("group");
        let td = world::register_task_definition(ecs, "web", TASK_CPU, TASK_MEMORY)
            .await
            .expect("task definition");
        world::create_service(ecs, CLUSTER, "web", &td, tasks)
            .await
            .expect("service");
        match placement {
            Some(on) => {
                let arns: Vec<String> = on
                    .iter()
                    .map(|&i| group.instances[i].container_instance_arn.clone())
                    .collect();
                world::start_service_tasks(ecs, CLUSTER, "web", &arns)
                    .await
                    .expect("tasks");
            }
            None => {
                let report = bed.converge(CLUSTER).await.expect("converge");
                assert!(report.is_converged(), "{report:?}");
            }
        }
        let clients = AwsClients::new(strict.sdk_config());
        World {
            bed,
            strict,
            clients,
            def: definition(extra_yaml),
            cache: planner::state_reader::TaskDefinitionCache::new(),
            group,
            never_register: HashSet::new(),
        }
    }

    fn instance(&self, i: usize) -> InstanceRef {
        InstanceRef {
            container_instance_arn: self.group.instances[i].container_instance_arn.clone(),
            ec2_instance_id: self.group.instances[i].instance_id.clone(),
        }
    }

    /// The group's instances (indices) in the order of how many `web` tasks they run, fewest first.
    async fn by_tasks(&self) -> Vec<(usize, usize)> {
        let per = scheduler::tasks_per_instance(self.bed.ecs(), CLUSTER)
            .await
            .expect("tasks per instance");
        let mut v: Vec<(usize, usize)> = (0..self.group.instances.len())
            .map(|i| {
                let n = per
                    .get(&self.group.instances[i].container_instance_arn)
                    .copied()
                    .unwrap_or(0);
                (i, n)
            })
            .collect();
        v.sort_by_key(|&(i, n)| (n, i));
        v
    }

    /// What the planner decides now, from the state read through the proxy.
    async fn plan_at(
        &self,
        metrics: &BTreeMap<String, ServiceMetrics>,
        now: Timestamp,
    ) -> ScalingPlan {
        let read = planner::state_reader::read_cluster_state_at(
            &self.clients,
            &self.def,
            &self.cache,
            now,
        )
        .await
        .expect("read the cluster");
        planner::plan(&self.def, metrics, &read.state, now)
    }

    async fn apply(&self, plan: &ScalingPlan) -> ExecutionReport {
        apply(&self.clients, plan, &options(&self.def))
            .await
            .expect("apply")
    }

    /// The world moves on: the ECS agent registers new instances (except those that never do),
    /// the scheduler converges.
    async fn settle(&self) {
        let (ecs, asg) = (self.bed.ecs(), self.bed.autoscaling());
        let known: HashSet<String> = world::registered_instances(ecs, CLUSTER)
            .await
            .expect("registered")
            .into_iter()
            .map(|r| r.instance_id)
            .collect();
        for id in world::group_instance_ids(asg, GROUP).await.expect("ids") {
            if !known.contains(&id) && !self.never_register.contains(&id) {
                world::register_container_instance(ecs, CLUSTER, &id)
                    .await
                    .expect("register");
            }
        }
        self.bed.converge(CLUSTER).await.expect("converge");
    }

    /// The test bed's scheduler places tasks as ECS would, seeing the cluster through the proxy
    /// (zones, constraints, network modes, GPUs as AWS shows them) with EC2's ENI counts.
    async fn converge_as_ecs(&self) -> scheduler::ConvergeReport {
        let through_proxy = aws_sdk_ecs::Client::new(self.strict.sdk_config());
        scheduler::converge_with_enis(&through_proxy, Some(&self.bed.clients().ec2), CLUSTER)
            .await
            .expect("converge")
    }

    /// One cycle: plan now, apply, settle.
    async fn cycle(
        &self,
        metrics: &BTreeMap<String, ServiceMetrics>,
    ) -> (ScalingPlan, ExecutionReport) {
        let plan = self.plan_at(metrics, time::now()).await;
        let report = self.apply(&plan).await;
        self.settle().await;
        (plan, report)
    }

    /// (min, max, desired) of the group, and its instances with their lifecycle states, as
    /// moto has them.
    async fn group_now(&self) -> (i32, i32, i32, Vec<(String, String)>) {
        let out = self
            .bed
            .autoscaling()
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(GROUP)
            .send()
            .await
            .expect("describe group");
        let g = &out.auto_scaling_groups()[0];
        let members = g
            .instances()
            .iter()
            .map(|i| {
                (
                    i.instance_id().unwrap_or_default().to_owned(),
                    i.lifecycle_state()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                )
            })
            .collect();
        (
            g.min_size().unwrap_or(-1),
            g.max_size().unwrap_or(-1),
            g.desired_capacity().unwrap_or(-1),
            members,
        )
    }

    async fn status(&self, arn: &str) -> String {
        let out = self
            .bed
            .ecs()
            .describe_container_instances()
            .cluster(CLUSTER)
            .container_instances(arn)
            .send()
            .await
            .expect("describe container instance");
        out.container_instances()
            .first()
            .and_then(|ci| ci.status())
            .unwrap_or("MISSING")
            .to_owned()
    }

    async fn web_tasks(&self) -> usize {
        scheduler::service_tasks(self.bed.ecs(), CLUSTER, "web")
            .await
            .expect("web tasks")
            .len()
    }

    /// An operator's maintenance drain: a plain UpdateContainerInstancesState.
    async fn operator_drain(&self, i: usize) {
        world::set_container_instance_status(
            self.bed.ecs(),
            CLUSTER,
            &[self.group.instances[i].container_instance_arn.clone()],
            ContainerInstanceStatus::Draining,
        )
        .await
        .expect("operator drain");
    }
}

/// The outcome of the report's `kind` action (the first one).
fn outcome<'a>(report: &'a ExecutionReport, kind: &str) -> &'a shared::messages::ActionOutcome {
    report
        .actions
        .iter()
        .find(|a| a.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} outcome: {report:#?}"))
}

/// The executor's options for this cluster (the handler takes them from the cluster file).
fn options(def: &ClusterDefinition) -> ApplyOptions {
    ApplyOptions {
        buffer: shared::resources::Resources::new(def.cpu_buffer, def.mem_buffer),
        ..ApplyOptions::default()
    }
}

/// Every instance an action of the plan names.
fn touched(plan: &ScalingPlan) -> Vec<String> {
    let a = &plan.actions;
    a.reactivate
        .iter()
        .chain(&a.terminate)
        .map(|i| i.ec2_instance_id.clone())
        .chain(a.drain.iter().map(|d| d.instance.ec2_instance_id.clone()))
        .collect()
}

/// Instances the plan launches (its raise of the group's desired capacity).
fn launched(plan: &ScalingPlan) -> i64 {
    plan.actions
        .group_desired
        .as_ref()
        .map_or(0, |c| i64::from(c.to) - i64::from(c.from))
}

/// The decision record's line about an instance.
fn line_about(plan: &ScalingPlan, ec2_instance_id: &str) -> Option<String> {
    plan.decisions
        .headlines
        .iter()
        .find(|l| l.starts_with(&format!("instance {ec2_instance_id} ")))
        .cloned()
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn lowering_max_below_the_busy_group_kills_no_task_and_reaches_the_files_max() {
    // Four instances, one task on each; the file asks for min 2, max 2.
    let w = World::build("min: 2\nmax: 2\n", 4, 4, Some(&[0, 1, 2, 3])).await;
    for n in 1..=6 {
        let (plan, report) = w.cycle(&wanted(4)).await;
        assert!(
            !matches!(report.outcome, Outcome::Failed),
            "cycle {n}: {report:#?}\n{:#?}",
            plan.decisions.headlines
        );
    }
    assert_eq!(w.strict.tasks_killed(), 0, "{:#?}", w.strict.events());
    assert!(
        !w.strict
            .events()
            .iter()
            .any(|e| matches!(e, StrictEvent::Refused { .. })),
        "{:#?}",
        w.strict.events()
    );
    let (min, max, desired, _) = w.group_now().await;
    assert_eq!((min, max, desired), (2, 2, 2));
    assert_eq!(w.web_tasks().await, 4, "every task still runs");
}

#[tokio::test]
async fn an_operator_drained_instance_is_not_terminated_when_empty() {
    // The scheduler puts the four tasks on one instance; the operator drains the empty one.
    let w = World::build("", 2, 4, None).await;
    let (empty, _) = w.by_tasks().await[0];
    let drained = w.instance(empty);
    w.operator_drain(empty).await;
    for _ in 0..2 {
        let (plan, _) = w.cycle(&wanted(4)).await;
        assert!(
            !touched(&plan).contains(&drained.ec2_instance_id),
            "{:#?}",
            plan.actions
        );
        let line = line_about(&plan, &drained.ec2_instance_id).expect("the instance is reported");
        assert!(line.contains("not drained by ecs-autoscale"), "{line}");
    }
    let (_, _, desired, members) = w.group_now().await;
    assert_eq!(desired, 2);
    assert!(members.iter().any(|(id, _)| id == &drained.ec2_instance_id));
    assert_eq!(w.status(&drained.container_instance_arn).await, "DRAINING");
}

#[tokio::test]
async fn an_operator_drained_instance_is_not_reactivated_for_a_scale_up() {
    let w = World::build("", 2, 4, None).await;
    let (empty, _) = w.by_tasks().await[0];
    let drained = w.instance(empty);
    w.operator_drain(empty).await;
    let (plan, report) = w.cycle(&wanted(8)).await;
    assert!(plan.actions.reactivate.is_empty(), "{:#?}", plan.actions);
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 2, to: 3 }),
        "an instance is launched instead: {:#?}",
        plan.decisions.headlines
    );
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    assert_eq!(w.status(&drained.container_instance_arn).await, "DRAINING");
    assert_eq!(
        w.web_tasks().await,
        8,
        "the new instance took the new tasks"
    );
}

#[tokio::test]
async fn an_instance_in_terminating_wait_is_neither_counted_nor_touched() {
    let w = World::build("", 2, 4, None).await;
    let (empty, _) = w.by_tasks().await[0];
    let leaving = w.instance(empty);
    w.strict
        .set_lifecycle_state(&leaving.ec2_instance_id, "Terminating:Wait");
    let plan = w.plan_at(&wanted(8), time::now()).await;
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 2, to: 3 }),
        "its room is not counted: {:#?}",
        plan.decisions.headlines
    );
    assert!(!touched(&plan).contains(&leaving.ec2_instance_id));
    let line = line_about(&plan, &leaving.ec2_instance_id).expect("the instance is reported");
    assert!(line.contains("Terminating:Wait"), "{line}");
    let report = w.apply(&plan).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    // Scaled back in: the empty instance is still not drained.
    let plan = w.plan_at(&wanted(4), time::now()).await;
    assert!(
        !touched(&plan).contains(&leaving.ec2_instance_id),
        "{:#?}",
        plan.actions
    );
    assert_eq!(w.status(&leaving.container_instance_arn).await, "ACTIVE");
}

#[tokio::test]
async fn a_draining_instance_whose_ec2_instance_is_gone_is_neither_reactivated_nor_counted() {
    // Eight tasks fill two of three instances; the executor drains the empty third.
    let w = World::build("", 3, 8, Some(&[0, 0, 0, 0, 1, 1, 1, 1])).await;
    let (empty, _) = w.by_tasks().await[0];
    let gone = w.instance(empty);
    let drain = ScalingPlan {
        schema_version: SCHEMA_VERSION,
        plan_id: "drain-the-empty-one".into(),
        delivery_id: "drain-the-empty-one".into(),
        cluster: CLUSTER.into(),
        autoscale_group: GROUP.into(),
        created_at: time::to_seconds(time::now()),
        expires_at: time::to_seconds(time::now()) + jiff::SignedDuration::from_secs(120),
        metrics_cycle_ids: vec![],
        dry_run: false,
        has_actions: true,
        actions: PlanActions {
            drain: vec![gone.clone().into()],
            ..PlanActions::default()
        },
        decisions: Default::default(),
    };
    let report = w.apply(&drain).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:#?}");
    // Its EC2 instance is terminated (a spot interruption); ECS has not deregistered it yet.
    w.bed
        .autoscaling()
        .terminate_instance_in_auto_scaling_group()
        .instance_id(&gone.ec2_instance_id)
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .expect("terminate behind the planner's back");
    assert_eq!(w.status(&gone.container_instance_arn).await, "DRAINING");

    let plan = w.plan_at(&wanted(12), time::now()).await;
    assert!(plan.actions.reactivate.is_empty(), "{:#?}", plan.actions);
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 2, to: 3 }),
        "its room is not counted: {:#?}",
        plan.decisions.headlines
    );
    let line = line_about(&plan, &gone.ec2_instance_id).expect("the instance is reported");
    assert!(line.contains("not an instance of the group"), "{line}");
}

#[tokio::test]
async fn an_instance_that_never_registers_stops_counting_after_the_grace_period() {
    // One full instance; the group launches a second whose agent never registers.
    let mut w = World::build("", 1, 4, None).await;
    w.bed
        .autoscaling()
        .set_desired_capacity()
        .auto_scaling_group_name(GROUP)
        .desired_capacity(2)
        .send()
        .await
        .expect("raise desired");
    let ids = world::group_instance_ids(w.bed.autoscaling(), GROUP)
        .await
        .expect("ids");
    let silent = ids
        .iter()
        .find(|id| **id != w.group.instances[0].instance_id)
        .expect("a second instance")
        .clone();
    w.never_register.insert(silent.clone());
    w.settle().await;

    // Within the grace period it is capacity on its way: four more tasks wait for it.
    let now = time::now();
    let plan = w.plan_at(&wanted(8), now).await;
    assert_eq!(
        plan.actions.group_desired, None,
        "{:#?}",
        plan.decisions.headlines
    );

    // Past the grace period (10 minutes by default) it no longer counts: one is launched.
    let later = now + SignedDuration::from_secs(601);
    let plan = w.plan_at(&wanted(8), later).await;
    assert_eq!(
        plan.actions.group_desired,
        Some(CountChange { from: 2, to: 3 }),
        "{:#?}",
        plan.decisions.headlines
    );
    assert!(
        plan.decisions
            .headlines
            .iter()
            .any(|l| l.contains(&silent) && l.contains("without registering")),
        "{:#?}",
        plan.decisions.headlines
    );
    let report = w.apply(&plan).await;
    assert!(
        report
            .actions
            .iter()
            .any(|a| a.kind == "group_desired" && a.status == ActionStatus::Applied),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_raised_min_and_launches_apply_in_one_cycle() {
    // Two full instances; the file raises min to 3 and the load asks for two more instances.
    let w = World::build("min: 3\n", 2, 8, None).await;
    let (plan, report) = w.cycle(&wanted(16)).await;
    assert_eq!(
        report.outcome,
        Outcome::Applied,
        "{report:#?}\n{:#?}",
        plan.actions
    );
    let (min, _, desired, _) = w.group_now().await;
    assert_eq!((min, desired), (3, 4));
    assert_eq!(w.web_tasks().await, 16);
}

#[tokio::test]
async fn a_drain_whose_tasks_no_longer_fit_at_apply_time_is_stale() {
    // Three instances with 3, 1 and 2 tasks: the one with 1 task can be drained.
    let w = World::build("", 3, 6, Some(&[0, 0, 0, 1, 2, 2])).await;
    let plan = w.plan_at(&wanted(6), time::now()).await;
    let victim = w.instance(1);
    assert_eq!(
        touched(&plan),
        vec![victim.ec2_instance_id.clone()],
        "{:#?}",
        plan.decisions.headlines
    );
    // Before the plan is applied, other tasks fill the room its task would move to.
    let filler = world::register_task_definition(w.bed.ecs(), "filler", TASK_CPU, TASK_MEMORY)
        .await
        .expect("filler");
    let room: Vec<String> = [0, 2, 2]
        .iter()
        .map(|&i| w.group.instances[i].container_instance_arn.clone())
        .collect();
    world::start_tasks(w.bed.ecs(), CLUSTER, "filler", &filler, &room)
        .await
        .expect("fill");
    let report = w.apply(&plan).await;
    let drain = outcome(&report, "drain");
    assert_eq!(drain.status, ActionStatus::Stale, "{report:#?}");
    assert!(drain.detail.contains("fit"), "{}", drain.detail);
    assert_eq!(w.status(&victim.container_instance_arn).await, "ACTIVE");
}
