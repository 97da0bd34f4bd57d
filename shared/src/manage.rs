//! Subscription management: what the api function does, as functions over the ports.
//! The HTTP handlers only parse requests and shape answers.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::Deserialize;
use thiserror::Error;
use utoipa::{IntoParams, ToSchema};

use crate::Backend;
use crate::config::Config;
use crate::domain::catalog::{self, CATALOG};
use crate::domain::{
    EventType, NewSubscription, SignatureScheme, Subscription, SubscriptionId, TenantId,
    ValidationError, fields,
};
use crate::ingest::{self, IngestError};
use crate::signing::Secret;
use crate::store::{CustomEventType, StoreError};

#[derive(Debug, Error)]
pub enum ManageError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("no {0} with this id")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://shop.example/hooks/orders",
    "events": ["order.*", "payment.refund.success"],
    "description": "Order notifications"
}))]
pub struct CreateSubscription {
    /// The endpoint deliveries are POSTed to: an absolute `https://` URL of at most 2048
    /// characters, on a public address.
    #[schema(max_length = 2048, example = "https://shop.example/hooks/orders")]
    pub url: String,
    /// 1 to 100 event types (`order.created`), prefix wildcards (`order.*`) or `*`. Exact
    /// types must be in the catalog or registered by the tenant (`GET /v1/event-types`).
    #[schema(min_items = 1, max_items = 100, example = json!(["order.*"]))]
    pub events: Vec<String>,
    /// At most 256 characters.
    #[schema(max_length = 256)]
    pub description: Option<String>,
    /// Whether events are delivered (default `true`).
    pub active: Option<bool>,
    /// The signing secret (`whsec_` + base64 of 24 to 64 bytes); generated when absent.
    pub secret: Option<String>,
    /// `standard` (default) or `hex`.
    #[schema(example = "standard")]
    pub signature: Option<String>,
    /// The header carrying the `hex` signature (default `x-webhook-signature`); only with `hex`.
    pub signature_header: Option<String>,
    /// Static headers added to every delivery: at most 20, values of printable ASCII.
    pub headers: Option<BTreeMap<String, String>>,
}

/// Every field optional: only those given change. An empty `description` clears it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": false}))]
pub struct UpdateSubscription {
    /// As in creation.
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    /// Replaces the list: 1 to 100 event types, prefix wildcards or `*`.
    #[schema(min_items = 1, max_items = 100)]
    pub events: Option<Vec<String>>,
    /// At most 256 characters; empty to clear it.
    #[schema(max_length = 256)]
    pub description: Option<String>,
    pub active: Option<bool>,
    /// `standard` or `hex`.
    pub signature: Option<String>,
    /// The header carrying the `hex` signature; only with `hex`.
    pub signature_header: Option<String>,
    /// Replaces the static headers.
    pub headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// The new secret; generated when absent.
    pub secret: Option<String>,
    /// How long the old secret keeps signing, in seconds (default: the configured overlap).
    #[schema(maximum = 604800)]
    pub overlap_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListSubscriptions {
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only active (`true`) or only paused (`false`) subscriptions.
    pub active: Option<bool>,
    /// Only subscriptions that would receive this event type.
    #[param(example = "order.created")]
    pub event_type: Option<String>,
}

pub struct Page {
    pub subscriptions: Vec<Subscription>,
    pub next_cursor: Option<String>,
}

/// The longest overlap a rotation may ask for.
const MAX_OVERLAP_SECS: u64 = 7 * 24 * 3600;

/// Checks exact event types against the catalog and the tenant's own types, suggesting the
/// closest names for a misspelling.
async fn known_types(
    backend: &Backend,
    tenant: &TenantId,
) -> Result<impl Fn(&EventType) -> Result<(), String>, StoreError> {
    let custom: Vec<String> = backend
        .event_types
        .list_event_types(tenant)
        .await?
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    Ok(move |t: &EventType| {
        let name = t.as_str();
        if catalog::catalog_entry(name).is_some() || custom.iter().any(|c| c == name) {
            return Ok(());
        }
        let known = CATALOG
            .iter()
            .map(|e| e.name)
            .chain(custom.iter().map(String::as_str));
        let suggestions = catalog::suggest(name, known);
        let hint = match suggestions.as_slice() {
            [] => String::new(),
            names => format!(" (did you mean '{}'?)", names.join("' or '")),
        };
        Err(format!(
            "'{name}' is not a known event type{hint}; see GET /v1/event-types, register it \
             with POST /v1/event-types, or use a wildcard such as 'order.*'"
        ))
    })
}

fn scheme(
    signature: Option<&str>,
    header: Option<&str>,
) -> Result<SignatureScheme, ValidationError> {
    SignatureScheme::from_request(signature.unwrap_or("standard"), header)
}

pub async fn create(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    req: CreateSubscription,
) -> Result<Subscription, ManageError> {
    let signature = scheme(req.signature.as_deref(), req.signature_header.as_deref())?;
    let new = NewSubscription {
        url: fields::url(&req.url, config.egress)?,
        events: fields::events(&req.events, known_types(backend, tenant).await?)?,
        active: req.active.unwrap_or(true),
        description: fields::description(req.description)?,
        secret: req.secret.as_deref().map(Secret::parse).transpose()?,
        headers: fields::headers(req.headers.unwrap_or_default(), &signature)?,
        signature,
    };
    let subscription = new.into_subscription(tenant.clone(), Utc::now());
    backend
        .subscriptions
        .create_subscription(&subscription)
        .await?;
    Ok(subscription)
}

/// A path's id, or not found: a malformed id names no subscription.
pub fn subscription_id(id: &str) -> Result<SubscriptionId, ManageError> {
    SubscriptionId::parse(id).map_err(|_| ManageError::NotFound("subscription"))
}

pub async fn get(
    backend: &Backend,
    tenant: &TenantId,
    id: &str,
) -> Result<Subscription, ManageError> {
    backend
        .subscriptions
        .get_subscription(tenant, &subscription_id(id)?)
        .await?
        .ok_or(ManageError::NotFound("subscription"))
}

/// Saves a changed subscription; one deleted meanwhile is not found.
async fn save(backend: &Backend, subscription: &Subscription) -> Result<(), ManageError> {
    match backend
        .subscriptions
        .update_subscription(subscription)
        .await
    {
        Err(StoreError::Conflict) => Err(ManageError::NotFound("subscription")),
        other => Ok(other?),
    }
}

pub async fn update(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    id: &str,
    req: UpdateSubscription,
) -> Result<Subscription, ManageError> {
    let mut s = get(backend, tenant, id).await?;
    if let Some(url) = req.url {
        s.url = fields::url(&url, config.egress)?;
    }
    if let Some(events) = req.events {
        s.events = fields::events(&events, known_types(backend, tenant).await?)?;
    }
    if let Some(description) = req.description {
        s.description = fields::description(Some(description).filter(|d| !d.is_empty()))?;
    }
    if let Some(active) = req.active {
        s.active = active;
    }
    if req.signature.is_some() || req.signature_header.is_some() {
        let name = req.signature.as_deref().unwrap_or(s.signature.name());
        s.signature = scheme(Some(name), req.signature_header.as_deref())?;
    }
    let headers = req.headers.unwrap_or_else(|| s.headers.clone());
    s.headers = fields::headers(headers, &s.signature)?;
    save(backend, &s).await?;
    Ok(s)
}

pub async fn delete(backend: &Backend, tenant: &TenantId, id: &str) -> Result<(), ManageError> {
    if backend
        .subscriptions
        .delete_subscription(tenant, &subscription_id(id)?)
        .await?
    {
        Ok(())
    } else {
        Err(ManageError::NotFound("subscription"))
    }
}

pub async fn rotate_secret(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    id: &str,
    req: RotateSecret,
) -> Result<Subscription, ManageError> {
    let mut s = get(backend, tenant, id).await?;
    let new = match req.secret.as_deref() {
        Some(text) => Secret::parse(text)?,
        None => Secret::generate(),
    };
    let overlap = match req.overlap_secs {
        Some(secs) if secs > MAX_OVERLAP_SECS => {
            return Err(
                ValidationError::new("overlap_secs", "must be at most 604800 (7 days)").into(),
            );
        }
        Some(secs) => std::time::Duration::from_secs(secs),
        None => config.rotation_overlap,
    };
    let overlap = chrono::Duration::from_std(overlap).unwrap_or(chrono::Duration::zero());
    s.rotate_secret(new, overlap, Utc::now());
    save(backend, &s).await?;
    Ok(s)
}

/// Sends a `webhook.test` event to this subscription alone; returns the event and delivery ids.
pub async fn send_test(
    backend: &Backend,
    config: &Config,
    tenant: &TenantId,
    id: &str,
) -> Result<(String, String), ManageError> {
    let s = get(backend, tenant, id).await?;
    let (receipt, delivery_id) = ingest::send_test(backend, config, &s).await?;
    Ok((receipt.id, delivery_id))
}

pub async fn list(
    backend: &Backend,
    tenant: &TenantId,
    query: ListSubscriptions,
) -> Result<Page, ManageError> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ValidationError::new("limit", "must be from 1 to 100").into());
    }
    let event_type = query
        .event_type
        .as_deref()
        .map(|t| EventType::parse(t).map_err(|e| ValidationError::new("event_type", e.rule)))
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

