//! Wire dialects: the event names and body shapes that receivers written for each seed
//! system (Medusa, Commerce Engine, BareCommerce, commercio, Saleor) already expect.
//!
//! Pure functions, no I/O:
//! - [`Format`]: the dialect a subscription's deliveries speak;
//! - [`canonical`]: any seed's spelling of an event name (`ORDER_CREATED`, `order_created`,
//!   `order.canceled`…) to its catalog type;
//! - [`name_as_sent`]: a catalog type to the name a dialect sends;
//! - [`render_body`]: the exact body bytes a dialect sends (the bytes that get signed).
//!
//! All the seed spellings sit in one table, [`NAMES`]. A type that no seed names gets a
//! derived spelling, documented on [`name_as_sent`], and [`canonical`] reads those back.

use std::fmt;

use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::catalog::{self, CATALOG};
use super::rfc3339;
use super::{Event, ValidationError};

/// The wire dialect of a subscription's deliveries: body shape and event naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Format {
    /// Tidings' envelope `{id, type, timestamp, tenant, data}`, dotted catalog names.
    #[default]
    #[serde(rename = "standard")]
    Standard,
    /// Seed 000: `{"event", "data", "timestamp"}` as its subscriber's `JSON.stringify` builds it.
    #[serde(rename = "medusa")]
    Medusa,
    /// Seed 001: `{"id", "event_type", "created_at", "data"}`, dotted names.
    #[serde(rename = "commerce-engine")]
    CommerceEngine,
    /// Seed 002: `{"type", "id", "timestamp", "storeId", "data"}`, dotted names.
    #[serde(rename = "barecommerce")]
    BareCommerce,
    /// Seed 003: the emitted payload itself, UPPER_SNAKE names.
    #[serde(rename = "commercio")]
    Commercio,
    /// Seed 004: the payload itself, names as Saleor sends them in `Saleor-Event`.
    #[serde(rename = "saleor")]
    Saleor,
}

impl Format {
    /// Every format, the default first.
    pub const ALL: [Format; 6] = [
        Format::Standard,
        Format::Medusa,
        Format::CommerceEngine,
        Format::BareCommerce,
        Format::Commercio,
        Format::Saleor,
    ];

    /// The API's name for it, as serde writes it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Standard => "standard",
            Format::Medusa => "medusa",
            Format::CommerceEngine => "commerce-engine",
            Format::BareCommerce => "barecommerce",
            Format::Commercio => "commercio",
            Format::Saleor => "saleor",
        }
    }

    /// From the API's `format` field; the error lists every allowed value.
    pub fn parse(value: &str) -> Result<Format, ValidationError> {
        Format::ALL
            .into_iter()
            .find(|format| format.name() == value)
            .ok_or_else(|| {
                let allowed: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                ValidationError::new("format", format!("must be one of: {}", allowed.join(", ")))
            })
    }
}

/// Header names of the dialects. Seed 003 names none, so commercio's are Tidings' choice.
pub const MEDUSA_SIGNATURE: &str = "x-medusa-signature";
pub const COMMERCE_ENGINE_SIGNATURE: &str = "x-webhook-signature";
pub const COMMERCIO_EVENT: &str = "x-commercio-event";
pub const COMMERCIO_SIGNATURE: &str = "x-commercio-signature";
pub const SALEOR_EVENT: &str = "saleor-event";
pub const SALEOR_DOMAIN: &str = "saleor-domain";
pub const SALEOR_API_URL: &str = "saleor-api-url";
pub const SALEOR_SIGNATURE: &str = "saleor-signature";
pub const SALEOR_LEGACY_EVENT: &str = "x-saleor-event";
pub const SALEOR_LEGACY_DOMAIN: &str = "x-saleor-domain";
pub const SALEOR_LEGACY_SIGNATURE: &str = "x-saleor-signature";

/// Where a delivery goes, as a `saleor` subscription's headers tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleorContext<'a> {
    /// `Saleor-Domain`: a bare host.
    pub domain: &'a str,
    /// `Saleor-Api-Url`: where app-sdk fetches `${origin}/.well-known/jwks.json`.
    pub api_url: &'a str,
    /// Also the deprecated `X-Saleor-*` copies.
    pub legacy_headers: bool,
}

