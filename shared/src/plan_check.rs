//! What a plan may ask of a cluster, by its cluster file: the executor's check of every plan
//! before anything of it is applied (pure; the planner's tests assert that its plans pass).
//!
//! The plans queue is a boundary: anything that can send to it can write a plan. A plan is
//! applied only if
//! - its cluster has a loaded file, which is enabled, and the plan names the file's group;
//! - each service it changes is in the file, enabled, and changed once, to a count within the
//!   service's `min`/`max`;
//! - the group's limits it sets are the file's: MinSize the file's `min` (or unchanged), MaxSize
//!   at most the file's `max`, or not raised (while the desired capacity is above the file's
//!   `max`, MaxSize comes down to it step by step);
//! - the desired capacity it sets is within the limits the plan sets and, once the group is
//!   read ([`check_live`]), within the file's `max` (unless the file's limits contradict the
//!   group's, when the group's own limits stand);
//! - each instance appears once in each list;
//! - every count fits the APIs' 32-bit integers.
//!
//! Otherwise the plan is rejected with every reason at once, and nothing of it is applied.

use std::collections::HashSet;

use crate::definition::ClusterDefinition;
use crate::messages::{InstanceRef, ScalingPlan};
use crate::state::GroupState;

/// The largest count the ECS and Auto Scaling APIs take (`Integer`).
pub const MAX_API_COUNT: u32 = i32::MAX as u32;

/// Names longer than this are cut in the reasons (a forged plan may carry megabytes).
const SHOWN_CHARS: usize = 80;

/// Why `plan` must not be applied, given the cluster files the function loaded; `Ok` when it
/// may be. Every reason is reported, in the order of the plan's fields.
pub fn check(plan: &ScalingPlan, definitions: &[ClusterDefinition]) -> Result<(), Vec<String>> {
    let Some(def) = definitions.iter().find(|d| d.name == plan.cluster) else {
        return Err(vec![format!(
            "no cluster file of `{}` is loaded: a plan is applied only to a cluster this function has a valid file for",
            shown(&plan.cluster)
        )]);
    };
    let mut why = Vec::new();
    if !def.enabled {
        why.push(format!(
            "the cluster `{}` is disabled in its file (`enabled: false`)",
            def.name
        ));
    }
    if plan.autoscale_group != def.autoscale_group {
        why.push(format!(
            "the plan names the group `{}`, the cluster file `{}`",
            shown(&plan.autoscale_group),
            def.autoscale_group
        ));
    }
    services(plan, def, &mut why);
    group(plan, def, &mut why);
    let actions = &plan.actions;
    for d in &actions.drain {
        if !d.task_needs.is_empty() && d.task_needs.len() != d.task_sizes.len() {
            why.push(format!(
                "drain: the container instance `{}` has {} task size(s) and {} task need(s)",
                shown(&d.instance.container_instance_arn),
                d.task_sizes.len(),
                d.task_needs.len()
            ));
        }
    }
    let drains: Vec<&InstanceRef> = actions.drain.iter().map(|d| &d.instance).collect();
    for (kind, list) in [
        ("reactivate", actions.reactivate.iter().collect::<Vec<_>>()),
        ("drain", drains),
        ("terminate", actions.terminate.iter().collect()),
    ] {
        let mut seen = HashSet::new();
        for instance in list {
            if !seen.insert(instance.container_instance_arn.as_str()) {
                why.push(format!(
                    "{kind}: the container instance `{}` is listed twice",
                    shown(&instance.container_instance_arn)
                ));
            }
        }
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why)
    }
}

fn services(plan: &ScalingPlan, def: &ClusterDefinition, why: &mut Vec<String>) {
    let mut seen = HashSet::new();
    for change in &plan.actions.services {
        let name = shown(&change.service);
        if !seen.insert(change.service.as_str()) {
            why.push(format!("service `{name}` is changed twice in one plan"));
            continue;
        }
        let Some(service) = def.service(&change.service) else {
            why.push(format!("service `{name}` is not in the cluster file"));
            continue;
        };
        if !service.enabled {
            why.push(format!(
                "service `{name}` is disabled in the cluster file (`enabled: false`)"
            ));
        }
        if !(service.min..=service.max).contains(&change.to) {
            why.push(format!(
                "service `{name}`: desired count {} is outside the file's [{}, {}]",
                change.to, service.min, service.max
            ));
        }
        counts(&format!("service `{name}`"), &[change.from, change.to], why);
    }
}

fn group(plan: &ScalingPlan, def: &ClusterDefinition, why: &mut Vec<String>) {
    let actions = &plan.actions;
    if let Some(limits) = &actions.group_limits {
        let (from, to) = (limits.from, limits.to);
        counts("group limits", &[from.min, from.max, to.min, to.max], why);
        if to.min > to.max {
            why.push(format!(
                "group limits: MinSize {} is above MaxSize {}",
                to.min, to.max
            ));
        }
        if to.min != from.min && Some(to.min) != def.min {
            why.push(format!(
                "group limits: MinSize {} is neither the file's min ({}) nor the group's ({})",
                to.min,
                shown_limit(def.min),
                from.min
            ));
        }
        let highest = def.max.map_or(from.max, |max| max.max(from.max));
        if to.max > highest {
            why.push(format!(
                "group limits: MaxSize {} is above the file's max ({}) and the group's ({})",
                to.max,
                shown_limit(def.max),
                from.max
            ));
        }
    }
    if let Some(desired) = &actions.group_desired {
        counts("group desired capacity", &[desired.from, desired.to], why);
        // Against the file's `max`: see `check_live`, which knows the group's own limits.
        if let Some(limits) = &actions.group_limits {
            if !(limits.to.min..=limits.to.max).contains(&desired.to) {
                why.push(format!(
                    "group desired capacity {} is outside the limits the plan sets [{}, {}]",
                    desired.to, limits.to.min, limits.to.max
                ));
            }
        }
    }
}

/// The part of the check that needs the group as it is (read before anything is applied):
/// the desired capacity the plan sets is at most the file's `max` — or, while the file's
/// limits contradict the group's other limit (a `max` below the group's MinSize, a `min` above
/// its MaxSize: the planner then leaves the group's limits as they are), at most the group's
/// MaxSize. Without a `max` in the file, the group's MaxSize bounds it (its guard checks that).
pub fn check_live(
    plan: &ScalingPlan,
    def: &ClusterDefinition,
    group: &GroupState,
) -> Result<(), Vec<String>> {
    let Some(desired) = &plan.actions.group_desired else {
        return Ok(());
    };
    let Some(max) = def.max else {
        return Ok(());
    };
    let contradicts = def.min.unwrap_or(group.min) > max;
    if contradicts || desired.to <= max {
        return Ok(());
    }
    Err(vec![format!(
        "group desired capacity {} is above the file's max of {max}",
        desired.to
    )])
}

/// Every count must fit the APIs' `Integer`: one that does not would be sent as another value.
fn counts(what: &str, values: &[u32], why: &mut Vec<String>) {
    if let Some(v) = values.iter().find(|&&v| v > MAX_API_COUNT) {
        why.push(format!(
            "{what}: {v} is larger than the APIs accept ({MAX_API_COUNT})"
        ));
    }
}

fn shown_limit(limit: Option<u32>) -> String {
    limit.map_or_else(|| "not set".to_owned(), |v| v.to_string())
}

/// `text` for a reason: cut, with control characters escaped.
fn shown(text: &str) -> String {
    crate::shown::shown(text, SHOWN_CHARS)
}

#[cfg(test)]
mod tests;
