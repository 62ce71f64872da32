//! The JSON Schemas ecs-autoscale publishes, generated from its types (`ecs-autoscale schema`):
//! the cluster file, for editors ([`crate::definition::schema`]), and the three messages, for
//! subscribers ([`crate::messages`]). Each is JSON Schema draft-07; the messages are also given
//! as EventBridge schema-registry documents (JSON Schema draft-04 around the event envelope),
//! which the stack publishes.
//!
//! Output is deterministic (keys sorted), so the committed copies under `schemas/` and in
//! `infra/template.yaml` can be compared with what the types give (`make schemas` rewrites them).

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use crate::definition::schema::Cluster;
use crate::messages::{
    ExecutionReport, MetricsReport, ScalingPlan, APPLIED_DETAIL_TYPE, EVENT_SOURCE,
    METRICS_REPORT_DETAIL_TYPE, PLAN_DETAIL_TYPE, SCHEMA_VERSION, SYNTHETIC_SOURCE,
};

/// The compatibility rule every message schema states (also in `ARCHITECTURE.md`).
pub const COMPATIBILITY: &str = "Compatibility: within one `schema_version` changes are only additive: new fields, and new values of enumerations (such as `outcome`, `status`, `reason` or `kind`). Readers must ignore fields they do not know and should not fail on an enumeration value they do not know. Removing or renaming a field, changing its type or meaning, or making an optional field required comes with a new `schema_version`.";

/// The command that regenerates every committed copy of the schemas.
pub const REGENERATE: &str = "make schemas";

/// One of the published schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// A cluster file (`clusters/NAME.yml`).
    Cluster,
    /// A metrics report (collector → planner; injected on the bus as `Metrics Report`).
    MetricsReport,
    /// A scaling plan (planner → executor and the bus, `Scaling Plan`).
    ScalingPlan,
    /// An execution report (executor → the bus, `Scaling Plan Applied`).
    PlanApplied,
}

/// How a message travels on the EventBridge bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusEvent {
    /// The event's `source`.
    pub source: &'static str,
    /// The event's `detail-type`.
    pub detail_type: &'static str,
    /// The schema's name in the stack's schema registry.
    pub schema_name: &'static str,
}

impl Document {
    /// Every schema, in the order the CLI lists them.
    pub const ALL: [Document; 4] = [
        Document::Cluster,
        Document::MetricsReport,
        Document::ScalingPlan,
        Document::PlanApplied,
    ];

    /// The name `ecs-autoscale schema NAME` takes.
    pub fn name(self) -> &'static str {
        match self {
            Document::Cluster => "cluster",
            Document::MetricsReport => "metrics-report",
            Document::ScalingPlan => "scaling-plan",
            Document::PlanApplied => "plan-applied",
        }
    }

    /// The committed copy's file name under `schemas/`.
    pub fn file_name(self) -> String {
        format!("{}.schema.json", self.name())
    }

    /// The bus event the message is published as; `None` for the cluster file.
    pub fn bus_event(self) -> Option<BusEvent> {
        let (source, detail_type, schema_name) = match self {
            Document::Cluster => return None,
            Document::MetricsReport => (
                SYNTHETIC_SOURCE,
                METRICS_REPORT_DETAIL_TYPE,
                "ecs-autoscale.synthetic@MetricsReport",
            ),
            Document::ScalingPlan => (EVENT_SOURCE, PLAN_DETAIL_TYPE, "ecs-autoscale@ScalingPlan"),
            Document::PlanApplied => (
                EVENT_SOURCE,
                APPLIED_DETAIL_TYPE,
                "ecs-autoscale@ScalingPlanApplied",
            ),
        };
        Some(BusEvent {
            source,
            detail_type,
            schema_name,
        })
    }

    /// The schema, JSON Schema draft-07.
    ///
    /// The metrics report's is what the planner accepts (users write reports); the plan's and
    /// the execution report's are what the functions publish (subscribers read them), so the
    /// fields that are always written are required there.
    pub fn json_schema(self) -> Value {
        let mut schema = match self {
            Document::Cluster => generate::<Cluster>(Contract::Read),
            Document::MetricsReport => generate::<MetricsReport>(Contract::Read),
            Document::ScalingPlan => generate::<ScalingPlan>(Contract::Written),
            Document::PlanApplied => generate::<ExecutionReport>(Contract::Written),
        };
        clean_descriptions(&mut schema);
        if let Some(object) = schema.as_object_mut() {
            object.insert(
                "$comment".into(),
                format!(
                    "Generated from the Rust types by `ecs-autoscale schema {}`; regenerate with `{REGENERATE}`.",
                    self.name()
                )
                .into(),
            );
        }
        if let Some(event) = self.bus_event() {
            describe_message(&mut schema, self, event);
        }
        schema
    }

    /// The EventBridge schema-registry document of a message (type `JSONSchemaDraft4`): the
    /// event envelope with the message as its `detail`; `None` for the cluster file.
    pub fn eventbridge_schema(self) -> Option<Value> {
        let event = self.bus_event()?;
        Some(event_envelope(to_draft4(self.json_schema()), event))
    }
}

