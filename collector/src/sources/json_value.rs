//! Reading a number out of an HTTP JSON response: the pure part of the HTTP source.
//!
//! **Nothing from a payload is ever evaluated.** A value is a JSON number, or a string
//! holding a decimal number (`"42"`, `" 1.5e3 "`, as the RabbitMQ management API and
//! many exporters write large counters); every other kind is reported as not a number.

use serde_json::Value;
use shared::definition::JsonPath;
use shared::messages::MissingReason;

/// Longest excerpt of an offending string quoted in a [`MissingReason::NotANumber`].
const EXCERPT_CHARS: usize = 24;

/// The number at `path` in `document`.
///
/// - a JSON number → its value;
/// - a string that parses as a finite decimal number (surrounding whitespace allowed) → its value;
/// - anything else (booleans, `null`, objects, arrays, other strings, `"NaN"`, `"inf"`)
///   → [`MissingReason::NotANumber`];
/// - a path that does not exist → [`MissingReason::MissingField`] with the path walked up to
///   the first segment that was not found.
pub fn extract(document: &Value, path: &JsonPath) -> Result<f64, MissingReason> {
    let found = path
        .lookup(document)
        .map_err(|walked| MissingReason::MissingField { path: walked })?;
    number(found)
}

/// [`extract`] for a value already found.
pub fn number(value: &Value) -> Result<f64, MissingReason> {
    let not_a_number = |found: String| Err(MissingReason::NotANumber { found });
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(v) if v.is_finite() => Ok(v),
            _ => not_a_number(format!("the number {n}, out of range")),
        },
        Value::String(s) => match parse_decimal(s) {
            Some(v) => Ok(v),
            None => not_a_number(format!("the string {}", excerpt(s))),
        },
        Value::Bool(b) => not_a_number(format!("the boolean {b}")),
        Value::Null => not_a_number("null".into()),
        Value::Array(a) => not_a_number(format!("an array of {} items", a.len())),
        Value::Object(o) => not_a_number(format!("an object with {} keys", o.len())),
    }
}

