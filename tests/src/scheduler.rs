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
//! ignore task-level sizes).

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Context, Result};
use aws_sdk_ecs::types::{Service, TaskDefinition};
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
    /// Desired count (0 for a service that is not ACTIVE).
    pub desired: usize,
    /// Live tasks after converging.
    pub running: usize,
    /// Tasks started.
    pub started: usize,
    /// Tasks stopped (drained off non-ACTIVE instances plus surplus).
    pub stopped: usize,
    /// Tasks that fit on no ACTIVE instance (desired - running after converging).
    pub unplaced: usize,
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

/// Plays the ECS service scheduler once for `cluster` (name or ARN):
///
/// 1. stops every service task on a container instance that is not ACTIVE (DRAINING or gone);
/// 2. stops surplus tasks when a service runs more than desired, taking them first from the
///    instance running the fewest tasks;
/// 3. starts missing tasks, first-fit over ACTIVE instances (in ListContainerInstances order)
///    by remaining CPU and memory as ECS accounts them ([`reservation`]); a task that fits
///    nowhere is reported as unplaced.
///
/// Only tasks in group `service:NAME` are touched.
pub async fn converge(ecs: &EcsClient, cluster: &str) -> Result<ConvergeReport> {
    let cluster_arn = cluster_arn(ecs, cluster).await?;
    let mut services = services(ecs, cluster).await?;
    services.sort_by(|a, b| a.service_name().cmp(&b.service_name()));
    let mut instances = container_instances(ecs, cluster).await?;
    let tasks = live_tasks(ecs, cluster, &cluster_arn, None).await?;

    let mut per_instance: HashMap<String, usize> = HashMap::new();
    let mut used: HashMap<String, Resources> = HashMap::new();
    let mut reservations = ReservationCache::default();
    for task in &tasks {
        if let Some(ci) = &task.container_instance_arn {
            *per_instance.entry(ci.clone()).or_default() += 1;
            let size = reservations.get(ecs, &task.task_definition_arn).await?;
            let sum = used.entry(ci.clone()).or_default();
            *sum = sum.saturating_add(size);
        }
    }
    // moto's remainingResources follow moto's accounting (see `reservation`); the room the
    // scheduler places into is ECS's: registered minus what the live tasks reserve.
    for instance in &mut instances {
        let reserved = used.get(&instance.arn).copied().unwrap_or_default();
        instance.remaining = instance.registered.saturating_sub(reserved);
    }
    let mut reports = Vec::new();
    let mut service_tasks: Vec<Vec<Task>> = Vec::new();

    // Stops first (draining, then surplus) so that freed capacity is available to placement.
    for service in &services {
        let name = service.service_name().unwrap_or_default().to_owned();
        let desired = if service.status() == Some("ACTIVE") {
            usize::try_from(service.desired_count()).unwrap_or(0)
        } else {
            0
        };
        let group = service_group(&name);
        let mut mine: Vec<Task> = tasks.iter().filter(|t| t.group == group).cloned().collect();
        let mut report = ServiceReport {
            service: name,
            desired,
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
                &mut per_instance,
                &mut reservations,
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
                &mut per_instance,
                &mut reservations,
            )
            .await?;
            report.stopped += 1;
        }
        service_tasks.push(mine);
        reports.push(report);
    }

    for ((service, report), mine) in services.iter().zip(&mut reports).zip(&service_tasks) {
        let missing = report.desired.saturating_sub(mine.len());
        let mut placed = Vec::new();
        if missing > 0 {
            let task_definition = service
                .task_definition()
                .with_context(|| format!("service {} has no task definition", report.service))?;
            let need = reservations.get(ecs, task_definition).await?;
            for _ in 0..missing {
                let Some(instance) = instances.iter_mut().find(|i| {
                    i.status == InstanceStatus::Active
                        && i.remaining.cpu >= need.cpu
                        && i.remaining.memory >= need.memory
                }) else {
                    break;
                };
                instance.remaining = instance.remaining.saturating_sub(need);
                instance.running_tasks += 1;
                *per_instance.entry(instance.arn.clone()).or_default() += 1;
                placed.push(instance.arn.clone());
            }
            if !placed.is_empty() {
                world::start_tasks(ecs, cluster, &report.service, task_definition, &placed).await?;
            }
        }
        report.started = placed.len();
        report.running = mine.len() + placed.len();
        report.unplaced = report.desired.saturating_sub(report.running);
    }
    Ok(ConvergeReport { services: reports })
}

#[allow(clippy::too_many_arguments)]
async fn stop(
    ecs: &EcsClient,
    cluster: &str,
    task: &Task,
    reason: &str,
    instances: &mut [ContainerInstance],
    per_instance: &mut HashMap<String, usize>,
    reservations: &mut ReservationCache,
) -> Result<()> {
    ecs.stop_task()
        .cluster(cluster)
        .task(&task.arn)
        .reason(reason)
        .send()
        .await
        .with_context(|| format!("StopTask {}", task.arn))?;
    if let Some(ci) = &task.container_instance_arn {
        let freed = reservations.get(ecs, &task.task_definition_arn).await?;
        if let Some(instance) = instances.iter_mut().find(|i| &i.arn == ci) {
            instance.remaining = instance.remaining.saturating_add(freed);
            instance.running_tasks = instance.running_tasks.saturating_sub(1);
        }
        if let Some(count) = per_instance.get_mut(ci) {
            *count = count.saturating_sub(1);
        }
    }
    Ok(())
}

/// Task definition ARN -> reservation, filled lazily with DescribeTaskDefinition.
#[derive(Default)]
struct ReservationCache(HashMap<String, Resources>);

impl ReservationCache {
    async fn get(&mut self, ecs: &EcsClient, task_definition: &str) -> Result<Resources> {
        if let Some(found) = self.0.get(task_definition) {
            return Ok(*found);
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
        let found = reservation(td)?;
        self.0.insert(task_definition.to_owned(), found);
        Ok(found)
    }
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
