//! Logging: JSON lines on Lambda (CloudWatch Logs Insights can query them),
//! human-readable text in a terminal; always to stderr.
//!
//! The level comes from `RUST_LOG` when set (`tracing`'s target filter: `info`,
//! `planner=debug,info`; not the span and field filters of its `EnvFilter`, whose regex engine
//! would add half a megabyte to each function), else from `LOG_LEVEL` with the original
//! project's values `debug`, `info`, `warning`, `error` (default `info`).

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

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
    let (filter, problem) = filter(
        std::env::var(RUST_LOG).ok().as_deref(),
        std::env::var(LOG_LEVEL).ok().as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .without_time() // Lambda stamps every line itself
            .finish()
            .with(filter)
            .try_init(),
        LogFormat::Text => builder.with_target(false).finish().with(filter).try_init(),
    };
    if installed.is_ok() {
        if let Some(msg) = problem {
            tracing::warn!("{msg}");
        }
    }
}

/// The filter from `RUST_LOG` (wins when set and not blank) or `LOG_LEVEL`, and the warning to
/// log when the value was not understood (`info` is used then).
fn filter(rust_log: Option<&str>, log_level: Option<&str>) -> (Targets, Option<String>) {
    let info = || Targets::new().with_default(LevelFilter::INFO);
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        Some(spec) => match spec.parse::<Targets>() {
            Ok(targets) => (targets, None),
            Err(e) => (
                info(),
                Some(format!(
                    "RUST_LOG `{spec}` is not a target filter such as `info` or \
                     `planner=debug,info` ({e}); using info"
                )),
            ),
        },
        None => match level_directive(log_level) {
            Ok(d) => (d.parse().unwrap_or_else(|_| info()), None),
            Err(msg) => (info(), Some(msg)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{filter, level_directive};
    use tracing::Level;

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

    #[test]
    fn rust_log_wins_and_a_bad_value_falls_back_to_info() {
        let (f, problem) = filter(Some("planner=debug,warn"), Some("error"));
        assert!(problem.is_none());
        assert!(f.would_enable("planner::decide", &Level::DEBUG));
        assert!(!f.would_enable("shared", &Level::INFO));
        assert!(f.would_enable("shared", &Level::WARN));

        let (f, problem) = filter(Some("planner=[{x}]"), None);
        assert!(problem
            .expect("reported")
            .contains("RUST_LOG `planner=[{x}]`"));
        assert!(f.would_enable("planner", &Level::INFO));
        assert!(!f.would_enable("planner", &Level::DEBUG));

        let (f, problem) = filter(Some("  "), Some("warning"));
        assert!(problem.is_none());
        assert!(f.would_enable("executor", &Level::WARN));
        assert!(!f.would_enable("executor", &Level::INFO));

        let (f, problem) = filter(None, Some("loud"));
        assert!(problem.is_some());
        assert!(f.would_enable("executor", &Level::INFO));
    }
}
