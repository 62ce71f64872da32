//! The ECS service scheduler, which moto lacks: places, drains and scales in service tasks.
//!
//! A service's tasks are the live tasks (desired RUNNING, last status not STOPPED) whose group
//! is `service:NAME`; the harness starts them with `startedBy` =
//! [`started_by`] so that ListTasks can filter on it.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Context, Result};
use aws_sdk_ecs::types::{DesiredStatus, Service, TaskDefinition};
use aws_sdk_ecs::Client as EcsClient;

use crate::world::{self, service_group, started_by};

/// A container instance as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceView {
    /// Container instance ARN.
    pub arn: String,
    /// EC2 instance id.
    pub ec2_instance_id: String,
    /// `ACTIVE`, `DRAINING`, ...
    pub status: String,
    /// Registered CPU units.
    pub registered_cpu: i32,
    /// Registered memory (MiB).
    pub registered_memory: i32,
    /// Remaining CPU units.
    pub remaining_cpu: i32,
    /// Remaining memory (MiB).
    pub remaining_memory: i32,
    /// `runningTasksCount` as ECS reports it.
    pub running_tasks: i32,
}

/// A task as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    /// Task ARN.
    pub arn: String,
    /// Task group, e.g. `service:web`.
    pub group: String,
    /// `startedBy`.
    pub started_by: String,
    /// Container instance it runs on, if any.
    pub container_instance_arn: Option<String>,
    /// Task definition ARN.
    pub task_definition_arn: String,
    /// Last status, e.g. `RUNNING`.
    pub last_status: String,
    /// Desired status, e.g. `RUNNING`.
    pub desired_status: String,
}

