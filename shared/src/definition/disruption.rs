//! Disruption controls of a cluster file: how many instances may drain at once (the budget),
//! when busy instances may be drained for consolidation (the windows), when a drain is worth
//! it, what happens to a drain past its deadline, and which services must never be disrupted.
//!
//! Plain data with the two pure evaluations the planner needs: a budget's count for a group
//! size ([`BudgetValue::of`]) and whether a window is open at an instant
//! ([`ConsolidationWindow::contains`]). Time zones come from the IANA database bundled into the
//! binary ([`time_zone`]), never from the host: a Lambda image may have no `/usr/share/zoneinfo`.

use std::sync::OnceLock;
use std::time::Duration;

use jiff::civil::Weekday;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::Timestamp;

/// Instances that may be DRAINING at once when the file gives no `disruption_budget`: half the
/// group (the step ECS managed scaling takes when it scales in), at least one.
pub const DEFAULT_DISRUPTION_BUDGET: BudgetValue = BudgetValue::Percent(50);
/// A busy instance whose drain would not shrink the group is drained only below this share of
/// its CPU and of its memory in use.
pub const DEFAULT_CONSOLIDATION_THRESHOLD: f64 = 0.5;
/// How long an instance whose drain was aborted is not drained again.
pub const DEFAULT_DRAIN_ABORT_COOLDOWN_SECS: u64 = 3600;

/// The cluster's disruption controls (see the README's configuration reference).
#[derive(Debug, Clone, PartialEq)]
pub struct Disruption {
    /// Instances that may be DRAINING at once, inside and outside the windows. Ignored when the
    /// file sets `max_drain_per_cycle` (the original's per-plan limit wins).
    pub budget: DisruptionBudget,
    /// When busy instances may be drained for consolidation; empty: always.
    pub windows: Vec<ConsolidationWindow>,
    /// A share in (0, 1]: see [`DEFAULT_CONSOLIDATION_THRESHOLD`].
    pub consolidation_threshold: f64,
    /// What happens to an instance still running tasks `drain_timeout` after its drain.
    pub drain_timeout_action: DrainTimeoutAction,
    /// After an aborted drain, the instance is not drained again for this long.
    pub drain_abort_cooldown: Duration,
}

impl Default for Disruption {
    fn default() -> Self {
        Disruption {
            budget: DisruptionBudget::same(DEFAULT_DISRUPTION_BUDGET),
            windows: Vec::new(),
            consolidation_threshold: DEFAULT_CONSOLIDATION_THRESHOLD,
            drain_timeout_action: DrainTimeoutAction::Abort,
            drain_abort_cooldown: Duration::from_secs(DEFAULT_DRAIN_ABORT_COOLDOWN_SECS),
        }
    }
}

impl Disruption {
    /// Whether busy instances may be drained for consolidation at `now`: inside a window, or
    /// always when the file sets none.
    pub fn window_open(&self, now: Timestamp) -> bool {
        self.windows.is_empty() || self.windows.iter().any(|w| w.contains(now))
    }
}

/// How many of the group's instances may be DRAINING at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisruptionBudget {
    /// While a consolidation window is open (always, without windows).
    pub inside_windows: BudgetValue,
    /// Outside every window: only drains that must happen then (the surplus above a lowered
    /// `max`) use it, since no busy instance is drained for consolidation.
    pub outside_windows: BudgetValue,
}

impl DisruptionBudget {
    /// The same budget inside and outside the windows.
    pub const fn same(value: BudgetValue) -> Self {
        DisruptionBudget {
            inside_windows: value,
            outside_windows: value,
        }
    }
}

/// A budget as written: a count of instances, or a percentage of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetValue {
    /// This many instances (at least 1).
    Count(u32),
    /// This percentage of the group's instances (1 to 100), rounded up.
    Percent(u32),
}

impl BudgetValue {
    /// The number of instances for a group of `instances`: at least 1.
    pub fn of(self, instances: u32) -> u32 {
        let n = match self {
            BudgetValue::Count(n) => n,
            BudgetValue::Percent(p) => {
                let n = (u64::from(instances) * u64::from(p)).div_ceil(100);
                u32::try_from(n).unwrap_or(u32::MAX)
            }
        };
        n.max(1)
    }
}

