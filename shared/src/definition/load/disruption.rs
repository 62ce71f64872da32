//! The disruption controls: the budget (a count, a percentage, or one of each inside and outside
//! the windows), the consolidation windows (days, times of day, IANA time zones), the threshold,
//! the drain deadline's action and cooldown, and a service's `disruption`.

use std::time::Duration;

use super::fields::{did_you_mean, fields, list, number, opt, req, seconds, string, Ctx, Fields};
use crate::definition::yaml::{Node, NodeKind};
use crate::definition::{
    time_zone, time_zones, BudgetValue, ConsolidationWindow, Disruption, DisruptionBudget,
    DrainTimeoutAction, Minutes, ServiceDisruption, DAY_NAMES, DEFAULT_CONSOLIDATION_THRESHOLD,
    DEFAULT_DISRUPTION_BUDGET, DEFAULT_DRAIN_ABORT_COOLDOWN_SECS,
};

pub(super) const BUDGET_KEYS: &[&str] = &["inside_windows", "outside_windows"];

pub(super) const WINDOW_KEYS: &[&str] = &["days", "start", "end", "timezone"];

/// The cluster's disruption controls (`disruption_budget`, `consolidation_windows`,
/// `consolidation_threshold`, `drain_timeout_action`, `drain_abort_cooldown`), defaults where the
/// file is silent.
pub(super) fn disruption(ctx: &mut Ctx, f: &Fields<'_>) -> Disruption {
    let defaults = Disruption::default();
    Disruption {
        budget: opt(ctx, f, "disruption_budget", "", budget).unwrap_or(defaults.budget),
        windows: opt(ctx, f, "consolidation_windows", "", windows).unwrap_or_default(),
        consolidation_threshold: opt(ctx, f, "consolidation_threshold", "", threshold)
            .unwrap_or(DEFAULT_CONSOLIDATION_THRESHOLD),
        drain_timeout_action: opt(ctx, f, "drain_timeout_action", "", timeout_action)
            .unwrap_or(defaults.drain_timeout_action),
        drain_abort_cooldown: opt(ctx, f, "drain_abort_cooldown", "", seconds)
            .unwrap_or(Duration::from_secs(DEFAULT_DRAIN_ABORT_COOLDOWN_SECS)),
    }
}

/// `disruption_budget`: one value for both, or `{inside_windows, outside_windows}`.
fn budget(ctx: &mut Ctx, node: &Node, path: &str) -> Option<DisruptionBudget> {
    if matches!(node.kind, NodeKind::Map(_)) {
        let f = fields(ctx, node, path, BUDGET_KEYS)?;
        let inside = opt(ctx, &f, "inside_windows", path, budget_value);
        let outside = opt(ctx, &f, "outside_windows", path, budget_value);
        if f.get("inside_windows").is_none() && f.get("outside_windows").is_none() {
            ctx.at(
                node,
                path,
                "give `inside_windows`, `outside_windows` or both (each a count or a percentage)",
            );
            return None;
        }
        let bad = |key: &str, v: &Option<BudgetValue>| f.get(key).is_some() && v.is_none();
        if bad("inside_windows", &inside) || bad("outside_windows", &outside) {
            return None;
        }
        return Some(DisruptionBudget {
            inside_windows: inside.unwrap_or(DEFAULT_DISRUPTION_BUDGET),
            outside_windows: outside.unwrap_or(DEFAULT_DISRUPTION_BUDGET),
        });
    }
    budget_value(ctx, node, path).map(DisruptionBudget::same)
}

/// A count of instances (at least 1) or a percentage of the group (`50%`, 1 to 100).
fn budget_value(ctx: &mut Ctx, node: &Node, path: &str) -> Option<BudgetValue> {
    let text = string(ctx, node, path)?;
    let t = text.trim();
    let expected = "expected a count of instances (at least 1) or a percentage of the group's instances such as `50%`";
    if let Some(p) = t.strip_suffix('%') {
        return match p.trim().parse::<u32>() {
            Ok(p @ 1..=100) => Some(BudgetValue::Percent(p)),
            Ok(p) => {
                ctx.at(
                    node,
                    path,
                    format!("a percentage from 1% to 100%, found {p}%"),
                );
                None
            }
            Err(_) => {
                ctx.at(node, path, format!("{expected}, found `{t}`"));
                None
            }
        };
    }
    match t.parse::<u32>() {
        Ok(0) => {
            ctx.at(
                node,
                path,
                "must be at least 1 (a budget never stops every drain: use `consolidation_windows` to say when busy instances may move, or `max_drain_per_cycle: 0` to turn consolidation off)",
            );
            None
        }
        Ok(n) => Some(BudgetValue::Count(n)),
        Err(_) => {
            ctx.at(node, path, format!("{expected}, found `{t}`"));
            None
        }
    }
}

