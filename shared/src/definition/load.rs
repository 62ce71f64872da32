//! From YAML text to validated [`ClusterDefinition`]s, collecting every problem.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{DefinitionError, FileErrors, Position};
use super::json_path::JsonPath;
use super::vars::substitute;
use super::yaml::{self, Node, NodeKind};
use super::*;
use crate::expr::Expr;
use crate::resources::Resources;

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

struct Ctx<'a> {
    file: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<DefinitionError>,
    /// The aliases of the service being read, recorded by `statistics` as it reads them, so
    /// the service can check them and its expressions against them.
    aliases: Vec<AliasSeen>,
}

/// An alias as written, with where it was written.
struct AliasSeen {
    name: String,
    pos: Position,
    path: String,
}

impl Ctx<'_> {
    fn error(&mut self, position: Option<Position>, path: &str, message: impl Into<String>) {
        self.errors.push(DefinitionError {
            file: self.file.to_path_buf(),
            position,
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn at(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.error(Some(node.pos), path, message);
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A mapping's entries, checked against the keys allowed there.
struct Fields<'n> {
    pos: Position,
    entries: Vec<(String, &'n Node)>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_null())
    }
}

fn fields<'n>(ctx: &mut Ctx, node: &'n Node, path: &str, allowed: &[&str]) -> Option<Fields<'n>> {
    let NodeKind::Map(raw) = &node.kind else {
        ctx.at(
            node,
            path,
            format!("expected a mapping, found {}", node.describe()),
        );
        return None;
    };
    let mut entries: Vec<(String, &'n Node)> = Vec::new();
    let mut merged: Vec<(String, &'n Node)> = Vec::new();
    for (key, value) in raw {
        let NodeKind::Scalar { text: k, .. } = &key.kind else {
            ctx.at(key, path, "keys must be plain names, not lists or mappings");
            continue;
        };
        if k == "<<" {
            // YAML merge keys, as PyYAML supported them: merged keys never override.
            let sources: Vec<&Node> = match &value.kind {
                NodeKind::Seq(items) => items.iter().collect(),
                _ => vec![value],
            };
            for source in sources {
                if let NodeKind::Map(m) = &source.kind {
                    for (mk, mv) in m {
                        if let NodeKind::Scalar { text, .. } = &mk.kind {
                            merged.push((text.clone(), mv));
                        }
                    }
                } else {
                    ctx.at(source, path, "`<<` merges mappings only");
                }
            }
            continue;
        }
        let key_path = join(path, k);
        if entries.iter().any(|(e, _)| e == k) {
            ctx.at(key, &key_path, format!("duplicate key `{k}`"));
            continue;
        }
        if !allowed.contains(&k.as_str()) {
            let hint = did_you_mean(k, allowed)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_else(|| format!("; expected one of: {}", allowed.join(", ")));
            ctx.at(key, &key_path, format!("unknown key `{k}`{hint}"));
            continue;
        }
        entries.push((k.clone(), value));
    }
    for (k, v) in merged {
        if !entries.iter().any(|(e, _)| *e == k) && allowed.contains(&k.as_str()) {
            entries.push((k, v));
        }
    }
    Some(Fields {
        pos: node.pos,
        entries,
    })
}

fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn required<'n>(ctx: &mut Ctx, f: &Fields<'n>, key: &str, path: &str) -> Option<&'n Node> {
    let v = f.get(key);
    if v.is_none() {
        ctx.error(
            Some(f.pos),
            &join(path, key),
            format!("missing required key `{key}`"),
        );
    }
    v
}

/// A scalar's text with `%(VAR)` substituted.
fn text(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let NodeKind::Scalar { text, plain } = &node.kind else {
        ctx.at(
            node,
            path,
            format!("expected a value, found {}", node.describe()),
        );
        return None;
    };
    match substitute(text, ctx.env) {
        Ok(s) => Some(s),
        Err(errors) => {
            for e in errors {
                let pos = offset_position(node.pos, text, *plain, e.offset());
                ctx.error(Some(pos), path, e.to_string());
            }
            None
        }
    }
}

/// The position of a character inside a scalar, when the scalar is on one line.
fn offset_position(start: Position, text: &str, plain: bool, offset: usize) -> Position {
    if text.contains('\n') {
        return start;
    }
    let quote = usize::from(!plain);
    Position {
        line: start.line,
        column: start.column + quote + offset,
    }
}

fn string(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let s = text(ctx, node, path)?;
    if s.trim().is_empty() {
        ctx.at(node, path, "must not be empty");
        return None;
    }
    Some(s)
}

fn boolean(ctx: &mut Ctx, node: &Node, path: &str) -> Option<bool> {
    let s = text(ctx, node, path)?;
    // PyYAML (YAML 1.1) read these as booleans; files written for the original use them.
    match s.as_str() {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => {
            ctx.at(
                node,
                path,
                format!("expected true or false, found {}", node.describe()),
            );
            None
        }
    }
}

fn number(ctx: &mut Ctx, node: &Node, path: &str) -> Option<f64> {
    let s = text(ctx, node, path)?;
    match parse_yaml_number(&s) {
        Some(v) if v.is_finite() => Some(v),
        _ => {
            ctx.at(
                node,
                path,
                format!("expected a number, found {}", node.describe()),
            );
            None
        }
    }
}

fn parse_yaml_number(s: &str) -> Option<f64> {
    let t = s.trim().replace('_', "");
    if let Some(h) = t.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).ok().map(|v| v as f64);
    }
    if let Some(o) = t.strip_prefix("0o") {
        return i64::from_str_radix(o, 8).ok().map(|v| v as f64);
    }
    if t.is_empty()
        || t.chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
    {
        return None;
    }
    t.parse::<f64>().ok()
}

