//! Helpers of the executor's tests: worlds, plans, SQS events, clients with fast retries.

use std::path::Path;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::SqsEvent;
use executor::Deps;
use shared::aws::AwsClients;
use shared::definition::{parse_definition, ClusterDefinition};
use shared::messages::{
    ActionStatus, DrainTarget, ExecutionReport, InstanceRef, PlanActions, ScalingPlan,
    ServiceChange, SCHEMA_VERSION,
};
use shared::resources::Resources;
use testbed::world::{self, Group, GroupSpec};
use testbed::{CallLog, Clients, TestBed};

pub const CLUSTER: &str = "prod";
pub const GROUP: &str = "prod-asg";
pub const BUS: &str = "ecs-autoscale";

/// Operations that change the cluster or the group (PutEvents, the report, is not one).
pub const MUTATING: &[&str] = &[
    "UpdateService",
    "TagResource",
    "UntagResource",
    "UpdateAutoScalingGroup",
    "SetDesiredCapacity",
    "UpdateContainerInstancesState",
    "TerminateInstanceInAutoScalingGroup",
    "PutAttributes",
    "DeleteAttributes",
    "DeregisterContainerInstance",
    "StartTask",
    "StopTask",
];

pub fn mutating_calls(log: &CallLog) -> Vec<String> {
    log.ops()
        .into_iter()
        .filter(|op| MUTATING.contains(&op.as_str()))
        .collect()
}

/// The test bed's configuration pointed at `endpoint`, with the SDK's standard retry (3
/// attempts) but millisecond backoff so that injected faults do not slow the tests down.
pub async fn fast_config(endpoint: &str) -> SdkConfig {
    testbed::sdk_config(endpoint)
        .await
        .to_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(5))
                .with_max_backoff(Duration::from_millis(20)),
        )
        .build()
}

/// The executor's clients, counted into `log`.
pub fn aws_clients(config: &SdkConfig, log: &CallLog) -> AwsClients {
    let c = Clients::counted(config, log);
    AwsClients {
        ecs: c.ecs,
        autoscaling: c.autoscaling,
        ec2: c.ec2,
        cloudwatch: c.cloudwatch,
        sqs: c.sqs,
        eventbridge: c.eventbridge,
    }
}

/// Counted clients straight to moto.
pub async fn counted(bed: &TestBed, log: &CallLog) -> AwsClients {
    aws_clients(&fast_config(bed.endpoint()).await, log)
}

/// [`counted`] clients through the strict proxy (keep it alive while they are used): AWS's
/// answers where moto has none, such as GetTaskProtection, which a drain of an instance with
/// tasks reads.
pub async fn counted_strict(bed: &TestBed, log: &CallLog) -> (testbed::StrictAws, AwsClients) {
    let strict = testbed::StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy");
    let clients = aws_clients(&fast_config(strict.endpoint()).await, log);
    (strict, clients)
}

/// The cluster file of `prod` the handler checks plans against: the group's limits 1..6 and
/// the services of the tests' worlds, and `ghost`, which no world creates (`extra` is added to
/// its top level).
pub fn definition(extra: &str) -> ClusterDefinition {
    let text = format!(
        "autoscale_group: {GROUP}\nmin: 1\nmax: 6\n{extra}services:\n  web: {{min: 0, max: 20}}\n  api: {{min: 0, max: 20}}\n  ghost: {{min: 0, max: 20}}\n"
    );
    parse_definition(CLUSTER, Path::new("prod.yml"), &text, &|_| None).expect("a valid file")
}

pub fn deps(clients: AwsClients) -> Deps {
    Deps {
        clients,
        bus_name: BUS.into(),
        dry_run_env: false,
        definitions: vec![definition("")],
    }
}

