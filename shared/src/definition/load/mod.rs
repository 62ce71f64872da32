//! From YAML text to validated [`ClusterDefinition`]s, collecting every problem: directories, files, texts.

mod cluster;
mod disruption;
mod fields;
mod rules;
mod sources;

use std::path::{Path, PathBuf};

use super::error::{FileErrors, Position};
use super::yaml;
use super::ClusterDefinition;
use cluster::cluster;
use fields::Ctx;

/// Every mapping of the format with fixed keys, by where it is in a file (`*`: any service
/// name, `[]`: any item of a list), and the keys the loader accepts there. The cluster file's
/// schema (`definition::schema`) is checked against this table, both ways.
#[cfg(test)]
pub(crate) const MAPPING_KEYS: &[(&str, &[&str])] = &[
    ("", cluster::CLUSTER_KEYS),
    ("instance_capacity", cluster::CAPACITY_KEYS),
    ("disruption_budget", disruption::BUDGET_KEYS),
    ("consolidation_windows[]", disruption::WINDOW_KEYS),
    ("services.*", cluster::SERVICE_KEYS),
    ("services.*.metric_sources", sources::METRIC_SOURCES_KEYS),
    (
        "services.*.metric_sources.third_party[]",
        sources::HTTP_SOURCE_KEYS,
    ),
    (
        "services.*.metric_sources.third_party[].statistics[]",
        sources::STATISTIC_KEYS,
    ),
    (
        "services.*.metric_sources.cloudwatch[]",
        sources::CLOUDWATCH_SOURCE_KEYS,
    ),
    (
        "services.*.metric_sources.cloudwatch[].dimensions[]",
        sources::DIMENSION_KEYS,
    ),
    (
        "services.*.metric_sources.cloudwatch[].statistics[]",
        sources::STATISTIC_KEYS,
    ),
    ("services.*.events[]", rules::EVENT_KEYS),
    ("services.*.target_tracking", rules::TARGET_TRACKING_KEYS),
];

/// What loading a set of files produced: the clusters that are valid, and the errors of the others.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Valid clusters, sorted by name.
    pub clusters: Vec<ClusterDefinition>,
    /// One entry per file that did not load.
    pub errors: Vec<FileErrors>,
}

impl LoadReport {
    /// The cluster of that name, if it loaded.
    pub fn cluster(&self, name: &str) -> Option<&ClusterDefinition> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// Whether every file loaded.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Load every `*.yml` / `*.yaml` file of a directory (or the file itself when `path` is a file).
///
/// `env` resolves `%(VAR)` references (in a Lambda: its environment). Never fails as a
/// whole: an unreadable directory or file becomes an entry of [`LoadReport::errors`].
pub fn load_dir(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> LoadReport {
    let mut report = LoadReport::default();
    let files = if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        match cluster_files(path) {
            Ok(files) => files,
            Err(e) => {
                report.errors.push(FileErrors::single(
                    path,
                    format!("cannot read the directory: {e}"),
                ));
                return report;
            }
        }
    };
    let mut seen: Vec<(String, PathBuf)> = Vec::new();
    for file in files {
        match load_file(&file, env) {
            Ok(def) => {
                if let Some((_, first)) = seen.iter().find(|(n, _)| *n == def.name) {
                    report.errors.push(FileErrors::single(
                        &file,
                        format!(
                            "cluster `{}` is already defined by {}; one file per cluster",
                            def.name,
                            first.display()
                        ),
                    ));
                    continue;
                }
                seen.push((def.name.clone(), file.clone()));
                report.clusters.push(def);
            }
            Err(e) => report.errors.push(e),
        }
    }
    report.clusters.sort_by(|a, b| a.name.cmp(&b.name));
    report
}

fn cluster_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        );
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Load one cluster file; the cluster name is the file stem.
pub fn load_file(
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ClusterDefinition, FileErrors> {
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = std::fs::read(file)
        .map_err(|e| FileErrors::single(file, format!("cannot read the file: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| FileErrors::single(file, format!("the file is not UTF-8: {e}")))?;
    parse_definition(&name, file, &text, env)
}

/// Parse and validate one cluster definition from text.
pub fn parse_definition(
    name: &str,
    file: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ClusterDefinition, FileErrors> {
    let mut ctx = Ctx {
        file,
        env,
        errors: Vec::new(),
        aliases: Vec::new(),
    };
    if !valid_cluster_name(name) {
        ctx.error(
            None,
            "",
            format!(
                "`{name}` is not a valid ECS cluster name (the file name without its extension is the cluster name: up to 255 letters, digits, `-` and `_`)"
            ),
        );
    }
    let root = match yaml::parse(text) {
        Ok(Some(root)) => Some(root),
        Ok(None) => {
            ctx.error(
                Some(Position { line: 1, column: 1 }),
                "",
                "the file is empty; a cluster definition needs at least `autoscale_group`",
            );
            None
        }
        Err(e) => {
            let hint = if text.contains(": %(") {
                " (hint: quote a value that starts with `%(`, like `\"%(MIN_TASKS)\"`)"
            } else {
                ""
            };
            ctx.error(
                Some(e.pos),
                "",
                format!("invalid YAML: {}{hint}", e.message),
            );
            None
        }
    };
    let def = root.and_then(|root| cluster(&mut ctx, name, &root));
    match def {
        Some(def) if ctx.errors.is_empty() => Ok(def),
        _ => {
            let mut errors = ctx.errors;
            errors.sort_by_key(|e| e.position);
            Err(FileErrors {
                file: file.to_path_buf(),
                cluster: Some(name.to_string()),
                errors,
            })
        }
    }
}

fn valid_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
