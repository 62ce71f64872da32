use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{decode, DecodeError, Versioned};
use crate::time::Timestamp;

/// What the executor did with a plan (executor → EventBridge, `Scaling Plan Applied`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExecutionReport {
    /// [`super::SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The plan applied.
    pub plan_id: String,
    /// The plan's `delivery_id` (empty in reports of executors older than this field, and for
    /// a rejected message that has none).
    #[serde(default)]
    pub delivery_id: String,
    /// The same for every publication of the report of one delivery of one plan
    /// ([`super::report_dedup_key`]): EventBridge delivers at least once, and a publication
    /// whose answer was lost is made again, so subscribers drop a report whose key they have
    /// seen (empty in reports of older executors).
    #[serde(default)]
    pub dedup_key: String,
    /// ECS cluster name.
    pub cluster: String,
    /// When it finished (RFC 3339, UTC, to the microsecond: see [`crate::time`]).
    #[schemars(schema_with = "crate::time::json_schema")]
    pub finished_at: Timestamp,
    /// Overall outcome.
    pub outcome: Outcome,
    /// Each action with its status, in the order applied.
    pub actions: Vec<ActionOutcome>,
    /// Why the plan was rejected (outcome `rejected`; omitted otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

impl Versioned for ExecutionReport {
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
}

impl ExecutionReport {
    /// The report's `dedup_key` from its `plan_id` and `delivery_id`.
    pub fn with_dedup_key(mut self) -> Self {
        self.dedup_key = super::report_dedup_key(&self.plan_id, &self.delivery_id);
        self
    }

    /// Read a report from JSON, checking its version.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        decode("execution report", text)
    }
}

/// A plan's overall outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every action applied or already applied.
    Applied,
    /// Some applied, some stale, skipped or failed.
    PartiallyApplied,
    /// Nothing applied: the world moved away from the plan.
    Stale,
    /// Dry run: nothing changed, the actions say what would have been done.
    DryRun,
    /// Nothing applied because of errors.
    Failed,
    /// Nothing attempted: the plan was read after its `expires_at` (every action `skipped`).
    Expired,
    /// Nothing attempted: the plan asks what its cluster file does not allow, or does not
    /// decode (`reasons` says why; every action `skipped`). It cannot become valid by waiting:
    /// it is removed from the queue at once.
    Rejected,
}

/// One action's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Changed now.
    Applied,
    /// The target already held; nothing done.
    AlreadyApplied,
    /// The live value is neither `from` nor `to`; left for the next plan.
    Stale,
    /// Not attempted (dry run, an expired or rejected plan, or a guard said no).
    Skipped,
    /// Failed with an error.
    Failed,
}

/// An action of the plan and what happened to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionOutcome {
    /// `group_limits`, `reactivate`, `group_desired`, `service`, `drain` or `terminate`.
    pub kind: String,
    /// What it targets (service name, instance id, group name).
    pub target: String,
    /// A sentence: what was (or would have been) done, or why not.
    pub detail: String,
    /// The status.
    pub status: ActionStatus,
    /// The error, when failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
