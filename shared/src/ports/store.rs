//! Storage ports: small traits the use cases call, each with an in-memory adapter
//! ([`crate::adapters::memory::MemoryStore`]) and a DynamoDB adapter
//! (`tidings_aws::dynamo::DynamoStore`) that keep the same semantics. One contract test
//! suite (`tests/contract.rs`) runs against both.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::{
    ApiKey, ApiKeyHash, DeliveryMessage, DeliveryRecord, DeploymentKeys, Event, EventId, EventType,
    Subscription, SubscriptionId, SubscriptionRoute, TenantId, TenantSettings,
};

#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// A conditional write found the item already there (or no longer as expected).
    #[error("conditional write refused: the item exists or changed")]
    Conflict,
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
}

#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Stores a new subscription; [`StoreError::Conflict`] if its id is taken.
    async fn create_subscription(&self, subscription: &Subscription) -> Result<(), StoreError>;
    async fn get_subscription(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError>;
    /// As [`SubscriptionStore::get_subscription`], shared: the dispatcher reads the
    /// subscription for every delivery, and a store that keeps it in memory hands out its
    /// own copy instead of cloning it each time.
    async fn get_subscription_shared(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Option<Arc<Subscription>>, StoreError> {
        Ok(self.get_subscription(tenant, id).await?.map(Arc::new))
    }
    /// Replaces a stored subscription; [`StoreError::Conflict`] if it does not exist.
    async fn update_subscription(&self, subscription: &Subscription) -> Result<(), StoreError>;
    /// Sets or clears when the endpoint started failing, leaving every other field alone;
    /// `deactivate` also switches the subscription off. [`StoreError::Conflict`] if it is gone.
    async fn set_subscription_health(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        failing_since: Option<chrono::DateTime<chrono::Utc>>,
        deactivate: bool,
    ) -> Result<(), StoreError>;
    /// All the tenant's subscriptions, oldest first.
    async fn list_subscriptions(&self, tenant: &TenantId) -> Result<Vec<Subscription>, StoreError>;
    /// The routes of all the tenant's subscriptions, oldest first: what matching an event
    /// needs, without reading (on AWS, decrypting) any secret.
    async fn list_subscription_routes(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<SubscriptionRoute>, StoreError>;
    /// Up to `limit` of the tenant's subscriptions created after `after`, oldest first, and
    /// whether more follow.
    async fn list_subscriptions_page(
        &self,
        tenant: &TenantId,
        after: Option<&SubscriptionId>,
        limit: usize,
    ) -> Result<(Vec<Subscription>, bool), StoreError>;
    /// Whether there was one to delete.
    async fn delete_subscription(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<bool, StoreError>;
}

pub use crate::domain::PlannedDelivery;

/// The dedup record of an event id within a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Kept as JSON text so the stored event is byte-for-byte what was accepted.
    #[serde(with = "json_text")]
    pub event: Event,
    /// SHA-256 of the producer's type and data: a reused id with other content is refused.
    pub fingerprint: String,
    pub deliveries: Vec<PlannedDelivery>,
    pub expires_at: i64,
}

impl EventRecord {
    /// The record of an event just accepted, kept for `ttl` from `now`.
    pub fn new(
        event: Event,
        fingerprint: String,
        deliveries: Vec<PlannedDelivery>,
        now: chrono::DateTime<chrono::Utc>,
        ttl: std::time::Duration,
    ) -> Self {
        Self {
            event,
            fingerprint,
            deliveries,
            expires_at: (now + ttl).timestamp(),
        }
    }

    /// The queue message of one of its planned deliveries.
    pub fn message(&self, planned: &PlannedDelivery) -> DeliveryMessage {
        DeliveryMessage::new(
            &self.event,
            planned.delivery_id.clone(),
            planned.subscription_id.clone(),
        )
    }

    /// The queue messages of all its planned deliveries: up to
    /// [`DeliveryMessage::MAX_DELIVERIES`] share one message, which costs a fraction of a
    /// queue request each; `repeat` when a producer posted the event's id again (see
    /// [`DeliveryMessage::repeat`]).
    pub fn messages(&self, repeat: bool) -> Vec<DeliveryMessage> {
        self.deliveries
            .chunks(DeliveryMessage::MAX_DELIVERIES)
            .map(|chunk| DeliveryMessage {
                repeat,
                more: chunk[1..].to_vec(),
                ..self.message(&chunk[0])
            })
            .collect()
    }
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores the record if its (tenant, id) is new; otherwise returns the existing one
    /// untouched.
    async fn insert_event(&self, record: &EventRecord) -> Result<Option<EventRecord>, StoreError>;
    async fn get_event(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<EventRecord>, StoreError>;
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        delivery_id: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError>;
    /// As [`get_delivery`](Self::get_delivery), where a read that misses a write of the last
    /// second or so will do (DynamoDB's eventually consistent read, at half the price): the
    /// dispatcher's check for a delivery already settled, whose writes are seconds older.
    async fn get_delivery_relaxed(
        &self,
        tenant: &TenantId,
        delivery_id: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.get_delivery(tenant, delivery_id).await
    }
    /// Writes the record unless the stored one already succeeded ([`StoreError::Conflict`]):
    /// a success is never overwritten.
    async fn put_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError>;
    /// Writes the record whatever the stored one says: a replay starts a delivery over.
    async fn reset_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError>;
    /// Up to `limit` of a subscription's deliveries older than `before`, newest first, and
    /// whether more follow.
    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<DeliveryRecord>, bool), StoreError>;
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key; [`StoreError::Conflict`] if the same hash is already stored.
    async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn find_api_key(&self, hash: &ApiKeyHash) -> Result<Option<ApiKey>, StoreError>;
    /// The tenant's keys, oldest first.
    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError>;
    /// Revokes a key at once; whether the tenant had it.
    async fn delete_api_key(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// The tenant's settings; the defaults when it never set any.
    async fn get_tenant_settings(&self, tenant: &TenantId) -> Result<TenantSettings, StoreError>;
    /// Replaces the tenant's settings.
    async fn put_tenant_settings(
        &self,
        tenant: &TenantId,
        settings: &TenantSettings,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait DeploymentKeyStore: Send + Sync {
    /// The deployment's RSA keys for Saleor's JWS, if any were made yet.
    async fn get_deployment_keys(&self) -> Result<Option<DeploymentKeys>, StoreError>;
    /// Stores `keys` if the stored version is still `expected` (`None`: none stored yet);
    /// [`StoreError::Conflict`] otherwise.
    async fn put_deployment_keys(
        &self,
        keys: &DeploymentKeys,
        expected: Option<u64>,
    ) -> Result<(), StoreError>;
}

/// An event type a tenant registered beside the catalog's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomEventType {
    pub name: EventType,
    pub description: String,
}

#[async_trait]
pub trait EventTypeStore: Send + Sync {
    /// Registers a type; [`StoreError::Conflict`] if the tenant has it already.
    async fn put_event_type(
        &self,
        tenant: &TenantId,
        event_type: &CustomEventType,
    ) -> Result<(), StoreError>;
    /// The tenant's own types, by name.
    async fn list_event_types(&self, tenant: &TenantId)
    -> Result<Vec<CustomEventType>, StoreError>;
}

mod json_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::Event;

    pub fn serialize<S: Serializer>(event: &Event, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(event).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}

/// The schedules of rate-limited subscriptions, shared by every dispatcher: what holds a
/// subscription's rate limit across Lambda containers (see `domain::rate_limit`).
#[async_trait]
pub trait RateSchedules: Send + Sync {
    /// Reserves the next free slot of `subscription`'s schedule for a delivery asking `now`,
    /// slots `step` apart, and returns it.
    async fn reserve_slot(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
        now: chrono::DateTime<chrono::Utc>,
        step: std::time::Duration,
    ) -> Result<chrono::DateTime<chrono::Utc>, StoreError>;
}
