//! `chart.svg`: three panels over one time axis (hours, or days beyond two days) — instances
//! with the lower bound and those draining; running and desired tasks per service; each
//! service's driving metric as a share of its peak. Long runs are drawn from buckets of steps
//! (the largest value of each, so no peak is lost); at most [`SHOWN_SERVICES`] services get a
//! line of their own, the others one line together.
//!
//! (The demo's chart, `demo/src/chart.rs`, draws a few cycles on integer axes; a week of steps
//! and dozens of services need another layout, and the CLI must not depend on the demo.)

use std::fmt::Write as _;

use crate::series::Series;

/// Services drawn one by one (the largest by peak desired count).
pub const SHOWN_SERVICES: usize = 6;

/// Points per line at most.
const MAX_POINTS: usize = 720;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 220.0;
const PANEL: f64 = 170.0;
const GAP: f64 = 46.0;
const TOP: f64 = 50.0;
const COLOURS: [&str; 7] = [
    "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
];

/// One line: label, colour, dash pattern, values per step (none: a gap).
struct Line {
    label: String,
    colour: &'static str,
    dash: &'static str,
    width: f64,
    values: Vec<Option<f64>>,
}

/// The chart of `series` (a title line names the cluster).
pub fn svg(series: &Series, title: &str) -> String {
    let n = series.steps.len();
    let height = TOP + 3.0 * PANEL + 2.0 * GAP + 50.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="24" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    if n == 0 {
        out.push_str("</svg>\n");
        return out;
    }
    let t0 = series.steps[0].time;
    let span = series.steps[n - 1].time.saturating_sub(t0).max(1);
    let x_of = |step: usize| {
        let t = series.steps[step].time.saturating_sub(t0) as f64;
        LEFT + (WIDTH - LEFT - RIGHT) * t / span as f64
    };

    // Panel 1: instances.
    let u = |f: &dyn Fn(usize) -> u32| -> Vec<Option<f64>> {
        (0..n).map(|i| Some(f64::from(f(i)))).collect()
    };
    let instances = vec![
        Line {
            label: "instances".into(),
            colour: "#ff7f0e",
            dash: "",
            width: 2.5,
            values: u(&|i| series.steps[i].instances),
        },
        Line {
            label: "lower bound".into(),
            colour: "#555555",
            dash: "5 4",
            width: 1.5,
            values: u(&|i| series.steps[i].lower_bound),
        },
        Line {
            label: "draining".into(),
            colour: "#d62728",
            dash: "",
            width: 1.0,
            values: u(&|i| series.steps[i].draining),
        },
    ];
    panel(&mut out, series, &x_of, 0, "instances", &instances, None);

    // Panel 2: tasks per service.
    let shown = shown_services(series);
    let mut tasks = Vec::new();
    for (c, &s) in shown.iter().enumerate() {
        let colour = COLOURS[c % COLOURS.len()];
        tasks.push(Line {
            label: format!("{} running", series.services[s]),
            colour,
            dash: "",
            width: 2.0,
            values: u(&|i| series.steps[i].running.get(s).copied().unwrap_or(0)),
        });
        tasks.push(Line {
            label: format!("{} desired", series.services[s]),
            colour,
            dash: "3 3",
            width: 1.0,
            values: u(&|i| series.steps[i].desired.get(s).copied().unwrap_or(0)),
        });
    }
    let others: Vec<usize> = (0..series.services.len())
        .filter(|s| !shown.contains(s))
        .collect();
    if !others.is_empty() {
        tasks.push(Line {
            label: format!("{} other services, running", others.len()),
            colour: COLOURS[COLOURS.len() - 1],
            dash: "",
            width: 2.0,
            values: u(&|i| {
                others
                    .iter()
                    .map(|&s| series.steps[i].running.get(s).copied().unwrap_or(0))
                    .sum()
            }),
        });
    }
    panel(&mut out, series, &x_of, 1, "tasks", &tasks, None);

    // Panel 3: the driving metrics, each as a share of its peak.
    let mut metrics = Vec::new();
    for (c, &s) in shown.iter().enumerate() {
        let Some(alias) = series.drivers.get(s).cloned().flatten() else {
            continue;
        };
        let raw: Vec<Option<f64>> = series
            .steps
            .iter()
            .map(|st| st.metric.get(s).copied().flatten())
            .collect();
        let peak = raw.iter().flatten().fold(0.0_f64, |a, &b| a.max(b.abs()));
        metrics.push(Line {
            label: format!("{}.{alias} (peak {})", series.services[s], number(peak)),
            colour: COLOURS[c % COLOURS.len()],
            dash: "",
            width: 1.5,
            values: raw
                .iter()
                .map(|v| v.map(|v| if peak > 0.0 { 100.0 * v / peak } else { 0.0 }))
                .collect(),
        });
    }
    panel(
        &mut out,
        series,
        &x_of,
        2,
        "metric, % of its peak",
        &metrics,
        Some(100.0),
    );

    // The time axis, under the last panel.
    let bottom = TOP + 3.0 * PANEL + 2.0 * GAP;
    let (unit, unit_secs, every) = time_ticks(span);
    let mut tick = 0u64;
    while tick * every * unit_secs <= span {
        let secs = tick * every * unit_secs;
        let x = LEFT + (WIDTH - LEFT - RIGHT) * secs as f64 / span as f64;
        let _ = writeln!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{} {unit}</text>"#,
            bottom + 16.0,
            tick * every
        );
        tick += 1;
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">time since the start</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        bottom + 36.0
    );
    out.push_str("</svg>\n");
    out
}

