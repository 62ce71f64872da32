//! Which redirects an HTTP source follows, and how (pure).
//!
//! A source's headers and credentials are secrets meant for its own origin (scheme, host and
//! port), and its payload for its own URL. So, by default:
//! - a redirect to another origin is not followed (`allow_cross_origin_redirects: true` allows
//!   it; the URL's credentials and the source's headers are then never sent there, nor to
//!   any later hop);
//! - a 307/308 redirect of a POST (which would send the payload again) is followed only to the
//!   same URL path within the origin (`allow_post_redirects: true` allows any);
//! - 301/302 of a POST and every 303 become a GET without the payload, as browsers do;
//! - only `http` and `https` URLs are followed.
//!
//! A refused redirect is the source's `request` missing reason, whose text says which rule
//! refused it and which key allows it.

use reqwest::Url;
use shared::definition::HttpAllowances;
use shared::redact::redact_url;

use super::Method;

/// The next request of a redirect chain.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Hop {
    /// Where to.
    pub url: Url,
    /// With which method.
    pub method: Method,
    /// Whether the payload is sent (a POST kept as a POST).
    pub payload: bool,
    /// Whether it leaves the first request's origin: no headers, no credentials.
    pub cross_origin: bool,
}

/// What to do with an answer of `status` whose `Location` is `location`, to a `method`
/// request of `current` in a chain that started at `first`: `Ok(None)` when the answer is
/// final (not a redirect the source follows: 300, 304, 305, 306, or no `Location`), the next
/// hop, or why it is refused.
pub(super) fn next_hop(
    first: &Url,
    current: &Url,
    method: Method,
    status: u16,
    location: Option<&str>,
    allow: HttpAllowances,
) -> Result<Option<Hop>, String> {
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = location else {
        return Ok(None);
    };
    let mut url = current
        .join(location)
        .map_err(|e| format!("redirect (HTTP {status}) to an invalid location: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "redirect (HTTP {status}) to a `{}:` URL not followed: only http and https are",
            url.scheme()
        ));
    }
    let cross_origin = url.origin() != first.origin();
    if cross_origin && !allow.cross_origin_redirects {
        return Err(format!(
            "redirect (HTTP {status}) to another origin ({}) not followed; a source that expects it sets `allow_cross_origin_redirects: true`",
            redact_url(&url.origin().ascii_serialization())
        ));
    }
    let (method, payload) = match (status, method) {
        (307 | 308, Method::Post) => {
            let same_path = !cross_origin && url.path() == current.path();
            if !same_path && !allow.post_redirects {
                return Err(format!(
                    "redirect (HTTP {status}) of a POST to another URL path not followed: it would send the payload again; a source that expects it sets `allow_post_redirects: true`"
                ));
            }
            (Method::Post, true)
        }
        (307 | 308, Method::Get) => (Method::Get, false),
        // 301 and 302 of a POST, and every 303: a GET without the payload.
        _ => (Method::Get, false),
    };
    if cross_origin {
        // Never sent to another origin, whatever the location says.
        let _ = url.set_username("");
        let _ = url.set_password(None);
    } else if url.username().is_empty() && url.password().is_none() {
        // Within the origin, the first URL's credentials stay (reqwest sends them from the URL).
        let _ = url.set_username(first.username());
        let _ = url.set_password(first.password());
    }
    Ok(Some(Hop {
        url,
        method,
        payload,
        cross_origin,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("a URL")
    }

    const FIRST: &str = "http://user:pw@a.example:8080/api/q";

    fn hop(
        method: Method,
        status: u16,
        location: &str,
        allow: HttpAllowances,
    ) -> Result<Option<Hop>, String> {
        next_hop(
            &url(FIRST),
            &url(FIRST),
            method,
            status,
            Some(location),
            allow,
        )
    }

    #[test]
    fn same_origin_redirects_keep_the_credentials_and_turn_posts_into_gets() {
        let next = hop(Method::Get, 302, "/api/other", HttpAllowances::default())
            .expect("followed")
            .expect("a hop");
        assert_eq!(next.url.as_str(), "http://user:pw@a.example:8080/api/other");
        assert!(!next.cross_origin);
        for status in [301, 302, 303] {
            let next = hop(
                Method::Post,
                status,
                "http://a.example:8080/x",
                HttpAllowances::default(),
            )
            .expect("followed")
            .expect("a hop");
            assert_eq!(
                (next.method, next.payload),
                (Method::Get, false),
                "{status}"
            );
            assert_eq!(next.url.username(), "user", "{status}");
        }
    }

    #[test]
    fn a_post_is_sent_again_only_to_its_own_path_unless_allowed() {
        for status in [307, 308] {
            let again = hop(Method::Post, status, "/api/q", HttpAllowances::default())
                .expect("same path")
                .expect("a hop");
            assert_eq!((again.method, again.payload), (Method::Post, true));
            let refused = hop(
                Method::Post,
                status,
                "/api/elsewhere",
                HttpAllowances::default(),
            )
            .expect_err("another path");
            assert!(refused.contains("allow_post_redirects"), "{refused}");
            let allowed = HttpAllowances {
                post_redirects: true,
                ..HttpAllowances::default()
            };
            let next = hop(Method::Post, status, "/api/elsewhere", allowed)
                .expect("allowed")
                .expect("a hop");
            assert_eq!((next.method, next.payload), (Method::Post, true));
        }
    }

    #[test]
    fn another_origin_is_refused_unless_allowed_and_then_gets_no_credentials() {
        for location in [
            "http://b.example:8080/api/q",
            "https://a.example:8080/api/q",
            "http://a.example:8081/api/q",
            "http://169.254.169.254/latest/meta-data/",
        ] {
            let refused =
                hop(Method::Get, 302, location, HttpAllowances::default()).expect_err(location);
            assert!(
                refused.contains("allow_cross_origin_redirects"),
                "{refused}"
            );
            assert!(!refused.contains("pw"), "{refused}");
        }
        let allowed = HttpAllowances {
            cross_origin_redirects: true,
            ..HttpAllowances::default()
        };
        let next = hop(Method::Get, 301, "http://x:y@b.example/q", allowed)
            .expect("allowed")
            .expect("a hop");
        assert!(next.cross_origin);
        assert_eq!(next.url.as_str(), "http://b.example/q");
        // A POST to another origin is a re-POST to another URL.
        assert!(hop(Method::Post, 307, "http://b.example/api/q", allowed).is_err());
    }

    #[test]
    fn only_redirects_with_a_location_to_http_are_followed() {
        for status in [200, 300, 304, 305, 306, 404] {
            assert_eq!(
                hop(Method::Get, status, "/x", HttpAllowances::default()),
                Ok(None)
            );
        }
        let none = next_hop(
            &url(FIRST),
            &url(FIRST),
            Method::Get,
            302,
            None,
            HttpAllowances::default(),
        );
        assert_eq!(none, Ok(None));
        let allowed = HttpAllowances {
            cross_origin_redirects: true,
            ..HttpAllowances::default()
        };
        for location in ["file:///etc/passwd", "ftp://b.example/x"] {
            assert!(
                hop(Method::Get, 302, location, allowed).is_err(),
                "{location}"
            );
        }
    }
}
