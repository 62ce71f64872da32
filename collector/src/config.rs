//! The collector's settings, from the Lambda's environment.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `METRICS_QUEUE_URL` | required | SQS queue the reports are sent to |
//! | `CLUSTERS_DIR` | `$LAMBDA_TASK_ROOT/clusters`, else `clusters` | the cluster definitions (loaded once per Lambda instance) |
//! | `CLOUDWATCH_LAG_SECS` | `0` | CloudWatch windows end at the last complete period before now − lag |
//! | `HTTP_CONCURRENCY` | `128` | HTTP requests in flight at once |
//! | `DEADLINE_MARGIN_MS` | `1500` | collection stops this long before the Lambda's deadline (time to send the reports) |
//! | `COLLECT_TIMEOUT_SECS` | `60` | collection never runs longer than this (also the bound when no deadline is known) |

use std::path::PathBuf;
use std::time::Duration;

use crate::sources::http::{HttpConfig, DEFAULT_CONCURRENCY};

/// Where the reports go.
pub const METRICS_QUEUE_URL: &str = "METRICS_QUEUE_URL";
/// Where the cluster files are.
pub const CLUSTERS_DIR: &str = "CLUSTERS_DIR";
/// CloudWatch lag, seconds.
pub const CLOUDWATCH_LAG_SECS: &str = "CLOUDWATCH_LAG_SECS";
/// HTTP requests in flight.
pub const HTTP_CONCURRENCY: &str = "HTTP_CONCURRENCY";
/// Margin before the Lambda deadline, milliseconds.
pub const DEADLINE_MARGIN_MS: &str = "DEADLINE_MARGIN_MS";
/// Longest collection, seconds.
pub const COLLECT_TIMEOUT_SECS: &str = "COLLECT_TIMEOUT_SECS";

/// A setting that could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    /// A variable has a value that is not allowed.
    #[error("environment variable {name} is `{value}`: {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
}

/// The collector's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectorConfig {
    /// SQS queue URL of the metrics reports.
    pub metrics_queue_url: String,
    /// Directory of the cluster files.
    pub clusters_dir: PathBuf,
    /// See [`crate::sources::cloudwatch`].
    pub cloudwatch_lag: Duration,
    /// Collection stops this long before the Lambda's deadline.
    pub deadline_margin: Duration,
    /// Collection never runs longer than this.
    pub collect_timeout: Duration,
    /// HTTP source settings.
    pub http: HttpConfig,
}

impl CollectorConfig {
    /// Defaults with `metrics_queue_url` and `clusters_dir` given.
    pub fn new(metrics_queue_url: impl Into<String>, clusters_dir: impl Into<PathBuf>) -> Self {
        CollectorConfig {
            metrics_queue_url: metrics_queue_url.into(),
            clusters_dir: clusters_dir.into(),
            cloudwatch_lag: Duration::ZERO,
            deadline_margin: Duration::from_millis(1500),
            collect_timeout: Duration::from_secs(60),
            http: HttpConfig::default(),
        }
    }

    /// From the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// From a variable lookup (the environment, or a map in tests).
    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let queue = get(METRICS_QUEUE_URL).ok_or(ConfigError::Missing(METRICS_QUEUE_URL))?;
        let clusters_dir = match get(CLUSTERS_DIR) {
            Some(dir) => PathBuf::from(dir),
            None => match get("LAMBDA_TASK_ROOT") {
                Some(root) => PathBuf::from(root).join("clusters"),
                None => PathBuf::from("clusters"),
            },
        };
        let mut config = CollectorConfig::new(queue, clusters_dir);
        if let Some(v) = number(&get, CLOUDWATCH_LAG_SECS, "whole seconds ≥ 0")? {
            config.cloudwatch_lag = Duration::from_secs(v);
        }
        if let Some(v) = number(&get, HTTP_CONCURRENCY, "a whole number from 1 to 4096")? {
            if !(1..=4096).contains(&v) {
                return Err(invalid(
                    HTTP_CONCURRENCY,
                    v.to_string(),
                    "a whole number from 1 to 4096",
                ));
            }
            config.http.concurrency = v as usize;
        } else {
            config.http.concurrency = DEFAULT_CONCURRENCY;
        }
        if let Some(v) = number(&get, DEADLINE_MARGIN_MS, "whole milliseconds ≥ 0")? {
            config.deadline_margin = Duration::from_millis(v);
        }
        if let Some(v) = number(&get, COLLECT_TIMEOUT_SECS, "whole seconds ≥ 1")? {
            if v == 0 {
                return Err(invalid(
                    COLLECT_TIMEOUT_SECS,
                    v.to_string(),
                    "whole seconds ≥ 1",
                ));
            }
            config.collect_timeout = Duration::from_secs(v);
        }
        Ok(config)
    }
}

fn number(
    get: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    expected: &'static str,
) -> Result<Option<u64>, ConfigError> {
    match get(name) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| invalid(name, text, expected)),
    }
}

fn invalid(name: &'static str, value: String, expected: &'static str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value,
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<CollectorConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CollectorConfig::from_lookup(&|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(from(&[]), Err(ConfigError::Missing(METRICS_QUEUE_URL)));
        let c = from(&[
            (METRICS_QUEUE_URL, "http://q"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
        ])
        .expect("valid");
        assert_eq!(c.clusters_dir, PathBuf::from("/var/task/clusters"));
        assert_eq!(c.cloudwatch_lag, Duration::ZERO);
        assert_eq!(c.http.concurrency, DEFAULT_CONCURRENCY);
        let c = from(&[
            (METRICS_QUEUE_URL, "http://q"),
            (CLUSTERS_DIR, "/tmp/c"),
            (CLOUDWATCH_LAG_SECS, "120"),
            (HTTP_CONCURRENCY, "16"),
            (DEADLINE_MARGIN_MS, "900"),
            (COLLECT_TIMEOUT_SECS, "20"),
        ])
        .expect("valid");
        assert_eq!(c.clusters_dir, PathBuf::from("/tmp/c"));
        assert_eq!(c.cloudwatch_lag, Duration::from_secs(120));
        assert_eq!(c.http.concurrency, 16);
        assert_eq!(c.deadline_margin, Duration::from_millis(900));
        assert_eq!(c.collect_timeout, Duration::from_secs(20));
        assert!(from(&[(METRICS_QUEUE_URL, "q"), (HTTP_CONCURRENCY, "0")]).is_err());
        assert!(from(&[(METRICS_QUEUE_URL, "q"), (CLOUDWATCH_LAG_SECS, "-1")]).is_err());
    }
}
