//! The delivery HTTP client: built once, pooled, bounded in time, never following redirects,
//! and resolving every host through the egress policy.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::egress::GuardedResolver;
use crate::tls;
pub use crate::tls::ClientError;

/// What every delivery's `user-agent` says.
pub const USER_AGENT: &str = concat!("Tidings/", env!("CARGO_PKG_VERSION"));

/// The client every delivery goes through; every name it connects to is resolved by
/// `resolver`, which applies the egress policy. It trusts the roots `config.trust_roots`
/// names ([`tls::trusting`]).
pub fn build_client(
    config: &Config,
    resolver: Arc<GuardedResolver>,
) -> Result<reqwest::Client, ClientError> {
    let builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(config.delivery_timeout)
        .connect_timeout(config.delivery_timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(60))
        .dns_resolver(resolver);
    Ok(tls::trusting(builder, config.trust_roots)?.build()?)
}

/// A failed request in words an operator can act on.
pub(super) fn describe_error(error: &reqwest::Error, timeout: Duration) -> String {
    let mut cause = String::new();
    let mut source = error.source();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    let kind = if error.is_timeout() {
        return format!("timed out after {timeout:?}");
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "response could not be read"
    } else {
        "request failed"
    };
    if cause.is_empty() {
        format!("{kind}: {error}")
    } else {
        format!("{kind}: {cause}")
    }
}

/// A `Retry-After` header: seconds, or an HTTP date.
pub(super) fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - now).to_std().ok()
}

/// The first `limit` bytes of a response body, as text; the rest is not read.
pub(super) async fn body_prefix(mut response: reqwest::Response, limit: usize) -> Option<String> {
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(limit);
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let header = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, HeaderValue::from_static(v));
            h
        };
        assert_eq!(
            retry_after(&header("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&header("Wed, 21 Oct 2015 07:30:00 GMT"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&header("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            None,
            "in the past"
        );
        assert_eq!(retry_after(&header("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
