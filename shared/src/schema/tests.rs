//! The message schemas against the messages: what the functions write validates, what readers
//! refuse the schemas refuse too, unknown fields pass both, and the EventBridge form is draft-04.

use serde_json::{json, Value};

use super::*;
use crate::messages::*;
use crate::resources::Resources;
use crate::state::Direction;
use crate::time::Timestamp;

fn at(secs: i64, micros: i32) -> Timestamp {
    Timestamp::new(secs, micros * 1_000).expect("in range")
}

fn instance(n: u32) -> InstanceRef {
    InstanceRef {
        container_instance_arn: format!(
            "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/{n}"
        ),
        ec2_instance_id: format!("i-{n:017x}"),
    }
}

/// A metrics report with a value, a default standing in, and missing aliases of every shape.
fn report() -> MetricsReport {
    let mut r = MetricsReport::new("prod", "cycle-1", at(1_764_412_051, 250));
    let worker = r.services.entry("worker".into()).or_default();
    worker.set_value("queue_length", 250.0);
    worker.set_missing("cpu", MissingReason::NoDatapoints, Some(0.0));
    worker.set_missing("rate", MissingReason::HttpStatus { status: 503 }, None);
    worker.set_missing("lag", MissingReason::Timeout { after_secs: 5.0 }, None);
    let web = r.services.entry("web".into()).or_default();
    web.set_missing(
        "p99",
        MissingReason::CloudWatch {
            error: "throttled".into(),
        },
        None,
    );
    web.set_missing("q", MissingReason::NotCollected, None);
    r
}

