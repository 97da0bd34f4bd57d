//! Subscriptions: an endpoint, its patterns, secrets, signing keys and signature scheme, and
//! the rules for each field a client sets.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::dialect::Format;
use super::{
    EventEnvelope, EventPattern, EventType, Filter, RateLimit, Selection, TenantId, ValidationError,
};
use crate::egress::EgressPolicy;
use crate::ids;
use crate::signing::{Secret, SigningKey, SigningKeys};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct SubscriptionId(String);

id_as_text!(SubscriptionId);

impl SubscriptionId {
    pub fn generate() -> Self {
        Self(ids::new_id("sub"))
    }

    /// Ids come back from clients in paths; anything not shaped like one is simply not found.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        Self::check(value).map(|()| Self(value.to_owned()))
    }

    /// The rule [`Self::parse`] and reading back from a record apply.
    fn check(value: &str) -> Result<(), ValidationError> {
        let ok = value.len() <= 64
            && value.starts_with("sub_")
            && value[4..].chars().all(|c| c.is_ascii_alphanumeric())
            && value.len() > 4;
        if ok {
            Ok(())
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

/// How deliveries to a subscription are signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "scheme", rename_all = "lowercase")]
pub enum SignatureScheme {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    #[default]
    Standard,
    /// The seeds' receivers: a hex HMAC-SHA256 of the raw body, keyed with the secret
    /// string's UTF-8 bytes, in the named header (the Standard Webhooks headers come too).
    Hex { header: String },
    /// Standard Webhooks with `v1a` (Ed25519) signatures beside the `v1` ones, made with the
    /// subscription's [`Subscription::signing_key`]: receivers verify with its public key.
    Ed25519,
}

impl SignatureScheme {
    pub const DEFAULT_HEX_HEADER: &'static str = "x-webhook-signature";

    /// From the API's `signature` and `signature_header` fields.
    pub fn from_request(scheme: &str, header: Option<&str>) -> Result<Self, ValidationError> {
        match (scheme, header) {
            ("standard", None) => Ok(Self::Standard),
            ("standard", Some(_)) => Err(ValidationError::new(
                "signature_header",
                "applies only to the 'hex' signature scheme",
            )),
            ("ed25519", None) => Ok(Self::Ed25519),
            ("ed25519", Some(_)) => Err(ValidationError::new(
                "signature_header",
                "applies only to the 'hex' signature scheme",
            )),
            ("hex", header) => {
                let header = header
                    .unwrap_or(Self::DEFAULT_HEX_HEADER)
                    .to_ascii_lowercase();
                check_header_name("signature_header", &header)?;
                Ok(Self::Hex { header })
            }
            _ => Err(ValidationError::new(
                "signature",
                "must be 'standard', 'hex' or 'ed25519'",
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Hex { .. } => "hex",
            Self::Ed25519 => "ed25519",
        }
    }

    pub fn header(&self) -> Option<&str> {
        match self {
            Self::Standard | Self::Ed25519 => None,
            Self::Hex { header } => Some(header),
        }
    }
}

fn yes() -> bool {
    true
}

/// What a `saleor` subscription sends beside the payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleorOptions {
    /// `Saleor-Domain` (and the host of `Saleor-Api-Url`); the tenant's setting, or the
    /// API's own domain, when absent.
    #[serde(default)]
    pub domain: Option<String>,
    /// Also the deprecated `X-Saleor-Event`, `X-Saleor-Domain` and `X-Saleor-Signature`.
    #[serde(default)]
    pub legacy_headers: bool,
    /// Signed as Saleor signs a webhook without a secret key: a JWS (RS256, detached) with
    /// the deployment's key, published at `/.well-known/jwks.json`, instead of an HMAC.
    #[serde(default)]
    pub jws: bool,
}

/// A secret replaced by a rotation, still signing deliveries until `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetiredSecret {
    pub secret: Secret,
    #[serde(with = "super::event::rfc3339")]
    pub expires_at: DateTime<Utc>,
}

/// A signing key replaced by a rotation, still signing deliveries until `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetiredSigningKey {
    pub key: SigningKey,
    #[serde(with = "super::event::rfc3339")]
    pub expires_at: DateTime<Utc>,
}

/// An endpoint that receives the events matching its patterns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub tenant: TenantId,
    pub url: Url,
    pub events: Vec<EventPattern>,
    /// Conditions an event must meet too, beside its type (none: every event of its types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// The paths of `data` deliveries carry (none: all of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Selection>,
    /// Deliveries per second at most, across every dispatcher (none: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    pub active: bool,
    pub description: Option<String>,
    pub secret: Secret,
    #[serde(default)]
    pub previous_secrets: Vec<RetiredSecret>,
    #[serde(default)]
    pub signature: SignatureScheme,
    /// The Ed25519 key of the `ed25519` scheme (`whsk_…`, stored as that one string).
    #[serde(default)]
    pub signing_key: Option<SigningKey>,
    /// Keys replaced by a rotation, as `previous_secrets`.
    #[serde(default)]
    pub previous_signing_keys: Vec<RetiredSigningKey>,
    /// Static headers added to every delivery.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The wire dialect of its deliveries: body shape, event names, headers and signature.
    #[serde(default)]
    pub format: Format,
    /// Whether deliveries also carry the Standard Webhooks headers (`webhook-id`…).
    #[serde(default = "yes")]
    pub standard_webhooks: bool,
    /// Saleor options, for the `saleor` format.
    #[serde(default)]
    pub saleor: SaleorOptions,
    #[serde(with = "super::event::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Since when every attempt to this endpoint has failed (none when the last succeeded).
    #[serde(default, with = "super::delivery::opt_rfc3339")]
    pub failing_since: Option<DateTime<Utc>>,
}

