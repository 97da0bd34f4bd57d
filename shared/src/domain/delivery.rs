//! Deliveries: the queue message of one event for one subscription, and the record of
//! its attempts.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dialect::Format;
use super::{Event, EventId, EventType, SubscriptionId, TenantId};

/// The body of one queue message: one event for one subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryMessage {
    pub delivery_id: String,
    pub tenant: TenantId,
    pub subscription_id: SubscriptionId,
    /// Shared: the deliveries one message carries ([`DeliveryMessage::split`]) each refer
    /// to the one event instead of a copy of its ids and data.
    pub event: Arc<Event>,
    /// Sent again because the producer posted the event's id again. Ingest cannot tell
    /// whether its first try got every message onto the queue (it writes once, before
    /// sending), so it sends a repeat; the dispatcher drops a repeat whose delivery already
    /// has a record, since the first message then carries it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repeat: bool,
    /// More deliveries of the same event, to other subscriptions: one message carries an
    /// event's first attempts to all its subscriptions (a fraction of the queue requests of
    /// a message each). A delivery of them that fails goes on in a message of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<PlannedDelivery>,
    /// Not to be attempted before: set on a retry whose backoff is longer than the queue can
    /// delay a message (15 minutes), which comes back early and waits out the rest.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_rfc3339")]
    pub not_before: Option<DateTime<Utc>>,
    /// The rate-limit slot it reserved before it was held back to wait for it (see
    /// `domain::rate_limit`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_rfc3339")]
    pub slot: Option<DateTime<Utc>>,
}

/// One delivery an event was resolved to when it was first accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedDelivery {
    pub delivery_id: String,
    pub subscription_id: SubscriptionId,
}

impl PlannedDelivery {
    /// A new delivery (with a fresh id) to `subscription_id`.
    pub fn to(subscription_id: SubscriptionId) -> Self {
        Self {
            delivery_id: crate::ids::new_id("dlv"),
            subscription_id,
        }
    }
}

impl DeliveryMessage {
    /// The delivery `delivery_id` of `event` to `subscription_id`.
    pub fn new(event: &Event, delivery_id: String, subscription_id: SubscriptionId) -> Self {
        Self {
            delivery_id,
            tenant: event.tenant.clone(),
            subscription_id,
            event: Arc::new(event.clone()),
            repeat: false,
            more: Vec::new(),
            not_before: None,
            slot: None,
        }
    }

    /// The most deliveries one message carries.
    pub const MAX_DELIVERIES: usize = 10;

    /// Each delivery this message carries, as a message of its own.
    pub fn split(mut self) -> Vec<DeliveryMessage> {
        // Taken first, so each part clones the message without the list.
        let more = std::mem::take(&mut self.more);
        let mut parts: Vec<DeliveryMessage> = more
            .into_iter()
            .map(|planned| DeliveryMessage {
                delivery_id: planned.delivery_id,
                subscription_id: planned.subscription_id,
                ..self.clone()
            })
            .collect();
        parts.insert(0, self);
        parts
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Queued, no attempt finished yet.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// The last attempt failed; another is scheduled.
    Failed,
    /// Every attempt failed; the message is in the dead-letter queue.
    Dead,
    /// Not sent: the subscription was deleted or deactivated.
    Skipped,
}

/// What happened to one delivery (event × subscription) so far. The embedded store packs
/// it without field names (`postcard`), so no field may be skipped when empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub delivery_id: String,
    pub tenant: TenantId,
    pub subscription_id: SubscriptionId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub status_code: Option<u16>,
    pub last_error: Option<String>,
    #[serde(default, with = "opt_rfc3339")]
    pub last_attempt_at: Option<DateTime<Utc>>,
    #[serde(default, with = "opt_rfc3339")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    /// The last few attempts, newest first.
    #[serde(default)]
    pub recent_attempts: Vec<AttemptLog>,
    /// How the last attempt went out on the wire.
    #[serde(default)]
    pub sent: Option<SentAs>,
    /// Unix seconds after which the store may drop the record (DynamoDB TTL).
    pub expires_at: i64,
}

