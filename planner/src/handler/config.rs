//! The planner's configuration, read from its environment at start.

use std::path::PathBuf;

use shared::function_config::Env;
pub use shared::function_config::{ConfigError, CLUSTERS_DIR, EVENT_BUS_NAME};

/// Environment variable: URL of the executor's FIFO plans queue (required).
pub const PLANS_QUEUE_URL: &str = "PLANS_QUEUE_URL";

/// What the planner reads from its environment at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `PLANS_QUEUE_URL`.
    pub plans_queue_url: String,
    /// `EVENT_BUS_NAME`.
    pub bus_name: String,
    /// `CLUSTERS_DIR`, or its default ([`shared::function_config::DEFAULT_CLUSTERS_DIR`]).
    pub clusters_dir: PathBuf,
}

impl Config {
    /// Reads the configuration from `env` (the process environment in `main`).
    pub fn read(env: &Env<'_>) -> Result<Config, ConfigError> {
        Ok(Config {
            plans_queue_url: env.required(PLANS_QUEUE_URL)?,
            bus_name: env.event_bus_name()?,
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
    fn reads_required_variables_and_defaults_the_clusters_dir() {
        let c = read(&[
            ("PLANS_QUEUE_URL", " http://q/plans.fifo "),
            ("EVENT_BUS_NAME", "bus"),
        ])
        .expect("config");
        assert_eq!(c.plans_queue_url, "http://q/plans.fifo");
        assert_eq!(c.bus_name, "bus");
        assert_eq!(c.clusters_dir, Path::new("/opt/clusters"));
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
}
