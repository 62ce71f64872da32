//! `ecs-autoscale simulate` as a user runs it, on a repository scenario and on bad input (no
//! emulator: the simulation makes no AWS call; `--from-cloudwatch` is tested in `tests/cli/`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scenarios() -> PathBuf {
    repo().join("simulator/scenarios")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecs-autoscale"))
        .env_remove("RUST_LOG")
        .env_remove("LOG_LEVEL")
        .env_remove("CLUSTERS_DIR")
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run ecs-autoscale")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "ecs-autoscale-simulate-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.0.join(name), text).expect("writes");
        self.path(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The README's example: the sawtooth scenario, with `--json` and `--out`.
#[test]
fn a_repository_scenario_gives_the_summary_the_series_and_the_chart() {
    let scratch = Scratch::new("sawtooth");
    let out_dir = scratch.path("out");
    let dir = scenarios();
    let o = run(&[
        "simulate",
        "--clusters-dir",
        &dir.join("clusters").to_string_lossy(),
        "--cluster",
        "sawtooth",
        "--world",
        &dir.join("sawtooth.world.yml").to_string_lossy(),
        "--timeline",
        &dir.join("sawtooth.metrics.csv").to_string_lossy(),
        "--out",
        &out_dir,
        "--json",
    ]);
    assert_code(&o, 0);
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    for key in [
        "steps",
        "simulated_secs",
        "instance_hours",
        "lower_bound_instance_hours",
        "unplaced_task_minutes",
        "tasks_moved",
        "direction_changes",
        "actions",
        "invariant_violations",
    ] {
        assert!(summary.get(key).is_some(), "`{key}` missing: {summary:#}");
    }
    assert_eq!(summary["steps"], 1440);
    assert_eq!(summary["simulated_secs"], 86_400);
    assert_eq!(summary["invariant_violations"], 0);
    assert!(
        summary["direction_changes"]["web"].as_u64().is_some(),
        "{summary:#}"
    );
    assert!(
        summary["actions"]["service_up"].as_u64().unwrap_or(0) > 0,
        "{summary:#}"
    );
    let hours = summary["instance_hours"].as_f64().expect("a number");
    let bound = summary["lower_bound_instance_hours"]
        .as_f64()
        .expect("a number");
    assert!(hours >= bound && bound > 0.0, "{hours} vs {bound}");

    let series = std::fs::read_to_string(scratch.0.join("out/series.csv")).expect("series.csv");
    let mut lines = series.lines();
    assert_eq!(
        lines.next(),
        Some("time,instances,booting,draining,lower_bound,unplaced,waiting,web.desired,web.running,web.requests")
    );
    assert_eq!(lines.count(), 1440);
    assert!(
        series.contains("\n2026-11-04T00:00:00Z,"),
        "starts at the world's start"
    );
    let chart = std::fs::read_to_string(scratch.0.join("out/chart.svg")).expect("chart.svg");
    assert!(chart.starts_with("<svg") && chart.contains("web.requests (peak"));
    assert!(chart.contains(">12 h</text>"), "an axis in hours");
}

#[test]
fn without_json_a_short_summary_for_a_person() {
    let dir = scenarios();
    let o = run(&[
        "simulate",
        "--clusters-dir",
        &dir.join("clusters").to_string_lossy(),
        "--cluster",
        "flash_crowd",
        "--world",
        &dir.join("flash_crowd.world.yml").to_string_lossy(),
        "--timeline",
        &dir.join("flash_crowd.metrics.csv").to_string_lossy(),
    ]);
    assert_code(&o, 0);
    let out = text(&o.stdout);
    assert!(
        out.starts_with("cluster `flash_crowd`: 1440 steps of 60 s (24 h)"),
        "{out}"
    );
    assert!(
        out.contains("instance-hours") && out.contains("ratio 1."),
        "{out}"
    );
    assert!(out.contains("invariant violations 0"), "{out}");
    assert!(out.lines().count() < 15, "short: {out}");
}

const CLUSTER: &str = "autoscale_group: g
services:
  web:
    min: 1
    max: 10
    metric_sources:
      third_party:
        - url: http://metrics.internal/web
          statistics: [{name: rpm, alias: requests}]
    target_tracking: {metric: requests, target: 100}
";

const WORLD: &str = "step_secs: 60
instance: {cpu: 4096, memory: 8192}
instance_boot_secs: 120
task_start_secs: 30
drain_secs: 60
group: {min: 1, max: 5, desired: 1}
services:
  web: {desired: 1, cpu: 1024, memory: 1024}
";

const METRICS: &str =
    "time,service,alias,value\n0,web,requests,100\n600,web,requests,450\n1200,web,requests,80\n";

/// The scratch directory with the cluster file `sim.yml`, the world and the timeline given.
fn files(name: &str, world: &str, metrics: &str) -> (Scratch, Vec<String>) {
    let scratch = Scratch::new(name);
    std::fs::create_dir_all(scratch.0.join("clusters")).expect("a directory");
    scratch.write("clusters/sim.yml", CLUSTER);
    let args = vec![
        "simulate".to_owned(),
        "--clusters-dir".to_owned(),
        scratch.path("clusters"),
        "--cluster".to_owned(),
        "sim".to_owned(),
        "--world".to_owned(),
        scratch.write("world.yml", world),
        "--timeline".to_owned(),
        scratch.write("metrics.csv", metrics),
    ];
    (scratch, args)
}

fn run_owned(args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args)
}

