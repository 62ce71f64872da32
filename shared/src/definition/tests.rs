//! Loader tests: the original example, every validation error with its position,
//! the extensions and `%(VAR)` substitution.

use std::path::Path;
use std::time::Duration;

use super::*;

const EXAMPLE: &str = include_str!("../../../clusters/my_cluster.yml");

fn env(name: &str) -> Option<String> {
    match name {
        "RABBIT_USER" => Some("guest".into()),
        "RABBIT_PASS" => Some("s3cret".into()),
        "TOKEN" => Some("abc123".into()),
        "MIN_TASKS" => Some("2".into()),
        _ => None,
    }
}

fn load(text: &str) -> Result<ClusterDefinition, FileErrors> {
    parse_definition("t", Path::new("t.yml"), text, &env)
}

/// Every error of a file, as displayed.
fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("expected errors, the file loaded:\n{text}"),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

fn one_error(text: &str) -> String {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    errs.into_iter().next().unwrap_or_default()
}

/// A minimal valid cluster with one service whose body is `service`.
fn with_service(service: &str) -> String {
    let body: String = service.lines().map(|l| format!("    {l}\n")).collect();
    format!("autoscale_group: g\nservices:\n  web:\n{body}")
}

const SOURCES: &str = "min: 1\nmax: 3\nmetric_sources:\n  cloudwatch:\n    - metric_name: CPUUtilization\n      statistics:\n        - name: Average\n          alias: cpu\n        - name: Maximum\n          alias: cpu_usage\n";

#[test]
fn the_original_example_loads_unchanged() {
    let def = parse_definition(
        "my_cluster",
        Path::new("clusters/my_cluster.yml"),
        EXAMPLE,
        &env,
    )
    .expect("the README's example must load");
    assert_eq!(def.name, "my_cluster");
    assert_eq!(
        def.autoscale_group,
        "EC2ContainerService-my_cluster-EcsInstanceAsg-AAAAA"
    );
    assert!(def.enabled);
    assert_eq!((def.cpu_buffer, def.mem_buffer), (0, 0));
    assert_eq!((def.min, def.max), (Some(1), Some(4)));
    assert!(!def.dry_run);
    assert_eq!(def.max_drain_per_cycle, None);
    assert_eq!(def.disruption, Disruption::default());
    let names: Vec<_> = def.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["worker", "backend"]);

    let worker = def.service("worker").unwrap();
    assert_eq!((worker.min, worker.max, worker.enabled), (1, 3, true));
    let src = &worker.metric_sources.third_party[0];
    assert_eq!(
        src.url,
        "https://username:password@my_rabbitmq_host.com/api/queues/celery"
    );
    assert_eq!(src.method, HttpMethod::Get);
    assert_eq!(src.payload, None);
    assert_eq!(src.timeout, Duration::from_secs(5));
    assert_eq!(src.statistics[0].name, "messages_ready");
    assert_eq!(src.statistics[0].alias, "queue_length");
    assert_eq!(worker.events.len(), 2);
    assert_eq!(worker.events[0].metric.source(), "queue_length");
    assert_eq!(
        (
            worker.events[0].action,
            worker.events[0].min,
            worker.events[0].max
        ),
        (1, Some(5.0), None)
    );
    assert_eq!(
        (
            worker.events[1].action,
            worker.events[1].min,
            worker.events[1].max
        ),
        (-1, None, Some(3.0))
    );
    assert_eq!(worker.scale_down_cooldown, Duration::from_secs(300));
    assert_eq!(worker.scale_up_cooldown, Duration::ZERO);

    let backend = def.service("backend").unwrap();
    let cw = &backend.metric_sources.cloudwatch[0];
    assert_eq!(
        (cw.namespace.as_str(), cw.metric_name.as_str(), cw.period),
        ("AWS/ECS", "CPUUtilization", 300)
    );
    assert_eq!(
        cw.dimensions,
        vec![
            Dimension {
                name: "ClusterName".into(),
                value: "my_cluster".into()
            },
            Dimension {
                name: "ServiceName".into(),
                value: "backend".into()
            },
        ]
    );
    assert_eq!(cw.statistics[0].alias, "cpu_usage");
}

