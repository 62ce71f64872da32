//! The ECS service scheduler, which moto lacks: places, drains and scales in service tasks.
//!
//! A service's tasks are the live tasks (desired RUNNING, last status not STOPPED) whose group
//! is `service:NAME`; the harness starts them with `startedBy` =
//! [`started_by`] so that ListTasks can filter on it.
//!
//! ECS's answers are read into the cluster model of `shared::state` by the same calls and
//! conversion as the planner's and the executor's (`shared::aws::read`, `shared::aws::state`);
//! what the scheduler *decides* (where a task goes, what it reserves) is written here, apart
//! from the planner's packing, and accounted as ECS does ([`reservation`]): an instance's room
//! is its registered resources minus the reservations of its live tasks, not moto's
//! `remainingResources` (which count container `memory` before `memoryReservation` and
//! ignore task-level sizes). It places as ECS does beyond CPU and memory too ([`ask`]): host
//! ports, GPUs, the task definition's `memberOf` on the instance's attributes, DAEMON services
//! on every instance, Fargate services on no instance, nothing on an instance whose agent is
//! disconnected, and (with an EC2 client, [`converge_with_enis`]) no more `awsvpc` tasks on an
//! instance than its type's network interfaces less the primary one, as EC2's
//! DescribeInstanceTypes gives them (not the planner's table); and it chooses among the
//! instances that can take a task by the service's placement strategy ([`strategy`], [`pick`]:
//! spread over availability zones by default).

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{bail, Context, Result};
use aws_sdk_ecs::types::{LaunchType, SchedulingStrategy, Service, TaskDefinition};
use aws_sdk_ecs::Client as EcsClient;
use shared::aws::read::{self, TaskFilter};
use shared::aws::state::{container_instance, task};
use shared::resources::Resources;
use shared::state::{ContainerInstance, InstanceStatus, Task};

use crate::world::{self, service_group, started_by};

/// What [`converge`] did for one service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceReport {
    /// Service name.
    pub service: String,
    /// Desired count (0 for a service that is not ACTIVE; for a DAEMON service, the ACTIVE
    /// instances with a connected agent that meet its constraints).
    pub desired: usize,
    /// Live tasks after converging (a Fargate service: its desired count, run elsewhere).
    pub running: usize,
    /// Tasks started.
    pub started: usize,
    /// Tasks stopped (drained off non-ACTIVE instances plus surplus).
    pub stopped: usize,
    /// Tasks that fit on no ACTIVE instance (desired - running after converging).
    pub unplaced: usize,
    /// Its tasks run on Fargate or by a capacity provider strategy, not on the cluster's
    /// instances.
    pub fargate: bool,
}

/// What [`converge`] did for the cluster, one entry per service, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConvergeReport {
    /// Per-service outcome.
    pub services: Vec<ServiceReport>,
}

impl ConvergeReport {
    /// The report of `service`, if the cluster has it.
    pub fn service(&self, service: &str) -> Option<&ServiceReport> {
        self.services.iter().find(|s| s.service == service)
    }

    /// Tasks left unplaced, all services.
    pub fn unplaced(&self) -> usize {
        self.services.iter().map(|s| s.unplaced).sum()
    }

    /// True when every service runs its desired count.
    pub fn is_converged(&self) -> bool {
        self.services.iter().all(|s| s.running == s.desired)
    }
}

/// Ports the ECS agent reserves on every container instance (TCP).
const AGENT_PORTS: [u16; 5] = [22, 2375, 2376, 51678, 51679];

/// What one task of a task definition asks of a container instance, as ECS places it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ask {
    /// CPU and memory reserved ([`reservation`]).
    pub size: Resources,
    /// GPUs (`resourceRequirements` of type GPU).
    pub gpus: u32,
    /// Host ports bound, `(port, udp)`.
    pub ports: Vec<(u16, bool)>,
    /// `memberOf` expressions of the task definition.
    pub member_of: Vec<String>,
    /// `awsvpc` networking: the task takes an ENI of the instance.
    pub eni: bool,
}

/// What a container instance has left, as ECS accounts it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Room {
    free: Resources,
    ports: HashSet<(u16, bool)>,
    gpus: u32,
    /// ENIs left for `awsvpc` tasks (`None`: not limited).
    enis: Option<u32>,
}

impl Room {
    fn takes(&self, ask: &Ask) -> bool {
        self.free.fits(ask.size)
            && self.gpus >= ask.gpus
            && ask.ports.iter().all(|p| !self.ports.contains(p))
            && !(ask.eni && self.enis == Some(0))
    }

    fn take(&mut self, ask: &Ask) {
        self.free = self.free.saturating_sub(ask.size);
        self.gpus = self.gpus.saturating_sub(ask.gpus);
        self.ports.extend(ask.ports.iter().copied());
        if ask.eni {
            self.enis = self.enis.map(|n| n.saturating_sub(1));
        }
    }

    fn give_back(&mut self, ask: &Ask) {
        self.free = self.free.saturating_add(ask.size);
        self.gpus = self.gpus.saturating_add(ask.gpus);
        if ask.eni {
            self.enis = self.enis.map(|n| n.saturating_add(1));
        }
        for p in &ask.ports {
            self.ports.remove(p);
        }
    }
}

