//! `ecs-autoscale simulate --cluster NAME --world WORLD.yml (--timeline METRICS.csv |
//! --from-cloudwatch --since 7d) [--out DIR] [--json]`: replays metrics against a simulated
//! cluster with the real planner and the executor's guards (the `simulator` crate), and says what
//! it would have cost. Nothing is changed anywhere; `--from-cloudwatch` reads CloudWatch with
//! read-only clients ([`crate::aws::ReadOnlyGuard`]).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use shared::time::Timestamp;
use simulator::{chart, history, Input, Timeline, WorldFile};

use crate::args::{ClusterFiles, ClusterName};
use crate::aws::{self, Access};
use crate::{clusters, exit, CliError};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    cluster: ClusterName,
    #[command(flatten)]
    files: ClusterFiles,
    /// The simulated world: instance size, timings, the group and the services at the start.
    #[arg(long, value_name = "WORLD.yml")]
    world: PathBuf,
    /// The metrics over time: `time,service,alias,value` (times RFC 3339 or seconds from the start).
    #[arg(
        long,
        value_name = "METRICS.csv",
        required_unless_present = "from_cloudwatch",
        conflicts_with = "from_cloudwatch"
    )]
    timeline: Option<PathBuf>,
    /// Build the timeline from the cluster file's CloudWatch sources (GetMetricData, read-only).
    #[arg(long, requires = "since")]
    from_cloudwatch: bool,
    /// With --from-cloudwatch: how far back, up to now (`7d`, `36h`, `90m`, `3600s`).
    // (`conflicts_with`, not `requires`: a flag's default counts as present for `requires`.)
    #[arg(long, value_name = "DURATION", conflicts_with = "timeline", value_parser = parse_since)]
    since: Option<u64>,
    /// Write series.csv and chart.svg here (and timeline.csv with --from-cloudwatch).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Simulates and prints; exit 0, or 1 when the world's checks found invariant violations (or
/// the input is wrong).
pub async fn run(args: &Args) -> Result<u8> {
    let report = clusters::load(&args.files.clusters_dir)?;
    let definition = clusters::find(&report, &args.cluster.cluster, &args.files.clusters_dir)?;
    let mut world = WorldFile::load(&args.world).map_err(|e| {
        CliError::problem(e.to_string())
            .hint("see `ecs-autoscale simulate --help` and the README's `simulate` section")
    })?;
    let (timeline, start) = match (&args.timeline, args.since) {
        (Some(path), _) => Timeline::load(path, definition, world.start)
            .map_err(|e| CliError::problem(e.to_string()))?,
        (None, Some(since)) => {
            let (timeline, start) = from_cloudwatch(definition, since).await?;
            world.start = Some(start);
            world.duration_secs = Some(since);
            if let Some(dir) = &args.out {
                write(dir, "timeline.csv", &timeline.to_csv())?;
            }
            (timeline, start)
        }
        (None, None) => {
            return Err(CliError::problem("no timeline")
                .hint("give `--timeline METRICS.csv`, or `--from-cloudwatch --since 7d`")
                .into())
        }
    };
    let input = Input {
        definition,
        world: &world,
        timeline: &timeline,
        start,
    };
    let mut bar = ProgressBar::new(std::io::stderr().is_terminal());
    let outcome = simulator::run(&input, |done, total| bar.update(done, total))
        .map_err(|e| CliError::problem(e.to_string()))?;
    bar.finish();

    let summary = &outcome.summary;
    if args.json {
        println!("{}", serde_json::to_string_pretty(summary)?);
    } else {
        print!("{}", summary.human());
    }
    if let Some(dir) = &args.out {
        write(dir, "series.csv", &outcome.series.to_csv())?;
        let title = format!(
            "ecs-autoscale simulate: cluster `{}`, {} steps from {}",
            definition.name, summary.steps, summary.start
        );
        write(dir, "chart.svg", &chart::svg(&outcome.series, &title))?;
        eprintln!("wrote {}", dir.display());
    }
    Ok(if summary.invariant_violations > 0 {
        exit::PROBLEMS
    } else {
        exit::OK
    })
}

