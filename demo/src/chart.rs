//! Tasks and instances over the cycles, from plain series: bars for the terminal, lines for an SVG file.

use std::fmt::Write as _;

/// What the chart shows: one value per cycle in each series, cycles in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// The cycle numbers (the x axis).
    pub cycles: Vec<u32>,
    /// Tasks running, all services.
    pub tasks: Vec<u32>,
    /// Instances in service.
    pub instances: Vec<u32>,
    /// Tasks running per service: its name and its values.
    pub services: Vec<(String, Vec<u32>)>,
    /// The load of each cycle: messages in the queue and CPU %, `None` before the first.
    pub load: Vec<Option<(u64, f64)>>,
}

/// The value at `i` of a series (0 when it is shorter).
fn at(values: &[u32], i: usize) -> u32 {
    values.get(i).copied().unwrap_or(0)
}

/// One line per cycle: running tasks (█) and instances in service (▓), with the load.
pub fn terminal(series: &Series) -> Vec<String> {
    let mut lines = vec![format!(
        "{:>5}  {:<16} {:<10} {}",
        "cycle", "tasks running", "instances", "load (queue, CPU)"
    )];
    for (i, cycle) in series.cycles.iter().enumerate() {
        let tasks = at(&series.tasks, i) as usize;
        let instances = at(&series.instances, i) as usize;
        lines.push(format!(
            "{:>5}  {:<16} {:<10} {}",
            cycle,
            format!("{} {}", "█".repeat(tasks * 2), tasks),
            format!("{} {}", "▓".repeat(instances * 2), instances),
            match series.load.get(i).copied().flatten() {
                None => "-".to_owned(),
                Some((queue, cpu)) => format!("{queue:>3} msgs, {cpu:>4.1}%"),
            }
        ));
    }
    lines
}

/// A line chart (SVG) of running tasks per service, all tasks, and instances in service.
pub fn svg(chart: &Series) -> String {
    let (w, h) = (720.0_f64, 360.0_f64);
    let (left, right, top, bottom) = (50.0, 150.0, 40.0, 40.0);
    let max_y = (0..chart.cycles.len())
        .map(|i| at(&chart.tasks, i).max(at(&chart.instances, i)))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        + 1.0;
    let n = chart.cycles.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + (w - left - right) * i as f64 / n;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / max_y);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{left}" y="22" font-size="15" font-weight="bold">ecs-autoscale demo: tasks and instances per cycle</text>"#
    );
    for v in 0..=(max_y as u32) {
        let yy = y(f64::from(v));
        let _ = writeln!(
            out,
            r##"<line x1="{left}" x2="{}" y1="{yy}" y2="{yy}" stroke="#e5e5e5"/><text x="{}" y="{}" text-anchor="end">{v}</text>"##,
            w - right,
            left - 8.0,
            yy + 4.0
        );
    }
    for (i, cycle) in chart.cycles.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            x(i),
            h - bottom + 18.0,
            cycle
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">cycle</text>"#,
        (left + w - right) / 2.0,
        h - 6.0
    );
    let values = |v: &[u32]| -> Vec<f64> { v.iter().map(|&n| f64::from(n)).collect() };
    let mut series: Vec<(String, &str, &str, Vec<f64>)> = vec![
        (
            "tasks (all)".to_owned(),
            "#1f77b4",
            "",
            values(&chart.tasks),
        ),
        (
            "instances".to_owned(),
            "#ff7f0e",
            "",
            values(&chart.instances),
        ),
    ];
    for (k, (name, running)) in chart.services.iter().enumerate() {
        series.push((
            format!("{name} tasks"),
            ["#2ca02c", "#9467bd", "#8c564b"][k % 3],
            "4 3",
            values(running),
        ));
    }
    for (k, (label, color, dash, values)) in series.iter().enumerate() {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let width = if dash.is_empty() { 3 } else { 2 };
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{color}" stroke-width="{width}" stroke-dasharray="{dash}" points="{}"/>"#,
            points.join(" ")
        );
        let ly = top + 10.0 + 20.0 * k as f64;
        let _ = writeln!(
            out,
            r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="{width}" stroke-dasharray="{dash}"/><text x="{}" y="{}">{label}</text>"#,
            w - right + 10.0,
            w - right + 34.0,
            w - right + 40.0,
            ly + 4.0
        );
    }
    out.push_str("</svg>\n");
    out
}