/// One panel: grid, y axis, its lines (bucketed) and their legend.
fn panel(
    out: &mut String,
    series: &Series,
    x_of: &dyn Fn(usize) -> f64,
    index: usize,
    name: &str,
    lines: &[Line],
    fixed_max: Option<f64>,
) {
    let top = TOP + index as f64 * (PANEL + GAP);
    let bottom = top + PANEL;
    let right = WIDTH - RIGHT;
    let peak = lines
        .iter()
        .flat_map(|l| l.values.iter().flatten())
        .fold(0.0_f64, |a, &b| a.max(b));
    let (max, step) = match fixed_max {
        Some(m) => (m, m / 4.0),
        None => nice_axis(peak),
    };
    let y_of = |v: f64| bottom - PANEL * (v / max).clamp(0.0, 1.0);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{:.1}" font-weight="bold">{}</text>"#,
        top - 8.0,
        escape(name)
    );
    let mut v = 0.0;
    while v <= max + step / 2.0 {
        let y = y_of(v);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{right}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 6.0,
            y + 4.0,
            number(v)
        );
        v += step;
    }
    let _ = writeln!(
        out,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{top}" y2="{bottom}" stroke="#999999"/>"##
    );
    let n = series.steps.len();
    let buckets = bucket_bounds(n);
    for (k, line) in lines.iter().enumerate() {
        for segment in segments(&buckets, &line.values, x_of, &y_of) {
            let _ = writeln!(
                out,
                r#"<polyline fill="none" stroke="{}" stroke-width="{}" stroke-dasharray="{}" points="{}"/>"#,
                line.colour,
                line.width,
                line.dash,
                segment.join(" ")
            );
        }
        let ly = top + 6.0 + 16.0 * k as f64;
        let _ = writeln!(
            out,
            r#"<line x1="{:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{}" stroke-width="{}" stroke-dasharray="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            right + 10.0,
            right + 32.0,
            line.colour,
            line.width,
            line.dash,
            right + 38.0,
            ly + 4.0,
            escape(&line.label)
        );
    }
}

/// Step ranges drawn as one point each.
fn bucket_bounds(n: usize) -> Vec<(usize, usize)> {
    let buckets = n.clamp(1, MAX_POINTS);
    (0..buckets)
        .map(|b| {
            (
                b * n / buckets,
                ((b + 1) * n / buckets).max(b * n / buckets + 1).min(n),
            )
        })
        .filter(|(a, z)| a < z)
        .collect()
}

