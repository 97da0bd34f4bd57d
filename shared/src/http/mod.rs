//! The HTTP API as axum routers. Lambda serves them through `lambda_http`; the local runner
//! serves the very same routers on a TCP port.

mod api_keys;
mod auth;
mod deliveries;
mod error;
mod event_types;
mod events;
mod filters;
mod jwks;
pub mod openapi;
mod operational;
mod problems;
mod subscriptions;
mod tenant;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use auth::Caller;
pub use error::{ApiError, Problem};

use crate::Backend;
use crate::config::{Config, MAX_EVENT_BYTES};

/// The largest management request body (events have their own limit, `MAX_EVENT_BYTES`).
const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub backend: Backend,
    pub config: Arc<Config>,
}

impl AppState {
    pub fn new(backend: Backend, config: Config) -> Self {
        Self {
            backend,
            config: Arc::new(config),
        }
    }
}

/// `POST /v1/events`: the ingest function.
pub fn ingest_router(state: AppState) -> Router {
    serve(ingest_routes(), state)
}

/// `/v1/subscriptions…`, `/v1/event-types`, `/v1/api-keys`, `/v1/openapi.json`: the api
/// function.
pub fn api_router(state: AppState) -> Router {
    serve(api_routes(), state)
}

/// Every route, for the local runner.
pub fn router(state: AppState) -> Router {
    serve(ingest_routes().merge(api_routes()), state)
}

fn ingest_routes() -> Router<AppState> {
    events::routes().layer(DefaultBodyLimit::max(MAX_EVENT_BYTES))
}

fn api_routes() -> Router<AppState> {
    subscriptions::routes()
        .merge(filters::routes())
        .merge(event_types::routes())
        .merge(api_keys::routes())
        .merge(deliveries::routes())
        .merge(tenant::routes())
        .merge(jwks::routes())
        .merge(openapi::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

fn serve(routes: Router<AppState>, state: AppState) -> Router {
    routes.fallback(error::not_found).with_state(state)
}
