//! Where deliveries may go. Every address the delivery client connects to passes through
//! [`GuardedResolver`], so the check holds for the address actually connected: there is no
//! second resolution between the check and the connection.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;
use thiserror::Error;
use url::{Host, Url};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EgressPolicy {
    /// Production: `https://` only, to public addresses only.
    PublicOnly,
    /// Local development: also `http://`, and loopback addresses (127.0.0.0/8, ::1).
    AllowLoopback,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EgressError {
    #[error("must use https (http is allowed only for loopback endpoints in development mode)")]
    Scheme,
    #[error("must not contain a user name or password")]
    Credentials,
    #[error("must name a host")]
    NoHost,
    #[error("points to {0}, which is not a public address")]
    Forbidden(IpAddr),
}

impl EgressPolicy {
    /// Checks what can be checked without resolving: scheme, credentials, literal addresses.
    pub fn check_url(self, url: &Url) -> Result<(), EgressError> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EgressError::Credentials);
        }
        let host = url.host().ok_or(EgressError::NoHost)?;
        let loopback_host = match &host {
            Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => ip.is_loopback(),
        };
        match (url.scheme(), self) {
            ("https", _) => {}
            ("http", Self::AllowLoopback) if loopback_host => {}
            _ => return Err(EgressError::Scheme),
        }
        // A literal address never reaches the resolver, so it is checked here.
        match host {
            Host::Ipv4(ip) => self.check_ip(IpAddr::V4(ip)),
            Host::Ipv6(ip) => self.check_ip(IpAddr::V6(ip)),
            Host::Domain(_) => Ok(()),
        }
    }

    pub fn check_ip(self, ip: IpAddr) -> Result<(), EgressError> {
        if self == Self::AllowLoopback && ip.is_loopback() {
            return Ok(());
        }
        if is_public(ip) {
            Ok(())
        } else {
            Err(EgressError::Forbidden(ip))
        }
    }
}

/// Whether an address is routable on the public internet: not loopback, private, link-local
/// (which holds the cloud metadata service), CGNAT, documentation, benchmarking, multicast,
/// reserved, unspecified, or an IPv4 address in IPv6 clothing that is any of these.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            is_public_v6(v6)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0.0/24
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18.0.0/15
        || a >= 240) // reserved 240.0.0.0/4
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation 2001:db8::/32
        || (segments[0] == 0x0064 && segments[1] == 0xff9b) // NAT64 64:ff9b::/96 hides IPv4
        || (segments[0] == 0x2002) // 6to4 embeds IPv4
        || segments[..6].iter().all(|s| *s == 0)) // IPv4-compatible ::a.b.c.d
}

/// Names resolved by a fixed table instead of the system's resolver: how a test makes a
/// public-looking name point at a private address.
pub type StaticLookup = Arc<dyn Fn(&str) -> Vec<IpAddr> + Send + Sync>;

/// A DNS resolver that drops every address the policy refuses, and fails when none is left.
/// The client connects only to the addresses it returns, so nothing re-resolves in between.
/// Cloned into the delivery client's connector (a policy and a shared table).
#[derive(Clone)]
pub struct GuardedResolver {
    policy: EgressPolicy,
    lookup: Option<StaticLookup>,
}

/// Why a name was not resolved to an address the client may connect to.
pub type ResolveError = Box<dyn std::error::Error + Send + Sync>;

impl GuardedResolver {
    /// Resolves with the system's resolver.
    pub fn new(policy: EgressPolicy) -> Self {
        Self {
            policy,
            lookup: None,
        }
    }

    /// Resolves with `lookup` (for tests), still filtered by `policy`.
    pub fn with_lookup(policy: EgressPolicy, lookup: StaticLookup) -> Self {
        Self {
            policy,
            lookup: Some(lookup),
        }
    }

    /// The addresses of `host` the policy allows (port 0: the client sets the URL's).
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let resolved: Vec<SocketAddr> = match &self.lookup {
            Some(lookup) => lookup(host)
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 0))
                .collect(),
            None => tokio::net::lookup_host((host, 0)).await?.collect(),
        };
        let allowed: Vec<SocketAddr> = resolved
            .iter()
            .copied()
            .filter(|addr| self.policy.check_ip(addr.ip()).is_ok())
            .collect();
        if allowed.is_empty() {
            let refused = resolved
                .first()
                .map(|a| a.ip().to_string())
                .unwrap_or_else(|| "no address".to_owned());
            return Err(
                format!("{host} resolves to {refused}, which is not a public address").into(),
            );
        }
        Ok(allowed)
    }
}

/// As hyper's connector asks its resolver.
impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = ResolveError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolver = self.clone();
        Box::pin(async move { Ok(resolver.resolve(name.as_str()).await?.into_iter()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_addresses_pass_and_the_rest_do_not() {
        for ok in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(ok)), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "::7f00:1",
        ] {
            assert!(!is_public(ip(bad)), "{bad}");
        }
    }

    #[test]
    fn production_refuses_http_and_literal_private_addresses() {
        let p = EgressPolicy::PublicOnly;
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(p.check_url(&url("https://shop.example/hooks")), Ok(()));
        assert_eq!(
            p.check_url(&url("http://shop.example/hooks")),
            Err(EgressError::Scheme)
        );
        assert_eq!(
            p.check_url(&url("http://127.0.0.1:8080/")),
            Err(EgressError::Scheme)
        );
        assert!(matches!(
            p.check_url(&url("https://169.254.169.254/latest/meta-data")),
            Err(EgressError::Forbidden(_))
        ));
        assert!(matches!(
            p.check_url(&url("https://[::1]/")),
            Err(EgressError::Forbidden(_))
        ));
        assert_eq!(
            p.check_url(&url("https://u:p@shop.example/")),
            Err(EgressError::Credentials)
        );
        assert_eq!(
            p.check_url(&url("ftp://shop.example/")),
            Err(EgressError::Scheme)
        );
    }

    #[test]
    fn development_allows_http_on_loopback_only() {
        let p = EgressPolicy::AllowLoopback;
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(p.check_url(&url("http://127.0.0.1:9000/hook")), Ok(()));
        assert_eq!(p.check_url(&url("http://localhost:9000/hook")), Ok(()));
        assert_eq!(p.check_url(&url("http://[::1]:9000/hook")), Ok(()));
        assert_eq!(
            p.check_url(&url("http://shop.example/hook")),
            Err(EgressError::Scheme)
        );
        assert!(matches!(
            p.check_url(&url("https://10.0.0.1/")),
            Err(EgressError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        let strict = GuardedResolver::new(EgressPolicy::PublicOnly);
        let err = strict.resolve("localhost").await.err().unwrap();
        assert!(err.to_string().contains("not a public address"), "{err}");
        let dev = GuardedResolver::new(EgressPolicy::AllowLoopback);
        let addrs = dev.resolve("localhost").await.unwrap();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
