//! The planner's configuration, read from its environment at start.

use std::path::PathBuf;
use std::time::Duration;

use shared::function_config::Env;
pub use shared::function_config::{ConfigError, CLUSTERS_DIR, EVENT_BUS_NAME};

use crate::decide::{DeliveryRules, Freshness, DEFAULT_PLAN_TTL};

/// Environment variable: URL of the executor's FIFO plans queue (required).
pub const PLANS_QUEUE_URL: &str = "PLANS_QUEUE_URL";
/// Environment variable: how often the collector runs, in whole seconds or as the schedule's
/// `rate(...)` expression (the stack sets it from its schedule); default 60 s.
pub const COLLECTION_PERIOD: &str = "COLLECTION_PERIOD";
/// Environment variable: reports collected longer ago are not planned on (whole seconds);
/// default 3 collection periods.
pub const METRICS_MAX_AGE_SECS: &str = "METRICS_MAX_AGE_SECS";
/// Environment variable: a plan is not applied longer than this after it was made (whole
/// seconds); default 120.
pub const PLAN_TTL_SECS: &str = "PLAN_TTL_SECS";

/// The collection period when `COLLECTION_PERIOD` is not set.
pub const DEFAULT_COLLECTION_PERIOD: Duration = Duration::from_secs(60);
/// The default maximum age of a report, in collection periods.
pub const MAX_AGE_PERIODS: u32 = 3;

/// What the planner reads from its environment at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `PLANS_QUEUE_URL`.
    pub plans_queue_url: String,
    /// `EVENT_BUS_NAME`.
    pub bus_name: String,
    /// `CLUSTERS_DIR`, or its default ([`shared::function_config::DEFAULT_CLUSTERS_DIR`]).
    pub clusters_dir: PathBuf,
    /// `METRICS_MAX_AGE_SECS` (or 3 × `COLLECTION_PERIOD`) and `PLAN_TTL_SECS`.
    pub delivery: DeliveryRules,
}

impl Config {
    /// Reads the configuration from `env` (the process environment in `main`).
    pub fn read(env: &Env<'_>) -> Result<Config, ConfigError> {
        let period = collection_period(env)?;
        let max_age = match env.number_in(METRICS_MAX_AGE_SECS, 1..=86_400, "1 to 86400")? {
            Some(secs) => Duration::from_secs(secs),
            None => period * MAX_AGE_PERIODS,
        };
        let plan_ttl = env
            .number_in(PLAN_TTL_SECS, 1..=86_400, "1 to 86400")?
            .map_or(DEFAULT_PLAN_TTL, Duration::from_secs);
        Ok(Config {
            plans_queue_url: env.required(PLANS_QUEUE_URL)?,
            bus_name: env.event_bus_name()?,
            clusters_dir: env.clusters_dir(),
            delivery: DeliveryRules {
                freshness: Freshness::new(max_age),
                plan_ttl,
            },
        })
    }
}

/// `COLLECTION_PERIOD`: whole seconds, or `rate(N minute|minutes|hour|hours|day|days)`.
fn collection_period(env: &Env<'_>) -> Result<Duration, ConfigError> {
    let Some(value) = env.get(COLLECTION_PERIOD) else {
        return Ok(DEFAULT_COLLECTION_PERIOD);
    };
    parse_period(&value).ok_or(ConfigError::Invalid {
        name: COLLECTION_PERIOD,
        value,
        expected: "whole seconds ≥ 1, or a schedule rate such as rate(1 minute)",
    })
}

