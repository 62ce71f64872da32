//! `ecs-autoscale validate [PATH]... [--live]`: the cluster files, and with `--live` what their
//! live clusters tell ([`crate::live_checks`]).

use std::path::PathBuf;

use anyhow::Result;
use shared::definition::{load_dir_with, ClusterDefinition, LoadReport, Vars};

use crate::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Cluster files or directories of `*.yml` / `*.yaml` files.
    #[arg(default_value = "clusters")]
    paths: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Leave `%(VAR)` references to unset variables as written instead of reporting them, and
    /// skip the checks of the values that hold them (for checking files where the variables
    /// are not set, e.g. at build time; the functions still need them in their environment).
    #[arg(long)]
    allow_unset_vars: bool,
    /// Also check each valid cluster against its live state (read-only AWS calls, from the
    /// standard environment): a warning for each DAEMON service the file names, a group that
    /// does not exist, and an ECS capacity provider with managed scaling on the group.
    #[arg(long)]
    live: bool,
}

/// Exit 0 when every file is valid, 1 otherwise.
pub fn run(args: &Args) -> Result<u8> {
    let mut report = LoadReport::default();
    let unset = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let env = |name: &str| {
        let value = shared::process_env(name);
        if value.is_none() && args.allow_unset_vars {
            unset.borrow_mut().insert(name.to_string());
        }
        value
    };
    let vars = Vars {
        lookup: &env,
        allow_unset: args.allow_unset_vars,
    };
    for path in &args.paths {
        if !path.exists() {
            anyhow::bail!("`{}` does not exist", path.display());
        }
        let r = load_dir_with(path, vars);
        report.clusters.extend(r.clusters);
        report.errors.extend(r.errors);
    }
    for name in unset.borrow().iter() {
        eprintln!("note: `%({name})` is not set here; the functions need it in their environment");
    }
    let warnings = if args.live && !report.clusters.is_empty() {
        tokio::runtime::Runtime::new()?.block_on(live_warnings(&report.clusters))?
    } else {
        Vec::new()
    };
    if args.json {
        let mut json = as_json(&report);
        if args.live {
            json["warnings"] = serde_json::json!(warnings
                .iter()
                .map(
                    |(cluster, message)| serde_json::json!({"cluster": cluster, "message": message})
                )
                .collect::<Vec<_>>());
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        for c in &report.clusters {
            println!("{}", summary(c));
        }
        for (cluster, message) in &warnings {
            println!("warning: {cluster}: {message}");
        }
        for file in &report.errors {
            for e in &file.errors {
                println!("{e}");
            }
        }
        let errors: usize = report.errors.iter().map(|f| f.errors.len()).sum();
        eprintln!(
            "{} valid, {} invalid ({} error{})",
            report.clusters.len(),
            report.errors.len(),
            errors,
            if errors == 1 { "" } else { "s" }
        );
        if report.clusters.is_empty() && report.errors.is_empty() {
            eprintln!("hint: no `*.yml` or `*.yaml` files were found");
        }
    }
    Ok(if report.is_ok() && !report.clusters.is_empty() {
        exit::OK
    } else {
        exit::PROBLEMS
    })
}

/// (cluster, warning) of every valid cluster against its live state (read-only clients).
async fn live_warnings(clusters: &[ClusterDefinition]) -> Result<Vec<(String, String)>> {
    let clients = crate::aws::clients(crate::aws::Access::ReadOnly).await?;
    let mut out = Vec::new();
    for c in clusters {
        for w in crate::live_checks::warnings(&clients, c).await? {
            out.push((c.name.clone(), w));
        }
    }
    Ok(out)
}

fn summary(c: &ClusterDefinition) -> String {
    let enabled = c.enabled_services().count();
    let mut line = format!(
        "ok {} ({}): group `{}`, {} service{} ({} enabled)",
        c.name,
        c.source.display(),
        c.autoscale_group,
        c.services.len(),
        if c.services.len() == 1 { "" } else { "s" },
        enabled
    );
    if !c.enabled {
        line.push_str(", cluster disabled");
    }
    if c.dry_run {
        line.push_str(", dry run");
    }
    line
}

fn as_json(report: &LoadReport) -> serde_json::Value {
    let clusters: Vec<_> = report
        .clusters
        .iter()
        .map(|c| {
            serde_json::json!({
                "cluster": c.name,
                "file": c.source.display().to_string(),
                "autoscale_group": c.autoscale_group,
                "enabled": c.enabled,
                "services": c.services.iter().map(|s| &s.name).collect::<Vec<_>>(),
            })
        })
        .collect();
    let errors: Vec<_> = report
        .errors
        .iter()
        .flat_map(|f| f.errors.iter())
        .map(|e| {
            serde_json::json!({
                "file": e.file.display().to_string(),
                "line": e.position.map(|p| p.line),
                "column": e.position.map(|p| p.column),
                "path": e.path,
                "message": e.message,
            })
        })
        .collect();
    serde_json::json!({ "valid": clusters, "errors": errors })
}
