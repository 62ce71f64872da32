//! The three functions' environment: the common variables and the parsing of values.
//!
//! The common variables are `CLUSTERS_DIR` (with its one default), `EVENT_BUS_NAME` and
//! `LOG_LEVEL`; required, numeric and boolean values fail with errors that name the variable.
//!
//! Variables are read through a lookup closure ([`Env`]), the process environment in the
//! functions' `main` and a map in tests. A value is trimmed, and an empty one counts as unset.
//! Every variable of the three functions is listed in the README ("The functions").

use std::path::PathBuf;
use std::str::FromStr;

/// The directory of the cluster files.
pub const CLUSTERS_DIR: &str = "CLUSTERS_DIR";
/// Where the cluster files are when `CLUSTERS_DIR` is not set: the `clusters/` directory the
/// stack bundles with every function, as a layer Lambda mounts under `/opt`
/// (`infra/clusters-layer`).
pub const DEFAULT_CLUSTERS_DIR: &str = "/opt/clusters";
/// The EventBridge bus plans and execution reports are published on.
pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
/// The log level (`debug`, `info`, `warning`, `error`); read by [`crate::logging::init`].
pub const LOG_LEVEL: &str = "LOG_LEVEL";
/// A `tracing` filter that wins over [`LOG_LEVEL`] when set.
pub const RUST_LOG: &str = "RUST_LOG";

/// A variable that is missing or has a value that is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set (or empty).
    #[error("environment variable {0} is not set (or empty)")]
    Missing(&'static str),
    /// A variable has a value that is not allowed.
    #[error("environment variable {name} is `{value}`: expected {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
}

/// The environment, through a lookup closure.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets (`%(VAR)` references): never printed.
        f.write_str("Env")
    }
}

impl<'a> Env<'a> {
    /// Variables looked up with `lookup`.
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env { lookup }
    }

    /// The process environment.
    pub fn process() -> Env<'static> {
        Env::new(&crate::process_env)
    }

    /// The lookup itself, e.g. for `%(VAR)` substitution in cluster files.
    pub fn lookup(&self) -> &'a dyn Fn(&str) -> Option<String> {
        self.lookup
    }

    /// The value of `name`, trimmed; `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The value of a required variable.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    /// A number, when set; `expected` describes the allowed values for the error.
    pub fn number<T: FromStr>(
        &self,
        name: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => value.parse().map(Some).map_err(|_| ConfigError::Invalid {
                name,
                value,
                expected,
            }),
        }
    }

    /// A whole number within `range`, when set.
    pub fn number_in(
        &self,
        name: &'static str,
        range: std::ops::RangeInclusive<u64>,
        expected: &'static str,
    ) -> Result<Option<u64>, ConfigError> {
        match self.number::<u64>(name, expected)? {
            Some(n) if !range.contains(&n) => Err(ConfigError::Invalid {
                name,
                value: n.to_string(),
                expected,
            }),
            n => Ok(n),
        }
    }

    /// A boolean: `true`, `1`, `yes` or `false`, `0`, `no` (any case); unset is false.
    /// Anything else is refused rather than guessed.
    pub fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false" | "0" | "no") => Ok(false),
            Some("true" | "1" | "yes") => Ok(true),
            Some(_) => Err(ConfigError::Invalid {
                name,
                value: self.get(name).unwrap_or_default(),
                expected: "one of true, false, 1, 0, yes, no",
            }),
        }
    }

    /// `CLUSTERS_DIR`, else [`DEFAULT_CLUSTERS_DIR`].
    pub fn clusters_dir(&self) -> PathBuf {
        PathBuf::from(
            self.get(CLUSTERS_DIR)
                .unwrap_or_else(|| DEFAULT_CLUSTERS_DIR.to_owned()),
        )
    }

    /// `EVENT_BUS_NAME` (required).
    pub fn event_bus_name(&self) -> Result<String, ConfigError> {
        self.required(EVENT_BUS_NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn values_are_trimmed_and_empty_is_unset() {
        let lookup = with(&[("A", "  x "), ("B", "   ")]);
        let env = Env::new(&lookup);
        assert_eq!(env.get("A").as_deref(), Some("x"));
        assert_eq!(env.get("B"), None);
        assert_eq!(env.required("B"), Err(ConfigError::Missing("B")));
        assert_eq!(
            ConfigError::Missing("B").to_string(),
            "environment variable B is not set (or empty)"
        );
    }

    #[test]
    fn the_clusters_dir_has_one_default() {
        let none = with(&[]);
        assert_eq!(
            Env::new(&none).clusters_dir(),
            PathBuf::from("/opt/clusters")
        );
        // On Lambda or not, the default does not move.
        let lambda = with(&[("LAMBDA_TASK_ROOT", "/var/task")]);
        assert_eq!(
            Env::new(&lambda).clusters_dir(),
            PathBuf::from("/opt/clusters")
        );
        let set = with(&[(CLUSTERS_DIR, "/etc/clusters")]);
        assert_eq!(
            Env::new(&set).clusters_dir(),
            PathBuf::from("/etc/clusters")
        );
    }

    #[test]
    fn numbers_name_the_variable_when_they_are_not_allowed() {
        let lookup = with(&[("N", " 16 "), ("NEG", "-1"), ("ZERO", "0")]);
        let env = Env::new(&lookup);
        assert_eq!(env.number::<u64>("N", "whole"), Ok(Some(16)));
        assert_eq!(env.number::<u64>("UNSET", "whole"), Ok(None));
        let err = env.number::<u64>("NEG", "whole seconds ≥ 0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable NEG is `-1`: expected whole seconds ≥ 0"
        );
        assert_eq!(env.number_in("N", 1..=4096, "1 to 4096"), Ok(Some(16)));
        assert_eq!(
            env.number_in("ZERO", 1..=4096, "1 to 4096"),
            Err(ConfigError::Invalid {
                name: "ZERO",
                value: "0".into(),
                expected: "1 to 4096"
            })
        );
    }

    #[test]
    fn flags_are_strict() {
        for (value, expected) in [
            ("", false),
            ("TRUE", true),
            ("0", false),
            ("yes", true),
            ("No", false),
            ("1", true),
        ] {
            let lookup = with(&[("F", value)]);
            assert_eq!(Env::new(&lookup).flag("F"), Ok(expected), "{value:?}");
        }
        let unset = with(&[]);
        assert_eq!(Env::new(&unset).flag("F"), Ok(false));
        let lookup = with(&[("F", "ture")]);
        let err = Env::new(&lookup).flag("F").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable F is `ture`: expected one of true, false, 1, 0, yes, no"
        );
    }
}
