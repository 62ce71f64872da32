//! Closed-loop properties on random worlds and timelines: the real planner plans every step, the
//! executor's guards apply its plans to the simulated cluster, and the world checks.
//!
//! - the invariants hold at every step (the world counts none broken);
//! - under a constant load the cluster reaches the ideal instance count within 3 steps of the
//!   last task starting, and stays there;
//! - cooldowns hold: a scale-down comes `scale_down_cooldown` after any scaling of its service
//!   and a scale-up `scale_up_cooldown` after a scale-up, so at most one reversal into a
//!   scale-down falls in any cooldown window (a scale-out after a scale-in is never held back).

use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;
use shared::definition::ClusterDefinition;
use shared::state::Direction;
use shared::time::Timestamp;
use simulator::bound::{lower_bound, Demand};
use simulator::timeline::Row;
use simulator::{Input, Outcome, Timeline, WorldFile};

const START: i64 = 1_793_577_600;
const STEP: u64 = 60;

/// How a service's metric reaches the planner.
#[derive(Debug, Clone, Copy)]
enum Source {
    Http,
    CloudWatch { period: u32 },
}

/// How a service scales.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// `target_tracking` of kind total.
    Tracking { target: u32 },
    /// The original's step events: `+up` at or above `high`, `-1` at or below `low`.
    Steps { high: u32, low: u32, up: u32 },
}

#[derive(Debug, Clone)]
struct ServiceCase {
    cpu: u32,
    memory: u32,
    spread: bool,
    distinct: bool,
    desired: u32,
    min: u32,
    max: u32,
    source: Source,
    rule: Rule,
    /// (minute, value or none) changes of its metric.
    load: Vec<(u64, Option<u32>)>,
}

#[derive(Debug, Clone)]
struct Case {
    instance: (u32, u32),
    group: (u32, u32, u32),
    file_limits: Option<(u32, u32)>,
    buffer: bool,
    /// Whether the file gives `instance_capacity` (needed to launch into an empty group).
    capacity_known: bool,
    max_drain: u32,
    up_cooldown: u64,
    down_cooldown: u64,
    boot: u64,
    task_start: u64,
    drain: u64,
    minutes: u64,
    services: Vec<ServiceCase>,
}

impl Case {
    fn definition(&self) -> ClusterDefinition {
        let mut y = String::from("autoscale_group: asg\n");
        if let Some((min, max)) = self.file_limits {
            let _ = writeln!(y, "min: {min}\nmax: {max}");
        }
        if self.buffer {
            let s = &self.services[0];
            let _ = writeln!(y, "cpu_buffer: {}\nmem_buffer: {}", s.cpu, s.memory);
        }
        if self.capacity_known {
            let _ = writeln!(
                y,
                "instance_capacity: {{cpu: {}, memory: {}}}",
                self.instance.0, self.instance.1
            );
        }
        let _ = writeln!(y, "max_drain_per_cycle: {}\nservices:", self.max_drain);
        for (k, s) in self.services.iter().enumerate() {
            let _ = writeln!(
                y,
                "  s{k}:\n    min: {}\n    max: {}\n    scale_up_cooldown: {}\n    scale_down_cooldown: {}\n    metric_sources:",
                s.min, s.max, self.up_cooldown, self.down_cooldown
            );
            match s.source {
                Source::Http => {
                    let _ = writeln!(y, "      third_party:\n        - url: http://m/{k}\n          statistics: [{{name: v, alias: m}}]");
                }
                Source::CloudWatch { period } => {
                    let _ = writeln!(y, "      cloudwatch:\n        - metric_name: M{k}\n          period: {period}\n          statistics: [{{name: Average, alias: m}}]");
                }
            }
            match s.rule {
                Rule::Tracking { target } => {
                    let _ = writeln!(y, "    target_tracking: {{metric: m, target: {target}}}");
                }
                Rule::Steps { high, low, up } => {
                    let _ = writeln!(
                        y,
                        "    events:\n      - {{metric: m, action: {up}, min: {high}, max: null}}\n      - {{metric: m, action: -1, min: null, max: {low}}}"
                    );
                }
            }
        }
        shared::definition::parse_definition("sim", Path::new("sim.yml"), &y, &|_| None)
            .unwrap_or_else(|e| panic!("{e:?}\n{y}"))
    }

    fn world(&self) -> WorldFile {
        let (min, max, desired) = self.group;
        let mut y = format!(
            "step_secs: {STEP}\nduration_secs: {}\ninstance: {{cpu: {}, memory: {}}}\ninstance_boot_secs: {}\ntask_start_secs: {}\ndrain_secs: {}\ngroup: {{min: {min}, max: {max}, desired: {desired}}}\nservices:\n",
            self.minutes * 60,
            self.instance.0,
            self.instance.1,
            self.boot,
            self.task_start,
            self.drain
        );
        for (k, s) in self.services.iter().enumerate() {
            let placement = if s.spread { "spread" } else { "binpack" };
            let _ = writeln!(
                y,
                "  s{k}: {{desired: {}, cpu: {}, memory: {}, placement: {placement}, distinct_instance: {}}}",
                s.desired, s.cpu, s.memory, s.distinct
            );
        }
        WorldFile::parse(Path::new("sim.world.yml"), &y).unwrap_or_else(|e| panic!("{e}\n{y}"))
    }

