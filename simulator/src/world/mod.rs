//! The simulated cluster: an Auto Scaling group whose instances boot and register with ECS, and
//! ECS's service scheduler placing, starting, stopping and moving tasks. Written from ECS's and
//! Auto Scaling's documented behaviour, apart from the planner's packing code.
//!
//! Time is continuous between steps: [`World::advance_to`] plays every event due (an instance
//! registering, a task reaching RUNNING, a drained task whose replacement runs) at its own time,
//! and the scheduler reacts at once, as ECS does within seconds.
//!
//! - `group`: the group's API as Auto Scaling answers it (limits, desired capacity, launches,
//!   its own terminations when the desired capacity falls below its instances);
//! - `scheduler`: placement (`binpack` on memory, `spread` over instances, `distinctInstance`),
//!   scale-in, and the replacement of tasks on DRAINING instances;
//! - `view`: the world as the planner reads it (`shared::state::ClusterState`) and as the
//!   executor re-reads it for its guards.

mod group;
mod scheduler;
mod view;

use shared::resources::Resources;
use shared::state::ScalingRecord;

use crate::world_file::{Placement, WorldFile};

/// Every change the world refuses or a check finds wrong, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// An instance was terminated while tasks ran or were starting on it.
    TerminatedWithTasks {
        /// Its EC2 id.
        instance: String,
        /// Tasks lost with it.
        tasks: usize,
        /// Who terminated it.
        by: &'static str,
    },
    /// A desired capacity outside the group's limits was asked for (Auto Scaling refuses it).
    DesiredOutsideLimits {
        /// Asked.
        desired: u32,
        /// MinSize.
        min: u32,
        /// MaxSize.
        max: u32,
    },
    /// A MaxSize below the desired capacity: Auto Scaling lowers the desired capacity and
    /// terminates instances of its own choosing.
    MaxBelowDesired {
        /// The new MaxSize.
        max: u32,
        /// The desired capacity before.
        desired: u32,
    },
    /// The group holds more instances than its MaxSize, or a desired capacity outside its limits.
    GroupOutsideLimits {
        /// Instances.
        instances: usize,
        /// DesiredCapacity.
        desired: u32,
        /// MinSize.
        min: u32,
        /// MaxSize.
        max: u32,
    },
    /// A service's desired count outside the cluster file's [min, max].
    ServiceOutsideBounds {
        /// The service.
        service: String,
        /// Its desired count.
        desired: u32,
        /// The file's min.
        min: u32,
        /// The file's max.
        max: u32,
    },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::TerminatedWithTasks { instance, tasks, by } => {
                write!(f, "{instance} terminated by {by} with {tasks} task(s) on it")
            }
            Violation::DesiredOutsideLimits { desired, min, max } => write!(
                f,
                "desired capacity {desired} asked outside the group's limits [{min}, {max}]"
            ),
            Violation::MaxBelowDesired { max, desired } => write!(
                f,
                "MaxSize {max} set below the desired capacity {desired}"
            ),
            Violation::GroupOutsideLimits {
                instances,
                desired,
                min,
                max,
            } => write!(
                f,
                "group outside its limits: {instances} instance(s), desired {desired}, limits [{min}, {max}]"
            ),
            Violation::ServiceOutsideBounds {
                service,
                desired,
                min,
                max,
            } => write!(
                f,
                "service `{service}` desired {desired} outside the file's [{min}, {max}]"
            ),
        }
    }
}

/// ECS container instance status, as far as the world needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Takes tasks.
    Active,
    /// Its service tasks are replaced elsewhere; takes none.
    Draining {
        /// When the drain began.
        since: u64,
    },
}

/// One task, on the instance that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    /// Unique in the run.
    pub id: u64,
    /// Index into [`World::services`].
    pub service: usize,
    /// RUNNING from this time (PENDING before).
    pub ready_at: u64,
}

impl Task {
    /// Whether it is RUNNING at `now`.
    pub fn running(&self, now: u64) -> bool {
        self.ready_at <= now
    }
}

