//! The catalog of event types Tidings knows, and "did you mean" suggestions for misspelt ones.
//!
//! The names are the union of the commerce events in the seed documents (Medusa, Commerce
//! Engine, BareCommerce, commercio and Saleor), written in one dot notation: the resource
//! first (`snake_case` when it takes several words, such as `gift_card`), then what happened.
//! Dotted names from the seeds are kept as they are (`order.placed`, `payment.refund.success`);
//! upper-case enum names become dotted ones (Saleor's `ORDER_CREATED` is `order.created`,
//! `PRODUCT_VARIANT_OUT_OF_STOCK` is `variant.out_of_stock`, commercio's `INVENTORY_LOW` is
//! `inventory.low`; Saleor's `NOTIFY_USER`, which seed 004 prints as `NOTIFY`, is
//! `notify.user`). Cancellation is always spelled `cancelled`, so Medusa's `order.canceled`
//! is `order.cancelled`. Saleor's `ANY_EVENTS` wildcard is the subscription pattern `*`, not
//! a type. Two types are Tidings' own: `webhook.test` and `subscription.disabled`.

use serde::Serialize;

/// One event type of the catalog, with what it means in plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct CatalogEntry {
    pub name: &'static str,
    pub description: &'static str,
}

const fn entry(name: &'static str, description: &'static str) -> CatalogEntry {
    CatalogEntry { name, description }
}

