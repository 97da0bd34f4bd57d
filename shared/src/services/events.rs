//! Events in: accepting a producer's event (validate, dedup by id, resolve subscriptions,
//! enqueue one message per delivery), test events, and Tidings' own operational events.
//! Nothing is reported as accepted that is not on the queue.
//!
//! One write per event: the dedup record is a conditional put, made before the messages are
//! sent, and never updated. So a post of an id already recorded cannot tell whether the
//! first try got all its messages onto the queue; it sends them again as repeats, which the
//! dispatcher drops when their delivery already has a record. A producer's retry thus always
//! completes an event, and an ordinary duplicate costs one SQS send and no POST.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::Backend;
use crate::config::Config;
use crate::domain::{
    Event, EventEnvelope, EventId, EventType, NewEvent, Subscription, SubscriptionRoute, TenantId,
    ValidationError,
};
use crate::ports::queue::{self, OutgoingMessage, QueueError};
use crate::ports::store::{EventRecord, PlannedDelivery, StoreError};

/// The answer to a producer: the event's id and type, how many deliveries were enqueued,
/// and whether this id had already been accepted (the answer is then the first one's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub id: String,
    pub event_type: String,
    /// One per matching active subscription.
    pub deliveries: usize,
    pub duplicate: bool,
}

#[derive(Debug, Error)]
pub enum IngestError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("event id {0} was already accepted with a different type or data")]
    IdReused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl IngestError {
    /// Whether posting the event again with the same id may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Queue(_) | Self::Store(StoreError::Unavailable(_))
        )
    }
}

/// Accepts one event from `tenant`.
///
/// The dedup record is written first, with the deliveries it resolved to, then they are
/// enqueued. A repeat of a recorded id returns the first answer with `duplicate: true` and
/// enqueues the same deliveries again as repeats (see the module doc), so a producer's retry
/// after a failure part-way always completes the event.
pub async fn accept(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    body: Value,
) -> Result<Receipt, IngestError> {
    let now = Utc::now();
    let (event, data, fingerprint) = admitted(NewEvent::from_json(body)?, tenant, now);

    let envelope = EventEnvelope::with_data(&event, data);
    let deliveries = plan(backend, &envelope, SubscriptionRoute::wants).await?;
    drop(envelope);
    commit(
        backend,
        EventRecord::new(event, fingerprint, deliveries, now, config.record_ttl),
    )
    .await
}

/// An event of a batch that passed its checks, waiting for the batch's subscriptions.
struct Parsed {
    /// Its place in the batch.
    index: usize,
    event: Event,
    /// Its `data`, parsed (for filters).
    data: Value,
    fingerprint: String,
}

/// How many bytes `value` takes as JSON, counted as serde_json writes them instead of kept
/// (a batch's events are measured one by one against the size limit; the text itself is
/// written later, for the record). 0 if it cannot be written, as before.
fn json_len(value: &impl serde::Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).map_or(0, |()| count.0)
}

/// The most events one batch may hold.
pub const MAX_BATCH_EVENTS: usize = 100;

