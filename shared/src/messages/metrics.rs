use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{decode, DecodeError, Versioned, SCHEMA_VERSION};
use crate::time::Timestamp;

/// One cluster's metrics for one collection cycle (collector → planner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricsReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// ECS cluster name.
    pub cluster: String,
    /// The collection cycle (shared by the reports of every cluster in that cycle).
    pub cycle_id: String,
    /// When the values were collected (RFC 3339, UTC, to the microsecond: see [`crate::time`]).
    #[schemars(schema_with = "crate::time::json_schema")]
    pub collected_at: Timestamp,
    /// `collector` for scheduled collection, `synthetic` for injected reports.
    #[serde(default = "default_origin")]
    pub origin: String,
    /// Per service name.
    pub services: BTreeMap<String, ServiceMetrics>,
}

fn default_origin() -> String {
    "collector".into()
}

impl Versioned for MetricsReport {
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
}

impl MetricsReport {
    /// An empty report.
    pub fn new(
        cluster: impl Into<String>,
        cycle_id: impl Into<String>,
        collected_at: Timestamp,
    ) -> Self {
        MetricsReport {
            schema_version: SCHEMA_VERSION,
            cluster: cluster.into(),
            cycle_id: cycle_id.into(),
            collected_at,
            origin: default_origin(),
            services: BTreeMap::new(),
        }
    }

    /// Read a report from JSON, checking its version.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        decode("metrics report", text)
    }

    /// The time `service`'s `alias` describes: its `observed_at`, else `collected_at`.
    pub fn observed_at(&self, service: &str, alias: &str) -> Timestamp {
        self.services
            .get(service)
            .and_then(|m| m.observed_at.get(alias))
            .copied()
            .unwrap_or(self.collected_at)
    }
}

/// The aliases of one service: a value, or the reason there is none.
///
/// Every alias of the service appears in exactly one of `values` and `missing`. An alias
/// whose source returned nothing but whose statistic has a `default:` is in `values` with
/// that default, and the reason the default was used is kept in `defaulted`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ServiceMetrics {
    /// Alias → value.
    #[serde(default)]
    pub values: BTreeMap<String, f64>,
    /// Alias → why it has no value.
    #[serde(default)]
    pub missing: BTreeMap<String, MissingReason>,
    /// Alias → why its `default:` stands in `values` (informational: the value is usable).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub defaulted: BTreeMap<String, MissingReason>,
    /// Alias → the time its entry describes, where that is not the report's `collected_at`:
    /// for a CloudWatch statistic, the end of the period read (whatever the outcome). An alias
    /// absent here was observed at `collected_at` (HTTP sources are fetched then). The planner
    /// acts on a step event's value once per observation (see `ARCHITECTURE.md`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(with = "BTreeMap<String, crate::time::TimestampSchema>")]
    pub observed_at: BTreeMap<String, Timestamp>,
}

impl ServiceMetrics {
    /// Records a value for `alias` (replacing whatever was recorded before; its
    /// `observed_at` is a separate fact, left as it is).
    pub fn set_value(&mut self, alias: impl Into<String>, value: f64) {
        let alias = alias.into();
        self.missing.remove(&alias);
        self.defaulted.remove(&alias);
        self.values.insert(alias, value);
    }

    /// Records that `alias` has no value for `reason`; with a `default`, the default becomes
    /// its value and the reason is kept in `defaulted`.
    pub fn set_missing(
        &mut self,
        alias: impl Into<String>,
        reason: MissingReason,
        default: Option<f64>,
    ) {
        let alias = alias.into();
        match default {
            Some(value) => {
                self.missing.remove(&alias);
                self.values.insert(alias.clone(), value);
                self.defaulted.insert(alias, reason);
            }
            None => {
                self.values.remove(&alias);
                self.defaulted.remove(&alias);
                self.missing.insert(alias, reason);
            }
        }
    }
}

/// Why an alias has no value this cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum MissingReason {
    /// The source did not answer in time.
    Timeout {
        /// Seconds waited.
        after_secs: f64,
    },
    /// The HTTP source answered with a non-2xx status.
    HttpStatus {
        /// The status code.
        status: u16,
    },
    /// The server (or something on the way) reset the connection: it answered, with a TCP
    /// reset rather than a response. Not a timeout: retrying at once may well work.
    Reset,
    /// The request failed (connection, TLS, ...).
    Request {
        /// What failed.
        error: String,
    },
    /// The body was not JSON.
    InvalidJson {
        /// The parse error.
        error: String,
    },
    /// The field path does not exist in the response.
    MissingField {
        /// The part of the path that was found before it failed.
        path: String,
    },
    /// The field exists but is not a number or numeric string.
    NotANumber {
        /// What was found (type, or a short excerpt).
        found: String,
    },
    /// CloudWatch returned no datapoint for the period.
    NoDatapoints,
    /// CloudWatch returned an error for the query.
    CloudWatch {
        /// Its message.
        error: String,
    },
    /// Collection did not reach it before the deadline.
    NotCollected,
}

