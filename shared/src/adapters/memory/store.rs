//! The embedded backend's store: the same semantics as DynamoDB's conditional writes, in a
//! mutex. (`crate::testing::fault` makes any call of it, or of the DynamoDB store, fail on cue.)

use std::borrow::Borrow;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::DeliveryStatus;
use crate::domain::{
    ApiKey, ApiKeyHash, DeliveryRecord, DeploymentKeys, EventId, EventType, Subscription,
    SubscriptionId, SubscriptionRoute, TenantId, TenantSettings,
};
use crate::ports::store::*;

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Per tenant, by id: an event's routing and a listing read only its own tenant's, and
    /// a lookup borrows the caller's ids. Shared, so the dispatcher's read of one for every
    /// delivery copies nothing.
    subscriptions: HashMap<TenantId, BTreeMap<SubscriptionId, Arc<Subscription>>>,
    events: HashMap<(TenantId, EventId), StoredEvent>,
    /// Per tenant, by delivery id (ids are ULIDs: the newest last, as the listing wants).
    /// Nested so that a lookup borrows the caller's ids and compares only delivery ids.
    deliveries: HashMap<TenantId, BTreeMap<DeliveryKey, StoredDelivery>>,
    api_keys: HashMap<String, ApiKey>,
    event_types: BTreeMap<(TenantId, EventType), CustomEventType>,
    tenants: HashMap<TenantId, TenantSettings>,
    /// Kept as stored text, as DynamoDB keeps it.
    deployment_keys: Option<(u64, String)>,
    /// Per rate-limited subscription: its next free slot.
    rates: HashMap<(TenantId, SubscriptionId), chrono::DateTime<chrono::Utc>>,
    /// Event and delivery writes since the last sweep of expired records.
    writes: usize,
    /// Every event and delivery key in the order it was first written, with the
    /// `expires_at` it had then. Expiry is the write's time plus a fixed retention, so this
    /// order is expiry order: a sweep pops what is due from the front instead of scanning
    /// every record while it holds the lock.
    expiry: VecDeque<(i64, Expiring)>,
}

/// A delivery id as the store's key: kept inline up to 32 bytes (every id Tidings makes is
/// 30, `dlv_` and a ULID), so a lookup in a tenant's sorted map compares the keys in the
/// map's own nodes instead of following a pointer to each (one cache miss per comparison,
/// with hundreds of thousands of records); a longer id goes on the heap. Ordered as its
/// bytes, which is the order of the text.
#[derive(Clone)]
enum DeliveryKey {
    Inline { len: u8, bytes: [u8; 32] },
    Heap(Box<[u8]>),
}

impl DeliveryKey {
    fn new(id: &str) -> Self {
        let id = id.as_bytes();
        match u8::try_from(id.len()) {
            Ok(len) if id.len() <= 32 => {
                let mut bytes = [0; 32];
                bytes[..id.len()].copy_from_slice(id);
                Self::Inline { len, bytes }
            }
            _ => Self::Heap(id.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Heap(bytes) => bytes,
        }
    }
}

impl Borrow<[u8]> for DeliveryKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for DeliveryKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for DeliveryKey {}

impl PartialOrd for DeliveryKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DeliveryKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

/// Encodes a record into a buffer kept per thread, then copies it once into a shared
/// allocation of its exact size: encoding straight into a new buffer grows it five or six
/// times for a record, each time into fresh memory, a measurable share of every attempt.
fn encode(write: impl FnOnce(&mut Vec<u8>) -> Result<(), String>) -> Result<Arc<[u8]>, StoreError> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        write(buffer).map_err(StoreError::Corrupt)?;
        Ok(Arc::from(buffer.as_slice()))
    })
}

/// A record kept as its JSON text, as DynamoDB keeps an item: one allocation where the
/// record itself is twenty-odd (events, whose `data` is JSON text already). Serialised and
/// parsed outside the lock, which is held only to store the text or take a reference to it
/// (shared, so a read copies no text).
#[derive(Clone)]
struct Text(Arc<[u8]>);

impl Text {
    fn of<T: Serialize>(record: &T) -> Result<Self, StoreError> {
        encode(|buffer| serde_json::to_writer(buffer, record).map_err(|e| e.to_string())).map(Self)
    }

