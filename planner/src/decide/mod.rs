//! The planner's pure core: `plan(definition, metrics, state, now)` decides each service's
//! desired count and one bin-packed instance plan, and explains both. No I/O: the Lambda
//! shell reads the state and sends the plan.
//!
//! Decide separately from doing: the plan holds absolute targets with the values they were
//! computed from, and every decision carries a [`Reason`] from one closed set.
//!
//! - `metrics`: several reports merged; aliases resolved (value, default, or why missing).
//! - `rules`: per service, the rules (`step_events`, `target_tracking`) combined, cooldowns.
//! - `capacity`: the instance plan around one `packing` simulation (with its `improve` pass),
//!   whose bins are the `instances`, whose items are the `demand`, and whose services are
//!   numbered by `services`; then `consolidation` (within the disruption budget and windows);
//!   `deadlines` decides what happens to drains past `drain_timeout`. `standing` says which
//!   instances are ours to count and act on; `lower_bound` how few instances any placement of
//!   the demand needs (the record's bound); `placement` what a task needs from an instance
//!   besides CPU and memory (host ports, GPUs, `memberOf`, ENIs) and what a new instance brings
//!   (after its daemons).
//! - `plan_id`: the deterministic id.
//! - `task_listing`: which instances' tasks the core can use (the shell lists only those).
//! - `delivery` and `report_age`: a delivery of reports planned — the current ones merged
//!   and planned, the others named in the record; the plan's `delivery_id` and `expires_at`.

mod capacity;
mod consolidation;
mod deadlines;
mod delivery;
mod demand;
mod improve;
mod instances;
mod launch_zones;
mod lower_bound;
mod metrics;
mod packing;
mod placement;
mod plan_id;
mod report_age;
mod rules;
mod services;
mod standing;
mod task_listing;
mod zones;

#[cfg(test)]
mod checked;
#[cfg(test)]
mod cycles;
#[cfg(test)]
mod disruption_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod launch_tests;
#[cfg(test)]
mod placement_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod quality;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod world_model;

use std::collections::{BTreeMap, HashMap};

use shared::definition::ClusterDefinition;
use shared::messages::{
    DecisionDetail, DecisionRecord, PlanActions, Reason, ScalingPlan, ServiceMetrics,
    SCHEMA_VERSION,
};
use shared::state::ClusterState;
use shared::time::{self, Timestamp};

pub use delivery::{expires, plan_delivery, DeliveryRules, DEFAULT_MAX_AGE, DEFAULT_PLAN_TTL};
pub use metrics::merge_reports;
pub use report_age::{Freshness, MAX_AHEAD};
pub use task_listing::{protection_listing, task_listing, TaskListing};

/// Plans one cluster. Pure: the same arguments give the same plan, and `now` only sets
/// `created_at` and the cooldown and drain-timeout clocks (not the `plan_id`). The core
/// counts whole seconds: `now` is truncated to the second.
///
/// `metrics`: per service name, the newest values and missing reasons (see
/// [`merge_reports`]). `metrics_cycle_ids` is left empty and `delivery_id` is that of no
/// report, for the caller to fill ([`plan_delivery`] does); `expires_at` is `created_at` +
/// [`DEFAULT_PLAN_TTL`].
pub fn plan(
    definition: &ClusterDefinition,
    metrics: &BTreeMap<String, ServiceMetrics>,
    state: &ClusterState,
    now: Timestamp,
) -> ScalingPlan {
    plan_traced(definition, metrics, state, now).0
}