/// How a delivery went out: its format, the event name in that format's spelling, and the
/// headers sent, signature values elided (`…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentAs {
    pub format: Format,
    pub event_name: String,
    /// Borrowed where a name or value is one of the program's own (`webhook-id`, `…`), so a
    /// delivery copies only the values that are its own.
    pub headers: BTreeMap<Cow<'static, str>, Cow<'static, str>>,
}

impl SentAs {
    /// What stands for a signature value in the record.
    pub const ELIDED: &'static str = "…";
}

/// One attempt, as an operator sees it when finding out why a delivery failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptLog {
    #[serde(with = "super::event::rfc3339")]
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// The first [`AttemptLog::BODY_PREFIX`] bytes of the endpoint's answer.
    pub response_body: Option<String>,
}

impl AttemptLog {
    pub const BODY_PREFIX: usize = 1024;
    /// How many attempts a record keeps.
    pub const KEPT: usize = 5;
}

impl DeliveryRecord {
    /// The record of a delivery nobody has attempted yet.
    pub fn pending(message: &DeliveryMessage, expires_at: i64) -> Self {
        Self {
            delivery_id: message.delivery_id.clone(),
            tenant: message.tenant.clone(),
            subscription_id: message.subscription_id.clone(),
            event_id: message.event.id.clone(),
            event_type: message.event.event_type.clone(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            status_code: None,
            last_error: None,
            last_attempt_at: None,
            next_attempt_at: None,
            duration_ms: None,
            recent_attempts: Vec::new(),
            sent: None,
            expires_at,
        }
    }

    /// Starts a new round of attempts (a retry, a recovery or a redrive).
    pub fn restart(&mut self) {
        self.status = DeliveryStatus::Pending;
        self.attempts = 0;
        self.next_attempt_at = None;
    }

    pub fn success(&self) -> bool {
        self.status == DeliveryStatus::Succeeded
    }

    /// Records an attempt: the summary fields and the log of recent attempts.
    pub fn log_attempt(&mut self, attempt: AttemptLog) {
        self.attempts += 1;
        self.status_code = attempt.status_code;
        self.last_error = attempt.error.clone();
        self.last_attempt_at = Some(attempt.at);
        self.duration_ms = Some(attempt.duration_ms);
        self.next_attempt_at = None;
        self.recent_attempts.insert(0, attempt);
        self.recent_attempts.truncate(AttemptLog::KEPT);
    }
}

pub(super) mod opt_rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::rfc3339;

    pub fn serialize<S: Serializer>(
        value: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            // As an option (in JSON, the same bare string), so that a format that marks
            // `Some` reads it back.
            Some(t) => s.serialize_some(&rfc3339::Precise(t, SecondsFormat::Millis)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        /// A present timestamp, read as [`rfc3339::parse`] reads one.
        #[derive(Deserialize)]
        struct Present(#[serde(deserialize_with = "rfc3339::parse")] DateTime<Utc>);
        Ok(Option::<Present>::deserialize(d)?.map(|Present(t)| t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewEvent;

    #[test]
    fn split_gives_the_first_delivery_then_the_others_in_order_each_on_its_own() {
        let event =
            NewEvent::from_json(serde_json::json!({"type": "order.created", "data": {"n": 1}}))
                .unwrap()
                .into_event(TenantId::parse("acme").unwrap(), Utc::now());
        let first = SubscriptionId::generate();
        let others = [
            PlannedDelivery::to(SubscriptionId::generate()),
            PlannedDelivery::to(SubscriptionId::generate()),
        ];
        let message = DeliveryMessage {
            repeat: true,
            more: others.to_vec(),
            ..DeliveryMessage::new(&event, "dlv_first".into(), first.clone())
        };
        let parts = message.split();
        let ids: Vec<(&str, &SubscriptionId)> = parts
            .iter()
            .map(|p| (p.delivery_id.as_str(), &p.subscription_id))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("dlv_first", &first),
                (others[0].delivery_id.as_str(), &others[0].subscription_id),
                (others[1].delivery_id.as_str(), &others[1].subscription_id),
            ]
        );
        for part in &parts {
            assert!(part.more.is_empty());
            assert!(part.repeat, "the message's flags go with every part");
            assert_eq!(*part.event, event);
        }
    }
}
