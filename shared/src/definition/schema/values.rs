//! The scalar values of the cluster file as the schema states them: what the loader's readers
//! (`load/fields.rs`) accept where a count, seconds, a flag, a name or an expression is expected.
//!
//! The loader substitutes `%(VAR)` in every scalar before reading it, so a number may be written
//! as a quoted reference (`min: "%(MIN_TASKS)"`): each numeric value is "a number, or a
//! [`VarReference`]". These types are markers for the schema only; nothing constructs them.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Value};

/// A string that refers to at least one variable: `%(NAME)` not escaped as `%%(`.
pub const VAR_REFERENCE_PATTERN: &str = r"(^|[^%])(%%)*%\([A-Za-z_][A-Za-z0-9_]*\)";

/// The longest seconds value the loader accepts (a week).
const MAX_SECONDS: u32 = 604_800;

/// The words PyYAML (YAML 1.1) read as booleans, which the loader accepts as well; an editor
/// that reads YAML 1.2 sees them as strings.
const FLAG_WORDS: &[&str] = &[
    "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "false", "False", "FALSE", "no",
    "No", "NO", "off", "Off", "OFF",
];

/// A value type of the format: a marker type whose schema is `$schema` (or a
/// [`VarReference`] too, `with_var`), described by `$description`.
macro_rules! value_type {
    ($name:ident, $description:literal, with_var: $var:expr, $schema:expr) => {
        #[doc = $description]
        pub struct $name;

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }

            fn json_schema(generator: &mut SchemaGenerator) -> Schema {
                let own: Value = $schema;
                let mut schema = if $var {
                    or_var(generator, own)
                } else {
                    Schema::try_from(own).expect("an object schema")
                };
                schema.insert("description".into(), $description.into());
                schema
            }
        }
    };
}

/// `own`, or a string with a `%(VAR)` reference (one `anyOf`, not nested).
fn or_var(generator: &mut SchemaGenerator, own: Value) -> Schema {
    let var = generator.subschema_for::<VarReference>().to_value();
    let mut choices = match own {
        Value::Object(mut o) if o.len() == 1 && o.contains_key("anyOf") => {
            match o.remove("anyOf") {
                Some(Value::Array(choices)) => choices,
                _ => Vec::new(),
            }
        }
        own => vec![own],
    };
    choices.push(var);
    json_schema!({ "anyOf": choices })
}

value_type!(
    VarReference,
    "A string with a `%(VAR)` reference, replaced by the environment variable `VAR` when the file is loaded (`%%(` is a literal `%(`); quote it: YAML does not allow a plain value to start with `%`.",
    with_var: false,
    json!({ "type": "string", "pattern": VAR_REFERENCE_PATTERN })
);

value_type!(
    Count,
    "A whole number ≥ 0 (tasks, instances, CPU units, MiB).",
    with_var: true,
    json!({ "type": "integer", "minimum": 0, "maximum": u32::MAX })
);

value_type!(
    PositiveCount,
    "A whole number ≥ 1.",
    with_var: true,
    json!({ "type": "integer", "minimum": 1, "maximum": u32::MAX })
);

value_type!(
    WholeNumber,
    "A whole number of any sign.",
    with_var: true,
    json!({ "type": "integer", "minimum": -1_000_000_000_000_000_i64, "maximum": 1_000_000_000_000_000_i64 })
);

value_type!(
    Number,
    "Any number.",
    with_var: true,
    json!({ "type": "number" })
);

value_type!(
    PositiveNumber,
    "A number > 0.",
    with_var: true,
    json!({ "type": "number", "exclusiveMinimum": 0 })
);

value_type!(
    TrackingKind,
    "`total` (default): ⌈value ÷ target⌉, for totals such as a queue length; `average`: ⌈running × value ÷ target⌉, for per-task averages such as CPUUtilization.",
    with_var: true,
    json!({ "type": "string", "enum": ["total", "average"] })
);

value_type!(
    Tolerance,
    "For `kind: average`: no change while |value ÷ target − 1| ≤ tolerance; at least 0 and less than 1 (default 0.1).",
    with_var: true,
    json!({ "type": "number", "minimum": 0, "exclusiveMaximum": 1 })
);

value_type!(
    Seconds,
    "Seconds, from 0 to a week.",
    with_var: true,
    json!({ "type": "number", "minimum": 0, "maximum": MAX_SECONDS })
);

value_type!(
    HttpTimeout,
    "An HTTP request timeout in seconds: more than 0, at most 300.",
    with_var: true,
    json!({ "type": "number", "exclusiveMinimum": 0, "maximum": 300 })
);

value_type!(
    Period,
    "A CloudWatch period: a positive multiple of 60 seconds, or 1, 5, 10 or 30 for high-resolution metrics.",
    with_var: true,
    json!({
        "type": "integer",
        "anyOf": [
            { "multipleOf": 60, "minimum": 60, "maximum": u32::MAX },
            { "enum": [1, 5, 10, 30] }
        ]
    })
);

value_type!(
    Flag,
    "`true` or `false` (also the YAML 1.1 words `yes`, `no`, `on`, `off`).",
    with_var: true,
    json!({ "anyOf": [{ "type": "boolean" }, { "enum": FLAG_WORDS }] })
);

