//! Cluster definitions: the `clusters/NAME.yml` files users write.
//!
//! Loading happens in two stages (see `load/`): the YAML text becomes a tree of
//! nodes that remember their line and column, then that tree is checked field by
//! field into the validated types below. Every problem in a file is reported at
//! once, and one bad file never prevents the others from loading.
//!
//! The format is the original Python project's, unchanged; our extensions are
//! optional keys documented in the README's configuration reference.

mod disruption;
mod error;
mod json_path;
mod load;
pub mod schema;
mod vars;
mod yaml;

use std::path::PathBuf;
use std::time::Duration;

pub use disruption::{
    time_zone, time_zones, BudgetValue, ConsolidationWindow, Disruption, DisruptionBudget,
    DrainTimeoutAction, Minutes, ServiceDisruption, DAY_NAMES, DEFAULT_CONSOLIDATION_THRESHOLD,
    DEFAULT_DISRUPTION_BUDGET, DEFAULT_DRAIN_ABORT_COOLDOWN_SECS,
};
pub use error::{DefinitionError, FileErrors, Position};
pub use json_path::{JsonPath, PathSegment};
pub use load::{
    load_dir, load_dir_with, load_file, load_file_with, parse_definition, parse_definition_with,
    LoadReport, Vars, MAX_FILE_BYTES,
};
pub use vars::{substitute, VarError};
pub use yaml::MAX_DEPTH;

use crate::expr::Expr;
use crate::resources::Resources;

/// Seconds a service waits after scaling down before it may scale down again, by default.
pub const DEFAULT_SCALE_DOWN_COOLDOWN_SECS: u64 = 300;
/// Seconds a service waits after scaling up before it may scale up again, by default.
pub const DEFAULT_SCALE_UP_COOLDOWN_SECS: u64 = 0;
/// The HTTP timeout of a `third_party` source when the file gives none.
pub const DEFAULT_HTTP_TIMEOUT_SECS: f64 = 5.0;
/// The CloudWatch period when the file gives none (the original's default).
pub const DEFAULT_CLOUDWATCH_PERIOD_SECS: u32 = 300;
/// The CloudWatch namespace when the file gives none (the original's default).
pub const DEFAULT_CLOUDWATCH_NAMESPACE: &str = "AWS/ECS";
/// The tolerance of `kind: average` target tracking when the file gives none (as Kubernetes'
/// HPA): no change while the value is within 10 % of the target.
pub const DEFAULT_TRACKING_TOLERANCE: f64 = 0.1;
/// How long an instance may drain before the planner reports it as stuck.
pub const DEFAULT_DRAIN_TIMEOUT_SECS: u64 = 900;
/// How long an InService instance may go without registering with ECS, from its launch,
/// before the planner stops counting it as booting capacity.
pub const DEFAULT_REGISTRATION_GRACE_SECS: u64 = 600;

/// One ECS cluster's autoscaling definition, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterDefinition {
    /// The ECS cluster name: the file's stem.
    pub name: String,
    /// The file it was loaded from.
    pub source: PathBuf,
    /// Exact name of the cluster's Auto Scaling group.
    pub autoscale_group: String,
    /// `false` leaves the cluster alone.
    pub enabled: bool,
    /// Headroom kept free after placement: a task of this size must still fit (CPU units).
    pub cpu_buffer: u32,
    /// Headroom kept free after placement (MiB).
    pub mem_buffer: u32,
    /// The group's MinSize to enforce, when the file sets `min`.
    pub min: Option<u32>,
    /// The group's MaxSize to enforce, when the file sets `max`.
    pub max: Option<u32>,
    /// Plan fully but never change anything.
    pub dry_run: bool,
    /// Instances the planner may start draining in one plan, when the file sets it: then it
    /// replaces the disruption budget (`0` disables consolidation).
    pub max_drain_per_cycle: Option<u32>,
    /// At most this many `awsvpc` tasks per instance (ENIs), when the file sets it.
    pub max_tasks_per_instance: Option<u32>,
    /// An instance this system drained that still runs tasks this long after its drain gets
    /// [`Disruption::drain_timeout_action`].
    pub drain_timeout: Duration,
    /// Budgets, consolidation windows and threshold, and the drain deadline's action.
    pub disruption: Disruption,
    /// An InService instance without a container instance this long after its launch no
    /// longer counts as booting capacity (and is reported).
    pub registration_grace: Duration,
    /// Size of a new instance, for clusters that may have none registered to learn it from.
    pub instance_capacity: Option<Resources>,
    /// Services in file order.
    pub services: Vec<ServiceDefinition>,
}

impl ClusterDefinition {
    /// The service definition of that name.
    pub fn service(&self, name: &str) -> Option<&ServiceDefinition> {
        self.services.iter().find(|s| s.name == name)
    }

    /// Services with `enabled: true`.
    pub fn enabled_services(&self) -> impl Iterator<Item = &ServiceDefinition> {
        self.services.iter().filter(|s| s.enabled)
    }
}

/// How one ECS service scales.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDefinition {
    /// Exact ECS service name.
    pub name: String,
    /// `false` leaves the service alone.
    pub enabled: bool,
    /// Fewest tasks.
    pub min: u32,
    /// Most tasks.
    pub max: u32,
    /// Where the service's metrics come from.
    pub metric_sources: MetricSources,
    /// Step rules in file order; the first that matches wins.
    pub events: Vec<StepEvent>,
    /// Desired tasks from a metric and its target, when set (see [`TrackingKind`]).
    pub target_tracking: Option<TargetTracking>,
    /// Minimum time between a scale-up and the next scale-up.
    pub scale_up_cooldown: Duration,
    /// Minimum time between any scaling and the next scale-down.
    pub scale_down_cooldown: Duration,
    /// `disruption: never` keeps its instances from being drained for consolidation.
    pub disruption: ServiceDisruption,
}

