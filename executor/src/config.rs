//! The executor's configuration, read from its environment at start.

use std::path::PathBuf;

use shared::function_config::Env;
pub use shared::function_config::{ConfigError, CLUSTERS_DIR, EVENT_BUS_NAME};

/// Environment variable: `true` makes every plan a dry run (`true|false|1|0|yes|no`, default
/// false; anything else is refused at start rather than guessed).
pub const DRY_RUN: &str = "DRY_RUN";

/// What the executor reads from its environment at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `EVENT_BUS_NAME`: the bus execution reports are published on.
    pub bus_name: String,
    /// `DRY_RUN`: every plan is a dry run.
    pub dry_run: bool,
    /// `CLUSTERS_DIR`, or its default ([`shared::function_config::DEFAULT_CLUSTERS_DIR`]).
    pub clusters_dir: PathBuf,
}

impl Config {
    /// Reads the configuration from `env` (the process environment in `main`).
    pub fn read(env: &Env<'_>) -> Result<Config, ConfigError> {
        Ok(Config {
            bus_name: env.event_bus_name()?,
            dry_run: env.flag(DRY_RUN)?,
            clusters_dir: env.clusters_dir(),
        })
    }
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
    fn reads_the_bus_the_dry_run_flag_and_the_clusters_dir() {
        let c = read(&[("EVENT_BUS_NAME", "bus")]).expect("config");
        assert_eq!(
            c,
            Config {
                bus_name: "bus".into(),
                dry_run: false,
                clusters_dir: Path::new("/opt/clusters").to_owned(),
            }
        );
        let c = read(&[
            ("EVENT_BUS_NAME", "bus"),
            ("DRY_RUN", "TRUE"),
            ("CLUSTERS_DIR", "/etc/clusters"),
        ])
        .expect("config");
        assert!(c.dry_run);
        assert_eq!(c.clusters_dir, Path::new("/etc/clusters"));
        assert_eq!(read(&[]), Err(ConfigError::Missing("EVENT_BUS_NAME")));
        let err = read(&[("EVENT_BUS_NAME", "bus"), ("DRY_RUN", "ture")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable DRY_RUN is `ture`: expected one of true, false, 1, 0, yes, no"
        );
    }
}
