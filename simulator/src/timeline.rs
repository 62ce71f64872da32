//! `METRICS.csv`: the metric values over time, `time,service,alias,value`, checked against the
//! cluster file (every alias must be one of its service's statistics).
//!
//! - `time`: RFC 3339 (`2026-11-01T00:05:00Z`) or whole seconds from the world's start;
//!   rows in time order (equal times allowed, one value per alias and time).
//! - `value`: a finite number, or empty: the alias has no value from then on.
//! - A value holds until the next row of its alias; an alias with no row yet has no value.
//! - Blank lines and lines starting with `#` are skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use shared::definition::ClusterDefinition;
use shared::time::Timestamp;

/// The header every file starts with.
pub const HEADER: &str = "time,service,alias,value";

/// Where the world starts when neither the world file nor an RFC 3339 first row says.
pub const DEFAULT_START: &str = "2026-01-01T00:00:00Z";

/// One alias's values: (epoch seconds, value or none), times increasing.
type Points = Vec<(i64, Option<f64>)>;

/// The values of each (service, alias), in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// (service, alias) → its points.
    series: BTreeMap<(String, String), Points>,
    /// The latest time of any row.
    last: Option<i64>,
}

/// A row that cannot be used: file, line, field and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}: {field}: {message}", file.display())]
pub struct TimelineError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// `time`, `service`, `alias`, `value`, or `header`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// One value of the timeline, as the history fetch produces it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Epoch seconds.
    pub time: i64,
    /// The service.
    pub service: String,
    /// The alias.
    pub alias: String,
    /// The value, or none.
    pub value: Option<f64>,
}

impl Timeline {
    /// Reads `path`; `start` is where relative times count from (see [`Timeline::parse`]).
    pub fn load(
        path: &Path,
        definition: &ClusterDefinition,
        start: Option<Timestamp>,
    ) -> Result<(Timeline, Timestamp), TimelineError> {
        let text = std::fs::read_to_string(path).map_err(|e| TimelineError {
            file: path.to_owned(),
            line: 0,
            field: "file",
            message: format!("cannot read it: {e}"),
        })?;
        Timeline::parse(path, &text, definition, start)
    }

    /// Parses `text` (the contents of `path`). Relative times count from `start`, else from
    /// the first row's time when it is RFC 3339, else from [`DEFAULT_START`]. Returns the
    /// timeline and that start.
    pub fn parse(
        path: &Path,
        text: &str,
        definition: &ClusterDefinition,
        start: Option<Timestamp>,
    ) -> Result<(Timeline, Timestamp), TimelineError> {
        let err = |line: usize, field: &'static str, message: String| TimelineError {
            file: path.to_owned(),
            line,
            field,
            message,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        match lines.next() {
            Some((_, header)) if normalized(header) == HEADER => {}
            Some((n, other)) => {
                return Err(err(
                    n,
                    "header",
                    format!("expected `{HEADER}`, found `{other}`"),
                ))
            }
            None => return Err(err(1, "header", format!("empty file; expected `{HEADER}`"))),
        }
        let mut start = start;
        let mut timeline = Timeline::default();
        let mut previous: Option<(i64, String)> = None;
        for (n, line) in lines {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let [time, service, alias, value] = fields[..] else {
                return Err(err(
                    n,
                    "row",
                    format!("expected 4 fields ({HEADER}), found {}", fields.len()),
                ));
            };
            let at = match parse_time(time, &mut start) {
                Ok(at) => at,
                Err(message) => return Err(err(n, "time", message)),
            };
            if let Some((before, shown)) = &previous {
                if at < *before {
                    return Err(err(
                        n,
                        "time",
                        format!(
                            "`{time}` is before the previous row's `{shown}`: rows must be in time order"
                        ),
                    ));
                }
            }
            previous = Some((at, time.to_owned()));
            let Some(def) = definition.service(service) else {
                let known: Vec<&str> = definition
                    .services
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                return Err(err(
                    n,
                    "service",
                    format!(
                        "cluster `{}` has no service `{service}` (services: {})",
                        definition.name,
                        list(&known)
                    ),
                ));
            };
            if def.statistic(alias).is_none() {
                let known: Vec<&str> = def.aliases().map(|s| s.alias.as_str()).collect();
                return Err(err(
                    n,
                    "alias",
                    format!(
                        "`{alias}` is not an alias of service `{service}` in the cluster file of `{}` (aliases: {})",
                        definition.name,
                        list(&known)
                    ),
                ));
            }
            let value = if value.is_empty() {
                None
            } else {
                match value.parse::<f64>() {
                    Ok(v) if v.is_finite() => Some(v),
                    _ => {
                        return Err(err(
                            n,
                            "value",
                            format!("`{value}` is not a number (leave it empty for no value)"),
                        ))
                    }
                }
            };
            let points = timeline
                .series
                .entry((service.to_owned(), alias.to_owned()))
                .or_default();
            if points.last().is_some_and(|(t, _)| *t == at) {
                return Err(err(
                    n,
                    "time",
                    format!("a second value for `{service}.{alias}` at `{time}`"),
                ));
            }
            points.push((at, value));
            timeline.last = Some(timeline.last.map_or(at, |l| l.max(at)));
        }
        let start = start.unwrap_or_else(default_start);
        Ok((timeline, start))
    }

