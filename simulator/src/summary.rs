//! The totals of a run: the `--json` object and the human summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use shared::time::Timestamp;

use crate::series::Step;

/// What a run cost and did. Hours and minutes are sums over steps of a count times the step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The cluster.
    pub cluster: String,
    /// The first step's time.
    pub start: Timestamp,
    /// Steps (planner cycles).
    pub steps: u64,
    /// Seconds per step.
    pub step_secs: u64,
    /// `steps × step_secs`.
    pub simulated_secs: u64,
    /// Instances of the group (booting, ACTIVE, DRAINING) × hours.
    pub instance_hours: f64,
    /// The lower bound on instances for each step's desired tasks × hours (see `bound.rs`).
    pub lower_bound_instance_hours: f64,
    /// `instance_hours ÷ lower_bound_instance_hours` (none when the bound is 0).
    pub instance_hours_ratio: Option<f64>,
    /// Desired tasks not RUNNING × minutes (starting, or waiting for room).
    pub unplaced_task_minutes: f64,
    /// Of those, desired tasks placed nowhere × minutes (waiting for room).
    pub waiting_task_minutes: f64,
    /// The longest a desired task waited to run: the steps it was seen not running, times the
    /// step (a service's shortfall is met oldest first). With room, the task's start; without,
    /// an instance's boot too.
    pub longest_wait_secs: u64,
    /// The most instances at a step.
    pub peak_instances: u32,
    /// Tasks stopped on DRAINING instances (moved by drains).
    pub tasks_moved: u64,
    /// Tasks that reached RUNNING.
    pub tasks_started: u64,
    /// Per service: how often a scaling went the other way from the one before.
    pub direction_changes: BTreeMap<String, u64>,
    /// Actions applied, per kind.
    pub actions: BTreeMap<String, u64>,
    /// Actions the executor's guards did not apply (stale or skipped), per kind.
    pub not_applied: BTreeMap<String, u64>,
    /// Calls the world refused after a guard approved them, per kind.
    pub refused: BTreeMap<String, u64>,
    /// Invariant violations found by the world's checks (must be 0).
    pub invariant_violations: u64,
    /// The first violations, with their time.
    pub violations: Vec<String>,
}

impl Summary {
    /// Nothing counted yet.
    pub fn new(cluster: &str, steps: u64, step_secs: u64, start: Timestamp) -> Summary {
        Summary {
            cluster: cluster.to_owned(),
            start,
            steps,
            step_secs,
            simulated_secs: steps.saturating_mul(step_secs),
            instance_hours: 0.0,
            lower_bound_instance_hours: 0.0,
            instance_hours_ratio: None,
            unplaced_task_minutes: 0.0,
            waiting_task_minutes: 0.0,
            longest_wait_secs: 0,
            peak_instances: 0,
            tasks_moved: 0,
            tasks_started: 0,
            direction_changes: BTreeMap::new(),
            actions: BTreeMap::new(),
            not_applied: BTreeMap::new(),
            refused: BTreeMap::new(),
            invariant_violations: 0,
            violations: Vec::new(),
        }
    }

    /// Adds one step.
    pub fn add_step(&mut self, step: &Step, step_secs: u64) {
        let hours = step_secs as f64 / 3600.0;
        let minutes = step_secs as f64 / 60.0;
        self.instance_hours += f64::from(step.instances) * hours;
        self.lower_bound_instance_hours += f64::from(step.lower_bound) * hours;
        self.unplaced_task_minutes += f64::from(step.unplaced) * minutes;
        self.waiting_task_minutes += f64::from(step.waiting) * minutes;
        self.peak_instances = self.peak_instances.max(step.instances);
    }

    /// Derived figures, once every step is in.
    pub fn finish(&mut self) {
        self.instance_hours_ratio = (self.lower_bound_instance_hours > 0.0)
            .then(|| self.instance_hours / self.lower_bound_instance_hours);
    }

    /// A few lines for a person.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let span = human_duration(self.simulated_secs);
        let _ = writeln!(
            out,
            "cluster `{}`: {} steps of {} s ({span}) from {}",
            self.cluster, self.steps, self.step_secs, self.start
        );
        let ratio = self
            .instance_hours_ratio
            .map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"));
        let _ = writeln!(
            out,
            "  instance-hours      {:.1} (lower bound {:.1}, ratio {ratio}); peak {} instance(s)",
            self.instance_hours, self.lower_bound_instance_hours, self.peak_instances
        );
        let _ = writeln!(
            out,
            "  unplaced tasks      {:.1} task-minutes not running ({:.1} waiting for room); longest wait {} s",
            self.unplaced_task_minutes, self.waiting_task_minutes, self.longest_wait_secs
        );
        let _ = writeln!(
            out,
            "  tasks               {} started, {} moved by drains",
            self.tasks_started, self.tasks_moved
        );
        let _ = writeln!(out, "  actions             {}", counts(&self.actions));
        if !self.not_applied.is_empty() {
            let _ = writeln!(out, "  not applied         {}", counts(&self.not_applied));
        }
        if !self.refused.is_empty() {
            let _ = writeln!(out, "  refused by AWS      {}", counts(&self.refused));
        }
        let _ = writeln!(
            out,
            "  direction changes   {}",
            counts(&self.direction_changes)
        );
        let _ = writeln!(out, "  invariant violations {}", self.invariant_violations);
        for v in &self.violations {
            let _ = writeln!(out, "    {v}");
        }
        out
    }
}

fn counts(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".to_owned();
    }
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `7 d`, `36 h`, `90 min`, `45 s`.
pub fn human_duration(secs: u64) -> String {
    if secs >= 2 * 86_400 && secs % 86_400 == 0 {
        format!("{} d", secs / 86_400)
    } else if secs >= 2 * 3600 && secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else if secs >= 120 && secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}
