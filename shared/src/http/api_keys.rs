//! `/v1/api-keys`: a tenant's keys, each with one role.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, AppState, Caller};
use crate::domain::{ApiKey, Role};
use crate::services::api_keys;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/api-keys", get(list).post(create))
        .route("/v1/api-keys/{id}", delete(revoke))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateApiKey)]
struct CreateKey {
    #[schema(value_type = RoleDoc)]
    role: Role,
    /// A note to recognise the key by: at most 128 characters.
    #[schema(max_length = 128, example = "checkout service")]
    name: Option<String>,
}

/// What a key may do within its tenant.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Role)]
#[allow(dead_code)] // documents `domain::Role`, which stays free of OpenAPI derives
enum RoleDoc {
    Ingest,
    Admin,
}

/// An API key of the caller's tenant. Its plaintext is shown once, in the creation answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiKey)]
struct KeyView {
    #[schema(example = "key_01JD7Y2Q8ZV6M3N4P5R6S7T8U9")]
    id: String,
    #[schema(value_type = RoleDoc)]
    role: Role,
    #[schema(required = true)]
    name: Option<String>,
    created_at: DateTime<Utc>,
    /// The key itself: in the creation answer only, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "tdk_…")]
    key: Option<String>,
}

impl KeyView {
    fn new(k: ApiKey, key: Option<String>) -> Self {
        Self {
            id: k.id,
            role: k.role,
            name: k.name,
            created_at: k.created_at,
            key,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiKeyList)]
struct Keys {
    data: Vec<KeyView>,
}

/// Create an API key
///
/// A new key of the caller's tenant; the answer holds its plaintext, shown only this once.
#[utoipa::path(
    post,
    path = "/v1/api-keys",
    operation_id = "createApiKey",
    tag = "api-keys",
    request_body(content = CreateKey, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; `key` holds the plaintext", body = KeyView),
    ),
    security(("bearer" = []))
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateKey>, JsonRejection>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    caller.require_admin()?;
    let Json(req) = body?;
    let (key, plaintext) =
        api_keys::create(&state.backend, &caller.tenant, req.role, req.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(KeyView::new(key, Some(plaintext))),
    ))
}

/// List API keys
///
/// The tenant's keys, without their plaintext.
#[utoipa::path(
    get,
    path = "/v1/api-keys",
    operation_id = "listApiKeys",
    tag = "api-keys",
    responses(
        (status = 200, description = "The tenant's keys", body = Keys),
    ),
    security(("bearer" = []))
)]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Keys>, ApiError> {
    caller.require_admin()?;
    let keys = api_keys::list(&state.backend, &caller.tenant).await?;
    Ok(Json(Keys {
        data: keys.into_iter().map(|k| KeyView::new(k, None)).collect(),
    }))
}

/// Revoke an API key
///
/// The key stops working at once.
#[utoipa::path(
    delete,
    path = "/v1/api-keys/{id}",
    operation_id = "revokeApiKey",
    tag = "api-keys",
    params(("id" = String, Path, description = "The key's id (`key_…`)")),
    responses(
        (status = 204, description = "Revoked"),
    ),
    security(("bearer" = []))
)]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    api_keys::revoke(&state.backend, &caller.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
