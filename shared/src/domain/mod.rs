//! Domain types. Each one is validated when it is built, so the rest of the code never
//! sees an event type with capitals, a subscription with no events, or a secret too short.

/// An id's text in records and messages. Serialised as its text, borrowed: serde's
/// `into = "String"` would copy it for every record and message written. Read back through
/// `try_from = "String"`: validated by the type's own `check` (the rule its `parse` applies),
/// and keeping serde's string instead of a copy of it. Invoked beside each type (its field
/// is private to its module).
macro_rules! id_as_text {
    ($($id:ident),+) => {$(
        impl serde::Serialize for $id {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl TryFrom<String> for $id {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                $id::check(&value).map(|()| $id(value))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;

    /// Read back from a record or message, an id passes the same rule as when it was built.
    fn reads_back_as_parsed<T: DeserializeOwned + PartialEq + std::fmt::Debug>(
        parse: fn(&str) -> Result<T, ValidationError>,
        good: &str,
        bad: &str,
    ) {
        let read = |text: &str| serde_json::from_value::<T>(serde_json::json!(text));
        assert_eq!(read(good).unwrap(), parse(good).unwrap());
        let refused = read(bad).expect_err(bad).to_string();
        assert_eq!(refused, parse(bad).unwrap_err().to_string());
    }

    #[test]
    fn ids_read_back_through_the_rule_they_were_built_by() {
        reads_back_as_parsed(TenantId::parse, "acme-shop_1", "Acme");
        reads_back_as_parsed(EventId::parse, "evt_01.a:b-c", "evt 1");
        reads_back_as_parsed(EventType::parse, "order.created", "Order.created");
        reads_back_as_parsed(SubscriptionId::parse, "sub_01JD7Y", "sub_");
    }
}
