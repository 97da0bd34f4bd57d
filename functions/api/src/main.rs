//! The api Lambda: subscription management behind API Gateway's HTTP API.

use tidings::http::{AppState, api_router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tidings::telemetry::init_lambda();
    // Clients are built once per container and reused by every invocation.
    let state = AppState::from_env().await?;
    lambda_http::run(api_router(state)).await
}
