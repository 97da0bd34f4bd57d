//! Subscriptions: create, read, change, delete, rotate the secret or the Ed25519 key, send a
//! test event, and list a page of them.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde_json::Value;

use super::event_types::known_types;
use super::{PageLimit, ServiceError};
use crate::Backend;
use crate::config::Config;
use crate::domain::dialect::Format;
use crate::domain::{
    EventType, Filter, NewSubscription, RateLimit, SaleorOptions, Selection, SignatureScheme,
    Subscription, SubscriptionId, TenantId, ValidationError, fields,
};
use crate::ports::store::StoreError;
use crate::services::events;
use crate::signing::{Secret, SigningKey};

#[derive(Debug, Clone, Default)]
pub struct CreateSubscription {
    /// The endpoint deliveries are POSTed to: an absolute `https://` URL of at most 2048
    /// characters, on a public address.
    pub url: String,
    /// 1 to 100 event types (`order.created`), prefix wildcards (`order.*`) or `*`. Exact
    /// types must be in the catalog or registered by the tenant (`GET /v1/event-types`).
    pub events: Vec<String>,
    /// Conditions on the envelope an event must meet too (see `domain::filter`).
    pub filter: Option<Value>,
    /// The paths of `data` deliveries carry (`data.total`…); all of it when absent.
    pub fields: Option<Vec<String>>,
    /// Deliveries per second at most (1 to 1,000); no limit when absent.
    pub rate_limit: Option<u32>,
    /// At most 256 characters.
    pub description: Option<String>,
    /// Whether events are delivered (default `true`).
    pub active: Option<bool>,
    /// The signing secret (`whsec_` + base64 of 24 to 64 bytes); generated when absent.
    pub secret: Option<String>,
    /// `standard` (default), `hex` or `ed25519`.
    pub signature: Option<String>,
    /// The header carrying the `hex` signature (default `x-webhook-signature`); only with `hex`.
    pub signature_header: Option<String>,
    /// The `ed25519` signature's key (`whsk_…`); generated when absent.
    pub signing_key: Option<String>,
    /// Static headers added to every delivery: at most 20, values of printable ASCII.
    pub headers: Option<BTreeMap<String, String>>,
    /// The wire dialect (`standard` by default).
    pub format: Option<String>,
    /// Whether the Standard Webhooks headers are sent too (default `true`).
    pub standard_webhooks: Option<bool>,
    /// `Saleor-Domain`, for the `saleor` format.
    pub saleor_domain: Option<String>,
    /// The deprecated `X-Saleor-*` headers too, for the `saleor` format.
    pub legacy_headers: Option<bool>,
}

