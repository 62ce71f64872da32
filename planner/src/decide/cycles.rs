//! The core over many cycles, as the pipeline runs it: a schedule every minute, reports merged,
//! each change applied and tagged by the executor a few seconds later. What one cycle cannot
//! show: a CloudWatch datapoint read five times is acted on once, HTTP values every cycle, and
//! the desired count stays within [min, max] whatever happens.

use std::collections::BTreeMap;

use proptest::prelude::*;
use shared::definition::{ServiceDefinition, TargetTracking, TrackingKind};
use shared::messages::{MetricsReport, Reason, RuleKind, ServiceDecision};
use shared::resources::Resources;
use shared::state::{Direction, ScalingRecord, ServiceState};
use shared::time::{self, Timestamp};

use super::fixtures::*;
use super::merge_reports;
use super::rules::decide_service;

/// Seconds between a plan and the executor's tag.
const APPLY_DELAY: i64 = 4;
/// The collector's schedule.
const EVERY_MINUTE: i64 = 60;
/// A CloudWatch source's default period.
const PERIOD: i64 = 300;
/// 10:00:30 on some day: cycles run half a minute into each minute.
const START: i64 = 1_764_410_430;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).expect("in range")
}

/// Where an alias comes from, which decides when its value was observed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// Fetched during the cycle: observed at `collected_at`.
    Http,
    /// A CloudWatch statistic of `PERIOD`: observed at the end of the last complete period.
    CloudWatch,
}

/// The report a collector would send at `now` for `values`.
fn report(now: i64, values: &[(&str, f64, Source)]) -> MetricsReport {
    let mut r = MetricsReport::new("c", format!("cycle-{now}"), at(now));
    let web = r.services.entry("web".into()).or_default();
    for (alias, value, source) in values {
        web.set_value(*alias, *value);
        if *source == Source::CloudWatch {
            let period_end = now.div_euclid(PERIOD) * PERIOD;
            web.observed_at.insert((*alias).into(), at(period_end));
        }
    }
    r
}

/// One service through the pipeline: decide from the merged report, then apply the change and
/// tag it as the executor does.
struct Pipeline {
    def: ServiceDefinition,
    state: ServiceState,
}

impl Pipeline {
    fn new(def: ServiceDefinition, desired: u32) -> Self {
        Pipeline {
            def,
            state: service_state("web", desired, Resources::new(256, 512)),
        }
    }

    fn cycle(&mut self, now: i64, values: &[(&str, f64, Source)]) -> ServiceDecision {
        let (metrics, _) = merge_reports(&[report(now, values)]);
        let out = decide_service(&self.def, Some(&self.state), metrics.get("web"), at(now));
        if let Some(change) = &out.change {
            self.state.desired = change.to;
            self.state.running = change.to;
            self.state.last_scaling = Some(ScalingRecord {
                direction: if change.to > change.from {
                    Direction::Up
                } else {
                    Direction::Down
                },
                at_epoch_secs: time::epoch_secs(at(now + APPLY_DELAY)),
            });
        }
        out.decision
    }

    /// `cycles` cycles a minute apart from `START`, the same values each time; the desired
    /// count after each.
    fn run(&mut self, cycles: i64, values: &[(&str, f64, Source)]) -> Vec<u32> {
        (0..cycles)
            .map(|n| {
                self.cycle(START + n * EVERY_MINUTE, values);
                self.state.desired
            })
            .collect()
    }
}

/// The README's backend: `cpu ≥ 10 → +1`, `cpu ≤ 1 → −1`.
fn backend(min: u32, max: u32) -> ServiceDefinition {
    let mut def = service("web", min, max, &["cpu", "queue"]);
    def.events = vec![
        event("cpu", 1, Some(10.0), None),
        event("cpu", -1, None, Some(1.0)),
    ];
    def
}

#[test]
fn a_cloudwatch_datapoint_read_five_times_is_one_step() {
    let mut pipeline = Pipeline::new(backend(1, 10), 1);
    // Ten cycles, two CloudWatch periods (10:00–10:05 read at 10:00:30 … 10:04:30, then
    // 10:05–10:10): one step each, not ten.
    let counts = pipeline.run(10, &[("cpu", 15.0, Source::CloudWatch)]);
    assert_eq!(counts, [2, 2, 2, 2, 2, 3, 3, 3, 3, 3]);
}

