//! The ports: what the use cases need from storage and the queue, as traits. Adapters for
//! them live in [`crate::adapters`] (in memory) and the `tidings-aws` crate (DynamoDB, SQS,
//! KMS); [`Backend`] bundles one deployment's set.

pub mod keys;
pub mod queue;
pub mod store;

use std::sync::Arc;

use queue::DeliveryQueue;
use store::{
    ApiKeyStore, DeliveryStore, DeploymentKeyStore, EventStore, EventTypeStore, RateSchedules,
    SubscriptionStore, TenantStore,
};

/// The ports one deployment uses: all in memory ([`crate::adapters::Embedded`]), or all on
/// AWS (`tidings_aws::backend`).
#[derive(Clone)]
pub struct Backend {
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub events: Arc<dyn EventStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub api_keys: Arc<dyn ApiKeyStore>,
    pub event_types: Arc<dyn EventTypeStore>,
    pub tenants: Arc<dyn TenantStore>,
    pub deployment_keys: Arc<dyn DeploymentKeyStore>,
    pub rates: Arc<dyn RateSchedules>,
    pub queue: Arc<dyn DeliveryQueue>,
}

impl Backend {
    /// Every store port served by one `store` (each adapter keeps every kind of record in one
    /// place: a table, or memory), beside `queue`.
    pub fn new<S>(store: Arc<S>, queue: Arc<dyn DeliveryQueue>) -> Self
    where
        S: SubscriptionStore
            + EventStore
            + DeliveryStore
            + ApiKeyStore
            + EventTypeStore
            + TenantStore
            + DeploymentKeyStore
            + RateSchedules
            + 'static,
    {
        Self {
            subscriptions: store.clone(),
            events: store.clone(),
            deliveries: store.clone(),
            api_keys: store.clone(),
            event_types: store.clone(),
            tenants: store.clone(),
            deployment_keys: store.clone(),
            rates: store,
            queue,
        }
    }
}
