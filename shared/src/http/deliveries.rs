//! `/v1/subscriptions/{id}/deliveries`, `/v1/deliveries…`, `/v1/events/{id}` and
//! `/v1/dead-letters…`: what became of each delivery, sending again, and dead letters.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, AppState, Caller};
use crate::domain::{AttemptLog, DeliveryRecord, DeliveryStatus, SentAs, WindowStats};
use crate::services::{deliveries, stats};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/subscriptions/{id}/deliveries", get(list))
        .route("/v1/subscriptions/{id}/recover", post(recover))
        .route("/v1/subscriptions/{id}/stats", get(stats))
        .route("/v1/deliveries/{id}", get(fetch))
        .route("/v1/deliveries/{id}/retry", post(retry))
        .route("/v1/events/{id}", get(event))
        .route("/v1/dead-letters", get(dead_letters))
        .route("/v1/dead-letters/redrive", post(redrive))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListDeliveries {
    /// 1 to 100, default 20.
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `pending`, `succeeded`, `failed`, `dead` or `skipped`.
    #[param(value_type = Option<String>)]
    status: Option<DeliveryStatus>,
    /// Only deliveries created at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Only deliveries created before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
}

impl From<ListDeliveries> for deliveries::ListDeliveries {
    fn from(q: ListDeliveries) -> Self {
        Self {
            limit: q.limit,
            cursor: q.cursor,
            status: q.status,
            since: q.since,
            until: q.until,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Recover {
    /// Re-send the failed and dead deliveries created at or after this time (RFC 3339).
    since: DateTime<Utc>,
}

/// One attempt of a delivery.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Attempt)]
struct AttemptView {
    at: DateTime<Utc>,
    status_code: Option<u16>,
    error: Option<String>,
    duration_ms: u64,
    /// The first 1 KiB of the endpoint's answer.
    response_body: Option<String>,
}

/// What happened to one event for one subscription.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Delivery)]
struct DeliveryView {
    id: String,
    subscription_id: String,
    event_id: String,
    event_type: String,
    /// `pending`, `succeeded`, `failed` (retry scheduled), `dead` or `skipped`.
    status: String,
    success: bool,
    attempts: u32,
    status_code: Option<u16>,
    last_error: Option<String>,
    last_attempt_at: Option<DateTime<Utc>>,
    next_attempt_at: Option<DateTime<Utc>>,
    duration_ms: Option<u64>,
    /// The last attempts, newest first.
    recent_attempts: Vec<AttemptView>,
    /// How the last attempt went out; `null` before the first.
    #[schema(required = true)]
    sent: Option<SentView>,
}

/// How a delivery went out on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SentAs)]
struct SentView {
    /// The subscription's format at the time.
    #[schema(example = "saleor")]
    format: &'static str,
    /// The event's name in that format's spelling.
    #[schema(example = "order_created")]
    event_name: String,
    /// Every header sent but `content-type`; signature values are shown as `…`.
    headers: std::collections::BTreeMap<String, String>,
}

impl From<SentAs> for SentView {
    fn from(s: SentAs) -> Self {
        Self {
            format: s.format.name(),
            event_name: s.event_name,
            headers: s
                .headers
                .into_iter()
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        }
    }
}

impl From<DeliveryRecord> for DeliveryView {
    fn from(r: DeliveryRecord) -> Self {
        let status = serde_json::to_value(r.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Self {
            success: r.success(),
            id: r.delivery_id,
            subscription_id: r.subscription_id.to_string(),
            event_id: r.event_id.to_string(),
            event_type: r.event_type.to_string(),
            status,
            attempts: r.attempts,
            status_code: r.status_code,
            last_error: r.last_error,
            last_attempt_at: r.last_attempt_at,
            next_attempt_at: r.next_attempt_at,
            duration_ms: r.duration_ms,
            recent_attempts: r
                .recent_attempts
                .into_iter()
                .map(AttemptView::from)
                .collect(),
            sent: r.sent.map(SentView::from),
        }
    }
}

impl From<AttemptLog> for AttemptView {
    fn from(a: AttemptLog) -> Self {
        Self {
            at: a.at,
            status_code: a.status_code,
            error: a.error,
            duration_ms: a.duration_ms,
            response_body: a.response_body,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeliveryList)]
struct DeliveryPage {
    data: Vec<DeliveryView>,
    next_cursor: Option<String>,
}

/// An event and what became of it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EventDetail)]
struct EventView {
    /// The envelope subscribers receive.
    #[schema(value_type = Object)]
    event: serde_json::Value,
    deliveries: Vec<DeliveryView>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Requeued {
    /// How many deliveries were put back on the queue.
    requeued: usize,
}

/// A message of the dead-letter queue.
#[derive(Debug, Serialize, ToSchema)]
struct DeadLetterView {
    delivery_id: String,
    subscription_id: String,
    event_id: String,
    event_type: String,
    /// Why it was dead-lettered.
    reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeadLetterList)]
struct DeadLetters {
    data: Vec<DeadLetterView>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PeekQuery {
    /// 1 to 100, default 20.
    limit: Option<usize>,
}

/// List a subscription's deliveries
///
/// Newest first, filtered by status and creation time, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/subscriptions/{id}/deliveries",
    operation_id = "listDeliveries",
    tag = "deliveries",
    params(("id" = String, Path, description = "The subscription's id (`sub_…`)"), ListDeliveries),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
    ),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<ListDeliveries>, QueryRejection>,
) -> Result<Json<DeliveryPage>, ApiError> {
    caller.require_admin()?;
    let Query(query) = query?;
    let (records, next_cursor) =
        deliveries::list(&state.backend, &caller.tenant, &id, query.into()).await?;
    Ok(Json(DeliveryPage {
        data: records.into_iter().map(DeliveryView::from).collect(),
        next_cursor,
    }))
}

/// Get a delivery
#[utoipa::path(
    get,
    path = "/v1/deliveries/{id}",
    operation_id = "getDelivery",
    tag = "deliveries",
    params(("id" = String, Path, description = "The delivery's id (`dlv_…`)")),
    responses(
        (status = 200, description = "The delivery and its recent attempts", body = DeliveryView),
    ),
    security(("bearer" = []))
)]
async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DeliveryView>, ApiError> {
    caller.require_admin()?;
    Ok(Json(
        deliveries::get(&state.backend, &caller.tenant, &id)
            .await?
            .into(),
    ))
}

/// Send a delivery again now
///
/// Whatever became of it, it is queued again with a new round of attempts.
#[utoipa::path(
    post,
    path = "/v1/deliveries/{id}/retry",
    operation_id = "retryDelivery",
    tag = "deliveries",
    params(("id" = String, Path, description = "The delivery's id (`dlv_…`)")),
    responses(
        (status = 202, description = "Queued again", body = DeliveryView),
    ),
    security(("bearer" = []))
)]
async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    caller.require_admin()?;
    let record = deliveries::retry(&state.backend, &caller.tenant, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(record.into())))
}

