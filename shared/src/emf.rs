//! CloudWatch Embedded Metric Format (EMF): the scaling decisions as metrics, for free.
//!
//! A Lambda that prints an EMF object as one line on standard output gets CloudWatch metrics
//! extracted from its log, with no `PutMetricData` call and no extra permission. This module
//! only *builds* the lines (pure, no I/O); the caller prints them, one per line, with
//! `println!` — not through `tracing`, whose formatting would wrap the object.
//!
//! The shape, per the EMF specification:
//!
//! ```json
//! {"_aws": {"Timestamp": 1764410400000,
//!           "CloudWatchMetrics": [{"Namespace": "ecs-autoscale",
//!                                  "Dimensions": [["Cluster", "Service"]],
//!                                  "Metrics": [{"Name": "DesiredTasks", "Unit": "Count"}]}]},
//!  "Cluster": "prod", "Service": "worker", "DesiredTasks": 3}
//! ```
//!
//! Dimension values (strings) and metric values (numbers) are members of the root object
//! next to `_aws`, named after the dimension or metric; properties (e.g. `plan_id`) are
//! extra root members that are searchable in the logs but not metrics.
//!
//! The metrics of ecs-autoscale (namespace [`NAMESPACE`]), built by [`planner_lines`] and
//! [`executor_lines`] and shown on the stack's dashboard (`infra/template.yaml`):
//!
//! | dimensions | metric | unit | from |
//! | --- | --- | --- | --- |
//! | Cluster, Service | `DesiredTasks` (the plan's target), `RunningTasks` | Count | planner |
//! | Cluster | `GroupDesiredCapacity` (the plan's target), `GroupInServiceInstances` | Count | planner |
//! | Cluster | `InstancesToDrain`, `InstancesToTerminate` | Count | planner |
//! | Cluster | `InstancesDrained`, `InstancesTerminated`, `InstancesReactivated`, `ServicesScaled`, `ActionsFailed`, `ActionsStale` | Count | executor |

use serde_json::{Map, Value};

use crate::messages::{ActionStatus, ExecutionReport, ScalingPlan};
use crate::state::ClusterState;
use crate::time::Timestamp;

/// The CloudWatch namespace of every ecs-autoscale metric.
pub const NAMESPACE: &str = "ecs-autoscale";
/// EMF allows at most 100 metrics in one object.
pub const MAX_METRICS: usize = 100;
/// And at most 30 dimensions in a dimension set.
pub const MAX_DIMENSIONS: usize = 30;

/// Dimension: the ECS cluster name.
pub const DIM_CLUSTER: &str = "Cluster";
/// Dimension: the ECS service name.
pub const DIM_SERVICE: &str = "Service";

/// Metric names (see the module docs for what each one is).
pub mod metric {
    /// The service's desired task count after the plan.
    pub const DESIRED_TASKS: &str = "DesiredTasks";
    /// The service's running task count the planner saw.
    pub const RUNNING_TASKS: &str = "RunningTasks";
    /// The group's desired capacity after the plan.
    pub const GROUP_DESIRED_CAPACITY: &str = "GroupDesiredCapacity";
    /// The group's instances in the `InService` lifecycle state.
    pub const GROUP_IN_SERVICE_INSTANCES: &str = "GroupInServiceInstances";
    /// Instances the plan drains.
    pub const INSTANCES_TO_DRAIN: &str = "InstancesToDrain";
    /// Instances the plan terminates.
    pub const INSTANCES_TO_TERMINATE: &str = "InstancesToTerminate";
    /// Instances the executor set DRAINING.
    pub const INSTANCES_DRAINED: &str = "InstancesDrained";
    /// Instances the executor terminated.
    pub const INSTANCES_TERMINATED: &str = "InstancesTerminated";
    /// DRAINING instances the executor set ACTIVE again.
    pub const INSTANCES_REACTIVATED: &str = "InstancesReactivated";
    /// Services whose desired count the executor changed.
    pub const SERVICES_SCALED: &str = "ServicesScaled";
    /// Actions that failed.
    pub const ACTIONS_FAILED: &str = "ActionsFailed";
    /// Actions left because the world moved away from the plan.
    pub const ACTIONS_STALE: &str = "ActionsStale";
}