fn integer(ctx: &mut Ctx, node: &Node, path: &str) -> Option<i64> {
    let v = number(ctx, node, path)?;
    if v.fract() != 0.0 || v.abs() > 1e15 {
        ctx.at(
            node,
            path,
            format!("expected a whole number, found {}", node.describe()),
        );
        return None;
    }
    Some(v as i64)
}

fn count(ctx: &mut Ctx, node: &Node, path: &str) -> Option<u32> {
    let v = integer(ctx, node, path)?;
    match u32::try_from(v) {
        Ok(v) => Some(v),
        Err(_) if v < 0 => {
            ctx.at(node, path, format!("must not be negative, found {v}"));
            None
        }
        Err(_) => {
            ctx.at(node, path, format!("{v} is too large"));
            None
        }
    }
}

fn seconds(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Duration> {
    let v = number(ctx, node, path)?;
    if !(0.0..=604_800.0).contains(&v) {
        ctx.at(
            node,
            path,
            format!(
                "expected seconds between 0 and 604800, found {}",
                node.describe()
            ),
        );
        return None;
    }
    Some(Duration::from_secs_f64(v))
}

fn list<'n>(ctx: &mut Ctx, node: &'n Node, path: &str) -> Option<&'n [Node]> {
    match &node.kind {
        NodeKind::Seq(items) => Some(items),
        _ => {
            ctx.at(
                node,
                path,
                format!("expected a list, found {}", node.describe()),
            );
            None
        }
    }
}

/// Read an optional key, reporting problems; `None` when absent or invalid.
fn opt<'n, T>(
    ctx: &mut Ctx,
    f: &Fields<'n>,
    key: &str,
    path: &str,
    read: impl FnOnce(&mut Ctx, &'n Node, &str) -> Option<T>,
) -> Option<T> {
    let node = f.get(key)?;
    read(ctx, node, &join(path, key))
}

/// Read a required key.
fn req<'n, T>(
    ctx: &mut Ctx,
    f: &Fields<'n>,
    key: &str,
    path: &str,
    read: impl FnOnce(&mut Ctx, &'n Node, &str) -> Option<T>,
) -> Option<T> {
    let node = required(ctx, f, key, path)?;
    read(ctx, node, &join(path, key))
}

const CLUSTER_KEYS: &[&str] = &[
    "autoscale_group",
    "enabled",
    "cpu_buffer",
    "mem_buffer",
    "min",
    "max",
    "services",
    "dry_run",
    "max_drain_per_cycle",
    "drain_timeout",
    "instance_capacity",
];

