//! The task listing: the cheaper way to list the tasks the core can use, and their reading
//! onto the container instances.

use std::collections::{HashMap, HashSet};

use shared::aws::read::{self, TaskFilter, ITEMS_PER_CALL};
use shared::aws::state::task;
use shared::resources::Resources;
use shared::state::{ContainerInstance, PlacedTask};

use super::{ReadError, TaskDefinitionCache};
use crate::TaskListing;

/// How the reader lists the tasks the core can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing<'a> {
    /// No task listing.
    Skip,
    /// ListTasks for the whole cluster.
    Cluster,
    /// ListTasks per container instance (these ARNs).
    Instances(&'a [String]),
}

/// The cheaper way to get what `listing` asks, counting calls from the instances' task
/// counts: the whole cluster costs max(1, ⌈T/100⌉) list pages and ⌈T/100⌉ describes; instances
/// max(1, ⌈their tasks/100⌉) list pages each, and ⌈their tasks/100⌉ describes.
pub fn choose_listing<'a>(
    listing: &'a TaskListing,
    instances: &[ContainerInstance],
) -> Listing<'a> {
    let pages = |n: u64| n.div_ceil(ITEMS_PER_CALL as u64);
    let tasks = |ci: &ContainerInstance| u64::from(ci.running_tasks) + u64::from(ci.pending_tasks);
    let total: u64 = instances.iter().map(tasks).sum();
    let cluster_calls = pages(total).max(1) + pages(total);
    match listing {
        TaskListing::None => Listing::Skip,
        TaskListing::All => Listing::Cluster,
        TaskListing::Instances(arns) => {
            let count = |arn: &String| {
                instances
                    .iter()
                    .find(|ci| &ci.arn == arn)
                    .map(tasks)
                    .unwrap_or(0)
            };
            let listed: u64 = arns.iter().map(count).sum();
            let instance_calls: u64 =
                arns.iter().map(|a| pages(count(a)).max(1)).sum::<u64>() + pages(listed);
            if instance_calls < cluster_calls {
                Listing::Instances(arns)
            } else {
                Listing::Cluster
            }
        }
    }
}

/// Lists the tasks `listing` names (desired status RUNNING, PENDING ones too) and puts each
/// on its container instance in `instances`, with its size. `false` when nothing was listed.
pub(super) async fn list_onto(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    listing: Listing<'_>,
    instances: &mut [ContainerInstance],
    cache: &TaskDefinitionCache,
) -> Result<bool, ReadError> {
    let arns = match listing {
        Listing::Skip => return Ok(false),
        Listing::Cluster => list(ecs, cluster, None).await?,
        Listing::Instances(arns) => {
            let mut tasks = Vec::new();
            for arn in arns {
                tasks.extend(list(ecs, cluster, Some(arn)).await?);
            }
            tasks
        }
    };
    let tasks = describe(ecs, cluster, &arns, cache).await?;
    assign(instances, tasks);
    Ok(true)
}

/// The cluster's task ARNs, of one container instance when given.
async fn list(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    container_instance: Option<&str>,
) -> Result<Vec<String>, ReadError> {
    let filter = TaskFilter {
        container_instance,
        ..TaskFilter::default()
    };
    read::list_tasks(ecs, cluster, filter)
        .await
        .map_err(|e| ReadError::call(cluster, "ListTasks", e))
}

/// A task on a container instance, before it is attached to the instance.
#[derive(Debug, Clone, PartialEq)]
struct TaskOnInstance {
    container_instance_arn: String,
    task: PlacedTask,
}