/// Whether a `memberOf` expression holds on an instance of these attributes: `attribute:NAME`
/// with `==`, `!=`, `in [..]` or `not_in [..]`. `None`: an expression the test bed does not
/// evaluate (it then places nothing, as no instance can be shown to match).
pub fn member_of_holds(expression: &str, attributes: &BTreeMap<String, String>) -> Option<bool> {
    let rest = expression.trim().strip_prefix("attribute:")?;
    let mut words = rest.splitn(3, ' ');
    let (name, op, value) = (words.next()?, words.next()?, words.next()?.trim());
    let have = attributes.get(name).map(String::as_str);
    let list = || -> Option<Vec<&str>> {
        Some(
            value
                .strip_prefix('[')?
                .strip_suffix(']')?
                .split(',')
                .map(str::trim)
                .collect(),
        )
    };
    match op {
        "==" => Some(have == Some(value)),
        "!=" => Some(have != Some(value)),
        "in" => Some(have.is_some_and(|h| list().is_some_and(|l| l.contains(&h)))),
        "not_in" => {
            let l = list()?;
            Some(have.is_none_or(|h| !l.contains(&h)))
        }
        _ => None,
    }
}

/// One entry of a service's placement strategy, as ECS applies it when it picks among the
/// instances that can take a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rank {
    /// `spread` over a field (`instanceId` or `host`, `attribute:NAME`): the instances whose
    /// value of it has the fewest tasks of the service (counted over every ACTIVE instance).
    Spread(String),
    /// `binpack` on `cpu` or `memory`: the instances with the least of it left.
    Binpack(String),
    /// `random` (or a type the test bed does not know): any; the test bed takes the first.
    Any,
}

/// The placement strategy ECS applies to `service`'s tasks: its own, else the service
/// scheduler's default, spread over availability zones and then over instances ("Use strategies
/// to define Amazon ECS task placement": a service's tasks are spread on
/// `attribute:ecs.availability-zone` by default; "Update Amazon ECS service parameters": each
/// new task goes to a zone with the fewest tasks of the service, favouring the instances with
/// the fewest of them).
pub fn strategy(service: &Service) -> Vec<Rank> {
    let given: Vec<Rank> = service
        .placement_strategy()
        .iter()
        .map(|p| {
            let field = p.field().unwrap_or_default().to_owned();
            match p
                .r#type()
                .map(|t| t.as_str().to_ascii_lowercase())
                .as_deref()
            {
                Some("spread") => Rank::Spread(field),
                Some("binpack") => Rank::Binpack(field),
                _ => Rank::Any,
            }
        })
        .collect();
    if given.is_empty() {
        vec![
            Rank::Spread("attribute:ecs.availability-zone".into()),
            Rank::Spread("instanceId".into()),
        ]
    } else {
        given
    }
}

/// An instance's value of a spread field: its ARN for `instanceId`/`host`, an attribute's
/// value (empty when it has none) for `attribute:NAME`.
fn field_value<'a>(field: &str, instance: &'a ContainerInstance) -> &'a str {
    if field.eq_ignore_ascii_case("instanceId") || field.eq_ignore_ascii_case("host") {
        return &instance.arn;
    }
    field
        .strip_prefix("attribute:")
        .and_then(|name| instance.placement.attribute(name))
        .unwrap_or("")
}

/// The instance ECS gives the next task of a service: among `candidates` (indices into
/// `instances`, every one able to take it, in listing order) each rank of `ranks` keeps the
/// best, and the first left wins. `tasks`: the service's live tasks per container instance
/// ARN; `free`: each instance's CPU and memory left.
pub fn pick(
    ranks: &[Rank],
    candidates: &[usize],
    instances: &[ContainerInstance],
    tasks: &HashMap<String, usize>,
    free: &dyn Fn(&ContainerInstance) -> Resources,
) -> Option<usize> {
    let mut left: Vec<usize> = candidates.to_vec();
    for rank in ranks {
        let score: Box<dyn Fn(usize) -> u64> = match rank {
            Rank::Spread(field) => {
                let mut per_value: HashMap<&str, u64> = HashMap::new();
                for i in instances
                    .iter()
                    .filter(|i| i.status == InstanceStatus::Active)
                {
                    let n = tasks.get(&i.arn).copied().unwrap_or(0) as u64;
                    *per_value.entry(field_value(field, i)).or_default() += n;
                }
                Box::new(move |c| {
                    per_value
                        .get(field_value(field, &instances[c]))
                        .copied()
                        .unwrap_or(0)
                })
            }
            Rank::Binpack(field) if field.eq_ignore_ascii_case("cpu") => {
                Box::new(|c| u64::from(free(&instances[c]).cpu))
            }
            Rank::Binpack(field) if field.eq_ignore_ascii_case("memory") => {
                Box::new(|c| u64::from(free(&instances[c]).memory))
            }
            Rank::Binpack(_) | Rank::Any => continue,
        };
        let best = left.iter().map(|&c| score(c)).min()?;
        left.retain(|&c| score(c) == best);
    }
    left.first().copied()
}