/// Accepts up to [`MAX_BATCH_EVENTS`] events from `tenant` at once: one answer per event, in
/// order. Each event is deduplicated and recorded like a single one; the batch shares one
/// read of the subscriptions and its queue messages go out ten to a `SendMessageBatch`.
/// The no-loss rule holds per event: an event answered with an error was not accepted (or
/// not fully enqueued) and must be posted again with the same id; the others are on the
/// queue.
pub async fn accept_batch(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    bodies: Vec<Value>,
) -> Vec<Result<Receipt, IngestError>> {
    let now = Utc::now();
    let mut answers: Vec<Option<Result<Receipt, IngestError>>> = Vec::new();
    let mut parsed: Vec<Parsed> = Vec::new();
    let mut first_of_id: std::collections::HashMap<String, (usize, String)> = Default::default();
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        answers.push(None);
        let new_event = match NewEvent::from_json(body) {
            Ok(e) => e,
            Err(e) => {
                answers[i] = Some(Err(in_batch(i, e).into()));
                continue;
            }
        };
        let (event, data, fingerprint) = admitted(new_event, tenant, now);
        if json_len(&event) > crate::config::MAX_EVENT_BYTES {
            let rule = "is larger than 240 KiB";
            answers[i] = Some(Err(
                ValidationError::new(format!("events[{i}]"), rule).into()
            ));
            continue;
        }
        // The same id twice in one batch: the later one is answered as a repeat of the first.
        match first_of_id.get(event.id.as_str()) {
            Some((first, f)) if *f == fingerprint => repeats.push((i, *first)),
            Some(_) => answers[i] = Some(Err(IngestError::IdReused(event.id.to_string()))),
            None => {
                first_of_id.insert(event.id.to_string(), (i, fingerprint.clone()));
                parsed.push(Parsed {
                    index: i,
                    event,
                    data,
                    fingerprint,
                });
            }
        }
    }

    if !parsed.is_empty() {
        match backend.subscriptions.list_subscription_routes(tenant).await {
            Err(e) => {
                for p in &parsed {
                    answers[p.index] = Some(Err(IngestError::Store(e.clone())));
                }
            }
            Ok(routes) => {
                commit_batch(backend, config, now, &routes, parsed, &mut answers).await;
            }
        }
    }
    for (i, first) in repeats {
        answers[i] = Some(match &answers[first] {
            Some(Ok(receipt)) => Ok(Receipt {
                duplicate: true,
                ..receipt.clone()
            }),
            _ => Err(ValidationError::new(
                format!("events[{i}]"),
                "repeats the id of an earlier event of this batch, which was not accepted",
            )
            .into()),
        });
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(StoreError::Unavailable("not processed".into()).into())))
        .collect()
}

/// Records, enqueues and marks a batch's valid events, answering each in `answers`.
async fn commit_batch(
    backend: &Backend,
    config: &Config,
    now: chrono::DateTime<Utc>,
    routes: &[SubscriptionRoute],
    parsed: Vec<Parsed>,
    answers: &mut [Option<Result<Receipt, IngestError>>],
) {
    let mut to_enqueue: Vec<(usize, EventRecord, bool)> = Vec::new();
    for Parsed {
        index: i,
        event,
        data,
        fingerprint,
    } in parsed
    {
        let deliveries = planned(
            routes,
            &EventEnvelope::with_data(&event, data),
            SubscriptionRoute::wants,
        );
        let record = EventRecord::new(event, fingerprint, deliveries, now, config.record_ttl);
        match backend.events.insert_event(&record).await {
            Ok(None) => to_enqueue.push((i, record, false)),
            Ok(Some(existing)) if existing.fingerprint != record.fingerprint => {
                answers[i] = Some(Err(IngestError::IdReused(existing.event.id.to_string())));
            }
            Ok(Some(existing)) => to_enqueue.push((i, existing, true)),
            Err(e) => answers[i] = Some(Err(e.into())),
        }
    }
    let records: Vec<(&EventRecord, bool)> = to_enqueue
        .iter()
        .map(|(_, record, repeat)| (record, *repeat))
        .collect();
    if let Err(e) = enqueue(backend, &records).await {
        // Which events made it is not known: each is retried whole, and its dedup record
        // makes the retry enqueue it again, as repeats.
        for (i, _, _) in &to_enqueue {
            answers[*i] = Some(Err(match &e {
                IngestError::Store(store) => IngestError::Store(store.clone()),
                other => IngestError::Queue(QueueError::Unavailable(other.to_string())),
            }));
        }
        return;
    }
    for (i, record, duplicate) in to_enqueue {
        answers[i] = Some(Ok(receipt(&record, duplicate)));
    }
}

fn receipt(record: &EventRecord, duplicate: bool) -> Receipt {
    Receipt {
        id: record.event.id.to_string(),
        event_type: record.event.event_type.to_string(),
        deliveries: record.deliveries.len(),
        duplicate,
    }
}

/// A validation error of the `i`th event of a batch, its field named within the batch.
fn in_batch(i: usize, e: ValidationError) -> ValidationError {
    ValidationError::new(format!("events[{i}].{}", e.field), e.rule)
}

