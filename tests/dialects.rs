//! Formats: receivers written for another platform keep working. The seeds' own receiver
//! code (`tests/receivers/*.js`, run with node) gets real deliveries from the local runner,
//! on the embedded backend and on SQS and DynamoDB (moto), and records which branch handled
//! each one: the right branch ran (never `default`), with the right data; a tampered body
//! gets 401 from the three seeds that print receiver code (Medusa, Commerce Engine, Saleor);
//! the BareCommerce and commercio receivers assert every field the seed documents. And the
//! API's answers to bad input: unknown formats, secrets a format does not take, `PATCH` of
//! the format, event names in every seed's spelling and misspelt ones.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::client::Client;
use support::node_receiver::NodeReceiver;
use support::receiver::{Received, Receiver};
use tidings::signing::sign_hex;
use tidings_local::Running;

const WAIT: Duration = Duration::from_secs(15);

support::on_both_backends!(
    medusa_route_processes_the_event,
    commerce_engine_switch_routes_each_event_to_its_case,
    saleor_hmac_check_passes_with_every_domain_setting,
    barecommerce_receiver_reads_every_field_of_the_event_format,
    commercio_receiver_reads_the_payload_event_header_and_signature,
    unknown_formats_and_secrets_a_format_does_not_take_are_refused,
    patching_the_format_keeps_the_secret,
    event_names_in_every_seed_spelling_and_misspelt_ones,
);

// ------------------------------------------------------------------------------- helpers

async fn subscribe(api: &Client, body: Value) -> Value {
    api.ok(Method::POST, "/v1/subscriptions", Some(body), 201)
        .await
}

async fn post_event(api: &Client, body: Value) -> Value {
    api.ok(Method::POST, "/v1/events", Some(body), 202).await
}

/// Waits until the event's `count` deliveries have all succeeded; returns them.
async fn delivered(api: &Client, event_id: &str, count: usize) -> Vec<Value> {
    let event = api
        .until(&format!("/v1/events/{event_id}"), WAIT, |body| {
            body["deliveries"]
                .as_array()
                .is_some_and(|d| d.len() == count && d.iter().all(|d| d["status"] == "succeeded"))
        })
        .await;
    event["deliveries"].as_array().unwrap().clone()
}

/// The delivery of an event to one subscription, as `GET /v1/deliveries/{id}` shows it.
async fn delivery_to(api: &Client, deliveries: &[Value], subscription: &Value) -> Value {
    let delivery = deliveries
        .iter()
        .find(|d| d["subscription_id"] == subscription["id"])
        .unwrap_or_else(|| panic!("no delivery to {}: {deliveries:?}", subscription["id"]));
    let path = format!("/v1/deliveries/{}", delivery["id"].as_str().unwrap());
    api.ok(Method::GET, &path, None, 200).await
}

/// The one record whose `field` is `value`.
fn record<'a>(records: &'a [Value], field: &str, value: &Value) -> &'a Value {
    let found: Vec<&Value> = records.iter().filter(|r| &r[field] == value).collect();
    assert_eq!(
        found.len(),
        1,
        "one record with {field} = {value}: {records:#?}"
    );
    found[0]
}

fn branches(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["branch"].as_str().unwrap_or_default())
        .collect()
}

/// The record under `sent` of a delivery shows every header that went out, with its value,
/// signatures elided as `…` (`signatures` names them), and nothing that did not go out.
fn assert_sent_headers_match(sent: &Value, received: &Received, signatures: &[&str]) {
    let headers: BTreeMap<String, String> = serde_json::from_value(sent["headers"].clone())
        .unwrap_or_else(|e| panic!("sent.headers is a map of strings ({e}): {sent}"));
    for name in signatures {
        assert_eq!(
            headers.get(*name).map(String::as_str),
            Some("…"),
            "{name} is elided: {sent}"
        );
    }
    for (name, value) in &headers {
        let wire = received
            .header(name)
            .unwrap_or_else(|| panic!("{name} is recorded as sent but did not arrive: {sent}"));
        if value == "…" {
            assert!(
                signatures.contains(&name.as_str()),
                "only signatures are elided: {name}"
            );
            assert_ne!(wire, "…");
        } else {
            assert_eq!(wire, value, "{name} is recorded as it was sent");
        }
    }
    assert!(!headers.contains_key("content-type"));
}

