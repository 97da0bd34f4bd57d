//! One delivery as it goes on the wire: the body in the subscription's format, and every
//! header (the format's own, the signatures, the static ones), with the record of what was
//! sent (signature values elided).

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::dialect::{self, Format, SaleorContext};
use super::{Event, EventData, SentAs, Subscription, TenantSettings};
use crate::signing::{self, RsaSigningKey};

/// What the tenant's settings and the deployment add to a delivery.
#[derive(Debug, Clone, Copy)]
pub struct WireContext<'a> {
    pub tenant: &'a TenantSettings,
    /// The API's own domain, the last default of `Saleor-Domain`.
    pub public_domain: &'a str,
    /// The API's own `…/graphql/` URL, sent as `Saleor-Api-Url`: app-sdk fetches the JWKS
    /// from its origin.
    pub saleor_api_url: &'a str,
    /// The deployment's current RSA key, for subscriptions signed with a JWS.
    pub jws_key: Option<&'a RsaSigningKey>,
}

/// Why a delivery could not be put on the wire.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("cannot serialize the event: {0}")]
    Body(#[from] serde_json::Error),
    #[error("cannot sign with the deployment's key: {0}")]
    Jws(String),
    #[error("header {0} is not a valid HTTP header name or value")]
    Header(String),
}

/// A delivery, ready to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRequest {
    /// Exactly the bytes that were signed.
    pub body: Vec<u8>,
    /// Every header, `content-type` (always `application/json`) first, as the request
    /// carries them.
    pub headers: HeaderMap,
    /// What the record keeps: every header but `content-type`, signatures elided.
    pub sent: SentAs,
}

/// The names a delivery carries besides its subscription's own, made once: a name that
/// is not one of HTTP's standard ones is otherwise parsed and copied for every request.
static KNOWN_NAMES: [HeaderName; 14] = [
    HeaderName::from_static(signing::HEADER_ID),
    HeaderName::from_static(signing::HEADER_TIMESTAMP),
    HeaderName::from_static(signing::HEADER_SIGNATURE),
    HeaderName::from_static(dialect::MEDUSA_SIGNATURE),
    HeaderName::from_static(dialect::COMMERCE_ENGINE_SIGNATURE),
    HeaderName::from_static(dialect::COMMERCIO_EVENT),
    HeaderName::from_static(dialect::COMMERCIO_SIGNATURE),
    HeaderName::from_static(dialect::SALEOR_EVENT),
    HeaderName::from_static(dialect::SALEOR_DOMAIN),
    HeaderName::from_static(dialect::SALEOR_API_URL),
    HeaderName::from_static(dialect::SALEOR_SIGNATURE),
    HeaderName::from_static(dialect::SALEOR_LEGACY_EVENT),
    HeaderName::from_static(dialect::SALEOR_LEGACY_DOMAIN),
    HeaderName::from_static(dialect::SALEOR_LEGACY_SIGNATURE),
];

/// `name` as a header name, and as the record keeps it: both without a copy when it is one
/// of [`KNOWN_NAMES`].
fn header_name(name: &str) -> Result<(HeaderName, Cow<'static, str>), WireError> {
    match KNOWN_NAMES.iter().find(|known| known.as_str() == name) {
        Some(known) => Ok((known.clone(), Cow::Borrowed(known.as_str()))),
        None => HeaderName::from_bytes(name.as_bytes())
            .map(|parsed| (parsed, Cow::Owned(name.to_owned())))
            .map_err(|_| WireError::Header(name.into())),
    }
}

impl Subscription {
    /// Whether its deliveries need the tenant's settings (BareCommerce's `storeId`, a
    /// Saleor domain the subscription does not set), which costs a read per delivery.
    pub fn needs_tenant_settings(&self) -> bool {
        match self.format {
            Format::BareCommerce => true,
            Format::Saleor => self.saleor.domain.is_none(),
            _ => false,
        }
    }

