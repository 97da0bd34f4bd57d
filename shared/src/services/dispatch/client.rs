//! The delivery HTTP client: built once, pooled, bounded in time, never following redirects,
//! and resolving every host through the egress policy.
//!
//! It is hyper's pooled HTTP/1.1 client (`hyper-util`'s, the one `reqwest` is built on)
//! used directly: `reqwest`'s layers over it (a redirect policy that parses the URL again
//! for every request even when it follows none, a service stack cloned per request, its
//! own timeout and body wrappers) were about a quarter of the CPU of a POST and 30 of its
//! 50 allocations, work a delivery needs none of (docs/performance-history.md, "The
//! delivery client: hyper's directly").

use std::error::Error as _;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, HeaderMap, HeaderValue, USER_AGENT as USER_AGENT_HEADER};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use url::Url;

use crate::config::Config;
use crate::egress::GuardedResolver;
use crate::tls;
pub use crate::tls::ClientError;

/// What every delivery's `user-agent` says.
pub const USER_AGENT: &str = concat!("Tidings/", env!("CARGO_PKG_VERSION"));

/// How long an idle connection to an endpoint is kept for the next delivery.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// The client every delivery goes through; every name it connects to is resolved by the
/// [`GuardedResolver`] it was built with, which applies the egress policy. It trusts the
/// roots `config.trust_roots` names ([`tls::rustls_config`]).
pub struct DeliveryClient {
    client: Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>,
    /// The whole exchange: connect, request, answer and the part of its body that is read.
    timeout: Duration,
}

/// What an endpoint answered.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The first bytes of the body, as text; the rest is not read.
    pub body_prefix: Option<String>,
}

/// Why a POST got no answer, in words an operator can act on (the attempt's `error`).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    /// No connection: refused, unreachable, a name the egress policy refused, TLS.
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Request(String),
}

impl DeliveryClient {
    pub fn new(config: &Config, resolver: GuardedResolver) -> Result<Self, ClientError> {
        Ok(Self::with_tls(
            config,
            resolver,
            tls::rustls_config(config.trust_roots)?,
        ))
    }

    /// As [`DeliveryClient::new`], with the TLS settings given (tests trust their own CA).
    fn with_tls(config: &Config, resolver: GuardedResolver, tls: rustls::ClientConfig) -> Self {
        let mut http = HttpConnector::new_with_resolver(resolver);
        // `https` is the TLS layer's; `http` (loopback in development) is checked by the
        // egress policy before any request.
        http.enforce_http(false);
        // As reqwest: a request goes out whole at once, not held back for more to send.
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.delivery_timeout.min(Duration::from_secs(5))));
        // Built from the config as it is (not through hyper-rustls's builder, which
        // insists on setting ALPN itself): HTTP/1.1 offered, as the one version spoken.
        let https = HttpsConnector::from((http, tls));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .build(https);
        Self {
            client,
            timeout: config.delivery_timeout,
        }
    }

    /// POSTs `body` with `headers` (plus `user-agent` and `accept`) to `url`, and reads at
    /// most `body_limit` bytes of the answer's body; redirects are answers, not followed.
    pub async fn post(
        &self,
        url: &Url,
        mut headers: HeaderMap,
        body: Vec<u8>,
        body_limit: usize,
    ) -> Result<Answer, SendError> {
        // A fragment is the client's own: never sent.
        let uri: Uri = url[..url::Position::AfterQuery]
            .parse()
            .map_err(|e: http::uri::InvalidUri| SendError::Request(e.to_string()))?;
        add_own_headers(&mut headers);
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        tokio::time::timeout(self.timeout, self.exchange(request, body_limit))
            .await
            .unwrap_or(Err(SendError::TimedOut(self.timeout)))
    }

    async fn exchange(
        &self,
        request: Request<Full<Bytes>>,
        body_limit: usize,
    ) -> Result<Answer, SendError> {
        let response = self.client.request(request).await.map_err(|e| {
            let cause = deepest_cause(&e);
            if e.is_connect() {
                SendError::Connect(cause)
            } else {
                SendError::Request(cause)
            }
        })?;
        let (parts, mut body) = response.into_parts();
        let mut bytes = Vec::new();
        // What cannot be read of the body is left unread: the status is the answer.
        while bytes.len() < body_limit {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        bytes.extend_from_slice(data);
                    }
                }
                _ => break,
            }
        }
        bytes.truncate(body_limit);
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            // Text as it came when it is UTF-8 (no copy), else with replacement characters.
            body_prefix: (!bytes.is_empty()).then(|| {
                String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
            }),
        })
    }
}

/// The headers the client adds to a delivery's own: `user-agent`, and `accept: */*` unless
/// it has one (as `reqwest` sent them).
pub fn add_own_headers(headers: &mut HeaderMap) {
    headers.insert(USER_AGENT_HEADER, HeaderValue::from_static(USER_AGENT));
    headers
        .entry(ACCEPT)
        .or_insert(HeaderValue::from_static("*/*"));
}