/// Plays the ECS service scheduler once for `cluster` (name or ARN):
///
/// 1. stops every service task on a container instance that is not ACTIVE (DRAINING or gone);
/// 2. stops surplus tasks when a service runs more than desired, taking them first from the
///    instance running the fewest tasks;
/// 3. DAEMON services first: one task on every ACTIVE instance with a connected agent that
///    meets the task definition's `memberOf` constraints and has room;
/// 4. starts missing tasks of the other EC2 services one at a time, on an ACTIVE instance with
///    a connected agent that can take it by what ECS checks — remaining CPU and memory as ECS
///    accounts them ([`reservation`]), free GPUs (registered less the live tasks'), host ports
///    (the agent's and those of the live tasks), and the task definition's `memberOf` on the
///    instance's attributes — chosen among those by the service's placement [`strategy`]
///    ([`pick`]: by default the zone with the fewest of its tasks, there the instance with the
///    fewest; ties in ListContainerInstances order); a task that fits nowhere is reported
///    unplaced.
///
/// Fargate services (launch type FARGATE) and services with a capacity provider strategy run
/// nowhere in the cluster's instances: reported as running their desired count. A service's own
/// `memberOf` constraints apply with its task definition's. Only tasks in group `service:NAME` are touched.
pub async fn converge(ecs: &EcsClient, cluster: &str) -> Result<ConvergeReport> {
    converge_with_enis(ecs, None, cluster).await
}

