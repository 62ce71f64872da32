//! Target tracking (the KEDA/HPA rule), by the kind of its metric:
//!
//! - `total` (a queue length): desired = ⌈value ÷ target⌉, so a step from 5 to 500 queued
//!   messages is met in one cycle;
//! - `average` (a per-task average such as CPUUtilization): desired = ⌈running × value ÷
//!   target⌉ (Application Auto Scaling's and the HPA's rule), no change while the value is
//!   within the tolerance of the target, nothing from zero running tasks, and once per
//!   observation (a datapoint observed before the last scaling measured the old count).
//!
//! Either is clamped to the service's [min, max].

use shared::definition::{TargetTracking, TrackingKind};
use shared::messages::{Reason, RuleKind, RuleOutcome};

use super::{Rule, RuleInput};

/// The service's `target_tracking`.
pub(crate) struct TargetTrackingRule<'a>(pub &'a TargetTracking);

impl Rule for TargetTrackingRule<'_> {
    fn recommend(&self, input: &RuleInput<'_>) -> RuleOutcome {
        let metric = self.0.metric.source().to_string();
        let target = self.0.target;
        let outcome = |recommends, reasons| RuleOutcome {
            rule: RuleKind::TargetTracking,
            recommends,
            reasons,
        };
        let not_evaluated = |error: String| {
            let reason = Reason::RuleNotEvaluated {
                rule: RuleKind::TargetTracking,
                metric: metric.clone(),
                error,
            };
            outcome(None, vec![reason])
        };
        let value = match input.eval(&self.0.metric) {
            Ok(v) => v,
            Err(e) => return not_evaluated(e.to_string()),
        };
        // The loader rejects a target ≤ 0; a hand-built definition must not divide by it.
        if !(target.is_finite() && target > 0.0) {
            return not_evaluated(format!("target {target} is not a positive number"));
        }
        // The ask, and the running count it scales (average only).
        let (wanted, scaled) = match self.0.kind {
            TrackingKind::Total => ((value / target).ceil(), None),
            TrackingKind::Average { tolerance } => {
                let running = input.running;
                if running == 0 {
                    let reason = Reason::TargetTrackingNoRunningTasks { metric, value };
                    return outcome(None, vec![reason]);
                }
                // |value ÷ target − 1| ≤ tolerance, without the rounding of the division.
                if (value - target).abs() <= tolerance * target {
                    let reason = Reason::TargetTrackingWithinTolerance {
                        metric,
                        value,
                        target,
                        tolerance,
                        count: input.current,
                    };
                    return outcome(Some(input.current), vec![reason]);
                }
                ((f64::from(running) * value / target).ceil(), Some(running))
            }
        };
        if !wanted.is_finite() {
            return not_evaluated("the ratio is not a finite number".into());
        }
        let (min, max) = (input.min, input.max);
        // `as` saturates for floats; the clamp makes the bounds exact.
        let desired = if wanted <= f64::from(min) {
            min
        } else if wanted >= f64::from(max) {
            max
        } else {
            wanted as u32
        };
        // Relative to the running count, acting twice on one measurement would compound.
        if scaled.is_some() && desired != input.current {
            if let Err(stale) = input.check_fresh(&self.0.metric) {
                let reason = Reason::WaitingForNewDatapoint {
                    rule: RuleKind::TargetTracking,
                    metric,
                    value,
                    observed_at: stale.observed_at,
                    last_scaling: stale.last_scaling,
                };
                return outcome(None, vec![reason]);
            }
        }
        let mut reasons = vec![match scaled {
            None => Reason::TargetTracking {
                metric,
                value,
                target,
                desired,
            },
            Some(running) => Reason::TargetTrackingAverage {
                metric,
                value,
                target,
                running,
                desired,
            },
        }];
        if wanted != f64::from(desired) {
            reasons.push(Reason::Clamped {
                requested: wanted,
                to: desired,
                min,
                max,
            });
        }
        outcome(Some(desired), reasons)
    }
}

#[cfg(test)]
mod tests {
    use shared::definition::{TargetTracking, TrackingKind};
    use shared::messages::Reason;
    use shared::resources::Resources;

    use crate::decide::fixtures::*;
    use crate::decide::rules::decide_service;