/// Every event type Tidings knows, sorted by name.
pub const CATALOG: &[CatalogEntry] = &[
    entry("address.created", "A new address was created."),
    entry("address.deleted", "An address was deleted."),
    entry("address.updated", "An address was updated."),
    entry("app.deleted", "An app was deleted."),
    entry("app.installed", "A new app was installed."),
    entry("app.status_changed", "An app was activated or deactivated."),
    entry("app.updated", "An app was updated."),
    entry("attribute.created", "A new attribute was created."),
    entry("attribute.deleted", "An attribute was deleted."),
    entry("attribute.updated", "An attribute was updated."),
    entry("category.created", "A new category was created."),
    entry("category.deleted", "A category was deleted."),
    entry("category.updated", "A category was updated."),
    entry("channel.created", "A new sales channel was created."),
    entry("channel.deleted", "A sales channel was deleted."),
    entry(
        "channel.status_changed",
        "A sales channel was activated or deactivated.",
    ),
    entry("channel.updated", "A sales channel was updated."),
    entry("checkout.created", "A new checkout was started."),
    entry(
        "checkout.updated",
        "A checkout or anything in it (lines, addresses, shipping) was updated.",
    ),
    entry("collection.created", "A new collection was created."),
    entry("collection.deleted", "A collection was deleted."),
    entry("collection.updated", "A collection was updated."),
    entry("customer.created", "A new customer account was created."),
    entry("customer.deleted", "A customer account was deleted."),
    entry("customer.updated", "A customer account was updated."),
    entry(
        "delivery.exhausted",
        "A delivery failed its last attempt and was dead-lettered (Tidings' own).",
    ),
    entry(
        "delivery.failing",
        "A delivery failed several attempts in a row; more are scheduled (Tidings' own).",
    ),
    entry(
        "delivery.recovered",
        "A delivery succeeded after failed attempts (Tidings' own).",
    ),
    entry("fulfillment.created", "A new fulfillment was created."),
    entry("gift_card.created", "A new gift card was created."),
    entry("gift_card.deleted", "A gift card was deleted."),
    entry(
        "gift_card.status_changed",
        "A gift card was activated or deactivated.",
    ),
    entry("gift_card.updated", "A gift card was updated."),
    entry(
        "inventory.low",
        "An item's stock fell below its low-stock threshold.",
    ),
    entry(
        "inventory.updated",
        "An item's stock level changed at a location.",
    ),
    entry("invoice.deleted", "An invoice was deleted."),
    entry(
        "invoice.requested",
        "An invoice was requested for an order and is not generated yet.",
    ),
    entry("invoice.sent", "An invoice was sent to the customer."),
    entry("media.created", "A new media file was added."),
    entry("media.deleted", "A media file was deleted."),
    entry("media.updated", "A media file was updated."),
    entry("menu.created", "A new navigation menu was created."),
    entry("menu.deleted", "A navigation menu was deleted."),
    entry("menu.updated", "A navigation menu was updated."),
    entry("menu_item.created", "A new menu item was created."),
    entry("menu_item.deleted", "A menu item was deleted."),
    entry("menu_item.updated", "A menu item was updated."),
    // Saleor's NOTIFY_USER ("notify_user" in Saleor's code; seed 004 prints it as NOTIFY):
    // read like every other Saleor name, and an event type needs two words anyway.
    entry(
        "notify.user",
        "A notification to a user (account confirmation, password reset, order email…) was requested.",
    ),
    entry("order.cancelled", "An order was cancelled."),
    entry("order.completed", "An order was completed."),
    entry("order.confirmed", "An order was confirmed."),
    entry("order.created", "A new order was created."),
    entry(
        "order.fulfilled",
        "An order was fulfilled (shipped or completed).",
    ),
    entry(
        "order.fulfillment_created",
        "A fulfillment was created for an order.",
    ),
    entry("order.fully_paid", "An order was paid in full."),
    entry("order.paid", "Payment for an order was confirmed."),
    entry(
        "order.placed",
        "A customer completed a cart and placed an order.",
    ),
    entry("order.refunded", "An order was refunded."),
    entry(
        "order.shipment_created",
        "A shipment with tracking was created for an order's fulfillment.",
    ),
    entry("order.status_changed", "An order's status changed."),
    entry(
        "order.updated",
        "An order was updated (any change after it was created).",
    ),
    entry("page.created", "A new content page was created."),
    entry("page.deleted", "A content page was deleted."),
    entry("page.updated", "A content page was updated."),
    entry("page_type.created", "A new page type was created."),
    entry("page_type.deleted", "A page type was deleted."),
    entry("page_type.updated", "A page type was updated."),
    entry("payment.captured", "A payment was captured."),
    entry("payment.failed", "A payment failed."),
    entry("payment.received", "A payment was received."),
    entry("payment.refund.failed", "A refund failed."),
    entry("payment.refund.initiated", "A refund was started."),
    entry("payment.refund.success", "A refund went through."),
    entry("payment.refunded", "A payment was refunded."),
    entry("payment.retried", "A failed payment was tried again."),
    entry("payment.success", "A payment went through."),
    entry("product.created", "A new product was created."),
    entry("product.deleted", "A product was deleted."),
    entry("product.updated", "A product was updated."),
    entry("sale.created", "A new sale was created."),
    entry("sale.deleted", "A sale was deleted."),
    entry("sale.toggled", "A sale started or ended."),
    entry("sale.updated", "A sale was updated."),
    entry("shipment.cancelled", "A shipment was cancelled."),
    entry("shipment.created", "A new shipment was created."),
    entry("shipment.delivered", "A shipment was delivered."),
    entry(
        "shipment.updated",
        "A shipment's details or tracking were updated.",
    ),
    entry(
        "shipping_price.created",
        "A new shipping price was created.",
    ),
    entry("shipping_price.deleted", "A shipping price was deleted."),
    entry("shipping_price.updated", "A shipping price was updated."),
    entry("shipping_zone.created", "A new shipping zone was created."),
    entry("shipping_zone.deleted", "A shipping zone was deleted."),
    entry("shipping_zone.updated", "A shipping zone was updated."),
    entry("staff.created", "A new staff user was created."),
    entry("staff.deleted", "A staff user was deleted."),
    entry("staff.updated", "A staff user was updated."),
    entry(
        "subscription.created",
        "A subscription was created (Tidings' own).",
    ),
    entry(
        "subscription.deleted",
        "A subscription was deleted (Tidings' own).",
    ),
    entry(
        "subscription.disabled",
        "A subscription was switched off automatically because its endpoint kept failing.",
    ),
    entry(
        "subscription.updated",
        "A subscription was changed (Tidings' own).",
    ),
    entry(
        "transaction.action_requested",
        "A charge, refund or cancellation was requested on a payment transaction.",
    ),
    entry("translation.created", "A new translation was created."),
    entry("translation.updated", "A translation was updated."),
    entry(
        "variant.back_in_stock",
        "A product variant is back in stock.",
    ),
    entry("variant.created", "A new product variant was created."),
    entry("variant.deleted", "A product variant was deleted."),
    entry(
        "variant.out_of_stock",
        "A product variant ran out of stock.",
    ),
    entry("variant.updated", "A product variant was updated."),
    entry("voucher.created", "A new voucher was created."),
    entry("voucher.deleted", "A voucher was deleted."),
    entry("voucher.updated", "A voucher was updated."),
    entry("warehouse.created", "A new warehouse was created."),
    entry("warehouse.deleted", "A warehouse was deleted."),
    entry("warehouse.updated", "A warehouse was updated."),
    entry(
        "webhook.test",
        "A test event, sent on request to check that an endpoint receives deliveries.",
    ),
];

/// Whether `name` is one of Tidings' own operational events (`delivery.*`,
/// `subscription.*`): sent only to subscriptions that name them, never about their own
/// deliveries.
pub fn is_operational(name: &str) -> bool {
    name.starts_with("delivery.") || name.starts_with("subscription.")
}

/// The catalog entry named `name`, if there is one.
pub fn catalog_entry(name: &str) -> Option<&'static CatalogEntry> {
    CATALOG
        .binary_search_by(|entry| entry.name.cmp(name))
        .ok()
        .map(|index| &CATALOG[index])
}