/// Replays a genuine delivery (`original`, received by a twin subscription with the same
/// format and secret) to the seed's receiver at `path` with its body changed (`from` →
/// `to`), signed in `header` with the genuine signature of the original body (a hex
/// HMAC-SHA256 of the right length, so the printed code takes its 401 path), along with
/// the original's `also` headers. The seed's code must answer 401; the original body with
/// the same headers is answered 200, so the 401 is the tampering's.
async fn tampered_body_gets_401(
    node: &NodeReceiver,
    path: &str,
    (header, secret): (&str, &str),
    original: &Received,
    (from, to): (&str, &str),
    also: &[&str],
) {
    let body = String::from_utf8(original.body.to_vec()).unwrap();
    let signature = sign_hex(secret, body.as_bytes());
    assert_eq!(
        original.header(header),
        Some(signature.as_str()),
        "the delivery was signed with the secret"
    );
    assert!(body.contains(from), "{from} is in {body}");
    let tampered = body.replacen(from, to, 1);
    let mut headers: Vec<(&str, &str)> = vec![(header, signature.as_str())];
    for name in also {
        headers.push((name, original.header(name).unwrap()));
    }
    let before = node.received().await.len();
    assert_eq!(
        node.post(path, tampered.as_bytes(), &headers).await,
        401,
        "a tampered body: {}",
        node.log()
    );
    assert_eq!(
        node.post(path, body.as_bytes(), &headers).await,
        200,
        "the genuine body with the same headers: {}",
        node.log()
    );
    let records = node.wait_for(before + 2, WAIT).await;
    assert_eq!(branches(&records[before..])[0], "rejected 401");
}

// ------------------------------------------------------------------------------- Medusa

const MEDUSA_SECRET: &str = "medusa_webhook_secret_1";

/// Seed 000's Express `verifyWebhookSignature` route, as printed.
async fn medusa_route_processes_the_event(running: Running) {
    let api = Client::admin(&running);
    let node = NodeReceiver::start("medusa.js", &[("WEBHOOK_SECRET", MEDUSA_SECRET)]).await;
    let twin = Receiver::start().await;
    let subscription = |url: String| {
        json!({"url": url, "events": ["order.placed", "order.canceled"], "format": "medusa",
               "secret": MEDUSA_SECRET})
    };
    let created = subscribe(&api, subscription(node.url("/webhooks/medusa"))).await;
    assert_eq!(created["format"], "medusa");
    assert_eq!(
        created["secret"], MEDUSA_SECRET,
        "the receiver's own secret"
    );
    assert_eq!(
        created["events"],
        json!(["order.placed", "order.cancelled"])
    );
    let twin_sub = subscribe(&api, subscription(twin.url("medusa"))).await;

    let placed = json!({"id": "order_01", "display_id": 1001, "email": "ada@example.com",
                        "total": 4990, "currency_code": "eur"});
    let receipt = post_event(
        &api,
        json!({"id": "evt_placed", "type": "order.placed", "timestamp": "2026-11-24T10:30:00Z",
               "data": placed}),
    )
    .await;
    assert_eq!(receipt["deliveries"], 2);
    // Medusa's spelling at ingest too.
    let receipt = post_event(
        &api,
        json!({"id": "evt_canceled", "type": "order.canceled",
               "timestamp": "2026-11-24T11:45:30.25Z", "data": {"id": "order_02"}}),
    )
    .await;
    assert_eq!(receipt["type"], "order.cancelled");
    assert_eq!(receipt["deliveries"], 2);

    let records = node.wait_for(2, WAIT).await;
    assert_eq!(branches(&records), ["process event"; 2], "{records:#?}");
    let first = record(&records, "event", &json!("order.placed"));
    assert_eq!(first["data"], placed);
    assert_eq!(first["timestamp"], "2026-11-24T10:30:00.000Z");
    assert_eq!(first["keys"], json!(["event", "data", "timestamp"]));
    let second = record(&records, "event", &json!("order.canceled"));
    assert_eq!(second["data"], json!({"id": "order_02"}));
    assert_eq!(second["timestamp"], "2026-11-24T11:45:30.250Z");

    // The delivery records show the format, the name as sent and the headers sent.
    let deliveries = delivered(&api, "evt_canceled", 2).await;
    let to_node = delivery_to(&api, &deliveries, &created).await;
    let sent = &to_node["sent"];
    assert_eq!(sent["format"], "medusa");
    assert_eq!(sent["event_name"], "order.canceled");
    assert_eq!(sent["headers"]["x-medusa-signature"], "…");
    assert_eq!(sent["headers"]["webhook-signature"], "…");
    assert_eq!(sent["headers"]["webhook-id"], "evt_canceled");
    let got = twin.wait_for("medusa", 2, WAIT).await;
    let canceled = got
        .iter()
        .find(|r| r.json()["event"] == "order.canceled")
        .unwrap();
    let to_twin = delivery_to(&api, &deliveries, &twin_sub).await;
    assert_sent_headers_match(
        &to_twin["sent"],
        canceled,
        &["x-medusa-signature", "webhook-signature"],
    );

    // The twin got the very request the seed's route processed; tampered, it gets 401.
    let placed_request = got
        .iter()
        .find(|r| r.json()["event"] == "order.placed")
        .unwrap();
    assert_eq!(placed_request.json()["data"], first["data"]);
    tampered_body_gets_401(
        &node,
        "/webhooks/medusa",
        ("x-medusa-signature", MEDUSA_SECRET),
        placed_request,
        ("\"total\":4990", "\"total\":1"),
        &[],
    )
    .await;
}

