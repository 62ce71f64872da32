//! The pipeline's messages: metrics report (collector → planner), scaling plan
//! (planner → executor and EventBridge), execution report (executor → EventBridge).
//!
//! Every message carries `schema_version`; a reader rejects versions it does not know
//! rather than guessing. The JSON shapes are documented in `ARCHITECTURE.md`. Times are
//! [`crate::time::Timestamp`]s, written as RFC 3339 in UTC; a time that does not parse (or a
//! date that does not exist) fails the decoding with an error naming its field.

mod delivery;
mod envelope;
mod execution;
mod metrics;
mod plan;

pub use delivery::*;
pub use envelope::*;
pub use execution::*;
pub use metrics::*;
pub use plan::*;

/// The version of every message shape defined here.
pub const SCHEMA_VERSION: u32 = 1;

/// EventBridge `source` of the pipeline's own events.
pub const EVENT_SOURCE: &str = "ecs-autoscale";
/// EventBridge `source` of synthetic metric reports injected by users.
pub const SYNTHETIC_SOURCE: &str = "ecs-autoscale.synthetic";
/// `detail-type` of a metrics report on the bus.
pub const METRICS_REPORT_DETAIL_TYPE: &str = "Metrics Report";
/// `detail-type` of a plan.
pub const PLAN_DETAIL_TYPE: &str = "Scaling Plan";
/// `detail-type` of an execution report.
pub const APPLIED_DETAIL_TYPE: &str = "Scaling Plan Applied";

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON of the expected shape.
    #[error("not a valid {kind}: {}{source}", field_prefix(.field))]
    Invalid {
        /// Which message.
        kind: &'static str,
        /// The field that did not decode (`collected_at`, `actions.services[0].to`), when the
        /// error is inside one.
        field: Option<String>,
        /// The JSON error, with its line and column.
        source: serde_json::Error,
    },
    /// A version this build does not understand.
    #[error("{kind} has schema_version {found}; this build reads version {SCHEMA_VERSION}")]
    UnsupportedVersion {
        /// Which message.
        kind: &'static str,
        /// The version found.
        found: u32,
    },
}

fn field_prefix(field: &Option<String>) -> String {
    field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default()
}

pub(crate) fn decode<T: serde::de::DeserializeOwned + Versioned>(
    kind: &'static str,
    text: &str,
) -> Result<T, DecodeError> {
    let invalid = |field: Option<String>, source| DecodeError::Invalid {
        kind,
        field,
        source,
    };
    // The version first: a message of another version is refused as such, whatever else
    // about its shape this build would not understand.
    if let Ok(Version {
        schema_version: Some(found),
    }) = serde_json::from_str::<Version>(text)
    {
        if found != SCHEMA_VERSION {
            return Err(DecodeError::UnsupportedVersion { kind, found });
        }
    }
    let mut json = serde_json::Deserializer::from_str(text);
    let msg: T = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let path = e.path().to_string();
        invalid((path != ".").then_some(path), e.into_inner())
    })?;
    // Trailing characters are an error, as with `serde_json::from_str`.
    json.end().map_err(|e| invalid(None, e))?;
    if msg.schema_version() != SCHEMA_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            kind,
            found: msg.schema_version(),
        });
    }
    Ok(msg)
}

/// Only the version of a message (every other field ignored).
#[derive(serde::Deserialize)]
struct Version {
    #[serde(default)]
    schema_version: Option<u32>,
}

/// A message with a schema version.
pub trait Versioned {
    /// The message's `schema_version`.
    fn schema_version(&self) -> u32;
}

#[cfg(test)]
mod tests;
