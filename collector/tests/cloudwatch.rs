//! The CloudWatch source through the emulator (moto): values of the last complete period, the
//! window choice, missing data and `default:`, and the number of GetMetricData calls.
//! Percentiles are covered by the request-building unit test (moto answers them with 500).

mod support;

use std::time::{Duration, SystemTime};

use collector::cycle::{self, Cycle};
use collector::sources::cloudwatch::Window;
use shared::messages::MissingReason;
use shared::time::Timestamp;
use support::defs::{self, HEAD};
use testbed::messaging::put_metric_data;
use testbed::{CallLog, TestBed};

const NS: &str = "Test/Collector";

fn cw_service(
    name: &str,
    metric: &str,
    period: u32,
    stats: &[(&str, &str, Option<f64>)],
) -> String {
    let mut s = format!(
        "  {name}:\n    enabled: true\n    min: 1\n    max: 3\n    events: []\n    metric_sources:\n      cloudwatch:\n\
        \x20       - namespace: {NS}\n          metric_name: {metric}\n          dimensions:\n\
        \x20           - name: ServiceName\n              value: {name}\n          period: {period}\n          statistics:\n"
    );
    for (stat, alias, default) in stats {
        s.push_str(&format!(
            "            - name: {stat}\n              alias: {alias}\n"
        ));
        if let Some(d) = default {
            s.push_str(&format!("              default: {d}\n"));
        }
    }
    s
}

fn secs(t: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(t as u64)
}

fn cycle_at(now: Timestamp) -> Cycle {
    Cycle {
        id: "cw".into(),
        now,
        deadline: tokio::time::Instant::now() + Duration::from_secs(30),
    }
}

#[tokio::test]
async fn values_are_the_last_complete_periods_datapoint() {
    let bed = TestBed::start().await;
    let now = shared::time::now();
    let w = Window::last_complete(now, 60, Duration::ZERO);
    let dims = [("ServiceName", "api")];
    let points = [
        (secs(w.start - 30), 1000.0), // the period before: not used
        (secs(w.start + 5), 10.0),
        (secs(w.start + 35), 20.0),
        (secs(w.end + 1), 5000.0), // the current, incomplete period: not used
    ];
    put_metric_data(bed.cloudwatch(), NS, "Latency", &dims, &points)
        .await
        .expect("put");
    let stats = [
        ("Average", "avg", None),
        ("Sum", "sum", None),
        ("Minimum", "min_latency", None),
        ("Maximum", "max_latency", None),
        ("SampleCount", "n", None),
    ];
    let def = defs::cluster(
        "prod",
        &format!(
            "{HEAD}services:\n{}",
            cw_service("api", "Latency", 60, &stats)
        ),
        &[],
    );
    let sources = defs::sources(bed.cloudwatch().clone());
    let reports = cycle::collect(&[&def], &cycle_at(now), &sources).await;
    let api = &reports[0].services["api"];
    assert!(api.missing.is_empty(), "{api:?}");
    assert_eq!(api.values["avg"], 15.0);
    assert_eq!(api.values["sum"], 30.0);
    assert_eq!(api.values["min_latency"], 10.0);
    assert_eq!(api.values["max_latency"], 20.0);
    assert_eq!(api.values["n"], 2.0);
    // Each value describes its period, which ended at the window's end: that is when it was
    // observed, whenever the cycle ran.
    let period_end = Timestamp::from_second(w.end).expect("in range");
    for alias in ["avg", "sum", "min_latency", "max_latency", "n"] {
        assert_eq!(reports[0].observed_at("api", alias), period_end, "{alias}");
        assert_eq!(api.observed_at.get(alias), Some(&period_end), "{alias}");
    }
    // A later cycle within the same period reads the same datapoint, observed at the same time.
    let later_in_the_period = Timestamp::from_second(w.end + 59).expect("in range");
    let later = cycle::collect(&[&def], &cycle_at(later_in_the_period), &sources).await;
    assert_eq!(later[0].services["api"].values["avg"], 15.0);
    assert_eq!(later[0].observed_at("api", "avg"), period_end);
}

