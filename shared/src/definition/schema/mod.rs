//! The cluster file's format as types, for its JSON Schema only (`ecs-autoscale schema cluster`).
//!
//! The loader (`load/`) does not use these: it reads a position-keeping YAML tree field by field
//! so that every error has its line and column. These types restate the format — keys, value
//! types, defaults, bounds and the README's one-line meanings — for editors. `tests.rs` keeps the
//! two from drifting: each mapping's keys here are compared with the keys the loader accepts
//! there ([`super::load::MAPPING_KEYS`]), and the schema must accept the files the loader accepts
//! and reject the same kinds of mistakes. Nothing constructs these types.
//!
//! Every optional key also accepts `null`: the loader reads `key: null` (or `key:`) as absent.

mod values;

use std::collections::BTreeMap;

use schemars::JsonSchema;

use super::{
    DEFAULT_CLOUDWATCH_NAMESPACE, DEFAULT_CLOUDWATCH_PERIOD_SECS, DEFAULT_CONSOLIDATION_THRESHOLD,
    DEFAULT_DRAIN_ABORT_COOLDOWN_SECS, DEFAULT_DRAIN_TIMEOUT_SECS, DEFAULT_HTTP_TIMEOUT_SECS,
    DEFAULT_REGISTRATION_GRACE_SECS, DEFAULT_SCALE_DOWN_COOLDOWN_SECS,
    DEFAULT_SCALE_UP_COOLDOWN_SECS,
};
pub use values::*;

/// A cluster file, `clusters/NAME.yml`: how the ECS cluster NAME (the file name without its
/// extension) scales. Unknown keys are errors; `%(VAR)` in a string value is replaced by the
/// environment variable VAR when the file is loaded. Check a file with `ecs-autoscale validate`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, title = "ecs-autoscale cluster file")]
pub struct Cluster {
    /// Exact name of the cluster's Auto Scaling group.
    pub autoscale_group: Text,
    /// `false` leaves the cluster alone.
    #[schemars(extend("default" = true))]
    pub enabled: Option<Flag>,
    /// Headroom in CPU units: after placement, a task of this size must still fit somewhere.
    #[schemars(extend("default" = 0))]
    pub cpu_buffer: Option<Count>,
    /// Headroom in MiB: after placement, a task of this size must still fit somewhere.
    #[schemars(extend("default" = 0))]
    pub mem_buffer: Option<Count>,
    /// The group's MinSize to enforce (applied when given; `min ≤ max`).
    pub min: Option<Count>,
    /// The group's MaxSize to enforce (applied when given; `min ≤ max`).
    pub max: Option<Count>,
    /// Service name → service definition.
    #[schemars(extend("default" = {}))]
    pub services: Option<BTreeMap<String, Service>>,
    /// Plan fully, change nothing; plans and outcomes are marked dry-run.
    #[schemars(extend("default" = false))]
    pub dry_run: Option<Flag>,
    /// Busy instances the planner may start draining in one plan, the original's limit: when
    /// set, it replaces `disruption_budget` (`0` disables consolidation). Unset by default.
    pub max_drain_per_cycle: Option<Count>,
    /// At most this many `awsvpc` tasks on one instance (each takes an elastic network interface:
    /// the instance type's ENIs less its primary one, without ENI trunking); at least 1. Unset:
    /// no limit is modelled.
    pub max_tasks_per_instance: Option<Count>,
    /// Seconds: an instance this system drained that still runs tasks this long after its drain
    /// gets `drain_timeout_action`.
    #[schemars(extend("default" = DEFAULT_DRAIN_TIMEOUT_SECS))]
    pub drain_timeout: Option<Seconds>,
    /// What happens to an instance still draining with tasks after `drain_timeout`.
    #[schemars(extend("default" = "abort"))]
    pub drain_timeout_action: Option<DrainTimeoutAction>,
    /// Seconds an instance whose drain was aborted is not drained again.
    #[schemars(extend("default" = DEFAULT_DRAIN_ABORT_COOLDOWN_SECS))]
    pub drain_abort_cooldown: Option<Seconds>,
    /// Instances of the group that may be DRAINING at once: a count (`2`), a percentage of the
    /// group (`"50%"`, rounded up), or `{inside_windows, outside_windows}`; at least 1.
    /// Empty instances do not count. Ignored when `max_drain_per_cycle` is set.
    #[schemars(extend("default" = "50%"))]
    pub disruption_budget: Option<DisruptionBudget>,
    /// When busy instances may be drained for consolidation (default: always). Outside every
    /// window only empty instances and the surplus above `max` are drained; scale-up is never held.
    #[schemars(extend("default" = []))]
    pub consolidation_windows: Option<Vec<ConsolidationWindow>>,
    /// A busy instance whose drain would not shrink the group is drained only while less than
    /// this share of its CPU and of its memory is in use.
    #[schemars(extend("default" = DEFAULT_CONSOLIDATION_THRESHOLD))]
    pub consolidation_threshold: Option<Threshold>,
    /// Seconds after its launch an InService instance of the group may take to register with
    /// ECS; after that it stops counting as capacity on its way and is reported (default 600, 10 minutes).
    #[schemars(extend("default" = DEFAULT_REGISTRATION_GRACE_SECS))]
    pub registration_grace: Option<Seconds>,
    /// Size of a new instance of a type the group may launch that no registered instance shows
    /// (instead of EC2's description of the type), or of any new instance when the group's
    /// types cannot be known (default: learnt from the cluster and EC2).
    pub instance_capacity: Option<InstanceCapacity>,
}

