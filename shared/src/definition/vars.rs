//! `%(VAR)` substitution in string values.
//!
//! Substitution runs on each string *value* after the YAML is parsed, never on the
//! raw text, so a variable's value can never change the structure of the file.
//! `%(NAME)` with `NAME` matching `[A-Za-z_][A-Za-z0-9_]*` is replaced by the
//! variable's value; `%%(` stands for a literal `%(`; any other `%(` is an error,
//! so a typo is reported instead of being sent to a server as-is.

/// Why a string's variables could not be substituted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    /// The environment has no such variable.
    #[error("environment variable `{name}` is not set (referenced as `%({name})`)")]
    Missing {
        /// The variable.
        name: String,
        /// 0-based character offset of the `%(` in the string.
        offset: usize,
    },
    /// `%(` not followed by a valid name and `)`.
    #[error("`%(` must be followed by a variable name and `)`, like `%(PASSWORD)`; write `%%(` for a literal `%(`")]
    Malformed {
        /// 0-based character offset of the `%(` in the string.
        offset: usize,
    },
}

impl VarError {
    /// 0-based character offset of the offending `%(` in the string.
    pub fn offset(&self) -> usize {
        match self {
            VarError::Missing { offset, .. } | VarError::Malformed { offset } => *offset,
        }
    }
}

/// Replace every `%(NAME)` in `text` using `lookup`. Returns all errors, not just the first.
pub fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<VarError>> {
    if !text.contains("%(") {
        return Ok(text.to_string());
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '%' && chars.get(i + 1) == Some(&'%') && chars.get(i + 2) == Some(&'(') {
            out.push_str("%(");
            i += 3;
            continue;
        }
        if c == '%' && chars.get(i + 1) == Some(&'(') {
            match read_name(&chars, i + 2) {
                Some((name, end)) => {
                    match lookup(&name) {
                        Some(v) => out.push_str(&v),
                        None => errors.push(VarError::Missing { name, offset: i }),
                    }
                    i = end + 1;
                }
                None => {
                    errors.push(VarError::Malformed { offset: i });
                    out.push_str("%(");
                    i += 2;
                }
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A valid name starting at `start` and closed by `)`: the name and the index of `)`.
fn read_name(chars: &[char], start: usize) -> Option<(String, usize)> {
    let first = *chars.get(start)?;
    if !(first.is_ascii_alphabetic() || first == '_') {
        return None;
    }
    let mut end = start + 1;
    while let Some(&c) = chars.get(end) {
        if c.is_ascii_alphanumeric() || c == '_' {
            end += 1;
        } else {
            break;
        }
    }
    (chars.get(end) == Some(&')')).then(|| (chars[start..end].iter().collect(), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "USERNAME" => Some("guest".into()),
            "PASSWORD" => Some("p%(w)d".into()),
            "V2" => Some("two".into()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_every_reference_once() {
        assert_eq!(
            substitute("https://%(USERNAME):%(PASSWORD)@h/api", &env).unwrap(),
            "https://guest:p%(w)d@h/api",
            "a value containing %( is not substituted again"
        );
        assert_eq!(
            substitute("a%(V2)b", &env).unwrap(),
            "atwob",
            "digits in names"
        );
        assert_eq!(substitute("no vars 100%", &env).unwrap(), "no vars 100%");
    }

    #[test]
    fn escaped_reference_is_literal() {
        assert_eq!(substitute("%%(USERNAME)", &env).unwrap(), "%(USERNAME)");
    }

    #[test]
    fn missing_variables_are_all_reported_with_offsets() {
        let errs = substitute("x%(NOPE)y%(ALSO_NOPE)", &env).unwrap_err();
        assert_eq!(
            errs,
            vec![
                VarError::Missing {
                    name: "NOPE".into(),
                    offset: 1
                },
                VarError::Missing {
                    name: "ALSO_NOPE".into(),
                    offset: 9
                },
            ]
        );
        assert_eq!(
            errs[0].to_string(),
            "environment variable `NOPE` is not set (referenced as `%(NOPE)`)"
        );
    }

    #[test]
    fn malformed_references_are_errors() {
        for bad in ["%(1A)", "%()", "%(A", "%(A-B)", "ab%( A)"] {
            let errs = substitute(bad, &env).unwrap_err();
            assert!(
                matches!(errs[0], VarError::Malformed { .. }),
                "{bad}: {errs:?}"
            );
        }
    }
}
