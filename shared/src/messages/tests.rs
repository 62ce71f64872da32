//! The messages' times on the wire: the form they are written in, and what reading refuses.

use serde_json::{json, Value};

use super::*;
use crate::time::Timestamp;

fn at(secs: i64, nanos: i32) -> Timestamp {
    Timestamp::new(secs, nanos).expect("in range")
}

fn report(collected_at: Timestamp) -> MetricsReport {
    MetricsReport::new("prod", "c-1", collected_at)
}

fn plan(created_at: Timestamp) -> ScalingPlan {
    ScalingPlan {
        schema_version: SCHEMA_VERSION,
        plan_id: "p-1".into(),
        delivery_id: "d-1".into(),
        cluster: "prod".into(),
        autoscale_group: "prod-asg".into(),
        created_at,
        expires_at: created_at,
        metrics_cycle_ids: vec!["c-1".into()],
        dry_run: false,
        has_actions: false,
        actions: PlanActions::default(),
        decisions: DecisionRecord::default(),
    }
}

fn execution(finished_at: Timestamp) -> ExecutionReport {
    ExecutionReport {
        schema_version: SCHEMA_VERSION,
        plan_id: "p-1".into(),
        delivery_id: "d-1".into(),
        dedup_key: String::new(),
        cluster: "prod".into(),
        finished_at,
        outcome: Outcome::Applied,
        actions: vec![],
        reasons: vec![],
    }
    .with_dedup_key()
}

fn field(value: &impl serde::Serialize, name: &str) -> Value {
    serde_json::to_value(value).expect("serialises")[name].clone()
}

#[test]
fn times_are_written_as_rfc3339_utc_with_a_fraction_only_when_there_is_one() {
    let whole = at(1_764_412_051, 0);
    let micros = at(1_764_412_051, 123_450_000);
    assert_eq!(
        field(&report(whole), "collected_at"),
        "2025-11-29T10:27:31Z"
    );
    assert_eq!(
        field(&report(micros), "collected_at"),
        "2025-11-29T10:27:31.12345Z"
    );
    assert_eq!(field(&plan(whole), "created_at"), "2025-11-29T10:27:31Z");
    assert_eq!(
        field(&execution(micros), "finished_at"),
        "2025-11-29T10:27:31.12345Z"
    );
    assert_eq!(
        field(&report(at(0, 0)), "collected_at"),
        "1970-01-01T00:00:00Z"
    );
}

#[test]
fn times_read_back_to_the_same_instant_and_offsets_are_converted_to_utc() {
    let sent = report(at(1_764_412_051, 500_000));
    let text = serde_json::to_string(&sent).expect("serialises");
    assert_eq!(MetricsReport::from_json(&text).expect("reads"), sent);

    let mut value = serde_json::to_value(plan(at(0, 0))).expect("serialises");
    value["created_at"] = json!("2025-11-29T11:27:31.5+01:00");
    let read = ScalingPlan::from_json(&value.to_string()).expect("reads");
    assert_eq!(read.created_at, at(1_764_412_051, 500_000_000));
}

/// Each message with one time replaced by `text`, and the name of that field.
fn with_time(text: &str) -> [(&'static str, &'static str, String); 3] {
    let mut r = serde_json::to_value(report(at(0, 0))).expect("serialises");
    r["collected_at"] = json!(text);
    let mut p = serde_json::to_value(plan(at(0, 0))).expect("serialises");
    p["created_at"] = json!(text);
    let mut e = serde_json::to_value(execution(at(0, 0))).expect("serialises");
    e["finished_at"] = json!(text);
    [
        ("metrics report", "collected_at", r.to_string()),
        ("scaling plan", "created_at", p.to_string()),
        ("execution report", "finished_at", e.to_string()),
    ]
}

fn decode_any(kind: &str, text: &str) -> Result<(), DecodeError> {
    match kind {
        "metrics report" => MetricsReport::from_json(text).map(drop),
        "scaling plan" => ScalingPlan::from_json(text).map(drop),
        _ => ExecutionReport::from_json(text).map(drop),
    }
}