/// Which side of a message a schema describes.
#[derive(Clone, Copy)]
enum Contract {
    /// What a reader accepts: fields with defaults are optional.
    Read,
    /// What a writer produces: fields always written are required.
    Written,
}

fn generate<T: JsonSchema>(contract: Contract) -> Value {
    let settings = SchemaSettings::draft07();
    let settings = match contract {
        Contract::Read => settings.for_deserialize(),
        Contract::Written => settings.for_serialize(),
    };
    settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// Title, description and `schema_version` of a message's schema: the version it describes and
/// the compatibility rule.
fn describe_message(schema: &mut Value, document: Document, event: BusEvent) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let what = match document {
        Document::MetricsReport => "metrics report",
        Document::ScalingPlan => "scaling plan",
        _ => "execution report",
    };
    object.insert(
        "title".into(),
        format!("ecs-autoscale {what}, schema_version {SCHEMA_VERSION}").into(),
    );
    let own = object
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    object.insert(
        "description".into(),
        format!(
            "{own}\n\nOn the EventBridge bus: source `{}`, detail-type `{}` (the event's `detail`).\n\n{COMPATIBILITY}",
            event.source, event.detail_type
        )
        .into(),
    );
    if let Some(version) = object
        .get_mut("properties")
        .and_then(|p| p.get_mut("schema_version"))
    {
        *version = json!({
            "type": "integer",
            "const": SCHEMA_VERSION,
            "description": format!(
                "The version of this message's shape: {SCHEMA_VERSION} for this schema (the compatibility rule is in the schema's description); ecs-autoscale's readers reject other versions."
            ),
        });
    }
}

/// Descriptions come from the Rust doc comments: rustdoc links (`` [`crate::time`] ``) become
/// code spans, and pointers into the code (`: see [`crate::time`]`) are dropped.
fn clean_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(text) if key == "description" => *text = plain_doc(text),
                    _ => clean_descriptions(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(clean_descriptions),
        _ => {}
    }
}