/// Get an event and its deliveries
#[utoipa::path(
    get,
    path = "/v1/events/{id}",
    operation_id = "getEvent",
    tag = "deliveries",
    params(("id" = String, Path, description = "The event's id")),
    responses(
        (status = 200, description = "The event and each of its deliveries", body = EventView),
    ),
    security(("bearer" = []))
)]
async fn event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EventView>, ApiError> {
    caller.require_admin()?;
    let (record, records) = deliveries::event(&state.backend, &caller.tenant, &id).await?;
    Ok(Json(EventView {
        event: serde_json::to_value(&record.event).unwrap_or_default(),
        deliveries: records.into_iter().map(DeliveryView::from).collect(),
    }))
}

/// Recover a subscription
///
/// After fixing an endpoint: queues again every failed or dead delivery created since then.
#[utoipa::path(
    post,
    path = "/v1/subscriptions/{id}/recover",
    operation_id = "recoverSubscription",
    tag = "deliveries",
    params(("id" = String, Path, description = "The subscription's id (`sub_…`)")),
    request_body(content = Recover, content_type = "application/json"),
    responses(
        (status = 202, description = "The failed and dead deliveries were queued again", body = Requeued),
    ),
    security(("bearer" = []))
)]
async fn recover(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<Recover>, JsonRejection>,
) -> Result<(StatusCode, Json<Requeued>), ApiError> {
    caller.require_admin()?;
    let Json(req) = body?;
    let requeued = deliveries::recover(
        &state.backend,
        &caller.tenant,
        &id,
        deliveries::Recover { since: req.since },
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(Requeued { requeued })))
}