/// Sends a `webhook.test` event to one subscription alone, through the normal pipeline.
/// Returns the receipt and the id of the delivery to look up.
pub async fn send_test(
    backend: &Backend,
    config: &Config,
    subscription: &Subscription,
) -> Result<(Receipt, String), IngestError> {
    let now = Utc::now();
    let event = Event {
        id: EventId::generate(),
        event_type: EventType::parse(TEST_EVENT_TYPE).expect("the test event type is valid"),
        timestamp: now,
        tenant: subscription.tenant.clone(),
        data: json!({
            "subscription_id": subscription.id,
            "message": "This is a test event from Tidings.",
        })
        .into(),
    };
    let planned = PlannedDelivery::to(subscription.id.clone());
    let delivery_id = planned.delivery_id.clone();
    let record = EventRecord::new(
        event.clone(),
        event.id.to_string(),
        vec![planned],
        now,
        config.record_ttl,
    );
    Ok((commit(backend, record).await?, delivery_id))
}

/// Emits one of Tidings' own events (such as `subscription.disabled`) to the tenant's
/// subscriptions that asked for it by name or prefix (`*` does not include them).
pub async fn emit_operational(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    event_type: &str,
    data: Value,
) -> Result<Receipt, IngestError> {
    let now = Utc::now();
    let event = Event {
        id: EventId::generate(),
        event_type: EventType::parse(event_type)?,
        timestamp: now,
        tenant: tenant.clone(),
        data: data.into(),
    };
    let deliveries = plan(
        backend,
        &EventEnvelope::new(&event),
        SubscriptionRoute::wants_operational,
    )
    .await?;
    let fingerprint = event.id.to_string();
    commit(
        backend,
        EventRecord::new(event, fingerprint, deliveries, now, config.record_ttl),
    )
    .await
}

/// The operational event sent when a subscription is switched off for its endpoint's sake.
pub const SUBSCRIPTION_DISABLED: &str = "subscription.disabled";
/// Sent once when a delivery has failed `TIDINGS_DELIVERY_FAILING_AFTER` attempts in a row.
pub const DELIVERY_FAILING: &str = "delivery.failing";
/// Sent when a delivery is dead-lettered.
pub const DELIVERY_EXHAUSTED: &str = "delivery.exhausted";
/// Sent on a delivery's first success after failed attempts.
pub const DELIVERY_RECOVERED: &str = "delivery.recovered";
pub const SUBSCRIPTION_CREATED: &str = "subscription.created";
pub const SUBSCRIPTION_UPDATED: &str = "subscription.updated";
pub const SUBSCRIPTION_DELETED: &str = "subscription.deleted";