impl Format {
    /// The headers that carry a hex HMAC-SHA256 of the body in this format.
    pub fn signature_headers(self) -> &'static [&'static str] {
        match self {
            Format::Medusa => &[MEDUSA_SIGNATURE],
            Format::CommerceEngine => &[COMMERCE_ENGINE_SIGNATURE],
            Format::Commercio => &[COMMERCIO_SIGNATURE],
            Format::Saleor => &[SALEOR_SIGNATURE],
            Format::Standard | Format::BareCommerce => &[],
        }
    }

    /// Whether a receiver's own secret is taken as it is (the hex-signed formats), rather
    /// than only `whsec_` secrets (the formats built on Standard Webhooks).
    pub fn takes_plain_secrets(self) -> bool {
        !self.signature_headers().is_empty()
    }

    /// Every header this format sets, which a subscription's static headers may not override.
    pub fn reserved_headers(self) -> &'static [&'static str] {
        match self {
            Format::Medusa => &[MEDUSA_SIGNATURE],
            Format::CommerceEngine => &[COMMERCE_ENGINE_SIGNATURE],
            Format::Commercio => &[COMMERCIO_EVENT, COMMERCIO_SIGNATURE],
            Format::Saleor => &[
                SALEOR_EVENT,
                SALEOR_DOMAIN,
                SALEOR_API_URL,
                SALEOR_SIGNATURE,
                SALEOR_LEGACY_EVENT,
                SALEOR_LEGACY_DOMAIN,
                SALEOR_LEGACY_SIGNATURE,
            ],
            Format::Standard | Format::BareCommerce => &[],
        }
    }

    /// The headers besides the signatures that name the event in this format: commercio's
    /// event header; Saleor's `Saleor-Event`, `Saleor-Domain` and `Saleor-Api-Url`.
    pub fn event_headers(
        self,
        catalog_type: &str,
        saleor: &SaleorContext<'_>,
    ) -> Vec<(&'static str, String)> {
        // The name is worked out only for the dialects that send it in a header.
        match self {
            Format::Commercio => vec![(COMMERCIO_EVENT, name_as_sent(self, catalog_type))],
            Format::Saleor => {
                let name = name_as_sent(self, catalog_type);
                let mut headers = vec![
                    (SALEOR_EVENT, name.clone()),
                    (SALEOR_DOMAIN, saleor.domain.to_owned()),
                    (SALEOR_API_URL, saleor.api_url.to_owned()),
                ];
                if saleor.legacy_headers {
                    headers.push((SALEOR_LEGACY_EVENT, name));
                    headers.push((SALEOR_LEGACY_DOMAIN, saleor.domain.to_owned()));
                }
                headers
            }
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One catalog type and how each seed that lists it spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Names {
    /// The catalog type (see [`CATALOG`]).
    pub catalog: &'static str,
    /// Seed 000's name (Medusa spells cancellation `canceled`).
    pub medusa: Option<&'static str>,
    /// Seed 001's name. Dotted seed names are catalog names, so it equals `catalog`.
    pub commerce_engine: Option<&'static str>,
    /// Seed 002's name; equals `catalog` for the same reason.
    pub barecommerce: Option<&'static str>,
    /// Seed 003's `WebhookEventType`.
    pub commercio: Option<&'static str>,
    /// Saleor's enum name as Saleor's code defines it (`WebhookEventAsyncType`); Saleor sends
    /// it lower-cased in `Saleor-Event`.
    pub saleor: Option<&'static str>,
    /// Spellings seed 004 prints that Saleor never sends: accepted, never sent.
    pub saleor_seed_aliases: &'static [&'static str],
}

const fn some(name: &'static str) -> Option<&'static str> {
    if name.is_empty() { None } else { Some(name) }
}

/// A row of [`NAMES`]; `""` means the seed does not list the type.
const fn row(
    catalog: &'static str,
    medusa: &'static str,
    commerce_engine: &'static str,
    barecommerce: &'static str,
    commercio: &'static str,
    saleor: &'static str,
) -> Names {
    Names {
        catalog,
        medusa: some(medusa),
        commerce_engine: some(commerce_engine),
        barecommerce: some(barecommerce),
        commercio: some(commercio),
        saleor: some(saleor),
        saleor_seed_aliases: &[],
    }
}

/// A row whose Saleor name is printed differently in seed 004.
const fn row_with_aliases(
    catalog: &'static str,
    saleor: &'static str,
    saleor_seed_aliases: &'static [&'static str],
) -> Names {
    Names {
        saleor_seed_aliases,
        ..row(catalog, "", "", "", "", saleor)
    }
}

/// Every event name any seed prints, by catalog type, sorted by catalog type.
///
/// Decisions (the catalog module's conventions: resource first, then what happened):
/// - `order.canceled` (Medusa) is `order.cancelled`, the one spelling the catalog keeps.
/// - Saleor's `PRODUCT_VARIANT_*` are `variant.*`, `SALE_TOGGLE` is `sale.toggled`,
///   `TRANSACTION_ACTION_REQUEST` is `transaction.action_requested`, as the catalog had them.
/// - Seed 004 prints `NOTIFY`, but Saleor's code defines `NOTIFY_USER = "notify_user"` and
///   sends that. An event type needs two words anyway, so the type is `notify.user`: Saleor's
///   real name read the way every other Saleor name is (`ORDER_CREATED` → `order.created`).
///   `NOTIFY` stays an accepted alias.
/// - Seed 004's `WAREHOUSE_CRATED` is a typo for Saleor's `WAREHOUSE_CREATED`
///   (`"warehouse_created"` in Saleor's code): accepted, and `warehouse_created` is sent.
/// - Saleor's `ANY_EVENTS` is no type but the wildcard pattern `*`: see [`is_wildcard`].
#[rustfmt::skip]
pub const NAMES: &[Names] = &[
    //  catalog                          medusa                       commerce-engine             barecommerce        commercio               saleor
    row("address.created",               "",                          "",                         "",                 "",                     "ADDRESS_CREATED"),
    row("address.deleted",               "",                          "",                         "",                 "",                     "ADDRESS_DELETED"),
    row("address.updated",               "",                          "",                         "",                 "",                     "ADDRESS_UPDATED"),
    row("app.deleted",                   "",                          "",                         "",                 "",                     "APP_DELETED"),
    row("app.installed",                 "",                          "",                         "",                 "",                     "APP_INSTALLED"),
    row("app.status_changed",            "",                          "",                         "",                 "",                     "APP_STATUS_CHANGED"),
    row("app.updated",                   "",                          "",                         "",                 "",                     "APP_UPDATED"),
    row("attribute.created",             "",                          "",                         "",                 "",                     "ATTRIBUTE_CREATED"),
    row("attribute.deleted",             "",                          "",                         "",                 "",                     "ATTRIBUTE_DELETED"),
    row("attribute.updated",             "",                          "",                         "",                 "",                     "ATTRIBUTE_UPDATED"),
    row("category.created",              "",                          "",                         "category.created", "",                     "CATEGORY_CREATED"),
    row("category.deleted",              "",                          "",                         "category.deleted", "",                     "CATEGORY_DELETED"),
    row("category.updated",              "",                          "",                         "category.updated", "",                     "CATEGORY_UPDATED"),
    row("channel.created",               "",                          "",                         "",                 "",                     "CHANNEL_CREATED"),
    row("channel.deleted",               "",                          "",                         "",                 "",                     "CHANNEL_DELETED"),
    row("channel.status_changed",        "",                          "",                         "",                 "",                     "CHANNEL_STATUS_CHANGED"),
    row("channel.updated",               "",                          "",                         "",                 "",                     "CHANNEL_UPDATED"),
    row("checkout.created",              "",                          "",                         "",                 "",                     "CHECKOUT_CREATED"),
    row("checkout.updated",              "",                          "",                         "",                 "",                     "CHECKOUT_UPDATED"),
    row("collection.created",            "",                          "",                         "",                 "",                     "COLLECTION_CREATED"),
    row("collection.deleted",            "",                          "",                         "",                 "",                     "COLLECTION_DELETED"),
    row("collection.updated",            "",                          "",                         "",                 "",                     "COLLECTION_UPDATED"),
    row("customer.created",              "customer.created",          "",                         "customer.created", "CUSTOMER_CREATED",     "CUSTOMER_CREATED"),
    row("customer.deleted",              "",                          "",                         "customer.deleted", "",                     "CUSTOMER_DELETED"),
    row("customer.updated",              "",                          "",                         "customer.updated", "",                     "CUSTOMER_UPDATED"),
    row("fulfillment.created",           "",                          "",                         "",                 "",                     "FULFILLMENT_CREATED"),
    row("gift_card.created",             "",                          "",                         "",                 "",                     "GIFT_CARD_CREATED"),
    row("gift_card.deleted",             "",                          "",                         "",                 "",                     "GIFT_CARD_DELETED"),
    row("gift_card.status_changed",      "",                          "",                         "",                 "",                     "GIFT_CARD_STATUS_CHANGED"),
    row("gift_card.updated",             "",                          "",                         "",                 "",                     "GIFT_CARD_UPDATED"),
    row("inventory.low",                 "",                          "",                         "",                 "INVENTORY_LOW",        ""),
    row("inventory.updated",             "inventory.updated",         "",                         "",                 "",                     ""),
    row("invoice.deleted",               "",                          "",                         "",                 "",                     "INVOICE_DELETED"),
    row("invoice.requested",             "",                          "",                         "",                 "",                     "INVOICE_REQUESTED"),
    row("invoice.sent",                  "",                          "",                         "",                 "",                     "INVOICE_SENT"),
    row("media.created",                 "",                          "",                         "media.created",    "",                     ""),
    row("media.deleted",                 "",                          "",                         "media.deleted",    "",                     ""),
    row("media.updated",                 "",                          "",                         "media.updated",    "",                     ""),
    row("menu.created",                  "",                          "",                         "",                 "",                     "MENU_CREATED"),
    row("menu.deleted",                  "",                          "",                         "",                 "",                     "MENU_DELETED"),
    row("menu.updated",                  "",                          "",                         "",                 "",                     "MENU_UPDATED"),
    row("menu_item.created",             "",                          "",                         "",                 "",                     "MENU_ITEM_CREATED"),
    row("menu_item.deleted",             "",                          "",                         "",                 "",                     "MENU_ITEM_DELETED"),
    row("menu_item.updated",             "",                          "",                         "",                 "",                     "MENU_ITEM_UPDATED"),
    row_with_aliases("notify.user", "NOTIFY_USER", &["NOTIFY"]),
    row("order.cancelled",               "order.canceled",            "order.cancelled",          "order.cancelled",  "",                     "ORDER_CANCELLED"),
    row("order.completed",               "",                          "order.completed",          "",                 "",                     ""),
    row("order.confirmed",               "",                          "order.confirmed",          "",                 "",                     "ORDER_CONFIRMED"),
    row("order.created",                 "",                          "order.created",            "order.created",    "ORDER_CREATED",        "ORDER_CREATED"),
    row("order.fulfilled",               "",                          "",                         "order.fulfilled",  "",                     "ORDER_FULFILLED"),
    row("order.fulfillment_created",     "order.fulfillment_created", "",                         "",                 "",                     ""),
    row("order.fully_paid",              "",                          "",                         "",                 "",                     "ORDER_FULLY_PAID"),
    row("order.paid",                    "",                          "",                         "order.paid",       "",                     ""),
    row("order.placed",                  "order.placed",              "",                         "",                 "",                     ""),
    row("order.refunded",                "",                          "",                         "order.refunded",   "",                     ""),
    row("order.shipment_created",        "order.shipment_created",    "",                         "",                 "",                     ""),
    row("order.status_changed",          "",                          "",                         "",                 "ORDER_STATUS_CHANGED", ""),
    row("order.updated",                 "",                          "",                         "order.updated",    "",                     "ORDER_UPDATED"),
    row("page.created",                  "",                          "",                         "page.created",     "",                     "PAGE_CREATED"),
    row("page.deleted",                  "",                          "",                         "page.deleted",     "",                     "PAGE_DELETED"),
    row("page.updated",                  "",                          "",                         "page.updated",     "",                     "PAGE_UPDATED"),
    row("page_type.created",             "",                          "",                         "",                 "",                     "PAGE_TYPE_CREATED"),
    row("page_type.deleted",             "",                          "",                         "",                 "",                     "PAGE_TYPE_DELETED"),
    row("page_type.updated",             "",                          "",                         "",                 "",                     "PAGE_TYPE_UPDATED"),
    row("payment.captured",              "payment.captured",          "",                         "",                 "",                     ""),
    row("payment.failed",                "",                          "payment.failed",           "",                 "",                     ""),
    row("payment.received",              "",                          "",                         "",                 "PAYMENT_RECEIVED",     ""),
    row("payment.refund.failed",         "",                          "payment.refund.failed",    "",                 "",                     ""),
    row("payment.refund.initiated",      "",                          "payment.refund.initiated", "",                 "",                     ""),
    row("payment.refund.success",        "",                          "payment.refund.success",   "",                 "",                     ""),
    row("payment.refunded",              "payment.refunded",          "",                         "",                 "",                     ""),
    row("payment.retried",               "",                          "payment.retried",          "",                 "",                     ""),
    row("payment.success",               "",                          "payment.success",          "",                 "",                     ""),
    row("product.created",               "product.created",           "",                         "product.created",  "PRODUCT_CREATED",      "PRODUCT_CREATED"),
    row("product.deleted",               "product.deleted",           "",                         "product.deleted",  "",                     "PRODUCT_DELETED"),
    row("product.updated",               "product.updated",           "",                         "product.updated",  "PRODUCT_UPDATED",      "PRODUCT_UPDATED"),
    row("sale.created",                  "",                          "",                         "",                 "",                     "SALE_CREATED"),
    row("sale.deleted",                  "",                          "",                         "",                 "",                     "SALE_DELETED"),
    row("sale.toggled",                  "",                          "",                         "",                 "",                     "SALE_TOGGLE"),
    row("sale.updated",                  "",                          "",                         "",                 "",                     "SALE_UPDATED"),
    row("shipment.cancelled",            "",                          "shipment.cancelled",       "",                 "",                     ""),
    row("shipment.created",              "",                          "shipment.created",         "",                 "",                     ""),
    row("shipment.delivered",            "",                          "shipment.delivered",       "",                 "SHIPMENT_DELIVERED",   ""),
    row("shipment.updated",              "",                          "shipment.updated",         "",                 "",                     ""),
    row("shipping_price.created",        "",                          "",                         "",                 "",                     "SHIPPING_PRICE_CREATED"),
    row("shipping_price.deleted",        "",                          "",                         "",                 "",                     "SHIPPING_PRICE_DELETED"),
    row("shipping_price.updated",        "",                          "",                         "",                 "",                     "SHIPPING_PRICE_UPDATED"),
    row("shipping_zone.created",         "",                          "",                         "",                 "",                     "SHIPPING_ZONE_CREATED"),
    row("shipping_zone.deleted",         "",                          "",                         "",                 "",                     "SHIPPING_ZONE_DELETED"),
    row("shipping_zone.updated",         "",                          "",                         "",                 "",                     "SHIPPING_ZONE_UPDATED"),
    row("staff.created",                 "",                          "",                         "",                 "",                     "STAFF_CREATED"),
    row("staff.deleted",                 "",                          "",                         "",                 "",                     "STAFF_DELETED"),
    row("staff.updated",                 "",                          "",                         "",                 "",                     "STAFF_UPDATED"),
    row("transaction.action_requested",  "",                          "",                         "",                 "",                     "TRANSACTION_ACTION_REQUEST"),
    row("translation.created",           "",                          "",                         "",                 "",                     "TRANSLATION_CREATED"),
    row("translation.updated",           "",                          "",                         "",                 "",                     "TRANSLATION_UPDATED"),
    row("variant.back_in_stock",         "",                          "",                         "",                 "",                     "PRODUCT_VARIANT_BACK_IN_STOCK"),
    row("variant.created",               "",                          "",                         "",                 "",                     "PRODUCT_VARIANT_CREATED"),
    row("variant.deleted",               "",                          "",                         "",                 "",                     "PRODUCT_VARIANT_DELETED"),
    row("variant.out_of_stock",          "",                          "",                         "",                 "",                     "PRODUCT_VARIANT_OUT_OF_STOCK"),
    row("variant.updated",               "",                          "",                         "",                 "",                     "PRODUCT_VARIANT_UPDATED"),
    row("voucher.created",               "",                          "",                         "",                 "",                     "VOUCHER_CREATED"),
    row("voucher.deleted",               "",                          "",                         "",                 "",                     "VOUCHER_DELETED"),
    row("voucher.updated",               "",                          "",                         "",                 "",                     "VOUCHER_UPDATED"),
    row_with_aliases("warehouse.created", "WAREHOUSE_CREATED", &["WAREHOUSE_CRATED"]),
    row("warehouse.deleted",             "",                          "",                         "",                 "",                     "WAREHOUSE_DELETED"),
    row("warehouse.updated",             "",                          "",                         "",                 "",                     "WAREHOUSE_UPDATED"),
];

/// Saleor's wildcard, which Tidings spells as the subscription pattern `*`.
pub const SALEOR_WILDCARD: &str = "ANY_EVENTS";

/// Whether `name` is Saleor's wildcard `ANY_EVENTS` (in any case), meaning the pattern `*`.
pub fn is_wildcard(name: &str) -> bool {
    name.eq_ignore_ascii_case(SALEOR_WILDCARD)
}

fn names_of(catalog_type: &str) -> Option<&'static Names> {
    NAMES
        .binary_search_by(|names| names.catalog.cmp(catalog_type))
        .ok()
        .map(|index| &NAMES[index])
}

