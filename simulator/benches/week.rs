//! A week at one-minute steps (10,080 planner cycles) of a cluster of 50 services that peaks
//! near 200 instances each afternoon (goal: ≤ 10 s in release); prints steps per second.
//!
//! `cargo bench --workspace --bench week`

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use simulator::timeline::Row;
use simulator::{Input, Timeline, WorldFile};

const SERVICES: usize = 50;
const STEPS: u64 = 10_080;
const START: i64 = 1_793_577_600; // 2026-11-02T00:00:00Z, a Monday

/// Service `s`'s task size: 256–1024 CPU, 512–2048 MiB.
fn size(s: usize) -> (u32, u32) {
    (
        [256, 512, 768, 1024][s % 4],
        [512, 1024, 1536, 2048][(s / 4) % 4],
    )
}

fn cluster() -> shared::definition::ClusterDefinition {
    let mut yaml = String::from("autoscale_group: bench-asg\nmin: 2\nmax: 250\nservices:\n");
    for s in 0..SERVICES {
        let _ = write!(
            yaml,
            "  svc{s:02}:
    min: 1
    max: 60
    metric_sources:
      third_party:
        - url: http://metrics.internal/svc{s:02}
          statistics: [{{name: load, alias: load}}]
    target_tracking: {{metric: load, target: 100}}
"
        );
    }
    shared::definition::parse_definition("bench", Path::new("bench.yml"), &yaml, &|_| None)
        .expect("the bench's cluster file")
}

fn world() -> WorldFile {
    let mut yaml = String::from(
        "step_secs: 60
instance: {cpu: 4096, memory: 15576}
instance_boot_secs: 180
task_start_secs: 30
drain_secs: 120
group: {min: 2, max: 250, desired: 20}
services:
",
    );
    for s in 0..SERVICES {
        let (cpu, memory) = size(s);
        let placement = if s % 3 == 0 { "spread" } else { "binpack" };
        let _ = writeln!(
            yaml,
            "  svc{s:02}: {{desired: 4, cpu: {cpu}, memory: {memory}, placement: {placement}}}"
        );
    }
    WorldFile::parse(Path::new("bench.world.yml"), &yaml).expect("the bench's world")
}

/// Each service's load: a daily cycle peaking in the afternoon (up to 3,000, i.e. 30 tasks),
/// shifted per service, with a little deterministic noise.
fn timeline() -> Timeline {
    let mut rows = Vec::new();
    let mut noise = 0x2545_F491_4F6C_DD1Du64;
    for step in 0..STEPS as i64 {
        let t = START + step * 60;
        for s in 0..SERVICES {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            let hour = ((step * 60 + s as i64 * 300) % 86_400) as f64 / 3600.0;
            let x = (hour - 14.0) / 4.0;
            let jitter = 1.0 + ((noise % 200) as f64 - 100.0) / 1000.0;
            let load = (200.0 + 2800.0 * (-0.5 * x * x).exp()) * jitter;
            rows.push(Row {
                time: t,
                service: format!("svc{s:02}"),
                alias: "load".into(),
                value: Some(load.round()),
            });
        }
    }
    Timeline::from_rows(rows)
}

fn week(c: &mut Criterion) {
    let (definition, world, timeline) = (cluster(), world(), timeline());
    let start = shared::time::Timestamp::from_second(START).expect("a time");
    let input = Input {
        definition: &definition,
        world: &world,
        timeline: &timeline,
        start,
    };
    let began = Instant::now();
    let outcome = simulator::run(&input, |_, _| {}).expect("runs");
    let secs = began.elapsed().as_secs_f64();
    let s = &outcome.summary;
    println!(
        "week: {} steps in {secs:.2} s ({:.0} steps/s); peak {} instances, ratio {:.3}, unplaced {:.0} task-min, violations {}",
        s.steps,
        s.steps as f64 / secs,
        s.peak_instances,
        s.instance_hours_ratio.unwrap_or(f64::NAN),
        s.unplaced_task_minutes,
        s.invariant_violations
    );
    let mut group = c.benchmark_group("simulate");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(60));
    group.bench_function("week, 50 services, up to 200 instances", |b| {
        b.iter(|| {
            let outcome = simulator::run(black_box(&input), |_, _| {}).expect("runs");
            black_box(outcome.summary.instance_hours)
        })
    });
    group.finish();
}

criterion_group!(benches, week);
criterion_main!(benches);
