//! Untrusted text (a file's values, a queue message's fields) as messages show it: cut to a
//! length, control characters escaped, so that no input can forge or flood a log line.

/// `text`, at most `max_chars` characters (then `…`), control characters escaped.
pub fn shown(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max_chars)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if text.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn cut_and_escaped() {
        assert_eq!(shown("web", 8), "web");
        assert_eq!(shown("a\nb\0", 8), "a\\nb\\u{0}");
        assert_eq!(shown("abcdefghij", 4), "abcd…");
    }
}
