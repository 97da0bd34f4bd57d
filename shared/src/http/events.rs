//! `POST /v1/events`: the ingest function's one route.

use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{ApiError, AppState, Caller, Problem};
use crate::domain::ValidationError;
use crate::metrics::IngestOutcome;
use crate::services::events::{self, Receipt};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/events", post(post_event)).route(
        "/v1/events/batch",
        post(post_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES)),
    )
}

/// The largest batch body: room for 100 typical events (each is still at most 240 KiB).
pub(super) const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// An event as a producer posts it. The handler reads the body as free JSON and validates it
/// field by field (`NewEvent::from_json`); this type only documents the shape.
#[allow(dead_code)] // documentation only
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    example = json!({
        "id": "evt_01JD7Y2Q8ZV6M3N4P5R6S7T8U9",
        "type": "order.created",
        "timestamp": "2026-11-24T10:30:00Z",
        "data": {"order_id": "ord_1001", "total": "49.90", "currency": "EUR"}
    })
)]
pub(super) struct EventInput {
    /// The producer's idempotency key: a repeat with the same id returns the first answer.
    /// Generated (`evt_` + ULID) when absent.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_.:-]+$")]
    id: Option<String>,
    /// Lowercase dot-separated words, such as `order.created`.
    #[serde(rename = "type")]
    #[schema(
        max_length = 128,
        pattern = "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$",
        example = "order.created"
    )]
    event_type: String,
    /// RFC 3339; the time of acceptance when absent.
    timestamp: Option<DateTime<Utc>>,
    /// The event's payload, delivered as is.
    #[schema(value_type = Object)]
    data: serde_json::Map<String, Value>,
}

/// The answer to a producer: `202 {"id", "type", "deliveries", "duplicate"}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Receipt)]
pub(super) struct ReceiptView {
    /// The event's id: the producer's, or the generated one.
    #[schema(example = "evt_01JD7Y2Q8ZV6M3N4P5R6S7T8U9")]
    id: String,
    #[serde(rename = "type")]
    #[schema(example = "order.created")]
    event_type: String,
    /// How many deliveries were enqueued: one per matching active subscription.
    deliveries: usize,
    /// Whether this id had already been accepted (the answer is then the first one's).
    duplicate: bool,
}

impl From<Receipt> for ReceiptView {
    fn from(r: Receipt) -> Self {
        Self {
            id: r.id,
            event_type: r.event_type,
            deliveries: r.deliveries,
            duplicate: r.duplicate,
        }
    }
}

/// Post an event
///
/// Accepts an event: 202 with the number of deliveries enqueued, or the first answer again
/// (`duplicate: true`) for an id already accepted.
#[utoipa::path(
    post,
    path = "/v1/events",
    operation_id = "postEvent",
    tag = "events",
    request_body(content = EventInput, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted and enqueued (or a duplicate of an accepted id)", body = ReceiptView),
    ),
    security(("bearer" = []))
)]
async fn post_event(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<ReceiptView>), ApiError> {
    let answer = async {
        caller.require_ingest()?;
        let Json(body) = body?;
        Ok::<_, ApiError>(
            events::accept(&state.backend, &state.config, &caller.tenant, body).await?,
        )
    }
    .await;
    let (outcome, deliveries) = match &answer {
        Ok(receipt) if receipt.duplicate => (IngestOutcome::Duplicate, 0),
        Ok(receipt) => (IngestOutcome::Accepted, receipt.deliveries),
        Err(e) if e.status().is_server_error() => (IngestOutcome::Failed, 0),
        Err(_) => (IngestOutcome::Refused, 0),
    };
    state
        .config
        .metrics
        .ingest(outcome, &caller.tenant, 1, deliveries);
    Ok((StatusCode::ACCEPTED, Json(answer?.into())))
}

/// Up to 100 events in one request. The handler reads the body as free JSON and each event
/// is validated on its own; this type only documents the shape.
#[allow(dead_code)] // documentation only
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchInput {
    /// 1 to 100 events, each as `POST /v1/events` takes it.
    #[schema(min_items = 1, max_items = 100)]
    events: Vec<EventInput>,
}

/// What became of one event of a batch.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = BatchResult)]
struct BatchResultView {
    /// Its place in the batch, from 0.
    index: usize,
    /// `202` accepted (or a duplicate of an accepted id); `409`, `413`, `422`: refused, do
    /// not retry as it is; `503`: not accepted, post it again with the same id.
    status: u16,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    receipt: Option<ReceiptView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<Problem>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = BatchReceipt)]
struct BatchView {
    /// One per event, in the batch's order.
    results: Vec<BatchResultView>,
}

/// Post a batch of events
///
/// Accepts up to 100 events at once: one answer per event, each deduplicated like a single
/// post. An event answered `503` was not accepted: post it again with the same id.
#[utoipa::path(
    post,
    path = "/v1/events/batch",
    operation_id = "postEventBatch",
    tag = "events",
    request_body(content = BatchInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Each event's own answer", body = BatchView),
    ),
    security(("bearer" = []))
)]
async fn post_batch(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<BatchView>, ApiError> {
    caller.require_ingest()?;
    let Json(body) = body?;
    let events = match body {
        Value::Object(mut fields) if fields.len() == 1 => match fields.remove("events") {
            Some(Value::Array(events)) => events,
            _ => return Err(batch_rule()),
        },
        _ => return Err(batch_rule()),
    };
    if events.is_empty() || events.len() > events::MAX_BATCH_EVENTS {
        return Err(batch_rule());
    }
    let answers = events::accept_batch(&state.backend, &state.config, &caller.tenant, events).await;
    // One metric line per outcome for the whole batch: (outcome, events, deliveries).
    let mut tally: Vec<(IngestOutcome, usize, usize)> = Vec::new();
    let results = answers
        .into_iter()
        .enumerate()
        .map(|(index, answer)| {
            let (outcome, deliveries) = match &answer {
                Ok(r) if r.duplicate => (IngestOutcome::Duplicate, 0),
                Ok(r) => (IngestOutcome::Accepted, r.deliveries),
                Err(e) if e.is_transient() => (IngestOutcome::Failed, 0),
                Err(_) => (IngestOutcome::Refused, 0),
            };
            match tally.iter_mut().find(|(o, _, _)| *o == outcome) {
                Some((_, events, enqueued)) => {
                    *events += 1;
                    *enqueued += deliveries;
                }
                None => tally.push((outcome, 1, deliveries)),
            }
            match answer {
                Ok(receipt) => BatchResultView {
                    index,
                    status: StatusCode::ACCEPTED.as_u16(),
                    receipt: Some(receipt.into()),
                    problem: None,
                },
                Err(e) => {
                    let problem = ApiError::from(e).problem();
                    BatchResultView {
                        index,
                        status: problem.status,
                        receipt: None,
                        problem: Some(problem),
                    }
                }
            }
        })
        .collect();
    for (outcome, events, deliveries) in tally {
        state
            .config
            .metrics
            .ingest(outcome, &caller.tenant, events, deliveries);
    }
    Ok(Json(BatchView { results }))
}

fn batch_rule() -> ApiError {
    ValidationError::new(
        "events",
        "must be a list of 1 to 100 events, alone in the body",
    )
    .into()
}