/// What deciding where an event goes needs of a subscription, and nothing secret: ingest
/// reads these, never the secrets or keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionRoute {
    pub id: SubscriptionId,
    pub active: bool,
    pub events: Vec<EventPattern>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
}

impl SubscriptionRoute {
    /// Whether a producer's event goes to this subscription now: its type matches a
    /// pattern and the event meets the filter, if there is one. One `envelope` serves every
    /// subscription of the event, so its `data` is parsed at most once.
    pub fn wants(&self, envelope: &EventEnvelope<'_>) -> bool {
        self.active
            && self
                .events
                .iter()
                .any(|p| p.matches(&envelope.event().event_type))
            && self.filter.as_ref().is_none_or(|f| f.matches(envelope))
    }

    /// Whether it asked for an operational event (such as `subscription.disabled`) by name
    /// or by its prefix: `*` means every commerce event, not Tidings' own. The filter is
    /// not applied: it is written against the producer's data, and Tidings' notices about
    /// the endpoint itself must not be lost to it.
    pub fn wants_operational(&self, envelope: &EventEnvelope<'_>) -> bool {
        let event = envelope.event();
        self.active
            && self
                .events
                .iter()
                .any(|p| !matches!(p, EventPattern::All) && p.matches(&event.event_type))
    }
}

impl Subscription {
    /// Its routing part.
    pub fn route(&self) -> SubscriptionRoute {
        SubscriptionRoute {
            id: self.id.clone(),
            active: self.active,
            events: self.events.clone(),
            filter: self.filter.clone(),
        }
    }

    /// Whether an event of this type goes to this subscription now.
    pub fn wants(&self, event_type: &EventType) -> bool {
        self.active && self.events.iter().any(|p| p.matches(event_type))
    }