#[test]
fn a_time_that_is_not_one_fails_decoding_naming_its_field() {
    for bad in [
        "2025-02-31T00:00:00Z", // no such day
        "2025-13-01T00:00:00Z",
        "2025-11-29T10:27:31", // no offset: not an instant
        "yesterday",
        "",
    ] {
        for (kind, name, text) in with_time(bad) {
            let err = decode_any(kind, &text).expect_err(bad);
            let DecodeError::Invalid { field, .. } = &err else {
                panic!("{kind} with {name} = {bad:?}: {err}");
            };
            assert_eq!(field.as_deref(), Some(name), "{err}");
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("not a valid {kind}: {name}: ")),
                "{message}"
            );
        }
    }
    let (_, _, text) = &with_time("2025-02-31T00:00:00Z")[0];
    let message = MetricsReport::from_json(text)
        .expect_err("invalid")
        .to_string();
    assert!(message.contains("day"), "says what is wrong: {message}");
}

#[test]
fn other_decoding_errors_name_their_field_too_or_none_at_the_top() {
    let mut value = serde_json::to_value(plan(at(0, 0))).expect("serialises");
    value["actions"]["services"] = json!([{"service": "web", "from": 1, "to": -1}]);
    let err = ScalingPlan::from_json(&value.to_string()).expect_err("negative count");
    assert!(
        err.to_string()
            .starts_with("not a valid scaling plan: actions.services[0].to: "),
        "{err}"
    );
    let err = MetricsReport::from_json("not json").expect_err("junk");
    assert!(
        matches!(err, DecodeError::Invalid { field: None, .. }),
        "{err}"
    );
    let text = serde_json::to_string(&report(at(0, 0))).expect("serialises") + " x";
    assert!(
        MetricsReport::from_json(&text).is_err(),
        "trailing characters"
    );
}

#[test]
fn an_unknown_version_is_refused_as_such_whatever_else_is_wrong() {
    let text = json!({"schema_version": 2, "cluster": "prod"}).to_string();
    for (kind, result) in [
        ("metrics report", MetricsReport::from_json(&text).map(drop)),
        ("scaling plan", ScalingPlan::from_json(&text).map(drop)),
        (
            "execution report",
            ExecutionReport::from_json(&text).map(drop),
        ),
    ] {
        let err = result.expect_err(kind);
        assert!(
            matches!(err, DecodeError::UnsupportedVersion { found: 2, .. }),
            "{kind}: {err}"
        );
        assert_eq!(
            err.to_string(),
            format!("{kind} has schema_version 2; this build reads version 1")
        );
    }
}

#[test]
fn a_plan_without_its_expiry_or_with_an_unreadable_one_is_refused_naming_it() {
    let mut value = serde_json::to_value(plan(at(0, 0))).expect("serialises");
    value["expires_at"] = json!("in two minutes");
    let err = ScalingPlan::from_json(&value.to_string()).expect_err("unreadable");
    assert!(
        err.to_string()
            .starts_with("not a valid scaling plan: expires_at: "),
        "{err}"
    );
    for field in ["expires_at", "delivery_id"] {
        let mut value = serde_json::to_value(plan(at(0, 0))).expect("serialises");
        value.as_object_mut().expect("object").remove(field);
        let err = ScalingPlan::from_json(&value.to_string()).expect_err(field);
        assert!(
            err.to_string()
                .contains(&format!("missing field `{field}`")),
            "{err}"
        );
    }
}

#[test]
fn a_plan_expires_at_its_expiry() {
    let mut p = plan(at(100, 0));
    p.expires_at = at(220, 0);
    assert!(!p.is_expired(at(219, 999_999_000)));
    assert!(p.is_expired(at(220, 0)));
    assert!(p.is_expired(at(10_000, 0)));
}
