//! The ports: what the use cases need from storage and the queue, as traits. Adapters for
//! them live in [`crate::adapters`]; [`Backend`] bundles one deployment's set.

pub mod keys;
pub mod queue;
pub mod store;

use std::sync::Arc;

use queue::DeliveryQueue;
use store::{
    ApiKeyStore, DeliveryStore, DeploymentKeyStore, EventStore, EventTypeStore, RateSchedules,
    SubscriptionStore, TenantStore,
};

/// The ports one deployment uses: all in memory, or all on AWS
/// ([`crate::adapters`] builds both).
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
