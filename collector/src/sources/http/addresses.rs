//! Link-local and instance metadata addresses, which an HTTP source reaches only when it sets
//! `allow_link_local: true`: 169.254.0.0/16 (the EC2 instance metadata service at
//! 169.254.169.254, the ECS task metadata endpoint), fe80::/10, and fd00:ec2::/32 (the
//! metadata service over IPv6). A URL or redirect naming such an address is refused before
//! anything is sent, and a host name is resolved without them ([`NoLinkLocal`]): a name that
//! leads only there fails as a request.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// The text of a refusal, with the key that allows it.
const HINT: &str =
    "a source that reads such an address (e.g. the ECS task metadata endpoint) sets `allow_link_local: true`";

/// Whether `ip` is link-local or an instance metadata address (IPv4-mapped IPv6 included).
pub(super) fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4.is_link_local();
            }
            let s = v6.segments();
            (s[0] & 0xffc0) == 0xfe80 || (s[0] == 0xfd00 && s[1] == 0x0ec2)
        }
    }
}

/// Why `url` may not be requested, when its host is such an address written as an IP.
pub(super) fn refused(url: &Url) -> Option<String> {
    // The parser writes every IPv4 spelling (decimal, hex) dotted, and IPv6 in brackets.
    let host = url.host_str()?;
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    is_link_local(ip).then(|| {
        format!("{ip} is a link-local or instance metadata address, not requested; {HINT}")
    })
}

/// The system's resolver without link-local and metadata addresses.
#[derive(Debug, Clone, Copy)]
pub(super) struct NoLinkLocal;

impl Resolve for NoLinkLocal {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| !is_link_local(a.ip()))
                .collect();
            if kept.is_empty() && !all.is_empty() {
                return Err(format!(
                    "`{host}` resolves only to link-local or instance metadata addresses, not requested; {HINT}"
                )
                .into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_link_local_addresses_are_recognised_in_every_spelling() {
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://169.254.170.2/v4/task",
            "http://2852039166/",
            "http://0xa9fea9fe/",
            "http://[fe80::1]/",
            "http://[fd00:ec2::254]/latest",
            "http://[::ffff:169.254.169.254]/",
        ] {
            let parsed = Url::parse(url).expect(url);
            let why = refused(&parsed).unwrap_or_else(|| panic!("{url} not refused"));
            assert!(why.contains("allow_link_local"), "{why}");
        }
        for url in [
            "http://127.0.0.1:15672/",
            "http://10.0.0.5/",
            "http://[::1]/",
            "http://[fd00:ec3::1]/",
            "http://169.253.255.255/",
            "http://rabbit.internal/",
        ] {
            assert_eq!(refused(&Url::parse(url).expect(url)), None, "{url}");
        }
    }

    #[tokio::test]
    async fn names_resolve_without_link_local_addresses() {
        let addrs: Vec<SocketAddr> = NoLinkLocal
            .resolve("localhost".parse().expect("a name"))
            .await
            .expect("localhost resolves")
            .collect();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