/// The innermost error's words ("Connection refused (os error 111)", the egress policy's
/// refusal, the TLS alert), which say more than the layers around it.
fn deepest_cause(error: &hyper_util::client::legacy::Error) -> String {
    let mut cause = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    cause
}

/// A `Retry-After` header: seconds, or an HTTP date.
pub(super) fn retry_after(
    headers: &HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - now).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::EgressPolicy;
    use http::header::{CONTENT_TYPE, RETRY_AFTER};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// An HTTPS endpoint on 127.0.0.1 with a self-signed certificate for `localhost`: answers
    /// every request `201 thanks`, and hands each request's head and body to the test.
    async fn tls_endpoint() -> (
        u16,
        rustls::pki_types::CertificateDer<'static>,
        tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    ) {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen, requests) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                // A client that does not trust the certificate ends the handshake.
                let Ok(mut stream) = acceptor.accept(stream).await else {
                    continue;
                };
                let mut read = Vec::new();
                let mut buf = [0u8; 4096];
                let head_end = loop {
                    let n = stream.read(&mut buf).await.unwrap();
                    read.extend_from_slice(&buf[..n]);
                    if let Some(i) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8(read[..head_end].to_vec()).unwrap();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                while read.len() < head_end + length {
                    let n = stream.read(&mut buf).await.unwrap();
                    read.extend_from_slice(&buf[..n]);
                }
                seen.send((head, read[head_end..].to_vec())).unwrap();
                stream
                    .write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 6\r\n\r\nthanks")
                    .await
                    .unwrap();
            }
        });
        (port, cert.der().clone(), requests)
    }

    /// The answer's body is kept to the limit; text cut inside a character ends in a
    /// replacement character, not an error.
    #[tokio::test]
    async fn keeps_a_prefix_of_the_answer_even_cut_inside_a_character() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await.unwrap();
                let answer = "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nhéllo";
                stream.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let config = Config {
            egress: EgressPolicy::AllowLoopback,
            ..Config::default()
        };
        let client =
            DeliveryClient::new(&config, GuardedResolver::new(EgressPolicy::AllowLoopback))
                .unwrap();
        let url = Url::parse(&format!("http://127.0.0.1:{port}/hook")).unwrap();
        for (limit, kept) in [(100, "héllo"), (3, "hé"), (2, "h\u{FFFD}")] {
            let answer = client
                .post(&url, HeaderMap::new(), b"{}".to_vec(), limit)
                .await
                .unwrap();
            assert_eq!(answer.body_prefix.as_deref(), Some(kept), "limit {limit}");
        }
    }

    #[tokio::test]
    async fn posts_over_tls_to_an_endpoint_it_trusts_and_refuses_one_it_does_not() {
        let (port, cert, mut requests) = tls_endpoint().await;
        let config = Config {
            egress: EgressPolicy::AllowLoopback,
            ..Config::default()
        };
        let resolver = || GuardedResolver::new(EgressPolicy::AllowLoopback);
        let url = Url::parse(&format!("https://localhost:{port}/hook?shop=1#ours")).unwrap();
        let headers = || {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h
        };

        // Trusting the endpoint's certificate, as the bundled roots trust a public CA's.
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let trusting = DeliveryClient::with_tls(&config, resolver(), tls);
        let answer = trusting
            .post(&url, headers(), br#"{"id":"evt_1"}"#.to_vec(), 100)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::CREATED);
        assert_eq!(answer.body_prefix.as_deref(), Some("thanks"));
        let (head, body) = requests.recv().await.unwrap();
        assert!(head.starts_with("POST /hook?shop=1 HTTP/1.1\r\n"), "{head}");
        assert!(
            head.contains(&format!("\r\nhost: localhost:{port}\r\n")),
            "{head}"
        );
        assert!(
            head.contains(&format!("\r\nuser-agent: {USER_AGENT}\r\n")),
            "{head}"
        );
        assert!(
            head.contains("\r\ncontent-type: application/json\r\n"),
            "{head}"
        );
        assert_eq!(body, br#"{"id":"evt_1"}"#);

        // The bundled roots do not trust a self-signed certificate: no request is sent.
        let strict = DeliveryClient::new(&config, resolver()).unwrap();
        let error = strict
            .post(&url, headers(), b"{}".to_vec(), 100)
            .await
            .err()
            .unwrap();
        assert!(matches!(error, SendError::Connect(_)), "{error}");
        assert!(error.to_string().contains("certificate"), "{error}");
        assert!(requests.try_recv().is_err(), "nothing reached the endpoint");
    }

    #[tokio::test]
    async fn a_name_the_egress_policy_refuses_is_a_connection_failure_saying_why() {
        let client = DeliveryClient::new(
            &Config::default(),
            GuardedResolver::new(EgressPolicy::PublicOnly),
        )
        .unwrap();
        let url = Url::parse("https://localhost:9/hook").unwrap();
        let error = client
            .post(&url, HeaderMap::new(), Vec::new(), 100)
            .await
            .err()
            .unwrap();
        assert!(matches!(error, SendError::Connect(_)), "{error}");
        assert!(
            error.to_string().contains("which is not a public address"),
            "{error}"
        );
    }

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
