//! Keeping secrets out of logs, reports and messages: URLs, and the URLs inside free text.
//!
//! A printed URL never shows a user name, a password or a query string (`?api_key=...`):
//! `https://***@host:15672/api/queues/%2F/celery?***`. The URL is read with [`url::Url`]
//! when that reads it as its author meant; otherwise it is read conservatively (see
//! [`redact_url`]), so that text that is not a valid URL leaks nothing either.

use std::borrow::Cow;

/// What stands for a hidden part.
const HIDDEN: &str = "***";

/// `url` safe to print: any user and password replaced by `***@`, the query string by `?***`,
/// the fragment dropped.
///
/// Parsed with [`url::Url`] when the text parses, has a host, and has no `@` after the first
/// `/`, `?`, `#` or `\` that follows `://`. An `@` there means the author may have written a
/// password with one of those characters in it (`http://user:12/ss@host/`), which the parser
/// reads as a host, a port and a path. Then, and for text that does not parse, the text is
/// read conservatively: everything between `://` (or the start, without one) and the **last**
/// `@` of the whole text is hidden, and everything from the first `?` or `#` after it.
pub fn redact_url(url: &str) -> String {
    match parse_unambiguous(url) {
        Some(parsed) => from_parsed(&parsed, has_path(url)),
        None => conservative(url),
    }
}

/// `text` with every URL in it (a whitespace-separated word containing `://`, from its scheme
/// on) passed through [`redact_url`]; the rest unchanged. For error texts that may quote a URL.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        out.push_str(&rest[..start]);
        let from_word = &rest[start..];
        let end = from_word
            .find(char::is_whitespace)
            .unwrap_or(from_word.len());
        out.push_str(&redact_word(&from_word[..end]));
        rest = &from_word[end..];
    }
    out.push_str(rest);
    out
}

fn redact_word(word: &str) -> Cow<'_, str> {
    let Some(separator) = word.find("://") else {
        return Cow::Borrowed(word);
    };
    // The URL starts at its scheme: the letters, digits, `+`, `-` and `.` just before `://`.
    let is_scheme = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.');
    let start = word[..separator]
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_scheme(*c))
        .last()
        .map_or(separator, |(i, _)| i);
    Cow::Owned(format!("{}{}", &word[..start], redact_url(&word[start..])))
}

/// The parsed URL, when the parser's reading cannot differ from its author's (see [`redact_url`]).
fn parse_unambiguous(text: &str) -> Option<url::Url> {
    let parsed = url::Url::parse(text).ok()?;
    if !parsed.has_host() {
        return None;
    }
    if !text.contains("://") || has_at_after_authority(text) {
        return None;
    }
    Some(parsed)
}

/// Whether `url` writes a path after its authority (the parser adds `/` when it does not).
fn has_path(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find(['/', '?', '#', '\\'])
        .is_some_and(|i| rest[i..].starts_with(['/', '\\']))
}

/// Whether `url` has an `@` after the first `/`, `?`, `#` or `\` that follows `://`: there a
/// URL parser sees a path, a query or a fragment, where its author may have meant a password
/// (`http://user:12/ss@host/` is host `user`, port 12, path `/ss@host/`).
pub fn has_at_after_authority(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    rest[authority_end..].contains('@')
}