/// The type of the events `POST /v1/subscriptions/{id}/test` sends.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// One delivery for each of the tenant's subscriptions that `wants` the event. It reads the
/// subscriptions' routes only: ingest never reads (or decrypts) a secret.
async fn plan(
    backend: &Backend,
    envelope: &EventEnvelope<'_>,
    wants: fn(&SubscriptionRoute, &EventEnvelope<'_>) -> bool,
) -> Result<Vec<PlannedDelivery>, StoreError> {
    let routes = backend
        .subscriptions
        .list_subscription_routes(&envelope.event().tenant)
        .await?;
    Ok(planned(&routes, envelope, wants))
}

/// One new delivery for each route that `wants` the event: for a producer's event, its type
/// and its subscription's filter decide, so an event no filter takes costs no delivery and
/// no queue message.
fn planned(
    routes: &[SubscriptionRoute],
    envelope: &EventEnvelope<'_>,
    wants: fn(&SubscriptionRoute, &EventEnvelope<'_>) -> bool,
) -> Vec<PlannedDelivery> {
    routes
        .iter()
        .filter(|s| wants(s, envelope))
        .map(|s| PlannedDelivery::to(s.id.clone()))
        .collect()
}

/// Dedups by the record's event id, then enqueues its deliveries (as repeats when the id was
/// already recorded).
async fn commit(backend: &Backend, record: EventRecord) -> Result<Receipt, IngestError> {
    let (record, duplicate) = match backend.events.insert_event(&record).await? {
        None => (record, false),
        Some(existing) if existing.fingerprint != record.fingerprint => {
            return Err(IngestError::IdReused(existing.event.id.to_string()));
        }
        Some(existing) => (existing, true),
    };
    enqueue(backend, &[(&record, duplicate)]).await?;
    Ok(receipt(&record, duplicate))
}

/// Puts every planned delivery of `records` on the queue, ten to a `SendMessageBatch`; those
/// of a record marked as a repeat go as repeats.
async fn enqueue(backend: &Backend, records: &[(&EventRecord, bool)]) -> Result<(), IngestError> {
    let messages = records
        .iter()
        .flat_map(|(record, repeat)| record.messages(*repeat))
        .enumerate()
        .map(|(i, message)| {
            let body = serde_json::to_string(&message)
                .map_err(|e| StoreError::Corrupt(format!("delivery message: {e}")))?;
            Ok(OutgoingMessage::new(i.to_string(), body))
        })
        .collect::<Result<Vec<_>, IngestError>>()?;
    queue::send_all(backend.queue.as_ref(), &messages).await?;
    Ok(())
}

/// A valid event as `tenant`'s, with its parsed `data` (for filters) and its fingerprint.
fn admitted(new_event: NewEvent, tenant: &TenantId, now: DateTime<Utc>) -> (Event, Value, String) {
    let given = new_event.timestamp;
    let (event, data) = new_event.into_event_and_data(tenant.clone(), now);
    let fingerprint = fingerprint(&event, given);
    (event, data, fingerprint)
}

/// What makes two posts with one id the same event: its type, its data (the JSON text
/// ingest wrote), and its timestamp when the producer gave one (`given`).
fn fingerprint(event: &Event, given: Option<DateTime<Utc>>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(event.event_type.as_str());
    hasher.update([0]);
    hasher.update(event.data.get());
    hasher.update([0]);
    if let Some(ts) = given {
        hasher.update(ts.timestamp_micros().to_be_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batch's size rule measures exactly what serde_json writes.
    #[test]
    fn json_len_counts_the_bytes_serde_json_writes() {
        for value in [
            json!(null),
            json!({"type": "order.created", "data": {"total": 12.5, "note": "é \" \n"}}),
            json!([1, "two", {"three": [3.0, -4e-7]}]),
        ] {
            assert_eq!(json_len(&value), serde_json::to_vec(&value).unwrap().len());
        }
    }

    /// The fingerprint of an event is stored with it (up to 30 days on AWS): a repeat posted
    /// after an upgrade must still match. This is how it was computed, from the parsed data.
    fn fingerprint_as_first_written(body: &Value) -> String {
        let mut hasher = Sha256::new();
        hasher.update(body["type"].as_str().unwrap_or_default());
        hasher.update([0]);
        hasher.update(serde_json::to_vec(&body["data"]).unwrap_or_default());
        hasher.update([0]);
        if let Some(ts) = body["timestamp"].as_str() {
            let ts = DateTime::parse_from_rfc3339(ts).map(|t| t.timestamp_micros());
            hasher.update(ts.unwrap_or_default().to_be_bytes());
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn an_events_fingerprint_is_what_earlier_versions_stored() {
        let tenant = TenantId::parse("acme").unwrap();
        for body in [
            json!({"id": "evt_1", "type": "order.created", "data": {"z": [1, 2.5, "é\n"], "a": {"c": null, "b": true}}}),
            json!({"type": "order.created", "data": {}, "timestamp": "2026-11-26T08:00:00.123456Z"}),
        ] {
            let new_event = NewEvent::from_json(body.clone()).unwrap();
            let given = new_event.timestamp;
            let event = new_event.into_event(tenant.clone(), Utc::now());
            assert_eq!(
                fingerprint(&event, given),
                fingerprint_as_first_written(&body),
                "{body}"
            );
        }
    }
}
