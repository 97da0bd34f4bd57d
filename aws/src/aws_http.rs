//! The AWS SDK's HTTP client: `reqwest`, the HTTP stack the delivery client already is, over
//! HTTP/1.1, trusting the roots `TIDINGS_TLS_ROOTS` names ([`tidings::tls`]).
//!
//! Not the SDK's own client (`aws-smithy-http-client`): that one always compiles HTTP/2 in,
//! which DynamoDB, SQS and KMS do not need, and with it a second HTTP stack in every function
//! (README, "Lambda cold start and bootstrap size").

use std::time::Duration;

// The `http` crate, as axum re-exports it: the types the SDK converts to and from.
use axum::http;

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;

use tidings::tls::{self, ClientError, TrustRoots};

/// How long a connection may take to open: the SDK's own default (`BehaviorVersion`
/// 2024-03-28 and later). It is the pooled client's, so a per-client connect timeout in the
/// SDK's settings would not apply; Tidings sets none (read timeouts do apply, per attempt).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);

/// One pooled `reqwest` client for every AWS service client built from the same SDK config.
#[derive(Debug, Clone)]
pub struct SdkHttpClient {
    client: reqwest::Client,
}

impl SdkHttpClient {
    pub fn new(roots: TrustRoots) -> Result<Self, ClientError> {
        let builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // The SDK signs each request for its endpoint; a redirect would go unsigned.
            .redirect(reqwest::redirect::Policy::none());
        Ok(Self {
            client: tls::trusting(builder, roots)?.build()?,
        })
    }
}

impl HttpClient for SdkHttpClient {
    // Called for each attempt, so it only hands out the pooled client with the attempt's
    // read timeout.
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            client: self.client.clone(),
            read_timeout: settings.read_timeout(),
        })
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("reqwest", None))
    }
}

#[derive(Debug)]
struct Connector {
    client: reqwest::Client,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move { exchange(&client, request, read_timeout).await })
    }
}

async fn exchange(
    client: &reqwest::Client,
    request: HttpRequest,
    read_timeout: Option<Duration>,
) -> Result<HttpResponse, ConnectorError> {
    let request = request
        .try_into_http1x()
        .map_err(|e| ConnectorError::user(e.into()))?;
    let (parts, body) = request.into_parts();
    // DynamoDB, SQS and KMS requests are built in memory; none streams.
    let body = body
        .bytes()
        .ok_or_else(|| ConnectorError::user("a streaming request body is not supported".into()))?
        .to_vec();
    let mut outgoing = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body);
    if let Some(timeout) = read_timeout {
        outgoing = outgoing.timeout(timeout);
    }
    let response = outgoing.send().await.map_err(connector_error)?;
    let mut answer = http::Response::builder().status(response.status());
    if let Some(headers) = answer.headers_mut() {
        *headers = response.headers().clone();
    }
    let bytes = response.bytes().await.map_err(connector_error)?;
    let answer = answer
        .body(SdkBody::from(bytes))
        .map_err(|e| ConnectorError::other(e.into(), None))?;
    HttpResponse::try_from(answer).map_err(|e| ConnectorError::other(e.into(), None))
}

/// Sorts a failed exchange the way the SDK's retry strategy reads it: timeouts and I/O
/// failures (refused, reset, unreadable answer) are transient and retried.
fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() || error.is_decode() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), Some(ErrorKind::TransientError))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn connector(read_timeout: Option<Duration>) -> SharedHttpConnector {
        let mut settings = HttpConnectorSettings::builder();
        if let Some(timeout) = read_timeout {
            settings = settings.read_timeout(timeout);
        }
        let components = RuntimeComponentsBuilder::for_tests().build().unwrap();
        SdkHttpClient::new(TrustRoots::Bundled)
            .unwrap()
            .http_connector(&settings.build(), &components)
    }

    fn request(url: &str) -> HttpRequest {
        let request = http::Request::post(url)
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .header("content-length", "2")
            .body(SdkBody::from("{}"))
            .unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    #[tokio::test]
    async fn a_request_and_its_answer_pass_through_unchanged() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !seen.ends_with(b"\r\n\r\n{}") {
                let n = socket.read(&mut buf).await.unwrap();
                seen.extend_from_slice(&buf[..n]);
            }
            let answer = "HTTP/1.1 400 Bad Request\r\nx-amzn-requestid: r1\r\n\
                          content-length: 13\r\n\r\n{\"oops\":true}";
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(seen).unwrap()
        });

        let response = connector(None).call(request(&url)).await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(response.headers().get("x-amzn-requestid"), Some("r1"));
        assert_eq!(response.body().bytes(), Some(&b"{\"oops\":true}"[..]));
        let seen = server.await.unwrap().to_ascii_lowercase();
        assert!(seen.starts_with("post / http/1.1\r\n"), "{seen}");
        assert!(seen.contains("x-amz-target: dynamodb_20120810.getitem\r\n"));
        // The SDK's own length, not a second one.
        assert_eq!(seen.matches("content-length").count(), 1, "{seen}");
    }

    #[tokio::test]
    async fn a_refused_connection_and_a_silent_endpoint_are_transient() {
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let error = connector(None).call(request(&url)).await.unwrap_err();
        assert!(error.is_io(), "{error:?}");

        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", silent.local_addr().unwrap());
        let error = connector(Some(Duration::from_millis(200)))
            .call(request(&url))
            .await
            .unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
    }
}
