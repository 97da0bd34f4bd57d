//! Driving the local runner through its HTTP port, on either backend.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use tidings::config::Config;
use tidings::domain::{ApiKey, Role, TenantId};
use tidings_local::{self as local, Options, Running, Storage};

use super::emulator;

/// The development (admin) key the scenarios' runners accept.
pub const ADMIN_KEY: &str = "tdk_scenario_admin";

/// Starts the local runner on the embedded backend, or on moto when `on_emulator`; `None`
/// when the emulator is asked for but not configured (see [`emulator::sdk`]).
pub async fn start(config: Config, on_emulator: bool) -> Option<Running> {
    let storage = if on_emulator {
        let sdk = emulator::sdk().await?;
        let resources = emulator::provision(&sdk).await;
        Storage::Aws {
            sdk: Box::new(sdk),
            resources,
        }
    } else {
        Storage::Embedded
    };
    let running = local::start(Options {
        addr: "127.0.0.1:0".parse().unwrap(),
        storage,
        dev_api_key: Some(ADMIN_KEY.into()),
        config,
    })
    .await
    .expect("the local runner starts");
    Some(running)
}

/// Runs `scenario(running)` on the embedded backend and on moto, as two tests; the file
/// defines `fn config() -> Config` for its runners.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn embedded() {
                let running = support::http::start(super::config(), false).await.unwrap();
                super::$scenario(running).await;
            }

            #[tokio::test]
            async fn aws() {
                if let Some(running) = support::http::start(super::config(), true).await {
                    super::$scenario(running).await;
                }
            }
        }
    )*};
}

pub struct Client {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(running: &Running, key: &str) -> Self {
        Self {
            base: running.base_url(),
            key: key.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// The runner's admin.
    pub fn admin(running: &Running) -> Self {
        Self::new(running, &running.api_key)
    }

    /// An admin of another tenant, its key stored directly.
    pub async fn of_tenant(running: &Running, tenant: &str, role: Role) -> Self {
        let (key, plaintext) = ApiKey::generate(TenantId::parse(tenant).unwrap(), role, None);
        running.backend.api_keys.put_api_key(&key).await.unwrap();
        Self::new(running, &plaintext)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Calls, and asserts the status.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let (got, body) = self.call(method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        body
    }

    /// Polls `GET path` until `done` holds for its answer, or `wait` passes.
    pub async fn until(&self, path: &str, wait: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + wait;
        loop {
            let body = self.ok(Method::GET, path, None, 200).await;
            if done(&body) || Instant::now() > deadline {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
