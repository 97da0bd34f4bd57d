//! `/v1/subscriptions…`: the subscription resource, its secret, its Ed25519 public key,
//! rotation and test events.

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, AppState, Caller};
use crate::domain::dialect::Format;
use crate::domain::{EventPattern, Subscription};
use crate::services::subscriptions;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/subscriptions", get(list).post(create))
        .route(
            "/v1/subscriptions/{id}",
            get(fetch).patch(update).delete(remove),
        )
        .route("/v1/subscriptions/{id}/secret", get(secret))
        .route("/v1/subscriptions/{id}/rotate-secret", post(rotate))
        .route("/v1/subscriptions/{id}/public-key", get(public_key))
        .route("/v1/subscriptions/{id}/rotate-key", post(rotate_key))
        .route("/v1/subscriptions/{id}/test", post(test))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://shop.example/hooks/orders",
    "events": ["order.*", "payment.refund.success"],
    "description": "Order notifications"
}))]
pub(super) struct CreateSubscription {
    /// The endpoint deliveries are POSTed to: an absolute `https://` URL of at most 2048
    /// characters, on a public address.
    #[schema(max_length = 2048, example = "https://shop.example/hooks/orders")]
    url: String,
    /// 1 to 100 event types (`order.created`), prefix wildcards (`order.*`) or `*`. Exact
    /// types must be in the catalog or registered by the tenant (`GET /v1/event-types`).
    #[schema(min_items = 1, max_items = 100, example = json!(["order.*"]))]
    events: Vec<String>,
    /// Conditions on the envelope an event must meet too, such as
    /// `{"data.total": {"$gte": 100}}`: `$eq`, `$neq`, `$gt`, `$gte`, `$lt`, `$lte`, `$in`,
    /// `$nin`, `$exists`, `$and`, `$or`, `$not` on dotted paths from `data`, `type`, `id`,
    /// `timestamp` or `tenant`; at most 4096 bytes, 8 levels and 50 conditions.
    #[schema(value_type = Option<Object>, example = json!({"data.total": {"$gte": 100}}))]
    filter: Option<Value>,
    /// The paths of `data` deliveries carry, such as `["data.id", "data.customer.email"]`
    /// (through lists into each element); 1 to 50. All of `data` when absent.
    #[schema(min_items = 1, max_items = 50, example = json!(["data.id", "data.total"]))]
    fields: Option<Vec<String>>,
    /// Deliveries per second at most, 1 to 1,000, across every dispatcher: a burst is held
    /// back (not counted as failed attempts) and sent at this pace. No limit when absent.
    #[schema(minimum = 1, maximum = 1000, example = 50)]
    rate_limit: Option<u32>,
    /// At most 256 characters.
    #[schema(max_length = 256)]
    description: Option<String>,
    /// Whether events are delivered (default `true`).
    active: Option<bool>,
    /// The signing secret: `whsec_` + base64 of 24 to 64 bytes; in the `medusa`,
    /// `commerce-engine`, `commercio` and `saleor` formats also the receiver's existing secret
    /// as it is (8 to 256 printable characters). Generated (32 random bytes) when absent.
    secret: Option<String>,
    /// `standard` (default), `hex`, or `ed25519`: Standard Webhooks `v1a` signatures beside
    /// the `v1` ones, verified with the subscription's public key
    /// (`GET /v1/subscriptions/{id}/public-key`).
    #[schema(example = "standard")]
    signature: Option<String>,
    /// The header carrying the `hex` signature (default `x-webhook-signature`); only with `hex`.
    signature_header: Option<String>,
    /// `ed25519` only: the signing key, `whsk_` + base64 of the 32-byte seed and its 32-byte
    /// public key. Generated when absent.
    signing_key: Option<String>,
    /// Static headers added to every delivery: at most 20, values of printable ASCII.
    headers: Option<BTreeMap<String, String>>,
    /// The wire dialect of the deliveries: `standard` (default), `medusa`, `commerce-engine`,
    /// `barecommerce`, `commercio` or `saleor` (body shape, event names, headers, signature).
    #[schema(example = "standard")]
    format: Option<String>,
    /// Whether deliveries carry the Standard Webhooks headers too (default `true`).
    standard_webhooks: Option<bool>,
    /// `saleor` only: the `Saleor-Domain` sent (a bare host; default the tenant's setting,
    /// else the API's own domain).
    saleor_domain: Option<String>,
    /// `saleor` only: also send the deprecated `X-Saleor-*` headers (default `false`).
    legacy_headers: Option<bool>,
}

