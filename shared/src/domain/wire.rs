//! One delivery as it goes on the wire: the body in the subscription's format, and every
//! header (the format's own, the signatures, the static ones), with the record of what was
//! sent (signature values elided).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::dialect::{self, Format, SaleorContext};
use super::{Event, SentAs, Subscription, TenantSettings};
use crate::signing;

/// What the tenant's settings and the deployment add to a delivery.
#[derive(Debug, Clone, Copy)]
pub struct WireContext<'a> {
    pub tenant: &'a TenantSettings,
    /// The API's own domain, the last default of `Saleor-Domain`.
    pub public_domain: &'a str,
}

/// A delivery, ready to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRequest {
    /// Exactly the bytes that were signed.
    pub body: Vec<u8>,
    /// Every header but `content-type`, which is always `application/json`.
    pub headers: Vec<(String, String)>,
    pub sent: SentAs,
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
    ) -> Result<WireRequest, serde_json::Error> {
        let store_id = context.tenant.store_id(&event.tenant);
        let body = dialect::render_body(self.format, event, store_id)?;
        let saleor = SaleorContext {
            domain: self
                .saleor
                .domain
                .as_deref()
                .or(context.tenant.saleor_domain.as_deref())
                .unwrap_or(context.public_domain),
            legacy_headers: self.saleor.legacy_headers,
        };
        let keys = self.signing_keys(now);
        let signatures =
            signing::delivery_headers(&keys, event.id.as_str(), now.timestamp(), &body);
        let event_headers = self
            .format
            .event_headers(event.event_type.as_str(), &saleor)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value));
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .chain(event_headers)
            .chain(signatures)
            .collect();
        let is_signature =
            |name: &str| name == signing::HEADER_SIGNATURE || keys.hex_headers.contains(&name);
        let recorded: BTreeMap<String, String> = headers
            .iter()
            .map(|(name, value)| {
                let value = if is_signature(name) {
                    SentAs::ELIDED.to_owned()
                } else {
                    value.clone()
                };
                (name.clone(), value)
            })
            .collect();
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