    /// The secrets deliveries are signed with at `now`: the current one first, then the
    /// rotated ones whose overlap has not ended.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Secret> {
        std::iter::once(&self.secret).chain(
            self.previous_secrets
                .iter()
                .filter(move |r| r.expires_at > now)
                .map(|r| &r.secret),
        )
    }

    /// The Ed25519 keys deliveries are signed with at `now` (none unless the scheme is
    /// `ed25519`): the current one first, then the rotated ones whose overlap has not ended.
    pub fn signing_ed25519_keys(&self, now: DateTime<Utc>) -> impl Iterator<Item = &SigningKey> {
        let on = self.signature == SignatureScheme::Ed25519;
        self.signing_key.iter().filter(move |_| on).chain(
            self.previous_signing_keys
                .iter()
                .filter(move |r| on && r.expires_at > now)
                .map(|r| &r.key),
        )
    }

    /// The current key's public half (`whpk_…`), under the `ed25519` scheme.
    pub fn public_key(&self) -> Option<String> {
        self.signing_key
            .as_ref()
            .filter(|_| self.signature == SignatureScheme::Ed25519)
            .map(SigningKey::public_key)
    }

    /// What a delivery made at `now` is signed with: the format's own signature headers,
    /// the `hex` scheme's header, and the Standard Webhooks headers unless turned off, with
    /// `v1a` signatures under the `ed25519` scheme.
    pub fn signing_keys(&self, now: DateTime<Utc>) -> SigningKeys<'_> {
        let jws = self.uses_jws();
        let mut hex_headers: Vec<&str> = if jws {
            Vec::new()
        } else {
            self.format.signature_headers().to_vec()
        };
        if self.format == Format::Saleor && self.saleor.legacy_headers && !jws {
            hex_headers.push(super::dialect::SALEOR_LEGACY_SIGNATURE);
        }
        hex_headers.extend(self.signature.header());
        SigningKeys {
            standard: self.standard_webhooks,
            secrets: self.signing_secrets(now).collect(),
            ed25519: self.signing_ed25519_keys(now).collect(),
            hex_headers,
        }
    }

    /// Whether `Saleor-Signature` is a JWS with the deployment's key rather than an HMAC.
    pub fn uses_jws(&self) -> bool {
        self.format == Format::Saleor && self.saleor.jws
    }

    /// Switches the wire dialect, keeping the secret: one the new format cannot sign with
    /// is refused, and options of the old format are dropped.
    pub fn set_format(&mut self, format: Format) -> Result<(), ValidationError> {
        if !format.takes_plain_secrets() && !self.secret.is_standard() {
            return Err(ValidationError::new(
                "format",
                format!(
                    "'{format}' signs with Standard Webhooks, which needs a whsec_ secret: \
                     rotate the secret to one first (POST /v1/subscriptions/{{id}}/rotate-secret)"
                ),
            ));
        }
        if format != Format::Saleor {
            self.saleor = SaleorOptions::default();
        }
        self.format = format;
        Ok(())
    }

    /// Refuses a subscription whose deliveries would carry no signature at all, or an
    /// `ed25519` one whose `v1a` signatures would have no header to go in.
    pub fn check_signed(&self) -> Result<(), ValidationError> {
        let keys = self.signing_keys(self.created_at);
        if self.signature == SignatureScheme::Ed25519 && !keys.standard {
            return Err(ValidationError::new(
                "standard_webhooks",
                "cannot be false with the 'ed25519' signature: its v1a signatures travel in \
                 webhook-signature",
            ));
        }
        if keys.standard || !keys.hex_headers.is_empty() || self.uses_jws() {
            Ok(())
        } else {
            Err(ValidationError::new(
                "standard_webhooks",
                format!(
                    "cannot be false with the '{}' format: its deliveries would not be signed",
                    self.format
                ),
            ))
        }
    }

    /// Replaces the secret. The old one, and any older one still live, keep signing for at
    /// most `overlap`: a rotation with no overlap (after a leak) retires them all at once.
    pub fn rotate_secret(&mut self, new: Secret, overlap: chrono::Duration, now: DateTime<Utc>) {
        let until = now + overlap;
        let old = std::mem::replace(&mut self.secret, new);
        self.previous_secrets.insert(
            0,
            RetiredSecret {
                secret: old,
                expires_at: until,
            },
        );
        for retired in &mut self.previous_secrets {
            retired.expires_at = retired.expires_at.min(until);
        }
        self.previous_secrets.retain(|r| r.expires_at > now);
    }

    /// Changes the signature scheme: `ed25519` needs a key (`generate` makes one when the
    /// subscription has none); leaving it drops the keys, so no public key is served.
    pub fn set_signature<E>(
        &mut self,
        scheme: SignatureScheme,
        generate: impl FnOnce() -> Result<SigningKey, E>,
    ) -> Result<(), E> {
        if scheme == SignatureScheme::Ed25519 {
            if self.signing_key.is_none() {
                self.signing_key = Some(generate()?);
            }
        } else {
            self.signing_key = None;
            self.previous_signing_keys.clear();
        }
        self.signature = scheme;
        Ok(())
    }

    /// Replaces the Ed25519 key, as [`Subscription::rotate_secret`] replaces the secret: the
    /// old key, and any older one still live, keep signing for at most `overlap`.
    pub fn rotate_signing_key(
        &mut self,
        new: SigningKey,
        overlap: chrono::Duration,
        now: DateTime<Utc>,
    ) {
        let until = now + overlap;
        if let Some(old) = self.signing_key.replace(new) {
            self.previous_signing_keys.insert(
                0,
                RetiredSigningKey {
                    key: old,
                    expires_at: until,
                },
            );
        }
        for retired in &mut self.previous_signing_keys {
            retired.expires_at = retired.expires_at.min(until);
        }
        self.previous_signing_keys.retain(|r| r.expires_at > now);
    }
}