/// Every field optional: only those given change. An empty `description` clears it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": false}))]
pub(super) struct UpdateSubscription {
    /// As in creation.
    #[schema(max_length = 2048)]
    url: Option<String>,
    /// Replaces the list: 1 to 100 event types, prefix wildcards or `*`.
    #[schema(min_items = 1, max_items = 100)]
    events: Option<Vec<String>>,
    /// Replaces the filter; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    filter: Option<Option<Value>>,
    /// Replaces the selected paths of `data`; `null` sends all of it again.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, min_items = 1, max_items = 50)]
    fields: Option<Option<Vec<String>>>,
    /// Replaces the rate limit (1 to 1,000 deliveries per second); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    rate_limit: Option<Option<u32>>,
    /// At most 256 characters; empty to clear it.
    #[schema(max_length = 256)]
    description: Option<String>,
    active: Option<bool>,
    /// `standard`, `hex` or `ed25519` (a new key pair is made when the subscription did not
    /// sign with `ed25519`; leaving `ed25519` drops its keys).
    signature: Option<String>,
    /// The header carrying the `hex` signature; only with `hex`.
    signature_header: Option<String>,
    /// Replaces the static headers.
    headers: Option<BTreeMap<String, String>>,
    /// The new wire dialect of the deliveries (the secret stays): `standard` (default), `medusa`, `commerce-engine`,
    /// `barecommerce`, `commercio` or `saleor` (body shape, event names, headers, signature).
    #[schema(example = "standard")]
    format: Option<String>,
    /// Whether deliveries carry the Standard Webhooks headers too (default `true`).
    standard_webhooks: Option<bool>,
    /// `saleor` only: the `Saleor-Domain` sent (a bare host; empty to clear it).
    saleor_domain: Option<String>,
    /// `saleor` only: also send the deprecated `X-Saleor-*` headers (default `false`).
    legacy_headers: Option<bool>,
}