#[test]
fn the_record_says_the_rule_waits_for_a_new_datapoint() {
    let mut pipeline = Pipeline::new(backend(1, 10), 1);
    let cpu = [("cpu", 15.0, Source::CloudWatch)];
    let first = pipeline.cycle(START, &cpu);
    assert_eq!(first.to, Some(2));
    let second = pipeline.cycle(START + EVERY_MINUTE, &cpu);
    assert_eq!((second.from, second.to), (Some(2), Some(2)));
    let rule = &second.rules[0];
    assert_eq!(rule.recommends, None);
    assert_eq!(
        rule.reasons,
        [Reason::WaitingForNewDatapoint {
            rule: RuleKind::StepEvents,
            metric: "event 1: cpu".into(),
            value: 15.0,
            observed_at: at(START - 30),
            last_scaling: at(START + APPLY_DELAY),
        }]
    );
    let used = &second.metrics[0];
    assert_eq!(
        (used.alias.as_str(), used.observed_at),
        ("cpu", Some(at(START - 30)))
    );
    assert!(
        rule.reasons[0]
            .to_string()
            .contains("waiting for a new datapoint"),
        "{}",
        rule.reasons[0]
    );
}

#[test]
fn a_service_never_scaled_and_a_rule_on_no_metric_act_every_cycle() {
    // No last scaling: the first reading acts.
    let mut pipeline = Pipeline::new(backend(1, 10), 1);
    pipeline.state.last_scaling = None;
    assert_eq!(pipeline.run(1, &[("cpu", 15.0, Source::CloudWatch)]), [2]);
    // An expression over the counts only reads nothing that waits.
    let mut def = backend(1, 10);
    def.events = vec![event("desired_count", 1, None, Some(3.0))];
    let mut pipeline = Pipeline::new(def, 1);
    assert_eq!(
        pipeline.run(4, &[("cpu", 15.0, Source::CloudWatch)]),
        [2, 3, 4, 4]
    );
}

#[test]
fn holding_and_scaling_in_wait_alike_for_new_data() {
    // Down events act once per datapoint too; the default scale-down cooldown is off here.
    let mut def = backend(1, 10);
    def.scale_down_cooldown = std::time::Duration::ZERO;
    let mut pipeline = Pipeline::new(def, 8);
    let counts = pipeline.run(10, &[("cpu", 0.5, Source::CloudWatch)]);
    assert_eq!(counts, [7, 7, 7, 7, 7, 6, 6, 6, 6, 6]);
}

#[test]
fn http_values_act_every_cycle_as_in_the_original() {
    let mut pipeline = Pipeline::new(backend(1, 10), 1);
    let counts = pipeline.run(5, &[("cpu", 15.0, Source::Http)]);
    assert_eq!(counts, [2, 3, 4, 5, 6]);
}

#[test]
fn an_event_acts_when_any_of_its_inputs_is_new() {
    let mut def = backend(1, 10);
    def.events = vec![event("cpu + queue", 1, Some(10.0), None)];
    let mut pipeline = Pipeline::new(def.clone(), 1);
    let both = [
        ("cpu", 5.0, Source::CloudWatch),
        ("queue", 6.0, Source::Http),
    ];
    assert_eq!(
        pipeline.run(3, &both),
        [2, 3, 4],
        "the queue is new every cycle"
    );
    let mut pipeline = Pipeline::new(def, 1);
    let both = [
        ("cpu", 5.0, Source::CloudWatch),
        ("queue", 6.0, Source::CloudWatch),
    ];
    assert_eq!(pipeline.run(3, &both), [2, 2, 2]);
}

#[test]
fn average_target_tracking_acts_once_per_datapoint() {
    // ⌈running × 90 ÷ 50⌉ on a datapoint read five times would double the count each cycle.
    let mut def = service("web", 1, 100, &["cpu"]);
    def.target_tracking = Some(TargetTracking {
        metric: expr("cpu"),
        target: 50.0,
        kind: TrackingKind::Average { tolerance: 0.1 },
    });
    let mut pipeline = Pipeline::new(def, 2);
    let counts = pipeline.run(6, &[("cpu", 90.0, Source::CloudWatch)]);
    assert_eq!(counts, [4, 4, 4, 4, 4, 8]);
}

