//! One service's desired count: each rule recommends (or abstains), the recommendations
//! are combined — scale out if any rule asks, scale in only if every rule agrees — and the
//! cooldowns decide whether the change may happen now.
//!
//! Rules live one per file behind [`Rule`]; [`rules_of`] lists them in one place.

use shared::definition::ServiceDefinition;
use shared::expr::{EvalError, Expr};
use shared::messages::{Reason, RuleOutcome, ServiceChange, ServiceDecision, ServiceMetrics};
use shared::state::{Direction, Launch, Scheduling, ServiceState};
use shared::time::{self, Timestamp};

mod step_events;
mod target_tracking;

use super::metrics::{resolve, ServiceValues};
use step_events::StepEvents;
use target_tracking::TargetTrackingRule;

/// What a rule sees.
pub(crate) struct RuleInput<'a> {
    /// The desired count, within [min, max] (a count outside is brought to the bound
    /// before any rule runs).
    pub current: u32,
    /// The running count ECS reports.
    pub running: u32,
    /// The service's bounds.
    pub min: u32,
    /// The service's bounds.
    pub max: u32,
    /// The metric values.
    pub values: &'a ServiceValues,
    /// When the executor last changed the service's desired count.
    pub last_scaling: Option<Timestamp>,
}

/// Why a rule that would act waits: what it read was observed before the last scaling.
pub(crate) struct Stale {
    /// The newest observation among the values read.
    pub observed_at: Timestamp,
    /// The last scaling.
    pub last_scaling: Timestamp,
}

impl RuleInput<'_> {
    /// The value of a name in an expression: `desired_count` and `running_count` are the
    /// service's counts, any other name a metric alias.
    pub fn lookup(&self, name: &str) -> Option<f64> {
        match name {
            "desired_count" => Some(f64::from(self.current)),
            "running_count" => Some(f64::from(self.running)),
            alias => self.values.get(alias),
        }
    }

    /// `expr` evaluated over [`Self::lookup`].
    pub fn eval(&self, expr: &Expr) -> Result<f64, EvalError> {
        expr.eval(|name| self.lookup(name))
    }

    /// One step per observation: `Err` when every metric `expr` reads was observed at or
    /// before the service's last scaling (in whole seconds, as the tag), so acting on it
    /// again would act twice on one measurement. An expression of no metric (constants, the
    /// service's counts) and a service never scaled always act.
    pub fn check_fresh(&self, expr: &Expr) -> Result<(), Stale> {
        let Some(last_scaling) = self.last_scaling else {
            return Ok(());
        };
        // The tag counts whole seconds; so does the comparison.
        let newest = expr
            .aliases()
            .iter()
            .filter_map(|alias| self.values.observed_at(alias))
            .map(time::to_seconds)
            .max();
        match newest {
            Some(observed_at) if observed_at <= last_scaling => Err(Stale {
                observed_at,
                last_scaling,
            }),
            _ => Ok(()),
        }
    }
}

/// A scaling rule. `recommends: None` means no opinion: the rule cannot be evaluated (its
/// metric is missing), and then it never lets the service scale in.
pub(crate) trait Rule {
    /// The desired count this rule asks for, with its reasons.
    fn recommend(&self, input: &RuleInput<'_>) -> RuleOutcome;
}

/// The rules a service defines, in the order they are reported.
fn rules_of(def: &ServiceDefinition) -> Vec<Box<dyn Rule + '_>> {
    let mut rules: Vec<Box<dyn Rule + '_>> = Vec::new();
    // The original's step events first.
    if !def.events.is_empty() {
        rules.push(Box::new(StepEvents(&def.events)));
    }
    // Then target tracking, our extension.
    if let Some(tt) = &def.target_tracking {
        rules.push(Box::new(TargetTrackingRule(tt)));
    }
    rules
}

/// One service's decision.
pub(crate) struct ServiceOutcome {
    /// For the record.
    pub decision: ServiceDecision,
    /// The action, when the count changes.
    pub change: Option<ServiceChange>,
}

