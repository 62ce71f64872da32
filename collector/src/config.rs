//! The collector's settings, read from its environment through [`shared::function_config`]
//! (every variable, its default and meaning: the README's table under "The functions").

use std::path::PathBuf;
use std::time::Duration;

use shared::function_config::Env;
pub use shared::function_config::{ConfigError, CLUSTERS_DIR};

use crate::sources::http::{HttpConfig, DEFAULT_CONCURRENCY, DEFAULT_PER_HOST_CONCURRENCY};

/// Where the reports go.
pub const METRICS_QUEUE_URL: &str = "METRICS_QUEUE_URL";
/// CloudWatch lag, seconds.
pub const CLOUDWATCH_LAG_SECS: &str = "CLOUDWATCH_LAG_SECS";
/// HTTP requests in flight.
pub const HTTP_CONCURRENCY: &str = "HTTP_CONCURRENCY";
/// HTTP requests in flight to one host.
pub const HTTP_PER_HOST_CONCURRENCY: &str = "HTTP_PER_HOST_CONCURRENCY";
/// Margin before the Lambda deadline, milliseconds.
pub const DEADLINE_MARGIN_MS: &str = "DEADLINE_MARGIN_MS";
/// Longest collection, seconds.
pub const COLLECT_TIMEOUT_SECS: &str = "COLLECT_TIMEOUT_SECS";

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
        Self::read(&Env::process())
    }

    /// From `env` (the process environment, or a map in tests).
    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut config = CollectorConfig::new(env.required(METRICS_QUEUE_URL)?, env.clusters_dir());
        if let Some(v) = env.number(CLOUDWATCH_LAG_SECS, "whole seconds ≥ 0")? {
            config.cloudwatch_lag = Duration::from_secs(v);
        }
        config.http.concurrency = env
            .number_in(HTTP_CONCURRENCY, 1..=4096, "a whole number from 1 to 4096")?
            .map_or(DEFAULT_CONCURRENCY, |v| v as usize);
        config.http.per_host_concurrency = env
            .number_in(
                HTTP_PER_HOST_CONCURRENCY,
                1..=4096,
                "a whole number from 1 to 4096",
            )?
            .map_or(DEFAULT_PER_HOST_CONCURRENCY, |v| v as usize);
        if let Some(v) = env.number(DEADLINE_MARGIN_MS, "whole milliseconds ≥ 0")? {
            config.deadline_margin = Duration::from_millis(v);
        }
        if let Some(v) = env.number_in(COLLECT_TIMEOUT_SECS, 1..=u64::MAX, "whole seconds ≥ 1")? {
            config.collect_timeout = Duration::from_secs(v);
        }
        Ok(config)
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
        CollectorConfig::read(&Env::new(&|name| map.get(name).cloned()))
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(from(&[]), Err(ConfigError::Missing(METRICS_QUEUE_URL)));
        let c = from(&[
            (METRICS_QUEUE_URL, "http://q"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
        ])
        .expect("valid");
        assert_eq!(c.clusters_dir, PathBuf::from("/opt/clusters"));
        assert_eq!(c.cloudwatch_lag, Duration::ZERO);
        assert_eq!(c.http.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(c.http.per_host_concurrency, 8);
        let c = from(&[
            (METRICS_QUEUE_URL, "http://q"),
            (CLUSTERS_DIR, "/tmp/c"),
            (CLOUDWATCH_LAG_SECS, "120"),
            (HTTP_CONCURRENCY, "16"),
            (HTTP_PER_HOST_CONCURRENCY, "4"),
            (DEADLINE_MARGIN_MS, "900"),
            (COLLECT_TIMEOUT_SECS, "20"),
        ])
        .expect("valid");
        assert_eq!(c.clusters_dir, PathBuf::from("/tmp/c"));
        assert_eq!(c.cloudwatch_lag, Duration::from_secs(120));
        assert_eq!(c.http.concurrency, 16);
        assert_eq!(c.http.per_host_concurrency, 4);
        assert_eq!(c.deadline_margin, Duration::from_millis(900));
        assert_eq!(c.collect_timeout, Duration::from_secs(20));
        assert_eq!(
            from(&[(METRICS_QUEUE_URL, "q"), (HTTP_CONCURRENCY, "0")]),
            Err(ConfigError::Invalid {
                name: HTTP_CONCURRENCY,
                value: "0".into(),
                expected: "a whole number from 1 to 4096"
            })
        );
        assert!(from(&[(METRICS_QUEUE_URL, "q"), (HTTP_CONCURRENCY, "4097")]).is_err());
        assert!(from(&[(METRICS_QUEUE_URL, "q"), (HTTP_PER_HOST_CONCURRENCY, "0")]).is_err());
        assert!(from(&[(METRICS_QUEUE_URL, "q"), (COLLECT_TIMEOUT_SECS, "0")]).is_err());
        let err = from(&[(METRICS_QUEUE_URL, "q"), (CLOUDWATCH_LAG_SECS, "-1")]).unwrap_err();
        assert!(err.to_string().contains(CLOUDWATCH_LAG_SECS), "{err}");
    }
}
