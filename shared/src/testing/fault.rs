//! Failures on cue: decorators around any backend's ports (in-memory or AWS) that make
//! chosen calls fail, so a test can make exactly one AWS call fail and watch what follows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::Backend;
use crate::domain::{DeliveryRecord, EventId, SubscriptionId, TenantId};
use crate::ports::keys::{DataKey, DataKeys, KeyError};
use crate::ports::queue::{
    DeliveryQueue, OutgoingMessage, QueueError, QueueStats, ReceivedMessage,
};
use crate::ports::store::{DeliveryStore, EventRecord, EventStore, StoreError};

/// How a planned store call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Failure {
    /// An outage: throttling, a network error, a service down.
    #[default]
    Unavailable,
    /// A conditional write refused.
    Conflict,
    /// An item that cannot be read back.
    Corrupt,
}

/// Planned failures, by operation: a port method's name, or `send_batch_entry` for one
/// entry of a `SendMessageBatch` that SQS refuses while accepting the others.
#[derive(Default)]
pub struct Faults {
    pending: Mutex<HashMap<&'static str, (usize, Failure)>>,
}

impl Faults {
    /// Wraps `backend`'s queue, event store and delivery store; returns the wrapped backend
    /// and the switchboard that makes their calls fail.
    pub fn inject(mut backend: Backend) -> (Backend, Arc<Faults>) {
        let faults = Arc::new(Faults::default());
        backend.queue = Arc::new(FaultyQueue {
            inner: backend.queue,
            faults: faults.clone(),
        });
        backend.events = Arc::new(FaultyEvents {
            inner: backend.events,
            faults: faults.clone(),
        });
        backend.deliveries = Arc::new(FaultyDeliveries {
            inner: backend.deliveries,
            faults: faults.clone(),
        });
        (backend, faults)
    }

    /// Wraps a key service (KMS): `generate_data_key` and `decrypt_data_key` then fail on
    /// cue, as KMS would when it is down. Build the store with it
    /// (`tidings_aws::dynamo_store_with_keys`, `tidings_aws::backend_with_keys`): the cipher
    /// sits inside the store, so [`Faults::inject`] cannot reach it afterwards.
    pub fn wrap_keys(self: &Arc<Self>, inner: Arc<dyn DataKeys>) -> Arc<dyn DataKeys> {
        Arc::new(FaultyKeys {
            inner,
            faults: self.clone(),
        })
    }

    /// Ends the planned failures of `operation`: the service is back.
    pub fn recover(&self, operation: &'static str) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.remove(operation);
    }

    /// Makes the next `count` calls of `operation` fail as an outage.
    pub fn fail_next(&self, operation: &'static str, count: usize) {
        self.fail_next_with(operation, count, Failure::Unavailable);
    }

    /// Makes the next `count` calls of `operation` fail with `failure` (store calls; a
    /// queue call always fails as an outage).
    pub fn fail_next_with(&self, operation: &'static str, count: usize, failure: Failure) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let planned = pending.entry(operation).or_default();
        planned.0 += count;
        planned.1 = failure;
    }

    /// How this call of `operation` should fail, using up one planned failure.
    fn planned(&self, operation: &'static str) -> Option<Failure> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.get_mut(operation) {
            Some((n, failure)) if *n > 0 => {
                *n -= 1;
                Some(*failure)
            }
            _ => None,
        }
    }

    fn should_fail(&self, operation: &'static str) -> bool {
        self.planned(operation).is_some()
    }

    fn queue(&self, operation: &'static str) -> Result<(), QueueError> {
        if self.should_fail(operation) {
            Err(QueueError::Unavailable(format!(
                "injected failure in {operation}"
            )))
        } else {
            Ok(())
        }
    }

    fn store(&self, operation: &'static str) -> Result<(), StoreError> {
        match self.planned(operation) {
            None => Ok(()),
            Some(Failure::Unavailable) => Err(StoreError::Unavailable(format!(
                "injected failure in {operation}"
            ))),
            Some(Failure::Conflict) => Err(StoreError::Conflict),
            Some(Failure::Corrupt) => Err(StoreError::Corrupt(format!(
                "injected malformed item in {operation}"
            ))),
        }
    }
}

struct FaultyQueue {
    inner: Arc<dyn DeliveryQueue>,
    faults: Arc<Faults>,
}

