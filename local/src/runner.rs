//! The local runner: the ingest and api routers on one TCP port and a dispatcher loop, on
//! the embedded backend (no AWS, no Docker) or, on request, on SQS and DynamoDB.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use tidings::Backend;
use tidings::adapters::Embedded;
use tidings::config::Config;
use tidings::domain::{ApiKey, Role, TenantId};
use tidings::egress::EgressPolicy;
use tidings::http::{AppState, router};
use tidings::services::dispatch::Dispatcher;
use tidings::services::{ServiceError, api_keys};

use crate::poller::{self, Pollers};

/// The tenant the development key belongs to.
pub const DEV_TENANT: &str = "dev";
/// The deliveries queue's visibility timeout in `template.yaml` (6× the dispatcher timeout).
pub const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(360);

pub enum Storage {
    /// Everything in this process.
    Embedded,
    /// SQS and DynamoDB, as `tidings_aws::backend_from_env` or `tidings_aws::backend` built it.
    Aws(Backend),
}

pub struct Options {
    pub addr: SocketAddr,
    pub storage: Storage,
    /// The development key to accept; a random one when `None`.
    pub dev_api_key: Option<String>,
    pub config: Config,
}

pub struct Running {
    pub addr: SocketAddr,
    pub api_key: String,
    pub backend: Backend,
    /// The in-memory adapters, when running embedded (tests inject failures through them).
    pub embedded: Option<Embedded>,
    server: JoinHandle<()>,
    /// Stopped when dropped.
    _pollers: Pollers,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot store the development API key: {0}")]
    Store(#[from] ServiceError),
    #[error("cannot build the delivery client: {0}")]
    Client(#[from] tidings::services::dispatch::ClientError),
}

/// Starts the stack and returns once it is listening.
pub async fn start(options: Options) -> Result<Running, StartError> {
    // Development mode: http:// endpoints on loopback are allowed, and nothing else private.
    let mut config = Config {
        egress: EgressPolicy::AllowLoopback,
        ..options.config
    };
    let (backend, embedded) = match options.storage {
        Storage::Embedded => {
            // Records live in this process's memory: keep them only for the local retention.
            config.record_ttl = config.record_ttl.min(config.local_retention);
            let embedded = Embedded::new(VISIBILITY_TIMEOUT, config.retry.max_attempts());
            (embedded.backend(), Some(embedded))
        }
        Storage::Aws(backend) => (backend, None),
    };

    let api_key = options
        .dev_api_key
        .unwrap_or_else(|| tidings::ids::random_token(ApiKey::PREFIX));
    let tenant = TenantId::parse(DEV_TENANT).expect("the development tenant id is valid");
    let key = ApiKey::from_plaintext(&api_key, tenant, Role::Admin, Some("development".into()));
    api_keys::install(&backend, &key).await?;

    let listener = TcpListener::bind(options.addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: options.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: options.addr,
        source,
    })?;
    if config.public_url.is_none() {
        config.public_url = url::Url::parse(&format!("http://{addr}")).ok();
    }
    let dispatcher = Arc::new(Dispatcher::new(backend.clone(), config.clone())?);
    let concurrency = config.local_concurrency;
    let app = router(AppState::new(backend.clone(), config));
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    // Several receive loops, as Lambda runs several dispatchers, and a slot per delivery:
    // a slow endpoint holds its own deliveries' slots, not the others'.
    let pollers = poller::spawn(backend.queue.clone(), dispatcher, concurrency);
    Ok(Running {
        addr,
        api_key,
        backend,
        embedded,
        server,
        _pollers: pollers,
    })
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the server stops (it does not, unless it fails).
    pub async fn wait(&mut self) {
        let _ = (&mut self.server).await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
    }
}