impl std::fmt::Display for BudgetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BudgetValue::Count(n) => write!(f, "{n}"),
            BudgetValue::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// What happens to an instance this system drained that still runs tasks after `drain_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainTimeoutAction {
    /// Set it ACTIVE again and do not drain it for `drain_abort_cooldown` (the default).
    Abort,
    /// Stop its remaining service tasks (never standalone tasks); it is terminated once empty.
    Force,
    /// Only report it in the decision record.
    Report,
}

impl DrainTimeoutAction {
    /// The word the file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            DrainTimeoutAction::Abort => "abort",
            DrainTimeoutAction::Force => "force",
            DrainTimeoutAction::Report => "report",
        }
    }
}

/// Whether a service's tasks may be moved to consolidate (`services.NAME.disruption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceDisruption {
    /// Its tasks move like any other (the default).
    #[default]
    Allowed,
    /// `never`: an instance running one of its tasks is not drained for consolidation.
    Never,
}

/// A time of day, in minutes after midnight (0 to 1440, where 1440 is `24:00`).
pub type Minutes = u16;

/// A weekly window in a time zone, `start` to `end` local time on each of `days`. An `end`
/// before `start` runs overnight into the next day; an `end` equal to `start` is a whole day.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsolidationWindow {
    /// The days it starts on, Monday first.
    pub days: [bool; 7],
    /// Local start time.
    pub start: Minutes,
    /// Local end time (exclusive).
    pub end: Minutes,
    /// The IANA zone the times are in.
    pub time_zone: TimeZone,
}

/// Minutes in a day.
const DAY: Minutes = 24 * 60;

impl ConsolidationWindow {
    /// Whether the window is open at `at`.
    pub fn contains(&self, at: Timestamp) -> bool {
        let local = self.time_zone.to_datetime(at);
        let minute = Minutes::from(local.hour().unsigned_abs()) * 60
            + Minutes::from(local.minute().unsigned_abs());
        let today = weekday_index(local.weekday());
        let yesterday = (today + 6) % 7;
        let length = if self.end > self.start {
            self.end - self.start
        } else {
            DAY - self.start + self.end
        };
        // Open since today's start, or still open since yesterday's (overnight or whole day).
        let since_today = self.days[today] && minute >= self.start && minute - self.start < length;
        let since_yesterday =
            self.days[yesterday] && minute + DAY - self.start < length && minute < self.start;
        since_today || since_yesterday
    }
}

impl std::fmt::Display for ConsolidationWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let days: Vec<&str> = DAY_NAMES
            .iter()
            .zip(self.days)
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect();
        let hhmm = |m: Minutes| format!("{:02}:{:02}", m / 60, m % 60);
        write!(
            f,
            "{} {}–{} {}",
            days.join(","),
            hhmm(self.start),
            hhmm(self.end),
            self.time_zone.iana_name().unwrap_or("UTC")
        )
    }
}

/// The day names of a window, Monday first, as the file writes them.
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn weekday_index(day: Weekday) -> usize {
    usize::from(day.to_monday_zero_offset().unsigned_abs())
}

