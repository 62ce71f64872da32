//! The field-reading context (where errors go, mappings checked against their keys) and the scalar readers.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use super::Vars;
use crate::definition::error::{DefinitionError, Position};
use crate::definition::vars::{substitute, VarError};
use crate::definition::yaml::{Node, NodeKind};

pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) errors: Vec<DefinitionError>,
    /// The aliases of the service being read, recorded by `statistics` as it reads them, so
    /// the service can check them and its expressions against them.
    pub(super) aliases: Vec<AliasSeen>,
    /// [`Vars::allow_unset`].
    allow_unset: bool,
    /// The scalars left as written because they reference an unset variable (by address:
    /// the tree is not moved while it is read). Their checks are skipped.
    unresolved: HashSet<*const Node>,
}

/// An alias as written, with where it was written.
pub(super) struct AliasSeen {
    pub(super) name: String,
    pub(super) pos: Position,
    pub(super) path: String,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(file: &'a Path, vars: Vars<'a>) -> Self {
        Ctx {
            file,
            env: vars.lookup,
            errors: Vec::new(),
            aliases: Vec::new(),
            allow_unset: vars.allow_unset,
            unresolved: HashSet::new(),
        }
    }

    /// Whether `node` was left as written because it references an unset variable (only with
    /// [`Vars::allow_unset`]): checks of its value are skipped.
    pub(super) fn unresolved(&self, node: &Node) -> bool {
        !self.unresolved.is_empty() && self.unresolved.contains(&std::ptr::from_ref(node))
    }

    pub(super) fn error(
        &mut self,
        position: Option<Position>,
        path: &str,
        message: impl Into<String>,
    ) {
        self.errors.push(DefinitionError {
            file: self.file.to_path_buf(),
            position,
            path: path.to_string(),
            message: message.into(),
        });
    }

    pub(super) fn at(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.error(Some(node.pos), path, message);
    }
}

/// A field path one key deeper; the key as [`shown`] (cut, control characters escaped): a
/// path is printed, and a key may be anything a hostile file holds.
pub(super) fn join(path: &str, key: &str) -> String {
    let key = shown(key);
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

/// A mapping's entries, checked against the keys allowed there.
pub(super) struct Fields<'n> {
    pub(super) pos: Position,
    entries: Vec<(String, &'n Node)>,
}

impl<'n> Fields<'n> {
    pub(super) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_null())
    }
}

pub(super) fn fields<'n>(
    ctx: &mut Ctx,
    node: &'n Node,
    path: &str,
    allowed: &[&str],
) -> Option<Fields<'n>> {
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
            merge(ctx, value, path, allowed, &mut merged);
            continue;
        }
        let key_path = join(path, k);
        if entries.iter().any(|(e, _)| e == k) {
            ctx.at(key, &key_path, format!("duplicate key `{k}`"));
            continue;
        }
        if !allowed.contains(&k.as_str()) {
            unknown_key(ctx, key, k, &key_path, allowed, "");
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

fn unknown_key(ctx: &mut Ctx, key: &Node, k: &str, path: &str, allowed: &[&str], how: &str) {
    let hint = did_you_mean(k, allowed)
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_else(|| format!("; expected one of: {}", allowed.join(", ")));
    ctx.at(key, path, format!("unknown key `{}`{how}{hint}", shown(k)));
}

/// The entries a merge key (`<<: *base`, `<<: [*a, *b]`) brings, appended to `merged` in the
/// order they take precedence (PyYAML's): the first mapping's before the next's, and a merged
/// mapping's own keys before those of its own merge keys. Their keys are checked like the
/// mapping's own: an unknown key is an error at the key where it is written.
fn merge<'n>(
    ctx: &mut Ctx,
    value: &'n Node,
    path: &str,
    allowed: &[&str],
    merged: &mut Vec<(String, &'n Node)>,
) {
    let sources: Vec<&Node> = match &value.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        _ => vec![value],
    };
    for source in sources {
        let NodeKind::Map(entries) = &source.kind else {
            ctx.at(source, path, "`<<` merges mappings only");
            continue;
        };
        let mut nested = Vec::new();
        for (mk, mv) in entries {
            let NodeKind::Scalar { text, .. } = &mk.kind else {
                ctx.at(mk, path, "keys must be plain names, not lists or mappings");
                continue;
            };
            let key_path = join(path, text);
            if text == "<<" {
                nested.push(mv);
            } else if allowed.contains(&text.as_str()) {
                merged.push((text.clone(), mv));
            } else {
                unknown_key(ctx, mk, text, &key_path, allowed, " (merged with `<<`)");
            }
        }
        // Recursion is bounded by the tree's depth (`yaml::MAX_DEPTH`).
        for mv in nested {
            merge(ctx, mv, path, allowed, merged);
        }
    }
}

/// The longest text quoted whole in a message; longer text is cut (a key or a name may be
/// megabytes long in a hostile file).
const SHOWN_CHARS: usize = 64;

/// `text` for a message: at most [`SHOWN_CHARS`] characters, control characters escaped.
pub(super) fn shown(text: &str) -> String {
    crate::shown::shown(text, SHOWN_CHARS)
}

/// The candidate closest to `word`, if close enough to be a typo. Words longer than any
/// name of the format are not compared (the distance costs their length times the name's).
pub(super) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.len() > SHOWN_CHARS {
        return None;
    }
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub(super) fn required<'n>(
    ctx: &mut Ctx,
    f: &Fields<'n>,
    key: &str,
    path: &str,
) -> Option<&'n Node> {
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
pub(super) fn text(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
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
        Err(errors)
            if ctx.allow_unset && errors.iter().all(|e| matches!(e, VarError::Missing { .. })) =>
        {
            ctx.unresolved.insert(std::ptr::from_ref(node));
            Some(text.clone())
        }
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
pub(super) fn offset_position(start: Position, text: &str, plain: bool, offset: usize) -> Position {
    if text.contains('\n') {
        return start;
    }
    let quote = usize::from(!plain);
    Position {
        line: start.line,
        column: start.column + quote + offset,
    }
}

pub(super) fn string(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let s = text(ctx, node, path)?;
    if s.trim().is_empty() {
        ctx.at(node, path, "must not be empty");
        return None;
    }
    Some(s)
}

pub(super) fn boolean(ctx: &mut Ctx, node: &Node, path: &str) -> Option<bool> {
    let s = text(ctx, node, path)?;
    if ctx.unresolved(node) {
        return None; // the key's default stands in
    }
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

/// A number. An unresolved value reads as 0, which the callers' checks then skip.
pub(super) fn number(ctx: &mut Ctx, node: &Node, path: &str) -> Option<f64> {
    let s = text(ctx, node, path)?;
    if ctx.unresolved(node) {
        return Some(0.0);
    }
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

pub(super) fn parse_yaml_number(s: &str) -> Option<f64> {
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

pub(super) fn integer(ctx: &mut Ctx, node: &Node, path: &str) -> Option<i64> {
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

pub(super) fn count(ctx: &mut Ctx, node: &Node, path: &str) -> Option<u32> {
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

pub(super) fn seconds(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Duration> {
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

pub(super) fn list<'n>(ctx: &mut Ctx, node: &'n Node, path: &str) -> Option<&'n [Node]> {
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
pub(super) fn opt<'n, T>(
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
pub(super) fn req<'n, T>(
    ctx: &mut Ctx,
    f: &Fields<'n>,
    key: &str,
    path: &str,
    read: impl FnOnce(&mut Ctx, &'n Node, &str) -> Option<T>,
) -> Option<T> {
    let node = required(ctx, f, key, path)?;
    read(ctx, node, &join(path, key))
}
