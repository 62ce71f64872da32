//! The HTTP JSON source against local servers on 127.0.0.1: failures, field paths, POST bodies,
//! headers, deduplication, timeouts, isolation, and secrets kept out of logs and reports.

mod support;

use std::time::{Duration, Instant};

use collector::cycle;
use serde_json::json;
use shared::messages::{MetricsReport, MissingReason, ServiceMetrics};
use support::defs::{self, HEAD};
use support::http_server::{Reply, TestServer};

/// Collects one cluster defined by `services` (YAML under `services:`) within `budget`.
async fn collect(services: &str, vars: &[(&str, &str)], budget: Duration) -> MetricsReport {
    let text = format!("{HEAD}services:\n{services}");
    let def = defs::cluster("web", &text, vars);
    let sources = defs::sources(defs::unused_cloudwatch());
    let mut reports = cycle::collect(&[&def], &defs::cycle(budget), &sources).await;
    assert_eq!(reports.len(), 1);
    reports.remove(0)
}

/// A service reading `stats` (`(path, alias)`) from `url`, with extra source keys.
fn service(name: &str, url: &str, extra: &str, stats: &[(&str, &str)]) -> String {
    let mut s = format!(
        "  {name}:\n    enabled: true\n    min: 1\n    max: 3\n    events: []\n    metric_sources:\n      third_party:\n        - url: \"{url}\"\n"
    );
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str(&format!("          {}\n", line.trim_end()));
    }
    s.push_str("          statistics:\n");
    for (path, alias) in stats {
        s.push_str(&format!(
            "            - name: '{path}'\n              alias: {alias}\n"
        ));
    }
    s
}

fn missing(m: &ServiceMetrics, alias: &str) -> MissingReason {
    m.missing
        .get(alias)
        .cloned()
        .unwrap_or_else(|| panic!("{alias} is not missing: {m:?}"))
}

#[tokio::test]
async fn status_errors_and_invalid_json_mark_only_their_aliases() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/500" => Reply::raw(500, "{\"error\": \"boom\"}"),
        "/404" => Reply::raw(404, "not here"),
        "/html" => Reply::raw(200, "<html>not json</html>"),
        _ => Reply::json(json!({"ok": 1})),
    })
    .await;
    let services = [
        service("a", &server.url("/500"), "", &[("x", "x")]),
        service("b", &server.url("/404"), "", &[("x", "x"), ("y", "y")]),
        service("c", &server.url("/html"), "", &[("x", "x")]),
        service("d", &server.url("/ok"), "", &[("ok", "ok")]),
    ]
    .concat();
    let report = collect(&services, &[], Duration::from_secs(10)).await;
    let s = &report.services;
    assert_eq!(
        missing(&s["a"], "x"),
        MissingReason::HttpStatus { status: 500 }
    );
    assert_eq!(
        missing(&s["b"], "x"),
        MissingReason::HttpStatus { status: 404 }
    );
    assert_eq!(
        missing(&s["b"], "y"),
        MissingReason::HttpStatus { status: 404 }
    );
    assert!(
        matches!(missing(&s["c"], "x"), MissingReason::InvalidJson { ref error } if error.contains("line 1")),
        "{:?}",
        s["c"]
    );
    assert_eq!(s["d"].values["ok"], 1.0);
}