/// [`converge`], and with `ec2` also ECS's ENI limit: an `awsvpc` task takes one of its
/// instance's network interfaces, of which the instance type has
/// `NetworkInfo.MaximumNetworkInterfaces` (DescribeInstanceTypes), the primary one not for
/// tasks. An instance with ENI trunking (attribute `ecs.awsvpc-trunk-id`), or whose type EC2
/// does not describe, is not limited here.
pub async fn converge_with_enis(
    ecs: &EcsClient,
    ec2: Option<&aws_sdk_ec2::Client>,
    cluster: &str,
) -> Result<ConvergeReport> {
    let cluster_arn = cluster_arn(ecs, cluster).await?;
    let mut services = services(ecs, cluster).await?;
    services.sort_by(|a, b| a.service_name().cmp(&b.service_name()));
    // Daemons first, as ECS places them before the replicas that would take their room.
    services.sort_by_key(|s| s.scheduling_strategy() != Some(&SchedulingStrategy::Daemon));
    let mut instances = container_instances(ecs, cluster).await?;
    let tasks = live_tasks(ecs, cluster, &cluster_arn, None).await?;
    let enis = match ec2 {
        Some(ec2) => task_enis(ec2, &instances).await?,
        None => HashMap::new(),
    };

    let mut per_instance: HashMap<String, usize> = HashMap::new();
    let mut asks = AskCache::default();
    // The room the scheduler places into is ECS's: registered minus what the live tasks take
    // (moto's remainingResources follow moto's accounting, see `reservation`).
    let mut rooms: HashMap<String, Room> = instances
        .iter()
        .map(|i| {
            let room = Room {
                free: i.registered,
                ports: AGENT_PORTS.iter().map(|&p| (p, false)).collect(),
                gpus: i.placement.gpus,
                enis: enis.get(&i.arn).copied(),
            };
            (i.arn.clone(), room)
        })
        .collect();
    for task in &tasks {
        if let Some(ci) = &task.container_instance_arn {
            *per_instance.entry(ci.clone()).or_default() += 1;
            let ask = asks.get(ecs, &task.task_definition_arn).await?;
            if let Some(room) = rooms.get_mut(ci) {
                room.take(&ask);
            }
        }
    }
    for instance in &mut instances {
        if let Some(room) = rooms.get(&instance.arn) {
            instance.remaining = room.free;
        }
    }
    let mut reports = Vec::new();
    let mut service_tasks: Vec<Vec<Task>> = Vec::new();
    let open = |i: &ContainerInstance| i.status == InstanceStatus::Active && i.agent_connected;

    // Stops first (draining, then surplus) so that freed capacity is available to placement.
    for service in &services {
        let name = service.service_name().unwrap_or_default().to_owned();
        // Fargate, or a capacity provider strategy: ECS places them elsewhere than on the
        // cluster's instances of the group.
        let fargate = service.launch_type() == Some(&LaunchType::Fargate)
            || !service.capacity_provider_strategy().is_empty();
        let daemon = service.scheduling_strategy() == Some(&SchedulingStrategy::Daemon);
        let task_definition = service.task_definition().unwrap_or_default().to_owned();
        let desired = if service.status() != Some("ACTIVE") {
            0
        } else if daemon {
            let ask = with_service_constraints(asks.get(ecs, &task_definition).await?, service);
            instances
                .iter()
                .filter(|i| open(i) && meets(&ask, i))
                .count()
        } else {
            usize::try_from(service.desired_count()).unwrap_or(0)
        };
        let group = service_group(&name);
        let mut mine: Vec<Task> = tasks.iter().filter(|t| t.group == group).cloned().collect();
        let mut report = ServiceReport {
            service: name,
            desired,
            fargate,
            ..ServiceReport::default()
        };

        let (keep, drain): (Vec<Task>, Vec<Task>) = mine.into_iter().partition(|t| {
            t.container_instance_arn.as_ref().is_some_and(|ci| {
                instances
                    .iter()
                    .any(|i| &i.arn == ci && i.status == InstanceStatus::Active)
            })
        });
        mine = keep;
        for task in drain {
            stop(
                ecs,
                cluster,
                &task,
                "testbed scheduler: container instance is not ACTIVE",
                &mut instances,
                &mut rooms,
                &mut per_instance,
                &mut asks,
            )
            .await?;
            report.stopped += 1;
        }

        while mine.len() > desired {
            let index = mine
                .iter()
                .enumerate()
                .min_by_key(|(i, t)| {
                    let on_instance = t
                        .container_instance_arn
                        .as_ref()
                        .and_then(|ci| per_instance.get(ci))
                        .copied()
                        .unwrap_or(0);
                    // Fewest tasks first; among equals, the most recently listed task.
                    (on_instance, usize::MAX - i)
                })
                .map(|(i, _)| i)
                .context("a surplus task to stop")?;
            let task = mine.remove(index);
            stop(
                ecs,
                cluster,
                &task,
                "testbed scheduler: scale-in",
                &mut instances,
                &mut rooms,
                &mut per_instance,
                &mut asks,
            )
            .await?;
            report.stopped += 1;
        }
        service_tasks.push(mine);
        reports.push(report);
    }

    for ((service, report), mine) in services.iter().zip(&mut reports).zip(&service_tasks) {
        if report.fargate {
            report.running = report.desired;
            continue;
        }
        let daemon = service.scheduling_strategy() == Some(&SchedulingStrategy::Daemon);
        let missing = report.desired.saturating_sub(mine.len());
        let mut placed = Vec::new();
        if missing > 0 {
            let task_definition = service
                .task_definition()
                .with_context(|| format!("service {} has no task definition", report.service))?;
            let ask = with_service_constraints(asks.get(ecs, task_definition).await?, service);
            let holding: HashSet<&str> = mine
                .iter()
                .filter_map(|t| t.container_instance_arn.as_deref())
                .collect();
            let ranks = strategy(service);
            // The service's live tasks per instance, as the strategy counts them.
            let mut on: HashMap<String, usize> = HashMap::new();
            for arn in mine
                .iter()
                .filter_map(|t| t.container_instance_arn.as_ref())
            {
                *on.entry(arn.clone()).or_default() += 1;
            }
            for _ in 0..missing {
                let candidates: Vec<usize> = (0..instances.len())
                    .filter(|&n| {
                        let i = &instances[n];
                        open(i)
                            && meets(&ask, i)
                            && rooms.get(&i.arn).is_some_and(|r| r.takes(&ask))
                            // A daemon runs one task per instance.
                            && !(daemon
                                && (holding.contains(i.arn.as_str()) || placed.contains(&i.arn)))
                    })
                    .collect();
                let chosen = if daemon {
                    candidates.first().copied()
                } else {
                    let free = |i: &ContainerInstance| {
                        rooms.get(&i.arn).map_or(Resources::ZERO, |r| r.free)
                    };
                    pick(&ranks, &candidates, &instances, &on, &free)
                };
                let Some(instance) = chosen.and_then(|n| instances.get_mut(n)) else {
                    break;
                };
                *on.entry(instance.arn.clone()).or_default() += 1;
                if let Some(room) = rooms.get_mut(&instance.arn) {
                    room.take(&ask);
                    instance.remaining = room.free;
                }
                instance.running_tasks += 1;
                *per_instance.entry(instance.arn.clone()).or_default() += 1;
                placed.push(instance.arn.clone());
            }
            if !placed.is_empty() {
                // An awsvpc task's ENI goes in a subnet of the instances' VPC (any, in moto).
                let subnet = match (ask.eni, ec2) {
                    (true, Some(ec2)) => Some(any_subnet(ec2).await?),
                    (true, None) => bail!(
                        "{}: awsvpc tasks need converge_with_enis (an EC2 client)",
                        report.service
                    ),
                    (false, _) => None,
                };
                world::start_tasks_in(
                    ecs,
                    cluster,
                    &report.service,
                    task_definition,
                    &placed,
                    subnet.as_deref(),
                )
                .await?;
            }
        }
        report.started = placed.len();
        report.running = mine.len() + placed.len();
        report.unplaced = report.desired.saturating_sub(report.running);
    }
    Ok(ConvergeReport { services: reports })
}

/// A subnet's id (DescribeSubnets, the first listed).
async fn any_subnet(ec2: &aws_sdk_ec2::Client) -> Result<String> {
    let out = ec2
        .describe_subnets()
        .send()
        .await
        .context("DescribeSubnets")?;
    out.subnets()
        .iter()
        .find_map(|s| s.subnet_id())
        .map(str::to_owned)
        .context("DescribeSubnets: no subnet")
}