    fn timeline(&self) -> Timeline {
        let mut rows = Vec::new();
        for (k, s) in self.services.iter().enumerate() {
            for &(minute, value) in &s.load {
                rows.push(Row {
                    time: START + 60 * minute as i64,
                    service: format!("s{k}"),
                    alias: "m".into(),
                    value: value.map(f64::from),
                });
            }
        }
        Timeline::from_rows(rows)
    }

    fn run(&self) -> Outcome {
        let (definition, world, timeline) = (self.definition(), self.world(), self.timeline());
        let input = Input {
            definition: &definition,
            world: &world,
            timeline: &timeline,
            start: Timestamp::from_second(START).expect("a time"),
        };
        simulator::run(&input, |_, _| {}).expect("the case runs")
    }
}

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![
        Just(Source::Http),
        prop::sample::select(vec![60u32, 300]).prop_map(|period| Source::CloudWatch { period }),
    ]
}

fn rule() -> impl Strategy<Value = Rule> {
    prop_oneof![
        (1u32..200).prop_map(|target| Rule::Tracking { target }),
        (50u32..300, 0u32..50, 1u32..4).prop_map(|(high, low, up)| Rule::Steps { high, low, up }),
    ]
}

/// Any service: sizes, strategy, bounds, rule and a load that changes now and then (sometimes
/// missing).
fn service(minutes: u64) -> impl Strategy<Value = ServiceCase> {
    let sizes = (
        prop::sample::select(vec![256u32, 512, 1024, 2048]),
        prop::sample::select(vec![256u32, 512, 1024, 2048, 4096]),
    );
    let load = prop::collection::vec((0..minutes, prop::option::weighted(0.9, 0u32..2000)), 1..10);
    (
        sizes,
        any::<bool>(),
        prop::bool::weighted(0.15),
        0u32..8,
        0u32..3,
        1u32..16,
        source(),
        rule(),
        load,
    )
        .prop_map(
            |((cpu, memory), spread, distinct, desired, min, span, source, rule, load)| {
                ServiceCase {
                    cpu,
                    memory,
                    spread,
                    distinct,
                    desired,
                    min,
                    max: min + span,
                    source,
                    rule,
                    load,
                }
            },
        )
}

fn any_case() -> impl Strategy<Value = Case> {
    (60u64..150).prop_flat_map(|minutes| {
        (
            prop::sample::select(vec![(4096u32, 8192u32), (2048, 4096), (8192, 16384)]),
            (0u32..3, 2u32..12, 0u32..4),
            prop::option::of((0u32..3, 3u32..14)),
            (any::<bool>(), any::<bool>()),
            1u32..4,
            (
                prop::sample::select(vec![0u64, 60, 120]),
                prop::sample::select(vec![0u64, 60, 300]),
            ),
            (
                prop::sample::select(vec![0u64, 60, 180, 300]),
                0u64..90,
                0u64..200,
            ),
            prop::collection::vec(service(minutes), 1..4),
        )
            .prop_map(
                move |(
                    instance,
                    (gmin, gspan, gextra),
                    file_limits,
                    (buffer, capacity_known),
                    max_drain,
                    (up, down),
                    (boot, start, drain),
                    services,
                )| {
                    let gmax = gmin + gspan;
                    Case {
                        instance,
                        group: (gmin, gmax, (gmin + gextra).min(gmax)),
                        file_limits: file_limits.map(|(min, span)| (min, min + span)),
                        buffer,
                        capacity_known,
                        max_drain,
                        up_cooldown: up,
                        down_cooldown: down,
                        boot,
                        task_start: start,
                        drain,
                        minutes,
                        services,
                    }
                },
            )
    })
}

