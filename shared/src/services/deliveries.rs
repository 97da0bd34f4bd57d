//! Deliveries and replay: looking them up, sending one again, recovering a subscription's
//! failures, and the dead-letter queue (peek and redrive). The HTTP handlers and the CLI
//! call these.

use chrono::{DateTime, Utc};

use super::{PageLimit, ServiceError, subscriptions};
use crate::Backend;
use crate::domain::{
    DeliveryMessage, DeliveryRecord, DeliveryStatus, EventId, TenantId, ValidationError,
};
use crate::ports::queue::{self, OutgoingMessage, ReceivedMessage};
use crate::ports::store::{EventRecord, StoreError};

/// How many dead letters one peek or redrive looks at, at most.
const DEAD_LETTER_SCAN: usize = 1000;

#[derive(Debug, Clone, Default)]
pub struct ListDeliveries {
    /// 1 to 100, default 20.
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `pending`, `succeeded`, `failed`, `dead` or `skipped`.
    pub status: Option<DeliveryStatus>,
    /// Only deliveries created at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only deliveries created before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

/// When a delivery was created, read from its ULID.
fn created_at(delivery_id: &str) -> Option<DateTime<Utc>> {
    let ulid = ulid::Ulid::from_string(delivery_id.strip_prefix("dlv_")?).ok()?;
    Some(DateTime::<Utc>::from(ulid.datetime()))
}

/// A subscription's deliveries, newest first, filtered by status and creation time.
pub async fn list(
    backend: &Backend,
    tenant: &TenantId,
    subscription: &str,
    query: ListDeliveries,
) -> Result<(Vec<DeliveryRecord>, Option<String>), ServiceError> {
    let subscription = subscriptions::get(backend, tenant, subscription).await?.id;
    let limit = PageLimit::parse(query.limit)?.get();
    let mut before = match query.cursor {
        Some(c) if created_at(&c).is_some() => Some(c),
        Some(_) => {
            return Err(ValidationError::new("cursor", "is not a cursor this API returned").into());
        }
        None => None,
    };
    let mut found = Vec::with_capacity(limit);
    loop {
        let (page, more) = backend
            .deliveries
            .list_deliveries(tenant, &subscription, before.as_deref(), limit)
            .await?;
        let read = page.len();
        for (i, record) in page.into_iter().enumerate() {
            before = Some(record.delivery_id.clone());
            let created = created_at(&record.delivery_id);
            if query
                .since
                .is_some_and(|since| created.is_some_and(|c| c < since))
            {
                // Newest first: everything after this is older still.
                return Ok((found, None));
            }
            let in_range = query
                .until
                .is_none_or(|until| created.is_some_and(|c| c < until));
            if in_range && query.status.is_none_or(|s| s == record.status) {
                found.push(record);
            }
            if found.len() == limit {
                let remaining = i + 1 < read || more;
                return Ok((found, before.filter(|_| remaining)));
            }
        }
        if !more || read == 0 {
            return Ok((found, None));
        }
    }
}

pub async fn get(
    backend: &Backend,
    tenant: &TenantId,
    id: &str,
) -> Result<DeliveryRecord, ServiceError> {
    backend
        .deliveries
        .get_delivery(tenant, id)
        .await?
        .ok_or(ServiceError::NotFound("delivery"))
}

/// An event and each of its deliveries (a delivery not attempted yet shows as pending).
pub async fn event(
    backend: &Backend,
    tenant: &TenantId,
    id: &str,
) -> Result<(EventRecord, Vec<DeliveryRecord>), ServiceError> {
    let id = EventId::parse(id).map_err(|_| ServiceError::NotFound("event"))?;
    let record = backend
        .events
        .get_event(tenant, &id)
        .await?
        .ok_or(ServiceError::NotFound("event"))?;
    let mut deliveries = Vec::with_capacity(record.deliveries.len());
    for planned in &record.deliveries {
        let delivery = match backend
            .deliveries
            .get_delivery(tenant, &planned.delivery_id)
            .await?
        {
            Some(d) => d,
            None => DeliveryRecord::pending(&record.message(planned), record.expires_at),
        };
        deliveries.push(delivery);
    }
    Ok((record, deliveries))
}

/// Sends one delivery again now, whatever became of it: a new round of attempts.
pub async fn retry(
    backend: &Backend,
    tenant: &TenantId,
    id: &str,
) -> Result<DeliveryRecord, ServiceError> {
    let record = get(backend, tenant, id).await?;
    let event = backend
        .events
        .get_event(tenant, &record.event_id)
        .await?
        .ok_or_else(|| {
            ServiceError::Conflict(format!(
                "event {} has expired and cannot be sent again",
                record.event_id
            ))
        })?;
    requeue(backend, &event, record).await
}

async fn requeue(
    backend: &Backend,
    event: &EventRecord,
    mut record: DeliveryRecord,
) -> Result<DeliveryRecord, ServiceError> {
    record.restart();
    backend.deliveries.reset_delivery(&record).await?;
    let body = serde_json::to_string(&DeliveryMessage::new(
        &event.event,
        record.delivery_id.clone(),
        record.subscription_id.clone(),
    ))
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    queue::send_all(backend.queue.as_ref(), &[OutgoingMessage::new("0", body)]).await?;
    Ok(record)
}

#[derive(Debug, Clone)]
pub struct Recover {
    /// Re-send the failed and dead deliveries created at or after this time (RFC 3339).
    pub since: DateTime<Utc>,
}

/// Re-enqueues every failed or dead delivery of a subscription created since `since`.
/// Returns how many.
pub async fn recover(
    backend: &Backend,
    tenant: &TenantId,
    subscription: &str,
    req: Recover,
) -> Result<usize, ServiceError> {
    let mut cursor = None;
    let mut count = 0;
    loop {
        let query = ListDeliveries {
            limit: Some(100),
            cursor,
            since: Some(req.since),
            ..ListDeliveries::default()
        };
        let (page, next) = list(backend, tenant, subscription, query).await?;
        for record in page {
            if !matches!(record.status, DeliveryStatus::Failed | DeliveryStatus::Dead) {
                continue;
            }
            if let Some(event) = backend.events.get_event(tenant, &record.event_id).await? {
                requeue(backend, &event, record).await?;
                count += 1;
            }
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(count),
        }
    }
}

/// A message of the dead-letter queue, as a tenant sees it.
pub struct DeadLetter {
    pub message: DeliveryMessage,
    pub reason: Option<String>,
}

/// The next dead letters, each with its delivery when it names one of `tenant` (of any
/// tenant when `None`).
async fn next_dead_letters(
    backend: &Backend,
    tenant: Option<&TenantId>,
) -> Result<Vec<(ReceivedMessage, Option<DeliveryMessage>)>, ServiceError> {
    let batch = backend
        .queue
        .receive_dead_letters(10, std::time::Duration::ZERO)
        .await?;
    Ok(batch
        .into_iter()
        .map(|m| {
            let delivery = serde_json::from_str::<DeliveryMessage>(&m.body)
                .ok()
                .filter(|d| tenant.is_none_or(|t| &d.tenant == t));
            (m, delivery)
        })
        .collect())
}

/// Makes dead letters received but not taken visible again.
async fn release(backend: &Backend, receipts: Vec<String>) {
    for receipt in receipts {
        if let Err(e) = backend.queue.release_dead_letter(&receipt).await {
            tracing::warn!(error = %e, "cannot release a dead letter; it comes back after the visibility timeout");
        }
    }
}

/// Up to `limit` of the tenant's dead letters, left in the queue.
pub async fn peek_dead_letters(
    backend: &Backend,
    tenant: &TenantId,
    limit: usize,
) -> Result<Vec<DeadLetter>, ServiceError> {
    let mut found = Vec::new();
    let mut receipts = Vec::new();
    let mut seen = 0;
    let outcome = async {
        while seen < DEAD_LETTER_SCAN && found.len() < limit {
            let batch = next_dead_letters(backend, Some(tenant)).await?;
            if batch.is_empty() {
                break;
            }
            seen += batch.len();
            for (m, delivery) in batch {
                if let Some(message) = delivery.filter(|_| found.len() < limit) {
                    found.push(DeadLetter {
                        message,
                        reason: m.reason.clone(),
                    });
                }
                receipts.push(m.receipt_handle);
            }
        }
        Ok::<_, ServiceError>(())
    }
    .await;
    release(backend, receipts).await;
    outcome.map(|()| found)
}

/// Moves the tenant's dead letters (every tenant's when `None`) back to the deliveries
/// queue, one by one, each delivery starting a new round of attempts. Returns how many.
pub async fn redrive_dead_letters(
    backend: &Backend,
    tenant: Option<&TenantId>,
) -> Result<usize, ServiceError> {
    let mut moved = 0;
    let mut others = Vec::new();
    let mut seen = 0;
    let outcome = async {
        while seen < DEAD_LETTER_SCAN {
            let batch = next_dead_letters(backend, tenant).await?;
            if batch.is_empty() {
                break;
            }
            seen += batch.len();
            for (m, delivery) in batch {
                match delivery {
                    Some(message) => {
                        move_back(backend, &m, &message).await?;
                        moved += 1;
                    }
                    None => others.push(m.receipt_handle),
                }
            }
        }
        Ok::<_, ServiceError>(())
    }
    .await;
    release(backend, others).await;
    outcome.map(|()| moved)
}

/// One dead letter back to the deliveries queue: sent first, deleted after, so a failure in
/// between leaves a copy rather than nothing.
async fn move_back(
    backend: &Backend,
    m: &ReceivedMessage,
    message: &DeliveryMessage,
) -> Result<(), ServiceError> {
    let record = backend
        .deliveries
        .get_delivery(&message.tenant, &message.delivery_id)
        .await?;
    // A delivery that succeeded since (through a retry or a recovery) stays settled.
    if let Some(mut record) = record.filter(|r| r.status == DeliveryStatus::Dead) {
        record.restart();
        backend.deliveries.reset_delivery(&record).await?;
    }
    queue::send_all(
        backend.queue.as_ref(),
        &[OutgoingMessage::new("0", m.body.to_string())],
    )
    .await?;
    backend.queue.delete_dead_letter(&m.receipt_handle).await?;
    Ok(())
}

/// The operator's redrive of the whole dead-letter queue: SQS's own mover where there is
/// one, else one by one. Returns `None` when SQS moves them (asynchronously).
pub async fn redrive_all(backend: &Backend) -> Result<Option<usize>, ServiceError> {
    if backend.queue.start_dead_letter_move().await? {
        return Ok(None);
    }
    redrive_dead_letters(backend, None).await.map(Some)
}
