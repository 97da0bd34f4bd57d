//! `/v1/event-types`: the catalog and the tenant's own types.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, AppState, Caller};
use crate::services::event_types;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/event-types", get(list).post(register))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RegisterEventType {
    /// Lowercase dot-separated words, not in the catalog.
    #[schema(
        max_length = 128,
        pattern = "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$",
        example = "loyalty.points.earned"
    )]
    name: String,
    /// One line of 1 to 256 characters.
    #[schema(
        min_length = 1,
        max_length = 256,
        example = "A customer earned loyalty points."
    )]
    description: String,
}

/// An event type subscriptions can name exactly.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EventType)]
struct EventTypeView {
    #[schema(example = "order.created")]
    name: String,
    description: String,
    /// Registered by this tenant rather than part of the catalog.
    custom: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EventTypeList)]
struct EventTypes {
    data: Vec<EventTypeView>,
}

/// List event types
///
/// The catalog and the tenant's own registered types, sorted by name.
#[utoipa::path(
    get,
    path = "/v1/event-types",
    operation_id = "listEventTypes",
    tag = "event-types",
    responses(
        (status = 200, description = "Every event type known to the tenant", body = EventTypes),
    ),
    security(("bearer" = []))
)]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<EventTypes>, ApiError> {
    caller.require_admin()?;
    let types = event_types::list(&state.backend, &caller.tenant).await?;
    Ok(Json(EventTypes {
        data: types
            .into_iter()
            .map(|t| EventTypeView {
                name: t.name,
                description: t.description,
                custom: t.custom,
            })
            .collect(),
    }))
}

/// Register an event type
///
/// A custom event type of the tenant, beside the catalog.
#[utoipa::path(
    post,
    path = "/v1/event-types",
    operation_id = "registerEventType",
    tag = "event-types",
    request_body(content = RegisterEventType, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = EventTypeView),
    ),
    security(("bearer" = []))
)]
async fn register(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<RegisterEventType>, JsonRejection>,
) -> Result<(StatusCode, Json<EventTypeView>), ApiError> {
    caller.require_admin()?;
    let Json(req) = body?;
    let t = event_types::register(
        &state.backend,
        &caller.tenant,
        event_types::RegisterEventType {
            name: req.name,
            description: req.description,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(EventTypeView {
            name: t.name.to_string(),
            description: t.description,
            custom: true,
        }),
    ))
}