/// The polyline segments of `values` (a bucket with no value breaks the line); each bucket
/// drawn at its first step with its largest value.
fn segments(
    buckets: &[(usize, usize)],
    values: &[Option<f64>],
    x_of: &dyn Fn(usize) -> f64,
    y_of: &dyn Fn(f64) -> f64,
) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for &(a, z) in buckets {
        let peak = values[a..z.min(values.len())]
            .iter()
            .flatten()
            .copied()
            .reduce(f64::max);
        match peak {
            Some(v) => current.push(format!("{:.1},{:.1}", x_of(a), y_of(v))),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The services with a line of their own: the largest by peak desired count.
fn shown_services(series: &Series) -> Vec<usize> {
    let mut order: Vec<(u32, usize)> = (0..series.services.len())
        .map(|s| {
            let peak = series
                .steps
                .iter()
                .map(|st| st.desired.get(s).copied().unwrap_or(0))
                .max()
                .unwrap_or(0);
            (peak, s)
        })
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut shown: Vec<usize> = order
        .into_iter()
        .take(SHOWN_SERVICES)
        .map(|(_, s)| s)
        .collect();
    shown.sort_unstable();
    shown
}

/// A round maximum and tick step for values up to `peak`.
fn nice_axis(peak: f64) -> (f64, f64) {
    let peak = peak.max(1.0);
    let raw = peak / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
        .max(1.0);
    ((peak / step).ceil() * step, step)
}

/// The axis unit (`h` or `d`), its seconds, and how many units between ticks.
fn time_ticks(span: u64) -> (&'static str, u64, u64) {
    if span > 2 * 86_400 {
        let days = span.div_ceil(86_400);
        (
            "d",
            86_400,
            [1, 2, 7, 14, 28]
                .into_iter()
                .find(|e| days / e <= 14)
                .unwrap_or(28),
        )
    } else {
        let hours = span.div_ceil(3600);
        (
            "h",
            3600,
            [1, 2, 3, 6, 12]
                .into_iter()
                .find(|e| hours / e <= 12)
                .unwrap_or(12),
        )
    }
}

/// A number without needless decimals.
fn number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::Step;

    fn series(steps: usize, services: usize, step_secs: u64) -> Series {
        let names: Vec<String> = (0..services).map(|s| format!("svc{s}")).collect();
        let drivers = (0..services).map(|_| Some("q".to_owned())).collect();
        let mut out = Series::new(names, drivers);
        for i in 0..steps {
            out.push(Step {
                time: 1_800_000_000 + i as u64 * step_secs,
                instances: 2 + (i % 5) as u32,
                booting: 0,
                draining: (i % 7 == 0) as u32,
                lower_bound: 2,
                unplaced: 0,
                waiting: 0,
                desired: (0..services).map(|s| (s + i % 3) as u32).collect(),
                running: (0..services).map(|s| s as u32).collect(),
                metric: (0..services)
                    .map(|s| (i % 11 != 0).then_some((s * i) as f64))
                    .collect(),
            });
        }
        out
    }

    #[test]
    fn a_week_draws_in_days_with_bounded_points() {
        let drawn = svg(&series(10_080, 50, 60), "week <&>");
        assert!(drawn.starts_with("<svg") && drawn.ends_with("</svg>\n"));
        assert!(drawn.contains("week &lt;&amp;&gt;"));
        // 10,080 steps end a minute before the seventh day.
        assert!(
            drawn.contains(">6 d</text>") && drawn.contains(">0 d</text>"),
            "day ticks"
        );
        assert!(!drawn.contains(" h</text>"));
        assert!(drawn.contains("44 other services, running"));
        for line in drawn.lines().filter(|l| l.starts_with("<polyline")) {
            let points = line.matches(',').count();
            assert!(points <= MAX_POINTS, "{points} points");
        }
        assert!(drawn.len() < 1_000_000, "{} bytes", drawn.len());
    }

    #[test]
    fn a_day_draws_in_hours() {
        let drawn = svg(&series(24 * 60, 2, 60), "day");
        assert!(
            drawn.contains(">0 h</text>") && drawn.contains(">22 h</text>"),
            "hour ticks"
        );
        assert!(!drawn.contains(" d</text>"));
        assert!(drawn.contains("svc1.q (peak"));
        let empty = svg(&series(0, 1, 60), "nothing");
        assert!(empty.ends_with("</svg>\n"));
    }

    #[test]
    fn steps_without_a_value_break_the_line() {
        let values = [Some(1.0), None, None, Some(3.0), Some(2.0)];
        let buckets = bucket_bounds(values.len());
        assert_eq!(buckets, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]);
        let x = |i: usize| i as f64;
        let y = |v: f64| v;
        let parts = segments(&buckets, &values, &x, &y);
        assert_eq!(parts, [vec!["0.0,1.0"], vec!["3.0,3.0", "4.0,2.0"]]);
        // Buckets keep the largest value of their steps.
        let long: Vec<Option<f64>> = (0..2 * MAX_POINTS).map(|i| Some((i % 2) as f64)).collect();
        let buckets = bucket_bounds(long.len());
        assert_eq!(buckets.len(), MAX_POINTS);
        let parts = segments(&buckets, &long, &x, &y);
        assert!(
            parts[0].iter().all(|p| p.ends_with(",1.0")),
            "{:?}",
            &parts[0][..3]
        );
    }

    #[test]
    fn axes_are_round() {
        assert_eq!(nice_axis(7.0), (8.0, 2.0));
        assert_eq!(nice_axis(180.0), (200.0, 50.0));
        assert_eq!(nice_axis(0.0), (1.0, 1.0));
        assert_eq!(time_ticks(7 * 86_400), ("d", 86_400, 1));
        assert_eq!(time_ticks(86_400), ("h", 3600, 2));
        assert_eq!(number(2.0), "2");
        assert_eq!(number(12.345), "12.3");
    }
}