/// ENIs for `awsvpc` tasks per container instance ARN: its type's maximum network interfaces
/// less the primary one, from EC2 (one DescribeInstanceTypes); trunked instances and types
/// EC2 does not describe are absent (not limited).
async fn task_enis(
    ec2: &aws_sdk_ec2::Client,
    instances: &[ContainerInstance],
) -> Result<HashMap<String, u32>> {
    let type_of = |i: &ContainerInstance| {
        let trunked = i.placement.attributes.contains_key("ecs.awsvpc-trunk-id");
        i.placement
            .attributes
            .get("ecs.instance-type")
            .filter(|_| !trunked)
            .cloned()
    };
    let types: Vec<String> = instances
        .iter()
        .filter_map(type_of)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if types.is_empty() {
        return Ok(HashMap::new());
    }
    let out = ec2
        .describe_instance_types()
        .set_instance_types(Some(
            types
                .iter()
                .map(|t| aws_sdk_ec2::types::InstanceType::from(t.as_str()))
                .collect(),
        ))
        .send()
        .await
        .context("DescribeInstanceTypes")?;
    let mut per_type = HashMap::new();
    for t in out.instance_types() {
        let (Some(name), Some(max)) = (
            t.instance_type(),
            t.network_info()
                .and_then(|n| n.maximum_network_interfaces()),
        ) else {
            continue;
        };
        let max = u32::try_from(max).with_context(|| format!("{max} network interfaces"))?;
        per_type.insert(name.as_str().to_owned(), max.saturating_sub(1));
    }
    Ok(instances
        .iter()
        .filter_map(|i| {
            let n = per_type.get(&type_of(i)?)?;
            Some((i.arn.clone(), *n))
        })
        .collect())
}