/// Headers a subscription may not set: the transport's, the signature's, and the content's.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

fn check_header_name(field: &str, name: &str) -> Result<(), ValidationError> {
    let token = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(ValidationError::new(
            field,
            format!("'{name}' is not a valid header name"),
        ));
    }
    if RESERVED_HEADERS.contains(&name) {
        return Err(ValidationError::new(
            field,
            format!("'{name}' is set by Tidings and cannot be overridden"),
        ));
    }
    Ok(())
}

/// Validation of each field a client sets, shared by create and update.
pub mod fields {
    use super::*;

    pub const MAX_PATTERNS: usize = 100;
    pub const MAX_DESCRIPTION: usize = 256;
    pub const MAX_URL: usize = 2048;
    pub const MAX_HEADERS: usize = 20;
    pub const MAX_HEADER_VALUE: usize = 1024;

    pub fn url(url: &str, egress: EgressPolicy) -> Result<Url, ValidationError> {
        if url.len() > MAX_URL {
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
        Ok(url)
    }

    /// Patterns, each checked by `known` (which refuses exact types nobody emits).
    pub fn events(
        events: &[String],
        known: impl Fn(&EventType) -> Result<(), String>,
    ) -> Result<Vec<EventPattern>, ValidationError> {
        if events.is_empty() || events.len() > MAX_PATTERNS {
            return Err(ValidationError::new(
                "events",
                "must list 1 to 100 event types or patterns",
            ));
        }
        let mut patterns = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let field = format!("events[{i}]");
            let pattern =
                EventPattern::parse(e).map_err(|err| ValidationError::new(&field, err.rule))?;
            if let EventPattern::Exact(t) = &pattern {
                known(t).map_err(|rule| ValidationError::new(&field, rule))?;
            }
            if !patterns.contains(&pattern) {
                patterns.push(pattern);
            }
        }
        Ok(patterns)
    }

    /// A secret the format accepts: `whsec_` for the formats built on Standard Webhooks,
    /// the receiver's own secret as it is for the seeds' hex-signed formats.
    pub fn secret(secret: &str, format: Format) -> Result<Secret, ValidationError> {
        let parsed = if format.takes_plain_secrets() {
            Secret::parse_plain(secret)
        } else {
            Secret::parse(secret)
        };
        parsed.map_err(|e| {
            let rule = if format.takes_plain_secrets() {
                e.to_string()
            } else {
                format!(
                    "{e} (the '{format}' format signs with Standard Webhooks; the medusa, \
                     commerce-engine, commercio and saleor formats take a receiver's own secret)"
                )
            };
            ValidationError::new("secret", rule)
        })
    }