    fn open<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        serde_json::from_slice(&self.0).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// A delivery record kept packed (`postcard`: the same serde fields, without their names
/// or JSON's quoting, and timestamps as numbers: [`crate::domain::rfc3339::serialize`]),
/// as one shared allocation like [`Text`]. The embedded backend keeps every delivery
/// record for its retention, so this is most of its memory: about half the bytes of the
/// JSON text (a record with two attempts 473 bytes against 930), written in about a sixth
/// of the time and read in about half.
#[derive(Clone)]
struct Packed(Arc<[u8]>);

impl Packed {
    fn of(record: &DeliveryRecord) -> Result<Self, StoreError> {
        encode(|buffer| {
            postcard::to_io(record, buffer)
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .map(Self)
    }

    fn open(&self) -> Result<DeliveryRecord, StoreError> {
        postcard::from_bytes(&self.0).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// An event record, with what the sweep reads of it.
struct StoredEvent {
    expires_at: i64,
    text: Text,
}

/// A delivery record, with what the store's own conditions, listing and sweep read of it.
struct StoredDelivery {
    subscription_id: SubscriptionId,
    status: DeliveryStatus,
    expires_at: i64,
    record: Packed,
}

impl StoredDelivery {
    fn of(record: &DeliveryRecord) -> Result<Self, StoreError> {
        Ok(Self {
            subscription_id: record.subscription_id.clone(),
            status: record.status,
            expires_at: record.expires_at,
            record: Packed::of(record)?,
        })
    }
}

/// A record the sweep may drop.
enum Expiring {
    Event((TenantId, EventId)),
    Delivery((TenantId, DeliveryKey)),
}

/// How many event and delivery writes pass between two sweeps of expired records.
const SWEEP_EVERY: usize = 4096;

/// How many of a tenant's delivery records a listing looks at each time it holds the lock.
/// Listing a quiet subscription of a busy tenant reads back through up to the retention's
/// records, and every delivery's record read and write waits for that lock meanwhile.
const LIST_CHUNK: usize = 4096;

impl State {
    /// Counts a write, and now and then drops the records whose `expires_at` has passed,
    /// as DynamoDB's TTL does: the embedded backend's memory stays bounded by the retention.
    fn wrote(&mut self) {
        self.writes += 1;
        if self.writes < SWEEP_EVERY {
            return;
        }
        self.writes = 0;
        let now = chrono::Utc::now().timestamp();
        while self.expiry.front().is_some_and(|(at, _)| *at <= now) {
            let Some((_, key)) = self.expiry.pop_front() else {
                break;
            };
            // The record as it is now: kept longer since it was first written (back in line
            // with its new time), or expired (removed; gone already is a no-op).
            let current = match &key {
                Expiring::Event(k) => self.events.get(k).map(|r| r.expires_at),
                Expiring::Delivery((tenant, id)) => self
                    .deliveries
                    .get(tenant)
                    .and_then(|records| records.get(id))
                    .map(|r| r.expires_at),
            };
            match current {
                Some(at) if at > now => self.expiry.push_back((at, key)),
                _ => match &key {
                    Expiring::Event(k) => drop(self.events.remove(k)),
                    Expiring::Delivery((tenant, id)) => {
                        if let Some(records) = self.deliveries.get_mut(tenant) {
                            records.remove(id);
                        }
                    }
                },
            }
        }
    }
}

impl State {
    /// Writes a delivery record, putting a new one in line for the sweep; refuses to
    /// overwrite a success unless `over_success` (one lookup either way).
    fn write_delivery(
        &mut self,
        record: &DeliveryRecord,
        stored: StoredDelivery,
        over_success: bool,
    ) -> Result<(), StoreError> {
        // Looked up before an entry is made: the tenant's id is copied once per tenant, not
        // for every write.
        let records = match self.deliveries.get_mut(&record.tenant) {
            Some(records) => records,
            None => self.deliveries.entry(record.tenant.clone()).or_default(),
        };
        let id = DeliveryKey::new(&record.delivery_id);
        match records.entry(id.clone()) {
            Entry::Occupied(mut kept) => {
                if !over_success && kept.get().status == DeliveryStatus::Succeeded {
                    return Err(StoreError::Conflict);
                }
                kept.insert(stored);
            }
            Entry::Vacant(slot) => {
                slot.insert(stored);
                let key = (record.tenant.clone(), id);
                self.expiry
                    .push_back((record.expires_at, Expiring::Delivery(key)));
            }
        }
        Ok(())
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind, still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read_delivery(
        &self,
        tenant: &TenantId,
        delivery_id: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let packed = self
            .state()
            .deliveries
            .get(tenant)
            .and_then(|records| records.get(delivery_id.as_bytes()))
            .map(|stored| stored.record.clone());
        packed.map(|packed| packed.open()).transpose()
    }
}

#[async_trait]
impl SubscriptionStore for MemoryStore {
    async fn create_subscription(&self, subscription: &Subscription) -> Result<(), StoreError> {
        let mut state = self.state();
        let tenant = state
            .subscriptions
            .entry(subscription.tenant.clone())
            .or_default();
        match tenant.entry(subscription.id.clone()) {
            Entry::Occupied(_) => Err(StoreError::Conflict),
            Entry::Vacant(slot) => {
                slot.insert(Arc::new(subscription.clone()));
                Ok(())
            }
        }
    }

    async fn get_subscription(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError> {
        let shared = self.get_subscription_shared(tenant, id).await?;
        Ok(shared.map(Arc::unwrap_or_clone))
    }

    async fn get_subscription_shared(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Option<Arc<Subscription>>, StoreError> {
        Ok(self
            .state()
            .subscriptions
            .get(tenant)
            .and_then(|subscriptions| subscriptions.get(id))
            .cloned())
    }

    async fn update_subscription(&self, subscription: &Subscription) -> Result<(), StoreError> {
        let mut state = self.state();
        let stored = state
            .subscriptions
            .get_mut(&subscription.tenant)
            .and_then(|subscriptions| subscriptions.get_mut(&subscription.id));
        match stored {
            Some(stored) => {
                *stored = Arc::new(subscription.clone());
                Ok(())
            }
            None => Err(StoreError::Conflict),
        }
    }

    async fn set_subscription_health(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        failing_since: Option<chrono::DateTime<chrono::Utc>>,
        deactivate: bool,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let stored = state
            .subscriptions
            .get_mut(tenant)
            .and_then(|subscriptions| subscriptions.get_mut(id))
            .ok_or(StoreError::Conflict)?;
        // Copied first if a reader holds it: what it read stays as it was.
        let stored = Arc::make_mut(stored);
        stored.failing_since = failing_since;
        if deactivate {
            stored.active = false;
        }
        Ok(())
    }

    async fn list_subscriptions_page(
        &self,
        tenant: &TenantId,
        after: Option<&SubscriptionId>,
        limit: usize,
    ) -> Result<(Vec<Subscription>, bool), StoreError> {
        let state = self.state();
        let Some(subscriptions) = state.subscriptions.get(tenant) else {
            return Ok((Vec::new(), false));
        };
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut page: Vec<Subscription> = subscriptions
            .range((from, Bound::Unbounded))
            .map(|(_, s)| Subscription::clone(s))
            .take(limit + 1)
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        Ok((page, more))
    }

    async fn list_subscriptions(&self, tenant: &TenantId) -> Result<Vec<Subscription>, StoreError> {
        Ok(self
            .state()
            .subscriptions
            .get(tenant)
            .map(|subscriptions| {
                subscriptions
                    .values()
                    .map(|s| Subscription::clone(s))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn list_subscription_routes(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<SubscriptionRoute>, StoreError> {
        Ok(self
            .state()
            .subscriptions
            .get(tenant)
            .map(|subscriptions| subscriptions.values().map(|s| s.route()).collect())
            .unwrap_or_default())
    }

    async fn delete_subscription(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<bool, StoreError> {
        Ok(self
            .state()
            .subscriptions
            .get_mut(tenant)
            .and_then(|subscriptions| subscriptions.remove(id))
            .is_some())
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn insert_event(&self, record: &EventRecord) -> Result<Option<EventRecord>, StoreError> {
        let key = (record.event.tenant.clone(), record.event.id.clone());
        let stored = StoredEvent {
            expires_at: record.expires_at,
            text: Text::of(record)?,
        };
        let existing = {
            let mut state = self.state();
            match state.events.get(&key) {
                Some(existing) => Some(existing.text.clone()),
                None => {
                    state
                        .expiry
                        .push_back((record.expires_at, Expiring::Event(key.clone())));
                    state.events.insert(key, stored);
                    state.wrote();
                    None
                }
            }
        };
        existing.map(|text| text.open()).transpose()
    }

    async fn get_event(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<EventRecord>, StoreError> {
        let text = self
            .state()
            .events
            .get(&(tenant.clone(), id.clone()))
            .map(|stored| stored.text.clone());
        text.map(|text| text.open()).transpose()
    }
}

#[async_trait]
impl DeliveryStore for MemoryStore {
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        delivery_id: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.read_delivery(tenant, delivery_id)
    }

    /// The same read: overridden only so that it is one boxed future, not the default's two.
    async fn get_delivery_relaxed(
        &self,
        tenant: &TenantId,
        delivery_id: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.read_delivery(tenant, delivery_id)
    }

    async fn put_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        let stored = StoredDelivery::of(record)?;
        let mut state = self.state();
        state.write_delivery(record, stored, false)?;
        state.wrote();
        Ok(())
    }

    async fn reset_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        let stored = StoredDelivery::of(record)?;
        self.state().write_delivery(record, stored, true)
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<DeliveryRecord>, bool), StoreError> {
        // From the cursor on, not from the newest: a later page costs no more than the first.
        let mut below: Option<Box<[u8]>> = before.map(|b| b.as_bytes().into());
        let mut packed: Vec<Packed> = Vec::new();
        loop {
            // At most LIST_CHUNK records per hold of the lock, then from the last one seen.
            let exhausted = {
                let state = self.state();
                let Some(records) = state.deliveries.get(tenant) else {
                    break;
                };
                let to = below.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
                let mut last = None;
                let mut count = 0;
                for (key, record) in records
                    .range::<[u8], _>((Bound::Unbounded, to))
                    .rev()
                    .take(LIST_CHUNK)
                {
                    if packed.len() > limit {
                        break;
                    }
                    last = Some(key);
                    count += 1;
                    if &record.subscription_id == subscription {
                        packed.push(record.record.clone());
                    }
                }
                below = last.map(|key| key.as_bytes().into());
                // Fewer than a chunk: the tenant's records ran out before the chunk did.
                count < LIST_CHUNK
            };
            if exhausted || packed.len() > limit {
                break;
            }
            tokio::task::yield_now().await;
        }
        let mut page: Vec<DeliveryRecord> =
            packed.iter().map(Packed::open).collect::<Result<_, _>>()?;
        let more = page.len() > limit;
        page.truncate(limit);
        Ok((page, more))
    }
}

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let mut state = self.state();
        if state.api_keys.contains_key(key.hash.as_str()) {
            return Err(StoreError::Conflict);
        }
        state
            .api_keys
            .insert(key.hash.as_str().to_owned(), key.clone());
        Ok(())
    }

    async fn find_api_key(&self, hash: &ApiKeyHash) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.state().api_keys.get(hash.as_str()).cloned())
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        let mut keys: Vec<ApiKey> = self
            .state()
            .api_keys
            .values()
            .filter(|k| &k.tenant == tenant)
            .cloned()
            .collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(keys)
    }

    async fn delete_api_key(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
        let mut state = self.state();
        let before = state.api_keys.len();
        state
            .api_keys
            .retain(|_, k| !(&k.tenant == tenant && k.id == id));
        Ok(state.api_keys.len() < before)
    }
}

#[async_trait]
impl EventTypeStore for MemoryStore {
    async fn put_event_type(
        &self,
        tenant: &TenantId,
        event_type: &CustomEventType,
    ) -> Result<(), StoreError> {
        let key = (tenant.clone(), event_type.name.clone());
        let mut state = self.state();
        if state.event_types.contains_key(&key) {
            return Err(StoreError::Conflict);
        }
        state.event_types.insert(key, event_type.clone());
        Ok(())
    }

    async fn list_event_types(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<CustomEventType>, StoreError> {
        Ok(self
            .state()
            .event_types
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

#[async_trait]
impl TenantStore for MemoryStore {
    async fn get_tenant_settings(&self, tenant: &TenantId) -> Result<TenantSettings, StoreError> {
        Ok(self
            .state()
            .tenants
            .get(tenant)
            .cloned()
            .unwrap_or_default())
    }

    async fn put_tenant_settings(
        &self,
        tenant: &TenantId,
        settings: &TenantSettings,
    ) -> Result<(), StoreError> {
        self.state()
            .tenants
            .insert(tenant.clone(), settings.clone());
        Ok(())
    }
}

#[async_trait]
impl DeploymentKeyStore for MemoryStore {
    async fn get_deployment_keys(&self) -> Result<Option<DeploymentKeys>, StoreError> {
        self.state()
            .deployment_keys
            .as_ref()
            .map(|(_, text)| {
                serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .transpose()
    }

    async fn put_deployment_keys(
        &self,
        keys: &DeploymentKeys,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(keys).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut state = self.state();
        if state.deployment_keys.as_ref().map(|(v, _)| *v) != expected {
            return Err(StoreError::Conflict);
        }
        state.deployment_keys = Some((keys.version, text));
        Ok(())
    }
}

#[async_trait]
impl RateSchedules for MemoryStore {
    async fn reserve_slot(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
        now: chrono::DateTime<chrono::Utc>,
        step: std::time::Duration,
    ) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
        let mut state = self.state();
        let next = state
            .rates
            .entry((tenant.clone(), subscription.clone()))
            .or_insert(now);
        let (slot, after) = crate::domain::rate_limit::reserve(Some(*next), now, step);
        *next = after;
        Ok(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DeliveryMessage, Event, NewEvent};
    use crate::ports::store::{EventRecord, PlannedDelivery};

    /// An event of tenant `acme`, its planned delivery, and that delivery's message.
    fn an_event() -> (Event, PlannedDelivery, DeliveryMessage) {
        let event = NewEvent::from_json(serde_json::json!({"type": "order.created", "data": {}}))
            .unwrap()
            .into_event(TenantId::parse("acme").unwrap(), chrono::Utc::now());
        let planned = PlannedDelivery::to(SubscriptionId::generate());
        let message = DeliveryMessage::new(
            &event,
            planned.delivery_id.clone(),
            planned.subscription_id.clone(),
        );
        (event, planned, message)
    }

    /// Whether the store still has the delivery record `id` of tenant `acme`.
    async fn has_delivery(store: &MemoryStore, id: &str) -> bool {
        let tenant = TenantId::parse("acme").unwrap();
        store.get_delivery(&tenant, id).await.unwrap().is_some()
    }

    /// Writes enough live delivery records for a sweep.
    async fn sweep(store: &MemoryStore, message: &DeliveryMessage, round: &str) {
        let live_until = chrono::Utc::now().timestamp() + 3600;
        for i in 0..SWEEP_EVERY {
            let mut record = DeliveryRecord::pending(message, live_until);
            record.delivery_id = format!("dlv_{round}_{i}");
            store.put_delivery(&record).await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_delivery_record_reads_back_as_written_and_lists_newest_first() {
        use crate::domain::dialect::Format;
        use crate::domain::{AttemptLog, DeliveryStatus, SentAs};
        let store = MemoryStore::new();
        let (event, _, message) = an_event();
        let at = chrono::Utc::now();
        let mut record = DeliveryRecord::pending(&message, at.timestamp() + 3600);
        record.delivery_id = "dlv_1".into();
        record.log_attempt(AttemptLog {
            at,
            status_code: Some(503),
            error: Some("endpoint answered 503 \"busy\"".into()),
            duration_ms: 12,
            response_body: Some("{\"retry\": true}\n…".into()),
        });
        record.status = DeliveryStatus::Failed;
        record.next_attempt_at = Some(at + chrono::Duration::seconds(5));
        record.sent = Some(SentAs {
            format: Format::Standard,
            event_name: "order.created".into(),
            headers: [
                ("webhook-id", "evt_1"),
                ("webhook-signature", SentAs::ELIDED),
            ]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
        });
        store.put_delivery(&record).await.unwrap();
        let mut newer = record.clone();
        newer.delivery_id = "dlv_2".into();
        store.put_delivery(&newer).await.unwrap();

        let read = store
            .get_delivery(&event.tenant, "dlv_1")
            .await
            .unwrap()
            .unwrap();
        // Times keep DynamoDB's precision: the record's are milliseconds, an attempt's exact.
        let millis = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.timestamp_millis());
        assert_eq!(millis(read.last_attempt_at), millis(record.last_attempt_at));
        assert_eq!(millis(read.next_attempt_at), millis(record.next_attempt_at));
        assert_eq!(read.recent_attempts, record.recent_attempts);
        assert_eq!(read.sent, record.sent);
        assert_eq!(read.last_error, record.last_error);
        assert_eq!((read.status, read.attempts), (DeliveryStatus::Failed, 1));

        let (page, more) = store
            .list_deliveries(&event.tenant, &record.subscription_id, None, 1)
            .await
            .unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].delivery_id, "dlv_2");
        assert!(more);

        // Packed records keep no field names: one with every optional field empty reads
        // back as well (a field skipped when empty would shift every field after it).
        let mut pending = DeliveryRecord::pending(&message, at.timestamp() + 3600);
        pending.delivery_id = "dlv_3".into();
        store.put_delivery(&pending).await.unwrap();
        let read = store.get_delivery(&event.tenant, "dlv_3").await.unwrap();
        assert_eq!(read, Some(pending));
    }

    #[tokio::test]
    async fn a_quiet_subscription_lists_in_full_past_chunks_of_a_busy_one() {
        let store = MemoryStore::new();
        let (event, _, message) = an_event();
        let (busy, quiet) = (message.subscription_id.clone(), SubscriptionId::generate());
        let live_until = chrono::Utc::now().timestamp() + 3600;
        // Ids sort in the order written (as ULIDs do); the quiet subscription's are spread
        // over more than two chunks of the busy one's, the oldest in the last chunk.
        let total = 2 * LIST_CHUNK + 100;
        let quiet_at = [
            10,
            LIST_CHUNK - 1,
            LIST_CHUNK,
            LIST_CHUNK + 1,
            2 * LIST_CHUNK + 50,
        ];
        for i in 0..total {
            let mut record = DeliveryRecord::pending(&message, live_until);
            record.delivery_id = format!("dlv_{i:06}");
            if quiet_at.contains(&i) {
                record.subscription_id = quiet.clone();
            }
            store.put_delivery(&record).await.unwrap();
        }
        let newest_first: Vec<String> = quiet_at
            .iter()
            .rev()
            .map(|i| format!("dlv_{i:06}"))
            .collect();
        let ids = |page: &[DeliveryRecord]| -> Vec<String> {
            page.iter().map(|r| r.delivery_id.clone()).collect()
        };

        let (page, more) = store
            .list_deliveries(&event.tenant, &quiet, None, 10)
            .await
            .unwrap();
        assert_eq!((ids(&page), more), (newest_first.clone(), false));

        // Pages of two, each from the cursor the last one ended at.
        let mut cursor: Option<String> = None;
        let mut paged = Vec::new();
        loop {
            let (page, more) = store
                .list_deliveries(&event.tenant, &quiet, cursor.as_deref(), 2)
                .await
                .unwrap();
            paged.extend(ids(&page));
            cursor = page.last().map(|r| r.delivery_id.clone());
            if !more {
                break;
            }
        }
        assert_eq!(paged, newest_first);

        // The busy subscription's page stops at its limit, in the first chunk.
        let (page, more) = store
            .list_deliveries(&event.tenant, &busy, None, 3)
            .await
            .unwrap();
        let expected: Vec<String> = (total - 3..total)
            .rev()
            .map(|i| format!("dlv_{i:06}"))
            .collect();
        assert_eq!((ids(&page), more), (expected, true));
    }

    #[tokio::test]
    async fn expired_records_are_swept_as_writes_go_on() {
        let store = MemoryStore::new();
        let (event, planned, message) = an_event();
        let tenant = event.tenant.clone();
        let long_ago = chrono::Utc::now() - chrono::Duration::days(2);
        let old = EventRecord::new(
            event.clone(),
            "fp".into(),
            vec![planned.clone()],
            long_ago,
            std::time::Duration::from_secs(3600),
        );
        store.insert_event(&old).await.unwrap();
        sweep(&store, &message, "first").await;
        assert!(
            store.get_event(&tenant, &event.id).await.unwrap().is_none(),
            "the expired event is gone"
        );
        assert!(has_delivery(&store, "dlv_first_0").await);
    }

    #[tokio::test]
    async fn a_record_kept_longer_since_it_was_first_written_outlives_the_sweep() {
        let store = MemoryStore::new();
        let (_, _, message) = an_event();
        let now = chrono::Utc::now().timestamp();
        let mut kept = DeliveryRecord::pending(&message, now - 60);
        kept.delivery_id = "dlv_kept".into();
        store.put_delivery(&kept).await.unwrap();
        let mut dropped = kept.clone();
        dropped.delivery_id = "dlv_dropped".into();
        store.put_delivery(&dropped).await.unwrap();
        // Rewritten with a later expiry (a redrive restarts a record so).
        kept.expires_at = now + 3600;
        store.reset_delivery(&kept).await.unwrap();
        sweep(&store, &message, "first").await;
        assert!(!has_delivery(&store, "dlv_dropped").await);
        assert!(has_delivery(&store, "dlv_kept").await);
        // Swept again later, it is still there and still in line.
        sweep(&store, &message, "again").await;
        assert!(has_delivery(&store, "dlv_kept").await);
        let state = store.state();
        let records: usize = state.deliveries.values().map(BTreeMap::len).sum();
        assert_eq!(state.expiry.len(), records);
    }

    /// The dispatcher's read shares the stored subscription instead of copying it, and a
    /// change after that read leaves what the reader holds as it was.
    #[tokio::test]
    async fn a_shared_subscription_read_copies_nothing_and_sees_later_changes_only_on_the_next_read()
     {
        let tenant = TenantId::parse("acme").unwrap();
        let subscription =
            crate::domain::NewSubscription::for_test("https://shop.example/hooks", &["*"])
                .unwrap()
                .into_subscription(tenant.clone(), chrono::Utc::now());
        let store = MemoryStore::new();
        store.create_subscription(&subscription).await.unwrap();

        let first = store
            .get_subscription_shared(&tenant, &subscription.id)
            .await
            .unwrap();
        let again = store
            .get_subscription_shared(&tenant, &subscription.id)
            .await
            .unwrap();
        let (first, again) = (first.unwrap(), again.unwrap());
        assert!(Arc::ptr_eq(&first, &again), "the same stored copy, shared");

        store
            .set_subscription_health(&tenant, &subscription.id, None, true)
            .await
            .unwrap();
        assert!(first.active, "what a reader holds stays as it read it");
        let after = store
            .get_subscription_shared(&tenant, &subscription.id)
            .await
            .unwrap();
        assert!(
            !after.unwrap().active,
            "the next read sees the deactivation"
        );
        let owned = store
            .get_subscription(&tenant, &subscription.id)
            .await
            .unwrap();
        assert!(!owned.unwrap().active);
    }

    proptest::proptest! {
        /// The store's key keeps the id's bytes and sorts as the text does, inline or not
        /// (ids up to 40 bytes: both sides of the 32-byte inline limit, and ASCII or not).
        #[test]
        fn a_delivery_key_sorts_as_its_text(a in "[a-z0-9_é]{0,40}", b in "[a-z0-9_é]{0,40}") {
            let (ka, kb) = (DeliveryKey::new(&a), DeliveryKey::new(&b));
            proptest::prop_assert_eq!(ka.as_bytes(), a.as_bytes());
            proptest::prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            proptest::prop_assert_eq!(ka == kb, a == b);
        }
    }
}