#[test]
fn defaults_where_the_original_had_them() {
    let def = load("autoscale_group: g\n").unwrap();
    assert!(def.enabled);
    assert_eq!(
        (def.cpu_buffer, def.mem_buffer, def.min, def.max),
        (0, 0, None, None)
    );
    assert!(def.services.is_empty());
    let def = load(&with_service("min: 0\nmax: 1\nmetric_sources:\n  cloudwatch:\n    - metric_name: M\n      statistics: [{name: Sum, alias: s}]\n")).unwrap();
    let cw = &def.services[0].metric_sources.cloudwatch[0];
    assert_eq!((cw.namespace.as_str(), cw.period), ("AWS/ECS", 300));
    assert!(cw.dimensions.is_empty());
}

#[test]
fn every_extension_loads() {
    let text = r#"
autoscale_group: g
dry_run: true
max_drain_per_cycle: 3
max_tasks_per_instance: 3
drain_timeout: 600
registration_grace: 300
instance_capacity: {cpu: 2048, memory: 3928}
services:
  worker:
    min: 0
    max: 50
    scale_up_cooldown: 30
    scale_down_cooldown: 120
    metric_sources:
      third_party:
        - url: https://%(RABBIT_USER):%(RABBIT_PASS)@rabbit:15672/api/queues/%2F/celery
          method: post
          payload: {columns: [messages_ready], token: "%(TOKEN)", n: 3, on: true}
          headers:
            Authorization: Bearer %(TOKEN)
          timeout: 2.5
          statistics:
            - name: items.0.messages_ready
              alias: ready
              default: 0
            - name: labels.app\.name
              alias: app
    target_tracking:
      metric: ready
      target: 100
"#;
    let def = load(text).unwrap();
    assert!(def.dry_run);
    assert_eq!(def.max_drain_per_cycle, Some(3));
    assert_eq!(def.max_tasks_per_instance, Some(3));
    assert_eq!(def.drain_timeout, Duration::from_secs(600));
    assert_eq!(def.registration_grace, Duration::from_secs(300));
    assert_eq!(
        def.instance_capacity,
        Some(crate::resources::Resources::new(2048, 3928))
    );
    let s = &def.services[0];
    assert_eq!(s.scale_up_cooldown, Duration::from_secs(30));
    assert_eq!(s.scale_down_cooldown, Duration::from_secs(120));
    let src = &s.metric_sources.third_party[0];
    assert_eq!(
        src.url,
        "https://guest:s3cret@rabbit:15672/api/queues/%2F/celery"
    );
    assert_eq!(src.method, HttpMethod::Post);
    assert_eq!(
        src.payload,
        Some(
            serde_json::json!({"columns": ["messages_ready"], "token": "abc123", "n": 3, "on": true})
        )
    );
    assert_eq!(
        src.headers,
        vec![("Authorization".to_string(), "Bearer abc123".to_string())]
    );
    assert_eq!(src.timeout, Duration::from_millis(2500));
    assert_eq!(src.statistics[0].default, Some(0.0));
    assert_eq!(
        src.statistics[0].path.as_ref().map(|p| p.segments().len()),
        Some(3)
    );
    assert_eq!(
        src.statistics[1].path.as_ref().map(|p| p.to_string()),
        Some("labels.app\\.name".into())
    );
    let tt = s.target_tracking.as_ref().unwrap();
    assert_eq!((tt.metric.source(), tt.target), ("ready", 100.0));
    // Secrets never show in debug output.
    let debug = format!("{src:?}");
    assert!(
        !debug.contains("s3cret") && !debug.contains("abc123"),
        "{debug}"
    );
}