    /// A `whsk_` Ed25519 signing key, for the `ed25519` signature only.
    pub fn signing_key(key: &str, scheme: &SignatureScheme) -> Result<SigningKey, ValidationError> {
        if *scheme != SignatureScheme::Ed25519 {
            return Err(ValidationError::new(
                "signing_key",
                "applies only to the 'ed25519' signature scheme",
            ));
        }
        SigningKey::parse(key).map_err(|e| ValidationError::new("signing_key", e.to_string()))
    }

    /// A host name, with an optional port, as Saleor puts it in `Saleor-Domain`.
    pub fn saleor_domain(domain: &str) -> Result<String, ValidationError> {
        let domain = domain.trim().to_ascii_lowercase();
        let (host, port) = domain.split_once(':').unwrap_or((&domain, ""));
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        let port_ok = port.is_empty() || port.parse::<u16>().is_ok();
        if host_ok && port_ok {
            Ok(domain)
        } else {
            Err(ValidationError::new(
                "saleor_domain",
                "must be a bare host name such as 'shop.example.com', with an optional ':port'",
            ))
        }
    }

    pub fn description(description: Option<String>) -> Result<Option<String>, ValidationError> {
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
        {
            return Err(ValidationError::new(
                "description",
                "must be at most 256 characters",
            ));
        }
        Ok(description)
    }

    pub fn headers(
        headers: BTreeMap<String, String>,
        scheme: &SignatureScheme,
        format: Format,
    ) -> Result<BTreeMap<String, String>, ValidationError> {
        if headers.len() > MAX_HEADERS {
            return Err(ValidationError::new(
                "headers",
                "must hold at most 20 headers",
            ));
        }
        let mut checked = BTreeMap::new();
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            check_header_name("headers", &name)?;
            if scheme.header() == Some(name.as_str())
                || format.reserved_headers().contains(&name.as_str())
            {
                return Err(ValidationError::new(
                    "headers",
                    format!(
                        "'{name}' is set by the subscription's format or signature and cannot be overridden"
                    ),
                ));
            }
            let printable = value
                .bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
            if !printable || value.len() > MAX_HEADER_VALUE {
                return Err(ValidationError::new(
                    format!("headers.{name}"),
                    "must be at most 1024 printable ASCII characters",
                ));
            }
            checked.insert(name, value);
        }
        Ok(checked)
    }
}

/// A validated request to create a subscription.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub url: Url,
    pub events: Vec<EventPattern>,
    pub filter: Option<Filter>,
    pub fields: Option<Selection>,
    pub rate_limit: Option<RateLimit>,
    pub active: bool,
    pub description: Option<String>,
    pub secret: Option<Secret>,
    pub signature: SignatureScheme,
    /// The `ed25519` scheme's key, given or generated (none for the other schemes).
    pub signing_key: Option<SigningKey>,
    pub headers: BTreeMap<String, String>,
    pub format: Format,
    pub standard_webhooks: bool,
    pub saleor: SaleorOptions,
}

impl NewSubscription {
    pub fn into_subscription(self, tenant: TenantId, now: DateTime<Utc>) -> Subscription {
        Subscription {
            id: SubscriptionId::generate(),
            tenant,
            url: self.url,
            events: self.events,
            filter: self.filter,
            fields: self.fields,
            rate_limit: self.rate_limit,
            active: self.active,
            description: self.description,
            secret: self.secret.unwrap_or_else(Secret::generate),
            previous_secrets: Vec::new(),
            signature: self.signature,
            signing_key: self.signing_key,
            previous_signing_keys: Vec::new(),
            headers: self.headers,
            format: self.format,
            standard_webhooks: self.standard_webhooks,
            saleor: self.saleor,
            created_at: now,
            failing_since: None,
        }
    }
}

