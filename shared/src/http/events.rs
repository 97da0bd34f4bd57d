use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

use super::{ApiError, AppState, Caller};
use crate::ingest::{self, Receipt};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/events", post(post_event))
}

/// Accepts an event: 202 with the number of deliveries enqueued, or the first answer again
/// (`duplicate: true`) for an id already accepted.
async fn post_event(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    caller.require_ingest()?;
    let Json(body) = body?;
    let receipt = ingest::accept(&state.backend, &state.config, &caller.tenant, body).await?;
    Ok((StatusCode::ACCEPTED, Json(receipt)))
}