#[test]
fn registration_grace_defaults_to_ten_minutes_and_is_checked_with_its_position() {
    let def = load("autoscale_group: g\n").unwrap();
    assert_eq!(def.registration_grace, Duration::from_secs(600));
    assert_eq!(
        one_error("autoscale_group: g\nregistration_grace: soon\n"),
        "t.yml:2:21: registration_grace: expected a number, found `soon`"
    );
    assert_eq!(
        one_error("autoscale_group: g\nregistration_grace: -5\n"),
        "t.yml:2:21: registration_grace: expected seconds between 0 and 604800, found `-5`"
    );
}

#[test]
fn yaml_1_1_booleans_of_the_original_are_accepted() {
    let def = load("autoscale_group: g\nenabled: no\ndry_run: yes\n").unwrap();
    assert!(!def.enabled);
    assert!(def.dry_run);
}

#[test]
fn quoted_variables_fill_numeric_fields() {
    let def = load(&with_service("min: \"%(MIN_TASKS)\"\nmax: 5\n")).unwrap();
    assert_eq!(def.services[0].min, 2);
}

#[test]
fn whole_token_aliases_cpu_and_cpu_usage_coexist() {
    let def = load(&with_service(&format!(
        "{SOURCES}events:\n  - metric: cpu_usage - cpu\n    action: 1\n    min: 1\n    max: null\n"
    )))
    .unwrap();
    let e = &def.services[0].events[0];
    let v = e.metric.eval(|a| match a {
        "cpu" => Some(10.0),
        "cpu_usage" => Some(15.0),
        _ => None,
    });
    assert_eq!(v.ok(), Some(5.0));
}

// ---- errors: text and position -------------------------------------------------

#[test]
fn unknown_keys_suggest_the_closest() {
    assert_eq!(
        one_error("autoscale_group: g\nservces: {}\n"),
        "t.yml:2:1: servces: unknown key `servces`; did you mean `services`?"
    );
    assert_eq!(
        one_error(&with_service("min: 1\nmax: 2\nevnts: []\n")),
        "t.yml:6:5: services.web.evnts: unknown key `evnts`; did you mean `events`?"
    );
    let e = one_error("autoscale_group: g\ncolour: blue\n");
    assert!(
        e.starts_with("t.yml:2:1: colour: unknown key `colour`; expected one of: autoscale_group,"),
        "{e}"
    );
}

#[test]
fn missing_required_keys() {
    assert_eq!(
        one_error("enabled: true\n"),
        "t.yml:1:1: autoscale_group: missing required key `autoscale_group`"
    );
    assert_eq!(
        one_error(&with_service("max: 2\n")),
        "t.yml:4:5: services.web.min: missing required key `min`"
    );
}

#[test]
fn wrong_types() {
    assert_eq!(
        one_error("autoscale_group: g\nenabled: maybe\n"),
        "t.yml:2:10: enabled: expected true or false, found `maybe`"
    );
    assert_eq!(
        one_error("autoscale_group: [a, b]\n"),
        "t.yml:1:18: autoscale_group: expected a value, found a list"
    );
    assert_eq!(
        one_error(&with_service("min: 1.5\nmax: 2\n")),
        "t.yml:4:10: services.web.min: expected a whole number, found `1.5`"
    );
    assert_eq!(
        one_error("autoscale_group: g\nservices: [web]\n"),
        "t.yml:2:11: services: expected a mapping of service names to definitions, found a list"
    );
}

#[test]
fn min_must_not_exceed_max() {
    assert_eq!(
        one_error(&with_service("min: 5\nmax: 2\n")),
        "t.yml:4:10: services.web.min: min (5) is greater than max (2)"
    );
    assert_eq!(
        one_error("autoscale_group: g\nmin: 3\nmax: 1\n"),
        "t.yml:2:6: min: min (3) is greater than max (1)"
    );
}

