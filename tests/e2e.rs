//! End to end: the local runner (HTTP API + dispatcher loop) and receivers on 127.0.0.1
//! that verify every signature, on the embedded backend and on SQS and DynamoDB (moto).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::builders::tenant;
use support::client::Client;
use support::harness::Kind;
use support::receiver::{Received, Receiver};
use support::wait::eventually;
use tidings::config::Config;
use tidings::domain::{DeliveryRecord, DeliveryStatus, SubscriptionId};
use tidings::signing::{Secret, verify_headers};
use tidings_local::{self as local, Running};

const WAIT: Duration = Duration::from_secs(15);

support::on_both_backends!(
    order_event_reaches_exactly_its_subscriptions,
    retries_until_the_receiver_recovers,
);

async fn start(kind: Kind, schedule: &str) -> Running {
    kind.start(Config {
        retry: schedule.parse().unwrap(),
        ..Config::default()
    })
    .await
}

/// Creates a subscription; returns its id and secret.
async fn subscribe(api: &Client, url: String, events: &[&str], active: bool) -> (String, String) {
    let body = api
        .ok(
            Method::POST,
            "/v1/subscriptions",
            Some(json!({"url": url, "events": events, "active": active})),
            201,
        )
        .await;
    (
        body["id"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn post_event(api: &Client, event: Value) -> Value {
    api.ok(Method::POST, "/v1/events", Some(event), 202).await
}

fn assert_signed(received: &Received, secret: &str, event_id: &str) {
    verify_headers(secret, &received.headers, &received.body).expect("a valid signature");
    assert_eq!(received.header("webhook-id"), Some(event_id));
    assert_eq!(received.header("content-type"), Some("application/json"));
}

async fn order_event_reaches_exactly_its_subscriptions(kind: Kind) {
    let receiver = Receiver::start().await;
    let running = start(kind, "5s").await;
    let api = Client::admin(&running);
    let (_, secret_a) = subscribe(&api, receiver.url("a"), &["order.*"], true).await;
    let (_, secret_b) = subscribe(
        &api,
        receiver.url("b"),
        &["order.created", "payment.success"],
        true,
    )
    .await;
    let (products, _) = subscribe(&api, receiver.url("c"), &["product.*"], true).await;
    let (_, _) = subscribe(&api, receiver.url("d"), &["*"], false).await;

    let order = json!({
        "id": "evt_order_1",
        "type": "order.created",
        "data": {"id": "order_abc", "orderNumber": "ORD-000001", "total": "99.99"}
    });
    let receipt = post_event(&api, order.clone()).await;
    assert_eq!(
        receipt,
        json!({"id": "evt_order_1", "type": "order.created", "deliveries": 2, "duplicate": false})
    );

    let a = receiver.wait_for("a", 1, WAIT).await;
    let b = receiver.wait_for("b", 1, WAIT).await;
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_signed(&a[0], &secret_a, "evt_order_1");
    assert_signed(&b[0], &secret_b, "evt_order_1");
    let envelope = a[0].json();
    assert_eq!(envelope["type"], "order.created");
    assert_eq!(envelope["tenant"], "dev");
    assert_eq!(envelope["data"], order["data"]);
    assert!(envelope["timestamp"].as_str().unwrap().ends_with('Z'));

    // The official Standard Webhooks library verifies them too, and refuses a tampered one.
    let mut tampered = a[0].clone();
    let body = String::from_utf8(tampered.body.to_vec()).unwrap();
    tampered.body = body.replace("99.99", "0.01").into();
    let cases = [
        (secret_a.clone(), &a[0]),
        (secret_b.clone(), &b[0]),
        (secret_a.clone(), &tampered),
    ];
    if let Some(verdicts) = support::verify_with_python(&cases) {
        assert_eq!(verdicts, vec![true, true, false]);
    }

    // A repeat of the event is answered as a duplicate and sends nothing.
    let again = post_event(&api, order).await;
    assert_eq!(again["duplicate"], true);

    // A product event goes to the product.* subscription only.
    let receipt = post_event(
        &api,
        json!({"type": "product.updated", "data": {"id": "prod_1"}}),
    )
    .await;
    assert_eq!(receipt["deliveries"], 1);
    assert_eq!(receiver.wait_for("c", 1, WAIT).await.len(), 1);
    assert_eq!(
        receiver.received("a").len(),
        1,
        "no second delivery of the order event"
    );
    assert_eq!(receiver.received("b").len(), 1);
    assert!(
        receiver.received("d").is_empty(),
        "the inactive subscription got nothing"
    );

    let (status, list) = api.call(Method::GET, "/v1/subscriptions", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 4);
    let path = format!("/v1/subscriptions/{products}");
    assert_eq!(api.call(Method::DELETE, &path, None).await.0, 204);
    assert_eq!(api.call(Method::GET, &path, None).await.0, 404);
    let receipt = post_event(&api, json!({"type": "product.updated", "data": {}})).await;
    assert_eq!(
        receipt["deliveries"], 0,
        "a deleted subscription gets nothing"
    );
}

/// The delivery's record in the store, once it exists, checked to be `subscription`'s.
async fn delivery_record(
    running: &Running,
    subscription: &str,
    delivery_id: &str,
) -> DeliveryRecord {
    let record = running
        .backend
        .deliveries
        .get_delivery(&tenant(local::DEV_TENANT), delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.subscription_id,
        SubscriptionId::parse(subscription).unwrap()
    );
    record
}

async fn retries_until_the_receiver_recovers(kind: Kind) {
    let receiver = Receiver::start().await;
    let running = start(kind, "1s,1s,1s").await;
    let api = Client::admin(&running);
    let (sub, secret) = subscribe(&api, receiver.url("flaky"), &["payment.*"], true).await;
    receiver.respond("flaky", &[500, 503]);
    let started = Instant::now();
    let receipt = post_event(
        &api,
        json!({"id": "evt_pay", "type": "payment.refund.success", "data": {"amount": "10.00"}}),
    )
    .await;

    let got = receiver.wait_for("flaky", 3, WAIT).await;
    assert_eq!(got.len(), 3, "two failures, then the success");
    for r in &got {
        assert_signed(r, &secret, "evt_pay");
    }
    // The backoff was honoured: 1 s ± 20 % between attempts, so at least 1.6 s in all.
    assert!(started.elapsed() >= Duration::from_millis(1600));
    // Nothing after the success: it is recorded as the third and last attempt, and a
    // delivery recorded as succeeded is never POSTed again.
    let event = api
        .until("/v1/events/evt_pay", WAIT, |e| {
            e["deliveries"][0]["status"] == "succeeded"
        })
        .await;
    assert_eq!(
        event["deliveries"].as_array().unwrap().len(),
        1,
        "{receipt}"
    );
    let id = event["deliveries"][0]["id"].as_str().unwrap();
    let record = delivery_record(&running, &sub, id).await;
    assert_eq!(
        (record.status, record.attempts),
        (DeliveryStatus::Succeeded, 3)
    );
    assert_eq!(
        receiver.received("flaky").len(),
        3,
        "nothing after the success"
    );
}

#[tokio::test]
async fn a_delivery_that_never_succeeds_ends_in_the_dead_letter_queue() {
    let receiver = Receiver::start().await;
    let running = start(Kind::Embedded, "100ms").await;
    let api = Client::admin(&running);
    let (sub, _) = subscribe(&api, receiver.url("down"), &["order.*"], true).await;
    receiver.respond("down", &[500; 10]);
    post_event(&api, json!({"type": "order.cancelled", "data": {}})).await;
    assert_eq!(receiver.wait_for("down", 2, WAIT).await.len(), 2);

    let queue = running.embedded.as_ref().unwrap().queue.clone();
    eventually(
        "the delivery to move off the main queue, into the dead-letter queue",
        WAIT,
        || async {
            match queue.depths() {
                (0, 1) => Ok(()),
                depths => Err(format!("queue depths (main, dead) {depths:?}")),
            }
        },
    )
    .await;
    let dead = running
        .backend
        .queue
        .receive_dead_letters(1, Duration::ZERO)
        .await
        .unwrap();
    let message: tidings::domain::DeliveryMessage = serde_json::from_str(&dead[0].body).unwrap();
    assert!(
        dead[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("all 2 attempts failed")
    );
    assert_eq!(
        delivery_record(&running, &sub, &message.delivery_id)
            .await
            .status,
        DeliveryStatus::Dead
    );
    assert_eq!(receiver.received("down").len(), 2);
}

/// Tidings' signatures verify with the official Standard Webhooks library, and a tampered
/// body does not. The end-to-end scenarios check their deliveries with it too; without
/// `TIDINGS_TEST_PYTHON` at build time (scripts/test sets it) this test shows the skip.
#[test]
#[cfg_attr(
    not(python),
    ignore = "needs TIDINGS_TEST_PYTHON (the official Standard Webhooks library): run bash scripts/test"
)]
fn the_official_library_verifies_tidings_signatures() {
    let secret = Secret::generate();
    let body =
        json!({"id": "evt_lib", "type": "order.created", "data": {"total": "99.99"}}).to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let received = |body: &str| {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("webhook-id", "evt_lib".parse().unwrap());
        headers.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
        let signature = secret.sign("evt_lib", timestamp, body.as_bytes());
        headers.insert("webhook-signature", signature.parse().unwrap());
        Received {
            method: axum::http::Method::POST,
            path: "/lib".into(),
            headers,
            body: body.to_owned().into(),
            at: std::time::Instant::now(),
        }
    };
    let good = received(&body);
    let mut tampered = good.clone();
    tampered.body = body.replace("99.99", "0.01").into();
    let key = secret.expose().to_owned();
    let verdicts = support::verify_with_python(&[(key.clone(), &good), (key, &tampered)])
        .expect("TIDINGS_TEST_PYTHON is set");
    assert_eq!(verdicts, vec![true, false]);
}