/// A constant load on services of one size that divides the instance (so the lower bound is
/// reachable): ideal = the bound. `max_drain_per_cycle: 100`: with the default of 1, N surplus
/// instances take N + 1 plans to go (drained one per plan, terminated the plan after), which
/// this property rejects.
fn constant_case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(vec![1u32, 2, 4, 8]),
        any::<bool>(),
        (0u32..3, 0u32..10),
        (0u64..300, 0u64..60, 0u64..60),
        prop::collection::vec(
            (
                any::<bool>(),
                0u32..6,
                0u32..3,
                1u32..12,
                1u32..200,
                0u32..3000,
            ),
            1..4,
        ),
    )
        .prop_map(
            |(per, buffer, (gmin, gextra), (boot, start, drain), services)| {
                let (cpu, memory) = (4096 / per, 8192 / per);
                Case {
                    instance: (4096, 8192),
                    group: (gmin, 40, gmin + gextra),
                    file_limits: None,
                    buffer,
                    capacity_known: true,
                    max_drain: 100,
                    up_cooldown: 0,
                    down_cooldown: 0,
                    boot,
                    task_start: start,
                    drain,
                    minutes: 60,
                    services: services
                        .into_iter()
                        // Binpack only: the planner packs, while a `spread` service's tasks land
                        // where ECS spreads them, and emptying an instance then takes a drain
                        // and a termination more (README: placement strategies are not
                        // simulated). The invariants property covers spread services.
                        .map(|(_spread, desired, min, span, target, value)| ServiceCase {
                            cpu,
                            memory,
                            spread: false,
                            distinct: false,
                            desired,
                            min,
                            max: min + span,
                            source: Source::Http,
                            rule: Rule::Tracking { target },
                            load: vec![(0, Some(value))],
                        })
                        .collect(),
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_at_every_step(case in any_case()) {
        let outcome = case.run();
        let s = &outcome.summary;
        prop_assert_eq!(s.invariant_violations, 0, "{:?}", s.violations);
        prop_assert_eq!(outcome.series.steps.len() as u64, case.minutes);
    }

    #[test]
    fn a_constant_load_converges_to_the_ideal_within_three_steps_of_the_last_start(case in constant_case()) {
        let outcome = case.run();
        prop_assert_eq!(outcome.summary.invariant_violations, 0, "{:?}", outcome.summary.violations);
        let last = outcome.series.steps.last().expect("steps");
        let demand: Vec<Demand> = case
            .services
            .iter()
            .zip(&last.desired)
            .map(|(s, &count)| Demand {
                size: shared::resources::Resources::new(s.cpu, s.memory),
                count,
                distinct: false,
            })
            .collect();
        let buffer = if case.buffer {
            shared::resources::Resources::new(case.services[0].cpu, case.services[0].memory)
        } else {
            shared::resources::Resources::ZERO
        };
        let ideal = lower_bound(
            &demand,
            buffer,
            shared::resources::Resources::new(case.instance.0, case.instance.1),
            case.group.0,
        );
        // Every desired count reached its target (the load never changes): the last desired
        // counts are the ones to hold.
        // From the last task start, or the last step an instance was still booting: the planner
        // does not count the room a scale-down in the same plan frees (README, limits), so a
        // plan that scales one service up and another down may launch an instance it then
        // finds empty; it can only go once registered.
        let last_booting = outcome
            .series
            .steps
            .iter()
            .filter(|s| s.booting > 0)
            .map(|s| s.time + STEP)
            .max()
            .unwrap_or(START as u64);
        let settled_from = outcome
            .last_task_start
            .map_or(START as u64, |t| t)
            .max(START as u64)
            .max(last_booting);
        let deadline = settled_from + 3 * STEP;
        let end = last.time;
        prop_assert!(deadline <= end, "still starting tasks at the end: last start {settled_from}, end {end}");
        for step in outcome.series.steps.iter().filter(|s| s.time >= deadline) {
            prop_assert_eq!(
                step.instances, ideal,
                "at {} ({} s after the last start): {:?}", step.time, step.time - settled_from, step
            );
        }
    }

    #[test]
    fn cooldowns_space_the_scalings_of_each_service(mut case in any_case()) {
        // Cooldowns set, desired counts within bounds from the start (bringing a count within
        // bounds is never held by a cooldown).
        case.up_cooldown = 120;
        case.down_cooldown = 300;
        for s in &mut case.services {
            s.desired = s.desired.clamp(s.min, s.max);
        }
        let outcome = case.run();
        let window = case.down_cooldown;
        for (k, _) in case.services.iter().enumerate() {
            let name = format!("s{k}");
            let mine: Vec<(Direction, u64)> = outcome
                .scalings
                .iter()
                .filter(|(s, _, _)| *s == name)
                .map(|(_, d, at)| (*d, *at))
                .collect();
            let mut last_any: Option<u64> = None;
            let mut last_up: Option<u64> = None;
            let mut reversals_down: Vec<u64> = Vec::new();
            let mut previous: Option<Direction> = None;
            for &(direction, at) in &mine {
                match direction {
                    Direction::Down => {
                        if let Some(before) = last_any {
                            prop_assert!(at - before >= case.down_cooldown, "{name}: down at {at}, {} s after a scaling", at - before);
                        }
                        if previous == Some(Direction::Up) {
                            reversals_down.push(at);
                        }
                    }
                    Direction::Up => {
                        if let Some(before) = last_up {
                            prop_assert!(at - before >= case.up_cooldown, "{name}: up at {at}, {} s after an up", at - before);
                        }
                        last_up = Some(at);
                    }
                }
                last_any = Some(at);
                previous = Some(direction);
            }
            for pair in reversals_down.windows(2) {
                prop_assert!(pair[1] - pair[0] >= window, "{name}: two reversals into a scale-down within {window} s: {pair:?}");
            }
        }
    }
}