#[tokio::test]
async fn wrong_types_deep_paths_and_array_indices() {
    let server = TestServer::start(|_| {
        Reply::json(json!({
            "messages_ready": "12",
            "message_stats": {"publish_details": {"rate": 3.25}},
            "items": [{"messages_ready": 4}, {"messages_ready": 9, "name": "b"}],
            "labels": {"app.kubernetes.io/name": {"replicas": 2}},
            "flag": true, "nothing": null, "obj": {"a": 1}, "list": [1, 2], "word": "lots",
            "code": "__import__('os').system('touch /tmp/pwned')",
        }))
    })
    .await;
    let stats = [
        ("messages_ready", "numeric_string"),
        ("message_stats.publish_details.rate", "deep"),
        ("items.1.messages_ready", "second"),
        ("items.0.messages_ready", "first"),
        ("labels.app\\.kubernetes\\.io/name.replicas", "dotted"),
        ("items.5.messages_ready", "out_of_range"),
        ("message_stats.nope.rate", "absent"),
        ("flag", "boolean"),
        ("nothing", "null_value"),
        ("obj", "object"),
        ("list", "array"),
        ("word", "text"),
        ("code", "injection"),
    ];
    let report = collect(
        &service("w", &server.url("/q"), "", &stats),
        &[],
        Duration::from_secs(10),
    )
    .await;
    let w = &report.services["w"];
    assert_eq!(w.values["numeric_string"], 12.0);
    assert_eq!(w.values["deep"], 3.25);
    assert_eq!(w.values["second"], 9.0);
    assert_eq!(w.values["first"], 4.0);
    assert_eq!(w.values["dotted"], 2.0);
    assert_eq!(
        missing(w, "out_of_range"),
        MissingReason::MissingField {
            path: "items.5".into()
        }
    );
    assert_eq!(
        missing(w, "absent"),
        MissingReason::MissingField {
            path: "message_stats.nope".into()
        }
    );
    for alias in [
        "boolean",
        "null_value",
        "object",
        "array",
        "text",
        "injection",
    ] {
        assert!(
            matches!(missing(w, alias), MissingReason::NotANumber { .. }),
            "{alias}: {w:?}"
        );
    }
    assert!(
        !std::path::Path::new("/tmp/pwned").exists(),
        "nothing from a payload is evaluated"
    );
    assert_eq!(
        server.count("/q"),
        1,
        "one request for every statistic of the source"
    );
}

#[tokio::test]
async fn post_sends_the_payload_as_json() {
    let server = TestServer::start(|req| {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or(json!(null));
        let ok = req.method == "POST"
            && req.header("content-type") == Some("application/json")
            && body == json!({"query": "sum(rate(jobs[5m]))", "limit": 3, "tags": ["a", "b"]});
        if ok {
            Reply::json(json!({"data": {"result": [{"value": "41.5"}]}}))
        } else {
            Reply::raw(400, "{}")
        }
    })
    .await;
    let extra = "method: POST\npayload:\n  query: sum(rate(jobs[5m]))\n  limit: 3\n  tags: [a, b]";
    let svc = service(
        "p",
        &server.url("/query"),
        extra,
        &[("data.result.0.value", "jobs")],
    );
    let report = collect(&svc, &[], Duration::from_secs(10)).await;
    assert_eq!(
        report.services["p"].values.get("jobs"),
        Some(&41.5),
        "{:?}",
        report.services["p"]
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
}

#[tokio::test]
async fn headers_carry_substituted_secrets() {
    let server = TestServer::start(|req| {
        if req.header("authorization") == Some("Bearer s3cr3t-token")
            && req.header("x-api-key") == Some("k-123")
        {
            Reply::json(json!({"depth": 5}))
        } else {
            Reply::raw(401, "{}")
        }
    })
    .await;
    let extra = "headers:\n  Authorization: Bearer %(API_TOKEN)\n  X-Api-Key: \"%(API_KEY)\"";
    let svc = service("h", &server.url("/depth"), extra, &[("depth", "depth")]);
    let vars = [("API_TOKEN", "s3cr3t-token"), ("API_KEY", "k-123")];
    let (logs, _guard) = support::logs::capture();
    let report = collect(&svc, &vars, Duration::from_secs(10)).await;
    assert_eq!(
        report.services["h"].values.get("depth"),
        Some(&5.0),
        "{:?}",
        report.services["h"]
    );
    let text = logs.text();
    assert!(
        !text.contains("s3cr3t-token") && !text.contains("k-123"),
        "{text}"
    );
}

#[tokio::test]
async fn one_request_per_distinct_source() {
    let server = TestServer::start(|_| Reply::json(json!({"a": 1, "b": 2}))).await;
    let shared_url = server.url("/shared");
    let services = [
        service("s1", &shared_url, "", &[("a", "a")]),
        service("s2", &shared_url, "", &[("a", "a"), ("b", "b")]),
        service("s3", &shared_url, "timeout: 2", &[("b", "bee")]),
        service("s4", &server.url("/other"), "", &[("a", "a")]),
        service(
            "s5",
            &shared_url,
            "method: POST\npayload: {x: 1}",
            &[("a", "a")],
        ),
    ]
    .concat();
    let text = format!("{HEAD}services:\n{services}");
    let one = defs::cluster("one", &text, &[]);
    let two = defs::cluster("two", &text, &[]);
    let sources = defs::sources(defs::unused_cloudwatch());
    let reports = cycle::collect(
        &[&one, &two],
        &defs::cycle(Duration::from_secs(10)),
        &sources,
    )
    .await;
    assert_eq!(reports.len(), 2);
    for report in &reports {
        assert_eq!(report.services["s2"].values["b"], 2.0);
        assert_eq!(report.services["s3"].values["bee"], 2.0);
        assert_eq!(report.services["s5"].values["a"], 1.0);
    }
    let gets = server
        .requests()
        .iter()
        .filter(|r| r.path == "/shared" && r.method == "GET")
        .count();
    assert_eq!(
        gets, 1,
        "GET /shared is read by 8 aliases in 2 clusters: one request"
    );
    assert_eq!(server.count("/other"), 1);
    assert_eq!(
        server.count("/shared"),
        2,
        "the POST with a payload is a source of its own"
    );
}

#[tokio::test]
async fn a_slow_source_times_out_without_delaying_the_others() {
    let slow =
        TestServer::start(|_| Reply::json(json!({"v": 1})).after(Duration::from_secs(10))).await;
    let fast = TestServer::start(|_| Reply::json(json!({"v": 2}))).await;
    let services = [
        service("slow", &slow.url("/"), "timeout: 1", &[("v", "v")]),
        service("fast1", &fast.url("/1"), "", &[("v", "v")]),
        service("fast2", &fast.url("/2"), "", &[("v", "v")]),
    ]
    .concat();
    let started = Instant::now();
    let report = collect(&services, &[], Duration::from_secs(20)).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(missing(&report.services["slow"], "v"), MissingReason::Timeout { after_secs } if (0.9..2.0).contains(&after_secs)),
        "{:?}",
        report.services["slow"]
    );
    assert_eq!(report.services["fast1"].values["v"], 2.0);
    assert_eq!(report.services["fast2"].values["v"], 2.0);
    // The slow source answers after 10 s: anything well under that shows nothing waited for
    // it (a wide margin, so a loaded machine does not fail the test).
    assert!(
        elapsed < Duration::from_secs(8),
        "the cycle waited for the slow source: {elapsed:?}"
    );
}