/// DescribeTasks 100 at a time: each live task's instance, service and size (task-level
/// `cpu`/`memory` when ECS reports them, else its task definition's, through the cache).
async fn describe(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    cache: &TaskDefinitionCache,
) -> Result<Vec<TaskOnInstance>, ReadError> {
    const OP: &str = "DescribeTasks";
    let asked: HashSet<&str> = arns.iter().map(String::as_str).collect();
    let cluster_suffix = format!("/{cluster}");
    let described = read::describe_tasks(ecs, cluster, arns)
        .await
        .map_err(|e| ReadError::call(cluster, OP, e))?;
    let mut tasks = Vec::new();
    for found in &described.found {
        let t = task(found).map_err(|e| ReadError::invalid(cluster, OP, e.to_string()))?;
        let elsewhere = t
            .cluster_arn
            .as_deref()
            .is_some_and(|c| !c.ends_with(&cluster_suffix));
        if !asked.contains(t.arn.as_str()) || elsewhere || t.last_status == "STOPPED" {
            continue;
        }
        // Not on an instance (Fargate, or not placed yet): not part of any drain.
        let Some(instance) = t.container_instance_arn.clone() else {
            continue;
        };
        let size = match (t.cpu, t.memory) {
            (Some(cpu), Some(memory)) => Resources::new(cpu, memory),
            (cpu, memory) => {
                if t.task_definition_arn.is_empty() {
                    return Err(ReadError::invalid(
                        cluster,
                        OP,
                        format!("task `{}` has no taskDefinitionArn", t.arn),
                    ));
                }
                let td = cache
                    .size(ecs, cluster, &t.task_definition_arn)
                    .await?
                    .reservation;
                Resources::new(cpu.unwrap_or(td.cpu), memory.unwrap_or(td.memory))
            }
        };
        tasks.push(TaskOnInstance {
            container_instance_arn: instance,
            task: PlacedTask {
                service: t.service().map(str::to_owned),
                arn: t.arn,
                size,
                protected_until_epoch_secs: None,
            },
        });
    }
    Ok(tasks)
}

fn assign(instances: &mut [ContainerInstance], tasks: Vec<TaskOnInstance>) {
    let index: HashMap<String, usize> = instances
        .iter()
        .enumerate()
        .map(|(i, ci)| (ci.arn.clone(), i))
        .collect();
    for t in tasks {
        // Tasks on instances not read (REGISTERING, DEREGISTERING) are not part of any drain.
        if let Some(&i) = index.get(&t.container_instance_arn) {
            instances[i].tasks.push(t.task);
        }
    }
    for ci in instances.iter_mut() {
        ci.tasks.sort_by(|a, b| a.arn.cmp(&b.arn));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::state::InstanceStatus;

    fn instance(arn: &str, running: u32) -> ContainerInstance {
        ContainerInstance {
            arn: arn.into(),
            ec2_instance_id: "i".into(),
            status: InstanceStatus::Active,
            registered: Resources::new(4096, 7482),
            remaining: Resources::new(4096, 7482),
            running_tasks: running,
            pending_tasks: 0,
            tasks: vec![],
            draining_since_epoch_secs: None,
            agent_connected: true,
            drain_aborted_at_epoch_secs: None,
            placement: Default::default(),
        }
    }

    #[test]
    fn the_cheaper_listing_is_chosen() {
        // 1,000 instances of 20 tasks: the cluster costs 200 + 200 calls; 16 instances 16 + 4.
        let big: Vec<_> = (0..1000).map(|n| instance(&format!("ci{n}"), 20)).collect();
        let some: Vec<String> = (0..16).map(|n| format!("ci{n}")).collect();
        let listing = TaskListing::Instances(some.clone());
        assert_eq!(choose_listing(&listing, &big), Listing::Instances(&some));
        // Three instances of 2 tasks: one cluster-wide page and one describe are cheaper.
        let small: Vec<_> = (0..3).map(|n| instance(&format!("ci{n}"), 2)).collect();
        let three: Vec<String> = (0..3).map(|n| format!("ci{n}")).collect();
        let listing = TaskListing::Instances(three);
        assert_eq!(choose_listing(&listing, &small), Listing::Cluster);
        assert_eq!(choose_listing(&TaskListing::None, &big), Listing::Skip);
        assert_eq!(choose_listing(&TaskListing::All, &small), Listing::Cluster);
    }

    #[test]
    fn tasks_go_to_their_instances_sorted_and_others_are_dropped() {
        let placed = |ci: &str, arn: &str| TaskOnInstance {
            container_instance_arn: ci.into(),
            task: PlacedTask {
                arn: arn.into(),
                service: None,
                size: Resources::new(1, 1),
                protected_until_epoch_secs: None,
            },
        };
        let mut instances = vec![instance("ci0", 2), instance("ci1", 0)];
        assign(
            &mut instances,
            vec![
                placed("ci0", "t2"),
                placed("registering", "t3"),
                placed("ci0", "t1"),
            ],
        );
        let arns: Vec<&str> = instances[0].tasks.iter().map(|t| t.arn.as_str()).collect();
        assert_eq!(arns, ["t1", "t2"]);
        assert!(instances[1].tasks.is_empty());
    }
}
