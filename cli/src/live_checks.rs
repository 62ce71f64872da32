//! `validate --live`: what only the live cluster tells about a valid cluster file — DAEMON
//! services it names (never scaled), its group missing, an ECS capacity provider with managed
//! scaling on its group or a desired capacity counted in units, not instances (either way the
//! cluster is left alone) — from read-only calls.

use anyhow::{Context, Result};
use aws_sdk_ecs::error::DisplayErrorContext;
use aws_sdk_ecs::types::SchedulingStrategy;
use shared::aws::{read, AwsClients};
use shared::definition::ClusterDefinition;

/// The warnings of one cluster file against its live cluster, each a full sentence.
pub async fn warnings(clients: &AwsClients, def: &ClusterDefinition) -> Result<Vec<String>> {
    let cluster = def.name.as_str();
    let mut out = Vec::new();
    let names: Vec<String> = def.services.iter().map(|s| s.name.clone()).collect();
    let described = read::describe_services(&clients.ecs, cluster, &names, &[])
        .await
        .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
        .with_context(|| format!("cluster `{cluster}`: DescribeServices"))?;
    for service in &described.found {
        if service.scheduling_strategy() == Some(&SchedulingStrategy::Daemon) {
            out.push(format!(
                "service `{}` is a DAEMON service (one task per instance): it is never scaled; remove it from the file",
                service.service_name().unwrap_or_default()
            ));
        }
    }
    let group = read::describe_group(&clients.autoscaling, &def.autoscale_group)
        .await
        .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
        .with_context(|| format!("cluster `{cluster}`: DescribeAutoScalingGroups"))?;
    let Some(group) = group else {
        out.push(format!(
            "Auto Scaling group `{}` not found: no instance would be launched or drained",
            def.autoscale_group
        ));
        return Ok(out);
    };
    if let Some(units) = shared::aws::state::capacity_in_units(&group) {
        out.push(format!(
            "group `{}`'s desired capacity is not a count of instances ({units}): the cluster would be left alone (weigh every type 1, or remove the file)",
            def.autoscale_group
        ));
    }
    let link = read::group_capacity_provider(
        &clients.ecs,
        cluster,
        &def.autoscale_group,
        group.auto_scaling_group_arn(),
    )
    .await
    .map_err(|e| {
        let operation = e.operation();
        anyhow::anyhow!("{}", DisplayErrorContext(e))
            .context(format!("cluster `{cluster}`: {operation}"))
    })?;
    if let Some(p) = link.filter(|p| p.managed_scaling) {
        out.push(format!(
            "capacity provider `{}` has managed scaling ENABLED on group `{}`: the cluster would be left alone (turn its managed scaling off, or remove the file)",
            p.name, def.autoscale_group
        ));
    }
    Ok(out)
}