#[test]
fn buffers_must_not_be_negative() {
    assert_eq!(
        one_error("autoscale_group: g\ncpu_buffer: -256\n"),
        "t.yml:2:13: cpu_buffer: must not be negative, found -256"
    );
}

#[test]
fn method_must_be_get_or_post() {
    let e = one_error(&with_service(
        "min: 1\nmax: 2\nmetric_sources:\n  third_party:\n    - url: http://h/x\n      method: PUT\n      statistics: [{name: a, alias: a}]\n",
    ));
    assert_eq!(e, "t.yml:9:19: services.web.metric_sources.third_party[0].method: method must be GET or POST, found `PUT`");
}

#[test]
fn period_must_be_a_multiple_of_60_or_high_resolution() {
    let svc = |p: u32| {
        with_service(&format!(
            "min: 1\nmax: 2\nmetric_sources:\n  cloudwatch:\n    - metric_name: M\n      period: {p}\n      statistics: [{{name: Average, alias: a}}]\n"
        ))
    };
    for ok in [1, 5, 10, 30, 60, 300, 3600] {
        assert!(load(&svc(ok)).is_ok(), "period {ok}");
    }
    let e = one_error(&svc(90));
    assert_eq!(e, "t.yml:9:19: services.web.metric_sources.cloudwatch[0].period: period must be a positive multiple of 60 seconds (or 1, 5, 10 or 30 for high-resolution metrics), found 90");
    assert!(load(&svc(0)).is_err());
}

#[test]
fn aliases_must_be_unique_per_service() {
    let e = one_error(&with_service(
        "min: 1\nmax: 2\nmetric_sources:\n  cloudwatch:\n    - metric_name: M\n      statistics:\n        - {name: Average, alias: a}\n        - {name: Sum, alias: a}\n",
    ));
    assert_eq!(e, "t.yml:11:34: services.web.metric_sources.cloudwatch[0].statistics[1].alias: alias `a` is defined twice in this service");
}

#[test]
fn aliases_must_be_names_and_not_functions() {
    let svc = |alias: &str| {
        with_service(&format!(
            "min: 1\nmax: 2\nmetric_sources:\n  cloudwatch:\n    - metric_name: M\n      statistics:\n        - {{name: Average, alias: \"{alias}\"}}\n"
        ))
    };
    assert!(one_error(&svc("queue-length")).contains("`queue-length` is not a valid alias"));
    assert!(
        one_error(&svc("max")).contains("`max` is a function name and cannot be a metric alias")
    );
}

#[test]
fn target_tracking_has_a_kind_and_a_tolerance() {
    let tracking = |body: &str| {
        let def = load(&with_service(&format!(
            "{SOURCES}target_tracking: {{{body}}}\n"
        )))
        .unwrap_or_else(|e| panic!("{body}: {e}"));
        def.services[0]
            .target_tracking
            .clone()
            .expect("target tracking")
    };
    let total = tracking("metric: cpu, target: 10");
    assert_eq!(
        total.kind,
        TrackingKind::Total,
        "total by default: today's files"
    );
    assert_eq!(
        tracking("metric: cpu, target: 10, kind: total").kind,
        TrackingKind::Total
    );
    assert_eq!(
        tracking("metric: cpu, target: 50, kind: average").kind,
        TrackingKind::Average {
            tolerance: DEFAULT_TRACKING_TOLERANCE
        }
    );
    assert_eq!(DEFAULT_TRACKING_TOLERANCE, 0.1);
    assert_eq!(
        tracking("metric: cpu, target: 50, kind: average, tolerance: 0").kind,
        TrackingKind::Average { tolerance: 0.0 }
    );
    assert_eq!(
        tracking("metric: cpu, target: 50, kind: average, tolerance: 0.25").kind,
        TrackingKind::Average { tolerance: 0.25 }
    );

    let error = |body: &str| {
        one_error(&with_service(&format!(
            "{SOURCES}target_tracking: {{{body}}}\n"
        )))
    };
    assert_eq!(
        error("metric: cpu, target: 50, kind: avg"),
        "t.yml:14:54: services.web.target_tracking.kind: unknown kind `avg`: expected `total` (⌈value ÷ target⌉, for totals such as a queue length) or `average` (⌈running × value ÷ target⌉, for per-task averages such as CPUUtilization)"
    );
    assert_eq!(
        error("metric: cpu, target: 50, kind: average, tolerance: -0.1"),
        "t.yml:14:74: services.web.target_tracking.tolerance: tolerance must be at least 0 and less than 1, found -0.1"
    );
    assert!(error("metric: cpu, target: 50, kind: average, tolerance: 1")
        .contains("services.web.target_tracking.tolerance: tolerance must be at least 0 and less than 1, found 1"));
    assert_eq!(
        error("metric: cpu, target: 10, tolerance: 0.2"),
        "t.yml:14:59: services.web.target_tracking.tolerance: `tolerance` applies to `kind: average` only (this target tracking is `total`)"
    );
    assert!(
        error("metric: cpu, target: 10, kind: 3").contains("services.web.target_tracking.kind:")
    );
}

