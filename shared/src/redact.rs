//! Keeping secrets out of logs and reports.

/// A URL with any `user:password@` replaced by `***@`, safe to log.
///
/// Works on text that may not be a valid URL too: anything between the scheme's
/// `//` and the last `@` before the path is treated as credentials.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => format!(
            "{scheme}***@{}{}",
            &authority[at + 1..],
            &rest[authority_end..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn credentials_are_replaced() {
        assert_eq!(
            redact_url("https://guest:s3cret@rabbit.local:15672/api/queues/%2F/celery"),
            "https://***@rabbit.local:15672/api/queues/%2F/celery"
        );
        assert_eq!(redact_url("http://user@h/p?q=a@b"), "http://***@h/p?q=a@b");
        assert_eq!(redact_url("https://p@ss:w@rd@host"), "https://***@host");
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        assert_eq!(redact_url("https://host/a@b"), "https://host/a@b");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
