//! From YAML text to validated [`ClusterDefinition`]s, collecting every problem: directories, files, texts.

mod cluster;
mod disruption;
mod fields;
mod rules;
mod sources;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::{DefinitionError, FileErrors, Position};
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

/// The largest cluster file read, in bytes (1 MiB). Real files are a few kilobytes; every
/// function loads every file when it starts, within its memory and its start-up time.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// How `%(VAR)` references are resolved.
#[derive(Clone, Copy)]
pub struct Vars<'a> {
    /// The variable's value (in a Lambda: its environment).
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Leave a value that references an unset variable as written, without an error, and skip
    /// the checks that value would need (its type, its bounds, what it is compared with): for
    /// checking files where the variables are not set (`validate --allow-unset-vars`).
    pub allow_unset: bool,
}

impl<'a> Vars<'a> {
    /// Every reference must resolve.
    pub fn strict(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Vars {
            lookup,
            allow_unset: false,
        }
    }
}

/// Load every `*.yml` / `*.yaml` file of a directory (or the file itself when `path` is a file).
///
/// `env` resolves `%(VAR)` references (in a Lambda: its environment). Never fails as a
/// whole: an unreadable directory or file becomes an entry of [`LoadReport::errors`].
pub fn load_dir(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> LoadReport {
    load_dir_with(path, Vars::strict(env))
}

/// [`load_dir`] with the variables' handling given.
///
/// Every directory entry whose name ends in `.yml` or `.yaml`, in any case, is a cluster file
/// or an error naming it: a name not in lower case, a directory, a dangling symbolic link or a
/// loop, a device or a pipe. Nothing that looks like a cluster file is skipped silently.
pub fn load_dir_with(path: &Path, vars: Vars<'_>) -> LoadReport {
    let mut report = LoadReport::default();
    let files = if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        match cluster_files(path) {
            Ok((files, errors)) => {
                report.errors.extend(errors);
                files
            }
            Err(e) => {
                report.errors.push(FileErrors::single(
                    path,
                    format!("cannot read the directory: {e}"),
                ));
                return report;
            }
        }
    };
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for file in files {
        match load_file_with(&file, vars) {
            Ok(def) => {
                if let Some(first) = seen.get(&def.name) {
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
                seen.insert(def.name.clone(), file.clone());
                report.clusters.push(def);
            }
            Err(e) => report.errors.push(e),
        }
    }
    report.clusters.sort_by(|a, b| a.name.cmp(&b.name));
    report.errors.sort_by(|a, b| a.file.cmp(&b.file));
    report
}

/// The directory's cluster files, sorted, and an error for each entry that looks like one
/// but cannot be read as one.
fn cluster_files(dir: &Path) -> std::io::Result<(Vec<PathBuf>, Vec<FileErrors>)> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(FileErrors::single(
                    dir,
                    format!("cannot read an entry of the directory: {e}"),
                ));
                continue;
            }
        };
        let path = entry.path();
        let Some(extension) = path.extension().map(|e| e.to_string_lossy().into_owned()) else {
            continue;
        };
        if !matches!(extension.to_ascii_lowercase().as_str(), "yml" | "yaml") {
            continue;
        }
        match not_a_cluster_file(&path, &extension) {
            None => files.push(path),
            Some(why) => errors.push(FileErrors::single(&path, why)),
        }
    }
    files.sort();
    Ok((files, errors))
}

/// Why an entry named like a cluster file cannot be read as one, if it cannot.
fn not_a_cluster_file(path: &Path, extension: &str) -> Option<String> {
    if extension != "yml" && extension != "yaml" {
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        return Some(format!(
            "cluster files end in `.yml` or `.yaml` in lower case; rename it `{stem}.{}` to load it",
            extension.to_ascii_lowercase()
        ));
    }
    // `metadata` follows symbolic links: a dangling link or a loop fails here.
    match std::fs::metadata(path) {
        Err(e) => {
            let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            Some(if link {
                format!("a symbolic link that leads to no file (missing, or a loop): {e}")
            } else {
                format!("cannot read it: {e}")
            })
        }
        Ok(m) if m.is_dir() => {
            Some("a directory named like a cluster file; cluster files are files".into())
        }
        Ok(m) if !m.is_file() => Some("not a regular file (a device, a socket or a pipe)".into()),
        Ok(_) => None,
    }
}

/// Load one cluster file; the cluster name is the file stem.
pub fn load_file(
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ClusterDefinition, FileErrors> {
    load_file_with(file, Vars::strict(env))
}

/// [`load_file`] with the variables' handling given. At most [`MAX_FILE_BYTES`] are read.
pub fn load_file_with(file: &Path, vars: Vars<'_>) -> Result<ClusterDefinition, FileErrors> {
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = read_bounded(file)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let offset = e.utf8_error().valid_up_to();
        let utf16 = bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]);
        let what = if utf16 {
            "the file is UTF-16; save it as UTF-8".to_string()
        } else {
            format!(
                "the file is not UTF-8: byte 0x{:02X} here does not start a UTF-8 character; save it as UTF-8",
                bytes.get(offset).copied().unwrap_or_default()
            )
        };
        let mut errors = FileErrors::single(file, what);
        errors.errors[0].position = Some(position_of_byte(bytes, offset));
        errors
    })?;
    parse_definition_with(&name, file, &text, vars)
}

/// The file's bytes, or an error when it is larger than [`MAX_FILE_BYTES`] (checked while
/// reading too: a file may grow, or be a device that never ends).
fn read_bounded(file: &Path) -> Result<Vec<u8>, FileErrors> {
    use std::io::Read;
    let cannot = |e: std::io::Error| FileErrors::single(file, format!("cannot read the file: {e}"));
    let too_large = || {
        FileErrors::single(
            file,
            format!(
                "the file is larger than {MAX_FILE_BYTES} bytes (1 MiB), the limit of a cluster file"
            ),
        )
    };
    let handle = std::fs::File::open(file).map_err(cannot)?;
    if handle.metadata().map_err(cannot)?.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    handle
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The 1-based line and column (in characters) of byte `offset`, which ends valid UTF-8.
fn position_of_byte(bytes: &[u8], offset: usize) -> Position {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = std::str::from_utf8(&before[line_start..]).map_or(1, |s| s.chars().count() + 1);
    Position { line, column }
}

/// Parse and validate one cluster definition from text.
pub fn parse_definition(
    name: &str,
    file: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ClusterDefinition, FileErrors> {
    parse_definition_with(name, file, text, Vars::strict(env))
}

/// [`parse_definition`] with the variables' handling given. The size limit is the reader's
/// ([`load_file`]); the work here is linear in the text's length.
pub fn parse_definition_with(
    name: &str,
    file: &Path,
    text: &str,
    vars: Vars<'_>,
) -> Result<ClusterDefinition, FileErrors> {
    let mut ctx = Ctx::new(file, vars);
    if !valid_cluster_name(name) {
        ctx.error(
            None,
            "",
            format!(
                "`{}` is not a valid ECS cluster name (the file name without its extension is the cluster name: up to 255 letters, digits, `-` and `_`)",
                fields::shown(name)
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
    let def = root.as_ref().and_then(|root| cluster(&mut ctx, name, root));
    match def {
        Some(def) if ctx.errors.is_empty() => Ok(def),
        _ => {
            let mut errors = ctx.errors;
            if errors.is_empty() {
                // Every reader that gives up says why; kept total all the same.
                errors.push(DefinitionError {
                    file: file.to_path_buf(),
                    position: None,
                    path: String::new(),
                    message: "the file did not load".into(),
                });
            }
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