#[tokio::test]
async fn the_cycle_deadline_cuts_pending_requests() {
    let slow =
        TestServer::start(|_| Reply::json(json!({"v": 1})).after(Duration::from_secs(10))).await;
    let services = [
        service("late1", &slow.url("/1"), "", &[("v", "v")]),
        service("late2", &slow.url("/2"), "", &[("v", "v")]),
    ]
    .concat();
    let started = Instant::now();
    let report = collect(&services, &[], Duration::from_millis(800)).await;
    // The server answers after 10 s; the 800 ms deadline must cut well before that.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    for svc in ["late1", "late2"] {
        assert!(
            matches!(
                missing(&report.services[svc], "v"),
                MissingReason::Timeout { .. }
            ),
            "{:?}",
            report.services[svc]
        );
    }
}

#[tokio::test]
async fn one_broken_source_and_two_healthy_ones() {
    let healthy = TestServer::start(|req| match req.path.as_str() {
        "/queue" => Reply::json(json!({"messages_ready": 30})),
        _ => Reply::json(json!({"items": [{"busy": "0.75"}]})),
    })
    .await;
    let broken = TestServer::start(|_| Reply::raw(503, "unavailable")).await;
    let svc = format!(
        "  worker:\n    enabled: true\n    min: 1\n    max: 3\n    events: []\n    metric_sources:\n      third_party:\n\
        \x20       - url: \"{}\"\n          statistics:\n            - name: messages_ready\n              alias: queue_length\n\
        \x20       - url: \"{}\"\n          statistics:\n            - name: down\n              alias: broken_metric\n            - name: also_down\n              alias: broken_with_default\n              default: 0\n\
        \x20       - url: \"{}\"\n          statistics:\n            - name: items.0.busy\n              alias: busy\n",
        healthy.url("/queue"),
        broken.url("/metrics"),
        healthy.url("/busy"),
    );
    let report = collect(&svc, &[], Duration::from_secs(10)).await;
    let w = &report.services["worker"];
    assert_eq!(w.values["queue_length"], 30.0);
    assert_eq!(w.values["busy"], 0.75);
    assert_eq!(
        missing(w, "broken_metric"),
        MissingReason::HttpStatus { status: 503 }
    );
    assert_eq!(
        w.values["broken_with_default"], 0.0,
        "the default stands in"
    );
    assert_eq!(
        w.defaulted["broken_with_default"],
        MissingReason::HttpStatus { status: 503 }
    );
}

