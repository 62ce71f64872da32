use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{decode, DecodeError, Versioned};
use crate::time::Timestamp;

/// One cluster's plan (planner → executor queue and the EventBridge bus).
///
/// Every action is an absolute target together with the value the planner saw
/// (`from`), so the executor can apply it idempotently and refuse it when stale.
///
/// **Identity.** `plan_id` names the *decision* (the same inputs and actions give the same id,
/// whenever they are decided); `delivery_id` names the *delivery* of metrics reports the plan
/// answers ([`super::delivery_id`]): a redelivered batch of reports gives the same id, a new
/// collection cycle a new one even for an identical decision. The plans FIFO queue deduplicates
/// on `delivery_id`, so a replay is dropped and a recurring decision is not.
///
/// **Life.** The executor applies nothing after `expires_at` (the outcome is `expired`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScalingPlan {
    /// [`super::SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Deterministic: a hash of the cluster, the inputs and the actions.
    pub plan_id: String,
    /// The delivery of reports it answers: the plans queue's `MessageDeduplicationId`
    /// ([`super::delivery_id`] of the cluster and `metrics_cycle_ids`).
    pub delivery_id: String,
    /// ECS cluster name.
    pub cluster: String,
    /// The cluster's Auto Scaling group.
    pub autoscale_group: String,
    /// When the plan was made (RFC 3339, UTC, whole seconds: see [`crate::time`]).
    #[schemars(schema_with = "crate::time::json_schema")]
    pub created_at: Timestamp,
    /// From this instant on the plan is not applied (`created_at` + the planner's
    /// `PLAN_TTL_SECS`; RFC 3339, UTC, whole seconds).
    #[schemars(schema_with = "crate::time::json_schema")]
    pub expires_at: Timestamp,
    /// The cycle ids of the metrics reports delivered for it (oldest first), including reports
    /// it ignored as too old or dated in the future (each named in the record with its reason).
    pub metrics_cycle_ids: Vec<String>,
    /// Plan only: the executor changes nothing.
    pub dry_run: bool,
    /// Whether `actions` holds anything (lets EventBridge rules filter quiet plans).
    pub has_actions: bool,
    /// What to change, in the order the executor applies it.
    pub actions: PlanActions,
    /// Why: a record a person can read.
    pub decisions: DecisionRecord,
}

impl Versioned for ScalingPlan {
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
}

impl ScalingPlan {
    /// Read a plan from JSON, checking its version.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        decode("scaling plan", text)
    }

    /// Whether the plan must no longer be applied at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }
}

/// The actions of a plan; the executor applies them in field order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PlanActions {
    /// The group's MinSize/MaxSize from the file's `min`/`max`, when they differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_limits: Option<GroupLimitsChange>,
    /// DRAINING instances to set ACTIVE again (before launching new ones).
    #[serde(default)]
    pub reactivate: Vec<InstanceRef>,
    /// The group's DesiredCapacity (raised here; lowered only by terminations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_desired: Option<CountChange>,
    /// Services' desired counts (scale-ups are applied before scale-downs).
    #[serde(default)]
    pub services: Vec<ServiceChange>,
    /// Instances to set DRAINING, with what the planner counted on each.
    #[serde(default)]
    pub drain: Vec<DrainTarget>,
    /// Not an action: the `awsvpc` tasks the planner saw on each ACTIVE instance (by container
    /// instance ARN) that a drain's `awsvpc` tasks may move to, for the executor's re-check of
    /// their ENIs; empty when no drain moves such a task.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub drain_eni_use: std::collections::BTreeMap<String, EniUse>,
    /// Empty DRAINING instances to terminate, decrementing the desired capacity. An instance
    /// also in `drain` is an empty ACTIVE one drained in this plan: the executor re-reads it
    /// after the drain and terminates it only if it is still empty.
    #[serde(default)]
    pub terminate: Vec<InstanceRef>,
    /// Instances this system drained that still run tasks after `drain_timeout`, to set ACTIVE
    /// again (`drain_timeout_action: abort`); the abort is recorded on the instance so that it is
    /// not drained again for the cluster's `drain_abort_cooldown`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abort_drain: Vec<InstanceRef>,
    /// Instances this system drained that still run tasks after `drain_timeout`, whose
    /// remaining service tasks to stop (`drain_timeout_action: force`; never standalone tasks);
    /// each is terminated by a later plan once empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub force_drain: Vec<ForceDrain>,
}

impl PlanActions {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.group_limits.is_none()
            && self.reactivate.is_empty()
            && self.group_desired.is_none()
            && self.services.is_empty()
            && self.drain.is_empty()
            && self.terminate.is_empty()
            && self.abort_drain.is_empty()
            && self.force_drain.is_empty()
    }
}

/// The `awsvpc` tasks on an instance as the planner saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EniUse {
    /// Its `awsvpc` tasks, each holding an ENI (all its tasks when they were not listed).
    pub awsvpc_tasks: u32,
    /// Its running + pending tasks: those it has beyond these at apply time are counted as
    /// `awsvpc` tasks.
    pub tasks: u32,
    /// The `awsvpc` tasks it may hold, as the planner counts them (`max_tasks_per_instance`,
    /// else its type's limit); none: not limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// An instance past its drain deadline whose remaining service tasks are stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ForceDrain {
    /// The instance (DRAINING by this system).
    #[serde(flatten)]
    pub instance: InstanceRef,
    /// The ARNs of the service tasks the planner saw on it; the executor stops those still
    /// running there that belong to a service.
    #[serde(default)]
    pub tasks: Vec<String>,
}

/// MinSize and MaxSize of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GroupLimits {
    /// MinSize.
    pub min: u32,
    /// MaxSize.
    pub max: u32,
}

/// A change of the group's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GroupLimitsChange {
    /// What the planner saw.
    pub from: GroupLimits,
    /// What to set.
    pub to: GroupLimits,
}