/// A CloudWatch unit (the subset ecs-autoscale uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of things.
    Count,
    /// A percentage.
    Percent,
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Milliseconds,
    /// No unit.
    None,
}

impl Unit {
    /// The unit's name in CloudWatch.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Percent => "Percent",
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

/// Why a line can't be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmfError {
    /// An object without metrics publishes nothing.
    #[error("an EMF line needs at least one metric")]
    NoMetrics,
    /// More than [`MAX_METRICS`].
    #[error("{0} metrics in one EMF line; at most {MAX_METRICS}")]
    TooManyMetrics(usize),
    /// More than [`MAX_DIMENSIONS`].
    #[error("{0} dimensions in one EMF line; at most {MAX_DIMENSIONS}")]
    TooManyDimensions(usize),
    /// A name or a dimension value that is empty.
    #[error("empty {0}")]
    Empty(&'static str),
    /// Two members of the root object with one name (or `_aws`).
    #[error("`{0}` is used twice in one EMF line (or is reserved)")]
    DuplicateName(String),
    /// NaN or infinite: not a JSON number.
    #[error("metric `{name}` is not finite ({value})")]
    NotFinite {
        /// The metric.
        name: String,
        /// Its value.
        value: f64,
    },
}

/// One EMF object: one dimension set, its metrics, and optional properties.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricLine {
    namespace: String,
    timestamp_ms: u64,
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, f64, Unit)>,
    properties: Vec<(String, Value)>,
}

impl MetricLine {
    /// An empty line in [`NAMESPACE`] at `timestamp_ms` (milliseconds since the Unix epoch).
    pub fn new(timestamp_ms: u64) -> Self {
        MetricLine::with_namespace(NAMESPACE, timestamp_ms)
    }

    /// An empty line in another namespace.
    pub fn with_namespace(namespace: impl Into<String>, timestamp_ms: u64) -> Self {
        MetricLine {
            namespace: namespace.into(),
            timestamp_ms,
            dimensions: Vec::new(),
            metrics: Vec::new(),
            properties: Vec::new(),
        }
    }

    /// Adds a dimension (all dimensions of a line form its one dimension set).
    pub fn dimension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.dimensions.push((name.into(), value.into()));
        self
    }

    /// Adds a metric.
    pub fn metric(mut self, name: impl Into<String>, value: f64, unit: Unit) -> Self {
        self.metrics.push((name.into(), value, unit));
        self
    }

    /// Adds a count metric.
    pub fn count(self, name: impl Into<String>, value: u64) -> Self {
        // u64 → f64 is exact up to 2^53, far beyond any count here.
        self.metric(name, value as f64, Unit::Count)
    }

    /// Adds a property: a root member that is logged, not a metric.
    pub fn property(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.push((name.into(), value.into()));
        self
    }

    /// The metrics' names, in order.
    pub fn metric_names(&self) -> impl Iterator<Item = &str> {
        self.metrics.iter().map(|(n, _, _)| n.as_str())
    }

    /// The EMF object.
    pub fn to_json(&self) -> Result<Value, EmfError> {
        if self.metrics.is_empty() {
            return Err(EmfError::NoMetrics);
        }
        if self.metrics.len() > MAX_METRICS {
            return Err(EmfError::TooManyMetrics(self.metrics.len()));
        }
        if self.dimensions.len() > MAX_DIMENSIONS {
            return Err(EmfError::TooManyDimensions(self.dimensions.len()));
        }
        if self.namespace.is_empty() {
            return Err(EmfError::Empty("namespace"));
        }
        let mut root = Map::new();
        let insert = |root: &mut Map<String, Value>, name: &str, value: Value| {
            if name == "_aws" || root.contains_key(name) {
                return Err(EmfError::DuplicateName(name.to_owned()));
            }
            root.insert(name.to_owned(), value);
            Ok(())
        };
        for (name, value) in &self.dimensions {
            if name.is_empty() {
                return Err(EmfError::Empty("dimension name"));
            }
            if value.is_empty() {
                return Err(EmfError::Empty("dimension value"));
            }
            insert(&mut root, name, Value::String(value.clone()))?;
        }
        let mut definitions = Vec::with_capacity(self.metrics.len());
        for (name, value, unit) in &self.metrics {
            if name.is_empty() {
                return Err(EmfError::Empty("metric name"));
            }
            let number =
                serde_json::Number::from_f64(*value).ok_or_else(|| EmfError::NotFinite {
                    name: name.clone(),
                    value: *value,
                })?;
            insert(&mut root, name, Value::Number(number))?;
            definitions.push(serde_json::json!({"Name": name, "Unit": unit.as_str()}));
        }
        for (name, value) in &self.properties {
            if name.is_empty() {
                return Err(EmfError::Empty("property name"));
            }
            insert(&mut root, name, value.clone())?;
        }
        let dimension_set: Vec<&str> = self.dimensions.iter().map(|(n, _)| n.as_str()).collect();
        root.insert(
            "_aws".to_owned(),
            serde_json::json!({
                "Timestamp": self.timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dimension_set],
                    "Metrics": definitions,
                }],
            }),
        );
        Ok(Value::Object(root))
    }

    /// The object as one line of JSON (no trailing newline), ready for `println!`.
    pub fn to_line(&self) -> Result<String, EmfError> {
        // A `Value` always serializes.
        Ok(self.to_json()?.to_string())
    }
}

