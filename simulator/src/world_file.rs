//! `WORLD.yml`: the simulated cluster's hardware and timings, read with serde into typed structs
//! that refuse unknown keys; every error names the file, the line and the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use shared::resources::Resources;
use shared::time::Timestamp;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldFile {
    /// Seconds between two planner cycles (one step each).
    pub step_secs: u64,
    /// The simulation's first step; the timeline's times may be seconds from it.
    #[serde(default)]
    pub start: Option<Timestamp>,
    /// How long to simulate; by default up to the timeline's last row.
    #[serde(default)]
    pub duration_secs: Option<u64>,
    /// Capacity of each instance, as ECS registers it.
    pub instance: Size,
    /// From launch to registration with ECS.
    pub instance_boot_secs: u64,
    /// From placement to RUNNING.
    pub task_start_secs: u64,
    /// From the start of a drain until a task of the instance may stop (its replacement running).
    pub drain_secs: u64,
    /// The Auto Scaling group at the start.
    pub group: GroupSpec,
    /// The services at the start, by name.
    pub services: BTreeMap<String, ServiceSpec>,
}

/// CPU units and MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Size {
    /// CPU units (1024 per vCPU).
    pub cpu: u32,
    /// MiB.
    pub memory: u32,
}

impl From<Size> for Resources {
    fn from(s: Size) -> Resources {
        Resources::new(s.cpu, s.memory)
    }
}

/// MinSize, MaxSize and DesiredCapacity at the start; the desired instances start registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// MinSize.
    pub min: u32,
    /// MaxSize.
    pub max: u32,
    /// DesiredCapacity (that many instances, registered and ACTIVE at the start).
    pub desired: u32,
}

/// One ECS service at the start.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// desiredCount at the start (its tasks start RUNNING where they fit).
    pub desired: u32,
    /// Task CPU units.
    pub cpu: u32,
    /// Task memory (MiB).
    pub memory: u32,
    /// The service's placement strategy.
    #[serde(default)]
    pub placement: Placement,
    /// Placement constraint `distinctInstance`: at most one task per instance.
    #[serde(default)]
    pub distinct_instance: bool,
}

impl ServiceSpec {
    /// One task's reservation.
    pub fn size(&self) -> Resources {
        Resources::new(self.cpu, self.memory)
    }
}

/// ECS placement strategies the world plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// `binpack` on memory: the instance with the least memory left that fits.
    #[default]
    Binpack,
    /// `spread` over instances: the instance with the fewest tasks of the service.
    Spread,
}

/// A world file that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}: {field}{message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default(), field = field_prefix(field))]
pub struct WorldError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field path (`services.worker.cpu`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

fn field_prefix(field: &Option<String>) -> String {
    field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default()
}

impl WorldFile {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<WorldFile, WorldError> {
        let text = std::fs::read_to_string(path).map_err(|e| WorldError {
            file: path.to_owned(),
            line: None,
            field: None,
            message: format!("cannot read it: {e}"),
        })?;
        WorldFile::parse(path, &text)
    }

    /// Parses and checks `text` (the contents of `path`).
    pub fn parse(path: &Path, text: &str) -> Result<WorldFile, WorldError> {
        let de = serde_yaml::Deserializer::from_str(text);
        let world: WorldFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.location().map(|l| l.line());
            let message = strip_path(&strip_location(&inner.to_string()), &field);
            WorldError {
                file: path.to_owned(),
                line,
                field: (field != ".").then_some(field),
                message,
            }
        })?;
        world.check(path, text)?;
        Ok(world)
    }

    /// What serde cannot say: positive sizes and steps, the group's limits.
    fn check(&self, path: &Path, text: &str) -> Result<(), WorldError> {
        let err = |field: &str, message: String| WorldError {
            file: path.to_owned(),
            line: line_of(text, field),
            field: Some(field.to_owned()),
            message,
        };
        if self.step_secs == 0 {
            return Err(err("step_secs", "must be at least 1 second".into()));
        }
        if self.duration_secs == Some(0) {
            return Err(err("duration_secs", "must be at least 1 second".into()));
        }
        if self.instance.cpu == 0 || self.instance.memory == 0 {
            return Err(err(
                "instance",
                "cpu and memory must both be above 0".into(),
            ));
        }
        let g = self.group;
        if !(g.min <= g.desired && g.desired <= g.max) {
            return Err(err(
                "group",
                format!(
                    "needs min ≤ desired ≤ max, got min {}, desired {}, max {}",
                    g.min, g.desired, g.max
                ),
            ));
        }
        for (name, s) in &self.services {
            if s.cpu == 0 && s.memory == 0 {
                return Err(err(
                    &format!("services.{name}"),
                    "a task reserves no CPU and no memory".into(),
                ));
            }
        }
        Ok(())
    }
}