// ------------------------------------------------------------------------------- Commerce Engine

const CE_SECRET: &str = "ce_webhook_secret_1";

/// Seed 001's Express route with `verifyWebhookSignature`, and the Next.js route's
/// `switch (event.event_type)`, as printed.
async fn commerce_engine_switch_routes_each_event_to_its_case(running: Running) {
    let api = Client::admin(&running);
    let node = NodeReceiver::start("commerce_engine.js", &[("CE_WEBHOOK_SECRET", CE_SECRET)]).await;
    let twin = Receiver::start().await;
    let subscription = |url: String| {
        json!({"url": url, "events": ["order.*", "payment.*", "shipment.*"],
               "format": "commerce-engine", "secret": CE_SECRET})
    };
    let created = subscribe(&api, subscription(node.url("/webhooks/ce"))).await;
    assert_eq!(created["format"], "commerce-engine");
    let twin_sub = subscribe(&api, subscription(twin.url("ce"))).await;

    // (event id, type as posted, type as sent, data, the seed's case)
    let cases = [
        (
            "evt_ce_order",
            "order.created",
            "order.created",
            json!({"order_number": "ORD-1001", "total": "49.90"}),
            "handleOrderCreated",
        ),
        (
            "evt_ce_refund",
            "payment.refund.success",
            "payment.refund.success",
            json!({"order_number": "ORD-1001", "refund_amount": "10.00"}),
            "handleRefundSuccess",
        ),
        (
            "evt_ce_shipment",
            "shipment.delivered",
            "shipment.delivered",
            json!({"order_number": "ORD-1001", "tracking_number": "1Z999AA1"}),
            "handleShipmentDelivered",
        ),
        (
            "evt_ce_payment",
            "PAYMENT_SUCCESS",
            "payment.success",
            json!({"order_number": "ORD-1001", "amount": "49.90"}),
            "handlePaymentSuccess",
        ),
    ];
    for (id, posted, _, data, _) in &cases {
        let receipt = post_event(
            &api,
            json!({"id": id, "type": posted, "timestamp": "2026-11-24T10:30:00Z", "data": data}),
        )
        .await;
        assert_eq!(receipt["deliveries"], 2, "{receipt}");
    }

    let records = node.wait_for(cases.len(), WAIT).await;
    assert!(
        !branches(&records).contains(&"default"),
        "no event falls into the switch's default: {records:#?}"
    );
    for (id, _, sent_as, data, case) in &cases {
        let r = record(&records, "id", &json!(id));
        assert_eq!(r["branch"], *case, "{r}");
        assert_eq!(r["event_type"], *sent_as);
        assert_eq!(r["data"], *data);
        assert_eq!(r["created_at"], "2026-11-24T10:30:00Z");
        assert_eq!(r["keys"], json!(["id", "event_type", "created_at", "data"]));
    }

    let deliveries = delivered(&api, "evt_ce_refund", 2).await;
    let sent = &delivery_to(&api, &deliveries, &created).await["sent"];
    assert_eq!(sent["format"], "commerce-engine");
    assert_eq!(sent["event_name"], "payment.refund.success");
    assert_eq!(sent["headers"]["x-webhook-signature"], "…");

    let got = twin.wait_for("ce", cases.len(), WAIT).await;
    let refund = got
        .iter()
        .find(|r| r.json()["id"] == "evt_ce_refund")
        .unwrap();
    let to_twin = delivery_to(&api, &deliveries, &twin_sub).await;
    assert_sent_headers_match(
        &to_twin["sent"],
        refund,
        &["x-webhook-signature", "webhook-signature"],
    );
    tampered_body_gets_401(
        &node,
        "/webhooks/ce",
        ("x-webhook-signature", CE_SECRET),
        refund,
        ("\"refund_amount\":\"10.00\"", "\"refund_amount\":\"99.00\""),
        &[],
    )
    .await;
}

