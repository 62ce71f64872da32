//! HTTP fan-out benchmark: 1,000 HTTP metrics from 1,000 distinct sources on a local server
//! (127.0.0.1) that answers each request after 50 ms, collected by one cycle. Goal: ≤ 1 s wall
//! time (sequentially it would take 50 s).
//!
//! The sequential baseline is measured in the same run on 20 requests sent one after another
//! and extrapolated ×50 (stated as such in the output).
//!
//! Run: `cargo bench -p ecs-autoscale-collector --bench http_fanout`.

#[allow(dead_code)]
#[path = "../tests/support/http_server.rs"]
mod http_server;

use std::path::Path;
use std::time::{Duration, Instant};

use collector::cycle::{self, Cycle, Sources};
use collector::sources;
use collector::sources::http::{self as http_source, HttpCollector, HttpConfig};
use http_server::{Reply, TestServer};
use shared::definition::{parse_definition, ClusterDefinition};

const SOURCES: usize = 1000;
const DELAY: Duration = Duration::from_millis(50);
const BASELINE_REQUESTS: usize = 20;
const RUNS: usize = 3;

fn definition(server: &TestServer) -> Result<ClusterDefinition, String> {
    let mut text = String::from(
        "autoscale_group: asg\nenabled: true\ncpu_buffer: 0\nmem_buffer: 0\nservices:\n",
    );
    // 100 services × 10 sources, one statistic each.
    for s in 0..SOURCES / 10 {
        text.push_str(&format!(
            "  svc{s}:\n    enabled: true\n    min: 1\n    max: 3\n    events: []\n    metric_sources:\n      third_party:\n"
        ));
        for m in 0..10 {
            text.push_str(&format!(
                "        - url: \"{}\"\n          statistics:\n            - name: value\n              alias: m{m}\n",
                server.url(&format!("/s{s}/m{m}"))
            ));
        }
    }
    parse_definition("bench", Path::new("bench.yml"), &text, &|_| None).map_err(|e| e.to_string())
}

fn cloudwatch_unused() -> aws_sdk_cloudwatch::Client {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .http_client(shared::aws::tls::https_client())
        .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
}

fn main() -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(run())
}

async fn run() -> Result<(), String> {
    let server =
        TestServer::start(|_| Reply::json(serde_json::json!({"value": 1})).after(DELAY)).await;
    let def = definition(&server)?;
    let http = HttpCollector::new(HttpConfig::default()).map_err(|e| e.to_string())?;
    let sources = Sources {
        cloudwatch: cloudwatch_unused(),
        http: http.clone(),
        cloudwatch_lag: Duration::ZERO,
    };

    // Sequential baseline: BASELINE_REQUESTS requests one after another.
    let clusters = [&def];
    let requests = http_source::plan(sources::http_items(&clusters));
    assert_eq!(requests.len(), SOURCES, "one request per source");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let started = Instant::now();
    for request in requests.iter().take(BASELINE_REQUESTS) {
        http.fetch(request, deadline)
            .await
            .map_err(|reason| format!("baseline request failed: {reason}"))?;
    }
    let baseline = started.elapsed();
    let sequential = baseline * (SOURCES / BASELINE_REQUESTS) as u32;

    // The collector: every source concurrently (default limit).
    let mut times = Vec::new();
    for run in 0..RUNS {
        let cycle = Cycle {
            id: format!("bench-{run}"),
            now: shared::time::now(),
            deadline: tokio::time::Instant::now() + Duration::from_secs(60),
        };
        let started = Instant::now();
        let reports = cycle::collect(&clusters, &cycle, &sources).await;
        let elapsed = started.elapsed();
        let values: usize = reports
            .iter()
            .flat_map(|r| r.services.values())
            .map(|s| s.values.len())
            .sum();
        if values != SOURCES {
            return Err(format!(
                "run {run}: only {values} of {SOURCES} values collected"
            ));
        }
        times.push(elapsed);
    }
    times.sort();
    let best = times[0];
    let median = times[times.len() / 2];
    println!("http_fanout: {SOURCES} HTTP metrics from {SOURCES} sources, server delay {DELAY:?}, concurrency {}", HttpConfig::default().concurrency);
    println!(
        "  sequential baseline: {BASELINE_REQUESTS} requests in {:.3} s, extrapolated x{} = {:.2} s",
        baseline.as_secs_f64(),
        SOURCES / BASELINE_REQUESTS,
        sequential.as_secs_f64()
    );
    println!(
        "  collector ({RUNS} runs): best {:.3} s, median {:.3} s, all {:?}",
        best.as_secs_f64(),
        median.as_secs_f64(),
        times
            .iter()
            .map(|t| format!("{:.3}", t.as_secs_f64()))
            .collect::<Vec<_>>()
    );
    println!(
        "  speed-up vs sequential (median): x{:.1}; goal <= 1 s: {}",
        sequential.as_secs_f64() / median.as_secs_f64(),
        if median <= Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}
