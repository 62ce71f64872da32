//! CloudWatch Embedded Metric Format (EMF): a generic writer of metric log lines.
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
//! The metrics themselves (namespace [`NAMESPACE`], dimensions [`DIM_CLUSTER`] and
//! [`DIM_SERVICE`], shown on the stack's dashboard in `infra/template.yaml`) are defined by
//! the crates that publish them: `planner/src/emf.rs` and `executor/src/emf.rs`.

use serde_json::{Map, Value};

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
}