/// A period in whole seconds (at least 1), or an EventBridge `rate(...)` expression.
pub fn parse_period(value: &str) -> Option<Duration> {
    let secs = match value.parse::<u64>() {
        Ok(secs) => secs,
        Err(_) => {
            let inner = value.strip_prefix("rate(")?.strip_suffix(')')?;
            let (n, unit) = inner.trim().split_once(' ')?;
            let n: u64 = n.parse().ok()?;
            let unit_secs = match (n, unit.trim()) {
                (1, "minute") | (2.., "minutes") => 60,
                (1, "hour") | (2.., "hours") => 3_600,
                (1, "day") | (2.., "days") => 86_400,
                _ => return None,
            };
            n.checked_mul(unit_secs)?
        }
    };
    // Bounded so that the maximum age (3 periods) cannot overflow.
    (1..=u64::from(u32::MAX))
        .contains(&secs)
        .then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn read(pairs: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let lookup = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        Config::read(&Env::new(&lookup))
    }

    #[test]
    fn reads_required_variables_and_defaults_the_clusters_dir() {
        let c = read(&[
            ("PLANS_QUEUE_URL", " http://q/plans.fifo "),
            ("EVENT_BUS_NAME", "bus"),
        ])
        .expect("config");
        assert_eq!(c.plans_queue_url, "http://q/plans.fifo");
        assert_eq!(c.bus_name, "bus");
        assert_eq!(c.clusters_dir, Path::new("/opt/clusters"));
        assert_eq!(c.delivery, DeliveryRules::default());
        assert_eq!(
            c.delivery.freshness.max_age,
            Duration::from_secs(180),
            "3 periods of 60 s"
        );
        assert_eq!(c.delivery.plan_ttl, Duration::from_secs(120));
        let c = read(&[
            ("PLANS_QUEUE_URL", "q"),
            ("EVENT_BUS_NAME", "bus"),
            ("CLUSTERS_DIR", "/etc/clusters"),
        ])
        .expect("config");
        assert_eq!(c.clusters_dir, Path::new("/etc/clusters"));
        assert_eq!(
            read(&[("EVENT_BUS_NAME", "bus")]),
            Err(ConfigError::Missing("PLANS_QUEUE_URL"))
        );
        assert_eq!(
            read(&[("PLANS_QUEUE_URL", "q"), ("EVENT_BUS_NAME", " ")]),
            Err(ConfigError::Missing("EVENT_BUS_NAME"))
        );
    }

    #[test]
    fn the_maximum_age_follows_the_collection_period_unless_set() {
        let base = [("PLANS_QUEUE_URL", "q"), ("EVENT_BUS_NAME", "bus")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = base.to_vec();
            vars.extend_from_slice(extra);
            read(&vars)
        };
        let max_age = |c: Config| c.delivery.freshness.max_age.as_secs();
        assert_eq!(
            max_age(with(&[("COLLECTION_PERIOD", "rate(5 minutes)")]).unwrap()),
            900
        );
        assert_eq!(
            max_age(with(&[("COLLECTION_PERIOD", "rate(1 minute)")]).unwrap()),
            180
        );
        assert_eq!(max_age(with(&[("COLLECTION_PERIOD", "30")]).unwrap()), 90);
        assert_eq!(
            max_age(with(&[("COLLECTION_PERIOD", "rate(2 days)")]).unwrap()),
            3 * 2 * 86_400
        );
        assert_eq!(
            max_age(
                with(&[
                    ("COLLECTION_PERIOD", "rate(5 minutes)"),
                    ("METRICS_MAX_AGE_SECS", "100")
                ])
                .unwrap()
            ),
            100
        );
        let ttl = with(&[("PLAN_TTL_SECS", "45")]).unwrap().delivery.plan_ttl;
        assert_eq!(ttl, Duration::from_secs(45));
        for bad in [
            "rate(1 minutes)",
            "rate(2 minute)",
            "cron(0 * * * ? *)",
            "0",
            "1.5",
        ] {
            let err = with(&[("COLLECTION_PERIOD", bad)]).unwrap_err();
            assert!(
                matches!(
                    &err,
                    ConfigError::Invalid {
                        name: "COLLECTION_PERIOD",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
        assert!(with(&[("METRICS_MAX_AGE_SECS", "0")]).is_err());
        assert!(with(&[("PLAN_TTL_SECS", "-5")]).is_err());
    }
}