/// A finite decimal number written as text: optional sign, digits with an optional
/// fraction, optional exponent. Rejects what Rust's `f64::from_str` would also take
/// but is not a plain number (`inf`, `NaN`, `infinity`).
fn parse_decimal(text: &str) -> Option<f64> {
    let t = text.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let starts_like_a_number = body
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.');
    let only_number_chars = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if !starts_like_a_number || !only_number_chars {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A short, quoted excerpt of a string (Debug-escaped so control characters stay visible).
fn excerpt(s: &str) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(doc: &Value, path: &str) -> Result<f64, MissingReason> {
        extract(doc, &JsonPath::parse(path).expect("valid path"))
    }

    fn not_a_number(found: &str) -> Result<f64, MissingReason> {
        Err(MissingReason::NotANumber {
            found: found.into(),
        })
    }

    #[test]
    fn numbers_and_numeric_strings_are_values() {
        let doc = json!({
            "int": 7, "neg": -3, "float": 2.5, "big": 18446744073709551615u64,
            "s_int": "42", "s_float": " 1.5e3 ", "s_neg": "-0.25", "s_plus": "+8", "s_dot": ".5",
        });
        assert_eq!(at(&doc, "int"), Ok(7.0));
        assert_eq!(at(&doc, "neg"), Ok(-3.0));
        assert_eq!(at(&doc, "float"), Ok(2.5));
        assert_eq!(at(&doc, "big"), Ok(18446744073709551615u64 as f64));
        assert_eq!(at(&doc, "s_int"), Ok(42.0));
        assert_eq!(at(&doc, "s_float"), Ok(1500.0));
        assert_eq!(at(&doc, "s_neg"), Ok(-0.25));
        assert_eq!(at(&doc, "s_plus"), Ok(8.0));
        assert_eq!(at(&doc, "s_dot"), Ok(0.5));
    }

    #[test]
    fn other_kinds_are_not_numbers() {
        let doc = json!({
            "t": true, "n": null, "o": {"a": 1, "b": 2}, "a": [1, 2, 3],
            "word": "many", "empty": "", "nan": "NaN", "inf": "inf", "ninf": "-Infinity",
            "code": "__import__('os').system('id')", "hex": "0x10", "two": "1 2",
        });
        assert_eq!(at(&doc, "t"), not_a_number("the boolean true"));
        assert_eq!(at(&doc, "n"), not_a_number("null"));
        assert_eq!(at(&doc, "o"), not_a_number("an object with 2 keys"));
        assert_eq!(at(&doc, "a"), not_a_number("an array of 3 items"));
        assert_eq!(at(&doc, "word"), not_a_number("the string \"many\""));
        assert_eq!(at(&doc, "empty"), not_a_number("the string \"\""));
        for key in ["nan", "inf", "ninf", "hex", "two"] {
            assert!(
                matches!(at(&doc, key), Err(MissingReason::NotANumber { .. })),
                "{key} must not be a number"
            );
        }
        assert_eq!(
            at(&doc, "code"),
            not_a_number("the string \"__import__('os').system(\"…")
        );
    }

    #[test]
    fn missing_fields_name_the_path_walked() {
        let doc = json!({"items": [{"messages_ready": 3}], "stats": {"rate": 1}});
        assert_eq!(
            at(&doc, "nope"),
            Err(MissingReason::MissingField {
                path: "nope".into()
            })
        );
        assert_eq!(
            at(&doc, "stats.missing.deeper"),
            Err(MissingReason::MissingField {
                path: "stats.missing".into()
            })
        );
        assert_eq!(
            at(&doc, "items.1.messages_ready"),
            Err(MissingReason::MissingField {
                path: "items.1".into()
            })
        );
        assert_eq!(
            at(&doc, "stats.rate.x"),
            Err(MissingReason::MissingField {
                path: "stats.rate.x".into()
            }),
            "a path through a number does not exist"
        );
    }

    #[test]
    fn deep_paths_array_indices_and_dotted_keys() {
        let doc = json!({
            "message_stats": {"publish_details": {"rate": 12.5}},
            "items": [{"name": "a", "messages_ready": "4"}, {"messages_ready": 9}],
            "labels": {"app.kubernetes.io/name": {"count": 2}},
            "by_id": {"0": 11},
        });
        assert_eq!(at(&doc, "message_stats.publish_details.rate"), Ok(12.5));
        assert_eq!(at(&doc, "items.0.messages_ready"), Ok(4.0));
        assert_eq!(at(&doc, "items.1.messages_ready"), Ok(9.0));
        assert_eq!(at(&doc, "labels.app\\.kubernetes\\.io/name.count"), Ok(2.0));
        assert_eq!(
            at(&doc, "by_id.0"),
            Ok(11.0),
            "digits on an object are a key"
        );
    }

    #[test]
    fn long_strings_are_cut_in_the_reason() {
        let long = "x".repeat(500);
        let Err(MissingReason::NotANumber { found }) = number(&Value::String(long)) else {
            panic!("a long string is not a number");
        };
        assert!(found.len() < 60, "{found}");
        assert!(found.ends_with('…'));
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn finite_numbers_read_back_as_numbers_and_strings(x in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
                prop_assert_eq!(number(&serde_json::json!(x)), Ok(x));
                prop_assert_eq!(number(&Value::String(x.to_string())), Ok(x));
                prop_assert_eq!(number(&Value::String(format!("{x:e}"))), Ok(x));
            }

            #[test]
            fn any_string_is_a_finite_number_or_not_a_number(s in ".{0,40}") {
                match number(&Value::String(s)) {
                    Ok(v) => prop_assert!(v.is_finite()),
                    Err(reason) => prop_assert!(matches!(reason, MissingReason::NotANumber { .. }), "unexpected reason {reason:?}"),
                }
            }
        }
    }
}
