//! The closed loop, one step per planner cycle: the world advances to the step, the planner
//! plans on the state and the report a collector would send then, the executor's guards apply
//! the plan a few seconds later, and the world's checks count what went wrong.

use std::collections::BTreeMap;

use shared::definition::ClusterDefinition;
use shared::resources::Resources;
use shared::state::Direction;
use shared::time::Timestamp;

use crate::apply::{apply, Tally};
use crate::bound::{lower_bound, Demand};
use crate::metrics::Collector;
use crate::series::{Series, Step};
use crate::summary::Summary;
use crate::timeline::Timeline;
use crate::world::{Violation, World};
use crate::world_file::WorldFile;

/// Seconds between the planner's `now` and the executor applying the plan (the plans queue's
/// hop); the executor's tags carry that time.
pub const EXECUTOR_DELAY_SECS: u64 = 2;

/// Violations kept with their time for the summary (all are counted).
const VIOLATIONS_KEPT: usize = 20;

/// What to simulate.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The cluster file.
    pub definition: &'a ClusterDefinition,
    /// The world file.
    pub world: &'a WorldFile,
    /// The metrics.
    pub timeline: &'a Timeline,
    /// The first step's time.
    pub start: Timestamp,
}

/// Why a simulation cannot start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetupError {
    /// An enabled service of the cluster file is not in the world.
    #[error("service `{service}` of the cluster file of `{cluster}` is not in the world file (world services: {known})")]
    ServiceNotInWorld {
        /// The cluster.
        cluster: String,
        /// The service.
        service: String,
        /// The world's services.
        known: String,
    },
    /// Nothing says how long to run.
    #[error("nothing to simulate: the timeline has no row and the world file no `duration_secs`")]
    NoDuration,
    /// The timeline ends before the start.
    #[error("the timeline's last row ({last}) is before the start ({start})")]
    EndsBeforeStart {
        /// The start.
        start: String,
        /// The last row's time.
        last: String,
    },
    /// The start is not a usable time.
    #[error("the start {0} is before 1970")]
    StartBeforeEpoch(String),
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The totals.
    pub summary: Summary,
    /// One record per step.
    pub series: Series,
    /// Every service scaling applied: service, direction, epoch seconds.
    pub scalings: Vec<(String, Direction, u64)>,
    /// When a task last reached RUNNING, epoch seconds.
    pub last_task_start: Option<u64>,
}

/// The number of steps `input` runs.
pub fn steps(input: &Input<'_>) -> Result<u64, SetupError> {
    let step = input.world.step_secs.max(1);
    if let Some(duration) = input.world.duration_secs {
        return Ok(duration.div_ceil(step).max(1));
    }
    let Some(last) = input.timeline.last_time() else {
        return Err(SetupError::NoDuration);
    };
    let start = input.start.as_second();
    if last < start {
        return Err(SetupError::EndsBeforeStart {
            start: input.start.to_string(),
            last: Timestamp::from_second(last).map_or_else(|_| last.to_string(), |t| t.to_string()),
        });
    }
    Ok(u64::try_from(last - start).unwrap_or(0) / step + 1)
}

