//! A small model of ECS and Auto Scaling for the core's multi-cycle tests: a plan is applied to a
//! [`ClusterState`] as the executor would apply it, then the model's scheduler moves tasks off
//! DRAINING instances and places missing ones first-fit (written apart from the planner's
//! packing), and a minute passes. What one plan cannot show: how many cycles a scale-in takes,
//! and that the budget holds across cycles.

use shared::messages::ScalingPlan;
use shared::resources::Resources;
use shared::state::{ClusterState, ContainerInstance, InstanceStatus, PlacedTask};

use super::fixtures::{group_instance, SIZE};

/// A cluster the plans act on, with its clock.
#[derive(Debug, Clone)]
pub(crate) struct WorldModel {
    pub state: ClusterState,
    pub now_secs: u64,
    /// Instances launched so far (their numbers follow the fixtures' from 9000).
    launched: u32,
    /// Tasks started so far (their ARNs are unique).
    started: u32,
}

impl WorldModel {
    pub fn new(state: ClusterState, now_secs: u64) -> Self {
        WorldModel {
            state,
            now_secs,
            launched: 0,
            started: 0,
        }
    }

    /// The executor's part: every action of `plan`, in its order, without the guards (the plan
    /// was made on this very state).
    pub fn apply(&mut self, plan: &ScalingPlan) {
        let a = &plan.actions;
        let now = self.now_secs;
        if let (Some(l), Some(g)) = (&a.group_limits, self.state.group.as_mut()) {
            g.min = l.to.min;
            g.max = l.to.max.max(g.desired);
        }
        for r in a.reactivate.iter().chain(&a.abort_drain) {
            if let Some(ci) = self.instance_mut(&r.container_instance_arn) {
                ci.status = InstanceStatus::Active;
                ci.draining_since_epoch_secs = None;
            }
        }
        for r in &a.abort_drain {
            if let Some(ci) = self.instance_mut(&r.container_instance_arn) {
                ci.drain_aborted_at_epoch_secs = Some(now);
            }
        }
        if let Some(change) = a.group_desired {
            for _ in change.from..change.to {
                self.launch();
            }
        }
        for c in &a.services {
            if let Some(s) = self.state.services.iter_mut().find(|s| s.name == c.service) {
                s.desired = c.to;
            }
        }
        for d in &a.drain {
            if let Some(ci) = self.instance_mut(&d.instance.container_instance_arn) {
                ci.status = InstanceStatus::Draining;
                ci.draining_since_epoch_secs = Some(now);
            }
        }
        for t in &a.terminate {
            let gone = self
                .state
                .instances
                .iter()
                .position(|ci| ci.arn == t.container_instance_arn);
            if let Some(i) = gone {
                assert!(
                    !self.state.instances[i].has_tasks(),
                    "terminated with tasks: {}",
                    t.ec2_instance_id
                );
                self.state.instances.remove(i);
            }
            if let Some(g) = self.state.group.as_mut() {
                g.instances.retain(|gi| gi.instance_id != t.ec2_instance_id);
                g.desired = g.desired.saturating_sub(1);
            }
        }
        for f in &a.force_drain {
            if let Some(ci) = self.instance_mut(&f.instance.container_instance_arn) {
                ci.tasks.retain(|t| !f.tasks.contains(&t.arn));
            }
        }
        self.recount();
    }

    /// ECS's part, then a minute passes: tasks leave DRAINING instances, surplus tasks stop
    /// (from the instances with the fewest first), missing ones start first-fit on ACTIVE
    /// instances (busiest first).
    pub fn converge(&mut self) {
        for ci in &mut self.state.instances {
            if ci.status != InstanceStatus::Active {
                ci.tasks.retain(|t| t.service.is_none());
            }
        }
        let services: Vec<(String, u32, Resources)> = self
            .state
            .services
            .iter()
            .map(|s| (s.name.clone(), s.desired, s.task_size))
            .collect();
        for (name, desired, size) in services {
            let mut running = self.tasks_of(&name);
            while running > desired {
                let victim = self
                    .state
                    .instances
                    .iter_mut()
                    .filter(|ci| ci.tasks.iter().any(|t| t.service.as_deref() == Some(&name)))
                    .min_by_key(|ci| ci.tasks.len());
                if let Some(ci) = victim {
                    if let Some(k) = ci
                        .tasks
                        .iter()
                        .position(|t| t.service.as_deref() == Some(&name))
                    {
                        ci.tasks.remove(k);
                    }
                }
                running -= 1;
            }
            while running < desired {
                self.recount();
                let mut order: Vec<usize> = (0..self.state.instances.len())
                    .filter(|&i| self.state.instances[i].status == InstanceStatus::Active)
                    .collect();
                order.sort_by_key(|&i| std::cmp::Reverse(self.state.instances[i].tasks.len()));
                let Some(i) = order
                    .into_iter()
                    .find(|&i| self.state.instances[i].remaining.fits(size))
                else {
                    break;
                };
                self.started += 1;
                self.state.instances[i].tasks.push(PlacedTask {
                    arn: format!("arn:task/{name}-{}", self.started),
                    service: Some(name.clone()),
                    size,
                    protected_until_epoch_secs: None,
                });
                running += 1;
            }
        }
        self.recount();
        self.now_secs += 60;
    }