    /// `(desired, running)` of the service, the value of `cpu`, the rule → the decision.
    fn decide(
        kind: TrackingKind,
        desired: u32,
        running: u32,
        cpu: f64,
    ) -> shared::messages::ServiceDecision {
        let mut def = service("web", 1, 20, &["cpu"]);
        def.target_tracking = Some(TargetTracking {
            metric: expr("cpu"),
            target: 50.0,
            kind,
        });
        let mut st = service_state("web", desired, Resources::new(256, 512));
        st.running = running;
        let m = metrics("web", &[("cpu", cpu)], &[]);
        decide_service(&def, Some(&st), m.get("web"), now()).decision
    }

    const AVERAGE: TrackingKind = TrackingKind::Average { tolerance: 0.1 };

    #[test]
    fn total_divides_the_value_whatever_the_count() {
        // Right for a total (a queue of 120 with 50 per task needs 3 tasks), and why a
        // per-task average needs `average`: 90 % CPU over any number of tasks gives 2.
        assert_eq!(decide(TrackingKind::Total, 4, 4, 120.0).to, Some(3));
        assert_eq!(decide(TrackingKind::Total, 10, 10, 90.0).to, Some(2));
        assert_eq!(decide(TrackingKind::Total, 1, 1, 90.0).to, Some(2));
    }

    #[test]
    fn average_scales_the_running_count_by_value_over_target() {
        // ⌈4 × 90 ÷ 50⌉ = ⌈7.2⌉
        let d = decide(AVERAGE, 4, 4, 90.0);
        assert_eq!(d.to, Some(8), "{d:#?}");
        assert_eq!(
            d.rules[0].reasons,
            [Reason::TargetTrackingAverage {
                metric: "cpu".into(),
                value: 90.0,
                target: 50.0,
                running: 4,
                desired: 8
            }]
        );
        // ⌈10 × 40 ÷ 50⌉ = 8: fewer tasks when they idle.
        assert_eq!(decide(AVERAGE, 10, 10, 40.0).to, Some(8));
        // From the running count, not the desired one: 3 of 6 run at 100 % → 6.
        assert_eq!(decide(AVERAGE, 6, 3, 100.0).to, Some(6));
        // Clamped to [min, max].
        let d = decide(AVERAGE, 10, 10, 500.0);
        assert_eq!(d.to, Some(20));
        assert!(d.rules[0]
            .reasons
            .iter()
            .any(|r| matches!(r, Reason::Clamped { to: 20, .. })));
    }

    #[test]
    fn average_holds_within_the_tolerance() {
        // |45 ÷ 50 − 1| = 0.1 and |55 ÷ 50 − 1| = 0.1: within (inclusive); 44 and 56 are not.
        for cpu in [45.0, 50.0, 55.0] {
            let d = decide(AVERAGE, 10, 10, cpu);
            assert_eq!(d.to, Some(10), "cpu {cpu}");
            assert_eq!(
                d.rules[0].reasons,
                [Reason::TargetTrackingWithinTolerance {
                    metric: "cpu".into(),
                    value: cpu,
                    target: 50.0,
                    tolerance: 0.1,
                    count: 10
                }],
                "cpu {cpu}"
            );
        }
        assert_eq!(decide(AVERAGE, 10, 10, 44.0).to, Some(9));
        assert_eq!(decide(AVERAGE, 10, 10, 56.0).to, Some(12));
        // A zero tolerance acts on any difference: ⌈10 × 51 ÷ 50⌉ = 11.
        let exact = TrackingKind::Average { tolerance: 0.0 };
        assert_eq!(decide(exact, 10, 10, 51.0).to, Some(11));
        assert_eq!(decide(exact, 10, 10, 50.0).to, Some(10));
    }

    #[test]
    fn average_never_scales_from_zero_running_tasks() {
        let d = decide(AVERAGE, 2, 0, 95.0);
        assert_eq!(d.to, Some(2));
        assert_eq!(d.rules[0].recommends, None);
        assert_eq!(
            d.rules[0].reasons,
            [Reason::TargetTrackingNoRunningTasks {
                metric: "cpu".into(),
                value: 95.0
            }]
        );
    }
}