/// A change of a count from `from` (seen) to `to` (target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CountChange {
    /// What the planner saw.
    pub from: u32,
    /// The target.
    pub to: u32,
}

/// A service's desired count change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceChange {
    /// Service name.
    pub service: String,
    /// desiredCount the planner saw.
    pub from: u32,
    /// desiredCount to set.
    pub to: u32,
}

/// A container instance an action touches, by both of its identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceRef {
    /// Full container instance ARN (what ECS calls need).
    pub container_instance_arn: String,
    /// EC2 instance id (what Auto Scaling calls need).
    pub ec2_instance_id: String,
}

/// An instance to drain, and what the planner counted on it: the executor drains it only if
/// no more tasks run there now and these sizes, with the cluster's buffer, still fit on the
/// other instances (see the executor's drain guard). In JSON the two fields sit next to the
/// instance's identifiers; a plan without them reads as an empty instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DrainTarget {
    /// The instance.
    #[serde(flatten)]
    pub instance: InstanceRef,
    /// Running + pending tasks the planner saw on it.
    #[serde(default)]
    pub tasks: u32,
    /// The reservation of each of its tasks, all of which must move elsewhere.
    #[serde(default)]
    pub task_sizes: Vec<crate::resources::Resources>,
    /// What each task of `task_sizes` (same order) needs besides CPU and memory: host ports,
    /// GPUs, `memberOf`, an ENI. Empty when none needs anything more.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub task_needs: Vec<crate::placement::Needs>,
}

impl From<InstanceRef> for DrainTarget {
    /// An empty instance to drain.
    fn from(instance: InstanceRef) -> Self {
        DrainTarget {
            instance,
            tasks: 0,
            task_sizes: Vec::new(),
            task_needs: Vec::new(),
        }
    }
}

/// Why the plan is what it is: one readable line per decision, and the same decisions as
/// data. Every reason is a [`Reason`], a closed set whose `Display` is the text of the
/// headlines, so logs, the CLI and bus subscribers all read the same words.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DecisionRecord {
    /// One line per decision, for logs, the CLI and notifications.
    #[serde(default)]
    pub headlines: Vec<String>,
    /// The decisions as data.
    #[serde(default)]
    pub detail: DecisionDetail,
}

/// The structured part of a [`DecisionRecord`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DecisionDetail {
    /// Cluster-wide notes: disabled, dry run, group missing, limits.
    #[serde(default)]
    pub cluster: Vec<Reason>,
    /// One entry per service of the definition, in file order.
    #[serde(default)]
    pub services: Vec<ServiceDecision>,
    /// The instance plan; absent when the cluster is left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityDecision>,
}

/// How one service's desired count was decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceDecision {
    /// Service name.
    pub service: String,
    /// desiredCount seen (absent when the service is not in the cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<u32>,
    /// desiredCount decided (equal to `from` when nothing changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<u32>,
    /// Every alias of the service: its value, or why it has none.
    #[serde(default)]
    pub metrics: Vec<MetricUsed>,
    /// What each rule recommended.
    #[serde(default)]
    pub rules: Vec<RuleOutcome>,
    /// What decided the result, in order: bounds, the combination, clamps, cooldowns.
    #[serde(default)]
    pub reasons: Vec<Reason>,
}

/// One alias as the rules saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricUsed {
    /// The alias.
    pub alias: String,
    /// The value used, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The value is the statistic's `default`, because the metric was missing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default_used: bool,
    /// Why the source gave no value (`None` with no `value`: not in any report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<super::MissingReason>,
    /// The time the value describes (a CloudWatch period's end, else when it was collected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::time::TimestampSchema>")]
    pub observed_at: Option<crate::time::Timestamp>,
}

/// Which kind of rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// The original's `events`.
    StepEvents,
    /// `target_tracking`.
    TargetTracking,
}

impl std::fmt::Display for RuleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RuleKind::StepEvents => "step events",
            RuleKind::TargetTracking => "target tracking",
        })
    }
}

/// What one rule recommended, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuleOutcome {
    /// The rule.
    pub rule: RuleKind,
    /// The desired count it asks for; `None`: no recommendation (it never votes to scale in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommends: Option<u32>,
    /// Why, in evaluation order (a step event skipped at a bound, then the one that fired).
    pub reasons: Vec<Reason>,
}

/// Demand and capacity in one dimension (CPU units or MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DimensionSummary {
    /// Reserved by running tasks on ACTIVE and DRAINING instances, plus the tasks to place,
    /// plus the buffer.
    pub demand: u64,
    /// Registered on the instances the plan keeps ACTIVE, booting, reactivated and new.
    pub planned_capacity: u64,
    /// The fewest instances this dimension alone needs: at least ⌈demand ÷ instance size⌉,
    /// more when tasks larger than half an instance cannot share one.
    pub lower_bound_instances: u32,
}

/// The instance side of the plan.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CapacityDecision {
    /// The size a new instance is assumed to have (learnt or from `instance_capacity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_size: Option<crate::resources::Resources>,
    /// CPU units.
    pub cpu: DimensionSummary,
    /// Memory (MiB).
    pub memory: DimensionSummary,
    /// At least the larger of the two dimensions' lower bounds, more when tasks large in
    /// different dimensions cannot share an instance: no plan can do with fewer instances.
    pub lower_bound_instances: u32,
    /// Instances the plan ends with: ACTIVE (not drained) + booting + reactivated + new.
    pub planned_instances: u32,
    /// ACTIVE container instances seen.
    pub active: u32,
    /// DRAINING container instances seen.
    pub draining: u32,
    /// Container instances neither counted as capacity nor touched: drained by someone else,
    /// not InService, not in the group, or with a disconnected agent (each listed in
    /// `instances` with its reason).
    #[serde(default)]
    pub excluded: u32,
    /// Instances of the group not yet registered with ECS (capacity in flight).
    pub booting: u32,
    /// Tasks to place: services scaling up and tasks ECS could not place yet.
    pub tasks_to_place: u32,
    /// Why each new instance is needed (one entry per instance).
    #[serde(default)]
    pub new_instances: Vec<Reason>,
    /// Tasks the plan could not place, grouped, with the reason.
    #[serde(default)]
    pub unplaced: Vec<Reason>,
    /// Decisions about particular instances: reactivate, drain, keep, terminate, stuck.
    #[serde(default)]
    pub instances: Vec<InstanceDecision>,
    /// Why consolidation did or did not run, and group-level notes.
    #[serde(default)]
    pub notes: Vec<Reason>,
}