/// A plan with every kind of action and reasons of every shape of field (strings, numbers,
/// nested resources, lists, pairs, enums).
fn plan() -> ScalingPlan {
    let size = Resources::new(512, 1024);
    let big = Resources::new(2048, 7482);
    ScalingPlan {
        schema_version: SCHEMA_VERSION,
        plan_id: "9f2c".into(),
        delivery_id: "d41d".into(),
        cluster: "prod".into(),
        autoscale_group: "prod-asg".into(),
        created_at: at(1_764_412_051, 0),
        expires_at: at(1_764_412_171, 0),
        metrics_cycle_ids: vec!["cycle-1".into()],
        dry_run: false,
        has_actions: true,
        actions: PlanActions {
            group_limits: Some(GroupLimitsChange {
                from: GroupLimits { min: 1, max: 4 },
                to: GroupLimits { min: 2, max: 6 },
            }),
            reactivate: vec![instance(1)],
            group_desired: Some(CountChange { from: 2, to: 3 }),
            services: vec![ServiceChange {
                service: "worker".into(),
                from: 1,
                to: 3,
            }],
            drain: vec![DrainTarget {
                instance: instance(2),
                tasks: 2,
                task_sizes: vec![size, size],
                task_needs: vec![
                    crate::placement::Needs {
                        ports: vec![crate::state::HostPort::tcp(80)],
                        gpus: 1,
                        member_of: vec![crate::placement::MemberOf::parse(
                            "attribute:ecs.instance-type == g4dn.xlarge",
                        )
                        .expect("parses")],
                        eni: true,
                        not_understood: None,
                    },
                    crate::placement::Needs::default(),
                ],
            }],
            drain_eni_use: [(
                instance(1).container_instance_arn,
                crate::messages::EniUse {
                    awsvpc_tasks: 1,
                    tasks: 3,
                    limit: Some(2),
                },
            )]
            .into_iter()
            .collect(),
            terminate: vec![instance(3)],
            abort_drain: vec![instance(4)],
            force_drain: vec![ForceDrain {
                instance: instance(5),
                tasks: vec!["arn:aws:ecs:us-east-1:1:task/prod/0a1b".into()],
            }],
        },
        decisions: DecisionRecord {
            headlines: vec!["worker: scale out 1 → 3".into()],
            detail: DecisionDetail {
                cluster: vec![
                    Reason::GroupLimitsChanged {
                        from: GroupLimits { min: 1, max: 4 },
                        to: GroupLimits { min: 2, max: 6 },
                    },
                    Reason::GroupDesiredRaised {
                        from: 2,
                        to: 3,
                        launch: 1,
                    },
                ],
                services: vec![ServiceDecision {
                    service: "worker".into(),
                    from: Some(1),
                    to: Some(3),
                    metrics: vec![
                        MetricUsed {
                            alias: "queue_length".into(),
                            value: Some(250.0),
                            default_used: false,
                            missing: None,
                            observed_at: None,
                        },
                        MetricUsed {
                            alias: "rate".into(),
                            value: None,
                            default_used: false,
                            missing: Some(MissingReason::HttpStatus { status: 503 }),
                            observed_at: Some(at(1_764_411_900, 0)),
                        },
                    ],
                    rules: vec![
                        RuleOutcome {
                            rule: RuleKind::StepEvents,
                            recommends: Some(2),
                            reasons: vec![
                                Reason::StepEventSkippedAtBound {
                                    event: 0,
                                    metric: "queue_length".into(),
                                    value: 250.0,
                                    action: -1,
                                    bound: 1,
                                },
                                Reason::StepEventMatched {
                                    event: 1,
                                    metric: "queue_length".into(),
                                    value: 250.0,
                                    action: 1,
                                    desired: 2,
                                },
                            ],
                        },
                        RuleOutcome {
                            rule: RuleKind::TargetTracking,
                            recommends: None,
                            reasons: vec![Reason::NoStepEventMatched {
                                values: vec![("queue_length".into(), 250.0)],
                            }],
                        },
                    ],
                    reasons: vec![
                        Reason::ScaleOut { from: 1, to: 3 },
                        Reason::CooldownBlocked {
                            direction: Direction::Down,
                            wanted: 1,
                            remaining_secs: 30,
                        },
                    ],
                }],
                capacity: Some(CapacityDecision {
                    instance_size: Some(Resources::new(4096, 7482)),
                    cpu: DimensionSummary {
                        demand: 3072,
                        planned_capacity: 12288,
                        lower_bound_instances: 1,
                    },
                    memory: DimensionSummary::default(),
                    lower_bound_instances: 1,
                    planned_instances: 3,
                    active: 2,
                    draining: 1,
                    excluded: 1,
                    booting: 0,
                    tasks_to_place: 2,
                    new_instances: vec![Reason::NewInstance {
                        index: 0,
                        tasks: 2,
                        reserved: size,
                        services: vec!["worker".into()],
                    }],
                    unplaced: vec![Reason::TaskUnschedulable {
                        service: "batch".into(),
                        count: 1,
                        size: big,
                        instance_size: Resources::new(4096, 7482),
                    }],
                    instances: vec![
                        InstanceDecision {
                            instance: instance(1),
                            reason: Reason::Reactivate { tasks: 1 },
                        },
                        InstanceDecision {
                            instance: instance(2),
                            reason: Reason::DrainEmpty,
                        },
                        InstanceDecision {
                            instance: instance(6),
                            reason: Reason::DrainTasksFit {
                                tasks: 2,
                                onto: 1,
                                worth_it: Some(WorthIt {
                                    shrinks_to: Some(2),
                                    cpu_percent: 25,
                                    memory_percent: 27,
                                    threshold_percent: 50,
                                }),
                            },
                        },
                        InstanceDecision {
                            instance: instance(7),
                            reason: Reason::KeepTaskProtected {
                                tasks: vec!["arn:aws:ecs:us-east-1:1:task/prod/0c1d".into()],
                            },
                        },
                        InstanceDecision {
                            instance: instance(4),
                            reason: Reason::DrainTimeoutAbort {
                                secs: 1000,
                                timeout_secs: 900,
                                running: 1,
                                cooldown_secs: 3600,
                            },
                        },
                    ],
                    notes: vec![
                        Reason::ConsolidationWhileBooting { booting: 1 },
                        Reason::DisruptionBudget {
                            written: "50%".into(),
                            group: 6,
                            budget: 3,
                            draining: 1,
                            inside_windows: true,
                        },
                    ],
                }),
            },
        },
    }
}