/// Runs the simulation; `progress(done, total)` after each step.
pub fn run(input: &Input<'_>, mut progress: impl FnMut(u64, u64)) -> Result<Outcome, SetupError> {
    let def = input.definition;
    let file = input.world;
    for service in def.enabled_services() {
        if !file.services.contains_key(&service.name) {
            return Err(SetupError::ServiceNotInWorld {
                cluster: def.name.clone(),
                service: service.name.clone(),
                known: file.services.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
    }
    let total = steps(input)?;
    let start = u64::try_from(input.start.as_second())
        .map_err(|_| SetupError::StartBeforeEpoch(input.start.to_string()))?;
    let step_secs = file.step_secs.max(1);
    let buffer = Resources::new(def.cpu_buffer, def.mem_buffer);
    let collector = Collector::new(def);
    let mut world = World::new(&def.name, &def.autoscale_group, file, start);
    let mut tally = Tally::default();
    let names: Vec<String> = world.services.iter().map(|s| s.name.clone()).collect();
    let drivers: Vec<Option<String>> = names.iter().map(|n| driving_alias(def, n)).collect();
    let mut series = Series::new(names.clone(), drivers.clone());
    let mut summary = Summary::new(&def.name, total, step_secs, input.start);
    let mut last_direction: Vec<Option<Direction>> = vec![None; names.len()];
    // Per service: when each unit of its deficit (desired − running) arose, oldest first.
    let mut deficits: Vec<Deficit> = vec![Deficit::default(); names.len()];
    let mut direction_changes: BTreeMap<String, u64> =
        names.iter().map(|n| (n.clone(), 0)).collect();

    for k in 0..total {
        let now = start + k * step_secs;
        world.advance_to(now);
        check_group(&mut world);

        let record = observe(&world, &collector, input.timeline, &drivers, buffer, now);
        summary.add_step(&record, step_secs);
        for (s, deficit) in deficits.iter_mut().enumerate() {
            let short = record.desired[s].saturating_sub(record.running[s]);
            let wait = deficit.update(now, short, step_secs);
            summary.longest_wait_secs = summary.longest_wait_secs.max(wait);
        }
        series.push(record);

        let (metrics, _) = planner::merge_reports(&[collector.report(input.timeline, as_i64(now))]);
        let state = world.cluster_state(|name| def.service(name).is_some());
        let at = Timestamp::from_second(as_i64(now)).unwrap_or(Timestamp::UNIX_EPOCH);
        let plan = planner::plan(def, &metrics, &state, at);

        let applied_at = now + EXECUTOR_DELAY_SECS;
        world.advance_to(applied_at);
        let before = tally.scalings.len();
        apply(&mut world, &plan, buffer, applied_at, &mut tally);
        for (service, direction, _) in &tally.scalings[before..] {
            if let Some(s) = names.iter().position(|n| n == service) {
                if last_direction[s].is_some_and(|d| d != *direction) {
                    *direction_changes.entry(service.clone()).or_default() += 1;
                }
                last_direction[s] = Some(*direction);
            }
        }
        check_services(&mut world, def);
        check_group(&mut world);
        for v in world.violations.drain(..) {
            summary.invariant_violations += 1;
            if summary.violations.len() < VIOLATIONS_KEPT {
                let when = Timestamp::from_second(as_i64(applied_at))
                    .map_or_else(|_| applied_at.to_string(), |t| t.to_string());
                summary.violations.push(format!("{when}: {v}"));
            }
        }
        progress(k + 1, total);
    }
    summary.tasks_moved = world.tasks_moved;
    summary.tasks_started = world.tasks_started;
    summary.direction_changes = direction_changes;
    summary.actions = tally
        .applied
        .iter()
        .map(|(k, v)| ((*k).to_owned(), *v))
        .collect();
    summary.not_applied = tally
        .not_applied
        .iter()
        .map(|(k, v)| ((*k).to_owned(), *v))
        .collect();
    summary.refused = tally
        .refused
        .iter()
        .map(|(k, v)| ((*k).to_owned(), *v))
        .collect();
    summary.finish();
    Ok(Outcome {
        summary,
        series,
        scalings: tally.scalings,
        last_task_start: world.last_task_start,
    })
}

/// A service's tasks desired but not running, by when the shortfall arose: it grows at the
/// back and is met at the front (the task wanted first is the first to run).
#[derive(Debug, Clone, Default)]
struct Deficit {
    /// (since, tasks).
    units: std::collections::VecDeque<(u64, u32)>,
    total: u32,
}

impl Deficit {
    /// The shortfall at `now` is `short`; returns how long its oldest task has waited: the
    /// steps it was seen short, times the step (it arose during the step before it was seen).
    fn update(&mut self, now: u64, short: u32, step: u64) -> u64 {
        if short > self.total {
            self.units.push_back((now, short - self.total));
        }
        let mut met = self.total.saturating_sub(short);
        while met > 0 {
            let Some(front) = self.units.front_mut() else {
                break;
            };
            let take = front.1.min(met);
            front.1 -= take;
            met -= take;
            if front.1 == 0 {
                self.units.pop_front();
            }
        }
        self.total = short;
        self.units
            .front()
            .map_or(0, |(since, _)| now - since + step)
    }
}

fn as_i64(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// One step's record, before the planner acts.
fn observe(
    world: &World,
    collector: &Collector,
    timeline: &Timeline,
    drivers: &[Option<String>],
    buffer: Resources,
    now: u64,
) -> Step {
    let counts = world.task_counts();
    let demand: Vec<Demand> = world
        .services
        .iter()
        .map(|s| Demand {
            size: s.size,
            count: s.desired,
            distinct: s.distinct,
        })
        .collect();
    let mut step = Step {
        time: now,
        instances: u32::try_from(world.instances.len()).unwrap_or(u32::MAX),
        booting: count(world.instances.iter().filter(|i| !i.registered)),
        draining: count(world.instances.iter().filter(|i| i.draining())),
        lower_bound: lower_bound(&demand, buffer, world.timings.instance, world.group.min),
        desired: Vec::with_capacity(counts.len()),
        running: Vec::with_capacity(counts.len()),
        metric: Vec::with_capacity(counts.len()),
        unplaced: 0,
        waiting: 0,
    };
    for ((service, c), driver) in world.services.iter().zip(&counts).zip(drivers) {
        step.desired.push(service.desired);
        step.running.push(c.running);
        step.unplaced += service.desired.saturating_sub(c.running);
        step.waiting += service.desired.saturating_sub(c.active + c.leaving);
        step.metric.push(
            driver.as_deref().and_then(|alias| {
                collector.value_seen(timeline, &service.name, alias, as_i64(now))
            }),
        );
    }
    step
}

fn count<T>(it: impl Iterator<Item = T>) -> u32 {
    u32::try_from(it.count()).unwrap_or(u32::MAX)
}

/// The alias a service's first rule reads (its first step event, else its target tracking),
/// else its first alias: the metric the chart shows.
fn driving_alias(def: &ClusterDefinition, service: &str) -> Option<String> {
    let s = def.service(service)?;
    let from_rules = s
        .events
        .first()
        .map(|e| e.metric.aliases())
        .or_else(|| s.target_tracking.as_ref().map(|t| t.metric.aliases()))
        .and_then(|a| a.into_iter().next());
    from_rules.or_else(|| s.aliases().next().map(|st| st.alias.clone()))
}

/// The group within its limits: MinSize ≤ desired ≤ MaxSize and no more instances than MaxSize.
fn check_group(world: &mut World) {
    let g = &world.group;
    let n = world.instances.len();
    if g.desired < g.min || g.desired > g.max || n > g.max as usize {
        world.violations.push(Violation::GroupOutsideLimits {
            instances: n,
            desired: g.desired,
            min: g.min,
            max: g.max,
        });
    }
}

/// Every enabled service of the file within its [min, max] once a plan is applied (unless the
/// file leaves the cluster alone: disabled, or a dry run).
fn check_services(world: &mut World, def: &ClusterDefinition) {
    if !def.enabled || def.dry_run {
        return;
    }
    for d in def.enabled_services() {
        if let Some(s) = world.services.iter().find(|s| s.name == d.name) {
            if s.desired < d.min || s.desired > d.max {
                let v = Violation::ServiceOutsideBounds {
                    service: d.name.clone(),
                    desired: s.desired,
                    min: d.min,
                    max: d.max,
                };
                world.violations.push(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Deficit;

    #[test]
    fn the_oldest_shortfall_is_met_first() {
        let mut d = Deficit::default();
        assert_eq!(d.update(0, 0, 60), 0);
        assert_eq!(d.update(60, 4, 60), 60, "4 tasks short since 60: seen once");
        assert_eq!(
            d.update(120, 6, 60),
            120,
            "2 more since 120; the oldest seen twice"
        );
        assert_eq!(
            d.update(180, 3, 60),
            180,
            "3 met, oldest first: one of 60's (seen three times) and both of 120's are left"
        );
        assert_eq!(d.update(240, 2, 60), 180);
        assert_eq!(d.update(300, 0, 60), 0);
        assert_eq!(d.update(360, 1, 60), 60);
    }
}
