//! Events: ids, types, the envelope subscribers receive, and a producer's new event.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{TenantId, ValidationError};
use crate::ids;

/// An event id: given by the producer (their idempotency key) or generated as `evt_` + ULID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct EventId(String);

id_as_text!(EventId);

impl EventId {
    pub const MAX_LEN: usize = 128;

    /// 1 to 128 characters of letters, digits, and `_ - . :`.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        Self::check(value).map(|()| Self(value.to_owned()))
    }

    /// The rule [`Self::parse`] and reading back from a record apply.
    fn check(value: &str) -> Result<(), ValidationError> {
        let ok = !value.is_empty()
            && value.len() <= Self::MAX_LEN
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
        if ok {
            Ok(())
        } else {
            Err(ValidationError::new(
                "id",
                "must be 1 to 128 characters of letters, digits, '_', '-', '.' and ':'",
            ))
        }
    }

    pub fn generate() -> Self {
        Self(ids::new_id("evt"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<EventId> for String {
    fn from(value: EventId) -> Self {
        value.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event type: lowercase dot-separated words, such as `order.created` or
/// `payment.refund.success` (at least two words; `_` and digits allowed inside a word).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct EventType(String);

id_as_text!(EventType);

impl EventType {
    pub const MAX_LEN: usize = 128;
    const RULE: &'static str = "must be lowercase words separated by dots, such as 'order.created' \
         (at least two words; each starts with a letter and holds only a-z, 0-9 and '_')";

    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        Self::check(value).map(|()| Self(value.to_owned()))
    }

    /// The rule [`Self::parse`] and reading back from a record apply.
    fn check(value: &str) -> Result<(), ValidationError> {
        let words_ok = value.split('.').all(is_word);
        if value.len() <= Self::MAX_LEN && value.contains('.') && words_ok {
            Ok(())
        } else {
            Err(ValidationError::new("type", Self::RULE))
        }
    }

    /// A type in any seed's spelling (`ORDER_CREATED`, `order_created`, `order.canceled`,
    /// `WAREHOUSE_CRATED`) is the catalog type it means; any other name must follow the rule.
    /// A name without dots that means no catalog type is refused with the closest ones.
    pub fn parse_any(value: &str) -> Result<Self, ValidationError> {
        // One case throughout, as every seed writes its names: `Order.Created` is no spelling.
        let one_case = !value.chars().any(|c| c.is_ascii_lowercase())
            || !value.chars().any(|c| c.is_ascii_uppercase());
        if let Some(catalog_type) = super::dialect::canonical(value).filter(|_| one_case) {
            return Ok(Self(catalog_type.to_owned()));
        }
        Self::parse(value).map_err(|e| {
            if value.contains('.') || value.is_empty() {
                return e;
            }
            let hint = match super::dialect::suggest_any(value).as_slice() {
                [] => String::new(),
                names => format!(" (did you mean '{}'?)", names.join("' or '")),
            };
            ValidationError::new(
                "type",
                format!(
                    "'{value}' is not a known event type in any spelling{hint}; see \
                     GET /v1/event-types"
                ),
            )
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One word of an event type: starts with a letter, then `a-z`, `0-9` or `_`.
pub(super) fn is_word(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_lowercase())
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl From<EventType> for String {
    fn from(value: EventType) -> Self {
        value.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The envelope every subscriber receives: `{id, type, timestamp, tenant, data}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    #[serde(rename = "type")]
    pub event_type: EventType,
    #[serde(with = "rfc3339")]
    pub timestamp: DateTime<Utc>,
    pub tenant: TenantId,
    pub data: EventData,
}

/// An event's `data`, kept as the compact JSON text ingest wrote once: deliveries put it in
/// their bodies and queue messages as it is, without parsing it into a tree and writing it
/// out again for every delivery and attempt. Filters and `fields` read [`EventData::value`].
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventData(Box<RawValue>);

impl EventData {
    /// `value` written out as compact JSON.
    pub fn new(value: &Value) -> Self {
        // A JSON value always serializes; `null` stands in for the impossible failure.
        Self(serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned()))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The text, to serialize as it is.
    pub fn raw(&self) -> &RawValue {
        &self.0
    }

    /// Parsed into a tree.
    pub fn value(&self) -> Value {
        // The text is JSON that serde_json wrote or checked.
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl From<Value> for EventData {
    fn from(value: Value) -> Self {
        Self::new(&value)
    }
}

impl PartialEq for EventData {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl fmt::Debug for EventData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

/// What a producer posts, validated field by field. `id` and `timestamp` are optional.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: Option<EventId>,
    pub event_type: EventType,
    pub timestamp: Option<DateTime<Utc>>,
    pub data: Map<String, Value>,
}

impl NewEvent {
    /// Reads a producer's JSON body, naming the first field that breaks a rule.
    pub fn from_json(body: Value) -> Result<Self, ValidationError> {
        let Value::Object(mut fields) = body else {
            return Err(ValidationError::new("body", "must be a JSON object"));
        };
        let id = match fields.remove("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(EventId::parse(&s)?),
            Some(_) => return Err(ValidationError::new("id", "must be a string")),
        };
        let event_type = match fields.remove("type") {
            Some(Value::String(s)) => EventType::parse_any(&s)?,
            None | Some(Value::Null) => return Err(ValidationError::new("type", "is required")),
            Some(_) => return Err(ValidationError::new("type", "must be a string")),
        };
        let timestamp = match fields.remove("timestamp") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                DateTime::parse_from_rfc3339(&s)
                    .map_err(|_| {
                        ValidationError::new(
                            "timestamp",
                            "must be an RFC 3339 date-time such as 2026-11-24T10:30:00Z",
                        )
                    })?
                    .with_timezone(&Utc),
            ),
            Some(_) => return Err(ValidationError::new("timestamp", "must be a string")),
        };
        let data = match fields.remove("data") {
            Some(Value::Object(map)) => map,
            None | Some(Value::Null) => return Err(ValidationError::new("data", "is required")),
            Some(_) => return Err(ValidationError::new("data", "must be a JSON object")),
        };
        // The tenant comes from the API key; a body that names one is a mistake worth telling.
        if let Some(name) = fields.keys().next() {
            return Err(ValidationError::new(
                name.clone(),
                "is not a field of an event (allowed: id, type, timestamp, data)",
            ));
        }
        Ok(Self {
            id,
            event_type,
            timestamp,
            data,
        })
    }

    /// The envelope for `tenant`, with a generated id and the current time where none was given.
    pub fn into_event(self, tenant: TenantId, now: DateTime<Utc>) -> Event {
        self.into_event_and_data(tenant, now).0
    }

    /// As [`NewEvent::into_event`], handing back the parsed `data` too (the tree the event's
    /// JSON text was written from), for filters to read without parsing that text again.
    pub fn into_event_and_data(self, tenant: TenantId, now: DateTime<Utc>) -> (Event, Value) {
        let data = Value::Object(self.data);
        let event = Event {
            id: self.id.unwrap_or_else(EventId::generate),
            event_type: self.event_type,
            timestamp: self.timestamp.unwrap_or(now),
            tenant,
            data: EventData::new(&data),
        };
        (event, data)
    }
}

/// Timestamps as RFC 3339 in UTC with a `Z`, the form the seeds' receivers parse.
pub(crate) mod rfc3339 {
    use super::*;
    use crate::domain::rfc3339;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        rfc3339::serialize(value, SecondsFormat::AutoSi, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        rfc3339::parse(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_data_handed_back_is_what_the_events_text_parses_to() {
        // Filters read the tree ingest hands back instead of parsing the text: they must not
        // be able to tell the two apart.
        let body = json!({
            "type": "order.created",
            "data": {
                "total": 0.1, "big": u64::MAX, "small": i64::MIN, "tiny": 1e-300, "neg": -0.0,
                "text": "é\u{1F600}\"\n", "nested": {"b": [1, {"a": null}], "a": true},
            },
        });
        let new_event = NewEvent::from_json(body).unwrap();
        let tenant = TenantId::parse("acme").unwrap();
        let (event, data) = new_event.into_event_and_data(tenant, Utc::now());
        assert_eq!(data, event.data.value());
        assert_eq!(serde_json::to_string(&data).unwrap(), event.data.get());
    }

    #[test]
    fn event_types_from_the_seeds_are_valid() {
        for ok in [
            "order.created",
            "payment.refund.success",
            "order.fulfillment_created",
            "shipment.delivered",
            "webhook.test",
            "product.variant2.updated",
        ] {
            assert!(EventType::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn malformed_event_types_are_refused_with_the_field_named() {
        for bad in [
            "",
            "order",
            "Order.Created",
            "ORDER_CREATED",
            "order..created",
            ".order",
            "order.",
            "order.*",
            "order created",
            "1order.created",
        ] {
            let err = EventType::parse(bad).unwrap_err();
            assert_eq!(err.field, "type", "{bad}");
        }
    }

    #[test]
    fn new_event_reads_a_full_body() {
        let event = NewEvent::from_json(json!({
            "id": "evt_123",
            "type": "order.created",
            "timestamp": "2026-11-24T10:30:00+01:00",
            "data": {"id": "order_abc"}
        }))
        .unwrap();
        assert_eq!(event.id.unwrap().as_str(), "evt_123");
        assert_eq!(
            event.timestamp.unwrap().to_rfc3339(),
            "2026-11-24T09:30:00+00:00"
        );
    }

    #[test]
    fn new_event_names_the_field_that_breaks_a_rule() {
        let cases = [
            (json!([]), "body"),
            (json!({"data": {}}), "type"),
            (json!({"type": 3, "data": {}}), "type"),
            (json!({"type": "order.created"}), "data"),
            (json!({"type": "order.created", "data": [1]}), "data"),
            (
                json!({"type": "order.created", "data": {}, "id": "has space"}),
                "id",
            ),
            (
                json!({"type": "order.created", "data": {}, "timestamp": "yesterday"}),
                "timestamp",
            ),
            (
                json!({"type": "order.created", "data": {}, "tenant": "other"}),
                "tenant",
            ),
        ];
        for (body, field) in cases {
            let err = NewEvent::from_json(body.clone()).unwrap_err();
            assert_eq!(err.field, field, "{body}");
        }
    }

    #[test]
    fn envelope_serializes_as_subscribers_expect() {
        let event = NewEvent::from_json(json!({"type": "order.created", "data": {"id": "o1"}}))
            .unwrap()
            .into_event(
                TenantId::parse("acme").unwrap(),
                DateTime::parse_from_rfc3339("2026-11-24T10:30:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
            );
        let json = serde_json::to_value(&event).unwrap();
        assert!(json["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(json["type"], "order.created");
        assert_eq!(json["timestamp"], "2026-11-24T10:30:00Z");
        assert_eq!(json["tenant"], "acme");
        assert_eq!(json["data"], json!({"id": "o1"}));
        let back: Event = serde_json::from_str(&json.to_string()).unwrap();
        assert_eq!(back, event);
    }
}