fn plain_doc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // A doc comment's lines are wrapped: one paragraph is one line here.
    let joined = text
        .split("\n\n")
        .map(|paragraph| {
            paragraph
                .split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    let mut rest = joined.as_str();
    while let Some(start) = rest.find("[`") {
        let Some(len) = rest[start..].find("`]") else {
            break;
        };
        let target = &rest[start + 2..start + len];
        let before = &rest[..start];
        if let Some(kept) = before.strip_suffix(": see ") {
            out.push_str(kept);
        } else {
            out.push_str(before);
            let name = target.rsplit("::").next().unwrap_or(target);
            out.push('`');
            out.push_str(name);
            out.push('`');
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// A draft-07 schema as draft-04, which EventBridge's `JSONSchemaDraft4` type takes: `const`
/// becomes a one-value `enum`, numeric `exclusiveMinimum`/`exclusiveMaximum` become draft-04's
/// boolean form, and boolean subschemas become objects.
pub fn to_draft4(mut schema: Value) -> Value {
    draft4_subschema(&mut schema);
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$schema".into(),
            "http://json-schema.org/draft-04/schema#".into(),
        );
    }
    schema
}

fn draft4_subschema(schema: &mut Value) {
    match schema {
        Value::Bool(true) => *schema = json!({}),
        Value::Bool(false) => *schema = json!({ "not": {} }),
        Value::Object(object) => {
            if let Some(value) = object.remove("const") {
                object.insert("enum".into(), json!([value]));
            }
            for (exclusive, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if let Some(limit) = object.get(exclusive).filter(|v| v.is_number()).cloned() {
                    object.insert(bound.into(), limit);
                    object.insert(exclusive.into(), true.into());
                }
            }
            for key in ["properties", "definitions", "patternProperties"] {
                if let Some(Value::Object(children)) = object.get_mut(key) {
                    children.values_mut().for_each(draft4_subschema);
                }
            }
            for key in ["anyOf", "allOf", "oneOf"] {
                if let Some(Value::Array(children)) = object.get_mut(key) {
                    children.iter_mut().for_each(draft4_subschema);
                }
            }
            match object.get_mut("items") {
                Some(Value::Array(children)) => children.iter_mut().for_each(draft4_subschema),
                Some(child) => draft4_subschema(child),
                None => {}
            }
            if let Some(child) = object.get_mut("not") {
                draft4_subschema(child);
            }
            // Draft-04 allows booleans here.
            for key in ["additionalProperties", "additionalItems"] {
                if let Some(child @ Value::Object(_)) = object.get_mut(key) {
                    draft4_subschema(child);
                }
            }
        }
        _ => {}
    }
}

/// The EventBridge event around a message's (draft-04) schema, with the registry's
/// `x-amazon-events-source` and `x-amazon-events-detail-type`; the message is its `detail`.
fn event_envelope(mut detail: Value, event: BusEvent) -> Value {
    let name = event.schema_name.rsplit('@').next().unwrap_or("Detail");
    let mut definitions = match detail.as_object_mut().and_then(|o| o.remove("definitions")) {
        Some(Value::Object(definitions)) => definitions,
        _ => Map::new(),
    };
    let description = detail.get("description").cloned().unwrap_or(Value::Null);
    if let Some(object) = detail.as_object_mut() {
        object.remove("$schema");
        object.remove("$comment");
    }
    definitions.insert(name.to_string(), detail);
    let string = json!({ "type": "string" });
    json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "$comment": "Generated from the Rust types by `ecs-autoscale schema ... --eventbridge`; regenerate with `make schemas`.",
        "title": "AWSEvent",
        "description": description,
        "type": "object",
        "x-amazon-events-source": event.source,
        "x-amazon-events-detail-type": event.detail_type,
        "required": ["detail-type", "resources", "detail", "id", "source", "time", "region", "version", "account"],
        "properties": {
            "version": string,
            "id": string,
            "detail-type": { "type": "string", "enum": [event.detail_type] },
            "source": { "type": "string", "enum": [event.source] },
            "account": string,
            "time": { "type": "string", "format": "date-time" },
            "region": string,
            "resources": { "type": "array", "items": string },
            "detail": { "$ref": format!("#/definitions/{name}") },
        },
        "definitions": definitions,
    })
}

/// `value` as pretty JSON with every object's keys sorted, and a final newline: the form of the
/// committed files.
pub fn to_pretty_json(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(value)).unwrap_or_default();
    text.push('\n');
    text
}

/// `value` as compact JSON with every object's keys sorted (the template's embedded copies).
pub fn to_compact_json(value: &Value) -> String {
    serde_json::to_string(&sorted(value)).unwrap_or_default()
}

/// The same value with its objects' keys inserted in sorted order (so the output does not
/// depend on serde_json's `preserve_order` feature).
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