impl Names {
    /// Every spelling of this row: the seeds' names and the seed's aliases.
    fn spellings(&self) -> impl Iterator<Item = &'static str> {
        [
            self.medusa,
            self.commerce_engine,
            self.barecommerce,
            self.commercio,
            self.saleor,
        ]
        .into_iter()
        .flatten()
        .chain(self.saleor_seed_aliases.iter().copied())
    }
}

/// The catalog type a name means, in any seed's spelling, or `None` for a name that is no
/// catalog type in any spelling.
///
/// In order, case-insensitively (`ORDER_CREATED`, `order_created` and `order.created` are
/// one type):
/// 1. a catalog name (`order.created`);
/// 2. a spelling in [`NAMES`] (`order.canceled`, `PRODUCT_VARIANT_OUT_OF_STOCK`,
///    `SALE_TOGGLE`, `NOTIFY`, `WAREHOUSE_CRATED`…);
/// 3. the derived spellings [`name_as_sent`] gives types no seed names: `canceled` read as
///    `cancelled` (`shipment.canceled`), and a name without dots matched against the
///    catalog names with their dots written as `_` (`PAYMENT_REFUND_SUCCESS`,
///    `gift_card_created`, `VARIANT_OUT_OF_STOCK`). That form is unique per catalog name,
///    which a test checks, so the match is unambiguous.
pub fn canonical(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if let Some(entry) = catalog::catalog_entry(&lower) {
        return Some(entry.name);
    }
    if let Some(names) = NAMES
        .iter()
        .find(|names| names.spellings().any(|s| s.eq_ignore_ascii_case(name)))
    {
        return Some(names.catalog);
    }
    let british = lower.replace("canceled", "cancelled");
    if let Some(entry) = catalog::catalog_entry(&british) {
        return Some(entry.name);
    }
    if british.contains('.') {
        return None;
    }
    CATALOG
        .iter()
        .find(|entry| underscored(entry.name) == british)
        .map(|entry| entry.name)
}