/// Peek at the dead-letter queue
///
/// The tenant's deliveries that exhausted their attempts (or could not be read), with the
/// reason; they stay in the queue.
#[utoipa::path(
    get,
    path = "/v1/dead-letters",
    operation_id = "listDeadLetters",
    tag = "deliveries",
    params(PeekQuery),
    responses(
        (status = 200, description = "Dead letters of this tenant", body = DeadLetters),
    ),
    security(("bearer" = []))
)]
async fn dead_letters(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<PeekQuery>, QueryRejection>,
) -> Result<Json<DeadLetters>, ApiError> {
    caller.require_admin()?;
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(crate::domain::ValidationError::new("limit", "must be from 1 to 100").into());
    }
    let found = deliveries::peek_dead_letters(&state.backend, &caller.tenant, limit).await?;
    Ok(Json(DeadLetters {
        data: found
            .into_iter()
            .map(|d| DeadLetterView {
                delivery_id: d.message.delivery_id,
                subscription_id: d.message.subscription_id.to_string(),
                event_id: d.message.event.id.to_string(),
                event_type: d.message.event.event_type.to_string(),
                reason: d.reason,
            })
            .collect(),
    }))
}

/// Redrive the dead-letter queue
///
/// Moves the tenant's dead letters back to the deliveries queue, each with a new round of
/// attempts.
#[utoipa::path(
    post,
    path = "/v1/dead-letters/redrive",
    operation_id = "redriveDeadLetters",
    tag = "deliveries",
    responses(
        (status = 202, description = "Moved back to the deliveries queue", body = Requeued),
    ),
    security(("bearer" = []))
)]
async fn redrive(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<Requeued>), ApiError> {
    caller.require_admin()?;
    let requeued = deliveries::redrive_dead_letters(&state.backend, Some(&caller.tenant)).await?;
    Ok((StatusCode::ACCEPTED, Json(Requeued { requeued })))
}

/// One window of an endpoint's stats.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StatsWindow)]
struct WindowView {
    /// Attempts made in the window (each delivery keeps its last 5 attempts).
    attempts: u64,
    succeeded: u64,
    /// `succeeded / attempts`; `null` without attempts.
    #[schema(required = true)]
    success_rate: Option<f64>,
    #[schema(required = true)]
    p50_ms: Option<u64>,
    #[schema(required = true)]
    p99_ms: Option<u64>,
    #[schema(required = true)]
    last_success: Option<DateTime<Utc>>,
    #[schema(required = true)]
    last_failure: Option<DateTime<Utc>>,
}

impl From<WindowStats> for WindowView {
    fn from(w: WindowStats) -> Self {
        Self {
            attempts: w.attempts,
            succeeded: w.succeeded,
            success_rate: w.success_rate,
            p50_ms: w.p50_ms,
            p99_ms: w.p99_ms,
            last_success: w.last_success,
            last_failure: w.last_failure,
        }
    }
}

/// How an endpoint has been doing.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EndpointStats)]
struct StatsView {
    last_24h: WindowView,
    last_7d: WindowView,
    /// Whether the subscription had more deliveries in the last 7 days than one call reads
    /// (10,000, newest first), so the figures cover only the newest.
    truncated: bool,
}

/// Get an endpoint's stats
///
/// Success rate, attempts, attempt durations and the last success and failure, over the
/// last 24 hours and 7 days, computed from the subscription's delivery records.
#[utoipa::path(
    get,
    path = "/v1/subscriptions/{id}/stats",
    operation_id = "getSubscriptionStats",
    tag = "deliveries",
    params(("id" = String, Path, description = "The subscription's id (`sub_…`)")),
    responses((status = 200, description = "The endpoint's stats", body = StatsView)),
    security(("bearer" = []))
)]
async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StatsView>, ApiError> {
    caller.require_admin()?;
    let (stats, truncated) = stats::endpoint(&state.backend, &caller.tenant, &id).await?;
    Ok(Json(StatsView {
        last_24h: stats.day.into(),
        last_7d: stats.week.into(),
        truncated,
    }))
}
