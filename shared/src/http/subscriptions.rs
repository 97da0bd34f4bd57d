use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState, Caller};
use crate::domain::{EventPattern, NewSubscription, Subscription, SubscriptionId};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/subscriptions", get(list).post(create))
        .route("/v1/subscriptions/{id}", get(fetch).delete(remove))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSubscription {
    url: String,
    events: Vec<String>,
    description: Option<String>,
    active: Option<bool>,
    secret: Option<String>,
}

/// A subscription as the API shows it: never with its secret, except right after creation.
#[derive(Debug, Serialize)]
struct SubscriptionView {
    id: String,
    url: String,
    events: Vec<EventPattern>,
    active: bool,
    description: Option<String>,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl SubscriptionView {
    fn new(s: Subscription, with_secret: bool) -> Self {
        Self {
            id: s.id.to_string(),
            url: s.url.to_string(),
            secret: with_secret.then(|| s.secret.expose().to_owned()),
            events: s.events,
            active: s.active,
            description: s.description,
            created_at: s.created_at,
        }
    }
}

#[derive(Debug, Serialize)]
struct Page {
    data: Vec<SubscriptionView>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateSubscription>, JsonRejection>,
) -> Result<(StatusCode, Json<SubscriptionView>), ApiError> {
    caller.require_admin()?;
    let Json(req) = body?;
    let new = NewSubscription::validate(
        &req.url,
        &req.events,
        req.active,
        req.description,
        req.secret.as_deref(),
        state.config.egress,
    )?;
    let subscription = new.into_subscription(caller.tenant, Utc::now());
    state
        .backend
        .subscriptions
        .create_subscription(&subscription)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SubscriptionView::new(subscription, true)),
    ))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Page>, ApiError> {
    caller.require_admin()?;
    let subscriptions = state
        .backend
        .subscriptions
        .list_subscriptions(&caller.tenant)
        .await?;
    Ok(Json(Page {
        data: subscriptions
            .into_iter()
            .map(|s| SubscriptionView::new(s, false))
            .collect(),
    }))
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    caller.require_admin()?;
    let id = SubscriptionId::parse(&id).map_err(|_| ApiError::NotFound("subscription"))?;
    let subscription = state
        .backend
        .subscriptions
        .get_subscription(&caller.tenant, &id)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    Ok(Json(SubscriptionView::new(subscription, false)))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    let id = SubscriptionId::parse(&id).map_err(|_| ApiError::NotFound("subscription"))?;
    if state
        .backend
        .subscriptions
        .delete_subscription(&caller.tenant, &id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("subscription"))
    }
}