/// A decision about one container instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceDecision {
    /// The instance.
    pub instance: InstanceRef,
    /// What and why.
    pub reason: Reason,
}

/// Every reason the planner gives, a closed set. `Display` is the text of the headlines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    // ---- cluster
    /// `enabled: false` on the cluster.
    ClusterDisabled,
    /// `dry_run: true`: the plan is complete but the executor changes nothing.
    DryRun,
    /// The Auto Scaling group does not exist: no instance actions.
    GroupNotFound { group: String },
    /// The group carries the `AmazonECSManaged` tag: an ECS capacity provider is attached to it
    /// (its managed scaling would fight this autoscaler over the desired capacity). The
    /// cluster is left alone: no action at all.
    GroupManagedByEcs { group: String },
    /// The cluster's ECS capacity provider `provider` is on the group with managed scaling
    /// `ENABLED`: ECS sets the group's desired capacity, and two autoscalers would fight over
    /// it. The cluster is left alone: no action at all.
    ManagedScalingOnGroup { group: String, provider: String },
    /// The cluster's ECS capacity provider `provider` is on the group with managed scaling
    /// `DISABLED`: it does not scale the group, which is planned as usual.
    ProviderWithoutManagedScaling { group: String, provider: String },
    /// The group's desired capacity is not a count of instances (`detail`: weights of a mixed
    /// instances policy, or a `DesiredCapacityType` of `vcpu` / `memory-mib`). The planner
    /// counts instances: the cluster is left alone, no action at all.
    CapacityInUnits { group: String, detail: String },
    /// The file's `min`/`max` differ from the group's.
    GroupLimitsChanged { from: GroupLimits, to: GroupLimits },
    /// The file's limit contradicts the group's other limit; left unchanged.
    GroupLimitsConflict { min: u32, max: u32 },
    /// The group's desired capacity is raised (launches, or the new MinSize).
    GroupDesiredRaised { from: u32, to: u32, launch: u32 },
    /// The group's desired capacity is outside its (new) limits and is brought inside.
    GroupDesiredWithinLimits { from: u32, to: u32 },
    /// A metrics report was not planned on: collected too long ago, or dated in the future.
    ReportIgnored {
        cycle_id: String,
        #[schemars(schema_with = "crate::time::json_schema")]
        collected_at: Timestamp,
        why: ReportAge,
    },
    /// No report of the delivery could be planned on: the plan is made from the live state
    /// alone, and rules without metric values recommend nothing.
    NoCurrentReport { ignored: u32 },
    /// The file's `max` is below the live desired capacity: MaxSize is lowered only as far as
    /// the desired capacity (Auto Scaling would otherwise terminate instances of its own
    /// choosing, tasks and all); the surplus goes the safe way.
    GroupAboveMax {
        desired: u32,
        max: u32,
        max_now: u32,
    },

    // ---- services
    /// `enabled: false` on the service: left alone.
    ServiceDisabled,
    /// In the definition but not in the cluster.
    ServiceNotInCluster,
    /// The service exists but is not ACTIVE.
    ServiceNotActive { status: String },
    /// The service has no events and no target tracking.
    NoRules,
    /// A DAEMON service: ECS runs one task per instance; its count is never changed (its
    /// reservation is kept free on new instances).
    DaemonNotScaled,
    /// Its placement cannot be modelled (a constraint or network mode not understood, a task
    /// definition not read): left at its count, none of its tasks placed.
    ServiceNotModelled { why: String },
    /// Its tasks do not run on the group's instances (Fargate, capacity providers): scaled,
    /// but no instance demand.
    NoInstanceDemand { launch: String },
    /// desiredCount was outside the service's [min, max]: set to the bound, and no rule ran
    /// this cycle (the original's semantics).
    BroughtWithinBounds {
        from: u32,
        to: u32,
        min: u32,
        max: u32,
    },
    /// A step event matched and fired.
    StepEventMatched {
        event: usize,
        metric: String,
        value: f64,
        action: i64,
        desired: u32,
    },
    /// A step event with `action: 0` matched: hold.
    StepEventHold {
        event: usize,
        metric: String,
        value: f64,
    },
    /// A step event matched but the count is already at the bound it would cross: the
    /// search goes on (the original's behaviour).
    StepEventSkippedAtBound {
        event: usize,
        metric: String,
        value: f64,
        action: i64,
        bound: u32,
    },
    /// No step event matched: hold.
    NoStepEventMatched { values: Vec<(String, f64)> },
    /// A rule's expression has no value: the rule recommends nothing.
    RuleNotEvaluated {
        rule: RuleKind,
        metric: String,
        error: String,
    },
    /// The rule would act, but every value it read was observed before the service's last
    /// scaling (it acted on them already, or they predate the change): it recommends nothing
    /// until a new datapoint arrives. One step per observation.
    WaitingForNewDatapoint {
        rule: RuleKind,
        metric: String,
        value: f64,
        #[schemars(with = "crate::time::TimestampSchema")]
        observed_at: crate::time::Timestamp,
        #[schemars(with = "crate::time::TimestampSchema")]
        last_scaling: crate::time::Timestamp,
    },
    /// Target tracking's recommendation (`kind: total`): ⌈value ÷ target⌉.
    TargetTracking {
        metric: String,
        value: f64,
        target: f64,
        desired: u32,
    },
    /// Target tracking's recommendation (`kind: average`): ⌈running × value ÷ target⌉.
    TargetTrackingAverage {
        metric: String,
        value: f64,
        target: f64,
        running: u32,
        desired: u32,
    },
    /// `kind: average`: the value is within the tolerance of the target: hold.
    TargetTrackingWithinTolerance {
        metric: String,
        value: f64,
        target: f64,
        tolerance: f64,
        count: u32,
    },
    /// `kind: average` with no running task: an average over no task says nothing about how
    /// many are needed, so the rule recommends nothing.
    TargetTrackingNoRunningTasks { metric: String, value: f64 },
    /// A recommendation outside [min, max] was clamped.
    Clamped {
        requested: f64,
        to: u32,
        min: u32,
        max: u32,
    },
    /// More tasks.
    ScaleOut { from: u32, to: u32 },
    /// Fewer tasks: every rule agreed.
    ScaleIn { from: u32, to: u32 },
    /// No change.
    Hold { count: u32 },
    /// A rule asked for fewer tasks but not every rule agreed (or one had no data).
    ScaleInNotAgreed { proposed: u32 },
    /// A cooldown blocks the change.
    CooldownBlocked {
        direction: crate::state::Direction,
        wanted: u32,
        remaining_secs: u64,
    },

    // ---- capacity
    /// No instance size is known (no instance registered, no `instance_capacity`).
    InstanceSizeUnknown,
    /// Tasks larger than an instance: they can never be placed and never cause a launch.
    TaskUnschedulable {
        service: String,
        count: u32,
        size: crate::resources::Resources,
        instance_size: crate::resources::Resources,
    },
    /// Tasks of a service no instance can take whatever its room: host ports, GPUs,
    /// `memberOf`, ENIs, or a constraint not understood. Never a reason to launch.
    TaskUnplaceable {
        service: String,
        count: u32,
        why: String,
    },
    /// New tasks of services that spread over availability zones (ECS's default for a service)
    /// were placed as ECS places them, zone by zone, before anything was packed: where they go
    /// may differ from where packing would put them, and so may what is launched or drained.
    TasksSpreadOverZones {
        services: Vec<String>,
        tasks: u32,
        zones: u32,
    },
    /// DAEMON services run a task on every instance: their reservation is subtracted from
    /// every new instance's room.
    DaemonsReserved {
        services: Vec<String>,
        reserved: crate::resources::Resources,
    },
    /// `awsvpc` tasks run on instances of types whose ENI limit is not known (not in the table,
    /// or trunked without a trunked limit) and `max_tasks_per_instance` is not set: their
    /// `awsvpc` tasks are not limited there.
    EniLimitUnknown { instance_types: Vec<String> },
    /// Tasks left unplaced because the group is at its MaxSize.
    GroupAtMax {
        service: String,
        count: u32,
        max: u32,
    },
    /// Tasks left unplaced because no instance size is known to launch.
    NoInstanceToLaunch { service: String, count: u32 },
    /// Tasks left unplaced because their service allows one task per instance and every
    /// candidate instance already runs one (or its tasks are unknown).
    DistinctInstanceUnplaced { service: String, count: u32 },
    /// Why a new instance is needed: what it will hold.
    NewInstance {
        index: u32,
        tasks: u32,
        reserved: crate::resources::Resources,
        services: Vec<String>,
    },
    /// The buffer headroom needs this new instance.
    NewInstanceForBuffer { index: u32 },
    /// A DRAINING instance is set ACTIVE again instead of launching.
    Reactivate { tasks: u32 },
    /// An empty ACTIVE instance is drained.
    DrainEmpty,
    /// An ACTIVE instance is drained: its tasks fit on other ACTIVE instances; `worth_it` says
    /// why moving them pays (absent in plans made before it was recorded).
    DrainTasksFit {
        tasks: u32,
        onto: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        worth_it: Option<WorthIt>,
    },
    /// Not drained: one of its tasks fits on no other ACTIVE instance.
    KeepTaskDoesNotFit {
        service: String,
        size: crate::resources::Resources,
    },
    /// Not drained: the buffer or a pending scale-up would no longer fit.
    KeepBufferOrScaleUp,
    /// Not drained: it runs tasks that were not listed.
    KeepTasksUnknown { running: u32 },
    /// Not drained: it runs tasks no service would restart elsewhere.
    KeepStandaloneTasks { count: u32 },
    /// Not drained: protected from scale-in.
    KeepProtected,
    /// Not drained: not an InService instance of the group.
    KeepNotInGroup,
    /// Not drained: the group would go below its MinSize (DRAINING counted as gone).
    KeepGroupMin { min: u32, remaining: u32 },
    /// Not drained: the per-plan limit `max_drain_per_cycle` is reached.
    KeepDrainLimit { limit: u32 },
    /// Not drained: the disruption budget (instances DRAINING at once) is used up: `draining`
    /// busy instances DRAINING before this plan, `drained` busy ones drained by it.
    KeepBudget {
        budget: u32,
        draining: u32,
        drained: u32,
    },
    /// Not drained: it runs tasks and no consolidation window is open.
    KeepOutsideWindow,
    /// Not drained: tasks on it have ECS task scale-in protection (their ARNs).
    KeepTaskProtected { tasks: Vec<String> },
    /// Not drained: the task scale-in protection of the candidates' tasks could not be read
    /// (the error), so any of its tasks might be protected.
    KeepProtectionUnread { error: String },
    /// Not drained for consolidation: it runs tasks of do-not-disrupt services (`disruption:
    /// never` in the file, or the `ecs-autoscale:do-not-disrupt` service tag).
    KeepDoNotDisrupt { services: Vec<String> },
    /// Not drained: this system aborted a drain of it `secs_ago` seconds ago, within the
    /// cluster's `drain_abort_cooldown`.
    KeepDrainAborted { secs_ago: u64, cooldown_secs: u64 },
    /// Not drained: its drain would not shrink the group and it is not below the
    /// `consolidation_threshold`.
    KeepNotWorthIt {
        cpu_percent: u32,
        memory_percent: u32,
        threshold_percent: u32,
    },
    /// A drain for the surplus above the file's `max`, made although consolidation would not
    /// drain this instance: outside every window, or running do-not-disrupt services.
    DrainSurplus {
        max: u32,
        outside_window: bool,
        do_not_disrupt: Vec<String>,
    },
    /// An empty ACTIVE instance drained in this plan is also terminated in it.
    TerminateEmptyNow,
    /// Busy drains this plan may start: the disruption budget (instances of the group DRAINING
    /// at once) less the busy instances DRAINING now.
    DisruptionBudget {
        /// The budget as written (`50%`, `2`).
        written: String,
        /// The group's instances it is taken of (its desired capacity).
        group: u32,
        /// The budget in instances.
        budget: u32,
        /// Instances of the group DRAINING with tasks now.
        draining: u32,
        /// Whether a consolidation window is open (always, without windows).
        inside_windows: bool,
    },
    /// `max_drain_per_cycle` is set: it limits busy drains per plan, instead of the budget.
    DrainsPerPlan { limit: u32 },
    /// A consolidation window is open.
    ConsolidationWindowOpen { window: String },
    /// No consolidation window is open: no busy instance is drained for consolidation.
    ConsolidationWindowClosed { windows: Vec<String> },
    /// A drain past its deadline is aborted: the instance is set ACTIVE again and not drained
    /// for the cooldown (`drain_timeout_action: abort`).
    DrainTimeoutAbort {
        secs: u64,
        timeout_secs: u64,
        running: u32,
        cooldown_secs: u64,
    },
    /// A drain past its deadline is forced: its service tasks are stopped, it is terminated once
    /// empty (`drain_timeout_action: force`); standalone tasks are never stopped.
    DrainTimeoutForce {
        secs: u64,
        timeout_secs: u64,
        stopping: u32,
        standalone: u32,
    },
    /// Consolidation did not run: `max_drain_per_cycle` is 0.
    ConsolidationDisabled,
    /// Consolidation did not run: the plan adds capacity, or still lacks some.
    ConsolidationWhileScalingUp,
    /// Consolidation did not run: instances are still booting.
    ConsolidationWhileBooting { booting: u32 },
    /// Candidates beyond the first few were not examined this plan.
    ConsolidationCandidatesNotTried { count: u32 },
    /// An empty DRAINING instance is terminated (desired capacity decremented).
    TerminateDrained,
    /// An empty DRAINING instance is kept: terminating it would go below the group's MinSize.
    TerminateBlockedByMin { min: u32, desired: u32 },
    /// An empty DRAINING instance is kept: protected from scale-in.
    TerminateBlockedProtected,
    /// An instance has been draining longer than `drain_timeout`.
    DrainingTooLong {
        secs: u64,
        timeout_secs: u64,
        running: u32,
    },
    /// DRAINING without this system's drain record: someone else's drain. Never reactivated,
    /// terminated or counted; `tasks_to_move` service tasks need room elsewhere.
    NotOurDrain { tasks_to_move: u32 },
    /// Its EC2 instance is in the group but not InService (Pending:Wait, Terminating:Wait,
    /// Standby, Detaching, ...): never reactivated, drained, terminated or counted.
    NotInService {
        lifecycle: String,
        tasks_to_move: u32,
    },
    /// Its EC2 instance is not in the group (terminated, detached, another group's): never
    /// reactivated, drained, terminated or counted.
    NotInGroup { tasks_to_move: u32 },
    /// Its ECS agent is disconnected: it keeps its tasks but receives none; never counted or
    /// touched.
    AgentDisconnected { tasks_to_move: u32 },
    /// An InService instance of the group has not registered with ECS within the grace period:
    /// no longer counted as booting capacity.
    NeverRegistered {
        instance_id: String,
        secs: u64,
        grace_secs: u64,
    },
    /// An instance of the group without a container instance is in a lifecycle state that
    /// does not make it capacity (a lifecycle hook's Pending:Wait, ...).
    BootingNotCounted {
        instance_id: String,
        lifecycle: String,
    },
    /// Instances above the file's `max` that this plan does not start draining (the per-plan
    /// limit, tasks that fit nowhere else, or consolidation not running).
    SurplusKept { count: u32, max: u32 },
}