/// serde_yaml appends " at line L column C"; the error shows the line itself.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// serde_yaml starts some messages with the path of the mapping (`services.worker: ...`); the
/// error shows the field itself.
fn strip_path(message: &str, field: &str) -> String {
    match message.split_once(": ") {
        Some((path, rest)) if !path.is_empty() && field.starts_with(path) => rest.to_owned(),
        _ => message.to_owned(),
    }
}

/// The line of a top-level key or of `services.NAME` (best effort, for checks after parsing).
fn line_of(text: &str, field: &str) -> Option<usize> {
    let last = field.rsplit('.').next().unwrap_or(field);
    let nested = field.contains('.');
    text.lines()
        .position(|l| {
            let trimmed = l.trim_start();
            let indented = trimmed.len() != l.len();
            indented == nested && trimmed.starts_with(&format!("{last}:"))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE_EXAMPLE: &str = "\
step_secs: 60                                # one planner cycle per step
start: 2026-11-01T00:00:00Z                  # optional
instance: {cpu: 4096, memory: 7482}          # capacity of each instance
instance_boot_secs: 180
task_start_secs: 30
drain_secs: 60
group: {min: 1, max: 20, desired: 2}
services:
  worker: {desired: 2, cpu: 1024, memory: 2048, placement: binpack}
";

    fn parse(text: &str) -> Result<WorldFile, WorldError> {
        WorldFile::parse(Path::new("world.yml"), text)
    }

    #[test]
    fn the_issues_example_reads() {
        let w = parse(ISSUE_EXAMPLE).expect("reads");
        assert_eq!(w.step_secs, 60);
        assert_eq!(
            w.start,
            Some("2026-11-01T00:00:00Z".parse().expect("a time"))
        );
        assert_eq!(
            w.instance,
            Size {
                cpu: 4096,
                memory: 7482
            }
        );
        assert_eq!(
            (w.instance_boot_secs, w.task_start_secs, w.drain_secs),
            (180, 30, 60)
        );
        assert_eq!(
            w.group,
            GroupSpec {
                min: 1,
                max: 20,
                desired: 2
            }
        );
        let worker = &w.services["worker"];
        assert_eq!(worker.size(), Resources::new(1024, 2048));
        assert_eq!(worker.placement, Placement::Binpack);
        assert!(!worker.distinct_instance);
        assert_eq!(w.duration_secs, None);
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let text = ISSUE_EXAMPLE.replace("placement: binpack", "placment: binpack");
        let e = parse(&text).expect_err("unknown key");
        assert_eq!(e.line, Some(9), "{e}");
        assert_eq!(e.field.as_deref(), Some("services.worker.placment"), "{e}");
        let shown = e.to_string();
        assert!(
            shown.starts_with("world.yml:9: services.worker.placment: unknown field `placment`"),
            "{shown}"
        );

        let e = parse(&format!("{ISSUE_EXAMPLE}colour: blue\n")).expect_err("unknown key");
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(10), Some("colour")),
            "{e}"
        );
    }

    #[test]
    fn wrong_types_missing_keys_and_bad_values_are_errors_not_panics() {
        let e = parse(&ISSUE_EXAMPLE.replace("task_start_secs: 30", "task_start_secs: soon"))
            .expect_err("not a number");
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(5), Some("task_start_secs")),
            "{e}"
        );
        let e = parse(&ISSUE_EXAMPLE.replace("drain_secs: 60\n", "")).expect_err("missing");
        assert!(e.to_string().contains("missing field `drain_secs`"), "{e}");
        let e = parse(&ISSUE_EXAMPLE.replace("placement: binpack", "placement: random"))
            .expect_err("no such strategy");
        assert_eq!(e.field.as_deref(), Some("services.worker.placement"), "{e}");
        let e = parse(&ISSUE_EXAMPLE.replace("start: 2026-11-01T00:00:00Z", "start: yesterday"))
            .expect_err("not a time");
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(2), Some("start")),
            "{e}"
        );
        let e = parse(&ISSUE_EXAMPLE.replace("desired: 2}", "desired: 30}")).expect_err("limits");
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(7), Some("group")),
            "{e}"
        );
        let e = parse(&ISSUE_EXAMPLE.replace("step_secs: 60", "step_secs: 0")).expect_err("zero");
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(1), Some("step_secs")),
            "{e}"
        );
        for junk in ["", "[1, 2]", "step_secs: [", "\u{0}"] {
            assert!(parse(junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn spread_and_distinct_instance_read() {
        let text = ISSUE_EXAMPLE.replace(
            "placement: binpack}",
            "placement: spread, distinct_instance: true}",
        );
        let w = parse(&text).expect("reads");
        assert_eq!(w.services["worker"].placement, Placement::Spread);
        assert!(w.services["worker"].distinct_instance);
    }
}