#[tokio::test]
async fn credentials_are_sent_as_basic_auth_and_never_logged_or_reported() {
    let server = TestServer::start(
        |req| match (req.path.as_str(), req.header("authorization")) {
            // base64("monitor:hunter2")
            ("/api/queues/%2F/celery", Some("Basic bW9uaXRvcjpodW50ZXIy")) => {
                Reply::json(json!({"messages_ready": 3}))
            }
            ("/api/queues/%2F/celery", _) => Reply::raw(401, "{}"),
            _ => Reply::raw(404, "{}"),
        },
    )
    .await;
    // A closed port: the connection error must not quote the URL either.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
        l.local_addr().expect("addr").port()
    };
    let port = server.port();
    let services = [
        service(
            "ok",
            &format!("http://%(RMQ_USER):%(RMQ_PASS)@127.0.0.1:{port}/api/queues/%2F/celery"),
            "",
            &[("messages_ready", "q")],
        ),
        service(
            "gone",
            &format!("http://%(RMQ_USER):%(RMQ_PASS)@127.0.0.1:{port}/missing"),
            "",
            &[("x", "x")],
        ),
        service(
            "refused",
            &format!("http://%(RMQ_USER):%(RMQ_PASS)@127.0.0.1:{closed}/x"),
            "",
            &[("x", "x")],
        ),
    ]
    .concat();
    let vars = [("RMQ_USER", "monitor"), ("RMQ_PASS", "hunter2")];
    let (logs, _guard) = support::logs::capture();
    let report = collect(&services, &vars, Duration::from_secs(10)).await;
    assert_eq!(
        report.services["ok"].values.get("q"),
        Some(&3.0),
        "{:?}",
        report.services["ok"]
    );
    assert_eq!(
        missing(&report.services["gone"], "x"),
        MissingReason::HttpStatus { status: 404 }
    );
    assert!(
        matches!(
            missing(&report.services["refused"], "x"),
            MissingReason::Request { .. }
        ),
        "{:?}",
        report.services["refused"]
    );
    let text = logs.text();
    assert!(
        text.contains("HTTP source failed"),
        "the failures are logged:\n{text}"
    );
    assert!(
        text.contains("***@127.0.0.1"),
        "URLs are logged redacted:\n{text}"
    );
    assert!(
        !text.contains("hunter2"),
        "the password leaked into the logs:\n{text}"
    );
    assert!(
        !text.contains("monitor:"),
        "the user leaked into the logs:\n{text}"
    );
    let json = serde_json::to_string(&report).expect("report JSON");
    assert!(
        !json.contains("hunter2") && !json.contains("monitor"),
        "{json}"
    );
}

