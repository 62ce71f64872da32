//! The Auto Scaling group as Auto Scaling answers its API: limits and desired capacity refused
//! or clamped as AWS does, launches to reach the desired capacity, and its own terminations of
//! instances of its choosing when the desired capacity falls below the instances it has.

use shared::resources::Resources;

use super::{Status, Violation, World};

/// Why Auto Scaling refused a call (AWS answers `ValidationError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl World {
    /// UpdateAutoScalingGroup MinSize/MaxSize. AWS moves the desired capacity into the new range
    /// itself, terminating instances of its choosing when MaxSize falls below it.
    pub fn set_limits(&mut self, min: u32, max: u32) -> Result<(), Refused> {
        if min > max {
            return Err(Refused(format!("MinSize {min} above MaxSize {max}")));
        }
        if max < self.group.desired {
            self.violations.push(Violation::MaxBelowDesired {
                max,
                desired: self.group.desired,
            });
        }
        self.group.min = min;
        self.group.max = max;
        self.group.desired = self.group.desired.clamp(min, max);
        self.reconcile();
        Ok(())
    }

    /// SetDesiredCapacity: refused outside [MinSize, MaxSize], as AWS refuses it.
    pub fn set_desired(&mut self, desired: u32) -> Result<(), Refused> {
        if desired < self.group.min || desired > self.group.max {
            self.violations.push(Violation::DesiredOutsideLimits {
                desired,
                min: self.group.min,
                max: self.group.max,
            });
            return Err(Refused(format!(
                "desired capacity {desired} outside [{}, {}]",
                self.group.min, self.group.max
            )));
        }
        self.group.desired = desired;
        self.reconcile();
        Ok(())
    }

    /// TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity: refused when
    /// the decremented capacity would fall below MinSize. The instance dies with whatever runs
    /// on it (a violation when anything does).
    pub fn terminate(&mut self, ec2_id: &str) -> Result<(), Refused> {
        let Some(i) = self.instances.iter().position(|x| x.ec2_id == ec2_id) else {
            return Err(Refused(format!("Instance Id not found: {ec2_id}")));
        };
        if self.group.desired <= self.group.min {
            return Err(Refused(format!(
                "terminating {ec2_id} would take the desired capacity below MinSize {}",
                self.group.min
            )));
        }
        self.group.desired -= 1;
        self.remove_instance(i, "TerminateInstanceInAutoScalingGroup");
        self.schedule();
        Ok(())
    }

    /// Launches or terminates until the group holds its desired capacity. Auto Scaling's own
    /// scale-in picks the newest instance (a stand-in for its termination policy: it does not
    /// look at tasks, which is why a lowered desired capacity must never reach it).
    pub(crate) fn reconcile(&mut self) {
        let desired = self.group.desired as usize;
        while self.instances.len() < desired {
            self.launch();
        }
        while self.instances.len() > desired {
            let newest = self.instances.len() - 1;
            self.remove_instance(
                newest,
                "Auto Scaling (desired capacity below its instances)",
            );
        }
        self.schedule();
    }

    /// The instance leaves: its tasks are lost (the scheduler replaces them).
    fn remove_instance(&mut self, i: usize, by: &'static str) {
        let instance = self.instances.remove(i);
        if !instance.tasks.is_empty() {
            self.violations.push(Violation::TerminatedWithTasks {
                instance: instance.ec2_id,
                tasks: instance.tasks.len(),
                by,
            });
        }
    }

    /// UpdateContainerInstancesState DRAINING, with the executor's drain record written first.
    pub fn drain(&mut self, arn: &str, record_at: u64) -> Result<(), Refused> {
        let now = self.now;
        let instance = self
            .instances
            .iter_mut()
            .find(|i| i.registered && i.arn == arn)
            .ok_or_else(|| Refused(format!("container instance {arn} not found")))?;
        instance.drained_at = Some(record_at);
        if instance.status == Status::Active {
            instance.status = Status::Draining { since: now };
        }
        self.schedule();
        Ok(())
    }

    /// UpdateContainerInstancesState ACTIVE, then the drain record removed.
    pub fn reactivate(&mut self, arn: &str) -> Result<(), Refused> {
        let instance = self
            .instances
            .iter_mut()
            .find(|i| i.registered && i.arn == arn)
            .ok_or_else(|| Refused(format!("container instance {arn} not found")))?;
        instance.status = Status::Active;
        instance.drained_at = None;
        self.schedule();
        Ok(())
    }

    /// A drain past its deadline aborted: the abort recorded, then ACTIVE again without the
    /// drain record (the executor's `abort_drain`).
    pub fn abort_drain(&mut self, arn: &str, record_at: u64) -> Result<(), Refused> {
        let instance = self
            .instances
            .iter_mut()
            .find(|i| i.registered && i.arn == arn)
            .ok_or_else(|| Refused(format!("container instance {arn} not found")))?;
        instance.drain_aborted_at = Some(record_at);
        instance.status = Status::Active;
        instance.drained_at = None;
        self.schedule();
        Ok(())
    }

    /// StopTask on every task still on a DRAINING instance (the executor's `force_drain`:
    /// every task here belongs to a service, which replaces it elsewhere); the stopped tasks
    /// count as moved.
    pub fn force_drain(&mut self, arn: &str) -> Result<(), Refused> {
        let sizes: Vec<Resources> = self.services.iter().map(|s| s.size).collect();
        let instance = self
            .instances
            .iter_mut()
            .find(|i| i.registered && i.arn == arn && i.draining())
            .ok_or_else(|| Refused(format!("no DRAINING container instance {arn}")))?;
        let stopped = instance.tasks.len() as u64;
        for task in instance.tasks.drain(..) {
            instance.free = instance.free.saturating_add(sizes[task.service]);
        }
        self.tasks_moved += stopped;
        self.schedule();
        Ok(())
    }
}
