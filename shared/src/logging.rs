//! Logging: JSON lines on Lambda (CloudWatch Logs Insights can query them),
//! human-readable text in a terminal; always to stderr.
//!
//! The level comes from `RUST_LOG` when set (full `tracing` filter syntax), else
//! from `LOG_LEVEL` with the original project's values `debug`, `info`,
//! `warning`, `error` (default `info`).

use tracing_subscriber::EnvFilter;

use crate::function_config::{LOG_LEVEL, RUST_LOG};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Text for people.
    Text,
}

impl LogFormat {
    /// JSON inside Lambda (where `AWS_LAMBDA_FUNCTION_NAME` is set), text elsewhere.
    pub fn detect() -> Self {
        if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
            LogFormat::Json
        } else {
            LogFormat::Text
        }
    }
}

/// The `tracing` filter directive for an original `LOG_LEVEL` value.
pub fn level_directive(log_level: Option<&str>) -> Result<&'static str, String> {
    match log_level.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("info") => Ok("info"),
        Some("debug") => Ok("debug"),
        Some("warning") | Some("warn") => Ok("warn"),
        Some("error") => Ok("error"),
        Some("trace") => Ok("trace"),
        Some(other) => Err(format!(
            "LOG_LEVEL `{other}` is not one of debug, info, warning, error; using info"
        )),
    }
}

/// Install the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(format: LogFormat) {
    let (filter, problem) = match std::env::var(RUST_LOG) {
        Ok(spec) if !spec.trim().is_empty() => match EnvFilter::try_new(&spec) {
            Ok(f) => (f, None),
            Err(e) => (
                EnvFilter::new("info"),
                Some(format!("RUST_LOG `{spec}` is invalid ({e}); using info")),
            ),
        },
        _ => {
            let level = std::env::var(LOG_LEVEL).ok();
            match level_directive(level.as_deref()) {
                Ok(d) => (EnvFilter::new(d), None),
                Err(msg) => (EnvFilter::new("info"), Some(msg)),
            }
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .without_time() // Lambda stamps every line itself
            .try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
    if installed.is_ok() {
        if let Some(msg) = problem {
            tracing::warn!("{msg}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::level_directive;

    #[test]
    fn original_levels_map_to_tracing_levels() {
        assert_eq!(level_directive(None), Ok("info"));
        assert_eq!(level_directive(Some("warning")), Ok("warn"));
        assert_eq!(level_directive(Some("DEBUG")), Ok("debug"));
        assert_eq!(level_directive(Some("error")), Ok("error"));
        assert!(level_directive(Some("loud"))
            .unwrap_err()
            .contains("`loud`"));
    }
}
