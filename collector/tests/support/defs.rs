//! Building cluster definitions and cycles in tests.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use collector::cycle::{Cycle, Sources};
use collector::sources::http::{HttpCollector, HttpConfig};
use shared::definition::{parse_definition, ClusterDefinition};

/// A cluster from YAML text; `%(VAR)` from `vars`. Panics with every error otherwise.
pub fn cluster(name: &str, yaml: &str, vars: &[(&str, &str)]) -> ClusterDefinition {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match parse_definition(name, Path::new(&format!("{name}.yml")), yaml, &|v| {
        vars.get(v).cloned()
    }) {
        Ok(def) => def,
        Err(errors) => panic!("invalid test definition:\n{errors}"),
    }
}

/// The head of a cluster file (everything but `services:`).
pub const HEAD: &str = "autoscale_group: asg\nenabled: true\ncpu_buffer: 0\nmem_buffer: 0\n";

/// Sources with a default HTTP client.
pub fn sources(cloudwatch: aws_sdk_cloudwatch::Client) -> Sources {
    Sources {
        cloudwatch,
        http: HttpCollector::new(HttpConfig::default()).expect("HTTP client"),
        cloudwatch_lag: Duration::ZERO,
    }
}

/// A cycle starting now, collecting for at most `budget`.
pub fn cycle(budget: Duration) -> Cycle {
    Cycle {
        id: "test-cycle".into(),
        now: shared::time::now(),
        deadline: tokio::time::Instant::now() + budget,
    }
}

/// A CloudWatch client that must never be called (HTTP-only tests): points at a closed port.
pub fn unused_cloudwatch() -> aws_sdk_cloudwatch::Client {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .http_client(shared::aws::tls::https_client())
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "x", "x", None, None, "test",
        ))
        .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
}