#[tokio::test]
async fn the_incomplete_period_is_never_used_and_missing_data_is_reported() {
    let bed = TestBed::start().await;
    let now = shared::time::now();
    let w = Window::last_complete(now, 60, Duration::ZERO);
    // Only a datapoint in the running period.
    put_metric_data(
        bed.cloudwatch(),
        NS,
        "Fresh",
        &[("ServiceName", "fresh")],
        &[(secs(w.end + 1), 7.0)],
    )
    .await
    .expect("put");
    let services = [
        cw_service("fresh", "Fresh", 60, &[("Maximum", "fresh_max", None)]),
        cw_service(
            "empty",
            "Nothing",
            60,
            &[
                ("Average", "no_default", None),
                ("Sum", "with_default", Some(0.0)),
            ],
        ),
    ]
    .concat();
    let def = defs::cluster("prod", &format!("{HEAD}services:\n{services}"), &[]);
    let sources = defs::sources(bed.cloudwatch().clone());
    let reports = cycle::collect(&[&def], &cycle_at(now), &sources).await;
    let s = &reports[0].services;
    assert_eq!(
        s["fresh"].missing["fresh_max"],
        MissingReason::NoDatapoints,
        "{:?}",
        s["fresh"]
    );
    assert_eq!(
        s["empty"].missing["no_default"],
        MissingReason::NoDatapoints
    );
    assert_eq!(s["empty"].values["with_default"], 0.0);
    assert_eq!(
        s["empty"].defaulted["with_default"],
        MissingReason::NoDatapoints
    );
    // Missing or defaulted, an alias describes the period read.
    let period_end = Timestamp::from_second(w.end).expect("in range");
    for (service, alias) in [
        ("fresh", "fresh_max"),
        ("empty", "no_default"),
        ("empty", "with_default"),
    ] {
        assert_eq!(
            reports[0].observed_at(service, alias),
            period_end,
            "{alias}"
        );
    }

    // With a lag of one period the window moves back: the earlier period's point is read.
    put_metric_data(
        bed.cloudwatch(),
        NS,
        "Fresh",
        &[("ServiceName", "fresh")],
        &[(secs(w.start - 50), 3.0)],
    )
    .await
    .expect("put");
    let mut lagged = defs::sources(bed.cloudwatch().clone());
    lagged.cloudwatch_lag = Duration::from_secs(60);
    let reports = cycle::collect(&[&def], &cycle_at(now), &lagged).await;
    assert_eq!(
        reports[0].services["fresh"].values.get("fresh_max"),
        Some(&3.0)
    );
}

#[tokio::test]
async fn twelve_hundred_metrics_cost_three_get_metric_data_calls() {
    let bed = TestBed::start().await;
    let now = shared::time::now();
    let w = Window::last_complete(now, 300, Duration::ZERO);
    // 3 clusters × 40 services × 10 metrics = 1,200 distinct statistics.
    let mut clusters = Vec::new();
    for c in 0..3 {
        let mut services = String::new();
        for s in 0..40 {
            let name = format!("svc{c}x{s}");
            let stats: Vec<(String, String)> = (0..10)
                .map(|m| (format!("M{m}"), format!("m{m}")))
                .collect();
            // Ten metrics (M0..M9) of the service, one statistic each.
            services.push_str(&format!(
                "  {name}:\n    enabled: true\n    min: 1\n    max: 3\n    events: []\n    metric_sources:\n      cloudwatch:\n"
            ));
            for (metric, alias) in &stats {
                services.push_str(&format!(
                    "        - namespace: {NS}\n          metric_name: {metric}\n          dimensions:\n\
                    \x20           - name: ServiceName\n              value: {name}\n          statistics:\n\
                    \x20           - name: Average\n              alias: {alias}\n"
                ));
            }
        }
        clusters.push(defs::cluster(
            &format!("c{c}"),
            &format!("{HEAD}services:\n{services}"),
            &[],
        ));
    }
    // A few datapoints, spread so that they land in different calls.
    for (service, metric, value) in [
        ("svc0x0", "M0", 1.5),
        ("svc1x20", "M5", 2.5),
        ("svc2x39", "M9", 3.5),
    ] {
        put_metric_data(
            bed.cloudwatch(),
            NS,
            metric,
            &[("ServiceName", service)],
            &[(secs(w.start + 10), value)],
        )
        .await
        .expect("put");
    }
    let log = CallLog::new();
    let counted = bed.counted_clients(&log);
    let sources = defs::sources(counted.cloudwatch.clone());
    let refs: Vec<_> = clusters.iter().collect();
    let reports = cycle::collect(&refs, &cycle_at(now), &sources).await;
    assert_eq!(
        log.count("GetMetricData"),
        3,
        "⌈1200/500⌉ calls: {:?}",
        log.ops()
    );
    assert_eq!(log.total(), 3);
    let aliases: usize = reports
        .iter()
        .flat_map(|r| r.services.values())
        .map(|s| s.values.len() + s.missing.len())
        .sum();
    assert_eq!(aliases, 1200);
    assert_eq!(reports[0].services["svc0x0"].values.get("m0"), Some(&1.5));
    assert_eq!(reports[1].services["svc1x20"].values.get("m5"), Some(&2.5));
    assert_eq!(reports[2].services["svc2x39"].values.get("m9"), Some(&3.5));
    assert_eq!(
        reports[2].services["svc2x39"].missing["m8"],
        MissingReason::NoDatapoints
    );
}