/// `ask` with the service's own `memberOf` placement constraints added (ECS applies both the
/// task definition's and the service's).
fn with_service_constraints(mut ask: Ask, service: &Service) -> Ask {
    ask.member_of.extend(
        service
            .placement_constraints()
            .iter()
            .filter(|c| c.r#type().is_some_and(|t| t.as_str() == "memberOf"))
            .filter_map(|c| c.expression().map(str::to_owned)),
    );
    ask
}

/// Whether `instance` meets every `memberOf` of `ask` (an expression not evaluated: no).
fn meets(ask: &Ask, instance: &ContainerInstance) -> bool {
    ask.member_of
        .iter()
        .all(|e| member_of_holds(e, &instance.placement.attributes) == Some(true))
}

#[allow(clippy::too_many_arguments)]
async fn stop(
    ecs: &EcsClient,
    cluster: &str,
    task: &Task,
    reason: &str,
    instances: &mut [ContainerInstance],
    rooms: &mut HashMap<String, Room>,
    per_instance: &mut HashMap<String, usize>,
    asks: &mut AskCache,
) -> Result<()> {
    ecs.stop_task()
        .cluster(cluster)
        .task(&task.arn)
        .reason(reason)
        .send()
        .await
        .with_context(|| format!("StopTask {}", task.arn))?;
    if let Some(ci) = &task.container_instance_arn {
        let freed = asks.get(ecs, &task.task_definition_arn).await?;
        if let Some(room) = rooms.get_mut(ci) {
            room.give_back(&freed);
        }
        if let Some(instance) = instances.iter_mut().find(|i| &i.arn == ci) {
            instance.remaining = instance.remaining.saturating_add(freed.size);
            instance.running_tasks = instance.running_tasks.saturating_sub(1);
        }
        if let Some(count) = per_instance.get_mut(ci) {
            *count = count.saturating_sub(1);
        }
    }
    Ok(())
}

/// Task definition ARN -> what its task asks, filled lazily with DescribeTaskDefinition.
#[derive(Default)]
struct AskCache(HashMap<String, Ask>);

impl AskCache {
    async fn get(&mut self, ecs: &EcsClient, task_definition: &str) -> Result<Ask> {
        if let Some(found) = self.0.get(task_definition) {
            return Ok(found.clone());
        }
        let out = ecs
            .describe_task_definition()
            .task_definition(task_definition)
            .send()
            .await
            .with_context(|| format!("DescribeTaskDefinition {task_definition}"))?;
        let td = out
            .task_definition()
            .with_context(|| format!("DescribeTaskDefinition {task_definition}: empty answer"))?;
        let found = ask(td)?;
        self.0.insert(task_definition.to_owned(), found.clone());
        Ok(found)
    }
}

/// What a task of `td` asks of an instance: its [`reservation`], GPUs, host ports (`host`
/// networking: each container port; `bridge`, the default: each non-zero `hostPort`; `awsvpc`:
/// none) and `memberOf` constraints.
pub fn ask(td: &TaskDefinition) -> Result<Ask> {
    let mode = td.network_mode().map_or("bridge", |m| m.as_str());
    let mut ports = Vec::new();
    let mut gpus = 0u32;
    for c in td.container_definitions() {
        for m in c.port_mappings() {
            let port = match mode {
                "host" => m.container_port(),
                "bridge" => m.host_port(),
                _ => None,
            };
            if let Some(p) = port.filter(|p| *p > 0) {
                let p = u16::try_from(p).with_context(|| format!("host port {p}"))?;
                let udp = m.protocol().is_some_and(|p| p.as_str() == "udp");
                if !ports.contains(&(p, udp)) {
                    ports.push((p, udp));
                }
            }
        }
        for r in c.resource_requirements() {
            if r.r#type().as_str() == "GPU" {
                let n: u32 = r
                    .value()
                    .trim()
                    .parse()
                    .with_context(|| format!("GPU count {:?}", r.value()))?;
                gpus += n;
            }
        }
    }
    let member_of = td
        .placement_constraints()
        .iter()
        .filter(|c| c.r#type().is_some_and(|t| t.as_str() == "memberOf"))
        .filter_map(|c| c.expression().map(str::to_owned))
        .collect();
    Ok(Ask {
        size: reservation(td)?,
        gpus,
        ports,
        member_of,
        eni: mode == "awsvpc",
    })
}

/// What a task of `td` reserves on an EC2 container instance, as ECS accounts it: the
/// task-level `cpu` and `memory` when set; otherwise the sum of its containers' `cpu`, and of
/// their `memoryReservation` (the soft limit), else `memory` (the hard limit). Each dimension
/// on its own. moto accounts differently (see [`converge`] and `tests/README.md`).
pub fn reservation(td: &TaskDefinition) -> Result<Resources> {
    let amount = |value: i32, what: &str| {
        u32::try_from(value).with_context(|| format!("container {what} {value}"))
    };
    let task_level = |value: Option<&str>, what: &str| -> Result<Option<u32>> {
        value
            .map(|v| {
                v.trim().parse().with_context(|| {
                    format!("task-level {what} {v:?} (the test bed reads whole numbers)")
                })
            })
            .transpose()
    };
    let mut containers = Resources::ZERO;
    for container in td.container_definitions() {
        let memory = container
            .memory_reservation()
            .or(container.memory())
            .unwrap_or(0);
        containers = containers.saturating_add(Resources::new(
            amount(container.cpu(), "cpu")?,
            amount(memory, "memory")?,
        ));
    }
    Ok(Resources::new(
        task_level(td.cpu(), "cpu")?.unwrap_or(containers.cpu),
        task_level(td.memory(), "memory")?.unwrap_or(containers.memory),
    ))
}

/// The ARN of `cluster` (name or ARN).
pub async fn cluster_arn(ecs: &EcsClient, cluster: &str) -> Result<String> {
    let out = ecs
        .describe_clusters()
        .clusters(cluster)
        .send()
        .await
        .with_context(|| format!("DescribeClusters {cluster}"))?;
    out.clusters()
        .first()
        .and_then(|c| c.cluster_arn())
        .map(str::to_owned)
        .with_context(|| format!("cluster {cluster} not found"))
}

/// The name of a cluster given by name or ARN.
pub fn cluster_name(cluster: &str) -> &str {
    cluster.rsplit('/').next().unwrap_or(cluster)
}

/// Every service of `cluster` (ListServices, then DescribeServices 10 at a time).
pub async fn services(ecs: &EcsClient, cluster: &str) -> Result<Vec<Service>> {
    let mut arns = Vec::new();
    let mut pages = ecs
        .list_services()
        .cluster(cluster)
        .max_results(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| format!("ListServices {cluster}"))?;
        arns.extend(page.service_arns().iter().cloned());
    }
    // moto lists the services whose "cluster:service" key merely contains "NAME:"; keep only
    // the ARNs (long format `service/CLUSTER/NAME`) of this cluster.
    let name = cluster_name(cluster);
    arns.retain(|arn| {
        let mut parts = arn.rsplit('/');
        let _service = parts.next();
        match (parts.next(), parts.next()) {
            (Some(owner), Some(_)) => owner == name,
            _ => true,
        }
    });
    let described = read::describe_services(ecs, cluster, &arns, &[])
        .await
        .with_context(|| format!("DescribeServices {cluster}"))?;
    if let Some(failure) = described.failures.first() {
        bail!("DescribeServices {cluster}: {failure:?}");
    }
    Ok(described.found)
}

/// Every container instance of `cluster`, any status (paginated, described 100 at a time),
/// without its tasks.
pub async fn container_instances(ecs: &EcsClient, cluster: &str) -> Result<Vec<ContainerInstance>> {
    let arns = read::list_container_instances(ecs, cluster)
        .await
        .with_context(|| format!("ListContainerInstances {cluster}"))?;
    let described = read::describe_container_instances(ecs, cluster, &arns, &[])
        .await
        .with_context(|| format!("DescribeContainerInstances {cluster}"))?;
    if let Some(failure) = described.failures.first() {
        bail!("DescribeContainerInstances {cluster}: {failure:?}");
    }
    described
        .found
        .iter()
        .map(|ci| container_instance(ci).with_context(|| format!("in cluster {cluster}")))
        .collect()
}

