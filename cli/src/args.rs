//! The options several subcommands share, each defined once and flattened into their `Args`.

use std::path::PathBuf;

/// The template's default bus name.
pub const DEFAULT_BUS: &str = "ecs-autoscale";

/// `--cluster NAME`: the one cluster a command works on.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterName {
    /// The cluster (the name of its file in the clusters directory).
    #[arg(long, value_name = "NAME")]
    pub cluster: String,
}

/// `--clusters-dir DIR`: where the cluster files are.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterFiles {
    /// Directory of the cluster files.
    #[arg(
        long,
        env = "CLUSTERS_DIR",
        default_value = "clusters",
        value_name = "DIR"
    )]
    pub clusters_dir: PathBuf,
}

/// `--bus NAME`: the stack's event bus.
#[derive(Debug, Clone, clap::Args)]
pub struct EventBus {
    /// The stack's event bus.
    #[arg(long, env = "EVENT_BUS_NAME", default_value = DEFAULT_BUS, value_name = "NAME")]
    pub bus: String,
}

/// `--metrics-queue-url URL` (also `--queue-url`): the stack's metrics queue.
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsQueue {
    /// The metrics queue (the stack's output `MetricsQueueUrl`).
    #[arg(
        long,
        visible_alias = "queue-url",
        env = "METRICS_QUEUE_URL",
        value_name = "URL"
    )]
    pub metrics_queue_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Probe {
        #[command(flatten)]
        name: ClusterName,
        #[command(flatten)]
        files: ClusterFiles,
        #[command(flatten)]
        bus: EventBus,
        #[command(flatten)]
        queue: MetricsQueue,
    }

    #[test]
    fn the_shared_options_parse_with_their_defaults_and_the_queue_alias() {
        Probe::command().debug_assert();
        let probe = Probe::try_parse_from(["x", "--cluster", "c", "--queue-url", "http://q"])
            .expect("parses");
        assert_eq!(probe.name.cluster, "c");
        assert_eq!(probe.queue.metrics_queue_url.as_deref(), Some("http://q"));
        // The defaults, unless the environment of the test run sets the variables.
        if std::env::var_os("CLUSTERS_DIR").is_none() {
            assert_eq!(probe.files.clusters_dir, PathBuf::from("clusters"));
        }
        if std::env::var_os("EVENT_BUS_NAME").is_none() {
            assert_eq!(probe.bus.bus, DEFAULT_BUS);
        }
    }
}
