//! The one API client of the tests: over HTTP to a started local runner, or in process to
//! an axum router (the Lambda functions' routers), with the same calls either way.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, header};
use serde_json::Value;
use tidings::domain::{ApiKey, Role, TenantId};
use tidings_local::Running;
use tower::ServiceExt;

use super::wait::eventually;

#[derive(Clone)]
enum Target {
    Http { base: String, http: reqwest::Client },
    Router(axum::Router),
}

/// Calls the API, with a bearer key unless it has none.
#[derive(Clone)]
pub struct Client {
    target: Target,
    key: Option<String>,
}

/// An answer: status, content type, and the body as text and as JSON (`Null` when it is
/// empty or not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    pub body: Value,
}

impl Client {
    /// A client of a started runner, with this key.
    pub fn new(running: &Running, key: &str) -> Self {
        Self {
            target: Target::Http {
                base: running.base_url(),
                http: reqwest::Client::new(),
            },
            key: Some(key.to_owned()),
        }
    }

    /// The runner's admin (tenant `dev`).
    pub fn admin(running: &Running) -> Self {
        Self::new(running, &running.api_key)
    }

    /// An admin (or `role`) of another tenant, its key stored directly.
    pub async fn of_tenant(running: &Running, tenant: &str, role: Role) -> Self {
        let (key, plaintext) = ApiKey::generate(TenantId::parse(tenant).unwrap(), role, None);
        running.backend.api_keys.put_api_key(&key).await.unwrap();
        Self::new(running, &plaintext)
    }

    /// A client of a router, in process, with no key.
    pub fn router(router: axum::Router) -> Self {
        Self {
            target: Target::Router(router),
            key: None,
        }
    }

    /// The same target, with this key.
    pub fn with_key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    /// Sends a request as it is, adding the client's key unless it names an authorization.
    pub async fn send(&self, mut request: Request<Body>) -> Answer {
        if let Some(key) = &self.key
            && !request.headers().contains_key(header::AUTHORIZATION)
        {
            request.headers_mut().insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
            );
        }
        let (status, headers, bytes) = match &self.target {
            Target::Router(router) => {
                let response = router.clone().oneshot(request).await.unwrap();
                let (parts, body) = response.into_parts();
                let bytes = axum::body::to_bytes(body, 4 << 20).await.unwrap();
                (parts.status, parts.headers, bytes)
            }
            Target::Http { base, http } => {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 4 << 20).await.unwrap();
                let url = format!(
                    "{base}{}",
                    parts.uri.path_and_query().map_or("/", |p| p.as_str())
                );
                let response = http
                    .request(parts.method, url)
                    .headers(parts.headers)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let (status, headers) = (response.status(), response.headers().clone());
                (status, headers, response.bytes().await.unwrap())
            }
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Answer {
            status: status.as_u16(),
            content_type: headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// Sends an API Gateway request as `lambda_http` hands it to the router.
    pub async fn lambda(&self, request: lambda_http::Request) -> Answer {
        assert!(
            matches!(self.target, Target::Router(_)),
            "API Gateway requests go to a router"
        );
        self.send(request.map(Body::new)).await
    }

    /// `method path`, with a JSON body if any: the status and the JSON answer.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let request = Request::builder().method(method).uri(path);
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        let answer = self.send(request.unwrap()).await;
        (answer.status, answer.body)
    }

    /// Calls, and asserts the status.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let (got, body) = self.call(method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        body
    }

    /// Polls `GET path` until `done` holds for its answer, and returns it; fails, showing
    /// the last answer, when `wait` passes first, and at once on any status but `200`.
    pub async fn until(&self, path: &str, wait: Duration, done: impl Fn(&Value) -> bool) -> Value {
        self.poll(path, wait, done, false).await
    }

    /// As [`Client::until`], for something that may not exist yet: a `404` counts as not
    /// yet. A delivery has no record of its own until its first attempt (its event shows it
    /// as pending meanwhile).
    pub async fn until_found(
        &self,
        path: &str,
        wait: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        self.poll(path, wait, done, true).await
    }

    async fn poll(
        &self,
        path: &str,
        wait: Duration,
        done: impl Fn(&Value) -> bool,
        missing_is_not_yet: bool,
    ) -> Value {
        let what = format!("GET {path} to answer as expected");
        eventually(&what, wait, || async {
            let (status, body) = self.call(Method::GET, path, None).await;
            match status {
                200 if done(&body) => Ok(body),
                200 => Err(body.to_string()),
                404 if missing_is_not_yet => Err(format!("{status} {body}")),
                _ => panic!("GET {path}: {status} {body}"),
            }
        })
        .await
    }

    /// Subscribes `url` to `order.*` events, and returns the subscription's id.
    pub async fn subscribe_to_orders(&self, url: &str) -> String {
        let created = self
            .ok(
                Method::POST,
                "/v1/subscriptions",
                Some(serde_json::json!({"url": url, "events": ["order.*"]})),
                201,
            )
            .await;
        created["id"].as_str().unwrap().to_owned()
    }

    /// Sends subscription `id` a test event (`202`), and returns the answer.
    pub async fn send_test_event(&self, id: &str) -> Value {
        self.ok(
            Method::POST,
            &format!("/v1/subscriptions/{id}/test"),
            None,
            202,
        )
        .await
    }
}
