//! `POST /v1/filters/test` and `POST /v1/subscriptions/{id}/filter/test`: whether an event
//! would pass a filter, or reach a subscription, and if not, which condition stops it.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{ApiError, AppState, Caller};
use crate::services::filters;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/filters/test", post(test)).route(
        "/v1/subscriptions/{id}/filter/test",
        post(test_subscription),
    )
}

/// A filter and an event to try it on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "filter": {"data.total": {"$gte": 100}},
    "event": {"type": "order.created", "data": {"total": 50}}
}))]
struct TestFilter {
    /// A filter, as a subscription's `filter` takes it.
    #[schema(value_type = Object)]
    filter: Value,
    /// An event as `POST /v1/events` takes it: `type`, `data`, optional `id` and `timestamp`.
    #[schema(value_type = Object)]
    event: Value,
}

/// An event to try on a subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"event": {"type": "order.created", "data": {"total": 150}}}))]
struct TestSubscriptionFilter {
    /// An event as `POST /v1/events` takes it: `type`, `data`, optional `id` and `timestamp`.
    #[schema(value_type = Object)]
    event: Value,
}

/// Whether the event matches, and if not, the condition that stops it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FilterVerdict)]
struct Verdict {
    matches: bool,
    /// `null` when the event matches.
    #[schema(required = true)]
    failed: Option<Failed>,
}

/// The condition an event fails.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FailedCondition)]
struct Failed {
    /// Where the condition is: in the filter (`filter.data.total.$gte`), or the subscription's
    /// `events` or `active`.
    #[schema(example = "filter.data.total.$gte")]
    place: String,
    /// What the event holds there and what the condition wants.
    #[schema(example = "data.total is 50; the condition wants $gte 100")]
    reason: String,
}

impl From<filters::Verdict> for Verdict {
    fn from(verdict: filters::Verdict) -> Self {
        Self {
            matches: verdict.is_ok(),
            failed: verdict.err().map(|m| Failed {
                place: m.place,
                reason: m.reason,
            }),
        }
    }
}

/// Try a filter on an event
///
/// Whether the event would pass the filter, and if not, which condition stops it and why. Nothing is stored or sent.
#[utoipa::path(
    post,
    path = "/v1/filters/test",
    operation_id = "testFilter",
    tag = "subscriptions",
    request_body(content = TestFilter, content_type = "application/json"),
    responses(
        (status = 200, description = "The verdict", body = Verdict),
    ),
    security(("bearer" = []))
)]
async fn test(
    caller: Caller,
    body: Result<Json<TestFilter>, JsonRejection>,
) -> Result<Json<Verdict>, ApiError> {
    caller.require_admin()?;
    let Json(req) = body?;
    let verdict = filters::test(&caller.tenant, &req.filter, req.event)?;
    Ok(Json(verdict.into()))
}

/// Try a subscription on an event
///
/// Whether the event would be delivered to this subscription (it is active, its `events` take the type, its filter the event), and if not, why. Nothing is stored or sent.
#[utoipa::path(
    post,
    path = "/v1/subscriptions/{id}/filter/test",
    operation_id = "testSubscriptionFilter",
    tag = "subscriptions",
    params(("id" = String, Path, description = "The subscription's id (`sub_…`)")),
    request_body(content = TestSubscriptionFilter, content_type = "application/json"),
    responses(
        (status = 200, description = "The verdict", body = Verdict),
    ),
    security(("bearer" = []))
)]
async fn test_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<TestSubscriptionFilter>, JsonRejection>,
) -> Result<Json<Verdict>, ApiError> {
    caller.require_admin()?;
    let Json(req) = body?;
    let verdict =
        filters::test_subscription(&state.backend, &caller.tenant, &id, req.event).await?;
    Ok(Json(verdict.into()))
}