/// A service of the world: name, CPU units and MiB per task, desired count.
pub type ServiceSpec = (&'static str, i32, i32, i32);

/// Cluster `prod`, group `prod-asg` of `instances` instances (min 0, max 10), the services
/// created and their tasks packed first fit in group order (the worlds the tests describe: ECS's
/// own default, which the scheduler helper plays, would spread them over the instances).
pub async fn build_world(bed: &TestBed, instances: i32, services: &[ServiceSpec]) -> Group {
    world::create_cluster(bed.ecs(), CLUSTER)
        .await
        .expect("cluster");
    let group = world::create_group(
        bed.autoscaling(),
        bed.ecs(),
        CLUSTER,
        &GroupSpec::new(GROUP, instances),
    )
    .await
    .expect("group");
    let mut used = vec![Resources::ZERO; group.instances.len()];
    for (name, cpu, memory, desired) in services {
        let td = world::register_task_definition(bed.ecs(), name, *cpu, *memory)
            .await
            .expect("task definition");
        world::create_service(bed.ecs(), CLUSTER, name, &td, *desired)
            .await
            .expect("service");
        let size = Resources::new(
            u32::try_from(*cpu).expect("CPU"),
            u32::try_from(*memory).expect("memory"),
        );
        let mut on = Vec::new();
        for _ in 0..*desired {
            let Some(i) = (0..used.len())
                .find(|&i| world::INSTANCE_RESOURCES.fits(used[i].saturating_add(size)))
            else {
                break;
            };
            used[i] = used[i].saturating_add(size);
            on.push(group.instances[i].container_instance_arn.clone());
        }
        world::start_service_tasks(bed.ecs(), CLUSTER, name, &on)
            .await
            .expect("tasks");
    }
    let report = bed.converge(CLUSTER).await.expect("converge");
    assert!(report.is_converged(), "world not converged: {report:?}");
    group
}

pub fn instance(group: &Group, i: usize) -> InstanceRef {
    InstanceRef {
        container_instance_arn: group.instances[i].container_instance_arn.clone(),
        ec2_instance_id: group.instances[i].instance_id.clone(),
    }
}

/// The drain of instance `i` as the planner writes it: the tasks on it now and their sizes.
pub async fn drain_of(bed: &TestBed, group: &Group, i: usize) -> DrainTarget {
    let target = instance(group, i);
    let arn = testbed::scheduler::cluster_arn(bed.ecs(), CLUSTER)
        .await
        .expect("cluster ARN");
    let tasks = testbed::scheduler::live_tasks(bed.ecs(), CLUSTER, &arn, None)
        .await
        .expect("tasks");
    let mut task_sizes = Vec::new();
    for t in tasks
        .iter()
        .filter(|t| t.container_instance_arn.as_deref() == Some(&target.container_instance_arn))
    {
        let td = bed
            .ecs()
            .describe_task_definition()
            .task_definition(&t.task_definition_arn)
            .send()
            .await
            .expect("task definition");
        let td = td.task_definition().expect("a task definition");
        task_sizes.push(testbed::scheduler::reservation(td).expect("size"));
    }
    DrainTarget {
        instance: target,
        tasks: u32::try_from(task_sizes.len()).unwrap_or(u32::MAX),
        task_sizes,
        task_needs: Vec::new(),
    }
}

pub fn service(name: &str, from: u32, to: u32) -> ServiceChange {
    ServiceChange {
        service: name.into(),
        from,
        to,
    }
}

/// A plan for `prod` made a minute ago, for two minutes.
pub fn plan(id: &str, actions: PlanActions) -> ScalingPlan {
    let created =
        shared::time::to_seconds(shared::time::now() - jiff::SignedDuration::from_secs(60));
    ScalingPlan {
        schema_version: SCHEMA_VERSION,
        plan_id: id.into(),
        delivery_id: format!("delivery-{id}"),
        cluster: CLUSTER.into(),
        autoscale_group: GROUP.into(),
        created_at: created,
        expires_at: created + jiff::SignedDuration::from_secs(120),
        metrics_cycle_ids: vec!["cycle-1".into()],
        dry_run: false,
        has_actions: !actions.is_empty(),
        actions,
        decisions: Default::default(),
    }
}

/// An SQS event of (message id, message group, body) records, as Lambda delivers it.
pub fn sqs_event(records: &[(&str, &str, String)]) -> SqsEvent {
    let records: Vec<_> = records
        .iter()
        .map(|(id, group, body)| {
            serde_json::json!({
                "messageId": id,
                "receiptHandle": format!("handle-{id}"),
                "body": body,
                "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:plans.fifo",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).expect("SQS event")
}

pub fn plan_event(id: &str, plan: &ScalingPlan) -> SqsEvent {
    sqs_event(&[(id, CLUSTER, serde_json::to_string(plan).expect("plan JSON"))])
}

/// Statuses of the report's actions as (kind, target, status).
pub fn statuses(report: &ExecutionReport) -> Vec<(String, String, ActionStatus)> {
    report
        .actions
        .iter()
        .map(|a| (a.kind.clone(), a.target.clone(), a.status.clone()))
        .collect()
}

pub fn all(report: &ExecutionReport, status: ActionStatus) -> bool {
    report.actions.iter().all(|a| a.status == status)
}

/// desiredCount of a service.
pub async fn desired_count(bed: &TestBed, name: &str) -> i32 {
    let out = bed
        .ecs()
        .describe_services()
        .cluster(CLUSTER)
        .services(name)
        .send()
        .await
        .expect("describe services");
    out.services()[0].desired_count()
}

/// The tag `key` of a service, if any.
pub async fn service_tag(bed: &TestBed, name: &str, key: &str) -> Option<String> {
    let out = bed
        .ecs()
        .describe_services()
        .cluster(CLUSTER)
        .services(name)
        .include(aws_sdk_ecs::types::ServiceField::Tags)
        .send()
        .await
        .expect("describe services");
    out.services()[0]
        .tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value().map(str::to_owned))
}

/// (min, max, desired, live instance ids) of the group.
pub async fn group_state(bed: &TestBed) -> (i32, i32, i32, Vec<String>) {
    let out = bed
        .autoscaling()
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(GROUP)
        .send()
        .await
        .expect("describe group");
    let g = &out.auto_scaling_groups()[0];
    let ids = world::group_instance_ids(bed.autoscaling(), GROUP)
        .await
        .expect("ids");
    (
        g.min_size().unwrap_or(-1),
        g.max_size().unwrap_or(-1),
        g.desired_capacity().unwrap_or(-1),
        ids,
    )
}

/// This system's drain record on a container instance (its `ecs-autoscale.drained-at`
/// attribute), as the planner reads it.
pub async fn drained_at(bed: &TestBed, arn: &str) -> Option<u64> {
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
        .draining_since_epoch_secs
}

/// Status of a container instance.
pub async fn instance_status(bed: &TestBed, arn: &str) -> String {
    let out = bed
        .ecs()
        .describe_container_instances()
        .cluster(CLUSTER)
        .container_instances(arn)
        .send()
        .await
        .expect("describe container instances");
    out.container_instances()
        .first()
        .and_then(|ci| ci.status())
        .unwrap_or("MISSING")
        .to_owned()
}