// ------------------------------------------------------------------------------- Saleor

/// Saleor's own example of a secret key.
const SALEOR_SECRET: &str = "secret-key";

/// Seed 004's HMAC check, with `Saleor-Domain` from the subscription, then the tenant, then
/// the API's own domain.
async fn saleor_hmac_check_passes_with_every_domain_setting(running: Running) {
    let api = Client::admin(&running);
    let node = NodeReceiver::start("saleor.js", &[("SALEOR_SECRET_KEY", SALEOR_SECRET)]).await;
    let twin = Receiver::start().await;
    let url = node.url("/api/webhooks/saleor");
    let own = subscribe(
        &api,
        json!({"url": url, "events": ["ORDER_CREATED"], "format": "saleor",
               "secret": SALEOR_SECRET, "saleor_domain": "shop.example.com",
               "legacy_headers": true}),
    )
    .await;
    assert_eq!(own["events"], json!(["order.created"]));
    assert_eq!(own["saleor_domain"], "shop.example.com");
    assert_eq!(own["legacy_headers"], true);
    let inherited = subscribe(
        &api,
        json!({"url": url, "events": ["ANY_EVENTS"], "format": "saleor", "secret": SALEOR_SECRET}),
    )
    .await;
    assert_eq!(inherited["events"], json!(["*"]));
    assert_eq!(inherited["legacy_headers"], false);
    assert!(inherited.get("saleor_domain").is_none(), "{inherited}");
    let twin_sub = subscribe(
        &api,
        json!({"url": twin.url("saleor"), "events": ["ORDER_CREATED"], "format": "saleor",
               "secret": SALEOR_SECRET, "saleor_domain": "shop.example.com",
               "legacy_headers": true}),
    )
    .await;

    let tenant = api.ok(Method::GET, "/v1/tenant", None, 200).await;
    assert!(tenant["saleor_domain"].is_null(), "{tenant}");
    let api_domain = running.addr.to_string();
    let first = json!({"order": {"id": "T3JkZXI6MQ==", "number": "1"}});
    let receipt = post_event(
        &api,
        json!({"id": "evt_saleor_1", "type": "ORDER_CREATED", "data": first}),
    )
    .await;
    assert_eq!(
        (receipt["type"].as_str(), receipt["deliveries"].as_u64()),
        (Some("order.created"), Some(3))
    );
    let records = node.wait_for(2, WAIT).await;
    let got = twin.wait_for("saleor", 1, WAIT).await;
    let body = &got[0].body;
    assert_eq!(got[0].json(), first, "the payload itself is the body");
    let hex = sign_hex(SALEOR_SECRET, body);
    for r in &records {
        assert_eq!(
            r["branch"], "on order_created",
            "the HMAC check passed: {r}"
        );
        assert_eq!(r["event"], "order_created");
        assert_eq!(r["data"], first);
    }
    let with_own = record(&records, "domain", &json!("shop.example.com"));
    // Saleor-Api-Url is always Tidings' own: app-sdk fetches the JWKS from its origin.
    let api_url = format!("http://{api_domain}/graphql/");
    assert_eq!(with_own["apiUrl"], api_url.as_str());
    assert_eq!(
        with_own["legacy"],
        json!({"event": "order_created", "domain": "shop.example.com", "signature": hex})
    );
    let with_api = record(&records, "domain", &json!(api_domain));
    assert_eq!(with_api["apiUrl"], api_url.as_str());
    assert_eq!(
        with_api["legacy"],
        json!({"event": null, "domain": null, "signature": null}),
        "no X-Saleor-* headers without legacy_headers"
    );

    // The tenant's domain, for subscriptions that set none.
    let tenant = api
        .ok(
            Method::PATCH,
            "/v1/tenant",
            Some(json!({"saleor_domain": "tenant.example.com"})),
            200,
        )
        .await;
    assert_eq!(tenant["saleor_domain"], "tenant.example.com");
    let second = json!({"order": {"id": "T3JkZXI6Mg==", "number": "2"}});
    post_event(
        &api,
        json!({"id": "evt_saleor_2", "type": "order_created", "data": second}),
    )
    .await;
    let records = node.wait_for(4, WAIT).await;
    let later: Vec<Value> = records
        .iter()
        .filter(|r| r["data"] == second)
        .cloned()
        .collect();
    assert_eq!(branches(&later), ["on order_created"; 2], "{later:#?}");
    record(&later, "domain", &json!("shop.example.com"));
    let with_tenant = record(&later, "domain", &json!("tenant.example.com"));
    assert_eq!(with_tenant["event"], "order_created");

    let deliveries = delivered(&api, "evt_saleor_1", 3).await;
    let sent = &delivery_to(&api, &deliveries, &own).await["sent"];
    assert_eq!(sent["format"], "saleor");
    assert_eq!(sent["event_name"], "order_created");
    assert_eq!(sent["headers"]["saleor-event"], "order_created");
    assert_eq!(sent["headers"]["saleor-domain"], "shop.example.com");
    let to_twin = delivery_to(&api, &deliveries, &twin_sub).await;
    assert_sent_headers_match(
        &to_twin["sent"],
        &got[0],
        &[
            "saleor-signature",
            "x-saleor-signature",
            "webhook-signature",
        ],
    );
    tampered_body_gets_401(
        &node,
        "/api/webhooks/saleor",
        ("saleor-signature", SALEOR_SECRET),
        &got[0],
        ("\"number\":\"1\"", "\"number\":\"9\""),
        &["saleor-event", "saleor-domain"],
    )
    .await;
}