impl std::fmt::Display for MissingReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MissingReason::Timeout { after_secs } => write!(f, "timed out after {after_secs} s"),
            MissingReason::HttpStatus { status } => write!(f, "HTTP status {status}"),
            MissingReason::Reset => write!(f, "the connection was reset"),
            MissingReason::Request { error } => write!(f, "request failed: {error}"),
            MissingReason::InvalidJson { error } => write!(f, "response is not JSON: {error}"),
            MissingReason::MissingField { path } => write!(f, "no field at `{path}`"),
            MissingReason::NotANumber { found } => write!(f, "not a number: {found}"),
            MissingReason::NoDatapoints => write!(f, "no datapoints in the period"),
            MissingReason::CloudWatch { error } => write!(f, "CloudWatch error: {error}"),
            MissingReason::NotCollected => write!(f, "not collected before the deadline"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_keep_their_reason_and_values_replace_reasons() {
        let mut m = ServiceMetrics::default();
        m.set_missing("a", MissingReason::NoDatapoints, Some(0.0));
        m.set_missing("b", MissingReason::HttpStatus { status: 500 }, None);
        assert_eq!(m.values["a"], 0.0);
        assert_eq!(m.defaulted["a"], MissingReason::NoDatapoints);
        assert_eq!(m.missing["b"], MissingReason::HttpStatus { status: 500 });
        m.set_value("a", 3.0);
        m.set_value("b", 4.0);
        assert!(m.missing.is_empty() && m.defaulted.is_empty());
        assert_eq!((m.values["a"], m.values["b"]), (3.0, 4.0));
    }

    #[test]
    fn observation_times_are_additive_and_default_to_collected_at() {
        // A report without `observed_at` (an older collector, `inject`): observed when collected.
        let old = MetricsReport::from_json(
            r#"{"schema_version": 1, "cluster": "c", "cycle_id": "c1",
                "collected_at": "2026-11-29T10:01:00Z",
                "services": {"web": {"values": {"cpu": 42.0}, "missing": {}}}}"#,
        )
        .expect("an old report reads");
        let collected: Timestamp = "2026-11-29T10:01:00Z".parse().expect("a time");
        assert!(old.services["web"].observed_at.is_empty());
        assert_eq!(old.observed_at("web", "cpu"), collected);

        // A CloudWatch value describes its period, which ended before the collection.
        let mut new = MetricsReport::new("c", "c2", collected);
        let period_end: Timestamp = "2026-11-29T10:00:00Z".parse().expect("a time");
        let web = new.services.entry("web".into()).or_default();
        web.set_value("cpu", 42.0);
        web.set_value("queue", 7.0);
        web.observed_at.insert("cpu".into(), period_end);
        assert_eq!(new.observed_at("web", "cpu"), period_end);
        assert_eq!(
            new.observed_at("web", "queue"),
            collected,
            "not given: collected_at"
        );
        let json = serde_json::to_value(&new).expect("serialises");
        assert_eq!(
            json["services"]["web"]["observed_at"],
            serde_json::json!({"cpu": "2026-11-29T10:00:00Z"})
        );
        assert_eq!(
            MetricsReport::from_json(&json.to_string()).expect("reads"),
            new
        );
        // Absent from the wire when empty: today's readers see the same shape.
        let plain = serde_json::to_value(ServiceMetrics::default()).expect("serialises");
        assert!(plain.get("observed_at").is_none());
    }

    #[test]
    fn defaulted_is_optional_on_the_wire() {
        let plain = ServiceMetrics::default();
        let json = serde_json::to_value(&plain).expect("serialises");
        assert_eq!(json, serde_json::json!({"values": {}, "missing": {}}));
        let read: ServiceMetrics = serde_json::from_str(
            r#"{"values": {"q": 1.0}, "defaulted": {"q": {"reason": "no_datapoints"}}}"#,
        )
        .expect("reads");
        assert_eq!(read.defaulted["q"], MissingReason::NoDatapoints);
    }
}
