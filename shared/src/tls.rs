//! Which certificate authorities the HTTPS clients trust: the AWS SDK's (DynamoDB, SQS, KMS)
//! and the delivery client's.
//!
//! By default both trust Mozilla's root program as compiled into the binary
//! ([`webpki_root_certs`], the rustls project's crate): nothing is read from disk at start,
//! and one list serves both clients. Reading the system's store instead cost a Lambda cold
//! start about as much as all the rest of init (the SDK and the delivery client each read
//! and parsed every certificate file; README, "Lambda cold start and bootstrap size"). The
//! trade-off: the list is as fresh as the build, and a private CA (a webhook receiver on a
//! corporate CA, a TLS-inspecting proxy) is not in it; `TIDINGS_TLS_ROOTS=system` trusts the
//! operating system's store instead, as the SDK and `reqwest` do on their own.

use std::sync::Arc;

use aws_config::ConfigLoader;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use base64::Engine as _;
use rustls::RootCertStore;

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

/// The delivery client's TLS settings for [`TrustRoots::Bundled`]: rustls with aws-lc-rs,
/// TLS 1.2 and 1.3, the bundled roots, and ALPN offering HTTP/2 then HTTP/1.1 (what
/// `reqwest` offers when it builds the configuration itself).
pub fn bundled_rustls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let mut roots = RootCertStore::empty();
    // Every bundled certificate parses (a test below checks it, which matters more for the
    // SDK: it panics on one that does not); one that did not would only be missing here.
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Gives the AWS SDK an HTTPS client trusting `roots`. For [`TrustRoots::Bundled`], the
/// SDK's own client (rustls with aws-lc-rs, as its default) with the bundled roots only,
/// wrapped in [`LazyConnector`]. Its TLS context takes PEM, so the DER certificates are
/// encoded once here; the SDK decodes them when it builds a connector. For
/// [`TrustRoots::System`], the SDK's default client.
pub fn sdk_http_client(
    loader: ConfigLoader,
    roots: TrustRoots,
) -> Result<ConfigLoader, aws_smithy_http_client::HttpClientError> {
    if roots == TrustRoots::System {
        return Ok(loader);
    }
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(bundled_pem()))
        .build()?;
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https();
    Ok(loader.http_client(LazyConnector(client)))
}

/// The SDK's HTTPS client without its warm-up. When a service client (DynamoDB, SQS, KMS,
/// and the credential providers' own) is built, the SDK's client builds a connector and
/// throws it away, so that reading the system's certificates happens at start rather than
/// on the first request (that read is cached; the connector is not). With the bundled roots
/// there is nothing to read, and each throw-away connector decoded and parsed every root
/// certificate again, once per service client, before the first request. The connector the
/// requests use is built, once per set of timeout settings, and cached, by the wrapped
/// client on the first request, as before.
#[derive(Debug)]
struct LazyConnector(SharedHttpClient);

impl HttpClient for LazyConnector {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        _: &RuntimeComponentsBuilder,
        _: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The bundled roots as one PEM document.
fn bundled_pem() -> Vec<u8> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut pem = Vec::with_capacity(300 * 1024);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        let encoded = engine.encode(cert.as_ref());
        for line in encoded.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

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
    fn the_pem_document_holds_every_bundled_root() {
        let decoded: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bundled_pem())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(decoded.as_slice(), webpki_root_certs::TLS_SERVER_ROOT_CERTS);
        assert!(decoded.len() > 100);
    }

    #[test]
    fn the_delivery_config_trusts_every_bundled_root() {
        let config = bundled_rustls_config().unwrap();
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots
            .add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
        assert_eq!(ignored, 0);
        assert_eq!(added, webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
    }
}
