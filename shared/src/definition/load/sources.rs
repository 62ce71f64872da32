//! The metric sources (HTTP, CloudWatch) and the statistics each reads, whose aliases it records.

use std::time::Duration;

use super::fields::{
    boolean, count, did_you_mean, fields, join, list, number, opt, parse_yaml_number, req, seconds,
    shown, string, text, AliasSeen, Ctx,
};
use crate::definition::json_path::JsonPath;
use crate::definition::yaml::{Node, NodeKind};
use crate::definition::{
    CloudWatchSource, Dimension, HttpAllowances, HttpMethod, HttpSource, MetricSources, Statistic,
    DEFAULT_CLOUDWATCH_NAMESPACE, DEFAULT_CLOUDWATCH_PERIOD_SECS, DEFAULT_HTTP_TIMEOUT_SECS,
};
use crate::redact::{has_at_after_authority, redact_url};

pub(super) const METRIC_SOURCES_KEYS: &[&str] = &["third_party", "cloudwatch"];

pub(super) fn metric_sources(ctx: &mut Ctx, node: &Node, path: &str) -> Option<MetricSources> {
    let f = fields(ctx, node, path, METRIC_SOURCES_KEYS)?;
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

pub(super) const HTTP_SOURCE_KEYS: &[&str] = &[
    "url",
    "method",
    "payload",
    "statistics",
    "headers",
    "timeout",
    "allow_cross_origin_redirects",
    "allow_post_redirects",
    "allow_link_local",
];

fn http_source(ctx: &mut Ctx, node: &Node, path: &str) -> Option<HttpSource> {
    let f = fields(ctx, node, path, HTTP_SOURCE_KEYS)?;
    let url = req(ctx, &f, "url", path, |ctx, n, p| {
        let u = string(ctx, n, p)?;
        if ctx.unresolved(n) {
            return Some(u);
        }
        match check_url(&u) {
            Ok(()) => Some(u),
            Err(message) => {
                ctx.at(n, p, message);
                None
            }
        }
    });
    let method = opt(ctx, &f, "method", path, |ctx, n, p| {
        let m = string(ctx, n, p)?;
        match m.to_ascii_uppercase().as_str() {
            "GET" => Some(HttpMethod::Get),
            "POST" => Some(HttpMethod::Post),
            _ if ctx.unresolved(n) => None,
            _ => {
                ctx.at(
                    n,
                    p,
                    format!("method must be GET or POST, found `{}`", shown(&m)),
                );
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
        if ctx.unresolved(n) {
            return None; // the default stands in
        }
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
    let mut flag = |key: &str| opt(ctx, &f, key, path, boolean).unwrap_or(false);
    let allow = HttpAllowances {
        cross_origin_redirects: flag("allow_cross_origin_redirects"),
        post_redirects: flag("allow_post_redirects"),
        link_local: flag("allow_link_local"),
    };
    Some(HttpSource {
        url: url?,
        method,
        payload,
        headers,
        timeout,
        statistics: statistics?,
        allow,
    })
}

/// An HTTP source's URL is what the request will parse: an http or https URL with a host.
/// Messages show it redacted; a URL that does not parse may hold a password with a reserved
/// character, which is what the hint is about.
fn check_url(text: &str) -> Result<(), String> {
    let shown = redact_url(text);
    // The URL parser drops tabs and newlines silently, and other control characters have no
    // place in a URL: refused rather than sent differently than written.
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the URL `{}` contains the control character {}; percent-encode it (a newline as `%0A`) or remove it",
            redact_url(&text.replace(|c: char| c.is_control(), "")),
            c.escape_default()
        ));
    }
    if !(text.starts_with("http://") || text.starts_with("https://")) {
        return Err(format!(
            "expected an http:// or https:// URL, found `{shown}`"
        ));
    }
    let parsed = url::Url::parse(text).map_err(|e| {
        let hint = if text.contains('@') {
            "; in a user name or password, percent-encode reserved characters (`/` as `%2F`, `?` as `%3F`, `#` as `%23`, `@` as `%40`, `:` as `%3A`, `%` as `%25`)"
        } else {
            ""
        };
        format!("invalid URL `{shown}`: {e}{hint}")
    })?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("the URL `{shown}` has no host"));
    }
    if has_at_after_authority(text) {
        return Err(format!(
            "the URL `{shown}` has an `@` after its host: a password with `/`, `?`, `#` or `\\` in it must be percent-encoded (`/` as `%2F`, `?` as `%3F`, `#` as `%23`), and an `@` in the path or query written `%40`"
        ));
    }
    Ok(())
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
        // RFC 9110's token; the limit is far above any real header name.
        let token = !name.is_empty()
            && name.len() <= 256
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
        if !token && !ctx.unresolved(k) {
            ctx.at(
                k,
                &hpath,
                format!(
                    "`{}` is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)",
                    shown(&name)
                ),
            );
            continue;
        }
        if let Some(value) = text(ctx, v, &hpath) {
            // What HTTP allows in a field value: no control character but the tab. The value
            // may be a secret: never quoted.
            if value.chars().any(|c| c.is_control() && c != '\t') {
                ctx.at(
                    v,
                    &hpath,
                    "a header value must not contain control characters (newline, carriage return, NUL, …)",
                );
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

pub(super) const CLOUDWATCH_SOURCE_KEYS: &[&str] = &[
    "namespace",
    "metric_name",
    "dimensions",
    "period",
    "statistics",
];

fn cloudwatch_source(ctx: &mut Ctx, node: &Node, path: &str) -> Option<CloudWatchSource> {
    let f = fields(ctx, node, path, CLOUDWATCH_SOURCE_KEYS)?;
    let namespace = opt(ctx, &f, "namespace", path, |ctx, n, p| {
        let namespace = cloudwatch_name(ctx, n, p, 255)?;
        if namespace.starts_with(':') && !ctx.unresolved(n) {
            ctx.at(n, p, "a CloudWatch namespace does not start with `:`");
            return None;
        }
        Some(namespace)
    })
    .unwrap_or_else(|| DEFAULT_CLOUDWATCH_NAMESPACE.to_string());
    let metric_name = req(ctx, &f, "metric_name", path, |ctx, n, p| {
        cloudwatch_name(ctx, n, p, 255)
    });
    let dimensions = opt(ctx, &f, "dimensions", path, dimensions).unwrap_or_default();
    let period = opt(ctx, &f, "period", path, |ctx, n, p| {
        let v = count(ctx, n, p)?;
        if ctx.unresolved(n) {
            return None; // the default stands in
        }
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

pub(super) const DIMENSION_KEYS: &[&str] = &["name", "value"];

fn dimensions(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<Dimension>> {
    let items = list(ctx, node, path)?;
    if items.len() > 30 {
        ctx.at(node, path, "CloudWatch allows at most 30 dimensions");
    }
    let mut out = Vec::new();
    for (i, d) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(f) = fields(ctx, d, &p, DIMENSION_KEYS) else {
            continue;
        };
        let name = req(ctx, &f, "name", &p, |ctx, n, p| {
            cloudwatch_name(ctx, n, p, 255)
        });
        let value = req(ctx, &f, "value", &p, |ctx, n, p| {
            cloudwatch_name(ctx, n, p, 1024)
        });
        if let (Some(name), Some(value)) = (name, value) {
            out.push(Dimension { name, value });
        }
    }
    Some(out)
}

/// A CloudWatch namespace, metric name or dimension: what the API accepts, 1 to `max`
/// characters without control characters.
fn cloudwatch_name(ctx: &mut Ctx, node: &Node, path: &str, max: usize) -> Option<String> {
    let name = string(ctx, node, path)?;
    if ctx.unresolved(node) {
        return Some(name);
    }
    let length = name.chars().count();
    if length > max {
        ctx.at(
            node,
            path,
            format!("CloudWatch allows at most {max} characters here; found {length}"),
        );
        return None;
    }
    if name.chars().any(char::is_control) {
        ctx.at(
            node,
            path,
            format!(
                "control characters (newline, tab, NUL, …) are not allowed here: `{}`",
                shown(&name)
            ),
        );
        return None;
    }
    Some(name)
}

#[derive(Clone, Copy, PartialEq)]
enum StatKind {
    Http,
    CloudWatch,
}

/// The keys of a statistic, of either kind of source.
pub(super) const STATISTIC_KEYS: &[&str] = &["name", "alias", "default"];

fn statistics(ctx: &mut Ctx, node: &Node, path: &str, kind: StatKind) -> Option<Vec<Statistic>> {
    let items = list(ctx, node, path)?;
    if items.is_empty() {
        ctx.at(node, path, "a source needs at least one statistic");
        return None;
    }
    let mut out = Vec::new();
    for (i, s) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(f) = fields(ctx, s, &p, STATISTIC_KEYS) else {
            continue;
        };
        let name = req(ctx, &f, "name", &p, string);
        let alias = req(ctx, &f, "alias", &p, string);
        if let (Some(name), Some(node)) = (&alias, f.get("alias")) {
            if ctx.unresolved(node) {
                continue; // no expression can name an alias unknown until then
            }
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
            _ if ctx.unresolved(name_node) => None,
            StatKind::Http => match JsonPath::parse(&name) {
                Ok(jp) => Some(jp),
                Err(e) => {
                    ctx.at(
                        name_node,
                        &npath,
                        format!("invalid field path `{}`: {e}", shown(&name)),
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
        "unknown CloudWatch statistic `{}`; {hint}expected one of {} or a percentile like `p99`",
        shown(name),
        CLOUDWATCH_STATISTICS.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::definition::{parse_definition, ClusterDefinition, FileErrors};

    /// A cluster whose one HTTP source has the URL `url`, with `%(PASS)` set to `password`.
    fn load(url: &str, password: &str) -> Result<ClusterDefinition, FileErrors> {
        let text = format!(
            "autoscale_group: g\nservices:\n  web:\n    min: 1\n    max: 2\n    metric_sources:\n      third_party:\n        - url: '{url}'\n          statistics: [{{name: a, alias: a}}]\n"
        );
        let env = |name: &str| (name == "PASS").then(|| password.to_owned());
        parse_definition("c", Path::new("c.yml"), &text, &env)
    }

    const URL: &str = "http://monitor:%(PASS)@rabbit:15672/api/queues/%2F/celery?api_key=K3Y";

    /// A password with one character of each class that matters, and whether the URL it makes
    /// is valid (reserved characters must be percent-encoded).
    const PASSWORDS: &[(&str, &str, bool)] = &[
        ("slash", "pa/ss", false),
        ("hash", "p#w", false),
        ("question mark", "p?w", false),
        (
            "digits then slash (parses as a port and a path)",
            "12/ss",
            false,
        ),
        ("digits then hash", "12#ss", false),
        ("digits then question mark", "12?ss", false),
        ("backslash", "12\\ss", false),
        ("at sign", "p@ss", true),
        ("colon", "pa:ss", true),
        ("percent", "100%off", true),
        ("percent-encoded slash", "pa%2Fss", true),
        ("non-ASCII", "pässwörd€", true),
        // The URL parser percent-encodes a space in the user information.
        ("space", "pa ss", true),
        ("space and slash", "p s/x", false),
    ];

    #[test]
    fn url_passwords_never_show_in_errors_or_in_the_sources_debug() {
        for &(class, password, valid) in PASSWORDS {
            let leaks = |text: &str| {
                text.contains(password) || text.contains("monitor") || text.contains("K3Y")
            };
            match load(URL, password) {
                Ok(def) => {
                    assert!(valid, "{class}: `{password}` should be rejected");
                    let source = &def.services[0].metric_sources.third_party[0];
                    let debug = format!("{source:?} {def:?}");
                    assert!(!leaks(&debug), "{class}: {debug}");
                    assert!(debug.contains("***@rabbit:15672"), "{class}: {debug}");
                }
                Err(e) => {
                    assert!(!valid, "{class}: `{password}` should load: {e}");
                    let text = e.to_string();
                    assert!(!leaks(&text), "{class}: {text}");
                    assert_eq!(e.errors.len(), 1, "{class}: {text}");
                    let error = &e.errors[0];
                    assert_eq!(
                        error.path, "services.web.metric_sources.third_party[0].url",
                        "{class}"
                    );
                    assert_eq!(error.position.map(|p| p.line), Some(8), "{class}");
                    assert!(error.message.contains("percent-encode"), "{class}: {text}");
                    assert!(error.message.contains("***@rabbit"), "{class}: {text}");
                }
            }
        }
    }

    #[test]
    fn urls_are_parsed_at_load() {
        let message = |url: &str| match load(url, "") {
            Ok(_) => panic!("`{url}` loaded"),
            Err(e) => e.errors[0].message.clone(),
        };
        assert!(message("http://h:99999/x").starts_with("invalid URL `http://h:99999/x`: "));
        assert!(message("http://").contains("invalid URL"));
        assert!(message("ftp://h/x").contains("expected an http:// or https:// URL"));
        assert!(message("https://host/users/a@b/x")
            .contains("an `@` in the path or query written `%40`"));
        assert!(load("https://host/users/a%40b/x?q=1", "").is_ok());
        assert!(load("http://[::1]:8080/x", "").is_ok());
    }
}