    /// A timeline from rows (any order; the last of equal (time, alias) wins).
    pub fn from_rows(mut rows: Vec<Row>) -> Timeline {
        rows.sort_by_key(|r| r.time);
        let mut timeline = Timeline::default();
        for row in rows {
            let points = timeline.series.entry((row.service, row.alias)).or_default();
            match points.last_mut() {
                Some(last) if last.0 == row.time => last.1 = row.value,
                _ => points.push((row.time, row.value)),
            }
            timeline.last = Some(timeline.last.map_or(row.time, |l| l.max(row.time)));
        }
        timeline
    }

    /// The value of `service`'s `alias` at `at` (epoch seconds): the last row at or before it.
    /// `None`: no row yet, or the row says no value.
    pub fn value_at(&self, service: &str, alias: &str, at: i64) -> Option<f64> {
        let points = self.series.get(&(service.to_owned(), alias.to_owned()))?;
        let i = points.partition_point(|(t, _)| *t <= at);
        i.checked_sub(1).and_then(|i| points[i].1)
    }

    /// The time of the last row, epoch seconds.
    pub fn last_time(&self) -> Option<i64> {
        self.last
    }

    /// Every (service, alias) with rows.
    pub fn aliases(&self) -> impl Iterator<Item = (&str, &str)> {
        self.series.keys().map(|(s, a)| (s.as_str(), a.as_str()))
    }

    /// The file's text: the header and every row in time order (times RFC 3339).
    pub fn to_csv(&self) -> String {
        let mut rows: Vec<(i64, &str, &str, Option<f64>)> = self
            .series
            .iter()
            .flat_map(|((s, a), points)| {
                points
                    .iter()
                    .map(move |(t, v)| (*t, s.as_str(), a.as_str(), *v))
            })
            .collect();
        rows.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.cmp(y.1)).then(x.2.cmp(y.2)));
        let mut out = format!("{HEADER}\n");
        for (t, s, a, v) in rows {
            let time =
                Timestamp::from_second(t).map_or_else(|_| t.to_string(), |ts| ts.to_string());
            let value = v.map(|v| v.to_string()).unwrap_or_default();
            out.push_str(&format!("{time},{s},{a},{value}\n"));
        }
        out
    }
}

