//! End to end: the local runner (HTTP API + dispatcher loop) and receivers on 127.0.0.1
//! that verify every signature, on the embedded backend and on SQS and DynamoDB (moto).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::emulator;
use support::receiver::{Received, Receiver};
use tidings::config::Config;
use tidings::domain::{DeliveryStatus, SubscriptionId, TenantId};
use tidings::signing::verify_headers;
use tidings_local::{self as local, Options, Running, Storage};

const WAIT: Duration = Duration::from_secs(15);

async fn start(storage: Storage, schedule: &str) -> Running {
    local::start(Options {
        addr: "127.0.0.1:0".parse().unwrap(),
        storage,
        dev_api_key: Some("tdk_end_to_end_test_key".into()),
        config: Config {
            retry: schedule.parse().unwrap(),
            ..Config::default()
        },
    })
    .await
    .expect("the local runner starts")
}

struct Api<'a> {
    running: &'a Running,
    client: reqwest::Client,
}

impl<'a> Api<'a> {
    fn new(running: &'a Running) -> Self {
        Self {
            running,
            client: reqwest::Client::new(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.running.base_url()))
            .bearer_auth(&self.running.api_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates a subscription; returns its id and secret.
    async fn subscribe(&self, url: String, events: &[&str], active: bool) -> (String, String) {
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                "/v1/subscriptions",
                Some(json!({"url": url, "events": events, "active": active})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["id"].as_str().unwrap().to_owned(),
            body["secret"].as_str().unwrap().to_owned(),
        )
    }

    async fn post_event(&self, event: Value) -> Value {
        let (status, body) = self
            .send(reqwest::Method::POST, "/v1/events", Some(event))
            .await;
        assert_eq!(status, 202, "{body}");
        body
    }
}

fn assert_signed(received: &Received, secret: &str, event_id: &str) {
    verify_headers(secret, &received.headers, &received.body).expect("a valid signature");
    assert_eq!(received.header("webhook-id"), Some(event_id));
    assert_eq!(received.header("content-type"), Some("application/json"));
}

async fn order_event_reaches_exactly_its_subscriptions(storage: Storage) {
    let receiver = Receiver::start().await;
    let running = start(storage, "5s").await;
    let api = Api::new(&running);
    let (_, secret_a) = api.subscribe(receiver.url("a"), &["order.*"], true).await;
    let (_, secret_b) = api
        .subscribe(
            receiver.url("b"),
            &["order.created", "payment.success"],
            true,
        )
        .await;
    let (products, _) = api.subscribe(receiver.url("c"), &["product.*"], true).await;
    let (_, _) = api.subscribe(receiver.url("d"), &["*"], false).await;

    let order = json!({
        "id": "evt_order_1",
        "type": "order.created",
        "data": {"id": "order_abc", "orderNumber": "ORD-000001", "total": "99.99"}
    });
    let receipt = api.post_event(order.clone()).await;
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
    let again = api.post_event(order).await;
    assert_eq!(again["duplicate"], true);

    // A product event goes to the product.* subscription only.
    let receipt = api
        .post_event(json!({"type": "product.updated", "data": {"id": "prod_1"}}))
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

    let (status, list) = api
        .send(reqwest::Method::GET, "/v1/subscriptions", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 4);
    let path = format!("/v1/subscriptions/{products}");
    assert_eq!(api.send(reqwest::Method::DELETE, &path, None).await.0, 204);
    assert_eq!(api.send(reqwest::Method::GET, &path, None).await.0, 404);
    let receipt = api
        .post_event(json!({"type": "product.updated", "data": {}}))
        .await;
    assert_eq!(
        receipt["deliveries"], 0,
        "a deleted subscription gets nothing"
    );
}

#[tokio::test]
async fn order_event_reaches_exactly_its_subscriptions_on_the_embedded_backend() {
    order_event_reaches_exactly_its_subscriptions(Storage::Embedded).await;
}

#[tokio::test]
async fn order_event_reaches_exactly_its_subscriptions_on_sqs_and_dynamodb() {
    let Some(sdk) = emulator::sdk().await else {
        return;
    };
    let resources = emulator::provision(&sdk).await;
    order_event_reaches_exactly_its_subscriptions(Storage::Aws {
        sdk: Box::new(sdk),
        resources,
    })
    .await;
}

async fn delivery_status(
    running: &Running,
    subscription: &str,
    delivery_id: &str,
) -> DeliveryStatus {
    let record = running
        .backend
        .deliveries
        .get_delivery(&TenantId::parse(local::DEV_TENANT).unwrap(), delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.subscription_id,
        SubscriptionId::parse(subscription).unwrap()
    );
    record.status
}

async fn retries_until_the_receiver_recovers(storage: Storage) {
    let receiver = Receiver::start().await;
    let running = start(storage, "1s,1s,1s").await;
    let api = Api::new(&running);
    let (_, secret) = api
        .subscribe(receiver.url("flaky"), &["payment.*"], true)
        .await;
    receiver.respond("flaky", &[500, 503]);
    let started = Instant::now();
    api.post_event(
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
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.received("flaky").len(),
        3,
        "nothing after the success"
    );
}

#[tokio::test]
async fn retries_until_the_receiver_recovers_on_the_embedded_backend() {
    retries_until_the_receiver_recovers(Storage::Embedded).await;
}

#[tokio::test]
async fn retries_until_the_receiver_recovers_on_sqs_and_dynamodb() {
    let Some(sdk) = emulator::sdk().await else {
        return;
    };
    let resources = emulator::provision(&sdk).await;
    retries_until_the_receiver_recovers(Storage::Aws {
        sdk: Box::new(sdk),
        resources,
    })
    .await;
}

#[tokio::test]
async fn a_delivery_that_never_succeeds_ends_in_the_dead_letter_queue() {
    let receiver = Receiver::start().await;
    let running = start(Storage::Embedded, "100ms").await;
    let api = Api::new(&running);
    let (sub, _) = api
        .subscribe(receiver.url("down"), &["order.*"], true)
        .await;
    receiver.respond("down", &[500; 10]);
    api.post_event(json!({"type": "order.cancelled", "data": {}}))
        .await;
    assert_eq!(receiver.wait_for("down", 2, WAIT).await.len(), 2);

    let queue = running.embedded.as_ref().unwrap().queue.clone();
    let deadline = Instant::now() + WAIT;
    while queue.depths() != (0, 1) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        queue.depths(),
        (0, 1),
        "off the main queue, into the dead-letter queue"
    );
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
        delivery_status(&running, &sub, &message.delivery_id).await,
        DeliveryStatus::Dead
    );
    assert_eq!(receiver.received("down").len(), 2);
}