/// A dotted name with its dots written as `_`: `gift_card.created` → `gift_card_created`.
fn underscored(dotted: &str) -> String {
    dotted.replace('.', "_")
}

/// The event name a delivery in `format` carries for `catalog_type`.
///
/// - `standard`, `commerce-engine`, `barecommerce`: the dotted catalog name (the seeds'
///   dotted names are catalog names).
/// - `medusa`: seed 000's name (`order.canceled`); otherwise the catalog name with
///   `cancelled` spelt `canceled`, as Medusa spells it.
/// - `commercio`: seed 003's name (`ORDER_STATUS_CHANGED`); otherwise the catalog name in
///   upper case with dots as `_` (`PAYMENT_REFUND_SUCCESS`).
/// - `saleor`: the lower-case form Saleor puts in `Saleor-Event` (`order_created`,
///   `product_variant_out_of_stock`, `warehouse_created`); otherwise the catalog name with
///   dots as `_` (`payment_refund_success`).
///
/// A name outside the catalog gets the derived spelling too.
pub fn name_as_sent(format: Format, catalog_type: &str) -> String {
    let names = names_of(catalog_type);
    match format {
        Format::Standard | Format::CommerceEngine | Format::BareCommerce => catalog_type.to_owned(),
        Format::Medusa => match names.and_then(|n| n.medusa) {
            Some(name) => name.to_owned(),
            None => catalog_type.replace("cancelled", "canceled"),
        },
        Format::Commercio => match names.and_then(|n| n.commercio) {
            Some(name) => name.to_owned(),
            None => underscored(catalog_type).to_ascii_uppercase(),
        },
        Format::Saleor => match names.and_then(|n| n.saleor) {
            Some(name) => name.to_ascii_lowercase(),
            None => underscored(catalog_type),
        },
    }
}

