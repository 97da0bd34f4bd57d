//! Which certificate authorities the HTTPS clients trust: the AWS SDK's (DynamoDB, SQS, KMS)
//! and the delivery client's.
//!
//! By default both trust Mozilla's root program as compiled into the binary
//! ([`webpki_roots`], the rustls project's crate, as trust anchors already parsed): nothing
//! is read from disk or parsed at start, and one list serves both clients. Reading the
//! system's store instead cost a Lambda cold start about as much as all the rest of init
//! (the SDK and the delivery client each read and parsed every certificate file; README,
//! "Lambda cold start and bootstrap size"). The trade-off: the list is as fresh as the
//! build, and a private CA (a webhook receiver on a corporate CA, a TLS-inspecting proxy) is
//! not in it; `TIDINGS_TLS_ROOTS=system` trusts the operating system's store instead, as
//! `reqwest` does on its own.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls_platform_verifier::BuilderVerifierExt as _;

use crate::config::ConfigError;

/// The setting's name.
pub const ENV: &str = "TIDINGS_TLS_ROOTS";

/// Where trusted root certificates come from (`TIDINGS_TLS_ROOTS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrustRoots {
    /// `bundled` (the default): Mozilla's roots, compiled in.
    #[default]
    Bundled,
    /// `system`: the operating system's store, read at start (`SSL_CERT_FILE` and
    /// `SSL_CERT_DIR` apply), for private CAs.
    System,
}

impl TrustRoots {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::parse(std::env::var(ENV).ok().as_deref())
    }

    pub fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        match value.map(str::trim) {
            None | Some("") => Ok(Self::Bundled),
            Some(v) if v.eq_ignore_ascii_case("bundled") => Ok(Self::Bundled),
            Some(v) if v.eq_ignore_ascii_case("system") => Ok(Self::System),
            Some(v) => Err(ConfigError::Invalid {
                name: ENV,
                message: format!("'{v}' is neither bundled nor system"),
            }),
        }
    }
}

/// The HTTPS clients' TLS settings (the delivery client's,
/// [`crate::services::dispatch::DeliveryClient`], and the AWS SDK's,
/// `tidings_aws::aws_http`): rustls with aws-lc-rs, TLS 1.2 and 1.3, trusting `roots`,
/// and ALPN offering HTTP/1.1, the one version the clients speak.
pub fn rustls_config(roots: TrustRoots) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?;
    let mut config = match roots {
        TrustRoots::Bundled => {
            // Trust anchors compiled in as parsed: a copy of references, not a parse of each
            // certificate at every cold start.
            let store = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            builder.with_root_certificates(store)
        }
        // What reqwest does on its own: the platform's verifier (on Linux, the system's
        // store, `SSL_CERT_FILE` and `SSL_CERT_DIR` applying).
        TrustRoots::System => builder.with_platform_verifier()?,
    }
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Why an HTTPS client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("TLS settings: {0}")]
    Tls(#[from] rustls::Error),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// `builder` trusting `roots` ([`rustls_config`]).
pub fn trusting(
    builder: reqwest::ClientBuilder,
    roots: TrustRoots,
) -> Result<reqwest::ClientBuilder, ClientError> {
    Ok(builder.tls_backend_preconfigured(rustls_config(roots)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_is_bundled_unless_it_says_system() {
        assert_eq!(TrustRoots::parse(None).unwrap(), TrustRoots::Bundled);
        assert_eq!(TrustRoots::parse(Some("")).unwrap(), TrustRoots::Bundled);
        assert_eq!(
            TrustRoots::parse(Some("Bundled")).unwrap(),
            TrustRoots::Bundled
        );
        assert_eq!(
            TrustRoots::parse(Some(" system ")).unwrap(),
            TrustRoots::System
        );
        assert!(TrustRoots::parse(Some("native")).is_err());

        let config = |v: &'static str| crate::Config::from_lookup(|k| (k == ENV).then(|| v.into()));
        assert_eq!(config("system").unwrap().trust_roots, TrustRoots::System);
        assert!(config("native").is_err());
        assert_eq!(crate::Config::default().trust_roots, TrustRoots::Bundled);
    }

    #[test]
    fn the_system_config_builds_with_the_platforms_verifier_over_http_1_1() {
        let config = rustls_config(TrustRoots::System).unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
    }

    #[test]
    fn the_bundled_config_trusts_mozillas_roots_over_http_1_1() {
        let config = rustls_config(TrustRoots::Bundled).unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        // Mozilla's program, not an empty or test list.
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
    }
}
