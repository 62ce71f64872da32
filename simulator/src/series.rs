//! One record per step (`--out DIR/series.csv`, and what the chart draws).

use std::fmt::Write as _;

use shared::time::Timestamp;

/// The world at one step, before the planner acts.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Epoch seconds.
    pub time: u64,
    /// Instances of the group (booting, ACTIVE and DRAINING): what is paid for.
    pub instances: u32,
    /// Of them, not registered yet.
    pub booting: u32,
    /// Of them, DRAINING.
    pub draining: u32,
    /// The lower bound on instances for the desired tasks (see [`crate::bound`]).
    pub lower_bound: u32,
    /// Desired tasks not RUNNING, all services.
    pub unplaced: u32,
    /// Desired tasks placed nowhere (waiting for room), all services.
    pub waiting: u32,
    /// Per service (in [`Series::services`] order): desired count.
    pub desired: Vec<u32>,
    /// Per service: RUNNING tasks.
    pub running: Vec<u32>,
    /// Per service: the value of its driving metric the planner sees.
    pub metric: Vec<Option<f64>>,
}

/// Every step of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Service names.
    pub services: Vec<String>,
    /// Per service: the alias of its driving metric (the one its first rule reads).
    pub drivers: Vec<Option<String>>,
    /// The steps in time order.
    pub steps: Vec<Step>,
}

impl Series {
    /// No step yet.
    pub fn new(services: Vec<String>, drivers: Vec<Option<String>>) -> Series {
        Series {
            services,
            drivers,
            steps: Vec::new(),
        }
    }

    /// Appends a step.
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// `series.csv`: `time,instances,booting,draining,lower_bound,unplaced,waiting`, then per
    /// service `NAME.desired,NAME.running` and, when it has one, `NAME.ALIAS` (its driving
    /// metric as the planner sees it; empty when it has no value).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("time,instances,booting,draining,lower_bound,unplaced,waiting");
        for (name, driver) in self.services.iter().zip(&self.drivers) {
            let _ = write!(out, ",{name}.desired,{name}.running");
            if let Some(alias) = driver {
                let _ = write!(out, ",{name}.{alias}");
            }
        }
        out.push('\n');
        for s in &self.steps {
            let time = i64::try_from(s.time)
                .ok()
                .and_then(|t| Timestamp::from_second(t).ok())
                .map_or_else(|| s.time.to_string(), |t| t.to_string());
            let _ = write!(
                out,
                "{time},{},{},{},{},{},{}",
                s.instances, s.booting, s.draining, s.lower_bound, s.unplaced, s.waiting
            );
            for (k, driver) in self.drivers.iter().enumerate() {
                let _ = write!(
                    out,
                    ",{},{}",
                    s.desired.get(k).copied().unwrap_or(0),
                    s.running.get(k).copied().unwrap_or(0)
                );
                if driver.is_some() {
                    match s.metric.get(k).copied().flatten() {
                        Some(v) => {
                            let _ = write!(out, ",{v}");
                        }
                        None => out.push(','),
                    }
                }
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_step_with_a_column_per_service_value() {
        let mut s = Series::new(
            vec!["worker".into(), "web".into()],
            vec![Some("queue".into()), None],
        );
        s.push(Step {
            time: 1_800_000_000,
            instances: 3,
            booting: 1,
            draining: 0,
            lower_bound: 2,
            unplaced: 4,
            waiting: 1,
            desired: vec![5, 1],
            running: vec![2, 0],
            metric: vec![Some(12.5), None],
        });
        s.push(Step {
            time: 1_800_000_060,
            instances: 3,
            booting: 0,
            draining: 1,
            lower_bound: 2,
            unplaced: 0,
            waiting: 0,
            desired: vec![5, 1],
            running: vec![5, 1],
            metric: vec![None, None],
        });
        assert_eq!(
            s.to_csv(),
            "time,instances,booting,draining,lower_bound,unplaced,waiting,worker.desired,worker.running,worker.queue,web.desired,web.running\n\
             2027-01-15T08:00:00Z,3,1,0,2,4,1,5,2,12.5,1,0\n\
             2027-01-15T08:01:00Z,3,0,1,2,0,0,5,5,,1,1\n"
        );
    }
}