#[cfg(test)]
impl NewSubscription {
    /// A plain request for the crate's tests: `url` (public addresses only) and `events`
    /// (any type), every option at its default.
    pub(crate) fn for_test(url: &str, events: &[&str]) -> Result<Self, ValidationError> {
        let events: Vec<String> = events.iter().map(|s| s.to_string()).collect();
        Ok(NewSubscription {
            url: fields::url(url, EgressPolicy::PublicOnly)?,
            events: fields::events(&events, |_| Ok(()))?,
            filter: None,
            fields: None,
            rate_limit: None,
            active: true,
            description: None,
            secret: None,
            signature: SignatureScheme::Standard,
            signing_key: None,
            headers: BTreeMap::new(),
            format: Format::Standard,
            standard_webhooks: true,
            saleor: SaleorOptions::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(url: &str, events: &[&str]) -> Result<NewSubscription, ValidationError> {
        NewSubscription::for_test(url, events)
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
    fn invalid_fields_are_named() {
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
        let unknown = fields::events(&["order.craeted".into()], |_| Err("unknown".into()));
        assert_eq!(unknown.unwrap_err().field, "events[0]");
        let wildcard = fields::events(&["order.*".into()], |_| Err("unknown".into()));
        assert!(
            wildcard.is_ok(),
            "wildcards are not checked against the catalog"
        );
    }

    #[test]
    fn signature_schemes() {
        assert_eq!(
            SignatureScheme::from_request("standard", None),
            Ok(SignatureScheme::Standard)
        );
        assert_eq!(
            SignatureScheme::from_request("hex", None),
            Ok(SignatureScheme::Hex {
                header: "x-webhook-signature".into()
            })
        );
        assert_eq!(
            SignatureScheme::from_request("hex", Some("X-Medusa-Signature")),
            Ok(SignatureScheme::Hex {
                header: "x-medusa-signature".into()
            })
        );
        assert_eq!(
            SignatureScheme::from_request("jws", None)
                .unwrap_err()
                .field,
            "signature"
        );
        assert_eq!(
            SignatureScheme::from_request("standard", Some("x-sig"))
                .unwrap_err()
                .field,
            "signature_header"
        );
        assert_eq!(
            SignatureScheme::from_request("ed25519", None),
            Ok(SignatureScheme::Ed25519)
        );
        assert_eq!(
            SignatureScheme::from_request("ed25519", Some("x-sig"))
                .unwrap_err()
                .field,
            "signature_header"
        );
        assert!(SignatureScheme::from_request("hex", Some("content-type")).is_err());
        assert!(SignatureScheme::from_request("hex", Some("bad header")).is_err());
    }

    #[test]
    fn static_headers_cannot_override_what_tidings_sets() {
        let scheme = SignatureScheme::Hex {
            header: "x-webhook-signature".into(),
        };
        let h = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert_eq!(
            fields::headers(h("X-Shop", "acme"), &scheme, Format::Standard).unwrap(),
            h("x-shop", "acme"),
            "names are lowercased"
        );
        for (name, value) in [
            ("Content-Type", "text/plain"),
            ("webhook-signature", "v1,x"),
            ("x-webhook-signature", "abc"),
            ("bad name", "x"),
            ("x-ok", "line\nbreak"),
        ] {
            assert!(
                fields::headers(h(name, value), &scheme, Format::Standard).is_err(),
                "{name}"
            );
        }
    }

    #[test]
    fn rotation_keeps_the_old_secret_signing_for_the_overlap() {
        let mut sub = new("https://shop.example/hooks", &["*"])
            .unwrap()
            .into_subscription(TenantId::parse("acme").unwrap(), Utc::now());
        let old = sub.secret.clone();
        let now = Utc::now();
        let new_secret = Secret::generate();
        sub.rotate_secret(new_secret.clone(), chrono::Duration::hours(24), now);
        let signing: Vec<&Secret> = sub.signing_secrets(now).collect();
        assert_eq!(signing, vec![&new_secret, &old]);
        let later = now + chrono::Duration::hours(25);
        assert_eq!(
            sub.signing_secrets(later).collect::<Vec<_>>(),
            vec![&new_secret]
        );
        // A rotation with no overlap retires the old secret at once.
        sub.rotate_secret(Secret::generate(), chrono::Duration::zero(), later);
        assert_eq!(sub.signing_secrets(later).count(), 1);
        assert!(
            sub.previous_secrets.is_empty(),
            "expired secrets are dropped"
        );
    }

    fn ed25519(sub: &mut Subscription) -> SigningKey {
        sub.set_signature(SignatureScheme::Ed25519, SigningKey::generate)
            .unwrap();
        sub.signing_key.clone().unwrap()
    }

    #[test]
    fn ed25519_gets_a_key_and_leaving_it_drops_the_keys() {
        let mut sub = new("https://shop.example/hooks", &["*"])
            .unwrap()
            .into_subscription(TenantId::parse("acme").unwrap(), Utc::now());
        assert_eq!(sub.public_key(), None);
        let now = Utc::now();
        assert_eq!(sub.signing_keys(now).ed25519.len(), 0);
        let key = ed25519(&mut sub);
        assert_eq!(sub.public_key(), Some(key.public_key()));
        let keys = sub.signing_keys(now);
        assert_eq!((keys.secrets.len(), keys.ed25519), (1, vec![&key]));
        // Choosing it again keeps the key.
        sub.set_signature(SignatureScheme::Ed25519, || -> Result<_, ()> { Err(()) })
            .unwrap();
        assert_eq!(sub.signing_key.as_ref(), Some(&key));
        sub.rotate_signing_key(
            SigningKey::generate().unwrap(),
            chrono::Duration::hours(1),
            now,
        );
        sub.set_signature(SignatureScheme::Standard, SigningKey::generate)
            .unwrap();
        assert_eq!(sub.public_key(), None);
        assert!(sub.signing_key.is_none() && sub.previous_signing_keys.is_empty());
        assert_eq!(sub.signing_keys(now).ed25519.len(), 0);
    }

    #[test]
    fn ed25519_needs_the_standard_webhooks_headers() {
        let mut sub = new("https://shop.example/hooks", &["*"])
            .unwrap()
            .into_subscription(TenantId::parse("acme").unwrap(), Utc::now());
        ed25519(&mut sub);
        assert_eq!(sub.check_signed(), Ok(()));
        sub.standard_webhooks = false;
        assert_eq!(sub.check_signed().unwrap_err().field, "standard_webhooks");
    }

    #[test]
    fn signing_keys_apply_to_ed25519_only() {
        let key = SigningKey::generate().unwrap();
        let field = |scheme: &SignatureScheme, text: &str| {
            fields::signing_key(text, scheme).map_err(|e| (e.field, e.rule))
        };
        assert_eq!(
            field(&SignatureScheme::Ed25519, key.expose()),
            Ok(key.clone())
        );
        assert_eq!(
            field(&SignatureScheme::Standard, key.expose())
                .unwrap_err()
                .0,
            "signing_key"
        );
        let bad = field(&SignatureScheme::Ed25519, &key.public_key()).unwrap_err();
        assert_eq!(bad.0, "signing_key");
        assert!(bad.1.contains("whsk_"), "{}", bad.1);
    }

    #[test]
    fn key_rotation_keeps_the_old_key_signing_for_the_overlap() {
        let mut sub = new("https://shop.example/hooks", &["*"])
            .unwrap()
            .into_subscription(TenantId::parse("acme").unwrap(), Utc::now());
        let old = ed25519(&mut sub);
        let secret = sub.secret.clone();
        let now = Utc::now();
        let new_key = SigningKey::generate().unwrap();
        sub.rotate_signing_key(new_key.clone(), chrono::Duration::hours(24), now);
        assert_eq!(sub.secret, secret, "the HMAC secret stays");
        assert_eq!(
            sub.signing_ed25519_keys(now).collect::<Vec<_>>(),
            vec![&new_key, &old]
        );
        let later = now + chrono::Duration::hours(25);
        assert_eq!(
            sub.signing_ed25519_keys(later).collect::<Vec<_>>(),
            vec![&new_key]
        );
        sub.rotate_signing_key(
            SigningKey::generate().unwrap(),
            chrono::Duration::zero(),
            now,
        );
        assert_eq!(sub.signing_ed25519_keys(now).count(), 1);
        assert!(
            sub.previous_signing_keys.is_empty(),
            "no overlap retires them all"
        );
    }
}