/// Every field optional: only those given change. An empty `description` clears it.
#[derive(Debug, Clone, Default)]
pub struct UpdateSubscription {
    /// As in creation.
    pub url: Option<String>,
    /// Replaces the list: 1 to 100 event types, prefix wildcards or `*`.
    pub events: Option<Vec<String>>,
    /// Replaces the filter (`Some(None)`, JSON `null`, removes it).
    pub filter: Option<Option<Value>>,
    /// Replaces the selected paths (`Some(None)`, JSON `null`: all of `data` again).
    pub fields: Option<Option<Vec<String>>>,
    /// Replaces the rate limit (`Some(None)`, JSON `null`, removes it).
    pub rate_limit: Option<Option<u32>>,
    /// At most 256 characters; empty to clear it.
    pub description: Option<String>,
    pub active: Option<bool>,
    /// `standard`, `hex` or `ed25519` (which gets a new key, unless it already signs so).
    pub signature: Option<String>,
    /// The header carrying the `hex` signature; only with `hex`.
    pub signature_header: Option<String>,
    /// Replaces the static headers.
    pub headers: Option<BTreeMap<String, String>>,
    /// Changes the wire dialect; the secret stays.
    pub format: Option<String>,
    pub standard_webhooks: Option<bool>,
    /// Empty to clear it.
    pub saleor_domain: Option<String>,
    pub legacy_headers: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct RotateSecret {
    /// The new secret; generated when absent.
    pub secret: Option<String>,
    /// How long the old secret keeps signing, in seconds (default: the configured overlap).
    pub overlap_secs: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct RotateSigningKey {
    /// The new `whsk_…` key; generated when absent.
    pub signing_key: Option<String>,
    /// How long the old key keeps signing, in seconds (default: the configured overlap).
    pub overlap_secs: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct ListSubscriptions {
    /// 1 to 100, default 20.
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only active (`true`) or only paused (`false`) subscriptions.
    pub active: Option<bool>,
    /// Only subscriptions that would receive this event type.
    pub event_type: Option<String>,
}

pub struct Page {
    pub subscriptions: Vec<Subscription>,
    pub next_cursor: Option<String>,
}

/// The longest overlap a rotation may ask for.
const MAX_OVERLAP_SECS: u64 = 7 * 24 * 3600;

fn scheme(
    signature: Option<&str>,
    header: Option<&str>,
) -> Result<SignatureScheme, ValidationError> {
    SignatureScheme::from_request(signature.unwrap_or("standard"), header)
}

/// A fresh Ed25519 key; the crypto library failing is no fault of the request.
fn new_signing_key() -> Result<SigningKey, ServiceError> {
    SigningKey::generate().map_err(|e| ServiceError::Internal(e.to_string()))
}

pub async fn create(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    req: CreateSubscription,
) -> Result<Subscription, ServiceError> {
    let signature = scheme(req.signature.as_deref(), req.signature_header.as_deref())?;
    let format = req
        .format
        .as_deref()
        .map(Format::parse)
        .transpose()?
        .unwrap_or_default();
    // Saleor signs a webhook without a secret key with a JWS; so does Tidings.
    let mut saleor = SaleorOptions {
        jws: format == Format::Saleor && req.secret.is_none(),
        ..SaleorOptions::default()
    };
    set_saleor_options(&mut saleor, format, req.saleor_domain, req.legacy_headers)?;
    let signing_key = match req.signing_key.as_deref() {
        Some(key) => Some(fields::signing_key(key, &signature)?),
        None if signature == SignatureScheme::Ed25519 => Some(new_signing_key()?),
        None => None,
    };
    let new = NewSubscription {
        url: fields::url(&req.url, config.egress)?,
        events: fields::events(&req.events, known_types(backend, tenant).await?)?,
        filter: req.filter.as_ref().map(Filter::parse).transpose()?,
        fields: req.fields.as_deref().map(Selection::parse).transpose()?,
        rate_limit: req.rate_limit.map(RateLimit::new).transpose()?,
        active: req.active.unwrap_or(true),
        description: fields::description(req.description)?,
        secret: req
            .secret
            .as_deref()
            .map(|s| fields::secret(s, format))
            .transpose()?,
        headers: fields::headers(req.headers.unwrap_or_default(), &signature, format)?,
        signature,
        signing_key,
        format,
        standard_webhooks: req.standard_webhooks.unwrap_or(true),
        saleor,
    };
    let subscription = new.into_subscription(tenant.clone(), Utc::now());
    subscription.check_signed()?;
    backend
        .subscriptions
        .create_subscription(&subscription)
        .await?;
    announce(backend, config, events::SUBSCRIPTION_CREATED, &subscription).await;
    Ok(subscription)
}

/// A path's id, or not found: a malformed id names no subscription.
pub fn subscription_id(id: &str) -> Result<SubscriptionId, ServiceError> {
    SubscriptionId::parse(id).map_err(|_| ServiceError::NotFound("subscription"))
}

pub async fn get(
    backend: &Backend,
    tenant: &TenantId,
    id: &str,
) -> Result<Subscription, ServiceError> {
    backend
        .subscriptions
        .get_subscription(tenant, &subscription_id(id)?)
        .await?
        .ok_or(ServiceError::NotFound("subscription"))
}

/// Saves a changed subscription; one deleted meanwhile is not found.
async fn save(backend: &Backend, subscription: &Subscription) -> Result<(), ServiceError> {
    match backend
        .subscriptions
        .update_subscription(subscription)
        .await
    {
        Err(StoreError::Conflict) => Err(ServiceError::NotFound("subscription")),
        other => Ok(other?),
    }
}

pub async fn update(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    id: &str,
    req: UpdateSubscription,
) -> Result<Subscription, ServiceError> {
    let mut s = get(backend, tenant, id).await?;
    if let Some(url) = req.url {
        s.url = fields::url(&url, config.egress)?;
    }
    if let Some(events) = req.events {
        s.events = fields::events(&events, known_types(backend, tenant).await?)?;
    }
    if let Some(filter) = req.filter {
        s.filter = filter.as_ref().map(Filter::parse).transpose()?;
    }
    if let Some(fields) = req.fields {
        s.fields = fields.as_deref().map(Selection::parse).transpose()?;
    }
    if let Some(rate_limit) = req.rate_limit {
        s.rate_limit = rate_limit.map(RateLimit::new).transpose()?;
    }
    if let Some(description) = req.description {
        s.description = fields::description(Some(description).filter(|d| !d.is_empty()))?;
    }
    if let Some(active) = req.active {
        s.active = active;
    }
    if req.signature.is_some() || req.signature_header.is_some() {
        let name = req.signature.as_deref().unwrap_or(s.signature.name());
        let signature = scheme(Some(name), req.signature_header.as_deref())?;
        s.set_signature(signature, new_signing_key)?;
    }
    if let Some(format) = req.format.as_deref() {
        s.set_format(Format::parse(format)?)?;
    }
    if let Some(standard) = req.standard_webhooks {
        s.standard_webhooks = standard;
    }
    set_saleor_options(
        &mut s.saleor,
        s.format,
        req.saleor_domain,
        req.legacy_headers,
    )?;
    let headers = req.headers.unwrap_or_else(|| s.headers.clone());
    s.headers = fields::headers(headers, &s.signature, s.format)?;
    s.check_signed()?;
    save(backend, &s).await?;
    announce(backend, config, events::SUBSCRIPTION_UPDATED, &s).await;
    Ok(s)
}

/// Applies `saleor_domain` (empty clears it) and `legacy_headers`, which only the `saleor`
/// format has.
fn set_saleor_options(
    options: &mut SaleorOptions,
    format: Format,
    domain: Option<String>,
    legacy_headers: Option<bool>,
) -> Result<(), ValidationError> {
    if format != Format::Saleor {
        if domain.is_some() {
            return Err(ValidationError::new(
                "saleor_domain",
                "applies only to the 'saleor' format",
            ));
        }
        if legacy_headers.is_some() {
            return Err(ValidationError::new(
                "legacy_headers",
                "applies only to the 'saleor' format",
            ));
        }
        return Ok(());
    }
    if let Some(domain) = domain {
        options.domain = match domain.trim() {
            "" => None,
            domain => Some(fields::saleor_domain(domain)?),
        };
    }
    if let Some(legacy) = legacy_headers {
        options.legacy_headers = legacy;
    }
    Ok(())
}

pub async fn delete(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    id: &str,
) -> Result<(), ServiceError> {
    let subscription = get(backend, tenant, id).await?;
    if backend
        .subscriptions
        .delete_subscription(tenant, &subscription.id)
        .await?
    {
        announce(backend, config, events::SUBSCRIPTION_DELETED, &subscription).await;
        Ok(())
    } else {
        Err(ServiceError::NotFound("subscription"))
    }
}

/// Tells the tenant's subscriptions that name it (`subscription.*`) about a change. The
/// change is made whatever becomes of this notice, so a failure is logged, not answered.
async fn announce(backend: &Backend, config: &Config, event_type: &str, s: &Subscription) {
    let data = serde_json::json!({
        "subscription_id": s.id,
        "url": s.url,
        "events": s.events,
        "active": s.active,
        "format": s.format,
        "description": s.description,
    });
    if let Err(e) = events::emit_operational(backend, config, &s.tenant, event_type, data).await {
        tracing::warn!(error = %e, event_type, subscription = %s.id, "cannot send an operational event");
    }
}

pub async fn rotate_secret(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    id: &str,
    req: RotateSecret,
) -> Result<Subscription, ServiceError> {
    let mut s = get(backend, tenant, id).await?;
    let new = match req.secret.as_deref() {
        Some(text) => fields::secret(text, s.format)?,
        None => Secret::generate(),
    };
    let overlap = overlap(config, req.overlap_secs)?;
    s.rotate_secret(new, overlap, Utc::now());
    save(backend, &s).await?;
    Ok(s)
}

/// A rotation's overlap: the one asked for, at most 7 days, or the configured one.
fn overlap(config: &Config, secs: Option<u64>) -> Result<chrono::Duration, ValidationError> {
    let overlap = match secs {
        Some(secs) if secs > MAX_OVERLAP_SECS => {
            return Err(ValidationError::new(
                "overlap_secs",
                "must be at most 604800 (7 days)",
            ));
        }
        Some(secs) => std::time::Duration::from_secs(secs),
        None => config.rotation_overlap,
    };
    Ok(chrono::Duration::from_std(overlap).unwrap_or(chrono::Duration::zero()))
}

/// An `ed25519` subscription; any other, like another tenant's or a missing one, is not
/// found.
pub async fn get_ed25519(
    backend: &Backend,
    tenant: &TenantId,
    id: &str,
) -> Result<Subscription, ServiceError> {
    const WHAT: &str = "ed25519 subscription";
    match get(backend, tenant, id).await {
        Ok(s) if s.signature == SignatureScheme::Ed25519 && s.signing_key.is_some() => Ok(s),
        Ok(_) | Err(ServiceError::NotFound(_)) => Err(ServiceError::NotFound(WHAT)),
        Err(e) => Err(e),
    }
}

/// Replaces an `ed25519` subscription's key; the old one keeps signing for the overlap.
pub async fn rotate_signing_key(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    id: &str,
    req: RotateSigningKey,
) -> Result<Subscription, ServiceError> {
    let mut s = get_ed25519(backend, tenant, id).await?;
    let new = match req.signing_key.as_deref() {
        Some(text) => fields::signing_key(text, &s.signature)?,
        None => new_signing_key()?,
    };
    let overlap = overlap(config, req.overlap_secs)?;
    s.rotate_signing_key(new, overlap, Utc::now());
    save(backend, &s).await?;
    Ok(s)
}

/// Sends a `webhook.test` event to this subscription alone; returns the event and delivery ids.
pub async fn send_test(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    id: &str,
) -> Result<(String, String), ServiceError> {
    let s = get(backend, tenant, id).await?;
    let (receipt, delivery_id) = events::send_test(backend, config, &s).await?;
    Ok((receipt.id, delivery_id))
}

pub async fn list(
    backend: &Backend,
    tenant: &TenantId,
    query: ListSubscriptions,
) -> Result<Page, ServiceError> {
    let limit = PageLimit::parse(query.limit)?.get();
    let event_type = query
        .event_type
        .as_deref()
        .map(|t| EventType::parse_any(t).map_err(|e| ValidationError::new("event_type", e.rule)))
        .transpose()?;
    let mut after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let keep = |s: &Subscription| {
        query.active.is_none_or(|a| s.active == a)
            && event_type
                .as_ref()
                .is_none_or(|t| s.events.iter().any(|p| p.matches(t)))
    };
    // Filters apply after reading, so read pages until this one is full or none are left.
    let mut subscriptions = Vec::with_capacity(limit);
    loop {
        let (page, more) = backend
            .subscriptions
            .list_subscriptions_page(tenant, after.as_ref(), limit)
            .await?;
        let read = page.len();
        for (i, s) in page.into_iter().enumerate() {
            after = Some(s.id.clone());
            if keep(&s) {
                subscriptions.push(s);
            }
            if subscriptions.len() == limit {
                let remaining = i + 1 < read || more;
                return Ok(Page {
                    subscriptions,
                    next_cursor: after.filter(|_| remaining).as_ref().map(encode_cursor),
                });
            }
        }
        if !more || read == 0 {
            return Ok(Page {
                subscriptions,
                next_cursor: None,
            });
        }
    }
}

fn encode_cursor(id: &SubscriptionId) -> String {
    URL_SAFE_NO_PAD.encode(id.as_str())
}

fn decode_cursor(cursor: &str) -> Result<SubscriptionId, ValidationError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|id| SubscriptionId::parse(&id).ok())
        .ok_or_else(|| ValidationError::new("cursor", "is not a cursor this API returned"))
}
