//! Trying filters: whether an event would pass a filter, or reach a subscription, and if
//! not, which condition stops it. Nothing is stored or sent.

use chrono::Utc;
use serde_json::Value;

use super::ServiceError;
use super::subscriptions;
use crate::Backend;
use crate::domain::{Event, EventEnvelope, Filter, Mismatch, NewEvent, TenantId, ValidationError};

/// Whether `event` (as a producer posts it) meets `filter`, or why not.
pub fn test(tenant: &TenantId, filter: &Value, event: Value) -> Result<Verdict, ServiceError> {
    let filter = Filter::parse(filter)?;
    let event = envelope(tenant, event)?;
    Ok(filter.explain(&EventEnvelope::new(&event)))
}

/// Whether `event` would be delivered to the subscription `id`: it is active, one of its
/// patterns takes the event's type, and its filter, if any, the event.
pub async fn test_subscription(
    backend: &Backend,
    tenant: &TenantId,
    id: &str,
    event: Value,
) -> Result<Verdict, ServiceError> {
    let subscription = subscriptions::get(backend, tenant, id).await?;
    let event = envelope(tenant, event)?;
    if !subscription.active {
        return Ok(Err(Mismatch {
            place: "active".into(),
            reason: "the subscription is paused (active: false) and receives no event".into(),
        }));
    }
    if !subscription
        .events
        .iter()
        .any(|p| p.matches(&event.event_type))
    {
        let patterns: Vec<String> = subscription.events.iter().map(|p| p.to_string()).collect();
        return Ok(Err(Mismatch {
            place: "events".into(),
            reason: format!(
                "{} matches none of the subscription's events ({})",
                event.event_type,
                patterns.join(", ")
            ),
        }));
    }
    Ok(subscription
        .filter
        .as_ref()
        .map_or(Ok(()), |f| f.explain(&EventEnvelope::new(&event))))
}

/// `Ok` when the event matches, else the condition that stopped it.
pub type Verdict = Result<(), Mismatch>;

/// The envelope a posted event would have: checked as ingest checks it, its problems named
/// under `event`.
fn envelope(tenant: &TenantId, body: Value) -> Result<Event, ValidationError> {
    let event = NewEvent::from_json(body).map_err(|e| {
        let field = match e.field.as_str() {
            "body" => "event".to_owned(),
            field => format!("event.{field}"),
        };
        ValidationError::new(field, e.rule)
    })?;
    Ok(event.into_event(tenant.clone(), Utc::now()))
}
