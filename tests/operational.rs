//! Tidings' own operational webhooks, on the embedded backend and on SQS and DynamoDB
//! (moto): `delivery.failing` once, then `delivery.exhausted` or `delivery.recovered`;
//! `subscription.created`, `.updated` and `.deleted`; and never an event about an
//! operational event's own delivery.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::client::Client;
use support::receiver::{Received, Receiver};
use support::wait::eventually;
use tidings::config::Config;
use tidings::domain::circuit::CircuitPolicy;
use tidings_local::Running;

const WAIT: Duration = Duration::from_secs(20);

fn config() -> Config {
    Config {
        // Four attempts close together; `delivery.failing` after the second failure.
        retry: "100ms,100ms,100ms".parse().unwrap(),
        failing_after: 2,
        // Every attempt sent, so the requests can be counted: with a circuit, the failing
        // receiver's later attempts would be recorded without a request (tests/circuits.rs).
        circuit: CircuitPolicy {
            open_after: 0,
            ..CircuitPolicy::default()
        },
        ..Config::default()
    }
}

support::on_both_backends!(
    config = config;
    a_dead_endpoint_is_reported_failing_once_then_exhausted,
    a_recovering_endpoint_is_reported_failing_then_recovered,
    an_operational_subscription_never_reports_on_its_own_deliveries,
    subscription_changes_are_announced,
);

async fn subscribe(api: &Client, url: String, events: Value) -> String {
    let body = api
        .ok(
            Method::POST,
            "/v1/subscriptions",
            Some(json!({"url": url, "events": events})),
            201,
        )
        .await;
    body["id"].as_str().unwrap().to_owned()
}

fn envelope(r: &Received) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn types(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| envelope(r)["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn post_order(api: &Client, id: &str) {
    api.ok(
        Method::POST,
        "/v1/events",
        Some(json!({"id": id, "type": "order.created", "data": {}})),
        202,
    )
    .await;
}

async fn a_dead_endpoint_is_reported_failing_once_then_exhausted(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    receiver.respond("shop", &[500; 4]);
    let shop = subscribe(&api, receiver.url("shop"), json!(["order.*"])).await;
    subscribe(&api, receiver.url("ops"), json!(["delivery.*"])).await;
    post_order(&api, "evt_dead").await;

    let told = receiver.wait_for("ops", 2, WAIT).await;
    assert_eq!(types(&told), ["delivery.failing", "delivery.exhausted"]);
    assert_eq!(receiver.received("shop").len(), 4, "every attempt was made");
    let exhausted = envelope(&told[1]);
    assert_eq!(exhausted["data"]["subscription_id"], shop.as_str());
    assert_eq!(exhausted["data"]["event_id"], "evt_dead");
    assert_eq!(exhausted["data"]["attempts"], 4);
    assert!(
        exhausted["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("attempts failed")
    );
    let failing = envelope(&told[0]);
    assert_eq!(failing["data"]["attempts"], 2);
    assert_eq!(failing["data"]["status_code"], 500);
}

async fn a_recovering_endpoint_is_reported_failing_then_recovered(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    receiver.respond("shop", &[500, 500]);
    subscribe(&api, receiver.url("shop"), json!(["order.*"])).await;
    subscribe(&api, receiver.url("ops"), json!(["delivery.*"])).await;
    post_order(&api, "evt_back").await;

    let told = receiver.wait_for("ops", 2, WAIT).await;
    assert_eq!(types(&told), ["delivery.failing", "delivery.recovered"]);
    let recovered = envelope(&told[1]);
    assert_eq!(recovered["data"]["attempts"], 3);
    assert_eq!(recovered["data"]["event_id"], "evt_back");

    // A delivery that succeeds at once tells nobody anything.
    post_order(&api, "evt_fine").await;
    receiver.wait_for("shop", 4, WAIT).await;
    let record = api
        .until("/v1/events/evt_fine", WAIT, |e| {
            e["deliveries"][0]["status"] == "succeeded"
        })
        .await;
    assert_eq!(record["deliveries"][0]["attempts"], 1);
    assert_eq!(receiver.received("ops").len(), 2);
}

async fn an_operational_subscription_never_reports_on_its_own_deliveries(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    receiver.respond("shop", &[500; 4]);
    receiver.respond("ops", &[500; 8]);
    let shop = subscribe(&api, receiver.url("shop"), json!(["order.*"])).await;
    let ops = subscribe(&api, receiver.url("ops"), json!(["delivery.*"])).await;
    post_order(&api, "evt_loop").await;

    // Its own two deliveries (failing, exhausted about the shop) fail all four attempts…
    let path = format!("/v1/subscriptions/{ops}/deliveries");
    let deliveries = eventually(
        "both of the operational subscription's deliveries to be dead",
        WAIT,
        || async {
            let page = api.ok(Method::GET, &path, None, 200).await;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            (data.len() == 2 && data.iter().all(|d| d["status"] == "dead")).then_some(data)
        },
    )
    .await;
    assert_eq!(deliveries.len(), 2);
    // …and every request it got was about the shop's delivery, none about its own.
    let received = receiver.wait_for("ops", 8, WAIT).await;
    assert!(
        received
            .iter()
            .all(|r| envelope(r)["data"]["subscription_id"] == shop.as_str()),
        "an operational event about an operational delivery was sent"
    );
    let page = api.ok(Method::GET, &path, None, 200).await;
    assert_eq!(
        page["data"].as_array().unwrap().len(),
        2,
        "no event about itself"
    );
}

async fn subscription_changes_are_announced(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    let watcher = subscribe(&api, receiver.url("ops"), json!(["subscription.*"])).await;
    let other = subscribe(&api, receiver.url("x"), json!(["order.*"])).await;
    api.ok(
        Method::PATCH,
        &format!("/v1/subscriptions/{other}"),
        Some(json!({"active": false})),
        200,
    )
    .await;
    api.ok(
        Method::DELETE,
        &format!("/v1/subscriptions/{other}"),
        None,
        204,
    )
    .await;

    let told = receiver.wait_for("ops", 4, WAIT).await;
    let mut seen: Vec<(String, String)> = told
        .iter()
        .map(|r| {
            let e = envelope(r);
            (
                e["type"].as_str().unwrap().to_owned(),
                e["data"]["subscription_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        ("subscription.created".to_owned(), watcher.clone()),
        ("subscription.created".to_owned(), other.clone()),
        ("subscription.updated".to_owned(), other.clone()),
        ("subscription.deleted".to_owned(), other.clone()),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    let updated = told
        .iter()
        .map(envelope)
        .find(|e| e["type"] == "subscription.updated")
        .unwrap();
    assert_eq!(updated["data"]["active"], false);
}