/// Up to three of the `known` names closest to `unknown`, closest first and ties by name.
///
/// Closeness is the optimal string alignment distance (Levenshtein counting a swap of two
/// neighbouring characters as one edit), after lower-casing `unknown`, so `ORDER_CREATED`
/// finds `order.created`. Names further than `max(2, len / 4)` edits away are left out.
pub fn suggest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    const MAX_SUGGESTIONS: usize = 3;
    // Longer than any event type may be: not worth the quadratic comparison.
    const MAX_LEN: usize = 2 * super::EventType::MAX_LEN;

    let unknown: Vec<char> = unknown.to_lowercase().chars().collect();
    if unknown.len() > MAX_LEN {
        return Vec::new();
    }
    let threshold = (unknown.len() / 4).max(2);
    let mut close: Vec<(usize, &str)> = known
        .into_iter()
        .filter_map(|name| {
            let name_len = name.chars().count();
            // The length difference alone is a lower bound on the distance.
            if name_len.abs_diff(unknown.len()) > threshold {
                return None;
            }
            let candidate: Vec<char> = name.chars().collect();
            let distance = osa_distance(&unknown, &candidate);
            (distance <= threshold).then_some((distance, name))
        })
        .collect();
    close.sort_unstable();
    close.dedup();
    close
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(_, name)| name)
        .collect()
}

/// Edits (insertion, deletion, substitution, swap of neighbours) turning `a` into `b`, with
/// no substring edited twice. Keeps three rows of the table instead of all of it.
fn osa_distance(a: &[char], b: &[char]) -> usize {
    let mut before_previous = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            let mut best = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
            if i > 0 && j > 0 && ca == b[j - 1] && a[i - 1] == cb {
                best = best.min(before_previous[j - 1] + 1);
            }
            current[j + 1] = best;
        }
        std::mem::swap(&mut before_previous, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventType;

    fn names() -> impl Iterator<Item = &'static str> {
        CATALOG.iter().map(|entry| entry.name)
    }

    #[test]
    fn every_name_is_a_valid_event_type() {
        for name in names() {
            assert!(EventType::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn names_are_unique_and_sorted() {
        for pair in CATALOG.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} must come before {}",
                pair[0].name,
                pair[1].name
            );
        }
    }

    #[test]
    fn descriptions_are_single_non_empty_lines() {
        for entry in CATALOG {
            let description = entry.description;
            assert!(!description.trim().is_empty(), "{}", entry.name);
            assert!(!description.contains(['\n', '\r']), "{}", entry.name);
            assert_eq!(description, description.trim(), "{}", entry.name);
        }
    }

    #[test]
    fn cancelled_has_one_spelling() {
        for name in names() {
            assert!(!name.contains("canceled"), "{name}");
        }
        assert!(catalog_entry("order.cancelled").is_some());
        assert!(catalog_entry("order.canceled").is_none());
    }

    #[test]
    fn catalog_entry_finds_by_exact_name_only() {
        let entry = catalog_entry("order.created").unwrap();
        assert_eq!(entry.name, "order.created");
        assert!(catalog_entry("order").is_none());
        assert!(catalog_entry("ORDER_CREATED").is_none());
        assert!(catalog_entry("").is_none());
        for entry in CATALOG {
            assert_eq!(catalog_entry(entry.name), Some(entry));
        }
    }

    #[test]
    fn osa_distance_counts_a_swap_as_one_edit() {
        let distance = |a: &str, b: &str| {
            let a: Vec<char> = a.chars().collect();
            let b: Vec<char> = b.chars().collect();
            osa_distance(&a, &b)
        };
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("craeted", "created"), 1);
        assert_eq!(distance("ca", "abc"), 3);
    }

    #[test]
    fn suggests_the_intended_name_first() {
        for (typo, intended) in [
            ("order.craeted", "order.created"),
            ("payment.refund.sucess", "payment.refund.success"),
            ("shipment.deliverd", "shipment.delivered"),
            ("order.canceled", "order.cancelled"),
            ("ORDER_CREATED", "order.created"),
            ("product.updatd", "product.updated"),
        ] {
            let suggestions = suggest(typo, names());
            assert_eq!(
                suggestions.first(),
                Some(&intended),
                "{typo}: {suggestions:?}"
            );
            assert!(suggestions.len() <= 3, "{typo}: {suggestions:?}");
        }
    }

    #[test]
    fn suggests_nothing_for_a_name_far_from_all() {
        assert!(suggest("xyz.abc", names()).is_empty());
        assert!(suggest("", names()).is_empty());
        assert!(suggest(&"a".repeat(10_000), names()).is_empty());
    }

    #[test]
    fn suggestions_are_closest_first_then_by_name_without_repeats() {
        let known = [
            "abc.deg",
            "abc.def.x",
            "abd.def",
            "abc.deg",
            "abc.dee",
            "xbc.xyz",
        ];
        assert_eq!(suggest("abc.def", known), ["abc.dee", "abc.deg", "abd.def"]);
        assert_eq!(
            suggest("abc.def", ["abc.def.x", "abc.deg"]),
            ["abc.deg", "abc.def.x"]
        );
    }
}