#[test]
fn total_target_tracking_asks_the_same_count_for_the_same_datapoint() {
    // ⌈value ÷ target⌉ does not depend on the count: repeating it is harmless.
    let mut def = service("web", 1, 100, &["queue"]);
    def.target_tracking = tracking("queue", 10.0);
    let mut pipeline = Pipeline::new(def, 2);
    let counts = pipeline.run(6, &[("queue", 90.0, Source::CloudWatch)]);
    assert_eq!(counts, [9; 6]);
}

/// What a generated service reads.
#[derive(Debug, Clone, Copy)]
enum Rules {
    Events,
    EventsPerTask,
    Total,
    Average,
    EventsAndAverage,
}

fn definition(rules: Rules, min: u32, max: u32) -> ServiceDefinition {
    let mut def = service("web", min, max, &["cpu"]);
    let average = Some(TargetTracking {
        metric: expr("cpu"),
        target: 50.0,
        kind: TrackingKind::Average { tolerance: 0.1 },
    });
    match rules {
        Rules::Events => {
            def.events = vec![
                event("cpu", 2, Some(60.0), None),
                event("cpu", -1, None, Some(20.0)),
            ]
        }
        Rules::EventsPerTask => {
            def.events = vec![
                event("cpu / max(running_count, 1)", 1, Some(10.0), None),
                event("cpu / max(running_count, 1)", -3, None, Some(2.0)),
            ]
        }
        Rules::Total => def.target_tracking = tracking("cpu", 10.0),
        Rules::Average => def.target_tracking = average,
        Rules::EventsAndAverage => {
            def.events = vec![event("cpu", 1, Some(70.0), None)];
            def.target_tracking = average;
        }
    }
    def.scale_down_cooldown = std::time::Duration::ZERO;
    def
}

fn rules() -> impl Strategy<Value = Rules> {
    prop_oneof![
        Just(Rules::Events),
        Just(Rules::EventsPerTask),
        Just(Rules::Total),
        Just(Rules::Average),
        Just(Rules::EventsAndAverage),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    /// Whatever the rules, the sources, the schedule and the count it starts from (inside or
    /// outside the bounds), every cycle ends within [min, max], and with CloudWatch inputs a
    /// rule that scales from the count changes it at most once per datapoint.
    #[test]
    fn desired_stays_within_bounds_over_many_cycles(
        rules in rules(),
        min in 0u32..4,
        span in 0u32..6,
        initial in 0u32..15,
        http in any::<bool>(),
        schedule in prop::collection::vec((1i64..8, 0.0f64..100.0, 0u32..=100), 1..30),
    ) {
        let max = min + span;
        let mut pipeline = Pipeline::new(definition(rules, min, max), initial);
        let source = if http { Source::Http } else { Source::CloudWatch };
        let mut now = START;
        let mut observations = BTreeMap::new();
        let mut rule_changes = 0u32;
        for (gap, cpu, running_percent) in schedule {
            // Tasks still starting or stopping: running anywhere up to desired.
            pipeline.state.running = pipeline.state.desired * running_percent / 100;
            let before = pipeline.state.desired;
            let decision = pipeline.cycle(now, &[("cpu", cpu, source)]);
            let after = pipeline.state.desired;
            prop_assert!(min <= after && after <= max, "{} not in [{}, {}]: {:#?}", after, min, max, decision);
            prop_assert_eq!(decision.to, Some(after));
            let bounded = decision.reasons.iter().any(|r| matches!(r, Reason::BroughtWithinBounds { .. }));
            prop_assert_eq!(bounded, !(min..=max).contains(&before));
            if after != before && !bounded {
                rule_changes += 1;
            }
            observations.insert(now.div_euclid(PERIOD), ());
            now += gap * EVERY_MINUTE;
        }
        if !http && !matches!(rules, Rules::Total) {
            prop_assert!(
                rule_changes as usize <= observations.len(),
                "{} changes from {} datapoints", rule_changes, observations.len()
            );
        }
    }
}