fn execution() -> ExecutionReport {
    ExecutionReport {
        schema_version: SCHEMA_VERSION,
        plan_id: "9f2c".into(),
        delivery_id: "d41f".into(),
        dedup_key: String::new(),
        cluster: "prod".into(),
        finished_at: at(1_764_412_052, 125),
        outcome: Outcome::PartiallyApplied,
        actions: vec![
            ActionOutcome {
                kind: "service".into(),
                target: "worker".into(),
                detail: "desired count 1 → 3".into(),
                status: ActionStatus::Applied,
                error: None,
            },
            ActionOutcome {
                kind: "terminate".into(),
                target: "i-3".into(),
                detail: "not terminated".into(),
                status: ActionStatus::Failed,
                error: Some("throttled".into()),
            },
        ],
        reasons: vec![],
    }
    .with_dedup_key()
}

/// The three messages as the functions write them, with their schema.
fn messages() -> [(Document, Value); 3] {
    let json = |v: serde_json::Result<Value>| v.expect("serialises");
    [
        (
            Document::MetricsReport,
            json(serde_json::to_value(report())),
        ),
        (Document::ScalingPlan, json(serde_json::to_value(plan()))),
        (
            Document::PlanApplied,
            json(serde_json::to_value(execution())),
        ),
    ]
}

fn decodes(document: Document, text: &str) -> bool {
    match document {
        Document::MetricsReport => MetricsReport::from_json(text).is_ok(),
        Document::ScalingPlan => ScalingPlan::from_json(text).is_ok(),
        Document::PlanApplied => ExecutionReport::from_json(text).is_ok(),
        Document::Cluster => unreachable!("not a message"),
    }
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft7::new(schema).expect("a valid draft-07 schema")
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The message inside an event as EventBridge delivers it.
fn envelope(event: BusEvent, detail: &Value) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": event.detail_type,
        "source": event.source,
        "account": "123456789012",
        "time": "2025-11-29T10:27:31Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    })
}

#[test]
fn every_schema_is_valid_draft_07_and_every_event_schema_valid_draft_04() {
    for document in Document::ALL {
        let schema = document.json_schema();
        jsonschema::draft7::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("{}: {e}", document.name()));
        assert_eq!(
            schema["$schema"],
            "http://json-schema.org/draft-07/schema#",
            "{}",
            document.name()
        );
        match document.eventbridge_schema() {
            Some(event_schema) => {
                jsonschema::draft4::meta::validate(&event_schema)
                    .unwrap_or_else(|e| panic!("{} (EventBridge): {e}", document.name()));
                let text = to_compact_json(&event_schema);
                for later in ["\"const\"", "\"$defs\"", "\"exclusiveMinimum\":0"] {
                    assert!(!text.contains(later), "{}: {later}", document.name());
                }
            }
            None => assert_eq!(document, Document::Cluster),
        }
    }
}

#[test]
fn what_the_functions_write_validates_against_both_forms() {
    for (document, message) in messages() {
        let name = document.name();
        let found = errors(&validator(&document.json_schema()), &message);
        assert!(found.is_empty(), "{name}: {found:#?}");

        let event = document.bus_event().expect("a message");
        let schema = document.eventbridge_schema().expect("a message");
        let draft4 = jsonschema::draft4::new(&schema).expect("a valid draft-04 schema");
        let delivered = envelope(event, &message);
        let found: Vec<String> = draft4
            .iter_errors(&delivered)
            .map(|e| e.to_string())
            .collect();
        assert!(found.is_empty(), "{name} (EventBridge): {found:#?}");
        // The envelope is checked too: another detail-type is not this event.
        let mut other = delivered.clone();
        other["detail-type"] = json!("Something Else");
        assert!(!draft4.is_valid(&other), "{name}");
    }
}