/// The live tasks (desired RUNNING, not STOPPED) of `cluster`, optionally only those with
/// `startedBy` = `started_by`. Paginated, described 100 at a time.
///
/// `cluster_arn` filters the answer: moto's ListTasks matches the cluster name as a substring
/// of the task's cluster ARN (cluster `web` also lists the tasks of `web2`).
pub async fn live_tasks(
    ecs: &EcsClient,
    cluster: &str,
    cluster_arn: &str,
    started_by: Option<&str>,
) -> Result<Vec<Task>> {
    let filter = TaskFilter {
        started_by,
        ..TaskFilter::default()
    };
    let arns = read::list_tasks(ecs, cluster, filter)
        .await
        .with_context(|| format!("ListTasks {cluster}"))?;
    let described = read::describe_tasks(ecs, cluster, &arns)
        .await
        .with_context(|| format!("DescribeTasks {cluster}"))?;
    let mut live = Vec::new();
    for found in &described.found {
        let t = task(found).with_context(|| format!("DescribeTasks {cluster}"))?;
        if t.cluster_arn.as_deref() == Some(cluster_arn)
            && t.desired_status == "RUNNING"
            && t.last_status != "STOPPED"
        {
            live.push(t);
        }
    }
    Ok(live)
}

/// The live tasks of `service` in `cluster`.
pub async fn service_tasks(ecs: &EcsClient, cluster: &str, service: &str) -> Result<Vec<Task>> {
    let arn = cluster_arn(ecs, cluster).await?;
    let group = service_group(service);
    Ok(live_tasks(ecs, cluster, &arn, Some(&started_by(service)))
        .await?
        .into_iter()
        .filter(|t| t.group == group)
        .collect())
}