/// One EC2 instance of the group (and, once registered, its ECS container instance).
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Unique in the run, increasing with launch order.
    pub id: u32,
    /// The EC2 instance id.
    pub ec2_id: String,
    /// The container instance ARN.
    pub arn: String,
    /// When it registers with ECS (Pending in the group until then, InService after).
    pub registers_at: u64,
    /// Whether it has registered.
    pub registered: bool,
    /// ECS status.
    pub status: Status,
    /// The executor's drain record (`ecs-autoscale.drained-at`), epoch seconds.
    pub drained_at: Option<u64>,
    /// The executor's record of an aborted drain (`ecs-autoscale.drain-aborted-at`), epoch
    /// seconds.
    pub drain_aborted_at: Option<u64>,
    /// Room left.
    pub free: Resources,
    /// Tasks placed on it.
    pub tasks: Vec<Task>,
}

impl Instance {
    /// Whether it is DRAINING.
    pub fn draining(&self) -> bool {
        matches!(self.status, Status::Draining { .. })
    }

    /// Whether the scheduler may place tasks on it.
    pub fn takes_tasks(&self) -> bool {
        self.registered && self.status == Status::Active
    }
}

/// One ECS service.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// desiredCount.
    pub desired: u32,
    /// One task's reservation.
    pub size: Resources,
    /// Placement strategy.
    pub placement: Placement,
    /// `distinctInstance`.
    pub distinct: bool,
    /// The executor's `ecs-autoscale:last-scaling` tag.
    pub last_scaling: Option<ScalingRecord>,
}

/// The Auto Scaling group's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// MinSize.
    pub min: u32,
    /// MaxSize.
    pub max: u32,
    /// DesiredCapacity.
    pub desired: u32,
}

/// Timings and sizes that do not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// Launch → registered.
    pub boot_secs: u64,
    /// Placed → RUNNING.
    pub task_start_secs: u64,
    /// Drain start → a task of the instance may stop (once its replacement runs).
    pub drain_secs: u64,
    /// An instance's registered resources.
    pub instance: Resources,
}

/// The whole world.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    /// The ECS cluster's name.
    pub cluster: String,
    /// Now, epoch seconds.
    pub now: u64,
    /// Timings and sizes.
    pub timings: Timings,
    /// The group.
    pub group: Group,
    /// Its instances (booting and registered), by increasing id.
    pub instances: Vec<Instance>,
    /// The services.
    pub services: Vec<Service>,
    /// Tasks stopped on DRAINING instances so far.
    pub tasks_moved: u64,
    /// Tasks that started (reached RUNNING) so far.
    pub tasks_started: u64,
    /// When a task last reached RUNNING.
    pub last_task_start: Option<u64>,
    /// What went wrong, as it happened (drained by the run loop).
    pub violations: Vec<Violation>,
    next_instance: u32,
    next_task: u64,
    /// Tasks that reach RUNNING up to this time are counted in `tasks_started`.
    starts_counted: u64,
}

const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";