/// Standard base64, for the `Authorization: Basic` header the server expects.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn passwords_with_reserved_or_non_ascii_characters_are_sent_and_never_logged_or_reported() {
    // (the password as written in the URL, as the server receives it). The reserved
    // characters `/ ? #` must be percent-encoded (the loader says so); `@ : %` and non-ASCII
    // characters may be written as they are.
    let passwords = [
        ("pa%2Fss", "pa/ss"),
        ("p%3Fw", "p?w"),
        ("p%23w", "p#w"),
        ("p@ss", "p@ss"),
        ("pa:ss", "pa:ss"),
        ("100%off", "100%off"),
        ("pässwörd€", "pässwörd€"),
        ("pa ss", "pa ss"),
        ("pa%20ss", "pa ss"),
    ];
    let accepted: Vec<String> = passwords
        .iter()
        .map(|(_, sent)| format!("Basic {}", base64(format!("monitor:{sent}").as_bytes())))
        .collect();
    let server = TestServer::start(move |req| {
        let known = req
            .header("authorization")
            .is_some_and(|h| accepted.iter().any(|a| a == h));
        match (req.path.as_str(), known) {
            ("/api/queues/%2F/celery?api_key=K3Y", true) => {
                Reply::json(json!({"messages_ready": 3}))
            }
            ("/api/queues/%2F/celery?api_key=K3Y", false) => Reply::raw(401, "{}"),
            _ => Reply::raw(404, "{}"),
        }
    })
    .await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
        l.local_addr().expect("addr").port()
    };
    let port = server.port();
    let mut services = String::new();
    let mut vars = Vec::new();
    let names: Vec<String> = (0..passwords.len()).map(|i| format!("PASS_{i}")).collect();
    for (i, (written, _)) in passwords.iter().enumerate() {
        let var = &names[i];
        let url = |port: u16, path: &str| {
            format!("http://monitor:%({var})@127.0.0.1:{port}{path}?api_key=K3Y")
        };
        services.push_str(&service(
            &format!("ok{i}"),
            &url(port, "/api/queues/%2F/celery"),
            "",
            &[("messages_ready", "q")],
        ));
        services.push_str(&service(
            &format!("gone{i}"),
            &url(port, "/missing"),
            "",
            &[("x", "x")],
        ));
        services.push_str(&service(
            &format!("refused{i}"),
            &url(closed, "/x"),
            "",
            &[("x", "x")],
        ));
        vars.push((var.as_str(), *written));
    }
    let (logs, _guard) = support::logs::capture();
    let report = collect(&services, &vars, Duration::from_secs(10)).await;
    let text = logs.text();
    let json = serde_json::to_string(&report).expect("report JSON");
    for (i, (written, sent)) in passwords.iter().enumerate() {
        assert_eq!(
            report.services[&format!("ok{i}")].values.get("q"),
            Some(&3.0),
            "`{written}` is sent as `{sent}`: {:?}",
            report.services[&format!("ok{i}")]
        );
        assert_eq!(
            missing(&report.services[&format!("gone{i}")], "x"),
            MissingReason::HttpStatus { status: 404 }
        );
        assert!(matches!(
            missing(&report.services[&format!("refused{i}")], "x"),
            MissingReason::Request { .. }
        ));
        for secret in [*written, *sent] {
            assert!(!text.contains(secret), "`{secret}` in the logs:\n{text}");
            assert!(!json.contains(secret), "`{secret}` in the report: {json}");
        }
    }
    for secret in ["monitor", "K3Y"] {
        assert!(!text.contains(secret), "`{secret}` in the logs:\n{text}");
        assert!(!json.contains(secret), "`{secret}` in the report: {json}");
    }
    assert!(
        text.contains("HTTP source answered") && text.contains("HTTP source failed"),
        "{text}"
    );
    assert!(
        text.contains(&format!("***@127.0.0.1:{port}/api/queues/%2F/celery?***")),
        "URLs are logged redacted:\n{text}"
    );
}

#[tokio::test]
async fn concurrency_is_bounded_and_waiting_requests_are_not_collected_at_the_deadline() {
    use collector::sources::http::{HttpCollector, HttpConfig};
    let server =
        TestServer::start(|_| Reply::json(json!({"v": 1})).after(Duration::from_millis(600))).await;
    let services: String = (0..4)
        .map(|i| {
            service(
                &format!("s{i}"),
                &server.url(&format!("/{i}")),
                "",
                &[("v", "v")],
            )
        })
        .collect();
    let def = defs::cluster("web", &format!("{HEAD}services:\n{services}"), &[]);
    let mut sources = defs::sources(defs::unused_cloudwatch());
    sources.http = HttpCollector::new(HttpConfig {
        concurrency: 1,
        ..HttpConfig::default()
    })
    .expect("client");
    let reports =
        cycle::collect(&[&def], &defs::cycle(Duration::from_millis(1500)), &sources).await;
    let (mut values, mut timeouts, mut not_collected) = (0, 0, 0);
    for svc in reports[0].services.values() {
        match (svc.values.get("v"), svc.missing.get("v")) {
            (Some(_), _) => values += 1,
            (_, Some(MissingReason::Timeout { .. })) => timeouts += 1,
            (_, Some(MissingReason::NotCollected)) => not_collected += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // One at a time, 600 ms each, 1.5 s budget: two answered, one cut, one never started.
    assert_eq!((values, timeouts, not_collected), (2, 1, 1));
}

#[tokio::test]
async fn redirects_are_followed_up_to_a_limit() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/moved" => Reply::redirect("/here"),
        "/here" => Reply::json(json!({"v": 6})),
        _ => Reply::redirect("/loop"),
    })
    .await;
    let services = [
        service("moved", &server.url("/moved"), "", &[("v", "v")]),
        service("looping", &server.url("/loop"), "", &[("v", "v")]),
    ]
    .concat();
    let report = collect(&services, &[], Duration::from_secs(10)).await;
    assert_eq!(report.services["moved"].values.get("v"), Some(&6.0));
    let reason = missing(&report.services["looping"], "v");
    assert!(
        matches!(&reason, MissingReason::Request { error } if error.contains("redirect") && !error.contains("127.0.0.1")),
        "{reason:?}"
    );
    // The first request and 5 redirects.
    assert_eq!(server.count("/loop"), 6);
}