#[test]
fn the_service_counts_are_reserved_names() {
    // Expressions read them without defining them ...
    let def = load(&with_service(&format!(
        "{SOURCES}events:\n  - {{metric: cpu / running_count, action: 1, min: 5}}\ntarget_tracking: {{metric: cpu_usage * desired_count, target: 10}}\n"
    )))
    .expect("desired_count and running_count need no source");
    assert_eq!(
        def.services[0].events[0].metric.state_names(),
        ["running_count"]
    );
    // ... and no source may define an alias of that name.
    let svc = |alias: &str| {
        with_service(&format!(
            "min: 1\nmax: 2\nmetric_sources:\n  cloudwatch:\n    - metric_name: M\n      statistics:\n        - {{name: Average, alias: {alias}}}\n"
        ))
    };
    assert_eq!(
        one_error(&svc("running_count")),
        "t.yml:10:38: services.web.metric_sources.cloudwatch[0].statistics[0].alias: `running_count` is reserved: expressions read it as the service's running task count, from ECS"
    );
    assert_eq!(
        one_error(&svc("desired_count")),
        "t.yml:10:38: services.web.metric_sources.cloudwatch[0].statistics[0].alias: `desired_count` is reserved: expressions read it as the service's desired task count, from ECS"
    );
}

#[test]
fn expressions_reference_only_the_service_aliases() {
    let e = one_error(&with_service(&format!(
        "{SOURCES}events:\n  - metric: cpu + cpu_usge\n    action: 1\n"
    )));
    assert_eq!(
        e,
        "t.yml:15:23: services.web.events[0].metric: unknown metric `cpu_usge`; did you mean `cpu_usage`?"
    );
    let e = one_error(&with_service(
        "min: 1\nmax: 2\nevents:\n  - metric: x\n    action: 1\n",
    ));
    assert_eq!(
        e,
        "t.yml:7:17: services.web.events[0].metric: unknown metric `x`; this service defines no aliases under `metric_sources`"
    );
}

#[test]
fn expression_syntax_errors_point_into_the_expression() {
    let e = one_error(&with_service(&format!(
        "{SOURCES}events:\n  - metric: cpu * (cpu_usage\n    action: 1\n"
    )));
    assert!(e.starts_with("t.yml:15:"), "{e}");
    assert!(
        e.contains("services.web.events[0].metric: invalid expression"),
        "{e}"
    );
    let e = one_error(&with_service(&format!(
        "{SOURCES}target_tracking:\n  metric: \"__import__('os')\"\n  target: 5\n"
    )));
    assert!(e.starts_with("t.yml:15:"), "{e}");
    assert!(
        e.contains("services.web.target_tracking.metric: invalid expression"),
        "{e}"
    );
}

