//! The delivery HTTP client: built once, pooled, bounded in time, never following redirects,
//! and resolving every host through the egress policy.

use std::error::Error as _;
use std::time::Duration;

use crate::config::Config;
use crate::egress::GuardedResolver;

pub fn build_client(config: &Config) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(concat!("Tidings/", env!("CARGO_PKG_VERSION")))
        .timeout(config.delivery_timeout)
        .connect_timeout(config.delivery_timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(60))
        .dns_resolver(GuardedResolver::new(config.egress))
        .build()
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
        return format!("timed out after {}s", timeout.as_secs());
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