#[test]
fn a_small_world_scales_out_and_back() {
    let (_scratch, mut args) = files("small", WORLD, METRICS);
    args.push("--json".into());
    let o = run_owned(&args);
    assert_code(&o, 0);
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    // The timeline ends at 1200 s: 21 one-minute steps.
    assert_eq!(summary["steps"], 21);
    assert!(
        summary["actions"]["service_up"].as_u64() >= Some(1),
        "{summary:#}"
    );
    assert!(
        summary["actions"]["group_desired"].as_u64() >= Some(1),
        "{summary:#}"
    );
    assert_eq!(summary["invariant_violations"], 0);
}

#[test]
fn bad_input_is_an_error_with_file_line_and_field() {
    let cases: [(&str, String, &str, &[&str]); 6] = [
        (
            "unknown-key",
            WORLD.replace("cpu: 1024, memory: 1024}", "cpu: 1024, memory: 1024, colour: red}"),
            METRICS,
            &["world.yml:8: services.web.colour: unknown field `colour`"],
        ),
        (
            "bad-value",
            WORLD.to_owned(),
            "time,service,alias,value\n0,web,requests,100\n60,web,requests,lots\n",
            &["metrics.csv:3: value: `lots` is not a number"],
        ),
        (
            "out-of-order",
            WORLD.to_owned(),
            "time,service,alias,value\n600,web,requests,100\n60,web,requests,5\n",
            &["metrics.csv:3: time: `60` is before the previous row's `600`"],
        ),
        (
            "unknown-alias",
            WORLD.to_owned(),
            "time,service,alias,value\n0,web,latency,100\n",
            &["metrics.csv:2: alias: `latency` is not an alias of service `web`", "aliases: requests"],
        ),
        (
            "short-row",
            WORLD.to_owned(),
            "time,service,alias,value\n0,web\n",
            &["metrics.csv:2: row: expected 4 fields"],
        ),
        (
            "service-missing",
            WORLD.replace("  web: {desired: 1, cpu: 1024, memory: 1024}\n", "  api: {desired: 1, cpu: 1024, memory: 1024}\n"),
            METRICS,
            &["service `web` of the cluster file of `sim` is not in the world file (world services: api)"],
        ),
    ];
    for (name, world, metrics, expected) in cases {
        let (_scratch, args) = files(name, &world, metrics);
        let o = run_owned(&args);
        assert_code(&o, 1);
        let err = text(&o.stderr);
        assert!(err.starts_with("error: "), "{name}: {err}");
        for part in expected {
            assert!(err.contains(part), "{name}: `{part}` not in:\n{err}");
        }
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(o.stdout.is_empty(), "{name}: nothing on stdout");
    }
}

#[test]
fn the_timeline_comes_from_a_file_or_from_cloudwatch_never_both_nor_neither() {
    let (_scratch, mut args) = files("usage", WORLD, METRICS);
    args.extend(["--from-cloudwatch".into(), "--since".into(), "7d".into()]);
    assert_code(&run_owned(&args), 2);
    let (_scratch, args) = files("usage-none", WORLD, METRICS);
    let without: Vec<String> = args[..args.len() - 2].to_vec();
    let o = run_owned(&without);
    assert_code(&o, 2);
    assert!(
        text(&o.stderr).contains("--timeline"),
        "{}",
        text(&o.stderr)
    );
    let mut since_alone = args.clone();
    since_alone.extend(["--since".into(), "1h".into()]);
    assert_code(&run_owned(&since_alone), 2);
}