/// CPU units and MiB a task reserves on its container instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reservation {
    /// CPU units.
    pub cpu: i32,
    /// Memory, MiB.
    pub memory: i32,
}

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
///    by remaining CPU and memory; a task that fits nowhere is reported as unplaced.
///
/// Only tasks in group `service:NAME` are touched.
pub async fn converge(ecs: &EcsClient, cluster: &str) -> Result<ConvergeReport> {
    let cluster_arn = cluster_arn(ecs, cluster).await?;
    let mut services = services(ecs, cluster).await?;
    services.sort_by(|a, b| a.service_name().cmp(&b.service_name()));
    let mut instances = container_instances(ecs, cluster).await?;
    let tasks = live_tasks(ecs, cluster, &cluster_arn, None).await?;

    let mut per_instance: HashMap<String, usize> = HashMap::new();
    for task in &tasks {
        if let Some(ci) = &task.container_instance_arn {
            *per_instance.entry(ci.clone()).or_default() += 1;
        }
    }
    let mut reservations = ReservationCache::default();
    let mut reports = Vec::new();
    let mut service_tasks: Vec<Vec<TaskView>> = Vec::new();

    // Stops first (draining, then surplus) so that freed capacity is available to placement.
    for service in &services {
        let name = service.service_name().unwrap_or_default().to_owned();
        let desired = if service.status() == Some("ACTIVE") {
            usize::try_from(service.desired_count()).unwrap_or(0)
        } else {
            0
        };
        let group = service_group(&name);
        let mut mine: Vec<TaskView> = tasks.iter().filter(|t| t.group == group).cloned().collect();
        let mut report = ServiceReport {
            service: name,
            desired,
            ..ServiceReport::default()
        };

        let (keep, drain): (Vec<TaskView>, Vec<TaskView>) = mine.into_iter().partition(|t| {
            t.container_instance_arn.as_ref().is_some_and(|ci| {
                instances
                    .iter()
                    .any(|i| &i.arn == ci && i.status == "ACTIVE")
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
                    i.status == "ACTIVE"
                        && i.remaining_cpu >= need.cpu
                        && i.remaining_memory >= need.memory
                }) else {
                    break;
                };
                instance.remaining_cpu -= need.cpu;
                instance.remaining_memory -= need.memory;
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
    task: &TaskView,
    reason: &str,
    instances: &mut [InstanceView],
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
            instance.remaining_cpu += freed.cpu;
            instance.remaining_memory += freed.memory;
            instance.running_tasks -= 1;
        }
        if let Some(count) = per_instance.get_mut(ci) {
            *count = count.saturating_sub(1);
        }
    }
    Ok(())
}

/// Task definition ARN -> reservation, filled lazily with DescribeTaskDefinition.
#[derive(Default)]
struct ReservationCache(HashMap<String, Reservation>);

impl ReservationCache {
    async fn get(&mut self, ecs: &EcsClient, task_definition: &str) -> Result<Reservation> {
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

/// What a task of `td` reserves on an EC2 container instance: the sum of its containers' `cpu`
/// and `memory` (else `memoryReservation`), as moto accounts it; the task-level values only
/// when the containers declare nothing (moto answers task-level values as null).
pub fn reservation(td: &TaskDefinition) -> Result<Reservation> {
    let mut total = Reservation::default();
    for container in td.container_definitions() {
        total.cpu += container.cpu();
        total.memory += container
            .memory()
            .or(container.memory_reservation())
            .unwrap_or(0);
    }
    if total.cpu == 0 {
        if let Some(cpu) = td.cpu() {
            total.cpu = cpu
                .trim()
                .parse()
                .with_context(|| format!("task-level cpu {cpu:?}"))?;
        }
    }
    if total.memory == 0 {
        if let Some(memory) = td.memory() {
            total.memory = memory
                .trim()
                .parse()
                .with_context(|| format!("task-level memory {memory:?}"))?;
        }
    }
    Ok(total)
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
    let mut services = Vec::new();
    for chunk in arns.chunks(10) {
        let out = ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .send()
            .await
            .with_context(|| format!("DescribeServices {cluster}"))?;
        if let Some(failure) = out.failures().first() {
            bail!("DescribeServices {cluster}: {failure:?}");
        }
        services.extend(out.services().iter().cloned());
    }
    Ok(services)
}

/// Every container instance of `cluster`, any status (paginated, described 100 at a time).
pub async fn container_instances(ecs: &EcsClient, cluster: &str) -> Result<Vec<InstanceView>> {
    let mut arns = Vec::new();
    let mut pages = ecs
        .list_container_instances()
        .cluster(cluster)
        .max_results(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| format!("ListContainerInstances {cluster}"))?;
        arns.extend(page.container_instance_arns().iter().cloned());
    }
    let mut views = Vec::new();
    for chunk in arns.chunks(100) {
        let out = ecs
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(chunk.to_vec()))
            .send()
            .await
            .with_context(|| format!("DescribeContainerInstances {cluster}"))?;
        if let Some(failure) = out.failures().first() {
            bail!("DescribeContainerInstances {cluster}: {failure:?}");
        }
        for ci in out.container_instances() {
            let arn = ci
                .container_instance_arn()
                .context("a container instance without ARN")?
                .to_owned();
            let value = |resources: &[aws_sdk_ecs::types::Resource], name: &str| {
                resources
                    .iter()
                    .find(|r| r.name() == Some(name))
                    .map(|r| r.integer_value())
                    .with_context(|| format!("container instance {arn} reports no {name}"))
            };
            views.push(InstanceView {
                ec2_instance_id: ci.ec2_instance_id().unwrap_or_default().to_owned(),
                status: ci.status().unwrap_or_default().to_owned(),
                registered_cpu: value(ci.registered_resources(), "CPU")?,
                registered_memory: value(ci.registered_resources(), "MEMORY")?,
                remaining_cpu: value(ci.remaining_resources(), "CPU")?,
                remaining_memory: value(ci.remaining_resources(), "MEMORY")?,
                running_tasks: ci.running_tasks_count(),
                arn,
            });
        }
    }
    Ok(views)
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
) -> Result<Vec<TaskView>> {
    let mut arns = Vec::new();
    let mut pages = ecs
        .list_tasks()
        .cluster(cluster)
        .set_started_by(started_by.map(str::to_owned))
        .desired_status(DesiredStatus::Running)
        .max_results(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| format!("ListTasks {cluster}"))?;
        arns.extend(page.task_arns().iter().cloned());
    }
    let mut views = Vec::new();
    for chunk in arns.chunks(100) {
        let out = ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .with_context(|| format!("DescribeTasks {cluster}"))?;
        for task in out.tasks() {
            if task.cluster_arn() != Some(cluster_arn)
                || task.desired_status() != Some("RUNNING")
                || task.last_status() == Some("STOPPED")
            {
                continue;
            }
            views.push(TaskView {
                arn: task.task_arn().context("a task without ARN")?.to_owned(),
                group: task.group().unwrap_or_default().to_owned(),
                started_by: task.started_by().unwrap_or_default().to_owned(),
                container_instance_arn: task.container_instance_arn().map(str::to_owned),
                task_definition_arn: task.task_definition_arn().unwrap_or_default().to_owned(),
                last_status: task.last_status().unwrap_or_default().to_owned(),
                desired_status: task.desired_status().unwrap_or_default().to_owned(),
            });
        }
    }
    Ok(views)
}

/// The live tasks of `service` in `cluster`.
pub async fn service_tasks(ecs: &EcsClient, cluster: &str, service: &str) -> Result<Vec<TaskView>> {
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