/// Milliseconds since the Unix epoch (0 before it), as `_aws.Timestamp` wants them.
pub fn timestamp_ms(at: Timestamp) -> u64 {
    u64::try_from(at.as_millisecond()).unwrap_or(0)
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The planner's lines for one plan and the state it was made from: per service (ACTIVE in
/// `state`) its desired count after the plan and its running count; per cluster the group's
/// desired capacity after the plan (raised to `group_desired.to`, lowered by one per
/// termination), its instances in service, and the instances the plan drains and terminates.
/// Every line carries the `plan_id` property. A cluster without a group gets no group
/// metrics.
pub fn planner_lines(
    state: &ClusterState,
    plan: &ScalingPlan,
    timestamp_ms: u64,
) -> Vec<MetricLine> {
    let mut lines = Vec::new();
    for service in state.services.iter().filter(|s| s.status == "ACTIVE") {
        let desired = plan
            .actions
            .services
            .iter()
            .find(|c| c.service == service.name)
            .map_or(service.desired, |c| c.to);
        lines.push(
            MetricLine::new(timestamp_ms)
                .dimension(DIM_CLUSTER, plan.cluster.as_str())
                .dimension(DIM_SERVICE, service.name.as_str())
                .count(metric::DESIRED_TASKS, u64::from(desired))
                .count(metric::RUNNING_TASKS, u64::from(service.running))
                .property("plan_id", plan.plan_id.as_str()),
        );
    }
    let actions = &plan.actions;
    let mut cluster = MetricLine::new(timestamp_ms).dimension(DIM_CLUSTER, plan.cluster.as_str());
    if let Some(group) = &state.group {
        let raised = actions.group_desired.map_or(group.desired, |c| c.to);
        let desired = u64::from(raised).saturating_sub(count(actions.terminate.len()));
        let in_service = group
            .instances
            .iter()
            .filter(|i| i.lifecycle_state == "InService")
            .count();
        cluster = cluster
            .count(metric::GROUP_DESIRED_CAPACITY, desired)
            .count(metric::GROUP_IN_SERVICE_INSTANCES, count(in_service));
    }
    cluster = cluster
        .count(metric::INSTANCES_TO_DRAIN, count(actions.drain.len()))
        .count(
            metric::INSTANCES_TO_TERMINATE,
            count(actions.terminate.len()),
        )
        .property("plan_id", plan.plan_id.as_str());
    lines.push(cluster);
    lines
}

/// The executor's line for one execution report: the actions it *applied* (a dry run applies
/// none) by kind, and the failed and stale ones. Properties `plan_id` and `outcome`.
pub fn executor_lines(report: &ExecutionReport, timestamp_ms: u64) -> Vec<MetricLine> {
    let applied = |kind: &str| {
        count(
            report
                .actions
                .iter()
                .filter(|a| a.kind == kind && a.status == ActionStatus::Applied)
                .count(),
        )
    };
    let with_status =
        |status: ActionStatus| count(report.actions.iter().filter(|a| a.status == status).count());
    let outcome = serde_json::to_value(report.outcome).unwrap_or(Value::Null);
    vec![MetricLine::new(timestamp_ms)
        .dimension(DIM_CLUSTER, report.cluster.as_str())
        .count(metric::INSTANCES_DRAINED, applied("drain"))
        .count(metric::INSTANCES_TERMINATED, applied("terminate"))
        .count(metric::INSTANCES_REACTIVATED, applied("reactivate"))
        .count(metric::SERVICES_SCALED, applied("service"))
        .count(metric::ACTIONS_FAILED, with_status(ActionStatus::Failed))
        .count(metric::ACTIONS_STALE, with_status(ActionStatus::Stale))
        .property("plan_id", report.plan_id.as_str())
        .property("outcome", outcome)]
}

/// Writes each line to standard output inside Lambda, where the log capture hands it to
/// CloudWatch, which turns it into metrics. Elsewhere (the CLI, the demo, tests) standard
/// output is a person's, so the lines go to the debug log instead. A line CloudWatch would
/// drop is logged, not written.
pub fn emit(lines: &[MetricLine]) {
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    for line in lines {
        match line.to_line() {
            Ok(text) if in_lambda => println!("{text}"),
            Ok(text) => tracing::debug!(target: "emf", "{text}"),
            Err(e) => tracing::warn!(error = %e, "metric line not written"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{
        ActionOutcome, CountChange, InstanceRef, Outcome, PlanActions, ServiceChange,
        SCHEMA_VERSION,
    };
    use crate::resources::Resources;
    use crate::state::{GroupInstance, GroupState, ServiceState};
    use serde_json::json;

    /// Checks the EMF specification's structural rules on an object and returns its one
    /// metric directive: `_aws.Timestamp` is an integer, `CloudWatchMetrics` an array of
    /// directives with `Namespace`, `Dimensions` (arrays of names, each a string member of
    /// the root) and `Metrics` (`{Name, Unit}`, each a numeric member of the root).
    fn directive(line: &str) -> Value {
        assert!(!line.contains('\n'), "one line: {line}");
        let root: Value = serde_json::from_str(line).expect("JSON");
        let aws = &root["_aws"];
        assert!(aws["Timestamp"].is_u64(), "Timestamp: {aws}");
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .expect("CloudWatchMetrics");
        assert_eq!(directives.len(), 1);
        let d = directives[0].clone();
        assert!(d["Namespace"].is_string());
        for set in d["Dimensions"].as_array().expect("Dimensions") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= MAX_DIMENSIONS);
            for name in set {
                let name = name.as_str().expect("dimension names are strings");
                assert!(
                    root[name].is_string(),
                    "dimension {name} is a string member"
                );
            }
        }
        for m in d["Metrics"].as_array().expect("Metrics") {
            let name = m["Name"].as_str().expect("Name");
            assert!(m["Unit"].is_string(), "Unit of {name}");
            assert!(root[name].is_number(), "metric {name} is a number member");
        }
        d
    }

    #[test]
    fn builds_the_emf_shape() {
        let line = MetricLine::new(1_764_410_400_000)
            .dimension("Cluster", "prod")
            .dimension("Service", "worker")
            .count("DesiredTasks", 3)
            .metric("Lag", 1.5, Unit::Seconds)
            .property("plan_id", "p-1")
            .to_line()
            .expect("valid");
        let root: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(
            root,
            json!({
                "_aws": {
                    "Timestamp": 1_764_410_400_000_u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "ecs-autoscale",
                        "Dimensions": [["Cluster", "Service"]],
                        "Metrics": [
                            {"Name": "DesiredTasks", "Unit": "Count"},
                            {"Name": "Lag", "Unit": "Seconds"}
                        ]
                    }]
                },
                "Cluster": "prod",
                "Service": "worker",
                "DesiredTasks": 3.0,
                "Lag": 1.5,
                "plan_id": "p-1"
            })
        );
        directive(&line);
    }

    #[test]
    fn a_line_without_dimensions_has_one_empty_dimension_set() {
        let d = directive(&MetricLine::new(0).count("X", 1).to_line().expect("valid"));
        assert_eq!(d["Dimensions"], json!([[]]));
    }

    #[test]
    fn refuses_what_cloudwatch_would_drop() {
        assert_eq!(MetricLine::new(0).to_line(), Err(EmfError::NoMetrics));
        assert!(matches!(
            MetricLine::new(0)
                .metric("X", f64::NAN, Unit::None)
                .to_line(),
            Err(EmfError::NotFinite { .. })
        ));
        assert!(matches!(
            MetricLine::new(0)
                .metric("X", f64::INFINITY, Unit::None)
                .to_line(),
            Err(EmfError::NotFinite { .. })
        ));
        assert_eq!(
            MetricLine::new(0)
                .dimension("X", "a")
                .count("X", 1)
                .to_line(),
            Err(EmfError::DuplicateName("X".into()))
        );
        assert_eq!(
            MetricLine::new(0)
                .count("X", 1)
                .property("_aws", 1)
                .to_line(),
            Err(EmfError::DuplicateName("_aws".into()))
        );
        assert_eq!(
            MetricLine::new(0)
                .dimension("Cluster", "")
                .count("X", 1)
                .to_line(),
            Err(EmfError::Empty("dimension value"))
        );
        let many = (0..=MAX_METRICS).fold(MetricLine::new(0), |l, i| l.count(format!("m{i}"), 1));
        assert_eq!(
            many.to_line(),
            Err(EmfError::TooManyMetrics(MAX_METRICS + 1))
        );
        let wide = (0..=MAX_DIMENSIONS).fold(MetricLine::new(0).count("X", 1), |l, i| {
            l.dimension(format!("d{i}"), "v")
        });
        assert_eq!(
            wide.to_line(),
            Err(EmfError::TooManyDimensions(MAX_DIMENSIONS + 1))
        );
    }

    #[test]
    fn timestamps_are_epoch_milliseconds() {
        let at = Timestamp::from_millisecond(1_764_410_400_123).expect("in range");
        assert_eq!(timestamp_ms(at), 1_764_410_400_123);
        let before = Timestamp::from_second(-1).expect("in range");
        assert_eq!(timestamp_ms(before), 0);
    }

    fn service(name: &str, status: &str, desired: u32, running: u32) -> ServiceState {
        ServiceState {
            name: name.into(),
            arn: format!("arn:aws:ecs:us-east-1:1:service/prod/{name}"),
            status: status.into(),
            desired,
            running,
            pending: 0,
            task_definition: "td:1".into(),
            task_size: Resources::new(256, 512),
            distinct_instance: false,
            last_scaling: None,
        }
    }

    fn group_instance(id: &str, lifecycle: &str) -> GroupInstance {
        GroupInstance {
            instance_id: id.into(),
            lifecycle_state: lifecycle.into(),
            health_status: "Healthy".into(),
            protected_from_scale_in: false,
        }
    }

    fn instance(id: &str) -> InstanceRef {
        InstanceRef {
            container_instance_arn: format!("arn:aws:ecs:us-east-1:1:container-instance/prod/{id}"),
            ec2_instance_id: id.into(),
        }
    }

    fn plan(actions: PlanActions) -> ScalingPlan {
        ScalingPlan {
            schema_version: SCHEMA_VERSION,
            plan_id: "p-1".into(),
            cluster: "prod".into(),
            autoscale_group: "prod-asg".into(),
            created_at: "2026-11-29T10:00:00Z".parse().expect("time"),
            metrics_cycle_ids: vec!["c-1".into()],
            dry_run: false,
            has_actions: !actions.is_empty(),
            actions,
            decisions: Default::default(),
        }
    }

    fn state() -> ClusterState {
        ClusterState {
            cluster: "prod".into(),
            services: vec![
                service("worker", "ACTIVE", 2, 1),
                service("web", "ACTIVE", 4, 4),
                service("old", "DRAINING", 1, 1),
            ],
            instances: vec![],
            group: Some(GroupState {
                name: "prod-asg".into(),
                min: 1,
                max: 5,
                desired: 3,
                instances: vec![
                    group_instance("i-1", "InService"),
                    group_instance("i-2", "InService"),
                    group_instance("i-3", "Pending"),
                ],
            }),
        }
    }

    fn root(line: &MetricLine) -> Value {
        let text = line.to_line().expect("valid");
        directive(&text);
        serde_json::from_str(&text).expect("JSON")
    }

    #[test]
    fn planner_lines_report_targets_next_to_observations() {
        let actions = PlanActions {
            group_desired: Some(CountChange { from: 3, to: 4 }),
            services: vec![ServiceChange {
                service: "worker".into(),
                from: 2,
                to: 3,
            }],
            ..Default::default()
        };
        let lines = planner_lines(&state(), &plan(actions), 42);
        assert_eq!(lines.len(), 3, "two ACTIVE services and the cluster");
        let worker = root(&lines[0]);
        assert_eq!(worker["Cluster"], "prod");
        assert_eq!(worker["Service"], "worker");
        assert_eq!(worker["DesiredTasks"], 3.0, "the plan's target");
        assert_eq!(worker["RunningTasks"], 1.0);
        assert_eq!(worker["plan_id"], "p-1");
        assert_eq!(
            worker["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Cluster", "Service"]])
        );
        let web = root(&lines[1]);
        assert_eq!(
            web["DesiredTasks"], 4.0,
            "unchanged service: its current count"
        );
        let cluster = root(&lines[2]);
        assert_eq!(
            cluster["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Cluster"]])
        );
        assert_eq!(cluster["GroupDesiredCapacity"], 4.0);
        assert_eq!(cluster["GroupInServiceInstances"], 2.0);
        assert_eq!(cluster["InstancesToDrain"], 0.0);
        assert_eq!(cluster["InstancesToTerminate"], 0.0);
        assert_eq!(cluster["_aws"]["Timestamp"], 42);
    }

    #[test]
    fn terminations_lower_the_planned_group_desired() {
        let actions = PlanActions {
            drain: vec![instance("i-1")],
            terminate: vec![instance("i-3")],
            ..Default::default()
        };
        let lines = planner_lines(&state(), &plan(actions), 0);
        let cluster = root(lines.last().expect("cluster line"));
        assert_eq!(cluster["GroupDesiredCapacity"], 2.0);
        assert_eq!(cluster["InstancesToDrain"], 1.0);
        assert_eq!(cluster["InstancesToTerminate"], 1.0);
    }

    #[test]
    fn a_cluster_without_group_gets_no_group_metrics() {
        let mut s = state();
        s.group = None;
        s.services.clear();
        let lines = planner_lines(&s, &plan(PlanActions::default()), 0);
        assert_eq!(lines.len(), 1);
        let names: Vec<&str> = lines[0].metric_names().collect();
        assert_eq!(names, ["InstancesToDrain", "InstancesToTerminate"]);
    }

    #[test]
    fn executor_lines_count_applied_actions_by_kind() {
        let action = |kind: &str, status: ActionStatus| ActionOutcome {
            kind: kind.into(),
            target: "t".into(),
            detail: "d".into(),
            status,
            error: None,
        };
        let report = ExecutionReport {
            schema_version: SCHEMA_VERSION,
            plan_id: "p-9".into(),
            cluster: "prod".into(),
            finished_at: "2026-11-29T10:00:05Z".parse().expect("time"),
            outcome: Outcome::PartiallyApplied,
            actions: vec![
                action("drain", ActionStatus::Applied),
                action("drain", ActionStatus::AlreadyApplied),
                action("terminate", ActionStatus::Applied),
                action("terminate", ActionStatus::Failed),
                action("service", ActionStatus::Applied),
                action("service", ActionStatus::Stale),
                action("reactivate", ActionStatus::Skipped),
            ],
        };
        let lines = executor_lines(&report, 7);
        assert_eq!(lines.len(), 1);
        let r = root(&lines[0]);
        assert_eq!(r["Cluster"], "prod");
        assert_eq!(r["InstancesDrained"], 1.0);
        assert_eq!(r["InstancesTerminated"], 1.0);
        assert_eq!(r["InstancesReactivated"], 0.0);
        assert_eq!(r["ServicesScaled"], 1.0);
        assert_eq!(r["ActionsFailed"], 1.0);
        assert_eq!(r["ActionsStale"], 1.0);
        assert_eq!(r["plan_id"], "p-9");
        assert_eq!(r["outcome"], "partially_applied");
        let units: Vec<&str> = r["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("Metrics")
            .iter()
            .map(|m| m["Unit"].as_str().expect("Unit"))
            .collect();
        assert!(units.iter().all(|u| *u == "Count"));
    }
}