    /// `event` as this subscription receives it at `now`.
    pub fn wire_request(
        &self,
        event: &Event,
        context: WireContext<'_>,
        now: DateTime<Utc>,
    ) -> Result<WireRequest, WireError> {
        let store_id = context.tenant.store_id(&event.tenant);
        let trimmed;
        let event = match &self.fields {
            Some(fields) => {
                trimmed = Event {
                    data: EventData::new(&fields.select(&event.data.value())),
                    ..event.clone()
                };
                &trimmed
            }
            None => event,
        };
        let body = dialect::render_body(self.format, event, store_id)?;
        let saleor = SaleorContext {
            domain: self
                .saleor
                .domain
                .as_deref()
                .or(context.tenant.saleor_domain.as_deref())
                .unwrap_or(context.public_domain),
            api_url: context.saleor_api_url,
            legacy_headers: self.saleor.legacy_headers,
        };
        let keys = self.signing_keys(now);
        let mut signatures =
            signing::delivery_headers(&keys, event.id.as_str(), now.timestamp(), &body);
        let mut jws_headers: Vec<&str> = Vec::new();
        if self.uses_jws() {
            let key = context
                .jws_key
                .ok_or_else(|| WireError::Jws("no key was loaded".into()))?;
            let jws = key
                .sign_detached(&body)
                .map_err(|e| WireError::Jws(e.to_string()))?;
            jws_headers.push(dialect::SALEOR_SIGNATURE);
            if self.saleor.legacy_headers {
                jws_headers.push(dialect::SALEOR_LEGACY_SIGNATURE);
            }
            signatures.extend(jws_headers.iter().map(|h| (*h, jws.clone())));
        }
        let event_headers = self
            .format
            .event_headers(event.event_type.as_str(), &saleor);
        let is_signature = |name: &str| {
            name == signing::HEADER_SIGNATURE
                || keys.hex_headers.contains(&name)
                || jws_headers.contains(&name)
        };
        let count = self.headers.len() + event_headers.len() + signatures.len();
        // Room for content-type, and for the three the delivery client adds (user-agent,
        // accept, host): a map that fills up grows by copying itself, two allocations.
        let mut headers = HeaderMap::with_capacity(count + 4);
        let mut recorded = BTreeMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let all = self
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.clone()))
            .chain(event_headers)
            .chain(signatures);
        for (name, value) in all {
            let shown = if is_signature(name) {
                Cow::Borrowed(SentAs::ELIDED)
            } else {
                Cow::Owned(value.clone())
            };
            let (header, kept) = header_name(name)?;
            recorded.insert(kept, shown);
            // Appended, as `RequestBuilder::header` does; the value's bytes are not copied.
            let value = HeaderValue::try_from(value).map_err(|_| WireError::Header(name.into()))?;
            headers.append(header, value);
        }
        Ok(WireRequest {
            body,
            headers,
            sent: SentAs {
                format: self.format,
                event_name: dialect::name_as_sent(self.format, event.event_type.as_str()),
                headers: recorded,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewEvent, NewSubscription, SignatureScheme, TenantId, fields};
    use crate::signing::{self, sign_hex};
    use serde_json::{Value, json};

    fn subscription(format: Format, secret: &str) -> Subscription {
        NewSubscription {
            secret: Some(fields::secret(secret, format).unwrap()),
            headers: [("x-shop".to_owned(), "acme".to_owned())].into(),
            format,
            ..NewSubscription::for_test("https://shop.example/hooks", &["*"]).unwrap()
        }
        .into_subscription(TenantId::parse("acme").unwrap(), Utc::now())
    }

    fn event(event_type: &str) -> Event {
        NewEvent::from_json(json!({
            "id": "evt_1",
            "type": event_type,
            "timestamp": "2026-11-24T10:30:00Z",
            "data": {"order_id": "ord_1", "total": 4990}
        }))
        .unwrap()
        .into_event(TenantId::parse("acme").unwrap(), Utc::now())
    }

    fn header<'a>(wire: &'a WireRequest, name: &str) -> Option<&'a str> {
        wire.headers.get(name).map(|v| v.to_str().unwrap())
    }

    const DOMAIN: &str = "tidings.example.com";

    fn context(tenant: &TenantSettings) -> WireContext<'_> {
        WireContext {
            tenant,
            public_domain: DOMAIN,
            saleor_api_url: "https://tidings.example.com/graphql/",
            jws_key: None,
        }
    }

    /// `event_type`'s test event as `s` sends it now, for a tenant without settings.
    fn wire(s: &Subscription, event_type: &str) -> Result<WireRequest, WireError> {
        let tenant = TenantSettings::default();
        s.wire_request(&event(event_type), context(&tenant), Utc::now())
    }

    #[test]
    fn ed25519_adds_a_v1a_signature_that_its_public_key_verifies_beside_v1() {
        let mut s = subscription(Format::Standard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        s.set_signature(SignatureScheme::Ed25519, signing::SigningKey::generate)
            .unwrap();
        let now = Utc::now();
        let wire = s
            .wire_request(
                &event("order.created"),
                context(&TenantSettings::default()),
                now,
            )
            .unwrap();
        let signatures = header(&wire, "webhook-signature").unwrap();
        let versions: Vec<&str> = signatures
            .split(' ')
            .filter_map(|sig| sig.split_once(',').map(|(v, _)| v))
            .collect();
        assert_eq!(versions, ["v1", "v1a"]);
        let check = |key: &str| {
            signing::verify(
                key,
                header(&wire, "webhook-id"),
                header(&wire, "webhook-timestamp"),
                Some(signatures),
                &wire.body,
                now.timestamp(),
            )
        };
        assert_eq!(check(&s.public_key().unwrap()), Ok(()));
        assert_eq!(check(s.secret.expose()), Ok(()));
        assert_eq!(wire.sent.headers["webhook-signature"], SentAs::ELIDED);
    }

    #[test]
    fn saleor_sends_the_payload_its_headers_and_the_hmac_of_its_secret_key() {
        let mut s = subscription(Format::Saleor, "secret-key");
        s.saleor.legacy_headers = true;
        let tenant = TenantSettings {
            saleor_domain: Some("shop.example.com".into()),
            ..TenantSettings::default()
        };
        let wire = s
            .wire_request(&event("ORDER_CREATED"), context(&tenant), Utc::now())
            .unwrap();
        let body: Value = serde_json::from_slice(&wire.body).unwrap();
        assert_eq!(body, json!({"order_id": "ord_1", "total": 4990}));
        let hex = sign_hex("secret-key", &wire.body);
        assert_eq!(header(&wire, "saleor-event"), Some("order_created"));
        assert_eq!(header(&wire, "saleor-domain"), Some("shop.example.com"));
        assert_eq!(
            header(&wire, "saleor-api-url"),
            Some("https://tidings.example.com/graphql/")
        );
        assert_eq!(header(&wire, "saleor-signature"), Some(hex.as_str()));
        assert_eq!(header(&wire, "x-saleor-event"), Some("order_created"));
        assert_eq!(header(&wire, "x-saleor-domain"), Some("shop.example.com"));
        assert_eq!(header(&wire, "x-saleor-signature"), Some(hex.as_str()));
        assert_eq!(header(&wire, "x-shop"), Some("acme"));
        assert!(header(&wire, "webhook-signature").is_some());
        // The record shows every header, signatures elided.
        assert_eq!(wire.sent.format, Format::Saleor);
        assert_eq!(wire.sent.event_name, "order_created");
        assert_eq!(wire.sent.headers["saleor-signature"], SentAs::ELIDED);
        assert_eq!(wire.sent.headers["webhook-signature"], SentAs::ELIDED);
        assert_eq!(wire.sent.headers["saleor-event"], "order_created");
        // All but content-type.
        assert_eq!(wire.sent.headers.len() + 1, wire.headers.len());
        assert_eq!(header(&wire, "content-type"), Some("application/json"));
    }

    #[test]
    fn a_header_that_http_cannot_carry_is_an_error_naming_it_not_a_request() {
        // The API refuses such a header when the subscription is written; should one get
        // this far anyway, the attempt fails naming it.
        let mut s = subscription(Format::Standard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        s.headers.insert("x-note".into(), "one\ntwo".into());
        let error = wire(&s, "order.created").unwrap_err();
        assert_eq!(
            error.to_string(),
            "header x-note is not a valid HTTP header name or value"
        );
    }

    #[test]
    fn the_saleor_domain_falls_back_from_subscription_to_tenant_to_the_api() {
        let mut s = subscription(Format::Saleor, "secret-key");
        let none = TenantSettings::default();
        let tenant = TenantSettings {
            saleor_domain: Some("tenant.example.com".into()),
            ..TenantSettings::default()
        };
        let domain = |s: &Subscription, t: &TenantSettings| {
            let wire = s
                .wire_request(&event("order.created"), context(t), Utc::now())
                .unwrap();
            header(&wire, "saleor-domain").map(str::to_owned)
        };
        assert_eq!(domain(&s, &none).as_deref(), Some(DOMAIN));
        assert_eq!(domain(&s, &tenant).as_deref(), Some("tenant.example.com"));
        assert!(s.needs_tenant_settings());
        s.saleor.domain = Some("own.example.com".into());
        assert_eq!(domain(&s, &tenant).as_deref(), Some("own.example.com"));
        assert!(!s.needs_tenant_settings(), "its own domain needs no read");
    }

    #[test]
    fn medusa_without_standard_headers_carries_only_its_own_signature() {
        let mut s = subscription(Format::Medusa, "medusa_webhook_secret");
        s.standard_webhooks = false;
        let wire = wire(&s, "order.cancelled").unwrap();
        assert_eq!(
            String::from_utf8(wire.body.clone()).unwrap(),
            r#"{"event":"order.canceled","data":{"order_id":"ord_1","total":4990},"timestamp":"2026-11-24T10:30:00.000Z"}"#
        );
        assert_eq!(
            header(&wire, "x-medusa-signature"),
            Some(sign_hex("medusa_webhook_secret", &wire.body).as_str())
        );
        assert!(header(&wire, signing::HEADER_SIGNATURE).is_none());
        assert!(header(&wire, signing::HEADER_ID).is_none());
    }

    #[test]
    fn barecommerce_carries_the_store_id_and_standard_webhooks_headers() {
        let s = subscription(
            Format::BareCommerce,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        );
        let default = TenantSettings::default();
        let wire = s
            .wire_request(&event("order.paid"), context(&default), Utc::now())
            .unwrap();
        let body: Value = serde_json::from_slice(&wire.body).unwrap();
        assert_eq!(body["storeId"], "acme", "the tenant id by default");
        assert_eq!(body["type"], "order.paid");
        let set = TenantSettings {
            store_id: Some("store_42".into()),
            ..TenantSettings::default()
        };
        let wire = s
            .wire_request(&event("order.paid"), context(&set), Utc::now())
            .unwrap();
        let body: Value = serde_json::from_slice(&wire.body).unwrap();
        assert_eq!(body["storeId"], "store_42");
        assert_eq!(header(&wire, "webhook-id"), Some("evt_1"));
        assert!(s.needs_tenant_settings());
    }

    #[test]
    fn commercio_names_the_event_in_its_header_and_signs_the_payload() {
        let s = subscription(Format::Commercio, "commercio-secret");
        let wire = wire(&s, "order.status_changed").unwrap();
        assert_eq!(
            header(&wire, "x-commercio-event"),
            Some("ORDER_STATUS_CHANGED")
        );
        assert_eq!(
            header(&wire, "x-commercio-signature"),
            Some(sign_hex("commercio-secret", &wire.body).as_str())
        );
    }

    #[test]
    fn saleor_without_a_secret_key_signs_with_a_detached_jws() {
        use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;

        let mut s = subscription(Format::Saleor, "secret-key");
        s.saleor.jws = true;
        s.saleor.legacy_headers = true;
        let key = RsaSigningKey::generate().unwrap();
        let tenant = TenantSettings::default();
        let with_key = WireContext {
            jws_key: Some(&key),
            ..context(&tenant)
        };
        let wire = s
            .wire_request(&event("ORDER_CREATED"), with_key, Utc::now())
            .unwrap();
        let jws = header(&wire, "saleor-signature").unwrap();
        assert_eq!(header(&wire, "x-saleor-signature"), Some(jws));
        let (protected, signature) = jws.split_once("..").unwrap();
        let jwk = key.jwk();
        let (n, e) = (
            URL_SAFE_NO_PAD.decode(&jwk.n).unwrap(),
            URL_SAFE_NO_PAD.decode(&jwk.e).unwrap(),
        );
        let mut input = format!("{protected}.").into_bytes();
        input.extend_from_slice(&wire.body);
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                &input,
                &URL_SAFE_NO_PAD.decode(signature).unwrap(),
            )
            .expect("the JWS verifies over the header and the raw body");
        assert_eq!(wire.sent.headers["saleor-signature"], SentAs::ELIDED);
        assert!(
            header(&wire, "webhook-signature").is_some(),
            "Standard Webhooks too"
        );
        // Without the deployment's key there is nothing to sign with.
        assert!(
            s.wire_request(&event("ORDER_CREATED"), context(&tenant), Utc::now())
                .is_err()
        );
    }
}