/// Why a busy drain is worth making: it lets the group shrink, or the instance is
/// underutilized. The figures either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WorthIt {
    /// The group's instances once this drain's instance is terminated, when it can be (the
    /// group stays at or above its min); `None`: the drain does not shrink the group.
    pub shrinks_to: Option<u32>,
    /// CPU reserved on the instance, percent of its registered CPU (rounded down).
    pub cpu_percent: u32,
    /// Memory reserved on the instance, percent of its registered memory (rounded down).
    pub memory_percent: u32,
    /// The cluster's `consolidation_threshold`, in percent.
    pub threshold_percent: u32,
}

impl std::fmt::Display for WorthIt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let use_ = format!(
            "{} % of its CPU and {} % of its memory in use",
            self.cpu_percent, self.memory_percent
        );
        match self.shrinks_to {
            Some(n) => write!(f, "worth it: the group shrinks to {n} instance(s) ({use_})"),
            None => write!(
                f,
                "worth it: below the consolidation threshold of {} % ({use_})",
                self.threshold_percent
            ),
        }
    }
}

/// `` `a`, `b` `` for a list of names.
fn names(list: &[String]) -> String {
    list.iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` ; its N service task(s) need room elsewhere` when there are some.
fn tasks_to_move(f: &mut std::fmt::Formatter<'_>, n: u32) -> std::fmt::Result {
    if n > 0 {
        write!(f, "; its {n} service task(s) need room elsewhere")?;
    }
    Ok(())
}

/// Why a metrics report was too old or too new to plan on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "age", rename_all = "snake_case")]
pub enum ReportAge {
    /// Collected more than `max_age_secs` before the planner read it.
    TooOld { age_secs: u64, max_age_secs: u64 },
    /// Dated more than `max_ahead_secs` after the planner's clock.
    InTheFuture {
        ahead_secs: u64,
        max_ahead_secs: u64,
    },
}

impl std::fmt::Display for ReportAge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportAge::TooOld {
                age_secs,
                max_age_secs,
            } => write!(
                f,
                "{age_secs} s old, older than the limit of {max_age_secs} s (METRICS_MAX_AGE_SECS)"
            ),
            ReportAge::InTheFuture {
                ahead_secs,
                max_ahead_secs,
            } => write!(
                f,
                "dated {ahead_secs} s in the future, more than the {max_ahead_secs} s allowed"
            ),
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use Reason::*;
        match self {
            ClusterDisabled => write!(f, "the cluster is disabled (`enabled: false`): nothing is changed"),
            DryRun => write!(f, "dry run: the plan is complete but nothing will be changed"),
            GroupManagedByEcs { group } => write!(
                f,
                "group `{group}` carries the `AmazonECSManaged` tag: an ECS capacity provider is attached to it, whose managed scaling would fight this autoscaler over the desired capacity; the cluster is left alone (detach the capacity provider, or remove the cluster's file)"
            ),
            ManagedScalingOnGroup { group, provider } => write!(
                f,
                "the cluster's ECS capacity provider `{provider}` is on group `{group}` with managed scaling ENABLED: ECS sets the group's desired capacity, and two autoscalers would fight over it; the cluster is left alone (turn the provider's managed scaling off, or remove the cluster's file)"
            ),
            CapacityInUnits { group, detail } => write!(
                f,
                "group `{group}`'s desired capacity is not a count of instances ({detail}): this autoscaler plans in instances, so the cluster is left alone (weigh every type 1 with `DesiredCapacityType` units, or remove the cluster's file)"
            ),
            ProviderWithoutManagedScaling { group, provider } => write!(
                f,
                "the cluster's ECS capacity provider `{provider}` is on group `{group}` with managed scaling DISABLED: the group is planned as usual"
            ),
            GroupNotFound { group } => {
                write!(f, "Auto Scaling group `{group}` not found: no instance actions")
            }
            GroupLimitsChanged { from, to } => write!(
                f,
                "group limits min {} max {} → min {} max {} (the file's `min`/`max`)",
                from.min, from.max, to.min, to.max
            ),
            GroupLimitsConflict { min, max } => write!(
                f,
                "group limits left unchanged: the file's limit would give min {min} > max {max}"
            ),
            GroupDesiredRaised { from, to, launch } => {
                write!(f, "group desired capacity {from} → {to} ({launch} new instance(s))")
            }
            GroupDesiredWithinLimits { from, to } => {
                write!(f, "group desired capacity {from} → {to} to stay within the group's limits")
            }
            ReportIgnored { cycle_id, collected_at, why } => {
                write!(f, "metrics report {cycle_id} collected at {collected_at} ignored: {why}")
            }
            NoCurrentReport { ignored } => write!(
                f,
                "no current metrics report ({ignored} ignored): planned from the live state without metric values, so no rule recommends anything"
            ),
            ServiceDisabled => write!(f, "disabled (`enabled: false`): left alone"),
            ServiceNotInCluster => write!(f, "not found in the cluster: skipped"),
            ServiceNotActive { status } => write!(f, "status {status}, not ACTIVE: skipped"),
            NoRules => write!(f, "no events and no target tracking: hold"),
            DaemonNotScaled => write!(
                f,
                "a DAEMON service (one task per instance): its count is never changed; remove it from the file"
            ),
            ServiceNotModelled { why } => {
                write!(f, "{why}: left at its count, none of its tasks placed")
            }
            NoInstanceDemand { launch } => write!(
                f,
                "its tasks run on {launch}, not on the group's instances: scaled, no instance demand"
            ),
            BroughtWithinBounds { from, to, min, max } => {
                write!(f, "desired count {from} is outside [{min}, {max}]: set to {to}; no rule runs this cycle")
            }
            StepEventMatched { event, metric, value, action, desired } => write!(
                f,
                "step event {event} matched ({metric} = {value}): {action:+} → {desired}"
            ),
            StepEventHold { event, metric, value } => {
                write!(f, "step event {event} matched ({metric} = {value}) with action 0: hold")
            }
            StepEventSkippedAtBound { event, metric, value, action, bound } => write!(
                f,
                "step event {event} matched ({metric} = {value}) but {action:+} from the bound {bound} is skipped; the search goes on"
            ),
            NoStepEventMatched { values } => {
                write!(f, "no step event matched (")?;
                for (i, (m, v)) in values.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{m} = {v}")?;
                }
                write!(f, "): hold")
            }
            RuleNotEvaluated { rule, metric, error } => {
                write!(f, "{rule} recommends nothing: `{metric}`: {error}")
            }
            WaitingForNewDatapoint { rule, metric, value, observed_at, last_scaling } => write!(
                f,
                "{rule} waiting for a new datapoint: `{metric}` = {value} was observed at {observed_at}, before the last scaling at {last_scaling}"
            ),
            TargetTracking { metric, value, target, desired } => {
                write!(f, "target tracking: ⌈{metric} = {value} ÷ {target}⌉ → {desired}")
            }
            TargetTrackingAverage { metric, value, target, running, desired } => write!(
                f,
                "target tracking (average): ⌈{running} running × {metric} = {value} ÷ {target}⌉ → {desired}"
            ),
            TargetTrackingWithinTolerance { metric, value, target, tolerance, count } => write!(
                f,
                "target tracking (average): {metric} = {value} is within {tolerance} of the target {target} (relative): hold at {count}"
            ),
            TargetTrackingNoRunningTasks { metric, value } => write!(
                f,
                "target tracking (average) recommends nothing: {metric} = {value} but no task is running, and an average over no task cannot size the service"
            ),
            Clamped { requested, to, min, max } => {
                write!(f, "{requested} is outside [{min}, {max}]: clamped to {to}")
            }
            ScaleOut { from, to } => write!(f, "scale out {from} → {to}"),
            ScaleIn { from, to } => write!(f, "scale in {from} → {to} (every rule agrees)"),
            Hold { count } => write!(f, "hold at {count}"),
            ScaleInNotAgreed { proposed } => write!(
                f,
                "a rule proposes {proposed} but scale-in needs every rule to agree (and data for each)"
            ),
            CooldownBlocked { direction, wanted, remaining_secs } => {
                let d = match direction {
                    crate::state::Direction::Up => "scale-up",
                    crate::state::Direction::Down => "scale-down",
                };
                write!(f, "{d} to {wanted} blocked by the cooldown for {remaining_secs} s more")
            }
            InstanceSizeUnknown => write!(
                f,
                "instance size unknown (no instance registered and no `instance_capacity`): cannot plan launches"
            ),
            TaskUnschedulable { service, count, size, instance_size } => write!(
                f,
                "{count} task(s) of `{service}` ({size}) are larger than an instance ({instance_size}): unschedulable, no launch"
            ),
            TaskUnplaceable { service, count, why } => write!(
                f,
                "{count} task(s) of `{service}` unplaceable: {why}; no launch"
            ),
            TasksSpreadOverZones {
                services,
                tasks,
                zones,
            } => write!(
                f,
                "{tasks} new task(s) of {} spread over {zones} availability zones as ECS places them, before packing",
                services
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            DaemonsReserved { services, reserved } => write!(
                f,
                "daemon(s) {} reserve {reserved} on every new instance",
                services
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            EniLimitUnknown { instance_types } => write!(
                f,
                "ENI limit unknown for instance type(s) {}: awsvpc tasks not limited there (set `max_tasks_per_instance`)",
                instance_types
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            GroupAtMax { service, count, max } => write!(
                f,
                "{count} task(s) of `{service}` left unplaced: the group is at its max of {max} instances"
            ),
            NoInstanceToLaunch { service, count } => write!(
                f,
                "{count} task(s) of `{service}` left unplaced: no instance size known to launch"
            ),
            DistinctInstanceUnplaced { service, count } => write!(
                f,
                "{count} task(s) of `{service}` left unplaced: one task per instance (distinctInstance) and no instance is free of it"
            ),
            NewInstance { index, tasks, reserved, services } => write!(
                f,
                "new instance {index}: holds {tasks} task(s) ({reserved}) of {} that fit nowhere else",
                services.join(", ")
            ),
            NewInstanceForBuffer { index } => write!(
                f,
                "new instance {index}: keeps the buffer headroom (no instance would have room for it)"
            ),
            Reactivate { tasks } => {
                write!(f, "reactivate: {tasks} task(s) need it, before launching any instance")
            }
            DrainEmpty => write!(f, "drain: empty, and the buffer still fits elsewhere"),
            DrainTasksFit { tasks, onto, worth_it } => {
                write!(
                    f,
                    "drain: its {tasks} task(s) fit on {onto} other ACTIVE instance(s) with the buffer and scale-ups"
                )?;
                match worth_it {
                    Some(w) => write!(f, "; {w}"),
                    None => Ok(()),
                }
            }
            KeepTaskDoesNotFit { service, size } => write!(
                f,
                "kept: a task of `{service}` ({size}) fits on no other ACTIVE instance"
            ),
            KeepBufferOrScaleUp => write!(
                f,
                "kept: without it the buffer or a pending scale-up would no longer fit"
            ),
            KeepTasksUnknown { running } => write!(
                f,
                "kept: {running} running task(s) were not listed, so they cannot be shown to fit elsewhere"
            ),
            KeepStandaloneTasks { count } => write!(
                f,
                "kept: {count} task(s) belong to no service and would not be restarted elsewhere"
            ),
            KeepProtected => write!(f, "kept: protected from scale-in"),
            KeepNotInGroup => write!(f, "kept: not an InService instance of the group"),
            KeepGroupMin { min, remaining } => write!(
                f,
                "kept: draining it would leave {remaining} instance(s), below the group's min of {min} (DRAINING counted as gone)"
            ),
            KeepDrainLimit { limit } => {
                write!(f, "kept: the limit of {limit} drain(s) per plan is reached")
            }
            KeepBudget { budget, draining, drained } => write!(
                f,
                "kept: the disruption budget of {budget} instance(s) DRAINING at once is used ({draining} DRAINING with tasks before this plan, {drained} drained by it)"
            ),
            KeepOutsideWindow => write!(
                f,
                "kept: it runs tasks and no consolidation window is open"
            ),
            KeepTaskProtected { tasks } => write!(
                f,
                "kept: {} task(s) have ECS task scale-in protection: {}",
                tasks.len(),
                tasks.join(", ")
            ),
            KeepProtectionUnread { error } => write!(
                f,
                "kept: the ECS task scale-in protection of its tasks could not be read ({error}), so none of them is moved"
            ),
            KeepDoNotDisrupt { services } => write!(
                f,
                "kept: it runs tasks of {} (do-not-disrupt: `disruption: never` or the `ecs-autoscale:do-not-disrupt` tag)",
                names(services)
            ),
            KeepDrainAborted { secs_ago, cooldown_secs } => write!(
                f,
                "kept: its drain was aborted {secs_ago} s ago (past its deadline with tasks left); not drained again for {cooldown_secs} s"
            ),
            KeepNotWorthIt { cpu_percent, memory_percent, threshold_percent } => write!(
                f,
                "kept: not worth it: draining it would not shrink the group, and {cpu_percent} % of its CPU and {memory_percent} % of its memory are in use, not both below the consolidation threshold of {threshold_percent} %"
            ),
            DrainSurplus { max, outside_window, do_not_disrupt } => {
                write!(f, "drained for the surplus above the file's max of {max}")?;
                let mut despite = Vec::new();
                if *outside_window {
                    despite.push("no consolidation window is open".to_string());
                }
                if !do_not_disrupt.is_empty() {
                    despite.push(format!("it runs do-not-disrupt tasks of {}", names(do_not_disrupt)));
                }
                if !despite.is_empty() {
                    write!(f, ", although {}", despite.join(" and "))?;
                }
                Ok(())
            }
            TerminateEmptyNow => write!(
                f,
                "terminate: empty, drained in this plan (the executor re-reads it after the drain and terminates it only if it is still empty)"
            ),
            DisruptionBudget { written, group, budget, draining, inside_windows } => write!(
                f,
                "disruption budget {written} of {group} instance(s) ({}): {budget} DRAINING at once, {draining} DRAINING with tasks now, so {} busy drain(s) may start",
                if *inside_windows { "inside the consolidation windows" } else { "outside the consolidation windows" },
                budget.saturating_sub(*draining)
            ),
            DrainsPerPlan { limit } => write!(
                f,
                "`max_drain_per_cycle: {limit}`: at most {limit} busy drain(s) per plan (it replaces the disruption budget)"
            ),
            ConsolidationWindowOpen { window } => {
                write!(f, "consolidation window open ({window})")
            }
            ConsolidationWindowClosed { windows } => write!(
                f,
                "no consolidation window is open ({}): no busy instance is drained for consolidation (empty ones and the surplus above `max` still are)",
                windows.join("; ")
            ),
            DrainTimeoutAbort { secs, timeout_secs, running, cooldown_secs } => write!(
                f,
                "draining for {secs} s with {running} task(s) left, past the timeout of {timeout_secs} s: drain aborted (set ACTIVE again, not drained for {cooldown_secs} s)"
            ),
            DrainTimeoutForce { secs, timeout_secs, stopping, standalone } => {
                write!(
                    f,
                    "draining for {secs} s, past the timeout of {timeout_secs} s: forced: its {stopping} service task(s) are stopped; terminated once empty"
                )?;
                if *standalone > 0 {
                    write!(
                        f,
                        "; {standalone} standalone task(s) are never stopped and keep it draining"
                    )?;
                }
                Ok(())
            }
            ConsolidationDisabled => write!(f, "consolidation disabled (`max_drain_per_cycle: 0`)"),
            ConsolidationWhileScalingUp => {
                write!(f, "no consolidation: the plan adds capacity or still lacks some")
            }
            ConsolidationWhileBooting { booting } => {
                write!(f, "no consolidation: {booting} instance(s) still booting")
            }
            ConsolidationCandidatesNotTried { count } => {
                write!(f, "{count} further consolidation candidate(s) not examined this plan")
            }
            TerminateDrained => write!(f, "terminate: drained and empty (desired capacity decremented)"),
            TerminateBlockedByMin { min, desired } => write!(
                f,
                "kept drained: terminating would take the desired capacity {desired} below the group's min of {min}"
            ),
            TerminateBlockedProtected => write!(f, "kept drained: protected from scale-in"),
            DrainingTooLong { secs, timeout_secs, running } => write!(
                f,
                "draining for {secs} s, longer than the timeout of {timeout_secs} s, with {running} task(s) still running"
            ),
            GroupAboveMax { desired, max, max_now } => write!(
                f,
                "the group's desired capacity {desired} is above the file's max of {max}: MaxSize {max_now} until the surplus is drained (least disruptive first, only when its tasks fit elsewhere) and terminated when empty, never below the desired capacity"
            ),
            NotOurDrain { tasks_to_move: n } => {
                write!(
                    f,
                    "not ours: DRAINING but not drained by ecs-autoscale (an operator, a spot interruption, an instance refresh, a lifecycle hook): never reactivated, terminated or counted as capacity"
                )?;
                tasks_to_move(f, *n)
            }
            NotInService { lifecycle, tasks_to_move: n } => {
                write!(
                    f,
                    "not InService ({lifecycle}): never reactivated, drained, terminated or counted as capacity"
                )?;
                tasks_to_move(f, *n)
            }
            NotInGroup { tasks_to_move: n } => {
                write!(
                    f,
                    "not an instance of the group (terminated, detached or another group's): never reactivated, drained, terminated or counted as capacity"
                )?;
                tasks_to_move(f, *n)
            }
            AgentDisconnected { tasks_to_move: n } => {
                write!(
                    f,
                    "its ECS agent is disconnected (it keeps its tasks but receives none): never reactivated, drained, terminated or counted as capacity"
                )?;
                tasks_to_move(f, *n)
            }
            NeverRegistered { instance_id, secs, grace_secs } => write!(
                f,
                "instance {instance_id} has been InService for {secs} s without registering with ECS (grace {grace_secs} s): no longer counted as booting capacity"
            ),
            BootingNotCounted { instance_id, lifecycle } => write!(
                f,
                "instance {instance_id} is {lifecycle} and not registered with ECS: not counted as booting capacity"
            ),
            SurplusKept { count, max } => write!(
                f,
                "{count} instance(s) above the file's max of {max} not drained this plan (the drain limit, or tasks that fit nowhere else: see the instances)"
            ),
        }
    }
}