#[test]
fn injected_python_is_rejected_at_load() {
    for evil in [
        "__import__('os').system('id')",
        "cpu.__class__",
        "lambda: 1",
        "open('/etc/passwd')",
        "[c for c in cpu]",
    ] {
        let text = with_service(&format!(
            "{SOURCES}events:\n  - metric: \"{evil}\"\n    action: 1\n"
        ));
        let e = one_error(&text);
        assert!(e.contains("invalid expression"), "{evil}: {e}");
    }
}

#[test]
fn missing_variables_are_named_with_their_field_and_position() {
    let e = one_error(&with_service(
        "min: 1\nmax: 2\nmetric_sources:\n  third_party:\n    - url: https://%(RABBIT_USER):%(NOPE)@h/api\n      statistics: [{name: a, alias: a}]\n",
    ));
    assert_eq!(
        e,
        "t.yml:8:39: services.web.metric_sources.third_party[0].url: environment variable `NOPE` is not set (referenced as `%(NOPE)`)"
    );
}

#[test]
fn unquoted_variable_values_get_a_hint() {
    let e = one_error(&with_service("min: %(MIN_TASKS)\nmax: 5\n"));
    assert!(e.starts_with("t.yml:4:"), "{e}");
    assert!(e.contains("invalid YAML"), "{e}");
    assert!(
        e.contains("hint: quote a value that starts with `%(`"),
        "{e}"
    );
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let e = one_error("autoscale_group: g\nservices:\n  web: {min: 1\n");
    assert!(e.starts_with("t.yml:"), "{e}");
    assert!(e.contains("invalid YAML"), "{e}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "autoscale_group: g\ncpu_buffer: -1\nservices:\n  web:\n    min: 3\n    max: 1\n    events:\n      - metric: nope\n        action: up\n";
    let errs = errors(text);
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(errs[0].starts_with("t.yml:2:13: cpu_buffer"));
    assert!(errs[1].starts_with("t.yml:5:10: services.web.min"));
    assert!(errs[2].starts_with("t.yml:8:17: services.web.events[0].metric: unknown metric `nope`"));
    assert!(errs[3].starts_with("t.yml:9:17: services.web.events[0].action: expected a number"));
}

#[test]
fn other_checks() {
    let http = |extra: &str| {
        with_service(&format!(
            "min: 1\nmax: 2\nmetric_sources:\n  third_party:\n    - url: http://h/x\n{extra}      statistics: [{{name: a, alias: a}}]\n"
        ))
    };
    assert!(one_error(&http("      timeout: 0\n")).contains("timeout must be more than 0"));
    assert!(one_error(&http("      headers: {\"bad header\": x}\n"))
        .contains("is not a valid HTTP header name"));
    let e = one_error(&with_service(
        "min: 1\nmax: 2\nmetric_sources:\n  third_party:\n    - url: ftp://user:pw@h/x\n      statistics: [{name: a, alias: a}]\n",
    ));
    assert!(
        e.contains("expected an http:// or https:// URL, found `ftp://***@h/x`"),
        "{e}"
    );
    let e = one_error(&with_service(
        "min: 1\nmax: 2\nmetric_sources:\n  cloudwatch:\n    - metric_name: M\n      statistics: [{name: Avg, alias: a}]\n",
    ));
    assert!(e.contains("unknown CloudWatch statistic `Avg`"), "{e}");
    for p in ["p99", "p99.9", "p50"] {
        let ok = with_service(&format!(
            "min: 1\nmax: 2\nmetric_sources:\n  cloudwatch:\n    - metric_name: M\n      statistics: [{{name: {p}, alias: a}}]\n"
        ));
        assert!(load(&ok).is_ok(), "{p}");
    }
    let e = one_error(&with_service(&format!(
        "{SOURCES}target_tracking: {{metric: cpu, target: 0}}\n"
    )));
    assert!(e.contains("target must be greater than 0"), "{e}");
    let e = one_error(&with_service(&format!(
        "{SOURCES}events:\n  - {{metric: cpu, action: 1, min: 5, max: 1}}\n"
    )));
    assert!(e.contains("this event can never match"), "{e}");
    let e = one_error("autoscale_group: g\nautoscale_group: h\n");
    assert_eq!(
        e,
        "t.yml:2:1: autoscale_group: duplicate key `autoscale_group`"
    );
    let e = one_error("autoscale_group: g\ninstance_capacity: {cpu: 0, memory: 100}\n");
    assert!(
        e.contains("instance_capacity.cpu: must be greater than 0"),
        "{e}"
    );
    let e = one_error(&with_service(
        "min: 1\nmax: 2\nmetric_sources:\n  third_party:\n    - url: http://h/x\n      statistics: [{name: a..b, alias: a}]\n",
    ));
    assert!(e.contains("invalid field path `a..b`"), "{e}");
}

#[test]
fn cluster_names_come_from_valid_file_stems() {
    let e = parse_definition(
        "my cluster",
        Path::new("my cluster.yml"),
        "autoscale_group: g\n",
        &env,
    )
    .unwrap_err();
    assert!(e.errors[0].message.contains("not a valid ECS cluster name"));
}

#[test]
fn empty_files_are_errors() {
    assert!(one_error("").contains("the file is empty"));
}

#[test]
fn a_directory_loads_the_good_files_and_reports_the_bad() {
    let dir = std::env::temp_dir().join(format!("ecs-autoscale-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("alpha.yml"), "autoscale_group: a\n").unwrap();
    std::fs::write(dir.join("beta.yaml"), "autoscale_group: [\n").unwrap();
    std::fs::write(dir.join("gamma.yml"), EXAMPLE).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a cluster").unwrap();
    std::fs::write(dir.join("alpha.yaml"), "autoscale_group: a2\n").unwrap();
    let report = load_dir(&dir, &env);
    let _ = std::fs::remove_dir_all(&dir);
    let names: Vec<_> = report.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["alpha", "gamma"]);
    assert_eq!(report.errors.len(), 2, "{:#?}", report.errors);
    assert!(report
        .errors
        .iter()
        .any(|f| f.cluster.as_deref() == Some("beta")));
    assert!(report.errors.iter().any(|f| f.errors[0]
        .message
        .contains("cluster `alpha` is already defined")));
}

#[test]
fn merge_keys_and_anchors_work_like_pyyaml() {
    let text = "autoscale_group: g\nservices:\n  a: &base\n    min: 1\n    max: 2\n  b:\n    <<: *base\n    max: 4\n";
    let def = load(text).unwrap();
    assert_eq!((def.services[1].min, def.services[1].max), (1, 4));
}

/// `--allow-unset-vars` (the layer build checks the files without the functions' variables):
/// every documented place a quoted `%(VAR)` may stand passes, its checks deferred; a value
/// that is wrong whatever the variable holds is still an error. On main the reference was
/// left as text and `min: "%(MIN_TASKS)"` failed as "not a number".
#[test]
fn unset_variables_pass_in_every_documented_place_when_allowed() {
    let text = r#"autoscale_group: "%(WORKERS_ASG)"
enabled: "%(ENABLED)"
min: "%(MIN_INSTANCES)"
max: "%(MAX_INSTANCES)"
instance_capacity: {cpu: "%(CPU)", memory: "%(MEMORY)"}
services:
  worker:
    min: "%(MIN_TASKS)"
    max: "%(MAX_TASKS)"
    metric_sources:
      third_party:
        - url: https://%(RABBITMQ_USER):%(RABBITMQ_PASS)@rabbitmq.example.com/api/queues/%2F/celery
          method: "%(METHOD)"
          headers: {Authorization: "Bearer %(TOKEN)"}
          timeout: "%(TIMEOUT)"
          statistics:
            - {name: messages_ready, alias: queue_length, default: 0}
    target_tracking: {metric: queue_length, target: "%(TARGET)"}
"#;
    let nothing = |_: &str| None;
    let lenient = Vars {
        lookup: &nothing,
        allow_unset: true,
    };
    let def = parse_definition_with("t", Path::new("t.yml"), text, lenient)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(def.services[0].name, "worker");
    // Strict, every reference is an error.
    let strict = parse_definition_with("t", Path::new("t.yml"), text, Vars::strict(&nothing))
        .expect_err("unset variables");
    assert!(strict.errors.len() >= 10, "{strict}");
    // Still refused: what no variable can fix.
    let broken = text.replace("max: \"%(MAX_TASKS)\"", "max: many");
    let e = parse_definition_with("t", Path::new("t.yml"), &broken, lenient)
        .expect_err("`many` is not a number");
    assert!(e.to_string().contains("services.worker.max"), "{e}");
}

/// The duplicate-service check and the alias lookups are linear: on main, 200,000 services
/// took over a minute (a function has 10 s to start). Four times the services take well
/// under eight times as long (a quadratic check takes sixteen).
#[test]
fn validation_time_is_linear_in_the_number_of_services() {
    let file = |n: usize| {
        let mut text = String::from("autoscale_group: g\nservices:\n");
        for i in 0..n {
            text.push_str(&format!("  s{i}: {{min: 0, max: 1}}\n"));
        }
        text
    };
    let time = |text: &str| {
        (0..3)
            .map(|_| {
                let started = std::time::Instant::now();
                let def = load(text).expect("valid");
                assert!(!def.services.is_empty());
                started.elapsed()
            })
            .min()
            .unwrap_or_default()
    };
    let (small, large) = (file(5_000), file(20_000));
    let (t_small, t_large) = (time(&small), time(&large));
    assert!(
        t_large < t_small * 8 + Duration::from_millis(50),
        "5,000 services: {t_small:?}; 20,000: {t_large:?}"
    );
}

/// The fuzz targets' nesting-depth seeds (`fuzz/seeds/`), run here too so that they keep
/// meaning what their names say: past the limit, an error at a position; at it, no depth error.
#[test]
fn the_fuzz_seeds_nest_as_their_names_say() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let read = |target: &str| {
        let mut files: Vec<_> = std::fs::read_dir(seeds.join(target))
            .expect("the seeds")
            .map(|e| e.expect("an entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{target}: no seeds");
        files
            .into_iter()
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).expect("UTF-8"))
            })
            .collect::<Vec<_>>()
    };
    let depth = "nest more than 64 levels deep";
    for (name, text) in read("loader") {
        let result = parse_definition("fuzz", Path::new("fuzz.yml"), &text, &env);
        let errors: Vec<String> = result
            .err()
            .map(|e| e.errors.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        if name.contains("past_the_limit") {
            assert!(
                errors
                    .iter()
                    .any(|e| e.contains(depth) && !e.starts_with("fuzz.yml: ")),
                "{name}: {errors:#?}"
            );
        } else {
            assert!(
                !errors.iter().any(|e| e.contains(depth)),
                "{name}: {errors:#?}"
            );
        }
    }
    for (name, text) in read("expr_parse") {
        let parsed = crate::expr::Expr::parse(&text);
        assert_eq!(
            parsed.is_err(),
            name.contains("past_the_limit"),
            "{name}: {parsed:?}"
        );
    }
}

#[test]
fn max_tasks_per_instance_is_at_least_one() {
    assert_eq!(
        one_error("autoscale_group: g\nmax_tasks_per_instance: 0\n"),
        "t.yml:2:25: max_tasks_per_instance: must be at least 1 (an instance has at least one ENI for tasks)"
    );
    assert!(
        one_error("autoscale_group: g\nmax_tasks_per_instance: -2\n")
            .contains("must not be negative")
    );
    let def = load("autoscale_group: g\n").expect("loads");
    assert_eq!(def.max_tasks_per_instance, None);
}
