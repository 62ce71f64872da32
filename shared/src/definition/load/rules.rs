//! The scaling rules: expressions checked against the service's aliases, step events, target tracking.

use super::cluster::unresolved_any;
use super::fields::{
    did_you_mean, fields, integer, join, number, offset_position, opt, req, shown, string, Ctx,
};
use crate::definition::yaml::{Node, NodeKind};
use crate::definition::{StepEvent, TargetTracking, TrackingKind, DEFAULT_TRACKING_TOLERANCE};
use crate::expr::Expr;

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
        // `aliases` is sorted (see `check_aliases`).
        if aliases.binary_search(&alias).is_err() {
            ok = false;
            let col = token_offset(raw, &alias).unwrap_or(0);
            let pos = offset_position(node.pos, raw, *plain, col);
            let hint = unknown_alias_hint(&alias, aliases);
            ctx.error(Some(pos), path, format!("unknown metric `{alias}`{hint}"));
        }
    }
    ok.then_some(expr)
}

/// Aliases listed in a hint at most; suggestions are looked for among this many at most.
const HINTED_ALIASES: usize = 20;
const SUGGESTED_AMONG: usize = 1000;

fn unknown_alias_hint(alias: &str, aliases: &[String]) -> String {
    let close = (aliases.len() <= SUGGESTED_AMONG)
        .then(|| {
            did_you_mean(
                alias,
                &aliases.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        })
        .flatten();
    if let Some(s) = close {
        return format!("; did you mean `{s}`?");
    }
    match aliases.len() {
        0 => "; this service defines no aliases under `metric_sources`".to_string(),
        n if n <= HINTED_ALIASES => format!("; this service defines: {}", aliases.join(", ")),
        n => format!(
            "; this service defines {n} aliases: {}, …",
            aliases[..HINTED_ALIASES].join(", ")
        ),
    }
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

pub(super) const EVENT_KEYS: &[&str] = &["metric", "action", "min", "max"];

pub(super) fn event(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    aliases: &[String],
) -> Option<StepEvent> {
    let f = fields(ctx, node, path, EVENT_KEYS)?;
    let metric = req(ctx, &f, "metric", path, |ctx, n, p| {
        expression(ctx, n, p, aliases)
    });
    let action = req(ctx, &f, "action", path, integer);
    let min = opt(ctx, &f, "min", path, number);
    let max = opt(ctx, &f, "max", path, number);
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi && !unresolved_any(ctx, &[f.get("min"), f.get("max")]) {
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

pub(super) const TARGET_TRACKING_KEYS: &[&str] = &["metric", "target", "kind", "tolerance"];

pub(super) fn target_tracking(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    aliases: &[String],
) -> Option<TargetTracking> {
    let f = fields(ctx, node, path, TARGET_TRACKING_KEYS)?;
    let metric = req(ctx, &f, "metric", path, |ctx, n, p| {
        expression(ctx, n, p, aliases)
    });
    let target = req(ctx, &f, "target", path, number).and_then(|t| {
        if t > 0.0 || unresolved_any(ctx, &[f.get("target")]) {
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
    let kind = opt(ctx, &f, "kind", path, string).and_then(|k| match k.as_str() {
        "total" => Some(Kind::Total),
        "average" => Some(Kind::Average),
        // Unknown until the variable is set: the tolerance is checked as `average`'s.
        _ if unresolved_any(ctx, &[f.get("kind")]) => Some(Kind::Average),
        other => {
            let n = f.get("kind").unwrap_or(node);
            ctx.at(
                n,
                &join(path, "kind"),
                format!(
                    "unknown kind `{}`: expected `total` (⌈value ÷ target⌉, for totals such as a queue length) or `average` (⌈running × value ÷ target⌉, for per-task averages such as CPUUtilization)",
                    shown(other)
                ),
            );
            None
        }
    });
    let tolerance = opt(ctx, &f, "tolerance", path, number);
    let tolerance_node = f.get("tolerance").unwrap_or(node);
    let tpath = join(path, "tolerance");
    let kind = match (kind, tolerance) {
        // A bad kind was reported; the tolerance is checked against neither.
        (None, _) if f.get("kind").is_some() => None,
        (None | Some(Kind::Total), None) => Some(TrackingKind::Total),
        (None | Some(Kind::Total), Some(_)) => {
            ctx.at(
                tolerance_node,
                &tpath,
                "`tolerance` applies to `kind: average` only (this target tracking is `total`)",
            );
            None
        }
        (Some(Kind::Average), tolerance) => {
            let tolerance = tolerance.unwrap_or(DEFAULT_TRACKING_TOLERANCE);
            if (0.0..1.0).contains(&tolerance) || unresolved_any(ctx, &[f.get("tolerance")]) {
                Some(TrackingKind::Average { tolerance })
            } else {
                ctx.at(
                    tolerance_node,
                    &tpath,
                    format!("tolerance must be at least 0 and less than 1, found {tolerance}"),
                );
                None
            }
        }
    };
    Some(TargetTracking {
        metric: metric?,
        target: target?,
        kind: kind?,
    })
}

/// `kind` as written, before its tolerance is checked.
#[derive(Clone, Copy)]
enum Kind {
    Total,
    Average,
}
