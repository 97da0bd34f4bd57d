//! The api Lambda: subscription management behind API Gateway's HTTP API.

use tidings::config::Config;
use tidings::http::{AppState, api_router};

// One thread: a container gets one invocation at a time, on a share of a vCPU, and a second
// worker only adds wake-ups across threads (and 0.2 ms to init: README, Lambda cold start).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    tidings::telemetry::init_lambda();
    // Clients are built once per container and reused by every invocation.
    let state = AppState::new(tidings_aws::backend_from_env().await?, Config::from_env()?);
    lambda_http::run(api_router(state)).await
}