fn cluster(ctx: &mut Ctx, name: &str, root: &Node) -> Option<ClusterDefinition> {
    let f = fields(ctx, root, "", CLUSTER_KEYS)?;
    let autoscale_group = req(ctx, &f, "autoscale_group", "", string);
    let enabled = opt(ctx, &f, "enabled", "", boolean).unwrap_or(true);
    let cpu_buffer = opt(ctx, &f, "cpu_buffer", "", count).unwrap_or(0);
    let mem_buffer = opt(ctx, &f, "mem_buffer", "", count).unwrap_or(0);
    let min = opt(ctx, &f, "min", "", count);
    let max = opt(ctx, &f, "max", "", count);
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            let node = f.get("min").unwrap_or(root);
            ctx.at(
                node,
                "min",
                format!("min ({lo}) is greater than max ({hi})"),
            );
        }
    }
    let dry_run = opt(ctx, &f, "dry_run", "", boolean).unwrap_or(false);
    let max_drain_per_cycle =
        opt(ctx, &f, "max_drain_per_cycle", "", count).unwrap_or(DEFAULT_MAX_DRAIN_PER_CYCLE);
    let drain_timeout = opt(ctx, &f, "drain_timeout", "", seconds)
        .unwrap_or(Duration::from_secs(DEFAULT_DRAIN_TIMEOUT_SECS));
    let instance_capacity = opt(ctx, &f, "instance_capacity", "", capacity);
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
        drain_timeout,
        instance_capacity,
        services,
    })
}

