//! Everything configurable, read once from the environment into one typed value. The
//! defaults match `template.yaml`.

use std::time::Duration;

use thiserror::Error;

use crate::domain::circuit::CircuitPolicy;
use crate::domain::retry::RetrySchedule;
use crate::egress::EgressPolicy;
use crate::metrics::Metrics;
use crate::tls::TrustRoots;

#[derive(Debug, Clone)]
pub struct Config {
    /// `TIDINGS_RETRY_SCHEDULE`, e.g. `5s,5m,30m,2h,5h,10h,10h`.
    pub retry: RetrySchedule,
    /// `TIDINGS_DELIVERY_TIMEOUT_SECS`: how long an endpoint has to answer (default 15).
    pub delivery_timeout: Duration,
    /// `TIDINGS_RECORD_TTL_DAYS`: how long event and delivery records are kept (default 30).
    pub record_ttl: Duration,
    /// `TIDINGS_SECRET_ROTATION_OVERLAP_SECS`: how long a rotated-out secret keeps signing
    /// (default 24 h).
    pub rotation_overlap: Duration,
    /// `TIDINGS_AUTO_DISABLE_AFTER_SECS`: a subscription whose every attempt has failed for
    /// this long is deactivated (default 5 days).
    pub auto_disable_after: Duration,
    /// Production refuses non-public endpoints; the local runner allows loopback.
    pub egress: EgressPolicy,
    /// `TIDINGS_PUBLIC_URL`: where the API is reached (the template sets the HTTP API's URL;
    /// the local runner its own address). Its host is the default `Saleor-Domain`.
    pub public_url: Option<url::Url>,
    /// Where metric lines go: stdout on Lambda (`AWS_LAMBDA_FUNCTION_NAME` set, which also
    /// names the `Function` dimension), a debug log line elsewhere.
    /// `TIDINGS_METRICS_TENANT_DIMENSION=true` adds the opt-in `Tenant` dimension.
    pub metrics: Metrics,
    /// `TIDINGS_LOCAL_CONCURRENCY`: how many batches the local runner's dispatcher handles at
    /// once (default 8); on AWS the event source mapping's maximum concurrency plays this role.
    pub local_concurrency: usize,
    /// `TIDINGS_DELIVERY_FAILING_AFTER`: after this many failed attempts in a row a delivery
    /// sends `delivery.failing`, once (default 4).
    pub failing_after: u32,
    /// `TIDINGS_LOCAL_RETENTION_SECS`: how long the embedded backend keeps event and
    /// delivery records (default 1 h), so a long-running development instance stays bounded.
    pub local_retention: Duration,
    /// `TIDINGS_SUBSCRIPTION_CACHE_SECS`: how long a dispatcher uses a subscription (and its
    /// tenant's settings) it read before reading it again (default 0: every delivery reads
    /// it; the template sets 30 for the dispatcher function). It bounds how long a change
    /// made through the API (deletion, deactivation, a new URL) takes to reach every
    /// dispatcher; changes a dispatcher makes itself apply to its own cache at once.
    pub subscription_cache: Duration,
    /// `TIDINGS_CIRCUIT_OPEN_AFTER` (default 5; 0 turns circuits off) and
    /// `TIDINGS_CIRCUIT_COOLDOWN_SECS` (default 5): when a dispatcher stops sending to an
    /// endpoint that keeps failing, and for how long at first (see `domain::circuit`).
    pub circuit: CircuitPolicy,
    /// `TIDINGS_TLS_ROOTS`: which certificate authorities the delivery client (and the AWS
    /// SDK's, see `tidings_aws::sdk::load`) trusts: `bundled` (default) or `system`.
    pub trust_roots: TrustRoots,
}