/// How the record names where a service's tasks run.
fn launch_name(launch: &Launch) -> String {
    match launch {
        Launch::Ec2 => "EC2".into(),
        Launch::Fargate => "Fargate".into(),
        Launch::External => "EXTERNAL".into(),
        Launch::CapacityProviders { providers } => {
            format!("capacity providers {}", providers.join(", "))
        }
    }
}

/// Decides one service of the definition. `state` is `None` when the service is not in
/// the cluster; `now` (whole seconds) is for the cooldowns.
pub(crate) fn decide_service(
    def: &ServiceDefinition,
    state: Option<&ServiceState>,
    reported: Option<&ServiceMetrics>,
    now: Timestamp,
) -> ServiceOutcome {
    let mut decision = ServiceDecision {
        service: def.name.clone(),
        from: state.map(|s| s.desired),
        to: state.map(|s| s.desired),
        metrics: Vec::new(),
        rules: Vec::new(),
        reasons: Vec::new(),
    };
    let unchanged = |mut decision: ServiceDecision, reason: Reason| {
        decision.reasons.push(reason);
        ServiceOutcome {
            decision,
            change: None,
        }
    };
    if !def.enabled {
        return unchanged(decision, Reason::ServiceDisabled);
    }
    let Some(state) = state else {
        return unchanged(decision, Reason::ServiceNotInCluster);
    };
    if state.status != "ACTIVE" {
        let status = state.status.clone();
        return unchanged(decision, Reason::ServiceNotActive { status });
    }
    if state.placement.scheduling == Scheduling::Daemon {
        return unchanged(decision, Reason::DaemonNotScaled);
    }
    if let Some(why) = super::placement::not_modelled(state) {
        return unchanged(decision, Reason::ServiceNotModelled { why });
    }
    if !state.placement.launch.on_instances() {
        decision.reasons.push(Reason::NoInstanceDemand {
            launch: launch_name(&state.placement.launch),
        });
    }
    let values = resolve(def, reported, now);
    decision.metrics = values.used.clone();

    // The loader guarantees min ≤ max; a hand-built definition that breaks it gets max.
    let (min, max) = (def.min.min(def.max), def.max);
    let from = state.desired;
    // The original's bounds: below min → min, above max → max, and no rule that cycle (the
    // next cycle starts from the bound). No cooldown holds it.
    let within = from.clamp(min, max);
    if within != from {
        decision.reasons.push(Reason::BroughtWithinBounds {
            from,
            to: within,
            min,
            max,
        });
        decision.to = Some(within);
        let change = Some(ServiceChange {
            service: def.name.clone(),
            from,
            to: within,
        });
        return ServiceOutcome { decision, change };
    }
    let base = from;

    let input = RuleInput {
        current: base,
        running: state.running,
        min,
        max,
        values: &values,
        last_scaling: state.last_scaling.and_then(|r| {
            i64::try_from(r.at_epoch_secs)
                .ok()
                .and_then(|secs| Timestamp::from_second(secs).ok())
        }),
    };
    decision.rules = rules_of(def).iter().map(|r| r.recommend(&input)).collect();
    let proposed = combine(base, &decision.rules, &mut decision.reasons);
    let to = apply_cooldowns(def, state, base, proposed, now, &mut decision.reasons);
    decision.to = Some(to);
    let change = (to != from).then(|| ServiceChange {
        service: def.name.clone(),
        from,
        to,
    });
    ServiceOutcome { decision, change }
}