impl World {
    /// The world of `file` at `now`: the group's desired instances registered and ACTIVE, each
    /// service's desired tasks RUNNING where the scheduler can place them.
    pub fn new(cluster: &str, group_name: &str, file: &WorldFile, now: u64) -> World {
        let timings = Timings {
            boot_secs: file.instance_boot_secs,
            task_start_secs: file.task_start_secs,
            drain_secs: file.drain_secs,
            instance: file.instance.into(),
        };
        let services = file
            .services
            .iter()
            .map(|(name, s)| Service {
                name: name.clone(),
                arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}"),
                desired: s.desired,
                size: s.size(),
                placement: s.placement,
                distinct: s.distinct_instance,
                last_scaling: None,
            })
            .collect();
        let mut world = World {
            cluster: cluster.to_owned(),
            now,
            timings,
            group: Group {
                name: group_name.to_owned(),
                min: file.group.min,
                max: file.group.max,
                desired: file.group.desired,
            },
            instances: Vec::new(),
            services,
            tasks_moved: 0,
            tasks_started: 0,
            last_task_start: None,
            violations: Vec::new(),
            next_instance: 0,
            next_task: 0,
            starts_counted: now,
        };
        for _ in 0..file.group.desired {
            let i = world.launch();
            let instance = &mut world.instances[i];
            instance.registers_at = now;
            instance.registered = true;
        }
        world.schedule();
        // The starting tasks are already RUNNING.
        for instance in &mut world.instances {
            for task in &mut instance.tasks {
                task.ready_at = now;
            }
        }
        world
    }

    /// Plays every event up to `t` at its own time, then lets the scheduler act at `t`.
    pub fn advance_to(&mut self, t: u64) {
        while let Some(at) = self.next_event().filter(|&at| at <= t) {
            self.now = at.max(self.now);
            self.settle();
        }
        self.now = t.max(self.now);
        self.settle();
    }

    /// What happens at `now`: registrations, tasks reaching RUNNING, then the scheduler.
    fn settle(&mut self) {
        let now = self.now;
        let since = self.starts_counted;
        for instance in &mut self.instances {
            if !instance.registered && instance.registers_at <= now {
                instance.registered = true;
            }
            for task in &instance.tasks {
                if since < task.ready_at && task.ready_at <= now {
                    self.tasks_started += 1;
                    self.last_task_start =
                        Some(task.ready_at.max(self.last_task_start.unwrap_or(0)));
                }
            }
        }
        self.starts_counted = now;
        self.schedule();
    }

    /// The next time something happens by itself, after `now`.
    fn next_event(&self) -> Option<u64> {
        let now = self.now;
        let drain = self.timings.drain_secs;
        let mut next: Option<u64> = None;
        let mut consider = |at: u64| {
            if at > now {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        };
        for instance in &self.instances {
            if !instance.registered {
                consider(instance.registers_at);
            }
            if let Status::Draining { since } = instance.status {
                consider(since.saturating_add(drain));
            }
            for task in &instance.tasks {
                consider(task.ready_at);
            }
        }
        next
    }

    /// Tasks of each service: (RUNNING anywhere, placed on ACTIVE instances, on DRAINING ones).
    pub fn task_counts(&self) -> Vec<TaskCounts> {
        let mut counts = vec![TaskCounts::default(); self.services.len()];
        for instance in self.instances.iter().filter(|i| i.registered) {
            for task in &instance.tasks {
                let c = &mut counts[task.service];
                if task.running(self.now) {
                    c.running += 1;
                } else {
                    c.pending += 1;
                }
                if instance.draining() {
                    c.leaving += 1;
                } else {
                    c.active += 1;
                }
            }
        }
        counts
    }

    /// A new instance, booting (Pending in the group); its index.
    fn launch(&mut self) -> usize {
        self.next_instance += 1;
        let id = self.next_instance;
        let cluster = &self.cluster;
        self.instances.push(Instance {
            id,
            ec2_id: format!("i-{id:017x}"),
            arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{cluster}/{id:032x}"),
            registers_at: self.now.saturating_add(self.timings.boot_secs),
            registered: false,
            status: Status::Active,
            drained_at: None,
            drain_aborted_at: None,
            free: self.timings.instance,
            tasks: Vec::new(),
        });
        self.instances.len() - 1
    }

    /// A task id.
    fn task_id(&mut self) -> u64 {
        self.next_task += 1;
        self.next_task
    }

    /// The instance with that container instance ARN.
    pub fn instance_by_arn(&self, arn: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.registered && i.arn == arn)
    }

    /// The index of the service of that name.
    pub fn service_index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }
}

/// One service's tasks at a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// RUNNING, wherever.
    pub running: u32,
    /// PENDING (placed, starting), wherever.
    pub pending: u32,
    /// Placed on ACTIVE instances.
    pub active: u32,
    /// Placed on DRAINING instances (to be replaced).
    pub leaving: u32,
}

#[cfg(test)]
mod tests;