fn from_parsed(url: &url::Url, written_path: bool) -> String {
    let mut out = format!("{}://", url.scheme());
    if !url.username().is_empty() || url.password().is_some() {
        out.push_str(HIDDEN);
        out.push('@');
    }
    // `host_str` keeps the brackets of an IPv6 address.
    out.push_str(url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    if written_path || url.path() != "/" {
        out.push_str(url.path());
    }
    if url.query().is_some() {
        out.push('?');
        out.push_str(HIDDEN);
    }
    out
}

fn conservative(text: &str) -> String {
    let (scheme, rest) = match text.find("://") {
        Some(i) => text.split_at(i + 3),
        None => ("", text),
    };
    let (hidden, rest) = match rest.rfind('@') {
        Some(at) => (true, &rest[at + 1..]),
        None => (false, rest),
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let mut out = String::from(scheme);
    if hidden {
        out.push_str(HIDDEN);
        out.push('@');
    }
    out.push_str(&rest[..end]);
    if rest[end..].starts_with('?') {
        out.push('?');
        out.push_str(HIDDEN);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{redact_text, redact_url};

    #[test]
    fn credentials_and_queries_are_hidden() {
        assert_eq!(
            redact_url("https://guest:s3cret@rabbit.local:15672/api/queues/%2F/celery"),
            "https://***@rabbit.local:15672/api/queues/%2F/celery"
        );
        assert_eq!(
            redact_url("https://u:p@h:8080/api/queues/%2F/celery?key=s3cret#frag"),
            "https://***@h:8080/api/queues/%2F/celery?***"
        );
        assert_eq!(redact_url("http://user@h/p"), "http://***@h/p");
        // The parser takes the last `@` of the authority, as the author meant.
        assert_eq!(redact_url("https://p@ss:w@rd@host"), "https://***@host");
        assert_eq!(redact_url("http://h/p?api_key=s3cret"), "http://h/p?***");
        assert_eq!(redact_url("http://[::1]:9/x"), "http://[::1]:9/x");
        // No path is added where none was written.
        assert_eq!(
            redact_url("http://u:p@127.0.0.1:5000"),
            "http://***@127.0.0.1:5000"
        );
        assert_eq!(redact_url("http://h?k=v"), "http://h?***");
        assert_eq!(redact_url("http://h/"), "http://h/");
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        assert_eq!(
            redact_url("https://h:8080/api/queues/%2F/celery"),
            "https://h:8080/api/queues/%2F/celery"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:5000/123456789012/stack-metrics"),
            "http://127.0.0.1:5000/123456789012/stack-metrics"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    /// The password of every test below, with one character of each class that matters.
    fn passwords() -> Vec<(&'static str, &'static str)> {
        vec![
            ("slash", "pa/ss"),
            ("hash", "p#w"),
            ("question mark", "p?w"),
            ("at sign", "p@ss"),
            ("colon", "pa:ss"),
            ("percent", "100%off"),
            ("percent-encoded", "pa%2Fss"),
            ("non-ASCII", "pässwörd€"),
            ("space", "pa ss"),
            ("digits then slash", "12/ss"),
            ("digits then hash", "12#ss"),
            ("digits then question mark", "12?ss"),
            ("backslash", "12\\ss"),
        ]
    }

    #[test]
    fn no_password_character_leaks_it() {
        for (class, password) in passwords() {
            for url in [
                format!("http://monitor:{password}@rabbit:15672/api/queues/%2F/celery?api_key=K3Y"),
                format!("https://monitor:{password}@rabbit"),
                format!("http://monitor:{password}@rabbit/x#frag"),
                format!("monitor:{password}@rabbit/x"),
            ] {
                let shown = redact_url(&url);
                let secret_part = password.split(['/', '#', '?', '@', ':', '\\', ' ']).next();
                assert!(
                    !shown.contains(password) && !shown.contains("monitor"),
                    "{class}: {url} → {shown}"
                );
                assert!(
                    secret_part.is_none_or(|p| p.len() < 2 || !shown.contains(p)),
                    "{class}: part of the password in {shown} (from {url})"
                );
                assert!(!shown.contains("K3Y"), "{class}: {shown}");
                assert!(
                    shown.contains("***@rabbit"),
                    "{class}: the host stays readable: {url} → {shown}"
                );
            }
        }
    }

    #[test]
    fn an_at_sign_after_the_path_starts_is_read_conservatively() {
        // The parser reads host `user`, port 12 and a path; the author meant a password.
        assert_eq!(redact_url("http://user:12/ss@host/x"), "http://***@host/x");
        assert_eq!(redact_url("http://user:12#ss@host"), "http://***@host");
        // Without credentials too: safe rather than informative.
        assert_eq!(redact_url("https://host/a@b"), "https://***@b");
        assert_eq!(redact_url("http://user@h/p?q=a@b"), "http://***@b");
    }

    #[test]
    fn text_that_is_not_a_url_is_read_conservatively() {
        assert_eq!(
            redact_url("http://user:pa/ss@host/x?k=v"),
            "http://***@host/x?***"
        );
        assert_eq!(
            redact_url("http://user:p@ss@h:99999/x"),
            "http://***@h:99999/x"
        );
        assert_eq!(redact_url("mailto:someone@host"), "***@host");
    }

    #[test]
    fn urls_inside_text_are_redacted() {
        assert_eq!(
            redact_text("error (https://u:secret@host/x?k=1) at  http://h/y"),
            "error (https://***@host/x?*** at  http://h/y"
        );
        assert_eq!(
            redact_text("see \"http://u:pa/ss@h/\": refused"),
            "see \"http://***@h/\": refused"
        );
        assert_eq!(redact_text("plain words"), "plain words");
    }
}
