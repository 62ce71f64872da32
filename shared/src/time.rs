//! The pipeline's one timestamp type and clock: [`jiff::Timestamp`].
//!
//! jiff reads, writes (RFC 3339 in UTC) and computes with it; epoch seconds remain only where
//! AWS tags carry them ([`epoch_secs`], [`elapsed_since`]).
//!
//! Precision is part of the message contracts and has not changed: `collected_at` and
//! `finished_at` carry microseconds ([`now`]), `created_at` whole seconds ([`to_seconds`]).
//! Either is written with a fraction only when there is one: `2026-11-29T10:27:31Z`,
//! `2026-11-29T10:27:31.25Z`.

use std::time::Duration;

use jiff::{RoundMode, TimestampRound, Unit};

pub use jiff::Timestamp;

/// The JSON Schema of a [`Timestamp`] in a message: an RFC 3339 date-time string (for the
/// message types' `#[schemars(schema_with = ...)]`; jiff 1 has no schemars support of its own).
pub fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "format": "date-time" })
}

/// Stands in for a [`Timestamp`] inside containers (`#[schemars(with =
/// "Option<TimestampSchema>")]`, maps): the same schema as [`json_schema`].
pub struct TimestampSchema;

impl schemars::JsonSchema for TimestampSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        json_schema(generator)
    }
}

/// The functions' clock: the current time, to the microsecond.
pub fn now() -> Timestamp {
    to_micros(Timestamp::now())
}

/// `at` truncated to the microsecond.
pub fn to_micros(at: Timestamp) -> Timestamp {
    truncate(at, Unit::Microsecond)
}

/// `at` truncated to the second.
pub fn to_seconds(at: Timestamp) -> Timestamp {
    truncate(at, Unit::Second)
}

fn truncate(at: Timestamp, unit: Unit) -> Timestamp {
    // Truncating toward the epoch cannot leave the representable range.
    at.round(TimestampRound::new().smallest(unit).mode(RoundMode::Trunc))
        .unwrap_or(at)
}

/// Whole seconds since the Unix epoch, as the AWS tags store times; 0 before 1970.
pub fn epoch_secs(at: Timestamp) -> u64 {
    u64::try_from(at.as_second()).unwrap_or(0)
}

/// How long ago `epoch_secs` (a time read from a tag) was at `now`. A time in the future
/// (clock skew, or beyond what a timestamp holds) counts as just now: zero.
pub fn elapsed_since(now: Timestamp, epoch_secs: u64) -> Duration {
    i64::try_from(epoch_secs)
        .ok()
        .and_then(|secs| Timestamp::from_second(secs).ok())
        .and_then(|then| Duration::try_from(now.duration_since(then)).ok())
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, nanos: i32) -> Timestamp {
        Timestamp::new(secs, nanos).expect("in range")
    }

    #[test]
    fn the_clock_and_truncation_keep_the_messages_precision() {
        assert_eq!(now().subsec_nanosecond() % 1_000, 0);
        let t = at(1_764_412_051, 123_456_789);
        assert_eq!(to_micros(t), at(1_764_412_051, 123_456_000));
        assert_eq!(to_seconds(t), at(1_764_412_051, 0));
        assert_eq!(to_micros(t).to_string(), "2025-11-29T10:27:31.123456Z");
        assert_eq!(to_seconds(t).to_string(), "2025-11-29T10:27:31Z");
    }

    #[test]
    fn epoch_seconds_and_elapsed_time() {
        let now = at(1_764_412_051, 900_000_000);
        assert_eq!(epoch_secs(now), 1_764_412_051);
        assert_eq!(epoch_secs(at(-5, 0)), 0);
        assert_eq!(
            elapsed_since(now, 1_764_411_051),
            Duration::new(1_000, 900_000_000)
        );
        assert_eq!(elapsed_since(now, 1_764_412_052), Duration::ZERO, "future");
        assert_eq!(
            elapsed_since(now, u64::MAX),
            Duration::ZERO,
            "beyond year 9999"
        );
        assert_eq!(
            elapsed_since(now, 0),
            Duration::new(1_764_412_051, 900_000_000)
        );
    }
}
