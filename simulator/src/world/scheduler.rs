//! ECS's service scheduler, as its documentation describes it, for one pass at `now`:
//!
//! - **Placement.** A task goes to a registered ACTIVE instance with room for its CPU and memory
//!   (PENDING tasks reserve theirs too) and, under `distinctInstance`, none of its service's
//!   tasks. `binpack` (on memory): the instance with the least memory left after it, then the
//!   least CPU; `spread` (over instances): the one with the fewest tasks of the service, then
//!   the most memory left. Ties: the oldest instance. A task that fits nowhere waits (ECS
//!   retries), and counts as desired but not running.
//! - **Scale-in.** Surplus tasks on ACTIVE instances stop: PENDING ones first (newest first), then
//!   for `binpack` those of the instance with the most memory left (the remaining stay packed),
//!   for `spread` those of the instance with the most tasks of the service.
//! - **Draining** (a deployment with minimumHealthyPercent 100, maximumPercent 200): a task on a
//!   DRAINING instance does not count towards the desired count, so a replacement is placed at
//!   once; it stops once `drain_secs` have passed since the drain began and the service keeps
//!   its desired count RUNNING without it. Without room for its replacement it runs on.

use shared::resources::Resources;

use super::{Instance, Status, Task, World};
use crate::world_file::Placement;

impl World {
    /// One pass of the service scheduler at `now`.
    pub(crate) fn schedule(&mut self) {
        let counts = self.sweep();
        for (s, c) in counts.iter().enumerate() {
            let desired = self.services[s].desired;
            if c.active > desired {
                self.scale_in(s, c.active - desired);
            } else {
                for _ in c.active..desired {
                    if !self.place(s) {
                        break;
                    }
                }
            }
        }
        self.stop_replaced();
    }

    /// Tasks on DRAINING instances stop once drained long enough and not needed to keep their
    /// service's desired count RUNNING (oldest instance first).
    fn stop_replaced(&mut self) {
        let now = self.now;
        let drain_secs = self.timings.drain_secs;
        let due = |i: &Instance| match i.status {
            Status::Draining { since } => now >= since.saturating_add(drain_secs),
            Status::Active => false,
        };
        if !self.instances.iter().any(|i| due(i) && !i.tasks.is_empty()) {
            return;
        }
        let mut may_stop: Vec<u32> = self
            .sweep()
            .iter()
            .zip(&self.services)
            .map(|(c, service)| {
                (c.running_active + c.leaving)
                    .saturating_sub(service.desired)
                    .min(c.leaving)
            })
            .collect();
        let sizes: Vec<Resources> = self.services.iter().map(|s| s.size).collect();
        let mut moved = 0;
        for instance in self.instances.iter_mut().filter(|i| due(i)) {
            let mut freed = Resources::ZERO;
            instance.tasks.retain(|t| {
                if may_stop[t.service] == 0 {
                    return true;
                }
                may_stop[t.service] -= 1;
                moved += 1;
                freed = freed.saturating_add(sizes[t.service]);
                false
            });
            instance.free = instance.free.saturating_add(freed);
        }
        self.tasks_moved += moved;
    }

    /// Every service's tasks, in one pass over the instances.
    fn sweep(&self) -> Vec<ServiceTasks> {
        let mut counts = vec![ServiceTasks::default(); self.services.len()];
        for instance in self.instances.iter().filter(|i| i.registered) {
            let draining = instance.draining();
            for task in &instance.tasks {
                let c = &mut counts[task.service];
                if draining {
                    c.leaving += 1;
                } else {
                    c.active += 1;
                    if task.running(self.now) {
                        c.running_active += 1;
                    }
                }
            }
        }
        counts
    }

    /// Places one task of `s`; false when it fits nowhere.
    fn place(&mut self, s: usize) -> bool {
        let service = &self.services[s];
        let size = service.size;
        let candidates = self
            .instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.takes_tasks() && i.free.fits(size))
            .filter(|(_, i)| !service.distinct || !hosts(i, s));
        let best = match service.placement {
            Placement::Binpack => candidates
                .min_by_key(|(_, i)| {
                    let left = i.free.saturating_sub(size);
                    (left.memory, left.cpu, i.id)
                })
                .map(|(k, _)| k),
            Placement::Spread => candidates
                .min_by_key(|(_, i)| {
                    let of_service = i.tasks.iter().filter(|t| t.service == s).count();
                    (of_service, std::cmp::Reverse(i.free.memory), i.id)
                })
                .map(|(k, _)| k),
        };
        let Some(k) = best else {
            return false;
        };
        let id = self.task_id();
        let ready_at = self.now.saturating_add(self.timings.task_start_secs);
        let instance = &mut self.instances[k];
        instance.free = instance.free.saturating_sub(size);
        instance.tasks.push(Task {
            id,
            service: s,
            ready_at,
        });
        true
    }

    /// Stops `surplus` tasks of `s` on ACTIVE instances (see the module docs for which).
    fn scale_in(&mut self, s: usize, surplus: u32) {
        let now = self.now;
        let placement = self.services[s].placement;
        let size = self.services[s].size;
        for _ in 0..surplus {
            // (instance index, task index, key) of the task to stop.
            let mut pick: Option<(usize, usize, StopKey)> = None;
            for (k, instance) in self.instances.iter().enumerate() {
                if !instance.takes_tasks() {
                    continue;
                }
                let of_service = instance.tasks.iter().filter(|t| t.service == s).count() as u64;
                for (j, t) in instance.tasks.iter().enumerate() {
                    if t.service != s {
                        continue;
                    }
                    // Larger keys are stopped first.
                    let pending = !t.running(now);
                    let by_strategy = match placement {
                        Placement::Binpack => u64::from(instance.free.memory),
                        Placement::Spread => of_service,
                    };
                    let key = (
                        pending,
                        if pending { t.ready_at } else { by_strategy },
                        t.id,
                        instance.id,
                    );
                    if pick.as_ref().is_none_or(|(_, _, best)| key > *best) {
                        pick = Some((k, j, key));
                    }
                }
            }
            let Some((k, j, _)) = pick else { return };
            let instance = &mut self.instances[k];
            instance.tasks.remove(j);
            instance.free = instance.free.saturating_add(size);
        }
    }
}

/// The order tasks are stopped in on scale-in, largest first: PENDING, then newest (PENDING) or
/// by strategy (RUNNING), then the newest task, then the newest instance.
type StopKey = (bool, u64, u64, u32);

/// Whether `instance` runs a task of service `s`.
fn hosts(instance: &Instance, s: usize) -> bool {
    instance.tasks.iter().any(|t| t.service == s)
}

#[derive(Debug, Clone, Copy, Default)]
struct ServiceTasks {
    active: u32,
    running_active: u32,
    leaving: u32,
}