/// An entry of `GET /v1/event-types`.
pub struct EventTypeInfo {
    pub name: String,
    pub description: String,
    pub custom: bool,
}

pub async fn event_types(
    backend: &Backend,
    tenant: &TenantId,
) -> Result<Vec<EventTypeInfo>, ManageError> {
    let mut all: Vec<EventTypeInfo> = CATALOG
        .iter()
        .map(|e| EventTypeInfo {
            name: e.name.to_owned(),
            description: e.description.to_owned(),
            custom: false,
        })
        .chain(
            backend
                .event_types
                .list_event_types(tenant)
                .await?
                .into_iter()
                .map(|t| EventTypeInfo {
                    name: t.name.to_string(),
                    description: t.description,
                    custom: true,
                }),
        )
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterEventType {
    /// Lowercase dot-separated words, not in the catalog.
    #[schema(
        max_length = 128,
        pattern = "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$",
        example = "loyalty.points.earned"
    )]
    pub name: String,
    /// One line of 1 to 256 characters.
    #[schema(
        min_length = 1,
        max_length = 256,
        example = "A customer earned loyalty points."
    )]
    pub description: String,
}

pub async fn register_event_type(
    backend: &Backend,
    tenant: &TenantId,
    req: RegisterEventType,
) -> Result<CustomEventType, ManageError> {
    let name = EventType::parse(&req.name).map_err(|e| ValidationError::new("name", e.rule))?;
    let description = req.description.trim().to_owned();
    if description.is_empty() || description.chars().count() > 256 || description.contains('\n') {
        return Err(
            ValidationError::new("description", "must be one line of 1 to 256 characters").into(),
        );
    }
    if catalog::catalog_entry(name.as_str()).is_some() {
        return Err(ManageError::Conflict(format!(
            "'{name}' is already in the catalog"
        )));
    }
    let custom = CustomEventType { name, description };
    match backend.event_types.put_event_type(tenant, &custom).await {
        Err(StoreError::Conflict) => Err(ManageError::Conflict(format!(
            "'{}' is already registered",
            custom.name
        ))),
        other => {
            other?;
            Ok(custom)
        }
    }
}
