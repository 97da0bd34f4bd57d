use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{EventPattern, EventType, TenantId, ValidationError};
use crate::egress::EgressPolicy;
use crate::ids;
use crate::signing::Secret;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubscriptionId(String);

impl SubscriptionId {
    pub fn generate() -> Self {
        Self(ids::new_id("sub"))
    }

    /// Ids come back from clients in paths; anything not shaped like one is simply not found.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let ok = value.len() <= 64
            && value.starts_with("sub_")
            && value[4..].chars().all(|c| c.is_ascii_alphanumeric())
            && value.len() > 4;
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(ValidationError::new(
                "id",
                "must be a subscription id such as sub_01JD7Y…",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SubscriptionId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SubscriptionId> for String {
    fn from(value: SubscriptionId) -> Self {
        value.0
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An endpoint that receives the events matching its patterns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub tenant: TenantId,
    pub url: Url,
    pub events: Vec<EventPattern>,
    pub active: bool,
    pub description: Option<String>,
    pub secret: Secret,
    #[serde(with = "super::event::rfc3339")]
    pub created_at: DateTime<Utc>,
}

impl Subscription {
    /// Whether an event of this type goes to this subscription now.
    pub fn wants(&self, event_type: &EventType) -> bool {
        self.active && self.events.iter().any(|p| p.matches(event_type))
    }
}

/// A validated request to create a subscription.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub url: Url,
    pub events: Vec<EventPattern>,
    pub active: bool,
    pub description: Option<String>,
    pub secret: Option<Secret>,
}

impl NewSubscription {
    pub const MAX_PATTERNS: usize = 100;
    pub const MAX_DESCRIPTION: usize = 256;
    pub const MAX_URL: usize = 2048;

    pub fn validate(
        url: &str,
        events: &[String],
        active: Option<bool>,
        description: Option<String>,
        secret: Option<&str>,
        egress: EgressPolicy,
    ) -> Result<Self, ValidationError> {
        if url.len() > Self::MAX_URL {
            return Err(ValidationError::new(
                "url",
                "must be at most 2048 characters",
            ));
        }
        let url = Url::parse(url)
            .map_err(|e| ValidationError::new("url", format!("must be an absolute URL ({e})")))?;
        egress
            .check_url(&url)
            .map_err(|e| ValidationError::new("url", e.to_string()))?;
        if events.is_empty() || events.len() > Self::MAX_PATTERNS {
            return Err(ValidationError::new(
                "events",
                "must list 1 to 100 event types or patterns",
            ));
        }
        let events = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                EventPattern::parse(e)
                    .map_err(|err| ValidationError::new(format!("events[{i}]"), err.rule))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > Self::MAX_DESCRIPTION)
        {
            return Err(ValidationError::new(
                "description",
                "must be at most 256 characters",
            ));
        }
        let secret = secret.map(Secret::parse).transpose()?;
        Ok(Self {
            url,
            events,
            active: active.unwrap_or(true),
            description,
            secret,
        })
    }

    pub fn into_subscription(self, tenant: TenantId, now: DateTime<Utc>) -> Subscription {
        let mut events = self.events;
        events.dedup();
        Subscription {
            id: SubscriptionId::generate(),
            tenant,
            url: self.url,
            events,
            active: self.active,
            description: self.description,
            secret: self.secret.unwrap_or_else(Secret::generate),
            created_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(url: &str, events: &[&str]) -> Result<NewSubscription, ValidationError> {
        let events: Vec<String> = events.iter().map(|s| s.to_string()).collect();
        NewSubscription::validate(url, &events, None, None, None, EgressPolicy::PublicOnly)
    }

    #[test]
    fn a_valid_request_becomes_an_active_subscription_with_a_generated_secret() {
        let sub = new(
            "https://shop.example/hooks",
            &["order.*", "payment.refund.success"],
        )
        .unwrap()
        .into_subscription(TenantId::parse("acme").unwrap(), Utc::now());
        assert!(sub.active);
        assert!(sub.id.as_str().starts_with("sub_"));
        assert!(sub.secret.expose().starts_with("whsec_"));
        assert!(sub.wants(&EventType::parse("order.created").unwrap()));
        assert!(sub.wants(&EventType::parse("payment.refund.success").unwrap()));
        assert!(!sub.wants(&EventType::parse("payment.success").unwrap()));
    }

    #[test]
    fn an_inactive_subscription_wants_nothing() {
        let mut sub = new("https://shop.example/hooks", &["*"])
            .unwrap()
            .into_subscription(TenantId::parse("acme").unwrap(), Utc::now());
        sub.active = false;
        assert!(!sub.wants(&EventType::parse("order.created").unwrap()));
    }

    #[test]
    fn invalid_requests_name_the_field() {
        assert_eq!(new("not a url", &["*"]).unwrap_err().field, "url");
        assert_eq!(
            new("http://shop.example/hooks", &["*"]).unwrap_err().field,
            "url"
        );
        assert_eq!(
            new("https://shop.example/hooks", &[]).unwrap_err().field,
            "events"
        );
        assert_eq!(
            new("https://shop.example/hooks", &["order.*", "Order.Created"])
                .unwrap_err()
                .field,
            "events[1]"
        );
    }
}