fn capacity(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Resources> {
    let f = fields(ctx, node, path, &["cpu", "memory"])?;
    let cpu = req(ctx, &f, "cpu", path, count);
    let memory = req(ctx, &f, "memory", path, count);
    for (key, v) in [("cpu", cpu), ("memory", memory)] {
        if v == Some(0) {
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
    for (key, value) in entries {
        let Some(name) = text(ctx, key, path) else {
            continue;
        };
        let spath = join(path, &name);
        if out.iter().any(|s| s.name == name) {
            ctx.at(key, &spath, format!("service `{name}` is defined twice"));
            continue;
        }
        if let Some(s) = service(ctx, &name, value, &spath) {
            out.push(s);
        }
    }
    out
}

const SERVICE_KEYS: &[&str] = &[
    "enabled",
    "min",
    "max",
    "metric_sources",
    "events",
    "target_tracking",
    "scale_up_cooldown",
    "scale_down_cooldown",
];

fn service(ctx: &mut Ctx, name: &str, node: &Node, path: &str) -> Option<ServiceDefinition> {
    let f = fields(ctx, node, path, SERVICE_KEYS)?;
    let enabled = opt(ctx, &f, "enabled", path, boolean).unwrap_or(true);
    let min = req(ctx, &f, "min", path, count);
    let max = req(ctx, &f, "max", path, count);
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
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
    })
}

/// Checks the aliases `statistics` recorded for the service (valid, unique) and returns them.
fn check_aliases(ctx: &mut Ctx) -> Vec<String> {
    let mut aliases: Vec<String> = Vec::new();
    for seen in std::mem::take(&mut ctx.aliases) {
        if let Err(why) = crate::expr::check_alias(&seen.name) {
            ctx.error(Some(seen.pos), &seen.path, why);
        } else if aliases.contains(&seen.name) {
            ctx.error(
                Some(seen.pos),
                &seen.path,
                format!("alias `{}` is defined twice in this service", seen.name),
            );
        } else {
            aliases.push(seen.name);
        }
    }
    aliases
}

fn metric_sources(ctx: &mut Ctx, node: &Node, path: &str) -> Option<MetricSources> {
    let f = fields(ctx, node, path, &["third_party", "cloudwatch"])?;
    let mut out = MetricSources::default();
    if let Some(n) = f.get("third_party") {
        let p = join(path, "third_party");
        for (i, s) in list(ctx, n, &p).unwrap_or_default().iter().enumerate() {
            if let Some(s) = http_source(ctx, s, &format!("{p}[{i}]")) {
                out.third_party.push(s);
            }
        }
    }
    if let Some(n) = f.get("cloudwatch") {
        let p = join(path, "cloudwatch");
        for (i, s) in list(ctx, n, &p).unwrap_or_default().iter().enumerate() {
            if let Some(s) = cloudwatch_source(ctx, s, &format!("{p}[{i}]")) {
                out.cloudwatch.push(s);
            }
        }
    }
    Some(out)
}

fn http_source(ctx: &mut Ctx, node: &Node, path: &str) -> Option<HttpSource> {
    let f = fields(
        ctx,
        node,
        path,
        &[
            "url",
            "method",
            "payload",
            "statistics",
            "headers",
            "timeout",
        ],
    )?;
    let url = req(ctx, &f, "url", path, string).and_then(|u| {
        if u.starts_with("http://") || u.starts_with("https://") {
            Some(u)
        } else {
            let n = f.get("url").unwrap_or(node);
            ctx.at(
                n,
                &join(path, "url"),
                format!(
                    "expected an http:// or https:// URL, found `{}`",
                    crate::redact::redact_url(&u)
                ),
            );
            None
        }
    });
    let method = opt(ctx, &f, "method", path, |ctx, n, p| {
        let m = string(ctx, n, p)?;
        match m.to_ascii_uppercase().as_str() {
            "GET" => Some(HttpMethod::Get),
            "POST" => Some(HttpMethod::Post),
            _ => {
                ctx.at(n, p, format!("method must be GET or POST, found `{m}`"));
                None
            }
        }
    })
    .unwrap_or(HttpMethod::Get);
    let payload = f
        .get("payload")
        .and_then(|n| json_value(ctx, n, &join(path, "payload")));
    let headers = opt(ctx, &f, "headers", path, headers).unwrap_or_default();
    let timeout = opt(ctx, &f, "timeout", path, |ctx, n, p| {
        let t = seconds(ctx, n, p)?;
        if t.is_zero() || t > Duration::from_secs(300) {
            ctx.at(n, p, "timeout must be more than 0 and at most 300 seconds");
            return None;
        }
        Some(t)
    })
    .unwrap_or(Duration::from_secs_f64(DEFAULT_HTTP_TIMEOUT_SECS));
    let statistics = req(ctx, &f, "statistics", path, |ctx, n, p| {
        statistics(ctx, n, p, StatKind::Http)
    });
    Some(HttpSource {
        url: url?,
        method,
        payload,
        headers,
        timeout,
        statistics: statistics?,
    })
}

fn headers(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<(String, String)>> {
    let NodeKind::Map(entries) = &node.kind else {
        ctx.at(
            node,
            path,
            format!(
                "expected a mapping of header names to values, found {}",
                node.describe()
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let Some(name) = text(ctx, k, path) else {
            continue;
        };
        let hpath = join(path, &name);
        let token = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
        if !token {
            ctx.at(
                k,
                &hpath,
                format!("`{name}` is not a valid HTTP header name"),
            );
            continue;
        }
        if let Some(value) = text(ctx, v, &hpath) {
            if value.contains(['\r', '\n']) {
                ctx.at(v, &hpath, "header values must be on one line");
                continue;
            }
            out.push((name, value));
        }
    }
    Some(out)
}

/// A YAML value as JSON (the `payload`), with `%(VAR)` substituted in its strings.
fn json_value(ctx: &mut Ctx, node: &Node, path: &str) -> Option<serde_json::Value> {
    use serde_json::Value;
    match &node.kind {
        NodeKind::Scalar { text: raw, plain } => {
            if *plain {
                if node.is_null() {
                    return Some(Value::Null);
                }
                match raw.as_str() {
                    "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
                    "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
                    _ => {}
                }
                if let Ok(i) = raw.parse::<i64>() {
                    return Some(Value::from(i));
                }
                if let Some(f) = parse_yaml_number(raw).and_then(serde_json::Number::from_f64) {
                    return Some(Value::Number(f));
                }
            }
            text(ctx, node, path).map(Value::String)
        }
        NodeKind::Seq(items) => Some(Value::Array(
            items
                .iter()
                .enumerate()
                .filter_map(|(i, n)| json_value(ctx, n, &format!("{path}[{i}]")))
                .collect(),
        )),
        NodeKind::Map(entries) => {
            let mut m = serde_json::Map::new();
            for (k, v) in entries {
                let Some(key) = text(ctx, k, path) else {
                    continue;
                };
                let p = join(path, &key);
                if let Some(v) = json_value(ctx, v, &p) {
                    m.insert(key, v);
                }
            }
            Some(Value::Object(m))
        }
    }
}

fn cloudwatch_source(ctx: &mut Ctx, node: &Node, path: &str) -> Option<CloudWatchSource> {
    let f = fields(
        ctx,
        node,
        path,
        &[
            "namespace",
            "metric_name",
            "dimensions",
            "period",
            "statistics",
        ],
    )?;
    let namespace = opt(ctx, &f, "namespace", path, string)
        .unwrap_or_else(|| DEFAULT_CLOUDWATCH_NAMESPACE.to_string());
    let metric_name = req(ctx, &f, "metric_name", path, string);
    let dimensions = opt(ctx, &f, "dimensions", path, dimensions).unwrap_or_default();
    let period = opt(ctx, &f, "period", path, |ctx, n, p| {
        let v = count(ctx, n, p)?;
        if (v > 0 && v % 60 == 0) || matches!(v, 1 | 5 | 10 | 30) {
            Some(v)
        } else {
            ctx.at(
                n,
                p,
                format!("period must be a positive multiple of 60 seconds (or 1, 5, 10 or 30 for high-resolution metrics), found {v}"),
            );
            None
        }
    })
    .unwrap_or(DEFAULT_CLOUDWATCH_PERIOD_SECS);
    let statistics = req(ctx, &f, "statistics", path, |ctx, n, p| {
        statistics(ctx, n, p, StatKind::CloudWatch)
    });
    Some(CloudWatchSource {
        namespace,
        metric_name: metric_name?,
        dimensions,
        period,
        statistics: statistics?,
    })
}

fn dimensions(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<Dimension>> {
    let items = list(ctx, node, path)?;
    if items.len() > 30 {
        ctx.at(node, path, "CloudWatch allows at most 30 dimensions");
    }
    let mut out = Vec::new();
    for (i, d) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(f) = fields(ctx, d, &p, &["name", "value"]) else {
            continue;
        };
        let name = req(ctx, &f, "name", &p, string);
        let value = req(ctx, &f, "value", &p, string);
        if let (Some(name), Some(value)) = (name, value) {
            out.push(Dimension { name, value });
        }
    }
    Some(out)
}

#[derive(Clone, Copy, PartialEq)]
enum StatKind {
    Http,
    CloudWatch,
}

fn statistics(ctx: &mut Ctx, node: &Node, path: &str, kind: StatKind) -> Option<Vec<Statistic>> {
    let items = list(ctx, node, path)?;
    if items.is_empty() {
        ctx.at(node, path, "a source needs at least one statistic");
        return None;
    }
    let mut out = Vec::new();
    for (i, s) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(f) = fields(ctx, s, &p, &["name", "alias", "default"]) else {
            continue;
        };
        let name = req(ctx, &f, "name", &p, string);
        let alias = req(ctx, &f, "alias", &p, string);
        if let (Some(name), Some(node)) = (&alias, f.get("alias")) {
            ctx.aliases.push(AliasSeen {
                name: name.clone(),
                pos: node.pos,
                path: join(&p, "alias"),
            });
        }
        let default = opt(ctx, &f, "default", &p, number);
        let Some(name) = name else { continue };
        let name_node = f.get("name").unwrap_or(s);
        let npath = join(&p, "name");
        let path_parsed = match kind {
            StatKind::Http => match JsonPath::parse(&name) {
                Ok(jp) => Some(jp),
                Err(e) => {
                    ctx.at(
                        name_node,
                        &npath,
                        format!("invalid field path `{name}`: {e}"),
                    );
                    continue;
                }
            },
            StatKind::CloudWatch => {
                if let Err(e) = check_cloudwatch_statistic(&name) {
                    ctx.at(name_node, &npath, e);
                    continue;
                }
                None
            }
        };
        if let Some(alias) = alias {
            out.push(Statistic {
                name,
                alias,
                default,
                path: path_parsed,
            });
        }
    }
    Some(out)
}

const CLOUDWATCH_STATISTICS: &[&str] = &["Average", "Sum", "Minimum", "Maximum", "SampleCount"];

fn check_cloudwatch_statistic(name: &str) -> Result<(), String> {
    if CLOUDWATCH_STATISTICS.contains(&name) {
        return Ok(());
    }
    if let Some(p) = name.strip_prefix('p') {
        let valid = !p.is_empty()
            && p.chars().all(|c| c.is_ascii_digit() || c == '.')
            && p.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v));
        if valid {
            return Ok(());
        }
    }
    let hint = did_you_mean(name, CLOUDWATCH_STATISTICS)
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    Err(format!(
        "unknown CloudWatch statistic `{name}`; {hint}expected one of {} or a percentile like `p99`",
        CLOUDWATCH_STATISTICS.join(", ")
    ))
}

fn expression(ctx: &mut Ctx, node: &Node, path: &str, aliases: &[String]) -> Option<Expr> {
    let NodeKind::Scalar { text: raw, plain } = &node.kind else {
        ctx.at(
            node,
            path,
            format!("expected a metric expression, found {}", node.describe()),
        );
        return None;
    };
    let expr = match Expr::parse(raw) {
        Ok(e) => e,
        Err(e) => {
            let pos = offset_position(node.pos, raw, *plain, e.column.saturating_sub(1));
            ctx.error(
                Some(pos),
                path,
                format!("invalid expression: {}", e.message),
            );
            return None;
        }
    };
    let mut ok = true;
    for alias in expr.aliases() {
        if !aliases.contains(&alias) {
            ok = false;
            let col = token_offset(raw, &alias).unwrap_or(0);
            let pos = offset_position(node.pos, raw, *plain, col);
            let hint = did_you_mean(
                &alias,
                &aliases.iter().map(String::as_str).collect::<Vec<_>>(),
            )
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_else(|| {
                if aliases.is_empty() {
                    "; this service defines no aliases under `metric_sources`".to_string()
                } else {
                    format!("; this service defines: {}", aliases.join(", "))
                }
            });
            ctx.error(Some(pos), path, format!("unknown metric `{alias}`{hint}"));
        }
    }
    ok.then_some(expr)
}

/// Character offset of `word` as a whole token in `text`.
fn token_offset(text: &str, word: &str) -> Option<usize> {
    let chars: Vec<char> = text.chars().collect();
    let w: Vec<char> = word.chars().collect();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    (0..chars.len()).find(|&i| {
        chars[i..].starts_with(&w)
            && (i == 0 || !is_ident(chars[i - 1]))
            && chars.get(i + w.len()).is_none_or(|c| !is_ident(*c))
    })
}

fn event(ctx: &mut Ctx, node: &Node, path: &str, aliases: &[String]) -> Option<StepEvent> {
    let f = fields(ctx, node, path, &["metric", "action", "min", "max"])?;
    let metric = req(ctx, &f, "metric", path, |ctx, n, p| {
        expression(ctx, n, p, aliases)
    });
    let action = req(ctx, &f, "action", path, integer);
    let min = opt(ctx, &f, "min", path, number);
    let max = opt(ctx, &f, "max", path, number);
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            let n = f.get("min").unwrap_or(node);
            ctx.at(
                n,
                &join(path, "min"),
                format!("min ({lo}) is greater than max ({hi}): this event can never match"),
            );
        }
    }
    Some(StepEvent {
        metric: metric?,
        action: action?,
        min,
        max,
    })
}

fn target_tracking(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    aliases: &[String],
) -> Option<TargetTracking> {
    let f = fields(ctx, node, path, &["metric", "target"])?;
    let metric = req(ctx, &f, "metric", path, |ctx, n, p| {
        expression(ctx, n, p, aliases)
    });
    let target = req(ctx, &f, "target", path, number).and_then(|t| {
        if t > 0.0 {
            Some(t)
        } else {
            let n = f.get("target").unwrap_or(node);
            ctx.at(
                n,
                &join(path, "target"),
                format!("target must be greater than 0, found {t}"),
            );
            None
        }
    });
    Some(TargetTracking {
        metric: metric?,
        target: target?,
    })
}
