//! `ecs-autoscale plan --cluster NAME [--set [SERVICE.]ALIAS=VALUE]... [--json]`: what a real run
//! would decide now, changing nothing.
//!
//! Metrics come from `--set` (then nothing is collected: aliases not given have no value) or
//! from the collector's own collection code (CloudWatch, HTTP), without sending anything. The
//! state comes from the planner's state reader, the plan from the pure planner core. The AWS
//! clients are read-only ([`crate::aws::ReadOnlyGuard`]): an operation that is not a
//! `Describe*`/`List*`/`Get*` fails before it is sent.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_ecs::error::DisplayErrorContext;
use collector::cycle::{Cycle, Sources};
use collector::sources::http::{HttpCollector, HttpConfig};
use shared::definition::ClusterDefinition;
use shared::messages::{MetricsReport, ScalingPlan, ServiceMetrics};

use crate::args::{ClusterFiles, ClusterName};
use crate::aws::{self, Access};
use crate::{clusters, exit, render, CliError};

/// How long collection may take.
const COLLECT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    cluster: ClusterName,
    #[command(flatten)]
    files: ClusterFiles,
    /// A metric value instead of collecting: `ALIAS=VALUE` or `SERVICE.ALIAS=VALUE` (repeatable).
    /// With any `--set`, nothing is collected.
    #[arg(long = "set", value_name = "ALIAS=VALUE")]
    sets: Vec<String>,
    /// Print the plan as JSON (the message the planner would send).
    #[arg(long)]
    json: bool,
}

/// Plans and prints; exit 0 (whether or not the plan has actions).
pub async fn run(args: &Args) -> Result<u8> {
    let report = clusters::load(&args.files.clusters_dir)?;
    let definition = clusters::find(&report, &args.cluster.cluster, &args.files.clusters_dir)?;
    let assignments = args
        .sets
        .iter()
        .map(|s| clusters::assignment(definition, None, s))
        .collect::<Result<Vec<_>, CliError>>()?;
    let clients = aws::clients(Access::ReadOnly).await?;

    let (metrics, cycle_ids) = if assignments.is_empty() {
        let report = collect(&clients, definition).await?;
        planner::merge_reports(&[report])
    } else {
        let mut metrics: BTreeMap<String, ServiceMetrics> = BTreeMap::new();
        for a in &assignments {
            metrics
                .entry(a.service.clone())
                .or_default()
                .set_value(&a.alias, a.value);
        }
        (metrics, vec!["cli-set".to_owned()])
    };

    let cache = planner::state_reader::TaskDefinitionCache::new();
    let read = planner::state_reader::read_cluster_state(&clients, definition, &cache)
        .await
        .map_err(|e| {
            CliError::failure(format!(
                "reading the state of cluster `{}`: {}",
                definition.name,
                DisplayErrorContext(&e)
            ))
            .hint("the cluster, its services and its Auto Scaling group are read with Describe*/List* calls; check the region and credentials")
        })?;
    for missing in &read.missing_services {
        eprintln!(
            "warning: service `{}` of cluster `{}` is not in ECS ({}); it is left out of the plan",
            missing.name, definition.name, missing.reason
        );
    }
    if read.state.group.is_none() {
        eprintln!(
            "warning: Auto Scaling group `{}` not found; the plan leaves instances alone",
            definition.autoscale_group
        );
    }
    let mut plan = planner::plan(definition, &metrics, &read.state, shared::time::now());
    plan.metrics_cycle_ids = cycle_ids;
    print(&plan, args.json)?;
    eprintln!("preview only: nothing was changed");
    Ok(exit::OK)
}

fn print(plan: &ScalingPlan, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(plan)?);
        return Ok(());
    }
    print!("{}", render::plan(plan));
    let metrics = render::metric_lines(plan);
    if !metrics.is_empty() {
        println!("  metrics:");
        for line in metrics {
            println!("    {line}");
        }
    }
    Ok(())
}

/// One collection of `definition`'s metrics with the collector's code; nothing is sent.
async fn collect(
    clients: &shared::aws::AwsClients,
    definition: &ClusterDefinition,
) -> Result<MetricsReport> {
    let http = HttpCollector::new(HttpConfig::default())
        .map_err(|e| CliError::failure(format!("building the HTTP client: {e}")))?;
    let sources = Sources {
        cloudwatch: clients.cloudwatch.clone(),
        http,
        cloudwatch_lag: Duration::ZERO,
    };
    let now = shared::time::now();
    let cycle = Cycle {
        id: format!("cli-plan-{now}"),
        now,
        deadline: tokio::time::Instant::now() + COLLECT_TIMEOUT,
    };
    let mut reports = collector::cycle::collect(&[definition], &cycle, &sources).await;
    reports.pop().ok_or_else(|| {
        anyhow::anyhow!("the collector returned no report for `{}`", definition.name)
    })
}