/// A field that `null` clears: absent is `None`, `null` is `Some(None)`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RotateSecret {
    /// The new secret; generated when absent.
    secret: Option<String>,
    /// How long the old secret keeps signing, in seconds (default: the configured overlap).
    #[schema(maximum = 604800)]
    overlap_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RotateSigningKey {
    /// The new signing key (`whsk_…`); generated when absent.
    signing_key: Option<String>,
    /// How long the old key keeps signing, in seconds (default: the configured overlap).
    #[schema(maximum = 604800)]
    overlap_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListSubscriptions {
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only active (`true`) or only paused (`false`) subscriptions.
    active: Option<bool>,
    /// Only subscriptions that would receive this event type.
    #[param(example = "order.created")]
    event_type: Option<String>,
}

impl From<CreateSubscription> for subscriptions::CreateSubscription {
    fn from(r: CreateSubscription) -> Self {
        Self {
            url: r.url,
            events: r.events,
            filter: r.filter,
            fields: r.fields,
            rate_limit: r.rate_limit,
            description: r.description,
            active: r.active,
            secret: r.secret,
            signature: r.signature,
            signature_header: r.signature_header,
            signing_key: r.signing_key,
            headers: r.headers,
            format: r.format,
            standard_webhooks: r.standard_webhooks,
            saleor_domain: r.saleor_domain,
            legacy_headers: r.legacy_headers,
        }
    }
}

impl From<UpdateSubscription> for subscriptions::UpdateSubscription {
    fn from(r: UpdateSubscription) -> Self {
        Self {
            url: r.url,
            events: r.events,
            filter: r.filter,
            fields: r.fields,
            rate_limit: r.rate_limit,
            description: r.description,
            active: r.active,
            signature: r.signature,
            signature_header: r.signature_header,
            headers: r.headers,
            format: r.format,
            standard_webhooks: r.standard_webhooks,
            saleor_domain: r.saleor_domain,
            legacy_headers: r.legacy_headers,
        }
    }
}

impl From<RotateSecret> for subscriptions::RotateSecret {
    fn from(r: RotateSecret) -> Self {
        Self {
            secret: r.secret,
            overlap_secs: r.overlap_secs,
        }
    }
}

impl From<RotateSigningKey> for subscriptions::RotateSigningKey {
    fn from(r: RotateSigningKey) -> Self {
        Self {
            signing_key: r.signing_key,
            overlap_secs: r.overlap_secs,
        }
    }
}

impl From<ListSubscriptions> for subscriptions::ListSubscriptions {
    fn from(q: ListSubscriptions) -> Self {
        Self {
            limit: q.limit,
            cursor: q.cursor,
            active: q.active,
            event_type: q.event_type,
        }
    }
}

/// A subscription as the API shows it: never with its secret, except right after creation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Subscription)]
pub(super) struct SubscriptionView {
    #[schema(example = "sub_01JD7Y2Q8ZV6M3N4P5R6S7T8U9")]
    id: String,
    #[schema(example = "https://shop.example/hooks/orders")]
    url: String,
    /// Event types, prefix wildcards (`order.*`) or `*`.
    #[schema(value_type = Vec<String>, example = json!(["order.*"]))]
    events: Vec<EventPattern>,
    /// The conditions an event must meet too, as given; absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, example = json!({"data.total": {"$gte": 100}}))]
    filter: Option<Value>,
    /// The paths of `data` deliveries carry; absent when they carry all of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>, example = json!(["data.id", "data.total"]))]
    fields: Option<Vec<String>>,
    /// Deliveries per second at most; absent when there is no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit: Option<u32>,
    active: bool,
    #[schema(required = true)]
    description: Option<String>,
    /// `standard`, `hex` or `ed25519`.
    #[schema(value_type = String, example = "standard")]
    signature: &'static str,
    /// The header carrying the `hex` signature; with `hex` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    signature_header: Option<String>,
    /// With `ed25519` only: the public key (`whpk_…`) receivers verify `v1a` signatures
    /// with; also at `GET /v1/subscriptions/{id}/public-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=")]
    public_key: Option<String>,
    /// Static headers added to every delivery.
    headers: BTreeMap<String, String>,
    /// The wire dialect: `standard`, `medusa`, `commerce-engine`, `barecommerce`,
    /// `commercio` or `saleor`.
    #[schema(value_type = String, example = "standard")]
    format: &'static str,
    /// Whether deliveries carry the Standard Webhooks headers.
    standard_webhooks: bool,
    /// `saleor` only: the `Saleor-Domain` sent, when the subscription sets its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    saleor_domain: Option<String>,
    /// `saleor` only: whether the deprecated `X-Saleor-*` headers are sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    legacy_headers: Option<bool>,
    /// `saleor` only: `jws` when created without a secret key (`Saleor-Signature` is then a
    /// JWS verified with `/.well-known/jwks.json`), else `hmac`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "jws")]
    saleor_signature: Option<&'static str>,
    created_at: DateTime<Utc>,
    /// The signing secret (`whsec_…`, or the receiver's own): in the creation answer only; later through
    /// `GET /v1/subscriptions/{id}/secret`.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl SubscriptionView {
    fn new(s: Subscription, with_secret: bool) -> Self {
        Self {
            id: s.id.to_string(),
            url: s.url.to_string(),
            secret: with_secret.then(|| s.secret.expose().to_owned()),
            signature: s.signature.name(),
            signature_header: s.signature.header().map(str::to_owned),
            public_key: s.public_key(),
            headers: s.headers,
            format: s.format.name(),
            standard_webhooks: s.standard_webhooks,
            legacy_headers: (s.format == Format::Saleor).then_some(s.saleor.legacy_headers),
            saleor_signature: (s.format == Format::Saleor).then_some(if s.saleor.jws {
                "jws"
            } else {
                "hmac"
            }),
            saleor_domain: s.saleor.domain,
            events: s.events,
            filter: s.filter.map(|f| f.as_json().clone()),
            fields: s.fields.map(Vec::from),
            rate_limit: s.rate_limit.map(u32::from),
            active: s.active,
            description: s.description,
            created_at: s.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SubscriptionPage)]
struct Page {
    data: Vec<SubscriptionView>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SigningSecret)]
struct SecretView {
    /// The current signing secret (`whsec_…`).
    secret: String,
    /// When the secret replaced by the last rotation stops signing, if it still does.
    #[schema(required = true)]
    previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl SecretView {
    fn new(s: &Subscription) -> Self {
        let now = Utc::now();
        Self {
            secret: s.secret.expose().to_owned(),
            previous_secret_expires_at: s
                .previous_secrets
                .iter()
                .map(|r| r.expires_at)
                .filter(|t| *t > now)
                .max(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PublicKeys)]
struct PublicKeysView {
    /// The current public key: `whpk_` + base64 of the 32-byte Ed25519 public key.
    #[schema(example = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=")]
    public_key: String,
    /// The keys replaced by rotations that still sign deliveries, newest first.
    previous_public_keys: Vec<PreviousPublicKey>,
}

/// A rotated key's public half, and when it stops signing.
#[derive(Debug, Serialize, ToSchema)]
struct PreviousPublicKey {
    #[schema(example = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=")]
    public_key: String,
    expires_at: DateTime<Utc>,
}

impl PublicKeysView {
    /// `None` unless the subscription signs with `ed25519`.
    fn new(s: &Subscription) -> Option<Self> {
        let now = Utc::now();
        let public_key = s.public_key()?;
        Some(Self {
            public_key,
            previous_public_keys: s
                .previous_signing_keys
                .iter()
                .filter(|r| r.expires_at > now)
                .map(|r| PreviousPublicKey {
                    public_key: r.key.public_key(),
                    expires_at: r.expires_at,
                })
                .collect(),
        })
    }
}

/// The test event sent and its one delivery.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TestDelivery)]
struct TestSent {
    event_id: String,
    delivery_id: String,
}

/// Create a subscription
///
/// An endpoint that receives the events matching its patterns. The answer holds its signing secret.
#[utoipa::path(
    post,
    path = "/v1/subscriptions",
    operation_id = "createSubscription",
    tag = "subscriptions",
    request_body(content = CreateSubscription, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; `secret` holds the signing secret", body = SubscriptionView),
    ),
    security(("bearer" = []))
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateSubscription>, JsonRejection>,
) -> Result<(StatusCode, Json<SubscriptionView>), ApiError> {
    caller.require_admin()?;
    let Json(req) = body?;
    let s =
        subscriptions::create(&state.backend, &state.config, &caller.tenant, req.into()).await?;
    Ok((StatusCode::CREATED, Json(SubscriptionView::new(s, true))))
}

/// List subscriptions
///
/// A page of the tenant's subscriptions, oldest first, optionally filtered.
#[utoipa::path(
    get,
    path = "/v1/subscriptions",
    operation_id = "listSubscriptions",
    tag = "subscriptions",
    params(ListSubscriptions),
    responses(
        (status = 200, description = "A page of subscriptions", body = Page),
    ),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListSubscriptions>, QueryRejection>,
) -> Result<Json<Page>, ApiError> {
    caller.require_admin()?;
    let Query(query) = query?;
    let page = subscriptions::list(&state.backend, &caller.tenant, query.into()).await?;
    Ok(Json(Page {
        data: page
            .subscriptions
            .into_iter()
            .map(|s| SubscriptionView::new(s, false))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Get a subscription
///
/// The subscription, without its secret.
#[utoipa::path(
    get,
    path = "/v1/subscriptions/{id}",
    operation_id = "getSubscription",
    tag = "subscriptions",
    params(("id" = String, Path, description = "The subscription's id (`sub_…`)")),
    responses(
        (status = 200, description = "The subscription", body = SubscriptionView),
    ),
    security(("bearer" = []))
)]
async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    caller.require_admin()?;
    let s = subscriptions::get(&state.backend, &caller.tenant, &id).await?;
    Ok(Json(SubscriptionView::new(s, false)))
}

/// Update a subscription
///
/// Changes only the fields given.
#[utoipa::path(
    patch,
    path = "/v1/subscriptions/{id}",
    operation_id = "updateSubscription",
    tag = "subscriptions",
    params(("id" = String, Path, description = "The subscription's id (`sub_…`)")),
    request_body(content = UpdateSubscription, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated subscription", body = SubscriptionView),
    ),
    security(("bearer" = []))
)]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<UpdateSubscription>, JsonRejection>,
) -> Result<Json<SubscriptionView>, ApiError> {
    caller.require_admin()?;
    let Json(req) = body?;
    let s = subscriptions::update(
        &state.backend,
        &state.config,
        &caller.tenant,
        &id,
        req.into(),
    )
    .await?;
    Ok(Json(SubscriptionView::new(s, false)))
}