impl ServiceDefinition {
    /// Every alias the service's sources define, in file order.
    pub fn aliases(&self) -> impl Iterator<Item = &Statistic> {
        let http = self
            .metric_sources
            .third_party
            .iter()
            .flat_map(|s| s.statistics.iter());
        let cw = self
            .metric_sources
            .cloudwatch
            .iter()
            .flat_map(|s| s.statistics.iter());
        http.chain(cw)
    }

    /// The statistic behind an alias.
    pub fn statistic(&self, alias: &str) -> Option<&Statistic> {
        self.aliases().find(|s| s.alias == alias)
    }
}

/// The two kinds of source of the original format.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricSources {
    /// HTTP JSON endpoints (the original's `third_party`).
    pub third_party: Vec<HttpSource>,
    /// CloudWatch metrics.
    pub cloudwatch: Vec<CloudWatchSource>,
}

/// HTTP method of a `third_party` source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// The default.
    Get,
    /// Sends `payload` as the JSON body.
    Post,
}

/// An HTTP endpoint returning JSON (for example the RabbitMQ management API).
#[derive(Clone, PartialEq)]
pub struct HttpSource {
    /// With `%(VAR)` already substituted; may carry credentials (`https://user:pass@host/...`).
    pub url: String,
    /// GET or POST.
    pub method: HttpMethod,
    /// JSON body, sent when present.
    pub payload: Option<serde_json::Value>,
    /// Extra request headers (values may be secrets).
    pub headers: Vec<(String, String)>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Values read from the response.
    pub statistics: Vec<Statistic>,
    /// What the source allows beyond the safe defaults (redirects, addresses).
    pub allow: HttpAllowances,
}

/// What an HTTP source may do beyond the defaults, each a key of the source (`allow_...`).
/// By default a source follows redirects only within its origin (scheme, host and port), never
/// sends its payload again to another path, and never reaches a link-local or instance
/// metadata address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct HttpAllowances {
    /// `allow_cross_origin_redirects`: follow a redirect to another origin (without the URL's
    /// credentials and the source's headers, which are never sent to another origin).
    pub cross_origin_redirects: bool,
    /// `allow_post_redirects`: follow a 307/308 redirect of a POST to another path, sending
    /// the payload again.
    pub post_redirects: bool,
    /// `allow_link_local`: the URL and its redirects may reach link-local and instance
    /// metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::/32), e.g. the ECS task
    /// metadata endpoint.
    pub link_local: bool,
}

impl std::fmt::Debug for HttpSource {
    // Secrets live in URLs and header values: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSource")
            .field("url", &crate::redact::redact_url(&self.url))
            .field("method", &self.method)
            .field("payload", &self.payload.as_ref().map(|_| "…"))
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("statistics", &self.statistics)
            .field("allow", &self.allow)
            .finish()
    }
}

/// A CloudWatch metric, as the original format gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudWatchSource {
    /// For example `AWS/ECS`.
    pub namespace: String,
    /// For example `CPUUtilization`.
    pub metric_name: String,
    /// Exact dimensions of the metric.
    pub dimensions: Vec<Dimension>,
    /// Seconds per datapoint.
    pub period: u32,
    /// Statistics read for that metric.
    pub statistics: Vec<Statistic>,
}

/// A CloudWatch dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimension {
    /// Dimension name, e.g. `ServiceName`.
    pub name: String,
    /// Dimension value.
    pub value: String,
}

/// One value read from a source, named by an alias that rules refer to.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistic {
    /// For `third_party`: a field path into the JSON; for CloudWatch: the statistic
    /// (`Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount`, or a percentile `p99.9`).
    pub name: String,
    /// The name rules use.
    pub alias: String,
    /// Value used when the source returns nothing for it.
    pub default: Option<f64>,
    /// For `third_party` statistics, the parsed field path.
    pub path: Option<JsonPath>,
}

/// A step rule: when `min ≤ metric ≤ max` (bounds inclusive, `None` unbounded) add `action` tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct StepEvent {
    /// The metric expression.
    pub metric: Expr,
    /// Tasks to add (negative: remove; 0: hold).
    pub action: i64,
    /// Inclusive lower bound.
    pub min: Option<f64>,
    /// Inclusive upper bound.
    pub max: Option<f64>,
}

impl StepEvent {
    /// Whether the value falls within the event's inclusive bounds.
    pub fn matches(&self, value: f64) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }
}

/// Target tracking: the count that brings `metric` to `target`, as its [`TrackingKind`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetTracking {
    /// The metric expression, e.g. `queue_length` or `cpu`.
    pub metric: Expr,
    /// `total`: the value one task handles; `average`: the per-task value to hold.
    pub target: f64,
    /// What the metric measures.
    pub kind: TrackingKind,
}

/// What a target-tracked metric measures, which decides the count it asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrackingKind {
    /// A total the tasks share (a queue length): ⌈value ÷ target⌉ tasks. The default.
    Total,
    /// A per-task average (CPUUtilization): ⌈running × value ÷ target⌉ tasks, with no change
    /// while the value is within `tolerance` of the target (|value ÷ target − 1| ≤ tolerance),
    /// and never from zero running tasks.
    Average {
        /// A fraction of the target, in [0, 1); [`DEFAULT_TRACKING_TOLERANCE`] by default.
        tolerance: f64,
    },
}

#[cfg(test)]
mod tests;