/// The timeline of the last `since` seconds of the cluster file's CloudWatch sources; its start.
async fn from_cloudwatch(
    definition: &shared::definition::ClusterDefinition,
    since: u64,
) -> Result<(Timeline, Timestamp)> {
    let clients = aws::clients(Access::ReadOnly).await?;
    let now = shared::time::now().as_second();
    let end = now.div_euclid(60) * 60;
    let start = end - i64::try_from(since).unwrap_or(i64::MAX / 2);
    let history = history::fetch(&clients.cloudwatch, definition, start, end)
        .await
        .map_err(|e| {
            CliError::failure(format!("reading the history of cluster `{}`: {e}", definition.name))
                .hint("the CloudWatch sources of the cluster file are read with GetMetricData; check the region and credentials")
        })?;
    for note in &history.notes {
        eprintln!("note: {note}");
    }
    eprintln!(
        "read {} GetMetricData page(s) over {}",
        history.calls,
        simulator::summary::human_duration(since)
    );
    let start = Timestamp::from_second(start)
        .map_err(|e| CliError::problem(format!("--since reaches before any time: {e}")))?;
    Ok((history.timeline, start))
}

/// `7d`, `36h`, `90m`, `3600s`, or seconds.
fn parse_since(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 7d, 36h, 90m, 3600s)"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("`{text}`: the unit is s, m, h, d or w")),
    };
    match n.checked_mul(unit_secs) {
        Some(0) => Err("the duration must be above zero".into()),
        Some(secs) if secs <= 455 * 86_400 => Ok(secs),
        _ => Err(format!("`{text}` reaches beyond CloudWatch's 455 days")),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::failure(format!("creating `{}`: {e}", dir.display())))?;
    let path = dir.join(name);
    std::fs::write(&path, text)
        .map_err(|e| CliError::failure(format!("writing `{}`: {e}", path.display())))?;
    Ok(())
}

/// A progress bar on standard error, drawn once a run has taken a second, on a terminal.
struct ProgressBar {
    enabled: bool,
    started: Instant,
    drawn: Option<Instant>,
}

impl ProgressBar {
    fn new(enabled: bool) -> ProgressBar {
        ProgressBar {
            enabled,
            started: Instant::now(),
            drawn: None,
        }
    }

    fn update(&mut self, done: u64, total: u64) {
        if !self.enabled || self.started.elapsed() < Duration::from_secs(1) {
            return;
        }
        if self
            .drawn
            .is_some_and(|at| at.elapsed() < Duration::from_millis(100))
            && done < total
        {
            return;
        }
        self.drawn = Some(Instant::now());
        let mut err = std::io::stderr();
        let _ = write!(err, "\r{}", bar_line(done, total, 40));
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.drawn.is_some() {
            eprintln!();
        }
    }
}

/// `[#####---------]  25%  2520/10080 steps`.
fn bar_line(done: u64, total: u64, width: usize) -> String {
    let total = total.max(1);
    let done = done.min(total);
    let filled = usize::try_from(done * width as u64 / total).unwrap_or(width);
    format!(
        "[{}{}] {:>3}%  {done}/{total} steps",
        "#".repeat(filled),
        "-".repeat(width - filled),
        done * 100 / total
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_unit() {
        assert_eq!(parse_since("7d"), Ok(7 * 86_400));
        assert_eq!(parse_since("36h"), Ok(36 * 3600));
        assert_eq!(parse_since("90m"), Ok(5400));
        assert_eq!(parse_since("3600"), Ok(3600));
        assert_eq!(parse_since("2w"), Ok(14 * 86_400));
        for bad in ["", "d", "7x", "0d", "-1d", "1000d", "99999999999999999999d"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_bar_fills_with_the_steps() {
        assert_eq!(bar_line(0, 10, 10), "[----------]   0%  0/10 steps");
        assert_eq!(bar_line(5, 10, 10), "[#####-----]  50%  5/10 steps");
        assert_eq!(bar_line(10, 10, 10), "[##########] 100%  10/10 steps");
        assert_eq!(bar_line(12, 10, 4), "[####] 100%  10/10 steps");
        assert_eq!(bar_line(0, 0, 4), "[----]   0%  0/1 steps");
    }
}
