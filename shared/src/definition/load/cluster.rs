//! The cluster and its services: keys, limits, cooldowns, and the service's aliases checked before its rules.

use std::collections::HashSet;
use std::time::Duration;

use super::disruption::{disruption, service_disruption};
use super::fields::{
    boolean, count, fields, join, list, opt, req, seconds, shown, string, text, Ctx,
};
use super::rules::{event, target_tracking};
use super::sources::metric_sources;
use crate::definition::yaml::{Node, NodeKind};
use crate::definition::{
    ClusterDefinition, ServiceDefinition, DEFAULT_DRAIN_TIMEOUT_SECS,
    DEFAULT_REGISTRATION_GRACE_SECS, DEFAULT_SCALE_DOWN_COOLDOWN_SECS,
    DEFAULT_SCALE_UP_COOLDOWN_SECS,
};
use crate::resources::Resources;

pub(super) const CLUSTER_KEYS: &[&str] = &[
    "autoscale_group",
    "enabled",
    "cpu_buffer",
    "mem_buffer",
    "min",
    "max",
    "services",
    "dry_run",
    "max_drain_per_cycle",
    "max_tasks_per_instance",
    "drain_timeout",
    "registration_grace",
    "instance_capacity",
    "disruption_budget",
    "consolidation_windows",
    "consolidation_threshold",
    "drain_timeout_action",
    "drain_abort_cooldown",
];

pub(super) fn cluster(ctx: &mut Ctx, name: &str, root: &Node) -> Option<ClusterDefinition> {
    let f = fields(ctx, root, "", CLUSTER_KEYS)?;
    let autoscale_group = req(ctx, &f, "autoscale_group", "", group_name);
    let enabled = opt(ctx, &f, "enabled", "", boolean).unwrap_or(true);
    let cpu_buffer = opt(ctx, &f, "cpu_buffer", "", count).unwrap_or(0);
    let mem_buffer = opt(ctx, &f, "mem_buffer", "", count).unwrap_or(0);
    let min = opt(ctx, &f, "min", "", count);
    let max = opt(ctx, &f, "max", "", count);
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi && !unresolved_any(ctx, &[f.get("min"), f.get("max")]) {
            let node = f.get("min").unwrap_or(root);
            ctx.at(
                node,
                "min",
                format!("min ({lo}) is greater than max ({hi})"),
            );
        }
    }
    let dry_run = opt(ctx, &f, "dry_run", "", boolean).unwrap_or(false);
    let max_drain_per_cycle = opt(ctx, &f, "max_drain_per_cycle", "", count);
    let max_tasks_per_instance = opt(ctx, &f, "max_tasks_per_instance", "", count);
    if max_tasks_per_instance == Some(0) && !unresolved_any(ctx, &[f.get("max_tasks_per_instance")])
    {
        let node = f.get("max_tasks_per_instance").unwrap_or(root);
        ctx.at(
            node,
            "max_tasks_per_instance",
            "must be at least 1 (an instance has at least one ENI for tasks)",
        );
    }
    let drain_timeout = opt(ctx, &f, "drain_timeout", "", seconds)
        .unwrap_or(Duration::from_secs(DEFAULT_DRAIN_TIMEOUT_SECS));
    let registration_grace = opt(ctx, &f, "registration_grace", "", seconds)
        .unwrap_or(Duration::from_secs(DEFAULT_REGISTRATION_GRACE_SECS));
    let instance_capacity = opt(ctx, &f, "instance_capacity", "", capacity);
    let disruption = disruption(ctx, &f);
    let services = match f.get("services") {
        Some(node) => services(ctx, node, "services"),
        None => Vec::new(),
    };
    Some(ClusterDefinition {
        name: name.to_string(),
        source: ctx.file.to_path_buf(),
        autoscale_group: autoscale_group?,
        enabled,
        cpu_buffer,
        mem_buffer,
        min,
        max,
        dry_run,
        max_drain_per_cycle,
        max_tasks_per_instance,
        drain_timeout,
        disruption,
        registration_grace,
        instance_capacity,
        services,
    })
}

pub(super) const CAPACITY_KEYS: &[&str] = &["cpu", "memory"];

fn capacity(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Resources> {
    let f = fields(ctx, node, path, CAPACITY_KEYS)?;
    let cpu = req(ctx, &f, "cpu", path, count);
    let memory = req(ctx, &f, "memory", path, count);
    for (key, v) in [("cpu", cpu), ("memory", memory)] {
        if v == Some(0) && !unresolved_any(ctx, &[f.get(key)]) {
            let n = f.get(key).unwrap_or(node);
            ctx.at(n, &join(path, key), "must be greater than 0");
        }
    }
    Some(Resources::new(cpu?, memory?))
}

fn services(ctx: &mut Ctx, node: &Node, path: &str) -> Vec<ServiceDefinition> {
    let NodeKind::Map(entries) = &node.kind else {
        ctx.at(
            node,
            path,
            format!(
                "expected a mapping of service names to definitions, found {}",
                node.describe()
            ),
        );
        return Vec::new();
    };
    let mut out: Vec<ServiceDefinition> = Vec::new();
    // Names seen, in constant time each: a file may define many thousands of services.
    let mut seen: HashSet<String> = HashSet::with_capacity(entries.len());
    for (key, value) in entries {
        let Some(name) = text(ctx, key, path) else {
            continue;
        };
        let spath = join(path, &name);
        if !seen.insert(name.clone()) {
            ctx.at(
                key,
                &spath,
                format!("service `{}` is defined twice", shown(&name)),
            );
            continue;
        }
        if !ctx.unresolved(key) {
            if let Err(why) = check_service_name(&name) {
                ctx.at(key, &spath, why);
            }
        }
        if let Some(s) = service(ctx, &name, value, &spath) {
            out.push(s);
        }
    }
    out
}

/// What ECS accepts as a service name: 1 to 255 letters, digits, hyphens and underscores.
fn check_service_name(name: &str) -> Result<(), String> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name.is_empty() && name.len() <= 255 && valid_chars {
        return Ok(());
    }
    Err(format!(
        "`{}` is not a valid ECS service name: 1 to 255 letters, digits, hyphens and underscores",
        shown(name)
    ))
}