/// The size of a new instance.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct InstanceCapacity {
    /// CPU units (1024 per vCPU).
    pub cpu: PositiveCount,
    /// Memory in MiB.
    pub memory: PositiveCount,
}

/// How one ECS service scales (the key is the exact ECS service name).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Service {
    /// `false` leaves the service alone.
    #[schemars(extend("default" = true))]
    pub enabled: Option<Flag>,
    /// Fewest tasks (`min ≤ max`).
    pub min: Count,
    /// Most tasks (`min ≤ max`).
    pub max: Count,
    /// Where the service's metrics come from.
    pub metric_sources: Option<MetricSources>,
    /// Step rules, first match wins.
    #[schemars(extend("default" = []))]
    pub events: Option<Vec<StepEvent>>,
    /// Desired tasks = ⌈metric ÷ target⌉, clamped to `[min, max]`.
    pub target_tracking: Option<TargetTracking>,
    /// Seconds after a scale-up before the next scale-up.
    #[schemars(extend("default" = DEFAULT_SCALE_UP_COOLDOWN_SECS))]
    pub scale_up_cooldown: Option<Seconds>,
    /// Seconds after any scaling before a scale-down.
    #[schemars(extend("default" = DEFAULT_SCALE_DOWN_COOLDOWN_SECS))]
    pub scale_down_cooldown: Option<Seconds>,
    /// `never`: instances running its tasks are not drained for consolidation (only for the
    /// surplus above the cluster's `max`). The service tag `ecs-autoscale:do-not-disrupt=true`
    /// does the same.
    #[schemars(extend("default" = "allowed"))]
    pub disruption: Option<ServiceDisruption>,
}

/// Where a service's metrics come from.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct MetricSources {
    /// HTTP endpoints answering JSON (e.g. the RabbitMQ management API).
    pub third_party: Option<Vec<HttpSource>>,
    /// CloudWatch metrics.
    pub cloudwatch: Option<Vec<CloudWatchSource>>,
}

/// An HTTP endpoint answering JSON.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HttpSource {
    /// An http(s) URL; may carry basic-auth credentials (`https://%(USER):%(PASS)@host/...`);
    /// percent-encode `/`, `?` and `#` in a user name or password.
    pub url: Url,
    /// `GET` or `POST`.
    #[schemars(extend("default" = "GET"))]
    pub method: Option<HttpMethod>,
    /// Sent as the JSON body.
    pub payload: Option<Payload>,
    /// Extra headers; values may use `%(VAR)`: `Authorization: Bearer %(TOKEN)`.
    pub headers: Option<BTreeMap<String, HeaderValue>>,
    /// Per-request timeout in seconds (0 < t ≤ 300).
    #[schemars(extend("default" = DEFAULT_HTTP_TIMEOUT_SECS))]
    pub timeout: Option<HttpTimeout>,
    /// The values read from the response; `name` is a field path into it
    /// (`message_stats.publish_details.rate`, `items.0.messages_ready`).
    #[schemars(length(min = 1))]
    pub statistics: Vec<Statistic>,
    /// Follow a redirect to another origin (scheme, host and port); the URL's credentials and
    /// the headers are never sent there.
    #[schemars(extend("default" = false))]
    pub allow_cross_origin_redirects: Option<Flag>,
    /// Follow a 307/308 redirect of a POST to another path, sending the payload again.
    #[schemars(extend("default" = false))]
    pub allow_post_redirects: Option<Flag>,
    /// Let the URL and its redirects reach link-local and instance metadata addresses
    /// (169.254.0.0/16, fe80::/10, fd00:ec2::/32), e.g. the ECS task metadata endpoint.
    #[schemars(extend("default" = false))]
    pub allow_link_local: Option<Flag>,
}

