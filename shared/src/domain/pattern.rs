//! Event patterns: what a subscription listens to (an exact type, `prefix.*` or `*`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::event::is_word;
use super::{EventType, ValidationError};

/// What a subscription listens to: one exact type, every type under a prefix (`order.*`,
/// which also matches `order.refund.success`), or every event (`*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum EventPattern {
    All,
    /// The words before `.*`, without the trailing dot.
    Prefix(String),
    Exact(EventType),
}

impl EventPattern {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        if value == "*" || super::dialect::is_wildcard(value) {
            return Ok(Self::All);
        }
        if let Some(prefix) = value.strip_suffix(".*") {
            if !prefix.is_empty() && prefix.split('.').all(is_word) {
                return Ok(Self::Prefix(prefix.to_owned()));
            }
        } else {
            match EventType::parse_any(value) {
                Ok(exact) => return Ok(Self::Exact(exact)),
                // A seed-style name that means nothing: say which ones come close.
                Err(e) if !value.contains('.') && e.rule.contains("did you mean") => {
                    return Err(ValidationError::new("events", e.rule));
                }
                Err(_) => {}
            }
        }
        Err(ValidationError::new(
            "events",
            format!(
                "'{value}' is not an event type ('order.created'), a prefix wildcard ('order.*') or '*'"
            ),
        ))
    }

    pub fn matches(&self, event_type: &EventType) -> bool {
        match self {
            Self::All => true,
            Self::Prefix(prefix) => event_type
                .as_str()
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('.')),
            Self::Exact(exact) => exact == event_type,
        }
    }
}

impl TryFrom<String> for EventPattern {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EventPattern> for String {
    fn from(value: EventPattern) -> Self {
        value.to_string()
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Prefix(prefix) => write!(f, "{prefix}.*"),
            Self::Exact(exact) => f.write_str(exact.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, event_type: &str) -> bool {
        EventPattern::parse(pattern)
            .unwrap()
            .matches(&EventType::parse(event_type).unwrap())
    }

    #[test]
    fn exact_prefix_and_all() {
        assert!(matches("order.created", "order.created"));
        assert!(!matches("order.created", "order.cancelled"));
        assert!(matches("order.*", "order.created"));
        assert!(matches("payment.*", "payment.refund.success"));
        assert!(matches("payment.refund.*", "payment.refund.success"));
        assert!(!matches("payment.refund.*", "payment.success"));
        assert!(
            !matches("order.*", "orders.created"),
            "a prefix stops at a dot"
        );
        assert!(!matches("product.*", "order.created"));
        assert!(matches("*", "shipment.delivered"));
    }

    #[test]
    fn patterns_round_trip_through_strings() {
        for p in ["*", "order.*", "payment.refund.*", "order.created"] {
            assert_eq!(EventPattern::parse(p).unwrap().to_string(), p);
        }
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "",
            "**",
            "order",
            "Order.*",
            "order.*.created",
            "*.created",
            ".*",
            "order*",
        ] {
            let err = EventPattern::parse(bad).unwrap_err();
            assert_eq!(err.field, "events");
            assert!(err.rule.contains(bad), "the message quotes the value");
        }
    }
}
