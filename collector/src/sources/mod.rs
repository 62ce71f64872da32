//! The metric sources: one module per kind, each with a pure planning step (which requests
//! to send, deduplicated and batched) and an async `collect` that sends them.
//!
//! - [`cloudwatch`]: every CloudWatch statistic of the cycle through batched `GetMetricData`.
//! - [`http`]: the original's `third_party` HTTP JSON endpoints, one request per distinct source.
//! - [`json_value`]: the pure number extraction from a JSON response.
//!
//! Both produce `(Target, Outcome)` pairs; [`crate::report`] turns them into reports.

pub mod cloudwatch;
pub mod http;
pub mod json_value;

use shared::definition::{CloudWatchSource, ClusterDefinition, HttpSource, Statistic};
use shared::messages::MissingReason;

/// Where a collected value goes: one alias of one service of one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// ECS cluster name.
    pub cluster: String,
    /// ECS service name.
    pub service: String,
    /// The statistic's alias.
    pub alias: String,
}

impl Target {
    /// A target.
    pub fn new(cluster: &str, service: &str, alias: &str) -> Self {
        Target {
            cluster: cluster.to_owned(),
            service: service.to_owned(),
            alias: alias.to_owned(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.cluster, self.service, self.alias)
    }
}

/// A value, or the reason there is none.
pub type Outcome = Result<f64, MissingReason>;

/// Every HTTP statistic of the enabled services of `clusters` (the caller passes the
/// clusters to collect: enabled ones, possibly filtered).
pub fn http_items<'a>(
    clusters: &'a [&'a ClusterDefinition],
) -> impl Iterator<Item = (Target, &'a HttpSource, &'a Statistic)> + 'a {
    clusters.iter().flat_map(|cluster| {
        cluster.enabled_services().flat_map(move |service| {
            service
                .metric_sources
                .third_party
                .iter()
                .flat_map(move |source| {
                    source.statistics.iter().map(move |stat| {
                        (
                            Target::new(&cluster.name, &service.name, &stat.alias),
                            source,
                            stat,
                        )
                    })
                })
        })
    })
}

/// Every CloudWatch statistic of the enabled services of `clusters`.
pub fn cloudwatch_items<'a>(
    clusters: &'a [&'a ClusterDefinition],
) -> impl Iterator<Item = (Target, &'a CloudWatchSource, &'a Statistic)> + 'a {
    clusters.iter().flat_map(|cluster| {
        cluster.enabled_services().flat_map(move |service| {
            service
                .metric_sources
                .cloudwatch
                .iter()
                .flat_map(move |source| {
                    source.statistics.iter().map(move |stat| {
                        (
                            Target::new(&cluster.name, &service.name, &stat.alias),
                            source,
                            stat,
                        )
                    })
                })
        })
    })
}