#[async_trait]
impl DeliveryQueue for FaultyQueue {
    async fn send_batch(&self, entries: &[OutgoingMessage]) -> Result<Vec<String>, QueueError> {
        self.faults.queue("send_batch")?;
        let (refused, accepted): (Vec<&OutgoingMessage>, Vec<&OutgoingMessage>) = entries
            .iter()
            .partition(|_| self.faults.should_fail("send_batch_entry"));
        let accepted: Vec<OutgoingMessage> = accepted.into_iter().cloned().collect();
        let mut failed = if accepted.is_empty() {
            Vec::new()
        } else {
            self.inner.send_batch(&accepted).await?
        };
        failed.extend(refused.into_iter().map(|e| e.entry_id.clone()));
        Ok(failed)
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.faults.queue("receive")?;
        self.inner.receive(max, wait).await
    }

    fn receive_ready(&self, max: usize) -> Vec<ReceivedMessage> {
        // A failing look is one that finds nothing.
        if self.faults.should_fail("receive_ready") {
            return Vec::new();
        }
        self.inner.receive_ready(max)
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.faults.queue("delete")?;
        self.inner.delete(receipt_handle).await
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        self.faults.queue("change_visibility")?;
        self.inner.change_visibility(receipt_handle, timeout).await
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError> {
        self.faults.queue("dead_letter")?;
        self.inner.dead_letter(body, reason).await
    }

    async fn release_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.faults.queue("release_dead_letter")?;
        self.inner.release_dead_letter(receipt_handle).await
    }

    async fn delete_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.faults.queue("delete_dead_letter")?;
        self.inner.delete_dead_letter(receipt_handle).await
    }

    async fn start_dead_letter_move(&self) -> Result<bool, QueueError> {
        self.faults.queue("start_dead_letter_move")?;
        self.inner.start_dead_letter_move().await
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        self.faults.queue("stats")?;
        self.inner.stats().await
    }

    async fn receive_dead_letters(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.faults.queue("receive_dead_letters")?;
        self.inner.receive_dead_letters(max, wait).await
    }
}

struct FaultyEvents {
    inner: Arc<dyn EventStore>,
    faults: Arc<Faults>,
}

#[async_trait]
impl EventStore for FaultyEvents {
    async fn insert_event(&self, record: &EventRecord) -> Result<Option<EventRecord>, StoreError> {
        self.faults.store("insert_event")?;
        self.inner.insert_event(record).await
    }

    async fn get_event(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<EventRecord>, StoreError> {
        self.faults.store("get_event")?;
        self.inner.get_event(tenant, id).await
    }
}

struct FaultyDeliveries {
    inner: Arc<dyn DeliveryStore>,
    faults: Arc<Faults>,
}

#[async_trait]
impl DeliveryStore for FaultyDeliveries {
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        delivery_id: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.faults.store("get_delivery")?;
        self.inner.get_delivery(tenant, delivery_id).await
    }

    async fn get_delivery_relaxed(
        &self,
        tenant: &TenantId,
        delivery_id: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.faults.store("get_delivery")?;
        self.inner.get_delivery_relaxed(tenant, delivery_id).await
    }

    async fn put_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        self.faults.store("put_delivery")?;
        self.inner.put_delivery(record).await
    }

    async fn reset_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        self.faults.store("reset_delivery")?;
        self.inner.reset_delivery(record).await
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<DeliveryRecord>, bool), StoreError> {
        self.faults.store("list_deliveries")?;
        self.inner
            .list_deliveries(tenant, subscription, before, limit)
            .await
    }
}

struct FaultyKeys {
    inner: Arc<dyn DataKeys>,
    faults: Arc<Faults>,
}

impl FaultyKeys {
    fn check(&self, operation: &'static str) -> Result<(), KeyError> {
        match self.faults.planned(operation) {
            None => Ok(()),
            Some(Failure::Corrupt) => Err(KeyError::Rejected(format!(
                "injected InvalidCiphertextException in {operation}"
            ))),
            Some(_) => Err(KeyError::Unavailable(format!(
                "injected failure in {operation}"
            ))),
        }
    }
}

#[async_trait]
impl DataKeys for FaultyKeys {
    async fn generate_data_key(&self, context: &str) -> Result<DataKey, KeyError> {
        self.check("generate_data_key")?;
        self.inner.generate_data_key(context).await
    }

    async fn decrypt_data_key(&self, encrypted: &[u8], context: &str) -> Result<Vec<u8>, KeyError> {
        self.check("decrypt_data_key")?;
        self.inner.decrypt_data_key(encrypted, context).await
    }
}