/// Scale out if any rule asks (to the largest ask); scale in only if every rule gives a
/// smaller count (to the largest of them, the gentlest); otherwise hold.
fn combine(base: u32, rules: &[RuleOutcome], reasons: &mut Vec<Reason>) -> u32 {
    if rules.is_empty() {
        reasons.push(Reason::NoRules);
        return base;
    }
    let asks = rules.iter().filter_map(|r| r.recommends);
    if let Some(up) = asks.clone().filter(|&n| n > base).max() {
        reasons.push(Reason::ScaleOut { from: base, to: up });
        return up;
    }
    let lower = asks.clone().filter(|&n| n < base).max();
    match lower {
        Some(down) if rules.iter().all(|r| r.recommends.is_some_and(|n| n < base)) => {
            reasons.push(Reason::ScaleIn {
                from: base,
                to: down,
            });
            down
        }
        Some(down) => {
            reasons.push(Reason::ScaleInNotAgreed { proposed: down });
            reasons.push(Reason::Hold { count: base });
            base
        }
        None => {
            reasons.push(Reason::Hold { count: base });
            base
        }
    }
}

/// Scale-up waits `scale_up_cooldown` after a scale-up; scale-down waits
/// `scale_down_cooldown` after any scaling. (Bringing a count within bounds happens before,
/// and is never held.)
fn apply_cooldowns(
    def: &ServiceDefinition,
    state: &ServiceState,
    base: u32,
    proposed: u32,
    now: Timestamp,
    reasons: &mut Vec<Reason>,
) -> u32 {
    let Some(last) = state.last_scaling else {
        return proposed;
    };
    // A record from the future (clock skew) counts as just now.
    let elapsed = time::elapsed_since(now, last.at_epoch_secs).as_secs();
    let (direction, cooldown) = if proposed > base {
        if last.direction != Direction::Up {
            return proposed;
        }
        (Direction::Up, def.scale_up_cooldown.as_secs())
    } else if proposed < base {
        (Direction::Down, def.scale_down_cooldown.as_secs())
    } else {
        return proposed;
    };
    if elapsed >= cooldown {
        return proposed;
    }
    reasons.push(Reason::CooldownBlocked {
        direction,
        wanted: proposed,
        remaining_secs: cooldown - elapsed,
    });
    base
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::fixtures::*;
    use shared::resources::Resources;
    use shared::state::ScalingRecord;

    /// `desired_count` and `running_count` are the service's live counts, so rules can be
    /// written per task.
    #[test]
    fn expressions_read_the_service_counts() {
        let mut def = service("s", 1, 20, &["queue"]);
        // Per running task: 40 queued over 4 running tasks is 10 each.
        def.events = vec![event("queue / running_count", 2, Some(10.0), None)];
        let mut st = service_state("s", 6, Resources::new(256, 512));
        st.running = 4;
        let m = metrics("s", &[("queue", 40.0)], &[]);
        let out = decide_service(&def, Some(&st), m.get("s"), now());
        assert_eq!(out.decision.to, Some(8), "{:#?}", out.decision);
        st.running = 5;
        let out = decide_service(&def, Some(&st), m.get("s"), now());
        assert_eq!(out.decision.to, Some(6), "8 per task: no event matches");

        // In target tracking, over the desired count.
        let mut def = service("s", 1, 20, &["queue"]);
        def.target_tracking = tracking("queue / desired_count", 1.0);
        let m = metrics("s", &[("queue", 24.0)], &[]);
        let out = decide_service(&def, Some(&st), m.get("s"), now());
        assert_eq!(out.decision.to, Some(4), "⌈24 ÷ 6⌉: {:#?}", out.decision);

        // No running task: a division by it is an error in the record, not a panic.
        st.running = 0;
        let mut def = service("s", 1, 20, &["queue"]);
        def.events = vec![event("queue / running_count", 1, Some(1.0), None)];
        let out = decide_service(&def, Some(&st), m.get("s"), now());
        assert_eq!(out.decision.to, Some(6));
        assert!(matches!(
            &out.decision.rules[0].reasons[0],
            Reason::RuleNotEvaluated { error, .. } if error.contains("division by zero")
        ));
    }

    /// The tag counts whole seconds: a value collected in the second of the scaling (a report
    /// delivered again after its plan was applied) is not new.
    #[test]
    fn freshness_is_counted_in_the_tags_whole_seconds() {
        let mut def = service("s", 1, 9, &["queue"]);
        def.events = vec![event("queue", 1, Some(5.0), None)];
        let mut st = service_state("s", 3, Resources::new(256, 512));
        st.last_scaling = Some(ScalingRecord {
            direction: Direction::Up,
            at_epoch_secs: NOW_SECS,
        });
        let mut m = metrics("s", &[("queue", 9.0)], &[]);
        let within_the_second = Timestamp::new(NOW_SECS as i64, 200_000_000).expect("in range");
        if let Some(s) = m.get_mut("s") {
            s.observed_at.insert("queue".into(), within_the_second);
        }
        let later = Timestamp::from_second(NOW_SECS as i64 + 60).expect("in range");
        let out = decide_service(&def, Some(&st), m.get("s"), later);
        assert_eq!(out.decision.to, Some(3), "{:#?}", out.decision);
        if let Some(s) = m.get_mut("s") {
            let next_second = Timestamp::from_second(NOW_SECS as i64 + 1).expect("in range");
            s.observed_at.insert("queue".into(), next_second);
        }
        let out = decide_service(&def, Some(&st), m.get("s"), later);
        assert_eq!(out.decision.to, Some(4));
    }

    /// The original's bounds, row by row: a count below `min` becomes `min` and one above `max`
    /// becomes `max`, and then no rule runs that cycle; within bounds the events decide.
    #[test]
    fn bounds_of_the_original_come_first_and_end_the_cycle() {
        // (desired, min, max, metric value, expected desired, rules evaluated)
        let rows: [(u32, u32, u32, f64, u32, bool); 9] = [
            (0, 2, 5, 9.0, 2, false), // below min, an up event matches: min, not min + 1
            (1, 2, 5, 0.0, 2, false), // below min, a down event matches: still min
            (1, 2, 5, 4.0, 2, false), // below min, nothing matches: min
            (9, 1, 4, 0.0, 4, false), // above max, a down event matches: max, not max - 1
            (9, 1, 4, 9.0, 4, false), // above max, an up event matches: max
            (2, 2, 5, 0.0, 2, true),  // at min: events run (the down event is skipped)
            (2, 2, 5, 9.0, 3, true),  // at min: the up event fires
            (4, 1, 4, 0.0, 3, true),  // at max: the down event fires
            (3, 1, 4, 4.0, 3, true),  // within: no event matches
        ];
        for (desired, min, max, value, expected, evaluated) in rows {
            let mut def = service("s", min, max, &["m"]);
            def.events = vec![
                event("m", 1, Some(5.0), None),
                event("m", -1, None, Some(3.0)),
            ];
            let mut st = service_state("s", desired, Resources::new(256, 512));
            if !evaluated {
                // Target tracking would ask for ⌈m ÷ 1⌉: it does not run either.
                def.target_tracking = tracking("m", 1.0);
                // A cooldown in either direction never holds the bounds.
                st.last_scaling = Some(ScalingRecord {
                    direction: Direction::Up,
                    at_epoch_secs: NOW_SECS,
                });
                def.scale_up_cooldown = std::time::Duration::from_secs(600);
            }
            let m = metrics("s", &[("m", value)], &[]);
            let out = decide_service(&def, Some(&st), m.get("s"), now());
            let row = format!("desired {desired} in [{min}, {max}], m = {value}");
            assert_eq!(
                out.decision.to,
                Some(expected),
                "{row}: {:#?}",
                out.decision
            );
            assert_eq!(!out.decision.rules.is_empty(), evaluated, "{row}");
            if !evaluated {
                assert_eq!(
                    out.decision.reasons,
                    [Reason::BroughtWithinBounds {
                        from: desired,
                        to: expected,
                        min,
                        max
                    }],
                    "{row}"
                );
                assert_eq!(
                    out.change.map(|c| (c.from, c.to)),
                    Some((desired, expected)),
                    "{row}"
                );
                // The metrics are still recorded.
                assert_eq!(out.decision.metrics[0].value, Some(value), "{row}");
            }
        }
    }
}
