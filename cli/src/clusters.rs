//! Cluster files for the commands: loading them, finding a cluster, and reading `alias=VALUE`
//! assignments against a service's aliases — each failure a clear message with hints.

use std::path::Path;

use shared::definition::{load_dir, ClusterDefinition, LoadReport, ServiceDefinition};

use crate::error::did_you_mean;
use crate::CliError;

/// Loads every cluster file of `dir` (`%(VAR)` from the environment); a missing directory is
/// exit code 3.
pub fn load(dir: &Path) -> anyhow::Result<LoadReport> {
    if !dir.exists() {
        return Err(CliError::failure(format!(
            "the clusters directory `{}` does not exist",
            dir.display()
        ))
        .hint("pass `--clusters-dir DIR` or set CLUSTERS_DIR")
        .into());
    }
    Ok(load_dir(dir, &shared::process_env))
}

/// The loaded cluster `name`, or an error saying why there is none (exit code 1).
pub fn find<'a>(
    report: &'a LoadReport,
    name: &str,
    dir: &Path,
) -> Result<&'a ClusterDefinition, CliError> {
    if let Some(c) = report.cluster(name) {
        return Ok(c);
    }
    if let Some(file) = report
        .errors
        .iter()
        .find(|f| f.cluster.as_deref() == Some(name))
    {
        let mut err = CliError::problem(format!(
            "the cluster file of `{name}` ({}) has errors, so it is not loaded",
            file.file.display()
        ));
        for e in file.errors.iter().take(5) {
            err = err.hint(e.to_string());
        }
        return Err(err.hint(format!(
            "run `ecs-autoscale validate {}` to see every problem",
            file.file.display()
        )));
    }
    let known: Vec<&str> = report.clusters.iter().map(|c| c.name.as_str()).collect();
    let mut err = CliError::problem(format!(
        "unknown cluster `{name}`: no `{name}.yml` in `{}`",
        dir.display()
    ));
    if let Some(close) = did_you_mean(name, known.iter().copied()) {
        err = err.hint(format!("did you mean `{close}`?"));
    }
    Err(if known.is_empty() {
        err.hint("no cluster file loaded there; pass `--clusters-dir DIR` or set CLUSTERS_DIR")
    } else {
        err.hint(format!("known clusters: {}", known.join(", ")))
    })
}

/// The service `name` of `cluster` (exit code 1 when unknown).
pub fn service<'a>(
    cluster: &'a ClusterDefinition,
    name: &str,
) -> Result<&'a ServiceDefinition, CliError> {
    if let Some(s) = cluster.service(name) {
        return Ok(s);
    }
    let known: Vec<&str> = cluster.services.iter().map(|s| s.name.as_str()).collect();
    let mut err = CliError::problem(format!(
        "cluster `{}` has no service `{name}`",
        cluster.name
    ));
    if let Some(close) = did_you_mean(name, known.iter().copied()) {
        err = err.hint(format!("did you mean `{close}`?"));
    }
    Err(err.hint(format!(
        "services of `{}`: {}",
        cluster.name,
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    )))
}

/// One `alias=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The service the alias belongs to.
    pub service: String,
    /// The alias.
    pub alias: String,
    /// The value.
    pub value: f64,
}

/// Reads `[SERVICE.]ALIAS=VALUE`. Without `SERVICE.`, the alias belongs to `default_service`
/// when given, else to the one service of `cluster` that has it.
pub fn assignment(
    cluster: &ClusterDefinition,
    default_service: Option<&str>,
    text: &str,
) -> Result<Assignment, CliError> {
    let Some((name, value)) = text.split_once('=') else {
        return Err(CliError::problem(format!("`{text}` is not an assignment"))
            .hint("write ALIAS=VALUE, for example `queue_length=250`"));
    };
    let (name, value) = (name.trim(), value.trim());
    let number: f64 = value
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| {
            CliError::problem(format!("`{text}`: `{value}` is not a number"))
                .hint("values are numbers, for example `cpu_usage=42.5`")
        })?;
    let (service_name, alias) = match name.split_once('.') {
        Some((s, a)) => (Some(s), a),
        None => (default_service, name),
    };
    let service = match service_name {
        Some(s) => service(cluster, s)?,
        None => {
            let owners: Vec<&ServiceDefinition> = cluster
                .services
                .iter()
                .filter(|s| s.statistic(alias).is_some())
                .collect();
            match owners.as_slice() {
                [one] => *one,
                [] => return Err(unknown_alias(cluster, None, alias)),
                many => {
                    let names: Vec<&str> = many.iter().map(|s| s.name.as_str()).collect();
                    return Err(CliError::problem(format!(
                        "alias `{alias}` belongs to several services of `{}`: {}",
                        cluster.name,
                        names.join(", ")
                    ))
                    .hint(format!("name the service: `{}.{alias}={value}`", names[0])));
                }
            }
        }
    };
    if service.statistic(alias).is_none() {
        return Err(unknown_alias(cluster, Some(service), alias));
    }
    Ok(Assignment {
        service: service.name.clone(),
        alias: alias.to_owned(),
        value: number,
    })
}

fn unknown_alias(
    cluster: &ClusterDefinition,
    service: Option<&ServiceDefinition>,
    alias: &str,
) -> CliError {
    let services: Vec<&ServiceDefinition> = match service {
        Some(s) => vec![s],
        None => cluster.services.iter().collect(),
    };
    let known: Vec<String> = services
        .iter()
        .flat_map(|s| {
            s.aliases()
                .map(move |st| format!("{}.{}", s.name, st.alias))
        })
        .collect();
    let mut err = match service {
        Some(s) => CliError::problem(format!(
            "service `{}` of cluster `{}` has no metric alias `{alias}`",
            s.name, cluster.name
        )),
        None => CliError::problem(format!(
            "no service of cluster `{}` has a metric alias `{alias}`",
            cluster.name
        )),
    };
    let bare: Vec<&str> = services
        .iter()
        .flat_map(|s| s.aliases().map(|st| st.alias.as_str()))
        .collect();
    if let Some(close) = did_you_mean(alias, bare) {
        err = err.hint(format!("did you mean `{close}`?"));
    }
    err.hint(format!(
        "aliases: {}",
        if known.is_empty() {
            "none (the service has no metric sources)".to_owned()
        } else {
            known.join(", ")
        }
    ))
}