#[test]
fn the_schemas_refuse_what_the_readers_refuse() {
    type Mutation = (&'static str, fn(&mut Value));
    let mutations: [Mutation; 4] = [
        ("another schema_version", |m| m["schema_version"] = json!(2)),
        ("a cluster that is not a string", |m| {
            m["cluster"] = json!(["prod"])
        }),
        ("a time that is not one", |m| {
            for key in ["collected_at", "created_at", "finished_at"] {
                if m.get(key).is_some() {
                    m[key] = json!(17);
                }
            }
        }),
        ("no cluster", |m| {
            m.as_object_mut().expect("an object").remove("cluster");
        }),
    ];
    for (document, message) in messages() {
        let validator = validator(&document.json_schema());
        assert!(decodes(document, &message.to_string()));
        for (what, mutate) in &mutations {
            let mut bad = message.clone();
            mutate(&mut bad);
            let name = document.name();
            assert!(!decodes(document, &bad.to_string()), "{name}: {what}: read");
            assert!(!validator.is_valid(&bad), "{name}: {what}: schema");
        }
    }
    // A negative count, deep inside a plan.
    let mut bad = plan_json();
    bad["actions"]["services"][0]["to"] = json!(-1);
    assert!(ScalingPlan::from_json(&bad.to_string()).is_err());
    assert!(!validator(&Document::ScalingPlan.json_schema()).is_valid(&bad));
    // A reason the planner does not give.
    let mut bad = plan_json();
    bad["decisions"]["detail"]["cluster"][0] = json!({"reason": "no_such_reason"});
    assert!(ScalingPlan::from_json(&bad.to_string()).is_err());
    assert!(!validator(&Document::ScalingPlan.json_schema()).is_valid(&bad));
}

fn plan_json() -> Value {
    serde_json::to_value(plan()).expect("serialises")
}

#[test]
fn readers_and_schemas_ignore_fields_they_do_not_know() {
    let extra = json!({"added_later": [1, {"x": true}]});
    let add = |v: &mut Value| {
        if let Some(o) = v.as_object_mut() {
            o.insert("added_later".into(), extra["added_later"].clone());
        }
    };
    // Unknown fields everywhere a later version might add one: the top, nested structs, a
    // tagged reason (with and without fields of its own), a missing-metric reason.
    let mut r = serde_json::to_value(report()).expect("serialises");
    add(&mut r);
    add(&mut r["services"]["worker"]);
    add(&mut r["services"]["worker"]["missing"]["rate"]);
    add(&mut r["services"]["web"]["missing"]["q"]);
    let mut p = plan_json();
    add(&mut p);
    add(&mut p["actions"]);
    add(&mut p["actions"]["services"][0]);
    add(&mut p["actions"]["drain"][0]);
    add(&mut p["decisions"]["detail"]["services"][0]);
    add(&mut p["decisions"]["detail"]["services"][0]["rules"][0]["reasons"][0]);
    add(&mut p["decisions"]["detail"]["capacity"]["instances"][1]["reason"]);
    add(&mut p["decisions"]["detail"]["capacity"]["cpu"]);
    let mut e = serde_json::to_value(execution()).expect("serialises");
    add(&mut e);
    add(&mut e["actions"][1]);

    assert_eq!(
        MetricsReport::from_json(&r.to_string()).expect("reads"),
        report()
    );
    assert_eq!(
        ScalingPlan::from_json(&p.to_string()).expect("reads"),
        plan()
    );
    assert_eq!(
        ExecutionReport::from_json(&e.to_string()).expect("reads"),
        execution()
    );
    for (document, message) in [
        (Document::MetricsReport, r),
        (Document::ScalingPlan, p),
        (Document::PlanApplied, e),
    ] {
        let found = errors(&validator(&document.json_schema()), &message);
        assert!(found.is_empty(), "{}: {found:#?}", document.name());
        let schema = document.eventbridge_schema().expect("a message");
        let event = envelope(document.bus_event().expect("a message"), &message);
        assert!(
            jsonschema::draft4::is_valid(&schema, &event),
            "{}",
            document.name()
        );
    }
}

#[test]
fn message_schemas_state_their_version_and_the_compatibility_rule() {
    for document in [
        Document::MetricsReport,
        Document::ScalingPlan,
        Document::PlanApplied,
    ] {
        let schema = document.json_schema();
        let name = document.name();
        assert_eq!(
            schema["properties"]["schema_version"]["const"],
            json!(SCHEMA_VERSION)
        );
        assert!(schema["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("schema_version"))));
        let description = schema["description"].as_str().unwrap_or_default();
        assert!(description.contains(COMPATIBILITY), "{name}");
        let event = document.bus_event().expect("a message");
        assert!(description.contains(event.detail_type), "{name}");
        let event_schema = document.eventbridge_schema().expect("a message");
        assert_eq!(event_schema["x-amazon-events-source"], event.source);
        assert_eq!(
            event_schema["x-amazon-events-detail-type"],
            event.detail_type
        );
        let detail = event_schema["properties"]["detail"]["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/definitions/"))
            .expect("detail is a reference");
        assert_eq!(
            event_schema["definitions"][detail]["properties"]["schema_version"]["enum"],
            json!([SCHEMA_VERSION]),
            "{name}"
        );
    }
}

#[test]
fn descriptions_are_plain_text_without_rustdoc_links_or_wrapped_lines() {
    fn check(value: &Value, at: &str) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    if let (true, Some(text)) = (key == "description", v.as_str()) {
                        assert!(!text.contains("[`"), "{at}: {text}");
                        assert!(!text.contains("crate::"), "{at}: {text}");
                        for paragraph in text.split("\n\n") {
                            assert!(!paragraph.contains('\n'), "{at}: {text:?}");
                        }
                    }
                    check(v, &format!("{at}/{key}"));
                }
            }
            Value::Array(items) => items.iter().for_each(|v| check(v, at)),
            _ => {}
        }
    }
    for document in Document::ALL {
        check(&document.json_schema(), document.name());
    }
    assert_eq!(
        plain_doc("When (RFC 3339, UTC: see [`crate::time`]).\nEvery [`Reason`] and\n[`super::SCHEMA_VERSION`].\n\nNext."),
        "When (RFC 3339, UTC). Every `Reason` and `SCHEMA_VERSION`.\n\nNext."
    );
}