/// Up to three catalog types close to a misspelt `name`, in any seed's spelling: `name` is
/// compared with every catalog name, its `_` form (`order_created`) and every spelling in
/// [`NAMES`], case-insensitively, so `ORDER_CRAETED` suggests `order.created`.
pub fn suggest_any(name: &str) -> Vec<&'static str> {
    let mut known: Vec<(String, &'static str)> = Vec::new();
    for entry in CATALOG {
        known.push((entry.name.to_owned(), entry.name));
        known.push((underscored(entry.name), entry.name));
    }
    for names in NAMES {
        for spelling in names.spellings() {
            known.push((spelling.to_ascii_lowercase(), names.catalog));
        }
    }
    let keys = catalog::suggest(name, known.iter().map(|(key, _)| key.as_str()));
    let mut suggestions: Vec<&'static str> = Vec::new();
    for key in keys {
        let types = known.iter().filter(|(k, _)| k == key).map(|(_, t)| *t);
        for catalog_type in types {
            if !suggestions.contains(&catalog_type) {
                suggestions.push(catalog_type);
            }
        }
    }
    suggestions.truncate(3);
    suggestions
}

/// Seed 000's subscriber body: `JSON.stringify({event, data, timestamp})`, keys in that order.
#[derive(Serialize)]
struct MedusaBody<'a> {
    event: &'a str,
    data: &'a RawValue,
    /// `new Date().toISOString()`: milliseconds and `Z`.
    timestamp: &'a str,
}

/// Seed 001's receivers read `event_type` and `data` and dedup on `id`.
#[derive(Serialize)]
struct CommerceEngineBody<'a> {
    id: &'a str,
    event_type: &'a str,
    created_at: &'a str,
    data: &'a RawValue,
}

/// Seed 002's Event Format.
#[derive(Serialize)]
struct BareCommerceBody<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    id: &'a str,
    timestamp: &'a str,
    #[serde(rename = "storeId")]
    store_id: &'a str,
    data: &'a RawValue,
}

/// The body a delivery of `event` sends in `format`: exactly the bytes that get signed.
///
/// - `standard`: the envelope `{id, type, timestamp, tenant, data}`;
/// - `medusa`: `{"event", "data", "timestamp"}` in that order, `timestamp` with
///   milliseconds and `Z` as `toISOString()` writes it (the event's time, not the send time);
/// - `commerce-engine`: `{"id", "event_type", "created_at", "data"}`;
/// - `barecommerce`: `{"type", "id", "timestamp", "storeId", "data"}` with `store_id`;
/// - `commercio`, `saleor`: `data` itself.
///
/// Names are [`name_as_sent`]. Output is compact JSON; `data` is the text ingest wrote
/// ([`super::EventData`], object keys sorted: serde_json's map is a `BTreeMap` here), so the
/// same event always gives the same bytes. Serializing cannot fail in practice; the error is
/// passed on anyway.
pub fn render_body(
    format: Format,
    event: &Event,
    store_id: &str,
) -> Result<Vec<u8>, serde_json::Error> {
    // Only the formats that carry the name in the body work it out.
    let name = || name_as_sent(format, event.event_type.as_str());
    let timestamp = |precision| rfc3339::format(&event.timestamp, precision);
    let data = event.data.raw();
    match format {
        Format::Standard => to_json(event, data),
        Format::Medusa => to_json(
            &MedusaBody {
                event: &name(),
                data,
                timestamp: timestamp(SecondsFormat::Millis).as_str(),
            },
            data,
        ),
        Format::CommerceEngine => to_json(
            &CommerceEngineBody {
                id: event.id.as_str(),
                event_type: &name(),
                created_at: timestamp(SecondsFormat::AutoSi).as_str(),
                data,
            },
            data,
        ),
        Format::BareCommerce => to_json(
            &BareCommerceBody {
                event_type: &name(),
                id: event.id.as_str(),
                timestamp: timestamp(SecondsFormat::AutoSi).as_str(),
                store_id,
                data,
            },
            data,
        ),
        Format::Commercio | Format::Saleor => Ok(data.get().as_bytes().to_vec()),
    }
}

/// Room for an envelope's fields around its data: the body's buffer is sized once for
/// both, not grown (and copied) as serde writes it.
const ENVELOPE_BYTES: usize = 192;