/// Delete a subscription
///
/// No more deliveries are made to it.
#[utoipa::path(
    delete,
    path = "/v1/subscriptions/{id}",
    operation_id = "deleteSubscription",
    tag = "subscriptions",
    params(("id" = String, Path, description = "The subscription's id (`sub_…`)")),
    responses(
        (status = 204, description = "Deleted"),
    ),
    security(("bearer" = []))
)]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    subscriptions::delete(&state.backend, &state.config, &caller.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Get the signing secret
///
/// The current secret, and when the one it replaced stops signing.
#[utoipa::path(
    get,
    path = "/v1/subscriptions/{id}/secret",
    operation_id = "getSubscriptionSecret",
    tag = "subscriptions",
    params(("id" = String, Path, description = "The subscription's id (`sub_…`)")),
    responses(
        (status = 200, description = "The signing secret", body = SecretView),
    ),
    security(("bearer" = []))
)]
async fn secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SecretView>, ApiError> {
    caller.require_admin()?;
    let s = subscriptions::get(&state.backend, &caller.tenant, &id).await?;
    Ok(Json(SecretView::new(&s)))
}

/// Rotate the signing secret
///
/// Replaces the secret; the old one keeps signing alongside it for `overlap_secs`. The body is optional.
#[utoipa::path(
    post,
    path = "/v1/subscriptions/{id}/rotate-secret",
    operation_id = "rotateSubscriptionSecret",
    tag = "subscriptions",
    params(("id" = String, Path, description = "The subscription's id (`sub_…`)")),
    // Optional: `ref` leaves `required` unset, where `Option<RotateSecret>` would also allow `null`.
    request_body(content = ref("#/components/schemas/RotateSecret"), content_type = "application/json"),
    responses(
        (status = 200, description = "The new signing secret", body = SecretView),
    ),
    security(("bearer" = []))
)]
async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Option<Json<RotateSecret>>, JsonRejection>,
) -> Result<Json<SecretView>, ApiError> {
    caller.require_admin()?;
    let req = body?.map(|Json(r)| r).unwrap_or_default();
    let s = subscriptions::rotate_secret(
        &state.backend,
        &state.config,
        &caller.tenant,
        &id,
        req.into(),
    )
    .await?;
    Ok(Json(SecretView::new(&s)))
}