    fn tasks_of(&self, service: &str) -> u32 {
        let n = self
            .state
            .instances
            .iter()
            .flat_map(|ci| &ci.tasks)
            .filter(|t| t.service.as_deref() == Some(service))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn instance_mut(&mut self, arn: &str) -> Option<&mut ContainerInstance> {
        self.state.instances.iter_mut().find(|ci| ci.arn == arn)
    }

    /// A new instance, registered and ACTIVE at once.
    fn launch(&mut self) {
        self.launched += 1;
        let n = 9000 + self.launched;
        let id = format!("i-{n:04}");
        self.state.instances.push(ContainerInstance {
            arn: format!("arn:aws:ecs:eu-west-1:1:container-instance/c/{n:04}"),
            ec2_instance_id: id.clone(),
            status: InstanceStatus::Active,
            registered: SIZE,
            remaining: SIZE,
            running_tasks: 0,
            pending_tasks: 0,
            tasks: Vec::new(),
            draining_since_epoch_secs: None,
            agent_connected: true,
            drain_aborted_at_epoch_secs: None,
            placement: Default::default(),
        });
        if let Some(g) = self.state.group.as_mut() {
            g.instances.push(group_instance(&id, "InService"));
            g.desired += 1;
        }
    }

    /// Counts and room from the tasks; services' running counts from their placed tasks.
    fn recount(&mut self) {
        for ci in &mut self.state.instances {
            let used = ci
                .tasks
                .iter()
                .fold(Resources::ZERO, |a, t| a.saturating_add(t.size));
            ci.remaining = ci.registered.saturating_sub(used);
            ci.running_tasks = u32::try_from(ci.tasks.len()).unwrap_or(u32::MAX);
            ci.pending_tasks = 0;
        }
        let names: Vec<String> = self.state.services.iter().map(|s| s.name.clone()).collect();
        for name in names {
            let n = self.tasks_of(&name);
            if let Some(s) = self.state.services.iter_mut().find(|s| s.name == name) {
                s.running = n;
                s.pending = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use shared::definition::{BudgetValue, DisruptionBudget};
    use shared::messages::ServiceMetrics;
    use shared::time::Timestamp;

    use super::*;
    use crate::decide::fixtures::*;
    use crate::decide::plan;

    const TASK: Resources = Resources::new(1024, 2048);

    /// Cycles (plan, apply, converge) until a plan has nothing to do; the cycles that acted.
    fn run(
        def: &shared::definition::ClusterDefinition,
        world: &mut WorldModel,
        metrics: &BTreeMap<String, ServiceMetrics>,
    ) -> usize {
        for cycle in 0..20 {
            let now = Timestamp::from_second(world.now_secs as i64).expect("in range");
            let p = plan(def, metrics, &world.state, now);
            if !p.has_actions {
                return cycle;
            }
            world.apply(&p);
            world.converge();
        }
        panic!("no steady state after 20 cycles")
    }

    /// Six instances with one task each, group min 2: the ideal is two instances.
    fn six_one_task_instances() -> (shared::definition::ClusterDefinition, WorldModel) {
        let def = cluster(vec![service("w", 0, 100, &[])]);
        let instances = (1..=6)
            .map(|i| instance(i, InstanceStatus::Active, vec![task("w", TASK)]))
            .collect();
        let st = state(vec![service_state("w", 6, TASK)], instances, 2, 10);
        (def, WorldModel::new(st, NOW_SECS))
    }

    #[test]
    fn six_one_task_instances_reach_two_in_three_cycles_by_default() {
        let (def, mut world) = six_one_task_instances();
        let cycles = run(&def, &mut world, &BTreeMap::new());
        assert_eq!(world.state.instances.len(), 2);
        assert_eq!(world.tasks_of("w"), 6, "no task lost");
        assert!(cycles <= 3, "{cycles} cycles");
    }

    #[test]
    fn six_one_task_instances_reach_two_in_two_cycles_with_a_full_budget() {
        let (mut def, mut world) = six_one_task_instances();
        def.disruption.budget = DisruptionBudget::same(BudgetValue::Percent(100));
        let cycles = run(&def, &mut world, &BTreeMap::new());
        assert_eq!(world.state.instances.len(), 2);
        assert_eq!(world.tasks_of("w"), 6);
        assert!(cycles <= 2, "{cycles} cycles");
    }

    #[test]
    fn a_worker_back_at_zero_takes_its_eight_instances_to_zero_within_three_cycles() {
        // Eight instances of three worker tasks each (24 tasks), group min 0; the worker's
        // queue empties.
        let mut def = cluster(vec![service("worker", 0, 40, &["q"])]);
        def.services[0].target_tracking = tracking("q", 1.0);
        def.services[0].scale_down_cooldown = std::time::Duration::ZERO;
        let instances = (1..=8)
            .map(|i| instance(i, InstanceStatus::Active, vec![task("worker", TASK); 3]))
            .collect();
        let st = state(vec![service_state("worker", 24, TASK)], instances, 0, 10);
        let mut world = WorldModel::new(st, NOW_SECS);
        let cycles = run(&def, &mut world, &metrics("worker", &[("q", 0.0)], &[]));
        assert!(
            world.state.instances.is_empty(),
            "{:#?}",
            world.state.instances
        );
        // Cycle 1 sets the worker to 0 tasks; the empty instances go in the cycle after.
        assert!(cycles <= 3, "{cycles} cycles");
    }
}
