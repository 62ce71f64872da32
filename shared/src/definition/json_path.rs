//! Field paths into JSON responses (a `third_party` statistic's `name`).
//!
//! The original's dot notation, `message_stats.publish_details.rate`, plus:
//! - a segment of digits indexes an array (`items.0.messages_ready`); on an object it is a key;
//! - `\.` is a literal dot inside a key and `\\` a literal backslash
//!   (`labels.app\.kubernetes\.io/name`).

use serde::Serialize;

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PathSegment {
    /// An object key (also used when a numeric segment meets an object).
    Key(String),
    /// A numeric segment: an array index, or the key of the same digits on an object.
    Index(usize, String),
}

/// A parsed field path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonPath {
    segments: Vec<PathSegment>,
}

impl JsonPath {
    /// Parse a dot path; errors say what is wrong with it.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let mut segments = Vec::new();
        let mut current = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e @ ('.' | '\\')) => current.push(e),
                    _ => return Err("`\\` must be followed by `.` or `\\`".into()),
                },
                '.' => segments.push(Self::segment(std::mem::take(&mut current))?),
                c => current.push(c),
            }
        }
        segments.push(Self::segment(current)?);
        Ok(JsonPath { segments })
    }

    fn segment(s: String) -> Result<PathSegment, String> {
        if s.is_empty() {
            return Err(
                "empty field name in path (two dots in a row, or a leading or trailing dot)".into(),
            );
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(i) = s.parse::<usize>() {
                return Ok(PathSegment::Index(i, s));
            }
        }
        Ok(PathSegment::Key(s))
    }

    /// The segments in order.
    pub fn segments(&self) -> &[PathSegment] {
        &self.segments
    }

    /// Follow the path; on failure, the path that was found (for the error message).
    pub fn lookup<'a>(&self, root: &'a serde_json::Value) -> Result<&'a serde_json::Value, String> {
        let mut here = root;
        let mut walked = String::new();
        for seg in &self.segments {
            let next = match (seg, here) {
                (PathSegment::Key(k), serde_json::Value::Object(m)) => m.get(k),
                (PathSegment::Index(_, k), serde_json::Value::Object(m)) => m.get(k),
                (PathSegment::Index(i, _), serde_json::Value::Array(a)) => a.get(*i),
                _ => None,
            };
            if !walked.is_empty() {
                walked.push('.');
            }
            walked.push_str(&seg_text(seg));
            here = next.ok_or_else(|| walked.clone())?;
        }
        Ok(here)
    }
}

fn seg_text(seg: &PathSegment) -> String {
    match seg {
        PathSegment::Key(k) => k.replace('\\', "\\\\").replace('.', "\\."),
        PathSegment::Index(_, k) => k.clone(),
    }
}

impl std::fmt::Display for JsonPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.segments.iter().map(seg_text).collect();
        write!(f, "{}", parts.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dot_paths_indices_and_escaped_dots() {
        let doc = json!({
            "messages_ready": 7,
            "items": [{"n": 1}, {"n": 2}],
            "a.b": {"c": 3},
            "0": "zero-key",
        });
        let get = |p: &str| JsonPath::parse(p).unwrap().lookup(&doc).cloned();
        assert_eq!(get("messages_ready"), Ok(json!(7)));
        assert_eq!(get("items.1.n"), Ok(json!(2)));
        assert_eq!(get("a\\.b.c"), Ok(json!(3)));
        assert_eq!(
            get("0"),
            Ok(json!("zero-key")),
            "digits on an object are a key"
        );
        assert_eq!(get("items.2.n"), Err("items.2".to_string()));
        assert_eq!(get("nope.x"), Err("nope".to_string()));
    }

    #[test]
    fn malformed_paths_are_rejected() {
        assert!(JsonPath::parse("a..b").is_err());
        assert!(JsonPath::parse(".a").is_err());
        assert!(JsonPath::parse("a\\x").is_err());
        assert!(JsonPath::parse("").is_err());
    }

    #[test]
    fn display_round_trips() {
        for p in ["a.b.0", "x\\.y.z", "back\\\\slash"] {
            let parsed = JsonPath::parse(p).unwrap();
            assert_eq!(parsed.to_string(), p);
            assert_eq!(JsonPath::parse(&parsed.to_string()).unwrap(), parsed);
        }
    }
}
