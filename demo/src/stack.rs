//! The pipeline's resources from `infra/template.yaml`: `demo/stack.py` expands the SAM template
//! with `infra/expand.py` (as the deploy test does) and creates it as a CloudFormation stack on
//! the emulator; its outputs name the queues and the bus.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What the demo needs from the stack's outputs.
#[derive(Debug, Clone)]
pub struct Stack {
    /// `MetricsQueueUrl`.
    pub metrics_queue_url: String,
    /// `PlansQueueUrl`.
    pub plans_queue_url: String,
    /// `SyntheticQueueUrl`.
    pub synthetic_queue_url: String,
    /// `EventBusName`.
    pub bus: String,
    /// Resources CloudFormation created.
    pub resources: u64,
}

/// Creates the stack on the emulator at `endpoint` (a few seconds).
pub async fn create(endpoint: &str, cluster: &str, group: &str) -> Result<Stack> {
    let python = std::env::var_os("DEMO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    if !python.is_file() {
        bail!(
            "{} does not exist: run `make venv` (the emulator's Python environment)",
            python.display()
        );
    }
    let out = tokio::process::Command::new(&python)
        .arg(root().join("demo/stack.py"))
        .args([
            "--endpoint",
            endpoint,
            "--cluster",
            cluster,
            "--group",
            group,
        ])
        .output()
        .await
        .context("running demo/stack.py")?;
    if !out.status.success() {
        bail!(
            "creating the stack from infra/template.yaml failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading demo/stack.py's outputs")?;
    let get = |key: &str| {
        v[key]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("the stack has no output {key}: {v}"))
    };
    Ok(Stack {
        metrics_queue_url: get("MetricsQueueUrl")?,
        plans_queue_url: get("PlansQueueUrl")?,
        synthetic_queue_url: get("SyntheticQueueUrl")?,
        bus: get("EventBusName")?,
        resources: v["Resources"].as_u64().unwrap_or(0),
    })
}
