//! The original's step events, with its exact semantics: bounds inclusive, `null`
//! unbounded, the first matching event wins, `action: 0` holds, the result is clamped to
//! the service's [min, max] — except that an event which would cross a bound the count
//! already sits at is *skipped* and the search goes on (so at max a `+1` event falls
//! through to a later event).
//!
//! One step per observation: the event that would act does so only when one of the metrics
//! its expression reads was observed after the service's last scaling; otherwise the rule
//! waits for a new datapoint (a CloudWatch period read by several cycles steps once, as the
//! original did at its 5-minute rate; HTTP values, fetched every cycle, act every cycle).

use shared::definition::StepEvent;
use shared::messages::{Reason, RuleKind, RuleOutcome};

use super::{Rule, RuleInput};

/// The service's `events`, in file order.
pub(crate) struct StepEvents<'a>(pub &'a [StepEvent]);

impl Rule for StepEvents<'_> {
    fn recommend(&self, input: &RuleInput<'_>) -> RuleOutcome {
        let (current, min, max) = (input.current, input.min, input.max);
        let mut reasons = Vec::new();
        let mut values = Vec::new();
        let outcome = |recommends, reasons| RuleOutcome {
            rule: RuleKind::StepEvents,
            recommends,
            reasons,
        };
        for (i, event) in self.0.iter().enumerate() {
            let n = i + 1;
            let metric = event.metric.source().to_string();
            let value = match input.eval(&event.metric) {
                Ok(v) => v,
                Err(e) => {
                    // Whether this event would have matched first is unknown, so no later
                    // event may fire in its place.
                    reasons.push(Reason::RuleNotEvaluated {
                        rule: RuleKind::StepEvents,
                        metric: format!("event {n}: {metric}"),
                        error: e.to_string(),
                    });
                    return outcome(None, reasons);
                }
            };
            // Each expression's value once, however many events read it.
            if !values.iter().any(|(m, _)| *m == metric) {
                values.push((metric.clone(), value));
            }
            if !event.matches(value) {
                continue;
            }
            if event.action == 0 {
                reasons.push(Reason::StepEventHold {
                    event: n,
                    metric,
                    value,
                });
                return outcome(Some(current), reasons);
            }
            let wanted = i128::from(current) + i128::from(event.action);
            let desired = if wanted > i128::from(max) {
                if current == max {
                    reasons.push(Reason::StepEventSkippedAtBound {
                        event: n,
                        metric,
                        value,
                        action: event.action,
                        bound: max,
                    });
                    continue;
                }
                max
            } else if wanted < i128::from(min) {
                if current == min {
                    reasons.push(Reason::StepEventSkippedAtBound {
                        event: n,
                        metric,
                        value,
                        action: event.action,
                        bound: min,
                    });
                    continue;
                }
                min
            } else {
                // Within [min, max] ⊂ u32.
                u32::try_from(wanted).unwrap_or(max)
            };
            if let Err(stale) = input.check_fresh(&event.metric) {
                reasons.push(Reason::WaitingForNewDatapoint {
                    rule: RuleKind::StepEvents,
                    metric: format!("event {n}: {metric}"),
                    value,
                    observed_at: stale.observed_at,
                    last_scaling: stale.last_scaling,
                });
                return outcome(None, reasons);
            }
            reasons.push(Reason::StepEventMatched {
                event: n,
                metric,
                value,
                action: event.action,
                desired,
            });
            if i128::from(desired) != wanted {
                reasons.push(Reason::Clamped {
                    requested: wanted as f64,
                    to: desired,
                    min,
                    max,
                });
            }
            return outcome(Some(desired), reasons);
        }
        reasons.push(Reason::NoStepEventMatched { values });
        outcome(Some(current), reasons)
    }
}