/// A CloudWatch metric.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CloudWatchSource {
    /// The metric's namespace.
    #[schemars(extend("default" = DEFAULT_CLOUDWATCH_NAMESPACE))]
    pub namespace: Option<Text>,
    /// The metric's name, e.g. `CPUUtilization`.
    pub metric_name: Text,
    /// The metric's exact dimensions (at most 30).
    #[schemars(extend("default" = []), length(max = 30))]
    pub dimensions: Option<Vec<Dimension>>,
    /// Seconds per datapoint: a positive multiple of 60, or 1, 5, 10, 30 for high-resolution
    /// metrics.
    #[schemars(extend("default" = DEFAULT_CLOUDWATCH_PERIOD_SECS))]
    pub period: Option<Period>,
    /// The statistics read; `name`: `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount` or a
    /// percentile (`p90`, `p99.9`).
    #[schemars(length(min = 1))]
    pub statistics: Vec<CloudWatchStatisticEntry>,
}

/// A CloudWatch dimension.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Dimension {
    /// Dimension name, e.g. `ServiceName`.
    pub name: Text,
    /// Dimension value.
    pub value: Text,
}

/// One value read from an HTTP source, named by an alias that rules use.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Statistic {
    /// A field path into the JSON response (dot notation; a segment of digits indexes an array;
    /// `\.` is a dot inside a key).
    pub name: Text,
    /// The name rules use: letters, digits and `_`, not starting with a digit, unique within the
    /// service; not a function name, a Python keyword, or a name starting with `__`.
    pub alias: Alias,
    /// Value used when the source returns nothing for it (no datapoints, missing field, error).
    pub default: Option<Number>,
}

/// One CloudWatch statistic, named by an alias that rules use.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CloudWatchStatisticEntry {
    /// `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount` or a percentile (`p90`, `p99.9`).
    pub name: CloudWatchStatistic,
    /// The name rules use: letters, digits and `_`, not starting with a digit, unique within the
    /// service; not a function name, a Python keyword, or a name starting with `__`.
    pub alias: Alias,
    /// Value used when the source returns nothing for it (no datapoints, missing field, error).
    pub default: Option<Number>,
}

/// A step rule (the original's semantics): when `min ≤ metric ≤ max`, add `action` tasks.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StepEvent {
    /// A metric expression over the service's aliases.
    pub metric: Expression,
    /// Tasks to add; negative removes; `0` holds (and stops the search).
    pub action: WholeNumber,
    /// Inclusive lower bound; `null` is unbounded.
    pub min: Option<Number>,
    /// Inclusive upper bound; `null` is unbounded.
    pub max: Option<Number>,
}

/// Target tracking: desired tasks = ⌈metric ÷ target⌉ (`kind: total`) or ⌈running × metric ÷ target⌉
/// (`kind: average`), clamped to `[min, max]`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TargetTracking {
    /// A metric expression over the service's aliases.
    pub metric: Expression,
    /// The value of the metric one task handles (> 0).
    pub target: PositiveNumber,
    /// How the value relates to the task count: `total` (default) or `average`.
    pub kind: Option<TrackingKind>,
    /// `kind: average` only: the band around the target in which nothing changes (default 0.1).
    pub tolerance: Option<Tolerance>,
}

/// A disruption budget that differs inside and outside the consolidation windows.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct BudgetByWindow {
    /// While a consolidation window is open (always, without windows).
    #[schemars(extend("default" = "50%"))]
    pub inside_windows: Option<BudgetValue>,
    /// Outside every window (only the surplus above `max` drains then).
    #[schemars(extend("default" = "50%"))]
    pub outside_windows: Option<BudgetValue>,
}

/// A weekly window in which busy instances may be drained for consolidation.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ConsolidationWindow {
    /// The days it starts on (default: every day).
    pub days: Option<Vec<DayName>>,
    /// Local start time.
    pub start: ClockTime,
    /// Local end time, exclusive; before `start`: overnight into the next day; equal: a whole day.
    pub end: ClockTime,
    /// The IANA time zone of the times (`Europe/Paris`).
    #[schemars(extend("default" = "UTC"))]
    pub timezone: Option<TimeZoneName>,
}

#[cfg(test)]
mod tests;
