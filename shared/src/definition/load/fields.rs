//! The field-reading context (where errors go, mappings checked against their keys) and the scalar readers.

use std::path::Path;
use std::time::Duration;

use crate::definition::error::{DefinitionError, Position};
use crate::definition::vars::substitute;
use crate::definition::yaml::{Node, NodeKind};

pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) errors: Vec<DefinitionError>,
    /// The aliases of the service being read, recorded by `statistics` as it reads them, so
    /// the service can check them and its expressions against them.
    pub(super) aliases: Vec<AliasSeen>,
}

/// An alias as written, with where it was written.
pub(super) struct AliasSeen {
    pub(super) name: String,
    pub(super) pos: Position,
    pub(super) path: String,
}

impl Ctx<'_> {
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

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
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

pub(super) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
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

pub(super) fn number(ctx: &mut Ctx, node: &Node, path: &str) -> Option<f64> {
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