value_type!(
    Text,
    "A non-blank text (a number is read as its text).",
    with_var: false,
    json!({ "anyOf": [{ "type": "string", "pattern": r"\S" }, { "type": "number" }] })
);

value_type!(
    Expression,
    "A metric expression over the service's aliases: numbers, aliases, `+ - * / // % **`, parentheses and `min`, `max`, `abs`, `ceil`, `floor`, `round`, `sqrt`.",
    with_var: false,
    json!({ "anyOf": [{ "type": "string", "pattern": r"\S" }, { "type": "number" }] })
);

value_type!(
    Alias,
    "An alias: letters, digits and `_`, not starting with a digit nor with `__`.",
    with_var: true,
    json!({ "type": "string", "pattern": "^([A-Za-z][A-Za-z0-9_]*|_[A-Za-z0-9][A-Za-z0-9_]*|_)$" })
);

value_type!(
    Url,
    "An http:// or https:// URL.",
    with_var: true,
    json!({ "type": "string", "pattern": r"^https?://\S" })
);

value_type!(
    HttpMethod,
    "`GET` or `POST` (any case).",
    with_var: true,
    json!({ "type": "string", "pattern": "^([Gg][Ee][Tt]|[Pp][Oo][Ss][Tt])$" })
);

value_type!(
    HeaderValue,
    "A header value on one line (a number is read as its text).",
    with_var: false,
    json!({ "anyOf": [{ "type": "string", "pattern": r"^[^\r\n]*$" }, { "type": "number" }, { "type": "boolean" }] })
);

value_type!(
    CloudWatchStatistic,
    "A CloudWatch statistic: `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount`, or a percentile such as `p90` or `p99.9`.",
    with_var: true,
    json!({
        "anyOf": [
            { "enum": ["Average", "Sum", "Minimum", "Maximum", "SampleCount"] },
            { "type": "string", "pattern": r"^p(100(\.0*)?|[0-9]{1,2}(\.[0-9]*)?|\.[0-9]+)$" }
        ]
    })
);

value_type!(
    BudgetValue,
    "A count of instances (at least 1) or a percentage of the group's instances from `1%` to `100%` (rounded up).",
    with_var: true,
    json!({
        "anyOf": [
            { "type": "integer", "minimum": 1, "maximum": u32::MAX },
            { "type": "string", "pattern": r"^\s*(100|[1-9][0-9]?)\s*%\s*$" }
        ]
    })
);

/// `disruption_budget`: one value, or one inside and one outside the windows.
pub struct DisruptionBudget;

impl JsonSchema for DisruptionBudget {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("DisruptionBudget")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let value = generator.subschema_for::<BudgetValue>().to_value();
        let split = generator
            .subschema_for::<super::BudgetByWindow>()
            .to_value();
        json_schema!({
            "description": "Instances of the group that may be DRAINING at once: a count, a percentage, or `{inside_windows, outside_windows}`.",
            "anyOf": [value, split]
        })
    }
}

value_type!(
    DayName,
    "A day: `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun` (or in full, any case).",
    with_var: false,
    json!({ "type": "string", "pattern": any_case_pattern(&DAY_WORDS) })
);

/// The day names the loader accepts (any case).
const DAY_WORDS: [&str; 14] = [
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// `^(w1|w2|...)$` matching each word in any case (`[mM][oO][nN]`): JSON Schema regexes have no
/// case-insensitive flag.
fn any_case_pattern(words: &[&str]) -> String {
    let alternatives: Vec<String> = words
        .iter()
        .map(|w| {
            w.chars()
                .map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase()))
                .collect()
        })
        .collect();
    format!("^\\s*({})\\s*$", alternatives.join("|"))
}

value_type!(
    ClockTime,
    "A local time of day `HH:MM` (quoted: \"22:00\"), from 00:00 to 23:59; `24:00` ends a window at midnight.",
    with_var: true,
    json!({ "type": "string", "pattern": r"^\s*(([01]?[0-9]|2[0-3]):[0-5][0-9]|24:00)\s*$" })
);

value_type!(
    TimeZoneName,
    "An IANA time zone name (`Europe/Paris`, `America/New_York`, `UTC`), from the database bundled with ecs-autoscale.",
    with_var: true,
    json!({ "type": "string", "pattern": r"\S" })
);

value_type!(
    Threshold,
    "A share of CPU and memory in use: more than 0, at most 1 (0.5 is half).",
    with_var: true,
    json!({ "type": "number", "exclusiveMinimum": 0, "maximum": 1 })
);

value_type!(
    DrainTimeoutAction,
    "`abort` (default): set the instance ACTIVE again and do not drain it for `drain_abort_cooldown`; `force`: stop its remaining service tasks (never standalone tasks), then terminate it once empty; `report`: only report it.",
    with_var: true,
    json!({ "type": "string", "enum": ["abort", "force", "report"] })
);

value_type!(
    ServiceDisruption,
    "`never`: instances running its tasks are not drained for consolidation; `allowed` (default).",
    with_var: true,
    json!({ "type": "string", "enum": ["never", "allowed"] })
);

value_type!(
    Payload,
    "Any YAML value, sent as the JSON body.",
    with_var: false,
    json!({})
);
