//! Target tracking (the KEDA/HPA rule): desired = ⌈value ÷ target⌉, clamped to the
//! service's [min, max], so a step from 5 to 500 queued messages is met in one cycle.

use shared::definition::TargetTracking;
use shared::messages::{Reason, RuleKind, RuleOutcome};

use super::rules::{Rule, RuleInput};

/// The service's `target_tracking`.
pub(crate) struct TargetTrackingRule<'a>(pub &'a TargetTracking);

impl Rule for TargetTrackingRule<'_> {
    fn recommend(&self, input: &RuleInput<'_>) -> RuleOutcome {
        let metric = self.0.metric.source().to_string();
        let target = self.0.target;
        let not_evaluated = |error: String| RuleOutcome {
            rule: RuleKind::TargetTracking,
            recommends: None,
            reasons: vec![Reason::RuleNotEvaluated {
                rule: RuleKind::TargetTracking,
                metric: metric.clone(),
                error,
            }],
        };
        let value = match input.eval(&self.0.metric) {
            Ok(v) => v,
            Err(e) => return not_evaluated(e.to_string()),
        };
        // The loader rejects a target ≤ 0; a hand-built definition must not divide by it.
        if !(target.is_finite() && target > 0.0) {
            return not_evaluated(format!("target {target} is not a positive number"));
        }
        let wanted = (value / target).ceil();
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
        let mut reasons = vec![Reason::TargetTracking {
            metric,
            value,
            target,
            desired,
        }];
        if wanted != f64::from(desired) {
            reasons.push(Reason::Clamped {
                requested: wanted,
                to: desired,
                min,
                max,
            });
        }
        RuleOutcome {
            rule: RuleKind::TargetTracking,
            recommends: Some(desired),
            reasons,
        }
    }
}