// ------------------------------------------------------------------------------- BareCommerce

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Seed 002's Event Format, every field asserted by the receiver; its processing examples
/// as branches, and its deduplication by `id` across a retry.
async fn barecommerce_receiver_reads_every_field_of_the_event_format(running: Running) {
    let api = Client::admin(&running);
    let tenant = api.ok(Method::GET, "/v1/tenant", None, 200).await;
    assert_eq!(tenant["store_id"], "dev", "the tenant id by default");
    let tenant = api
        .ok(
            Method::PATCH,
            "/v1/tenant",
            Some(json!({"store_id": "store_123"})),
            200,
        )
        .await;
    assert_eq!(tenant["store_id"], "store_123");
    let node = NodeReceiver::start(
        "barecommerce.js",
        &[("WEBHOOK_SECRET", WHSEC), ("STORE_ID", "store_123")],
    )
    .await;
    let created = subscribe(
        &api,
        json!({"url": node.url("/webhooks/barecommerce"),
               "events": ["order.*", "product.*", "customer.*"],
               "format": "barecommerce", "secret": WHSEC}),
    )
    .await;
    assert_eq!(created["format"], "barecommerce");

    // (event id, type, data, the seed's examples that handle it)
    let cases = [
        (
            "evt_bc_order",
            "order.created",
            json!({"id": "order_abc", "orderNumber": "ORD-000001", "total": "99.99"}),
            vec!["send order confirmation email", "update inventory"],
        ),
        (
            "evt_bc_product",
            "product.updated",
            json!({"id": "prod_1", "name": "Mug"}),
            vec!["sync products to search index"],
        ),
        (
            "evt_bc_customer",
            "customer.created",
            json!({"id": "cus_1", "email": "ada@example.com"}),
            vec!["sync customer to CRM"],
        ),
        (
            "evt_bc_paid",
            "order.paid",
            json!({"id": "order_abc"}),
            vec!["default"],
        ),
    ];
    for (id, event_type, data, _) in &cases {
        post_event(
            &api,
            json!({"id": id, "type": event_type, "timestamp": "2026-11-24T10:30:00Z",
                   "data": data}),
        )
        .await;
    }
    let expected: usize = cases.iter().map(|c| c.3.len()).sum();
    let records = node.wait_for(expected, WAIT).await;
    for (id, event_type, data, examples) in &cases {
        let mine: Vec<&Value> = records.iter().filter(|r| r["id"] == *id).collect();
        let ran: Vec<&str> = mine.iter().map(|r| r["branch"].as_str().unwrap()).collect();
        assert_eq!(&ran, examples, "{records:#?}");
        for r in mine {
            assert_eq!(r["type"], *event_type);
            assert_eq!(r["timestamp"], "2026-11-24T10:30:00Z");
            assert_eq!(r["storeId"], "store_123");
            assert_eq!(r["data"], *data);
        }
    }

    // A retry carries the same id: the seed's deduplication recognises it.
    let deliveries = delivered(&api, "evt_bc_order", 1).await;
    let sent = &deliveries[0]["sent"];
    assert_eq!(sent["format"], "barecommerce");
    assert_eq!(sent["event_name"], "order.created");
    assert_eq!(sent["headers"]["webhook-signature"], "…");
    let retry = format!(
        "/v1/deliveries/{}/retry",
        deliveries[0]["id"].as_str().unwrap()
    );
    api.ok(Method::POST, &retry, None, 202).await;
    let records = node.wait_for(expected + 1, WAIT).await;
    let last = records.last().unwrap();
    assert_eq!(
        (last["branch"].as_str(), last["id"].as_str()),
        (Some("duplicate"), Some("evt_bc_order"))
    );
    assert!(
        branches(&records)
            .iter()
            .all(|b| *b != "assertion failed" && !b.starts_with("rejected")),
        "{records:#?}"
    );
}

