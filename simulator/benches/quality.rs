//! Decision quality on the repository's scenarios: instance-hours ÷ the lower bound's
//! instance-hours (goal ≤ 1.15) and unplaced task-minutes, printed for each; and the time of one
//! scenario's run.
//!
//! `cargo bench --workspace --bench quality`

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use simulator::{scenarios, Input, Outcome, Timeline, WorldFile};

fn load(
    name: &str,
) -> (
    shared::definition::ClusterDefinition,
    WorldFile,
    Timeline,
    shared::time::Timestamp,
) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files = scenarios::files(&dir, name);
    let report = shared::definition::load_dir(&files.clusters_dir, &|_| None);
    let definition = report
        .cluster(name)
        .expect("the scenario's cluster file loads")
        .clone();
    let world = WorldFile::load(&files.world).expect("the scenario's world loads");
    let (timeline, start) = Timeline::load(&files.timeline, &definition, world.start)
        .expect("the scenario's timeline loads");
    (definition, world, timeline, start)
}

fn run(name: &str) -> Outcome {
    let (definition, world, timeline, start) = load(name);
    let input = Input {
        definition: &definition,
        world: &world,
        timeline: &timeline,
        start,
    };
    simulator::run(&input, |_, _| {}).expect("the scenario runs")
}

fn quality(c: &mut Criterion) {
    println!("scenario        steps  instance-h  bound-h  ratio  unplaced task-min (waiting)  moved  violations");
    for name in scenarios::NAMES {
        let s = run(name).summary;
        println!(
            "{name:<14} {:>6}  {:>10.1}  {:>7.1}  {:>5.3}  {:>17.1} ({:>7.1})  {:>5}  {}",
            s.steps,
            s.instance_hours,
            s.lower_bound_instance_hours,
            s.instance_hours_ratio.unwrap_or(f64::NAN),
            s.unplaced_task_minutes,
            s.waiting_task_minutes,
            s.tasks_moved,
            s.invariant_violations
        );
    }
    let mut group = c.benchmark_group("scenario");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let (definition, world, timeline, start) = load("flash_crowd");
    let input = Input {
        definition: &definition,
        world: &world,
        timeline: &timeline,
        start,
    };
    group.bench_function("flash_crowd (1 day, 1,440 steps)", |b| {
        b.iter(|| {
            let outcome = simulator::run(black_box(&input), |_, _| {}).expect("runs");
            black_box(outcome.summary.instance_hours)
        })
    });
    group.finish();
}

criterion_group!(benches, quality);
criterion_main!(benches);
