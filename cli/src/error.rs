//! Errors that carry their exit code and `hint:` lines; everything else is exit code 3.

use std::fmt;

use shared::redact::redact_text;

/// An error for the person at the terminal: a message, hints, and the exit code.
#[derive(Debug)]
pub struct CliError {
    /// The message (printed after `error: `).
    pub message: String,
    /// Printed as `hint: ...` lines.
    pub hints: Vec<String>,
    /// The exit code.
    pub code: u8,
}

impl CliError {
    /// A problem with what was asked (unknown cluster, service, alias): exit code 1.
    pub fn problem(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            hints: Vec::new(),
            code: crate::exit::PROBLEMS,
        }
    }

    /// The command could not run: exit code 3.
    pub fn failure(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            hints: Vec::new(),
            code: crate::exit::FAILURE,
        }
    }

    /// Adds a `hint:` line.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Prints `error: ...` and its hints to standard error; returns the exit code.
pub fn report(err: &anyhow::Error) -> u8 {
    let (lines, code) = lines(err);
    for line in lines {
        eprintln!("{line}");
    }
    code
}

/// The lines [`report`] prints, and the exit code. Any URL in them is redacted: an error may
/// quote an endpoint or a queue URL, and nothing guarantees it carries no credentials.
pub fn lines(err: &anyhow::Error) -> (Vec<String>, u8) {
    match err.downcast_ref::<CliError>() {
        Some(e) => {
            let mut lines = vec![format!("error: {}", redact_text(&e.message))];
            lines.extend(e.hints.iter().map(|h| format!("hint: {}", redact_text(h))));
            (lines, e.code)
        }
        None => (
            vec![format!("error: {}", redact_text(&format!("{err:#}")))],
            crate::exit::FAILURE,
        ),
    }
}

/// "did you mean" for a name among `known`, when one is close.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("wroker", ["worker", "backend"]),
            Some("worker")
        );
        assert_eq!(did_you_mean("zzz", ["worker", "backend"]), None);
    }

    #[test]
    fn urls_in_errors_and_hints_are_redacted() {
        let err = CliError::failure("SendMessage http://u:pa/ss@h/q failed")
            .hint("see https://h/x?api_key=K3Y");
        let (printed, code) = lines(&err.into());
        assert_eq!(code, crate::exit::FAILURE);
        assert_eq!(
            printed,
            [
                "error: SendMessage http://***@h/q failed",
                "hint: see https://h/x?***"
            ]
        );
        let other = anyhow::anyhow!("reading http://u:s3cret@h/").context("starting");
        let (printed, _) = lines(&other);
        assert_eq!(printed, ["error: starting: reading http://***@h/"]);
    }
}