// ------------------------------------------------------------------------------- commercio

const COMMERCIO_SECRET: &str = "commercio_secret_1";

/// Seed 003: the emitted payload as the body, the UPPER_SNAKE event name in a header, and
/// a signature the receiver verifies.
async fn commercio_receiver_reads_the_payload_event_header_and_signature(running: Running) {
    let api = Client::admin(&running);
    let node = NodeReceiver::start("commercio.js", &[("WEBHOOK_SECRET", COMMERCIO_SECRET)]).await;
    let created = subscribe(
        &api,
        json!({"url": node.url("/hooks/orders"), "events": ["ORDER_CREATED", "ORDER_STATUS_CHANGED"],
               "format": "commercio", "secret": COMMERCIO_SECRET}),
    )
    .await;
    assert_eq!(
        created["events"],
        json!(["order.created", "order.status_changed"])
    );

    let changed = json!({"orderId": "o1", "status": "SHIPPED", "previousStatus": "PAID"});
    let receipt = post_event(
        &api,
        json!({"id": "evt_co_status", "type": "ORDER_STATUS_CHANGED", "data": changed}),
    )
    .await;
    assert_eq!(receipt["type"], "order.status_changed");
    let placed = json!({"orderId": "o2", "customerId": "c1", "totalAmount": 9999});
    post_event(
        &api,
        json!({"id": "evt_co_created", "type": "ORDER_CREATED", "data": placed}),
    )
    .await;

    let records = node.wait_for(2, WAIT).await;
    let status = record(&records, "event", &json!("ORDER_STATUS_CHANGED"));
    assert_eq!(status["branch"], "on ORDER_STATUS_CHANGED", "{records:#?}");
    assert_eq!(status["payload"], changed);
    let order = record(&records, "event", &json!("ORDER_CREATED"));
    assert_eq!(order["branch"], "on ORDER_CREATED", "{records:#?}");
    assert_eq!(order["payload"], placed);

    let deliveries = delivered(&api, "evt_co_status", 1).await;
    let sent = &deliveries[0]["sent"];
    assert_eq!(sent["format"], "commercio");
    assert_eq!(sent["event_name"], "ORDER_STATUS_CHANGED");
    assert_eq!(sent["headers"]["x-commercio-event"], "ORDER_STATUS_CHANGED");
    assert_eq!(sent["headers"]["x-commercio-signature"], "…");
    assert_eq!(sent["headers"]["webhook-signature"], "…");
}

