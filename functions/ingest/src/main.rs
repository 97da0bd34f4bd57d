//! The ingest Lambda: `POST /v1/events` behind API Gateway's HTTP API.

use tidings::http::{AppState, ingest_router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tidings::telemetry::init_lambda();
    // Clients are built once per container and reused by every invocation.
    let state = AppState::from_env().await?;
    lambda_http::run(ingest_router(state)).await
}