/// Live tasks per container instance ARN in `cluster` (instances without tasks are absent).
pub async fn tasks_per_instance(ecs: &EcsClient, cluster: &str) -> Result<BTreeMap<String, usize>> {
    let arn = cluster_arn(ecs, cluster).await?;
    let mut counts = BTreeMap::new();
    for task in live_tasks(ecs, cluster, &arn, None).await? {
        if let Some(ci) = task.container_instance_arn {
            *counts.entry(ci).or_default() += 1;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{
        ContainerDefinition, NetworkMode, PortMapping, ResourceRequirement, ResourceType,
        TaskDefinitionPlacementConstraint, TaskDefinitionPlacementConstraintType,
        TransportProtocol,
    };

    #[test]
    fn member_of_reads_the_simple_forms_and_refuses_the_rest() {
        let attributes: BTreeMap<String, String> = [
            ("ecs.instance-type", "m5.large"),
            ("ecs.availability-zone", "us-east-1a"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let holds = |e: &str| member_of_holds(e, &attributes);
        assert_eq!(holds("attribute:ecs.instance-type == m5.large"), Some(true));
        assert_eq!(
            holds("attribute:ecs.instance-type != m5.large"),
            Some(false)
        );
        assert_eq!(
            holds("attribute:ecs.availability-zone in [us-east-1b, us-east-1a]"),
            Some(true)
        );
        assert_eq!(
            holds("attribute:ecs.availability-zone not_in [us-east-1a]"),
            Some(false)
        );
        assert_eq!(holds("attribute:team == ml"), Some(false));
        assert_eq!(holds("attribute:ecs.instance-type =~ m5.*"), None);
        assert_eq!(holds("task:group == service:web"), None);
    }

    #[test]
    fn ask_reads_ports_by_network_mode_gpus_and_member_of() {
        let container = ContainerDefinition::builder()
            .name("app")
            .cpu(256)
            .memory(512)
            .port_mappings(
                PortMapping::builder()
                    .container_port(8080)
                    .host_port(80)
                    .build(),
            )
            .port_mappings(
                PortMapping::builder()
                    .container_port(9000)
                    .host_port(0)
                    .build(),
            )
            .port_mappings(
                PortMapping::builder()
                    .container_port(53)
                    .host_port(53)
                    .protocol(TransportProtocol::Udp)
                    .build(),
            )
            .resource_requirements(
                ResourceRequirement::builder()
                    .r#type(ResourceType::Gpu)
                    .value("2")
                    .build()
                    .expect("type and value"),
            )
            .build();
        let td = |mode: Option<NetworkMode>| {
            TaskDefinition::builder()
                .set_network_mode(mode)
                .container_definitions(container.clone())
                .placement_constraints(
                    TaskDefinitionPlacementConstraint::builder()
                        .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                        .expression("attribute:ecs.instance-type == g4dn.xlarge")
                        .build(),
                )
                .build()
        };
        let bridge = ask(&td(None)).expect("readable");
        assert_eq!(bridge.ports, vec![(80, false), (53, true)]);
        assert_eq!(bridge.gpus, 2);
        assert_eq!(bridge.size, Resources::new(256, 512));
        assert_eq!(
            bridge.member_of,
            vec!["attribute:ecs.instance-type == g4dn.xlarge"]
        );
        let host = ask(&td(Some(NetworkMode::Host))).expect("readable");
        assert_eq!(host.ports, vec![(8080, false), (9000, false), (53, true)]);
        assert!(ask(&td(Some(NetworkMode::Awsvpc)))
            .expect("readable")
            .ports
            .is_empty());
    }

    fn instance_in(n: usize, zone: &str, free: Resources) -> ContainerInstance {
        ContainerInstance {
            arn: format!("arn:ci/{n}"),
            ec2_instance_id: format!("i-{n}"),
            status: InstanceStatus::Active,
            registered: Resources::new(4096, 8192),
            remaining: free,
            running_tasks: 0,
            pending_tasks: 0,
            tasks: vec![],
            draining_since_epoch_secs: None,
            agent_connected: true,
            drain_aborted_at_epoch_secs: None,
            placement: shared::state::InstancePlacement {
                attributes: [("ecs.availability-zone".to_owned(), zone.to_owned())]
                    .into_iter()
                    .collect(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn a_service_without_a_strategy_spreads_over_zones_then_instances() {
        use aws_sdk_ecs::types::{PlacementStrategy, PlacementStrategyType};
        let none = Service::builder().service_name("web").build();
        assert_eq!(
            strategy(&none),
            [
                Rank::Spread("attribute:ecs.availability-zone".into()),
                Rank::Spread("instanceId".into())
            ]
        );
        let packed = Service::builder()
            .placement_strategy(
                PlacementStrategy::builder()
                    .r#type(PlacementStrategyType::Binpack)
                    .field("memory")
                    .build(),
            )
            .placement_strategy(
                PlacementStrategy::builder()
                    .r#type(PlacementStrategyType::Random)
                    .build(),
            )
            .build();
        assert_eq!(
            strategy(&packed),
            [Rank::Binpack("memory".into()), Rank::Any]
        );
    }

    #[test]
    fn pick_takes_the_zone_with_fewest_tasks_then_the_instance_with_fewest() {
        let big = Resources::new(4096, 8192);
        // a: instances 0 (2 tasks) and 1 (1 task); b: instance 2 (4 tasks), 3 (0 tasks, full).
        let instances = vec![
            instance_in(0, "us-east-1a", big),
            instance_in(1, "us-east-1a", big),
            instance_in(2, "us-east-1b", big),
            instance_in(3, "us-east-1b", Resources::ZERO),
        ];
        let mut tasks: HashMap<String, usize> = HashMap::new();
        tasks.insert("arn:ci/0".into(), 2);
        tasks.insert("arn:ci/1".into(), 1);
        tasks.insert("arn:ci/2".into(), 4);
        let default = strategy(&Service::builder().build());
        let free = |i: &ContainerInstance| i.remaining;
        // Zone a has 3 tasks, b 4: in a, instance 1 has the fewest.
        assert_eq!(
            pick(&default, &[0, 1, 2], &instances, &tasks, &free),
            Some(1)
        );
        // Best effort: zone a cannot take it, b can.
        assert_eq!(pick(&default, &[2], &instances, &tasks, &free), Some(2));
        assert_eq!(pick(&default, &[], &instances, &tasks, &free), None);
        // b's full instance counts toward its zone though it takes nothing: a 4, b 3 + 2.
        tasks.insert("arn:ci/1".into(), 2);
        tasks.insert("arn:ci/2".into(), 3);
        tasks.insert("arn:ci/3".into(), 2);
        assert_eq!(
            pick(&default, &[0, 1, 2], &instances, &tasks, &free),
            Some(0)
        );
        // Binpack on memory: the least left, whatever the zones.
        let mut roomy = instances.clone();
        roomy[1].remaining = Resources::new(4096, 1024);
        let binpack = [Rank::Binpack("memory".into())];
        assert_eq!(pick(&binpack, &[0, 1, 2], &roomy, &tasks, &free), Some(1));
        // No rank narrows: the first in listing order.
        assert_eq!(pick(&[Rank::Any], &[2, 0], &roomy, &tasks, &free), Some(2));
    }

    #[test]
    fn room_refuses_taken_ports_and_missing_gpus() {
        let mut room = Room {
            free: Resources::new(1024, 1024),
            ports: AGENT_PORTS.iter().map(|&p| (p, false)).collect(),
            gpus: 1,
            enis: None,
        };
        let web = Ask {
            size: Resources::new(256, 256),
            gpus: 1,
            ports: vec![(80, false)],
            member_of: vec![],
            eni: false,
        };
        assert!(room.takes(&web));
        room.take(&web);
        assert!(
            !room.takes(&Ask {
                gpus: 0,
                ..web.clone()
            }),
            "80 is taken"
        );
        assert!(
            !room.takes(&Ask {
                ports: vec![],
                ..web.clone()
            }),
            "no GPU left"
        );
        assert!(!room.takes(&Ask {
            gpus: 0,
            ports: vec![(22, false)],
            ..web.clone()
        }));
        room.give_back(&web);
        assert!(room.takes(&web));
    }

    #[test]
    fn room_counts_enis_of_awsvpc_tasks_only() {
        let mut room = Room {
            free: Resources::new(4096, 4096),
            enis: Some(2),
            ..Room::default()
        };
        let vpc = Ask {
            size: Resources::new(256, 256),
            eni: true,
            ..Ask::default()
        };
        let plain = Ask {
            eni: false,
            ..vpc.clone()
        };
        room.take(&vpc);
        room.take(&vpc);
        assert!(!room.takes(&vpc), "two ENIs, both taken");
        assert!(room.takes(&plain));
        room.give_back(&vpc);
        assert!(room.takes(&vpc));
        let unlimited = Room {
            enis: None,
            ..room.clone()
        };
        assert!(unlimited.takes(&vpc));
    }
}