/// The IANA time zone database bundled into the binary (jiff's `tzdb-bundle-always`): the same
/// answers on a developer's machine and in a Lambda image without `/usr/share/zoneinfo`.
pub fn time_zones() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// The zone of an IANA name (case-insensitive), from the bundled database.
pub fn time_zone(name: &str) -> Option<TimeZone> {
    time_zones().get(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(days: &[usize], start: &str, end: &str, zone: &str) -> ConsolidationWindow {
        let minutes = |s: &str| {
            let (h, m) = s.split_once(':').expect("HH:MM");
            h.parse::<Minutes>().expect("hours") * 60 + m.parse::<Minutes>().expect("minutes")
        };
        let mut on = [false; 7];
        for &d in days {
            on[d] = true;
        }
        ConsolidationWindow {
            days: on,
            start: minutes(start),
            end: minutes(end),
            time_zone: time_zone(zone).expect("a known zone"),
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("a timestamp")
    }

    #[test]
    fn budgets_round_percentages_up_and_never_go_below_one() {
        assert_eq!(BudgetValue::Percent(50).of(6), 3);
        assert_eq!(BudgetValue::Percent(50).of(5), 3);
        assert_eq!(BudgetValue::Percent(50).of(1), 1);
        assert_eq!(BudgetValue::Percent(10).of(0), 1);
        assert_eq!(BudgetValue::Percent(100).of(7), 7);
        assert_eq!(BudgetValue::Count(2).of(100), 2);
        assert_eq!(BudgetValue::Percent(50).to_string(), "50%");
    }

    #[test]
    fn a_day_window_follows_the_zone_and_its_summer_time() {
        // Weekdays 09:00–17:00 in Paris: 08:30 UTC is 09:30 in winter (UTC+1), 10:30 in summer.
        let w = window(&[0, 1, 2, 3, 4], "09:00", "17:00", "Europe/Paris");
        assert!(
            w.contains(at("2025-01-06T08:30:00Z")),
            "Monday 09:30 in Paris"
        );
        assert!(
            !w.contains(at("2025-01-06T07:30:00Z")),
            "Monday 08:30 in Paris"
        );
        assert!(
            !w.contains(at("2025-01-06T16:00:00Z")),
            "Monday 17:00: the end is exclusive"
        );
        assert!(
            w.contains(at("2025-07-07T14:59:00Z")),
            "summer: 16:59 in Paris"
        );
        assert!(
            !w.contains(at("2025-07-07T15:00:00Z")),
            "summer: 17:00 in Paris"
        );
        assert!(!w.contains(at("2025-01-11T10:00:00Z")), "Saturday");
    }

    #[test]
    fn an_end_before_the_start_runs_overnight_from_the_days_listed() {
        // Friday 22:00 to Saturday 06:00 UTC only.
        let w = window(&[4], "22:00", "06:00", "UTC");
        assert!(w.contains(at("2025-01-10T23:00:00Z")), "Friday night");
        assert!(
            w.contains(at("2025-01-11T05:59:00Z")),
            "Saturday morning, from Friday"
        );
        assert!(
            !w.contains(at("2025-01-11T06:00:00Z")),
            "the end is exclusive"
        );
        assert!(
            !w.contains(at("2025-01-11T23:00:00Z")),
            "Saturday night: not a start day"
        );
        assert!(
            !w.contains(at("2025-01-10T05:00:00Z")),
            "Friday morning: Thursday is not listed"
        );
        assert!(!w.contains(at("2025-01-10T21:59:00Z")));
    }

    #[test]
    fn equal_start_and_end_is_a_whole_day_and_24_00_ends_at_midnight() {
        let whole = window(&[6], "00:00", "00:00", "UTC");
        assert!(whole.contains(at("2025-01-12T00:00:00Z")), "Sunday 00:00");
        assert!(whole.contains(at("2025-01-12T23:59:59Z")), "Sunday 23:59");
        assert!(!whole.contains(at("2025-01-13T00:00:00Z")), "Monday");
        let evening = window(&[6], "20:00", "24:00", "UTC");
        assert!(evening.contains(at("2025-01-12T23:59:00Z")));
        assert!(!evening.contains(at("2025-01-13T00:00:00Z")));
        assert_eq!(evening.to_string(), "sun 20:00–24:00 UTC");
    }

    #[test]
    fn no_window_means_always_open() {
        let mut d = Disruption::default();
        assert!(d.window_open(at("2025-01-11T03:00:00Z")));
        d.windows.push(window(&[0], "01:00", "02:00", "UTC"));
        assert!(!d.window_open(at("2025-01-11T03:00:00Z")));
        assert!(d.window_open(at("2025-01-13T01:30:00Z")));
    }

    #[test]
    fn zones_come_from_the_bundled_database() {
        assert!(time_zone("Europe/Paris").is_some());
        assert!(time_zone("europe/paris").is_some(), "case-insensitive");
        assert!(time_zone("Europe/Pariss").is_none());
        assert!(time_zones().available().count() > 300);
    }
}