/// The header with spaces around fields removed.
fn normalized(header: &str) -> String {
    header
        .split(',')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(",")
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// [`DEFAULT_START`].
pub fn default_start() -> Timestamp {
    DEFAULT_START.parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A time: RFC 3339, or whole seconds from `start` (which the first RFC 3339 row sets when
/// nothing did before).
fn parse_time(text: &str, start: &mut Option<Timestamp>) -> Result<i64, String> {
    if let Ok(secs) = text.parse::<u64>() {
        let base = start.get_or_insert_with(default_start).as_second();
        return i64::try_from(secs)
            .ok()
            .and_then(|s| base.checked_add(s))
            .filter(|t| Timestamp::from_second(*t).is_ok())
            .ok_or_else(|| format!("`{text}` seconds from the start is out of range"));
    }
    match text.parse::<Timestamp>() {
        Ok(at) => {
            start.get_or_insert(at);
            Ok(at.as_second())
        }
        Err(_) => Err(format!(
            "`{text}` is neither an RFC 3339 time (`2026-11-01T00:05:00Z`) nor whole seconds from the start"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition() -> ClusterDefinition {
        shared::definition::parse_definition(
            "c",
            Path::new("c.yml"),
            "autoscale_group: g
services:
  worker:
    min: 1
    max: 10
    metric_sources:
      third_party:
        - url: http://rabbit/api/queues/q
          statistics: [{name: messages_ready, alias: queue}]
  web:
    min: 1
    max: 10
    metric_sources:
      cloudwatch:
        - metric_name: CPUUtilization
          statistics: [{name: Average, alias: cpu}]
",
            &|_| None,
        )
        .expect("a definition")
    }

    fn parse(text: &str) -> Result<(Timeline, Timestamp), TimelineError> {
        Timeline::parse(Path::new("m.csv"), text, &definition(), None)
    }

    #[test]
    fn values_hold_until_the_next_row_and_are_missing_before_the_first() {
        let (t, start) = parse(
            "time,service,alias,value\n# a comment\n60,worker,queue,5\n\n120,web,cpu,40\n180,worker,queue,\n240,worker,queue,7.5\n",
        )
        .expect("reads");
        assert_eq!(start, default_start());
        let s = start.as_second();
        assert_eq!(t.value_at("worker", "queue", s + 59), None, "no row yet");
        assert_eq!(t.value_at("worker", "queue", s + 60), Some(5.0));
        assert_eq!(t.value_at("worker", "queue", s + 179), Some(5.0));
        assert_eq!(
            t.value_at("worker", "queue", s + 180),
            None,
            "an empty value"
        );
        assert_eq!(t.value_at("worker", "queue", s + 10_000), Some(7.5));
        assert_eq!(t.value_at("web", "cpu", s + 120), Some(40.0));
        assert_eq!(t.last_time(), Some(s + 240));
    }

    #[test]
    fn rfc3339_times_and_relative_times_mix_from_the_first_absolute_time() {
        let (t, start) = parse(
            "time,service,alias,value\n2026-11-01T00:00:00Z,worker,queue,1\n60,worker,queue,2\n2026-11-01T00:02:00Z,worker,queue,3\n",
        )
        .expect("reads");
        assert_eq!(
            start,
            "2026-11-01T00:00:00Z".parse::<Timestamp>().expect("time")
        );
        let s = start.as_second();
        assert_eq!(t.value_at("worker", "queue", s + 60), Some(2.0));
        assert_eq!(t.value_at("worker", "queue", s + 120), Some(3.0));
        // The world's start wins.
        let given: Timestamp = "2026-10-01T00:00:00Z".parse().expect("time");
        let (_, start) = Timeline::parse(
            Path::new("m.csv"),
            "time,service,alias,value\n0,worker,queue,1\n",
            &definition(),
            Some(given),
        )
        .expect("reads");
        assert_eq!(start, given);
    }

    #[test]
    fn bad_rows_are_errors_with_line_and_field() {
        let cases = [
            ("time,service,alias\n", 1, "header", "expected `time,service,alias,value`"),
            ("", 1, "header", "empty file"),
            ("time,service,alias,value\n0,worker,queue\n", 2, "row", "expected 4 fields"),
            ("time,service,alias,value\nsoon,worker,queue,1\n", 2, "time", "`soon` is neither"),
            ("time,service,alias,value\n-5,worker,queue,1\n", 2, "time", "neither"),
            ("time,service,alias,value\n0,worker,queue,lots\n", 2, "value", "`lots` is not a number"),
            ("time,service,alias,value\n0,worker,queue,NaN\n", 2, "value", "not a number"),
            ("time,service,alias,value\n0,worker,queue,inf\n", 2, "value", "not a number"),
            (
                "time,service,alias,value\n60,worker,queue,1\n\n0,worker,queue,2\n",
                4,
                "time",
                "`0` is before the previous row's `60`",
            ),
            ("time,service,alias,value\n0,wroker,queue,1\n", 2, "service", "no service `wroker` (services: worker, web)"),
            (
                "time,service,alias,value\n0,worker,cpu,1\n",
                2,
                "alias",
                "`cpu` is not an alias of service `worker` in the cluster file of `c` (aliases: queue)",
            ),
            ("time,service,alias,value\n0,worker,queue,1\n0,worker,queue,2\n", 3, "time", "a second value"),
            ("time,service,alias,value\n99999999999999999,worker,queue,1\n", 2, "time", "out of range"),
        ];
        for (text, line, field, message) in cases {
            let e = parse(text).expect_err(text);
            assert_eq!((e.line, e.field), (line, field), "{text:?}: {e}");
            assert!(e.message.contains(message), "{text:?}: {e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("m.csv:{line}: {field}: ")),
                "{e}"
            );
        }
    }

    #[test]
    fn rows_round_trip_through_csv() {
        let s = default_start().as_second();
        let rows = vec![
            Row {
                time: s + 60,
                service: "web".into(),
                alias: "cpu".into(),
                value: Some(12.5),
            },
            Row {
                time: s,
                service: "worker".into(),
                alias: "queue".into(),
                value: None,
            },
            Row {
                time: s + 60,
                service: "worker".into(),
                alias: "queue".into(),
                value: Some(3.0),
            },
        ];
        let t = Timeline::from_rows(rows);
        let text = t.to_csv();
        let (back, _) = parse(&text).expect("reads its own output");
        assert_eq!(back, t);
    }
}