#[test]
fn draft_04_conversion_rewrites_what_draft_04_lacks() {
    let schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "properties": {
            "v": { "const": 1 },
            "t": { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10 },
            "any": true,
            "none": false,
            "pair": { "items": [{ "const": "a" }, true] },
            "either": { "anyOf": [{ "const": "x" }, { "type": "null" }] },
            "open": { "additionalProperties": false }
        },
        "definitions": { "D": { "oneOf": [{ "const": "d" }] } }
    });
    assert_eq!(
        to_draft4(schema),
        json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "properties": {
                "v": { "enum": [1] },
                "t": { "type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 10, "exclusiveMaximum": true },
                "any": {},
                "none": { "not": {} },
                "pair": { "items": [{ "enum": ["a"] }, {}] },
                "either": { "anyOf": [{ "enum": ["x"] }, { "type": "null" }] },
                "open": { "additionalProperties": false }
            },
            "definitions": { "D": { "oneOf": [{ "enum": ["d"] }] } }
        })
    );
}

#[test]
fn output_is_sorted_whatever_order_the_keys_were_built_in() {
    let mut map = serde_json::Map::new();
    map.insert("b".into(), json!({"z": 1, "a": [{"y": 2, "x": 3}]}));
    map.insert("a".into(), json!(null));
    let value = Value::Object(map);
    assert_eq!(
        to_compact_json(&value),
        r#"{"a":null,"b":{"a":[{"x":3,"y":2}],"z":1}}"#
    );
    assert_eq!(
        to_pretty_json(&json!({"b": 1, "a": 2})),
        "{\n  \"a\": 2,\n  \"b\": 1\n}\n"
    );
}