// ------------------------------------------------------------------------------- bad input

/// A loopback URL nothing is posted to (these subscriptions get no events).
const NOWHERE: &str = "http://127.0.0.1:9/hooks";

const FORMATS: [&str; 6] = [
    "standard",
    "medusa",
    "commerce-engine",
    "barecommerce",
    "commercio",
    "saleor",
];

/// Asserts a 422 naming `field`, whose detail contains every one of `words`.
async fn refused(
    api: &Client,
    method: Method,
    path: &str,
    body: Value,
    field: &str,
    words: &[&str],
) {
    let (status, problem) = api.call(method.clone(), path, Some(body.clone())).await;
    assert_eq!(status, 422, "{method} {path} {body}: {problem}");
    assert_eq!(problem["field"], field, "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    for word in words {
        assert!(
            detail.contains(word),
            "'{word}' is in the detail: {problem}"
        );
    }
}

async fn unknown_formats_and_secrets_a_format_does_not_take_are_refused(running: Running) {
    let api = Client::admin(&running);
    let subs = "/v1/subscriptions";
    refused(
        &api,
        Method::POST,
        subs,
        json!({"url": NOWHERE, "events": ["*"], "format": "shopify"}),
        "format",
        &FORMATS,
    )
    .await;

    // Standard Webhooks formats take whsec_ secrets only; the others a receiver's own.
    for format in [None, Some("standard"), Some("barecommerce")] {
        let mut body = json!({"url": NOWHERE, "events": ["*"], "secret": "secret-key"});
        if let Some(format) = format {
            body["format"] = json!(format);
        }
        refused(
            &api,
            Method::POST,
            subs,
            body,
            "secret",
            &["whsec_", "base64", "Standard Webhooks"],
        )
        .await;
    }
    for format in ["medusa", "commerce-engine", "commercio", "saleor"] {
        refused(
            &api,
            Method::POST,
            subs,
            json!({"url": NOWHERE, "events": ["*"], "format": format, "secret": "short"}),
            "secret",
            &["8 to 256 printable"],
        )
        .await;
        let created = subscribe(
            &api,
            json!({"url": NOWHERE, "events": ["*"], "format": format, "secret": "secret-key"}),
        )
        .await;
        assert_eq!(created["secret"], "secret-key");
        assert_eq!(created["format"], format);
    }

    let created = subscribe(&api, json!({"url": NOWHERE, "events": ["*"]})).await;
    assert_eq!(created["format"], "standard", "the default");
    let path = format!("{subs}/{}", created["id"].as_str().unwrap());
    refused(
        &api,
        Method::PATCH,
        &path,
        json!({"format": "Medusa"}),
        "format",
        &FORMATS,
    )
    .await;
    // Rotation checks the secret against the format too.
    refused(
        &api,
        Method::POST,
        &format!("{path}/rotate-secret"),
        json!({"secret": "secret-key"}),
        "secret",
        &["whsec_"],
    )
    .await;
}