/// `consolidation_windows`: a list of windows.
fn windows(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<ConsolidationWindow>> {
    let items = list(ctx, node, path)?;
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match window(ctx, item, &format!("{path}[{i}]")) {
            Some(w) => out.push(w),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn window(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ConsolidationWindow> {
    let f = fields(ctx, node, path, WINDOW_KEYS)?;
    let days = match f.get("days") {
        Some(n) => days(ctx, n, &format!("{path}.days")),
        None => Some([true; 7]),
    };
    let start = req(ctx, &f, "start", path, |ctx, n, p| clock(ctx, n, p, false));
    let end = req(ctx, &f, "end", path, |ctx, n, p| clock(ctx, n, p, true));
    let time_zone = match f.get("timezone") {
        Some(n) => zone(ctx, n, &format!("{path}.timezone")),
        None => Some(jiff::tz::TimeZone::UTC),
    };
    Some(ConsolidationWindow {
        days: days?,
        start: start?,
        end: end?,
        time_zone: time_zone?,
    })
}

/// Full day names the file may use besides the three-letter ones.
const FULL_DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// `days`: a list of day names (`mon` ... `sun`, or in full), any case.
fn days(ctx: &mut Ctx, node: &Node, path: &str) -> Option<[bool; 7]> {
    let items = list(ctx, node, path)?;
    if items.is_empty() {
        ctx.at(
            node,
            path,
            "lists no day: leave `days` out for every day, or name some (`mon` ... `sun`)",
        );
        return None;
    }
    let mut on = [false; 7];
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        let Some(name) = string(ctx, item, &ipath) else {
            ok = false;
            continue;
        };
        let lower = name.trim().to_ascii_lowercase();
        let day = DAY_NAMES
            .iter()
            .position(|d| *d == lower)
            .or_else(|| FULL_DAY_NAMES.iter().position(|d| *d == lower));
        match day {
            Some(d) => on[d] = true,
            None => {
                ok = false;
                let all: Vec<&str> = DAY_NAMES.iter().chain(&FULL_DAY_NAMES).copied().collect();
                let hint = did_you_mean(&lower, &all)
                    .map(|s| {
                        let short = FULL_DAY_NAMES
                            .iter()
                            .position(|d| *d == s)
                            .map_or(s, |d| DAY_NAMES[d]);
                        format!("; did you mean `{short}`?")
                    })
                    .unwrap_or_else(|| format!("; expected one of: {}", DAY_NAMES.join(", ")));
                ctx.at(item, &ipath, format!("unknown day `{name}`{hint}"));
            }
        }
    }
    ok.then_some(on)
}

/// A time of day `HH:MM`, 00:00 to 23:59; `24:00` too when it is an end.
fn clock(ctx: &mut Ctx, node: &Node, path: &str, is_end: bool) -> Option<Minutes> {
    let text = string(ctx, node, path)?;
    let t = text.trim();
    let parsed = t.split_once(':').and_then(|(h, m)| {
        let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
            n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !(digits(h, 1..=2) && digits(m, 2..=2)) {
            return None;
        }
        Some((h.parse::<Minutes>().ok()?, m.parse::<Minutes>().ok()?))
    });
    let range = if is_end {
        "00:00 to 23:59, or 24:00 for the end of the day"
    } else {
        "00:00 to 23:59"
    };
    match parsed {
        Some((h, m)) if h < 24 && m < 60 => Some(h * 60 + m),
        Some((24, 0)) if is_end => Some(24 * 60),
        Some(_) => {
            ctx.at(
                node,
                path,
                format!("`{t}` is not a time of day: expected {range}"),
            );
            None
        }
        None => {
            ctx.at(
                node,
                path,
                format!(
                    "expected a time of day `HH:MM` ({range}; quote it: \"22:00\"), found {}",
                    node.describe()
                ),
            );
            None
        }
    }
}

/// An IANA time zone name of the bundled database (`Europe/Paris`, `UTC`), any case.
fn zone(ctx: &mut Ctx, node: &Node, path: &str) -> Option<jiff::tz::TimeZone> {
    let name = string(ctx, node, path)?;
    let name = name.trim();
    if let Some(tz) = time_zone(name) {
        return Some(tz);
    }
    let hint = closest_zone(name)
        .map(|z| format!("; did you mean `{z}`?"))
        .unwrap_or_else(|| {
            "; expected an IANA time zone name such as `Europe/Paris`, `America/New_York` or `UTC`"
                .to_string()
        });
    ctx.at(node, path, format!("unknown time zone `{name}`{hint}"));
    None
}

/// The zone a mistyped name most likely meant: one whose last part is the name (`Paris`), else
/// the closest by edit distance, ignoring case.
fn closest_zone(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let names: Vec<String> = time_zones()
        .available()
        .map(|z| z.as_str().to_string())
        .collect();
    if let Some(z) = names.iter().find(|z| {
        z.rsplit('/')
            .next()
            .is_some_and(|last| last.eq_ignore_ascii_case(&lower))
    }) {
        return Some(z.clone());
    }
    let lowered: Vec<String> = names.iter().map(|z| z.to_ascii_lowercase()).collect();
    let candidates: Vec<&str> = lowered.iter().map(String::as_str).collect();
    let best = did_you_mean(&lower, &candidates)?;
    let at = lowered.iter().position(|z| z == best)?;
    names.get(at).cloned()
}

/// `consolidation_threshold`: a share of CPU and memory in (0, 1].
fn threshold(ctx: &mut Ctx, node: &Node, path: &str) -> Option<f64> {
    let v = number(ctx, node, path)?;
    if v > 0.0 && v <= 1.0 {
        Some(v)
    } else {
        ctx.at(
            node,
            path,
            format!("a share of CPU and memory in use, more than 0 and at most 1 (0.5 is half), found {v}"),
        );
        None
    }
}

fn timeout_action(ctx: &mut Ctx, node: &Node, path: &str) -> Option<DrainTimeoutAction> {
    let word = string(ctx, node, path)?;
    let all = [
        DrainTimeoutAction::Abort,
        DrainTimeoutAction::Force,
        DrainTimeoutAction::Report,
    ];
    if let Some(a) = all.iter().find(|a| a.as_str() == word.trim()) {
        return Some(*a);
    }
    let names: Vec<&str> = all.iter().map(|a| a.as_str()).collect();
    let hint = did_you_mean(word.trim(), &names)
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    ctx.at(
        node,
        path,
        format!(
            "unknown action `{word}`: {hint}expected `abort` (set the instance ACTIVE again), `force` (stop its remaining service tasks, then terminate it) or `report` (only report it)"
        ),
    );
    None
}

/// A service's `disruption`: `never` or `allowed`.
pub(super) fn service_disruption(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
) -> Option<ServiceDisruption> {
    let word = string(ctx, node, path)?;
    match word.trim() {
        "never" => Some(ServiceDisruption::Never),
        "allowed" => Some(ServiceDisruption::Allowed),
        other => {
            let hint = did_you_mean(other, &["never", "allowed"])
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            ctx.at(
                node,
                path,
                format!(
                    "unknown value `{other}`: {hint}expected `never` (its instances are not drained for consolidation) or `allowed` (the default)"
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::definition::{parse_definition, ClusterDefinition, FileErrors};

    use super::*;

    fn load(text: &str) -> Result<ClusterDefinition, FileErrors> {
        parse_definition("t", Path::new("t.yml"), text, &|name| {
            (name == "BUDGET").then(|| "25%".to_string())
        })
    }

    fn errors(text: &str) -> Vec<String> {
        match load(text) {
            Ok(_) => panic!("expected errors, the file loaded:\n{text}"),
            Err(e) => e.errors.iter().map(ToString::to_string).collect(),
        }
    }

    fn one_error(text: &str) -> String {
        let errs = errors(text);
        assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
        errs.into_iter().next().unwrap_or_default()
    }

    #[test]
    fn defaults_half_the_group_always_open_abort_after_the_timeout() {
        let def = load("autoscale_group: g\n").expect("loads");
        let d = &def.disruption;
        assert_eq!(d.budget, DisruptionBudget::same(BudgetValue::Percent(50)));
        assert!(d.windows.is_empty());
        assert_eq!(d.consolidation_threshold, 0.5);
        assert_eq!(d.drain_timeout_action, DrainTimeoutAction::Abort);
        assert_eq!(d.drain_abort_cooldown, Duration::from_secs(3600));
        assert_eq!(def.max_drain_per_cycle, None);
    }

    #[test]
    fn every_disruption_key_loads() {
        let def = load(
            r#"autoscale_group: g
max_drain_per_cycle: 2
disruption_budget: {inside_windows: "100%", outside_windows: 1}
consolidation_windows:
  - {days: [mon, Tue, wednesday], start: "22:00", end: "06:00", timezone: Europe/Paris}
  - {start: "12:00", end: "24:00"}
consolidation_threshold: 0.3
drain_timeout_action: force
drain_abort_cooldown: 7200
services:
  web:
    min: 1
    max: 2
    disruption: never
  api:
    min: 1
    max: 2
"#,
        )
        .expect("loads");
        let d = &def.disruption;
        assert_eq!(def.max_drain_per_cycle, Some(2));
        assert_eq!(
            d.budget,
            DisruptionBudget {
                inside_windows: BudgetValue::Percent(100),
                outside_windows: BudgetValue::Count(1)
            }
        );
        assert_eq!(d.windows.len(), 2);
        assert_eq!(
            d.windows[0].to_string(),
            "mon,tue,wed 22:00–06:00 Europe/Paris"
        );
        assert_eq!(
            d.windows[1].to_string(),
            "mon,tue,wed,thu,fri,sat,sun 12:00–24:00 UTC"
        );
        assert_eq!(d.consolidation_threshold, 0.3);
        assert_eq!(d.drain_timeout_action, DrainTimeoutAction::Force);
        assert_eq!(d.drain_abort_cooldown, Duration::from_secs(7200));
        assert_eq!(def.services[0].disruption, ServiceDisruption::Never);
        assert_eq!(def.services[1].disruption, ServiceDisruption::Allowed);
    }

    #[test]
    fn a_budget_is_a_count_or_a_percentage_also_from_a_variable() {
        let budget = |v: &str| {
            load(&format!("autoscale_group: g\ndisruption_budget: {v}\n"))
                .expect("loads")
                .disruption
                .budget
        };
        assert_eq!(budget("3"), DisruptionBudget::same(BudgetValue::Count(3)));
        assert_eq!(
            budget("\"%(BUDGET)\""),
            DisruptionBudget::same(BudgetValue::Percent(25))
        );
        assert_eq!(
            budget("{outside_windows: 2}"),
            DisruptionBudget {
                inside_windows: BudgetValue::Percent(50),
                outside_windows: BudgetValue::Count(2)
            }
        );
    }

    #[test]
    fn bad_budgets_name_the_field_and_its_position() {
        assert_eq!(
            one_error("autoscale_group: g\ndisruption_budget: 0\n"),
            "t.yml:2:20: disruption_budget: must be at least 1 (a budget never stops every drain: use `consolidation_windows` to say when busy instances may move, or `max_drain_per_cycle: 0` to turn consolidation off)"
        );
        assert_eq!(
            one_error("autoscale_group: g\ndisruption_budget: 150%\n"),
            "t.yml:2:20: disruption_budget: a percentage from 1% to 100%, found 150%"
        );
        assert_eq!(
            one_error("autoscale_group: g\ndisruption_budget: half\n"),
            "t.yml:2:20: disruption_budget: expected a count of instances (at least 1) or a percentage of the group's instances such as `50%`, found `half`"
        );
        assert_eq!(
            one_error("autoscale_group: g\ndisruption_budget: {inside_windows: 1, outside_window: 2}\n"),
            "t.yml:2:40: disruption_budget.outside_window: unknown key `outside_window`; did you mean `outside_windows`?"
        );
        assert_eq!(
            one_error("autoscale_group: g\ndisruption_budget: {outside_windows: -1}\n"),
            "t.yml:2:38: disruption_budget.outside_windows: expected a count of instances (at least 1) or a percentage of the group's instances such as `50%`, found `-1`"
        );
        assert_eq!(
            one_error("autoscale_group: g\ndisruption_budget: {}\n"),
            "t.yml:2:20: disruption_budget: give `inside_windows`, `outside_windows` or both (each a count or a percentage)"
        );
    }

    #[test]
    fn bad_days_and_zones_suggest_the_closest() {
        let file =
            |window: &str| format!("autoscale_group: g\nconsolidation_windows:\n  - {window}\n");
        assert_eq!(
            one_error(&file(
                "{days: [mon, tues], start: \"01:00\", end: \"02:00\"}"
            )),
            "t.yml:3:18: consolidation_windows[0].days[1]: unknown day `tues`; did you mean `tue`?"
        );
        assert_eq!(
            one_error(&file("{days: [thrusday], start: \"01:00\", end: \"02:00\"}")),
            "t.yml:3:13: consolidation_windows[0].days[0]: unknown day `thrusday`; did you mean `thu`?"
        );
        assert_eq!(
            one_error(&file("{days: [holiday], start: \"01:00\", end: \"02:00\"}")),
            "t.yml:3:13: consolidation_windows[0].days[0]: unknown day `holiday`; expected one of: mon, tue, wed, thu, fri, sat, sun"
        );
        assert_eq!(
            one_error(&file("{start: \"01:00\", end: \"02:00\", timezone: Europe/Pariss}")),
            "t.yml:3:46: consolidation_windows[0].timezone: unknown time zone `Europe/Pariss`; did you mean `Europe/Paris`?"
        );
        assert_eq!(
            one_error(&file("{start: \"01:00\", end: \"02:00\", timezone: Paris}")),
            "t.yml:3:46: consolidation_windows[0].timezone: unknown time zone `Paris`; did you mean `Europe/Paris`?"
        );
        assert_eq!(
            one_error(&file("{start: \"01:00\", end: \"02:00\", timezone: Nowhere/Atlantis}")),
            "t.yml:3:46: consolidation_windows[0].timezone: unknown time zone `Nowhere/Atlantis`; expected an IANA time zone name such as `Europe/Paris`, `America/New_York` or `UTC`"
        );
        assert_eq!(
            one_error(&file("{days: [], start: \"01:00\", end: \"02:00\"}")),
            "t.yml:3:12: consolidation_windows[0].days: lists no day: leave `days` out for every day, or name some (`mon` ... `sun`)"
        );
    }

    #[test]
    fn bad_times_name_the_field_and_an_end_before_the_start_is_overnight() {
        let file =
            |window: &str| format!("autoscale_group: g\nconsolidation_windows:\n  - {window}\n");
        assert_eq!(
            one_error(&file("{start: \"25:00\", end: \"02:00\"}")),
            "t.yml:3:13: consolidation_windows[0].start: `25:00` is not a time of day: expected 00:00 to 23:59"
        );
        assert_eq!(
            one_error(&file("{start: \"24:00\", end: \"02:00\"}")),
            "t.yml:3:13: consolidation_windows[0].start: `24:00` is not a time of day: expected 00:00 to 23:59"
        );
        assert_eq!(
            one_error(&file("{start: \"01:00\", end: 9pm}")),
            "t.yml:3:27: consolidation_windows[0].end: expected a time of day `HH:MM` (00:00 to 23:59, or 24:00 for the end of the day; quote it: \"22:00\"), found `9pm`"
        );
        assert_eq!(
            one_error(&file("{start: \"01:00\"}")),
            "t.yml:3:5: consolidation_windows[0].end: missing required key `end`"
        );
        let def = load(&file("{start: \"23:00\", end: \"01:30\"}")).expect("overnight loads");
        let w = &def.disruption.windows[0];
        assert_eq!((w.start, w.end), (23 * 60, 90));
        assert!(w.contains("2025-01-11T00:30:00Z".parse().expect("a time")));
    }

    #[test]
    fn bad_threshold_action_and_service_disruption_are_errors() {
        assert_eq!(
            one_error("autoscale_group: g\nconsolidation_threshold: 1.5\n"),
            "t.yml:2:26: consolidation_threshold: a share of CPU and memory in use, more than 0 and at most 1 (0.5 is half), found 1.5"
        );
        assert_eq!(
            one_error("autoscale_group: g\ndrain_timeout_action: forse\n"),
            "t.yml:2:23: drain_timeout_action: unknown action `forse`: did you mean `force`? expected `abort` (set the instance ACTIVE again), `force` (stop its remaining service tasks, then terminate it) or `report` (only report it)"
        );
        assert_eq!(
            one_error("autoscale_group: g\nservices:\n  web: {min: 1, max: 2, disruption: nevr}\n"),
            "t.yml:3:37: services.web.disruption: unknown value `nevr`: did you mean `never`? expected `never` (its instances are not drained for consolidation) or `allowed` (the default)"
        );
    }
}
