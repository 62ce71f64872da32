//! Which reports of a delivery are current enough to plan on (pure): not collected longer
//! ago than the maximum age, not dated further in the future than the planner's clock allows.
//!
//! A metrics message can come back long after it was collected (a failed batch is redelivered
//! for up to the queue's retention), and a clock can be wrong: such a report must not drive a
//! plan after newer ones have, nor be planned as current.

use std::time::Duration;

use shared::messages::{MetricsReport, Reason, ReportAge};
use shared::time::Timestamp;

/// How current a report must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// Reports collected longer ago than this are ignored (`METRICS_MAX_AGE_SECS`).
    pub max_age: Duration,
    /// Reports dated further ahead of the planner's clock than this are ignored.
    pub max_ahead: Duration,
}

/// How far ahead of the planner's clock a report may be dated (clock skew).
pub const MAX_AHEAD: Duration = Duration::from_secs(60);

impl Freshness {
    /// `max_age`, and [`MAX_AHEAD`].
    pub fn new(max_age: Duration) -> Self {
        Freshness {
            max_age,
            max_ahead: MAX_AHEAD,
        }
    }

    /// Why `report` must not be planned on at `now`, if it must not.
    pub fn judge(&self, report: &MetricsReport, now: Timestamp) -> Option<ReportAge> {
        let age = now.duration_since(report.collected_at);
        // Whole seconds, rounded towards the limit's side: a report is refused only when it is
        // past the limit by a whole second or more, never for a fraction.
        let secs = |d: jiff::SignedDuration| d.as_secs().unsigned_abs();
        if age.is_negative() {
            let ahead = secs(age);
            (ahead > self.max_ahead.as_secs()).then_some(ReportAge::InTheFuture {
                ahead_secs: ahead,
                max_ahead_secs: self.max_ahead.as_secs(),
            })
        } else {
            let old = secs(age);
            (old > self.max_age.as_secs()).then_some(ReportAge::TooOld {
                age_secs: old,
                max_age_secs: self.max_age.as_secs(),
            })
        }
    }

    /// The reports to plan on (in the given order), and a [`Reason::ReportIgnored`] for each of
    /// the others.
    pub fn sort<'a>(
        &self,
        reports: &'a [MetricsReport],
        now: Timestamp,
    ) -> (Vec<&'a MetricsReport>, Vec<Reason>) {
        let mut current = Vec::new();
        let mut ignored = Vec::new();
        for report in reports {
            match self.judge(report, now) {
                None => current.push(report),
                Some(why) => ignored.push(Reason::ReportIgnored {
                    cycle_id: report.cycle_id.clone(),
                    collected_at: report.collected_at,
                    why,
                }),
            }
        }
        (current, ignored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("in range")
    }

    fn report(cycle: &str, collected_at: Timestamp) -> MetricsReport {
        MetricsReport::new("prod", cycle, collected_at)
    }

    #[test]
    fn the_limits_are_inclusive_to_the_second() {
        let now = at(1_800_000_000);
        let f = Freshness::new(Duration::from_secs(180));
        assert_eq!(f.judge(&report("c", at(1_800_000_000 - 180)), now), None);
        assert_eq!(
            f.judge(&report("c", at(1_800_000_000 - 181)), now),
            Some(ReportAge::TooOld {
                age_secs: 181,
                max_age_secs: 180
            })
        );
        // 180.5 s is not a whole second past the limit.
        let half = now - jiff::SignedDuration::from_millis(180_500);
        assert_eq!(f.judge(&report("c", half), now), None);
        assert_eq!(f.judge(&report("c", at(1_800_000_060)), now), None);
        assert_eq!(
            f.judge(&report("c", at(1_800_000_061)), now),
            Some(ReportAge::InTheFuture {
                ahead_secs: 61,
                max_ahead_secs: 60
            })
        );
    }

    #[test]
    fn reports_from_2001_and_9999_are_not_current_today() {
        let now = at(1_800_000_000);
        let f = Freshness::new(Duration::from_secs(180));
        let reports = [
            report("y2001", "2001-01-01T00:00:00Z".parse().expect("time")),
            report("now", at(1_800_000_000 - 30)),
            report("y9999", "9999-12-30T00:00:00Z".parse().expect("time")),
        ];
        let (current, ignored) = f.sort(&reports, now);
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].cycle_id, "now");
        let cycles: Vec<&str> = ignored
            .iter()
            .map(|r| match r {
                Reason::ReportIgnored { cycle_id, .. } => cycle_id.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(cycles, ["y2001", "y9999"]);
        assert!(matches!(
            &ignored[0],
            Reason::ReportIgnored {
                why: ReportAge::TooOld { .. },
                ..
            }
        ));
        assert!(matches!(
            &ignored[1],
            Reason::ReportIgnored {
                why: ReportAge::InTheFuture { .. },
                ..
            }
        ));
        let text = ignored[0].to_string();
        assert!(
            text.starts_with("metrics report y2001 collected at 2001-01-01T00:00:00Z ignored: ")
                && text.contains("older than the limit of 180 s"),
            "{text}"
        );
    }
}