/// [`plan`], and the final placement simulation when there is one (for invariant tests).
pub(crate) fn plan_traced(
    definition: &ClusterDefinition,
    metrics: &BTreeMap<String, ServiceMetrics>,
    state: &ClusterState,
    now: Timestamp,
) -> (ScalingPlan, Option<packing::Packer>) {
    let now = time::to_seconds(now);
    let mut detail = DecisionDetail::default();
    let mut actions = PlanActions::default();
    let mut packer = None;
    if definition.dry_run {
        detail.cluster.push(Reason::DryRun);
    }
    let provider = state
        .group
        .as_ref()
        .and_then(|g| g.capacity_provider.as_ref());
    // The tag alone tells of a provider somewhere; the cluster's provider on the group, read,
    // tells whether it scales the group.
    let ecs_managed = state.group.as_ref().is_some_and(|g| g.ecs_managed) && provider.is_none();
    if !definition.enabled {
        detail.cluster.push(Reason::ClusterDisabled);
    } else if let Some(p) = provider.filter(|p| p.managed_scaling) {
        detail.cluster.push(Reason::ManagedScalingOnGroup {
            group: definition.autoscale_group.clone(),
            provider: p.name.clone(),
        });
    } else if let Some((group, units)) = state
        .group
        .as_ref()
        .and_then(|g| Some((g, g.capacity_in_units.as_ref()?)))
    {
        detail.cluster.push(Reason::CapacityInUnits {
            group: group.name.clone(),
            detail: units.clone(),
        });
    } else if ecs_managed {
        // Two autoscalers on one group fight over its desired capacity: this one stands back.
        detail.cluster.push(Reason::GroupManagedByEcs {
            group: definition.autoscale_group.clone(),
        });
    } else {
        if let Some(p) = provider {
            detail.cluster.push(Reason::ProviderWithoutManagedScaling {
                group: definition.autoscale_group.clone(),
                provider: p.name.clone(),
            });
        }
        let mut targets: HashMap<&str, u32> = HashMap::new();
        for def in &definition.services {
            let outcome =
                rules::decide_service(def, state.service(&def.name), metrics.get(&def.name), now);
            if let Some(change) = outcome.change {
                targets.insert(def.name.as_str(), change.to);
                actions.services.push(change);
            }
            detail.services.push(outcome.decision);
        }
        // Scale-ups before scale-downs, as the executor applies them in order.
        actions.services.sort_by_key(|c| c.to < c.from);
        match &state.group {
            None => detail.cluster.push(Reason::GroupNotFound {
                group: definition.autoscale_group.clone(),
            }),
            Some(group) => {
                let cap = capacity::plan_capacity(definition, state, group, &targets, now);
                actions.group_limits = cap.group_limits;
                actions.reactivate = cap.reactivate;
                actions.group_desired = cap.group_desired;
                actions.drain = cap.drain;
                actions.drain_eni_use = cap.drain_eni_use;
                actions.terminate = cap.terminate;
                actions.abort_drain = cap.abort_drain;
                actions.force_drain = cap.force_drain;
                detail.cluster.extend(cap.notes);
                detail.capacity = Some(cap.decision);
                packer = Some(cap.packer);
            }
        }
    }

    let inputs: BTreeMap<&str, BTreeMap<&str, Option<f64>>> = detail
        .services
        .iter()
        .map(|s| {
            let values = s
                .metrics
                .iter()
                .map(|m| (m.alias.as_str(), m.value))
                .collect();
            (s.service.as_str(), values)
        })
        .collect();
    let plan_id = plan_id::plan_id(
        &definition.name,
        &definition.autoscale_group,
        definition.dry_run,
        &inputs,
        &actions,
    );
    let headlines = headlines(&detail);
    let plan = ScalingPlan {
        schema_version: SCHEMA_VERSION,
        plan_id,
        delivery_id: shared::messages::delivery_id::<&str>(&definition.name, &[]),
        cluster: definition.name.clone(),
        autoscale_group: definition.autoscale_group.clone(),
        created_at: now,
        expires_at: expires(now, DEFAULT_PLAN_TTL),
        metrics_cycle_ids: Vec::new(),
        dry_run: definition.dry_run,
        has_actions: !actions.is_empty(),
        actions,
        decisions: DecisionRecord { headlines, detail },
    };
    (plan, packer)
}

/// One line per decision: cluster notes, each service, then the instance plan.
fn headlines(detail: &DecisionDetail) -> Vec<String> {
    let mut lines: Vec<String> = detail
        .cluster
        .iter()
        .map(|r| format!("cluster: {r}"))
        .collect();
    for s in &detail.services {
        let counts = match (s.from, s.to) {
            (Some(f), Some(t)) if f != t => format!("{f} → {t}"),
            (Some(f), _) => format!("{f}"),
            _ => "-".to_string(),
        };
        let mut parts: Vec<String> = s.reasons.iter().map(ToString::to_string).collect();
        for rule in &s.rules {
            parts.extend(rule.reasons.iter().map(ToString::to_string));
        }
        for m in s
            .metrics
            .iter()
            .filter(|m| m.value.is_none() || m.default_used)
        {
            match (&m.missing, m.value) {
                (Some(why), Some(v)) => {
                    parts.push(format!("`{}` missing ({why}): default {v} used", m.alias))
                }
                (Some(why), None) => parts.push(format!("`{}` missing: {why}", m.alias)),
                (None, Some(v)) => {
                    parts.push(format!("`{}` not reported: default {v} used", m.alias))
                }
                (None, None) => parts.push(format!("`{}` not reported", m.alias)),
            }
        }
        lines.push(format!(
            "service `{}` ({counts}): {}",
            s.service,
            parts.join("; ")
        ));
    }
    if let Some(c) = &detail.capacity {
        lines.push(format!(
            "capacity: demand {} CPU / {} MiB, planned {} CPU / {} MiB on {} instance(s); at least {} needed",
            c.cpu.demand,
            c.memory.demand,
            c.cpu.planned_capacity,
            c.memory.planned_capacity,
            c.planned_instances,
            c.lower_bound_instances
        ));
        for r in c.new_instances.iter().chain(&c.unplaced).chain(&c.notes) {
            lines.push(format!("capacity: {r}"));
        }
        for d in &c.instances {
            lines.push(format!(
                "instance {} ({}): {}",
                d.instance.ec2_instance_id, d.instance.container_instance_arn, d.reason
            ));
        }
    }
    lines
}