async fn patching_the_format_keeps_the_secret(running: Running) {
    let api = Client::admin(&running);
    let secret_of = |path: String| {
        let api = api.clone();
        async move {
            let shown = api
                .ok(Method::GET, &format!("{path}/secret"), None, 200)
                .await;
            shown["secret"].as_str().unwrap().to_owned()
        }
    };

    // A generated (whsec_) secret serves every format.
    let created = subscribe(
        &api,
        json!({"url": NOWHERE, "events": ["*"], "format": "medusa"}),
    )
    .await;
    let path = format!("/v1/subscriptions/{}", created["id"].as_str().unwrap());
    let whsec = created["secret"].as_str().unwrap().to_owned();
    assert!(whsec.starts_with("whsec_"), "{whsec}");
    assert_eq!(secret_of(path.clone()).await, whsec);
    for format in ["standard", "saleor", "barecommerce", "commerce-engine"] {
        let patched = api
            .ok(Method::PATCH, &path, Some(json!({"format": format})), 200)
            .await;
        assert_eq!(patched["format"], format);
        assert!(patched.get("secret").is_none());
        assert_eq!(secret_of(path.clone()).await, whsec, "after {format}");
    }

    // A receiver's own secret moves between the formats that take one, and no further.
    let created = subscribe(
        &api,
        json!({"url": NOWHERE, "events": ["*"], "format": "medusa", "secret": MEDUSA_SECRET}),
    )
    .await;
    let path = format!("/v1/subscriptions/{}", created["id"].as_str().unwrap());
    for format in ["standard", "barecommerce"] {
        refused(
            &api,
            Method::PATCH,
            &path,
            json!({"format": format}),
            "format",
            &["whsec_", "rotate-secret"],
        )
        .await;
    }
    let unchanged = api.ok(Method::GET, &path, None, 200).await;
    assert_eq!(unchanged["format"], "medusa");
    assert_eq!(secret_of(path.clone()).await, MEDUSA_SECRET);
    let patched = api
        .ok(
            Method::PATCH,
            &path,
            Some(json!({"format": "commerce-engine"})),
            200,
        )
        .await;
    assert_eq!(patched["format"], "commerce-engine");
    assert_eq!(secret_of(path.clone()).await, MEDUSA_SECRET);
    // Rotation to a whsec_ secret opens the way, as the refusal says.
    let rotated = api
        .ok(
            Method::POST,
            &format!("{path}/rotate-secret"),
            Some(json!({"secret": WHSEC, "overlap_secs": 0})),
            200,
        )
        .await;
    assert_eq!(rotated["secret"], WHSEC);
    let patched = api
        .ok(
            Method::PATCH,
            &path,
            Some(json!({"format": "standard"})),
            200,
        )
        .await;
    assert_eq!(patched["format"], "standard");
    assert_eq!(secret_of(path.clone()).await, WHSEC);
}

async fn event_names_in_every_seed_spelling_and_misspelt_ones(running: Running) {
    let api = Client::admin(&running);
    let created = subscribe(
        &api,
        json!({"url": NOWHERE, "events": ["ORDER_CREATED", "order_created", "order.created"]}),
    )
    .await;
    assert_eq!(created["events"], json!(["order.created"]), "one type");
    let any = subscribe(&api, json!({"url": NOWHERE, "events": ["ANY_EVENTS"]})).await;
    assert_eq!(any["events"], json!(["*"]));
    let path = format!("/v1/subscriptions/{}", any["id"].as_str().unwrap());
    let patched = api
        .ok(
            Method::PATCH,
            &path,
            Some(json!({"events": ["WAREHOUSE_CRATED", "NOTIFY", "order.canceled"]})),
            200,
        )
        .await;
    assert_eq!(
        patched["events"],
        json!(["warehouse.created", "notify.user", "order.cancelled"])
    );
    let listed = api
        .ok(
            Method::GET,
            "/v1/subscriptions?event_type=ORDER_CREATED",
            None,
            200,
        )
        .await;
    assert_eq!(listed["data"][0]["id"], created["id"], "{listed}");
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");

    let hint = "did you mean 'order.created'";
    refused(
        &api,
        Method::POST,
        "/v1/subscriptions",
        json!({"url": NOWHERE, "events": ["order.*", "ORDER_CRAETED"]}),
        "events[1]",
        &["ORDER_CRAETED", hint],
    )
    .await;
    refused(
        &api,
        Method::PATCH,
        &path,
        json!({"events": ["ORDER_CRAETED"]}),
        "events[0]",
        &[hint],
    )
    .await;
    refused(
        &api,
        Method::POST,
        "/v1/events",
        json!({"type": "ORDER_CRAETED", "data": {}}),
        "type",
        &["ORDER_CRAETED", hint],
    )
    .await;

    // At ingest every spelling is the catalog type, and reaches its subscribers.
    for (id, spelling) in [
        ("evt_upper", "ORDER_CREATED"),
        ("evt_lower", "order_created"),
        ("evt_dotted", "order.created"),
    ] {
        let receipt = post_event(&api, json!({"id": id, "type": spelling, "data": {}})).await;
        assert_eq!(receipt["type"], "order.created", "{spelling}");
        assert_eq!(receipt["deliveries"], 1, "{spelling}: {receipt}");
    }
    let event = api.ok(Method::GET, "/v1/events/evt_upper", None, 200).await;
    assert_eq!(event["event"]["type"], "order.created");
}
