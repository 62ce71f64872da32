//! The repository's scenarios: their timelines are what the generator writes
//! (`UPDATE_SCENARIOS=1` rewrites them), every file loads, and each runs closed-loop through
//! the real planner and the executor's guards without an invariant violation, within the
//! quality measured when they were committed.

use std::path::{Path, PathBuf};

use simulator::{scenarios, Input, Outcome, Timeline, WorldFile};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

#[test]
fn committed_timelines_are_the_generators() {
    let update = std::env::var_os("UPDATE_SCENARIOS").is_some();
    for name in scenarios::NAMES {
        let path = scenarios::files(&dir(), name).timeline;
        let generated = scenarios::timeline_csv(name).expect("a scenario");
        if update {
            std::fs::write(&path, &generated).expect("writes the timeline");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is not what the generator writes; run `UPDATE_SCENARIOS=1 cargo test --workspace --test scenarios`",
            path.display()
        );
    }
}

pub fn run(name: &str) -> Outcome {
    let files = scenarios::files(&dir(), name);
    let report = shared::definition::load_dir(&files.clusters_dir, &|_| None);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let definition = report.cluster(name).expect("the scenario's cluster file");
    let world = WorldFile::load(&files.world).expect("the scenario's world");
    let (timeline, start) =
        Timeline::load(&files.timeline, definition, world.start).expect("the scenario's timeline");
    let input = Input {
        definition,
        world: &world,
        timeline: &timeline,
        start,
    };
    simulator::run(&input, |_, _| {}).expect("runs")
}

/// No violation, instance-hours within 1.15 × the lower bound (the goal), and no task
/// waits longer than a new instance makes it: the plan at a step launches, the instance boots
/// and registers, the task starts, and the next step sees it running.
#[test]
fn every_scenario_runs_without_violations_within_the_quality_goal() {
    for name in scenarios::NAMES {
        let world = WorldFile::load(&scenarios::files(&dir(), name).world).expect("a world");
        let s = run(name).summary;
        println!(
            "{name}: ratio {:.3}, unplaced {:.0} task-min (waiting {:.0}), longest wait {} s, moved {}, direction changes {:?}",
            s.instance_hours_ratio.unwrap_or(f64::NAN),
            s.unplaced_task_minutes,
            s.waiting_task_minutes,
            s.longest_wait_secs,
            s.tasks_moved,
            s.direction_changes
        );
        assert_eq!(s.invariant_violations, 0, "{name}: {:?}", s.violations);
        let ratio = s.instance_hours_ratio.expect("a bound");
        assert!((1.0..=1.15).contains(&ratio), "{name}: ratio {ratio}");
        let step = world.step_secs;
        let boot =
            simulator::run::EXECUTOR_DELAY_SECS + world.instance_boot_secs + world.task_start_secs;
        let unavoidable = boot.div_ceil(step) * step;
        assert!(
            s.longest_wait_secs <= unavoidable,
            "{name}: a task waited {} s, more than a boot makes unavoidable ({unavoidable} s)",
            s.longest_wait_secs
        );
    }
}