/// The Auto Scaling group's name: what the API accepts, 1 to 255 characters without control
/// characters (a newline or a NUL would reach every call and every log line).
fn group_name(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let name = string(ctx, node, path)?;
    if ctx.unresolved(node) {
        return Some(name);
    }
    let length = name.chars().count();
    if length > 255 {
        ctx.at(
            node,
            path,
            format!("an Auto Scaling group name has at most 255 characters; this one has {length}"),
        );
        return None;
    }
    if name.chars().any(char::is_control) {
        ctx.at(
            node,
            path,
            format!(
                "an Auto Scaling group name has no control characters (newline, tab, NUL, …): `{}`",
                shown(&name)
            ),
        );
        return None;
    }
    Some(name)
}

/// Whether any of these (present) nodes was left unresolved (their relation is not checked).
pub(super) fn unresolved_any(ctx: &Ctx, nodes: &[Option<&Node>]) -> bool {
    nodes.iter().flatten().any(|n| ctx.unresolved(n))
}

pub(super) const SERVICE_KEYS: &[&str] = &[
    "enabled",
    "min",
    "max",
    "metric_sources",
    "events",
    "target_tracking",
    "scale_up_cooldown",
    "scale_down_cooldown",
    "disruption",
];

fn service(ctx: &mut Ctx, name: &str, node: &Node, path: &str) -> Option<ServiceDefinition> {
    let f = fields(ctx, node, path, SERVICE_KEYS)?;
    let enabled = opt(ctx, &f, "enabled", path, boolean).unwrap_or(true);
    let min = req(ctx, &f, "min", path, count);
    let max = req(ctx, &f, "max", path, count);
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi && !unresolved_any(ctx, &[f.get("min"), f.get("max")]) {
            let n = f.get("min").unwrap_or(node);
            ctx.at(
                n,
                &join(path, "min"),
                format!("min ({lo}) is greater than max ({hi})"),
            );
        }
    }
    ctx.aliases.clear();
    let metric_sources = opt(ctx, &f, "metric_sources", path, metric_sources).unwrap_or_default();
    let scale_up_cooldown = opt(ctx, &f, "scale_up_cooldown", path, seconds)
        .unwrap_or(Duration::from_secs(DEFAULT_SCALE_UP_COOLDOWN_SECS));
    let scale_down_cooldown = opt(ctx, &f, "scale_down_cooldown", path, seconds)
        .unwrap_or(Duration::from_secs(DEFAULT_SCALE_DOWN_COOLDOWN_SECS));
    let disruption = opt(ctx, &f, "disruption", path, service_disruption).unwrap_or_default();

    // Aliases first, so expressions can be checked against them.
    let aliases = check_aliases(ctx);

    let events = match f.get("events") {
        Some(n) => {
            let epath = join(path, "events");
            list(ctx, n, &epath)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .filter_map(|(i, e)| event(ctx, e, &format!("{epath}[{i}]"), &aliases))
                .collect()
        }
        None => Vec::new(),
    };
    let target_tracking = f
        .get("target_tracking")
        .and_then(|n| target_tracking(ctx, n, &join(path, "target_tracking"), &aliases));

    Some(ServiceDefinition {
        name: name.to_string(),
        enabled,
        min: min?,
        max: max?,
        metric_sources,
        events,
        target_tracking,
        scale_up_cooldown,
        scale_down_cooldown,
        disruption,
    })
}

/// Checks the aliases `statistics` recorded for the service (valid, unique) and returns them, sorted.
fn check_aliases(ctx: &mut Ctx) -> Vec<String> {
    let mut aliases: Vec<String> = Vec::new();
    let mut known: HashSet<String> = HashSet::new();
    for seen in std::mem::take(&mut ctx.aliases) {
        if let Err(why) = crate::expr::check_alias(&seen.name) {
            let why = if seen.name.chars().nth(64).is_some() {
                format!("`{}` is not a valid alias", shown(&seen.name))
            } else {
                why
            };
            ctx.error(Some(seen.pos), &seen.path, why);
        } else if !known.insert(seen.name.clone()) {
            ctx.error(
                Some(seen.pos),
                &seen.path,
                format!("alias `{}` is defined twice in this service", seen.name),
            );
        } else {
            aliases.push(seen.name);
        }
    }
    // Sorted, so that expressions look their names up in logarithmic time.
    aliases.sort();
    aliases
}