/// The AWS resources, named by the template: `TIDINGS_TABLE`, `TIDINGS_DELIVERY_QUEUE_URL`,
/// `TIDINGS_DEAD_LETTER_QUEUE_URL`, `TIDINGS_KMS_KEY_ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsResources {
    pub table: String,
    pub delivery_queue_url: String,
    pub dead_letter_queue_url: String,
    /// The KMS key that encrypts the data keys sealing secrets in the table (its ARN, id or
    /// alias). Required: nothing secret is ever written in the clear.
    pub kms_key_id: String,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{name} is required")]
    Missing { name: &'static str },
    #[error("{name}: {message}")]
    Invalid { name: &'static str, message: String },
}

/// Events larger than this are refused with 413, which keeps every queue message under
/// SQS's limit with room for the delivery metadata.
pub const MAX_EVENT_BYTES: usize = 240 * 1024;

impl Default for Config {
    fn default() -> Self {
        Self {
            retry: RetrySchedule::default(),
            delivery_timeout: Duration::from_secs(15),
            record_ttl: Duration::from_secs(30 * 24 * 3600),
            rotation_overlap: Duration::from_secs(24 * 3600),
            auto_disable_after: Duration::from_secs(5 * 24 * 3600),
            egress: EgressPolicy::PublicOnly,
            public_url: None,
            metrics: Metrics::default(),
            local_concurrency: 8,
            failing_after: 4,
            local_retention: Duration::from_secs(3600),
            subscription_cache: Duration::ZERO,
            circuit: CircuitPolicy::default(),
            trust_roots: TrustRoots::Bundled,
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(s) = lookup("TIDINGS_RETRY_SCHEDULE") {
            config.retry = s
                .parse()
                .map_err(
                    |e: crate::domain::retry::ScheduleError| ConfigError::Invalid {
                        name: "TIDINGS_RETRY_SCHEDULE",
                        message: e.to_string(),
                    },
                )?;
        }
        if let Some(secs) = positive(&lookup, "TIDINGS_DELIVERY_TIMEOUT_SECS")? {
            config.delivery_timeout = Duration::from_secs(secs);
        }
        if let Some(days) = positive(&lookup, "TIDINGS_RECORD_TTL_DAYS")? {
            config.record_ttl = Duration::from_secs(days * 24 * 3600);
        }
        if let Some(secs) = positive(&lookup, "TIDINGS_AUTO_DISABLE_AFTER_SECS")? {
            config.auto_disable_after = Duration::from_secs(secs);
        }
        if let Some(secs) = positive(&lookup, "TIDINGS_SECRET_ROTATION_OVERLAP_SECS")? {
            config.rotation_overlap = Duration::from_secs(secs);
        }
        if let Some(name) = lookup("AWS_LAMBDA_FUNCTION_NAME").filter(|n| !n.is_empty()) {
            config.metrics = Metrics::lambda(name);
        }
        if let Some(on) = boolean(&lookup, "TIDINGS_METRICS_TENANT_DIMENSION")? {
            config.metrics = config.metrics.with_tenant_dimension(on);
        }
        if let Some(n) = positive(&lookup, "TIDINGS_DELIVERY_FAILING_AFTER")? {
            config.failing_after = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(n) = positive(&lookup, "TIDINGS_LOCAL_CONCURRENCY")? {
            config.local_concurrency = usize::try_from(n).unwrap_or(usize::MAX).min(256);
        }
        if let Some(secs) = positive(&lookup, "TIDINGS_LOCAL_RETENTION_SECS")? {
            config.local_retention = Duration::from_secs(secs);
        }
        if let Some(secs) = at_most(&lookup, "TIDINGS_SUBSCRIPTION_CACHE_SECS", 3600, "seconds")? {
            config.subscription_cache = Duration::from_secs(secs);
        }
        if let Some(n) = at_most(&lookup, "TIDINGS_CIRCUIT_OPEN_AFTER", 1000, "attempts")? {
            config.circuit.open_after = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(secs) = positive(&lookup, "TIDINGS_CIRCUIT_COOLDOWN_SECS")? {
            config.circuit.cooldown = Duration::from_secs(secs.min(3600));
        }
        config.trust_roots = TrustRoots::parse(lookup(crate::tls::ENV).as_deref())?;
        if let Some(url) = lookup("TIDINGS_PUBLIC_URL").filter(|u| !u.is_empty()) {
            let parsed = url::Url::parse(&url)
                .ok()
                .filter(|u| u.host_str().is_some())
                .ok_or_else(|| ConfigError::Invalid {
                    name: "TIDINGS_PUBLIC_URL",
                    message: format!("'{url}' is not an absolute URL"),
                })?;
            config.public_url = Some(parsed);
        }
        Ok(config)
    }

    /// Where Saleor apps are told the API is (`Saleor-Api-Url`): the API's origin and
    /// `/graphql/`, the path Saleor's API has, so that app-sdk finds the JWKS at the origin.
    pub fn saleor_api_url(&self) -> String {
        let origin = self
            .public_url
            .as_ref()
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|| "https://localhost".to_owned());
        format!("{origin}/graphql/")
    }

    /// The API's own domain (host and port, if any), as `Saleor-Domain` carries it.
    pub fn public_domain(&self) -> String {
        self.public_url
            .as_ref()
            .and_then(|u| {
                let host = u.host_str()?;
                Some(match u.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host.to_owned(),
                })
            })
            .unwrap_or_else(|| "localhost".to_owned())
    }
}

impl AwsResources {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing { name })
        };
        Ok(Self {
            table: required("TIDINGS_TABLE")?,
            delivery_queue_url: required("TIDINGS_DELIVERY_QUEUE_URL")?,
            dead_letter_queue_url: required("TIDINGS_DEAD_LETTER_QUEUE_URL")?,
            kms_key_id: required("TIDINGS_KMS_KEY_ID")?,
        })
    }
}

