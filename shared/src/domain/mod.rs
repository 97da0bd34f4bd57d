//! Domain types. Each one is validated when it is built, so the rest of the code never
//! sees an event type with capitals, a subscription with no events, or a secret too short.

/// Serialises an id as its text, borrowed: serde's `into = "String"` would copy it for every
/// record and message written. (Each reads back through `try_from = "String"`, validated.)
macro_rules! serialize_as_str {
    ($($id:ty),+) => {$(
        impl serde::Serialize for $id {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    )+};
}

mod api_key;
pub mod catalog;
pub mod circuit;
mod delivery;
mod deployment_keys;
pub mod dialect;
mod error;
mod event;
pub mod filter;
mod pattern;
pub mod rate_limit;
pub mod retry;
pub mod rfc3339;
mod selection;
mod stats;
mod subscription;
mod tenant;
mod wire;

pub use api_key::{ApiKey, ApiKeyHash, Role};
pub use delivery::{
    AttemptLog, DeliveryMessage, DeliveryRecord, DeliveryStatus, PlannedDelivery, SentAs,
};
pub use deployment_keys::{DeploymentKeys, RetiredRsaKey};
pub use error::ValidationError;
pub use event::{Event, EventData, EventId, EventType, NewEvent};
pub use filter::{EventEnvelope, Filter, Mismatch};
pub use pattern::EventPattern;
pub use rate_limit::{Admission, RateLimit};
pub use selection::Selection;
pub use stats::{EndpointStats, WindowStats};
pub use subscription::{
    NewSubscription, RetiredSecret, RetiredSigningKey, SaleorOptions, SignatureScheme,
    Subscription, SubscriptionId, SubscriptionRoute, fields,
};
pub use tenant::{TenantId, TenantSettings};
pub use wire::{WireContext, WireError, WireRequest};

serialize_as_str!(EventId, EventType, SubscriptionId, TenantId);
