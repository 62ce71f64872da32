//! The plan id: a hash of what the plan decides and what it decided from, never of the
//! time, so the same decision planned twice (a retried batch) gets the same id and the
//! FIFO queue drops the duplicate.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use shared::messages::PlanActions;

/// Hex SHA-256 of the cluster, the group, the dry-run flag, the metric values the rules
/// used (per service, alias → value) and the actions, as canonical JSON (struct fields in
/// declaration order, maps sorted).
pub(crate) fn plan_id(
    cluster: &str,
    autoscale_group: &str,
    dry_run: bool,
    inputs: &BTreeMap<&str, BTreeMap<&str, Option<f64>>>,
    actions: &PlanActions,
) -> String {
    let canonical = serde_json::json!({
        "cluster": cluster,
        "autoscale_group": autoscale_group,
        "dry_run": dry_run,
        "inputs": inputs,
        "actions": actions,
    });
    let mut hasher = Sha256::new();
    hasher.update(cluster.as_bytes());
    hasher.update([0u8]);
    // Serializing plain data to a string cannot fail; an empty string would still hash.
    hasher.update(
        serde_json::to_string(&canonical)
            .unwrap_or_default()
            .as_bytes(),
    );
    hex::encode(hasher.finalize())
}