fn positive(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<u64>, ConfigError> {
    lookup(name)
        .map(|v| match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError::Invalid {
                name,
                message: format!("'{v}' is not a positive whole number"),
            }),
        })
        .transpose()
}

/// A whole number from 0 to `max` (of `unit`, for the message), when it is set.
fn at_most(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    max: u64,
    unit: &str,
) -> Result<Option<u64>, ConfigError> {
    lookup(name)
        .map(|v| match v.trim().parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(ConfigError::Invalid {
                name,
                message: format!("'{v}' is not a whole number of {unit} from 0 to {max}"),
            }),
        })
        .transpose()
}

fn boolean(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<bool>, ConfigError> {
    lookup(name)
        .filter(|v| !v.trim().is_empty())
        .map(|v| match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(ConfigError::Invalid {
                name,
                message: format!("'{v}' is not true or false"),
            }),
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn circuit_settings() {
        let c = Config::from_lookup(env(&[])).unwrap();
        assert_eq!(c.circuit, CircuitPolicy::default());
        let c = Config::from_lookup(env(&[
            ("TIDINGS_CIRCUIT_OPEN_AFTER", "0"),
            ("TIDINGS_CIRCUIT_COOLDOWN_SECS", "30"),
        ]))
        .unwrap();
        assert!(!c.circuit.enabled());
        assert_eq!(c.circuit.cooldown, Duration::from_secs(30));
        for bad in ["-1", "many", "1001"] {
            let err = Config::from_lookup(env(&[("TIDINGS_CIRCUIT_OPEN_AFTER", bad)])).unwrap_err();
            assert!(
                err.to_string().starts_with("TIDINGS_CIRCUIT_OPEN_AFTER: "),
                "{err}"
            );
        }
        let err = Config::from_lookup(env(&[("TIDINGS_CIRCUIT_COOLDOWN_SECS", "0")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("TIDINGS_CIRCUIT_COOLDOWN_SECS: "),
            "{err}"
        );
    }

    #[test]
    fn defaults_and_overrides() {
        let c = Config::from_lookup(env(&[])).unwrap();
        assert_eq!(c.retry.max_attempts(), 8);
        assert_eq!(c.delivery_timeout, Duration::from_secs(15));
        let c = Config::from_lookup(env(&[
            ("TIDINGS_RETRY_SCHEDULE", "1s,2s"),
            ("TIDINGS_DELIVERY_TIMEOUT_SECS", "5"),
            ("TIDINGS_RECORD_TTL_DAYS", "7"),
        ]))
        .unwrap();
        assert_eq!(c.retry.max_attempts(), 3);
        assert_eq!(c.delivery_timeout, Duration::from_secs(5));
        assert_eq!(c.record_ttl, Duration::from_secs(7 * 86400));
        assert!(!c.metrics.tenant_dimension());
        assert_eq!(c.metrics.function("dispatcher"), "dispatcher");
        let c = Config::from_lookup(env(&[
            ("TIDINGS_METRICS_TENANT_DIMENSION", "true"),
            ("AWS_LAMBDA_FUNCTION_NAME", "tidings-DispatcherFunction-1"),
        ]))
        .unwrap();
        assert!(c.metrics.tenant_dimension());
        assert_eq!(
            c.metrics.function("dispatcher"),
            "tidings-DispatcherFunction-1"
        );
        let err =
            Config::from_lookup(env(&[("TIDINGS_METRICS_TENANT_DIMENSION", "maybe")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("TIDINGS_METRICS_TENANT_DIMENSION"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = Config::from_lookup(env(&[("TIDINGS_DELIVERY_TIMEOUT_SECS", "0")])).unwrap_err();
        assert!(
            err.to_string().starts_with("TIDINGS_DELIVERY_TIMEOUT_SECS"),
            "{err}"
        );
        let err = Config::from_lookup(env(&[("TIDINGS_RETRY_SCHEDULE", "soon")])).unwrap_err();
        assert!(
            err.to_string().starts_with("TIDINGS_RETRY_SCHEDULE"),
            "{err}"
        );
        let err = AwsResources::from_lookup(env(&[("TIDINGS_TABLE", "t")])).unwrap_err();
        assert_eq!(err.to_string(), "TIDINGS_DELIVERY_QUEUE_URL is required");
        let err = AwsResources::from_lookup(env(&[
            ("TIDINGS_TABLE", "t"),
            ("TIDINGS_DELIVERY_QUEUE_URL", "q"),
            ("TIDINGS_DEAD_LETTER_QUEUE_URL", "d"),
        ]))
        .unwrap_err();
        assert_eq!(err.to_string(), "TIDINGS_KMS_KEY_ID is required");
    }
}