#[tokio::test]
async fn fifty_sources_on_one_host_with_a_small_backlog_all_get_their_value() {
    use support::backlog_server::BacklogServer;
    // 16 handlers, a backlog of 5, 250 ms per answer; the collector's default limits.
    let server = BacklogServer::start(16, Duration::from_millis(250));
    let services: String = (0..50)
        .map(|i| {
            service(
                &format!("s{i}"),
                &server.url(i),
                "timeout: 3",
                &[("value", "v")],
            )
        })
        .collect();
    let started = Instant::now();
    let report = collect(&services, &[], Duration::from_secs(20)).await;
    let lost: Vec<String> = (0..50)
        .filter_map(|i| {
            let m = &report.services[&format!("s{i}")];
            (m.values.get("v") != Some(&(i as f64))).then(|| format!("s{i}: {m:?}"))
        })
        .collect();
    assert!(
        lost.is_empty(),
        "{} of 50 sources lost their value ({} connections accepted, at most {} open):\n{}",
        lost.len(),
        server.accepted(),
        server.most_open(),
        lost.join("\n")
    );
    assert_eq!(server.answered(), 50);
    // At most 8 at once to the host, over connections that are reused.
    assert!(
        server.most_open() <= 16 && server.accepted() < 50,
        "{} connections accepted, at most {} open",
        server.accepted(),
        server.most_open()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// A 307 or 308 to `location`.
fn redirect_keeping_the_method(status: u16, location: &str) -> Reply {
    let mut reply = Reply::raw(status, "");
    reply.headers.push(("Location".into(), location.to_owned()));
    reply
}

#[tokio::test]
async fn redirects_to_another_origin_are_refused_unless_allowed_and_never_carry_secrets() {
    let other = TestServer::start(|_| Reply::json(json!({"v": 4}))).await;
    let target = other.url("/data");
    let first = TestServer::start(move |_| Reply::redirect(&target)).await;
    // Another port of the same host is another origin.
    let url = first
        .url("/go")
        .replacen("http://", "http://monitor:pw@", 1);
    let headers = "headers:\n  X-Api-Key: s3cret";
    let services = [
        service("refused", &url, headers, &[("v", "v")]),
        service(
            "allowed",
            &url,
            &format!("{headers}\nallow_cross_origin_redirects: true"),
            &[("v", "v")],
        ),
    ]
    .concat();
    let report = collect(&services, &[], Duration::from_secs(10)).await;
    let reason = missing(&report.services["refused"], "v");
    assert!(
        matches!(&reason, MissingReason::Request { error }
            if error.contains("another origin") && error.contains("allow_cross_origin_redirects")),
        "{reason:?}"
    );
    assert_eq!(report.services["allowed"].values.get("v"), Some(&4.0));
    // Only the allowed source's request reached the other origin, without headers or credentials.
    let reached = other.requests();
    assert_eq!(reached.len(), 1, "{reached:?}");
    assert_eq!(reached[0].header("x-api-key"), None, "{reached:?}");
    assert_eq!(reached[0].header("authorization"), None, "{reached:?}");
    // The first origin had both.
    for request in first.requests() {
        assert_eq!(request.header("x-api-key"), Some("s3cret"));
        assert!(request.header("authorization").is_some());
    }
}

#[tokio::test]
async fn a_post_is_sent_again_only_to_its_own_path_unless_allowed() {
    let server = TestServer::start(|req| match (req.method.as_str(), req.path.as_str()) {
        (_, "/moved-307") => redirect_keeping_the_method(307, "/elsewhere"),
        (_, "/moved-308") => redirect_keeping_the_method(308, "/elsewhere"),
        (_, "/see-other") => {
            let mut reply = Reply::raw(303, "");
            reply.headers.push(("Location".into(), "/elsewhere".into()));
            reply
        }
        (_, "/retry") => redirect_keeping_the_method(307, "/retry?again=1"),
        ("POST", "/retry?again=1") => Reply::json(json!({"v": 2})),
        ("POST", "/elsewhere") => Reply::json(json!({"v": 1})),
        ("GET", "/elsewhere") => Reply::json(json!({"v": 3})),
        _ => Reply::raw(404, ""),
    })
    .await;
    let post = "method: POST\npayload: {q: 1}";
    let allow = "\nallow_post_redirects: true";
    let services = [
        service("refused307", &server.url("/moved-307"), post, &[("v", "v")]),
        service("refused308", &server.url("/moved-308"), post, &[("v", "v")]),
        service(
            "allowed",
            &server.url("/moved-307"),
            &format!("{post}{allow}"),
            &[("v", "v")],
        ),
        service("same_path", &server.url("/retry"), post, &[("v", "v")]),
        service("see_other", &server.url("/see-other"), post, &[("v", "v")]),
    ]
    .concat();
    let report = collect(&services, &[], Duration::from_secs(10)).await;
    let s = &report.services;
    for name in ["refused307", "refused308"] {
        let reason = missing(&s[name], "v");
        assert!(
            matches!(&reason, MissingReason::Request { error } if error.contains("allow_post_redirects")),
            "{name}: {reason:?}"
        );
    }
    assert_eq!(s["allowed"].values.get("v"), Some(&1.0));
    assert_eq!(s["same_path"].values.get("v"), Some(&2.0));
    assert_eq!(s["see_other"].values.get("v"), Some(&3.0), "303: a GET");
    let posted: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/elsewhere" && r.method == "POST")
        .collect();
    assert_eq!(posted.len(), 1, "only the allowed source posts there again");
    assert_eq!(posted[0].body_text(), r#"{"q":1}"#);
}

#[tokio::test]
async fn metadata_addresses_are_refused_in_urls_and_redirects() {
    let server =
        TestServer::start(|_| Reply::redirect("http://169.254.169.254/latest/meta-data/")).await;
    let services = [
        service(
            "direct",
            "http://169.254.169.254/latest/meta-data/",
            "",
            &[("v", "v")],
        ),
        service("ipv6", "http://[fd00:ec2::254]/latest", "", &[("v", "v")]),
        service(
            "redirected",
            &server.url("/go"),
            "allow_cross_origin_redirects: true",
            &[("v", "v")],
        ),
    ]
    .concat();
    let started = Instant::now();
    let report = collect(&services, &[], Duration::from_secs(10)).await;
    for name in ["direct", "ipv6", "redirected"] {
        let reason = missing(&report.services[name], "v");
        assert!(
            matches!(&reason, MissingReason::Request { error }
                if error.contains("link-local or instance metadata address") && error.contains("allow_link_local")),
            "{name}: {reason:?}"
        );
    }
    // Refused before anything is sent: no connection attempt to wait for.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_connection_reset_is_recorded_as_reset_not_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let server = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            // SO_LINGER 0: closing sends a TCP reset instead of a FIN.
            stream.set_zero_linger().expect("SO_LINGER");
            drop(stream);
        }
    });
    let url = format!("http://127.0.0.1:{port}/q");
    let report = collect(
        &service("w", &url, "timeout: 5", &[("v", "v")]),
        &[],
        Duration::from_secs(10),
    )
    .await;
    server.abort();
    assert_eq!(missing(&report.services["w"], "v"), MissingReason::Reset);
}

/// A JSON answer nested 100,000 levels deep is `invalid_json` at serde_json's depth limit
/// (128), never a stack overflow; the file side has its own limit (`yaml::MAX_DEPTH`).
#[tokio::test]
async fn a_deeply_nested_answer_is_invalid_json_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let server = TestServer::start(move |_| Reply::raw(200, &deep)).await;
    let report = collect(
        &service("w", &server.url("/q"), "", &[("v", "v")]),
        &[],
        Duration::from_secs(10),
    )
    .await;
    let reason = missing(&report.services["w"], "v");
    assert!(
        matches!(&reason, MissingReason::InvalidJson { error } if error.contains("recursion limit")),
        "{reason:?}"
    );
}