fn to_json(value: &impl Serialize, data: &RawValue) -> Result<Vec<u8>, serde_json::Error> {
    let mut body = Vec::with_capacity(data.get().len() + ENVELOPE_BYTES);
    serde_json::to_writer(&mut body, value)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventId, EventType, TenantId};
    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};

    // Every event name each seed prints, copied from the seed documents (not from NAMES).

    /// Seed 000, section 4 (the catalog table) and section 5.
    const MEDUSA: &[&str] = &[
        "product.created",
        "product.updated",
        "product.deleted",
        "order.placed",
        "order.fulfillment_created",
        "order.canceled",
        "order.shipment_created",
        "customer.created",
        "payment.captured",
        "payment.refunded",
        "inventory.updated",
    ];

    /// Seed 001, "Supported Events (14 Types)".
    const COMMERCE_ENGINE: &[&str] = &[
        "order.created",
        "order.confirmed",
        "order.completed",
        "order.cancelled",
        "payment.success",
        "payment.failed",
        "payment.retried",
        "payment.refund.initiated",
        "payment.refund.success",
        "payment.refund.failed",
        "shipment.created",
        "shipment.updated",
        "shipment.delivered",
        "shipment.cancelled",
    ];

    /// Seed 002, every event section.
    const BARECOMMERCE: &[&str] = &[
        "order.created",
        "order.updated",
        "order.paid",
        "order.fulfilled",
        "order.cancelled",
        "order.refunded",
        "product.created",
        "product.updated",
        "product.deleted",
        "customer.created",
        "customer.updated",
        "customer.deleted",
        "category.created",
        "category.updated",
        "category.deleted",
        "page.created",
        "page.updated",
        "page.deleted",
        "media.created",
        "media.updated",
        "media.deleted",
    ];

    /// Seed 003, `enum WebhookEventType`.
    const COMMERCIO: &[&str] = &[
        "ORDER_CREATED",
        "ORDER_STATUS_CHANGED",
        "PRODUCT_CREATED",
        "PRODUCT_UPDATED",
        "INVENTORY_LOW",
        "PAYMENT_RECEIVED",
        "SHIPMENT_DELIVERED",
        "CUSTOMER_CREATED",
    ];

    /// Seed 004, "Available webhook events", in its order, without the wildcard ANY_EVENTS.
    const SALEOR: &[&str] = &[
        "ADDRESS_CREATED",
        "ADDRESS_UPDATED",
        "ADDRESS_DELETED",
        "APP_INSTALLED",
        "APP_UPDATED",
        "APP_DELETED",
        "APP_STATUS_CHANGED",
        "ATTRIBUTE_CREATED",
        "ATTRIBUTE_UPDATED",
        "ATTRIBUTE_DELETED",
        "CATEGORY_CREATED",
        "CATEGORY_UPDATED",
        "CATEGORY_DELETED",
        "CHANNEL_CREATED",
        "CHANNEL_UPDATED",
        "CHANNEL_DELETED",
        "CHANNEL_STATUS_CHANGED",
        "GIFT_CARD_CREATED",
        "GIFT_CARD_UPDATED",
        "GIFT_CARD_DELETED",
        "GIFT_CARD_STATUS_CHANGED",
        "CHECKOUT_CREATED",
        "CHECKOUT_UPDATED",
        "CUSTOMER_CREATED",
        "CUSTOMER_UPDATED",
        "CUSTOMER_DELETED",
        "FULFILLMENT_CREATED",
        "INVOICE_DELETED",
        "INVOICE_REQUESTED",
        "INVOICE_SENT",
        "MENU_CREATED",
        "MENU_UPDATED",
        "MENU_DELETED",
        "MENU_ITEM_CREATED",
        "MENU_ITEM_UPDATED",
        "MENU_ITEM_DELETED",
        "ORDER_CANCELLED",
        "ORDER_CONFIRMED",
        "ORDER_CREATED",
        "ORDER_FULFILLED",
        "ORDER_FULLY_PAID",
        "ORDER_UPDATED",
        "SALE_CREATED",
        "SALE_UPDATED",
        "SALE_DELETED",
        "SALE_TOGGLE",
        "PAGE_CREATED",
        "PAGE_DELETED",
        "PAGE_UPDATED",
        "PAGE_TYPE_CREATED",
        "PAGE_TYPE_UPDATED",
        "PAGE_TYPE_DELETED",
        "COLLECTION_CREATED",
        "COLLECTION_DELETED",
        "COLLECTION_UPDATED",
        "PRODUCT_CREATED",
        "PRODUCT_DELETED",
        "PRODUCT_UPDATED",
        "PRODUCT_VARIANT_CREATED",
        "PRODUCT_VARIANT_DELETED",
        "PRODUCT_VARIANT_UPDATED",
        "NOTIFY",
        "TRANSACTION_ACTION_REQUEST",
        "TRANSLATION_CREATED",
        "TRANSLATION_UPDATED",
        "PRODUCT_VARIANT_OUT_OF_STOCK",
        "PRODUCT_VARIANT_BACK_IN_STOCK",
        "SHIPPING_PRICE_CREATED",
        "SHIPPING_PRICE_UPDATED",
        "SHIPPING_PRICE_DELETED",
        "SHIPPING_ZONE_CREATED",
        "SHIPPING_ZONE_UPDATED",
        "SHIPPING_ZONE_DELETED",
        "STAFF_CREATED",
        "STAFF_UPDATED",
        "STAFF_DELETED",
        "VOUCHER_CREATED",
        "VOUCHER_UPDATED",
        "VOUCHER_DELETED",
        "WAREHOUSE_CRATED",
        "WAREHOUSE_UPDATED",
        "WAREHOUSE_DELETED",
    ];

    /// Seed 004 spellings Saleor never sends, with what Saleor's code sends instead.
    const SALEOR_SEED_TYPOS: &[(&str, &str)] = &[
        ("NOTIFY", "NOTIFY_USER"),
        ("WAREHOUSE_CRATED", "WAREHOUSE_CREATED"),
    ];

    fn seeds() -> [(Format, &'static [&'static str]); 5] {
        [
            (Format::Medusa, MEDUSA),
            (Format::CommerceEngine, COMMERCE_ENGINE),
            (Format::BareCommerce, BARECOMMERCE),
            (Format::Commercio, COMMERCIO),
            (Format::Saleor, SALEOR),
        ]
    }

    fn column(format: Format) -> Vec<&'static str> {
        NAMES
            .iter()
            .filter_map(|n| match format {
                Format::Standard => None,
                Format::Medusa => n.medusa,
                Format::CommerceEngine => n.commerce_engine,
                Format::BareCommerce => n.barecommerce,
                Format::Commercio => n.commercio,
                Format::Saleor => n.saleor,
            })
            .collect()
    }

    #[test]
    fn format_names_parse_and_serialize_alike() {
        for format in Format::ALL {
            assert_eq!(Format::parse(format.name()), Ok(format));
            assert_eq!(serde_json::to_value(format).unwrap(), json!(format.name()));
            let back: Format = serde_json::from_value(json!(format.name())).unwrap();
            assert_eq!(back, format);
            assert_eq!(format.to_string(), format.name());
        }
        assert_eq!(Format::default(), Format::Standard);
        assert_eq!(Format::ALL[0], Format::default());
        assert_eq!(
            Format::ALL.map(Format::name),
            [
                "standard",
                "medusa",
                "commerce-engine",
                "barecommerce",
                "commercio",
                "saleor"
            ]
        );
    }

    #[test]
    fn unknown_format_names_every_allowed_value() {
        for bad in ["", "Saleor", "bare-commerce", "commerce_engine", "shopify"] {
            let err = Format::parse(bad).unwrap_err();
            assert_eq!(err.field, "format", "{bad}");
            for format in Format::ALL {
                assert!(err.rule.contains(format.name()), "{}", err.rule);
            }
        }
        assert!(serde_json::from_value::<Format>(json!("bare-commerce")).is_err());
    }

    #[test]
    fn the_table_is_sorted_and_names_catalog_types_only() {
        for pair in NAMES.windows(2) {
            assert!(pair[0].catalog < pair[1].catalog, "{}", pair[1].catalog);
        }
        for names in NAMES {
            assert!(
                catalog::catalog_entry(names.catalog).is_some(),
                "{}",
                names.catalog
            );
        }
    }

    #[test]
    fn dotted_seed_names_are_catalog_names_except_medusas_canceled() {
        for names in NAMES {
            for dotted in [names.commerce_engine, names.barecommerce]
                .into_iter()
                .flatten()
            {
                assert_eq!(dotted, names.catalog);
            }
            if let Some(medusa) = names.medusa {
                assert_eq!(medusa.replace("canceled", "cancelled"), names.catalog);
            }
        }
    }

    #[test]
    fn the_table_holds_exactly_the_seeds_names() {
        for (format, seed) in seeds() {
            let mut expected: Vec<&str> = seed.to_vec();
            if format == Format::Saleor {
                // The table holds what Saleor's code defines; the seed's typos are aliases.
                for (typo, real) in SALEOR_SEED_TYPOS {
                    expected.retain(|name| name != typo);
                    expected.push(real);
                }
            }
            expected.sort_unstable();
            let mut actual = column(format);
            actual.sort_unstable();
            assert_eq!(actual, expected, "{format}");
        }
        let aliases: Vec<&str> = NAMES
            .iter()
            .flat_map(|n| n.saleor_seed_aliases.iter().copied())
            .collect();
        assert_eq!(
            aliases,
            SALEOR_SEED_TYPOS
                .iter()
                .map(|(t, _)| *t)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_seed_name_round_trips_through_its_format() {
        for (format, seed) in seeds() {
            for &name in seed {
                let catalog_type =
                    canonical(name).unwrap_or_else(|| panic!("{format}: {name} has no type"));
                assert!(catalog::catalog_entry(catalog_type).is_some(), "{name}");
                let sent = name_as_sent(format, catalog_type);
                let typo = SALEOR_SEED_TYPOS.iter().find(|(typo, _)| *typo == name);
                match (format, typo) {
                    (Format::Saleor, Some((_, real))) => {
                        assert_eq!(sent, real.to_ascii_lowercase(), "{name}")
                    }
                    // Saleor sends its enum names lower-cased.
                    (Format::Saleor, None) => assert_eq!(sent, name.to_ascii_lowercase()),
                    _ => assert_eq!(sent, name, "{format}"),
                }
                // And what is sent reads back as the same type.
                assert_eq!(canonical(&sent), Some(catalog_type), "{format}: {sent}");
            }
        }
    }

    #[test]
    fn every_catalog_type_round_trips_through_every_format() {
        for entry in CATALOG {
            for format in Format::ALL {
                let sent = name_as_sent(format, entry.name);
                assert_eq!(
                    canonical(&sent),
                    Some(entry.name),
                    "{format}: {} sent as {sent}",
                    entry.name
                );
                for spelling in [sent.to_ascii_uppercase(), sent.to_ascii_lowercase()] {
                    assert_eq!(canonical(&spelling), Some(entry.name), "{spelling}");
                }
            }
            let snake = entry.name.replace('.', "_");
            assert_eq!(canonical(&snake), Some(entry.name), "{snake}");
            assert_eq!(
                canonical(&snake.to_ascii_uppercase()),
                Some(entry.name),
                "{snake}"
            );
        }
    }

    #[test]
    fn the_underscore_form_of_catalog_names_is_unambiguous() {
        let mut forms: Vec<String> = CATALOG.iter().map(|e| underscored(e.name)).collect();
        forms.sort_unstable();
        let before = forms.len();
        forms.dedup();
        assert_eq!(forms.len(), before);
    }

    #[test]
    fn the_names_of_the_issue_mean_one_type_each() {
        for (name, catalog_type) in [
            ("ORDER_CREATED", "order.created"),
            ("order_created", "order.created"),
            ("order.created", "order.created"),
            ("Order.Created", "order.created"),
            ("order.canceled", "order.cancelled"),
            ("ORDER_CANCELLED", "order.cancelled"),
            ("shipment.canceled", "shipment.cancelled"),
            ("gift_card.created", "gift_card.created"),
            ("GIFT_CARD_CREATED", "gift_card.created"),
            ("gift_card_created", "gift_card.created"),
            ("PRODUCT_VARIANT_OUT_OF_STOCK", "variant.out_of_stock"),
            ("product_variant_out_of_stock", "variant.out_of_stock"),
            ("VARIANT_OUT_OF_STOCK", "variant.out_of_stock"),
            ("SALE_TOGGLE", "sale.toggled"),
            ("TRANSACTION_ACTION_REQUEST", "transaction.action_requested"),
            ("NOTIFY", "notify.user"),
            ("notify_user", "notify.user"),
            ("WAREHOUSE_CRATED", "warehouse.created"),
            ("warehouse_created", "warehouse.created"),
            ("ORDER_STATUS_CHANGED", "order.status_changed"),
            ("INVENTORY_LOW", "inventory.low"),
            ("PAYMENT_REFUND_SUCCESS", "payment.refund.success"),
            ("payment_refund_success", "payment.refund.success"),
            ("WEBHOOK_TEST", "webhook.test"),
        ] {
            assert_eq!(canonical(name), Some(catalog_type), "{name}");
        }
    }

    #[test]
    fn names_that_are_no_type_have_no_canonical_form() {
        for name in [
            "",
            "order",
            "ORDER",
            "ANY_EVENTS",
            "any_events",
            "ORDER_CRAETED",
            "order.craeted",
            "order_created.extra",
            "order..created",
            "payment.refund_success",
        ] {
            assert_eq!(canonical(name), None, "{name}");
        }
        assert!(is_wildcard("ANY_EVENTS"));
        assert!(is_wildcard("any_events"));
        assert!(!is_wildcard("ANY_EVENT"));
    }

    #[test]
    fn derived_names_for_types_no_seed_names() {
        assert_eq!(
            name_as_sent(Format::Medusa, "shipment.cancelled"),
            "shipment.canceled"
        );
        assert_eq!(
            name_as_sent(Format::Medusa, "order.created"),
            "order.created"
        );
        assert_eq!(
            name_as_sent(Format::Commercio, "payment.refund.success"),
            "PAYMENT_REFUND_SUCCESS"
        );
        assert_eq!(
            name_as_sent(Format::Commercio, "variant.out_of_stock"),
            "VARIANT_OUT_OF_STOCK"
        );
        assert_eq!(
            name_as_sent(Format::Saleor, "variant.out_of_stock"),
            "product_variant_out_of_stock"
        );
        assert_eq!(name_as_sent(Format::Saleor, "order.placed"), "order_placed");
        assert_eq!(name_as_sent(Format::Saleor, "sale.toggled"), "sale_toggle");
        for format in [
            Format::Standard,
            Format::CommerceEngine,
            Format::BareCommerce,
        ] {
            assert_eq!(
                name_as_sent(format, "gift_card.created"),
                "gift_card.created"
            );
        }
        // A type outside the catalog gets the derived spelling.
        assert_eq!(
            name_as_sent(Format::Commercio, "loyalty.points_added"),
            "LOYALTY_POINTS_ADDED"
        );
        assert_eq!(
            name_as_sent(Format::Saleor, "loyalty.points_added"),
            "loyalty_points_added"
        );
    }

    #[test]
    fn suggestions_work_for_every_spelling() {
        for (typo, intended) in [
            ("ORDER_CRAETED", "order.created"),
            ("order_craeted", "order.created"),
            ("order.craeted", "order.created"),
            ("GIFT_CARD_CRATED", "gift_card.created"),
            ("PRODUCT_VARIANT_OUT_OF_STOK", "variant.out_of_stock"),
            ("order.canceld", "order.cancelled"),
            ("SALE_TOGGEL", "sale.toggled"),
            ("PAYMENT_REFUND_SUCESS", "payment.refund.success"),
        ] {
            let suggestions = suggest_any(typo);
            assert_eq!(
                suggestions.first(),
                Some(&intended),
                "{typo}: {suggestions:?}"
            );
            assert!(suggestions.len() <= 3, "{typo}: {suggestions:?}");
            for s in &suggestions {
                assert!(catalog::catalog_entry(s).is_some(), "{s}");
            }
        }
        assert!(suggest_any("XYZ_ABC").is_empty());
        assert!(suggest_any("").is_empty());
    }

    fn sample_event() -> Event {
        Event {
            id: EventId::parse("evt_123").unwrap(),
            event_type: EventType::parse("order.cancelled").unwrap(),
            timestamp: DateTime::parse_from_rfc3339("2024-01-15T10:30:00Z")
                .unwrap()
                .with_timezone(&Utc),
            tenant: TenantId::parse("acme").unwrap(),
            data: json!({"id": "order_abc", "orderNumber": "ORD-000001", "status": "cancelled"})
                .into(),
        }
    }

    fn render(format: Format, event: &Event) -> String {
        String::from_utf8(render_body(format, event, "store_123").unwrap()).unwrap()
    }

    #[test]
    fn standard_body_is_the_envelope() {
        let event = sample_event();
        let body = render_body(Format::Standard, &event, "ignored").unwrap();
        assert_eq!(body, serde_json::to_vec(&event).unwrap());
    }

    #[test]
    fn medusa_body_is_what_its_subscribers_json_stringify_gives() {
        // JSON.stringify({event: event.name, data: event.data, timestamp: new Date().toISOString()})
        assert_eq!(
            render(Format::Medusa, &sample_event()),
            r#"{"event":"order.canceled","data":{"id":"order_abc","orderNumber":"ORD-000001","status":"cancelled"},"timestamp":"2024-01-15T10:30:00.000Z"}"#
        );
        let mut event = sample_event();
        event.timestamp = DateTime::parse_from_rfc3339("2024-01-15T10:30:00.123456789+02:00")
            .unwrap()
            .with_timezone(&Utc);
        let body: Value = serde_json::from_str(&render(Format::Medusa, &event)).unwrap();
        assert_eq!(body["timestamp"], "2024-01-15T08:30:00.123Z");
    }

    #[test]
    fn commerce_engine_body_routes_on_event_type_and_dedups_on_id() {
        assert_eq!(
            render(Format::CommerceEngine, &sample_event()),
            r#"{"id":"evt_123","event_type":"order.cancelled","created_at":"2024-01-15T10:30:00Z","data":{"id":"order_abc","orderNumber":"ORD-000001","status":"cancelled"}}"#
        );
    }

    #[test]
    fn barecommerce_body_is_the_seeds_event_format() {
        let mut event = sample_event();
        event.event_type = EventType::parse("order.created").unwrap();
        event.data = json!({"id": "order_abc", "orderNumber": "ORD-000001"}).into();
        let text = render(Format::BareCommerce, &event);
        assert_eq!(
            text,
            r#"{"type":"order.created","id":"evt_123","timestamp":"2024-01-15T10:30:00Z","storeId":"store_123","data":{"id":"order_abc","orderNumber":"ORD-000001"}}"#
        );
        // The seed's documented fields, and no others.
        let body: Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["data", "id", "storeId", "timestamp", "type"]);
        let timestamp = body["timestamp"].as_str().unwrap();
        assert!(DateTime::parse_from_rfc3339(timestamp).is_ok());
    }

    #[test]
    fn commercio_and_saleor_bodies_are_the_payload_itself() {
        let event = sample_event();
        for format in [Format::Commercio, Format::Saleor] {
            assert_eq!(
                render(format, &event),
                r#"{"id":"order_abc","orderNumber":"ORD-000001","status":"cancelled"}"#
            );
        }
    }

    #[test]
    fn bodies_are_deterministic_and_escape_as_json_stringify_does() {
        let mut event = sample_event();
        event.data =
            json!({"z": 1, "a": "line\nbreak \"quoted\" é \u{1f} / <tag>", "m": [3, 1]}).into();
        for format in Format::ALL {
            let first = render_body(format, &event, "s").unwrap();
            for _ in 0..3 {
                assert_eq!(render_body(format, &event, "s").unwrap(), first, "{format}");
            }
        }
        let text = render(Format::Saleor, &event);
        // JSON.stringify: no escaping of '/', non-ASCII or '<'; \n and \" escaped; other
        // control characters as lower-case \u00XX.
        assert_eq!(
            text,
            "{\"a\":\"line\\nbreak \\\"quoted\\\" é \\u001f / <tag>\",\"m\":[3,1],\"z\":1}"
        );
    }
}