/// Get the Ed25519 public key
///
/// The `whpk_…` key that verifies the `v1a` signatures of an `ed25519` subscription's deliveries, and the rotated keys still signing. Any other subscription is not found.
#[utoipa::path(
    get,
    path = "/v1/subscriptions/{id}/public-key",
    operation_id = "getSubscriptionPublicKey",
    tag = "subscriptions",
    params(("id" = String, Path, description = "The subscription's id (`sub_…`)")),
    responses(
        (status = 200, description = "The public keys", body = PublicKeysView),
    ),
    security(("bearer" = []))
)]
async fn public_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PublicKeysView>, ApiError> {
    caller.require_admin()?;
    let s = subscriptions::get_ed25519(&state.backend, &caller.tenant, &id).await?;
    public_keys(&s)
}

fn public_keys(s: &Subscription) -> Result<Json<PublicKeysView>, ApiError> {
    PublicKeysView::new(s)
        .map(Json)
        .ok_or(ApiError::NotFound("ed25519 subscription"))
}

/// Rotate the Ed25519 signing key
///
/// Replaces an `ed25519` subscription's key pair; the old key keeps signing alongside it for `overlap_secs`, so receivers with the old or the new public key verify. The HMAC secret stays. The body is optional.
#[utoipa::path(
    post,
    path = "/v1/subscriptions/{id}/rotate-key",
    operation_id = "rotateSubscriptionSigningKey",
    tag = "subscriptions",
    params(("id" = String, Path, description = "The subscription's id (`sub_…`)")),
    request_body(content = ref("#/components/schemas/RotateSigningKey"), content_type = "application/json"),
    responses(
        (status = 200, description = "The new public key, and the previous ones still signing", body = PublicKeysView),
    ),
    security(("bearer" = []))
)]
async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Option<Json<RotateSigningKey>>, JsonRejection>,
) -> Result<Json<PublicKeysView>, ApiError> {
    caller.require_admin()?;
    let req = body?.map(|Json(r)| r).unwrap_or_default();
    let s = subscriptions::rotate_signing_key(
        &state.backend,
        &state.config,
        &caller.tenant,
        &id,
        req.into(),
    )
    .await?;
    public_keys(&s)
}

/// Send a test event
///
/// Sends a `webhook.test` event to this subscription alone, through the normal pipeline.
#[utoipa::path(
    post,
    path = "/v1/subscriptions/{id}/test",
    operation_id = "testSubscription",
    tag = "subscriptions",
    params(("id" = String, Path, description = "The subscription's id (`sub_…`)")),
    responses(
        (status = 202, description = "The test event was enqueued", body = TestSent),
    ),
    security(("bearer" = []))
)]
async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<TestSent>), ApiError> {
    caller.require_admin()?;
    let (event_id, delivery_id) =
        subscriptions::send_test(&state.backend, &state.config, &caller.tenant, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TestSent {
            event_id,
            delivery_id,
        }),
    ))
}
