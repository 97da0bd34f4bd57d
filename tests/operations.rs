//! Delivery operations through the local runner's HTTP API, on the embedded backend and on
//! SQS and DynamoDB (moto): every attempt visible, replay, recovery, and the dead-letter
//! queue, each only within its tenant.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::client::Client;
use support::receiver::Receiver;
use tidings::config::Config;
use tidings::domain::Role;
use tidings_local::Running;

const WAIT: Duration = Duration::from_secs(20);

fn config() -> Config {
    Config {
        // Two attempts, close together: failures reach the dead-letter queue quickly.
        retry: "200ms".parse().unwrap(),
        ..Config::default()
    }
}

support::on_both_backends!(
    config = config;
    every_attempt_is_visible_and_a_delivery_can_be_sent_again,
    dead_letters_are_visible_and_redriven_once_the_endpoint_recovers,
    recover_resends_what_failed_since_a_time,
    stats_count_each_attempt_of_the_endpoint,
);

fn len(v: &Value) -> usize {
    v["data"].as_array().map_or(0, Vec::len)
}

async fn every_attempt_is_visible_and_a_delivery_can_be_sent_again(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    let sub = api.subscribe_to_orders(&receiver.url("r")).await;
    api.ok(
        Method::POST,
        "/v1/events",
        Some(json!({"id": "evt_seen", "type": "order.created", "data": {}})),
        202,
    )
    .await;
    assert_eq!(receiver.wait_for("r", 1, WAIT).await.len(), 1);

    let event = api
        .until("/v1/events/evt_seen", WAIT, |e| {
            e["deliveries"][0]["status"] == "succeeded"
        })
        .await;
    assert_eq!(event["event"]["id"], "evt_seen");
    let delivery = &event["deliveries"][0];
    assert_eq!(
        (
            delivery["attempts"].as_u64(),
            delivery["status_code"].as_u64()
        ),
        (Some(1), Some(200))
    );
    assert_eq!(delivery["subscription_id"], sub.as_str());
    let id = delivery["id"].as_str().unwrap().to_owned();

    let one = api
        .ok(Method::GET, &format!("/v1/deliveries/{id}"), None, 200)
        .await;
    assert_eq!(one["success"], true);
    assert_eq!(one["recent_attempts"][0]["status_code"], 200);
    assert!(one["last_attempt_at"].is_string() && one["duration_ms"].is_u64());
    let listed = api
        .ok(
            Method::GET,
            &format!("/v1/subscriptions/{sub}/deliveries?status=succeeded"),
            None,
            200,
        )
        .await;
    assert_eq!(listed["data"][0]["id"], id.as_str());
    let failed = api
        .ok(
            Method::GET,
            &format!("/v1/subscriptions/{sub}/deliveries?status=failed"),
            None,
            200,
        )
        .await;
    assert_eq!(len(&failed), 0);
    let future = api
        .ok(
            Method::GET,
            &format!("/v1/subscriptions/{sub}/deliveries?since=2099-01-01T00:00:00Z"),
            None,
            200,
        )
        .await;
    assert_eq!(len(&future), 0, "created before 'since'");

    // Sent again on request, though it succeeded: the same webhook-id, a new attempt.
    let retried = api
        .ok(
            Method::POST,
            &format!("/v1/deliveries/{id}/retry"),
            None,
            202,
        )
        .await;
    assert_eq!(retried["status"], "pending");
    let got = receiver.wait_for("r", 2, WAIT).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].header("webhook-id"), Some("evt_seen"));

    // Nothing of this is visible to another tenant: each answer, whole body included, is
    // the answer to an id that does not exist.
    let other = Client::of_tenant(&running, "other", Role::Admin).await;
    let routes = |delivery: &str, event: &str, subscription: &str| {
        [
            (Method::GET, format!("/v1/deliveries/{delivery}"), None),
            (
                Method::POST,
                format!("/v1/deliveries/{delivery}/retry"),
                None,
            ),
            (Method::GET, format!("/v1/events/{event}"), None),
            (
                Method::GET,
                format!("/v1/subscriptions/{subscription}/deliveries"),
                None,
            ),
            (
                Method::POST,
                format!("/v1/subscriptions/{subscription}/recover"),
                Some(json!({"since": "2020-01-01T00:00:00Z"})),
            ),
        ]
    };
    let theirs = routes(&id, "evt_seen", &sub);
    let missing = routes(
        "dlv_01JD7Y3A0000000000000000Z9",
        "evt_never_sent",
        "sub_01JD7Y30000000000000000009",
    );
    for ((method, path, body), (_, missing_path, missing_body)) in theirs.into_iter().zip(missing) {
        let answer = other.call(method.clone(), &path, body).await;
        assert_eq!(answer.0, 404, "{method} {path}");
        assert_eq!(
            answer,
            other
                .call(method.clone(), &missing_path, missing_body)
                .await,
            "{method} {path}: another tenant's id answers as a missing one"
        );
    }
    assert_eq!(
        receiver.received("r").len(),
        2,
        "the other tenant's retry sent nothing"
    );
}

async fn dead_letters_are_visible_and_redriven_once_the_endpoint_recovers(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    let sub = api.subscribe_to_orders(&receiver.url("down")).await;
    receiver.respond("down", &[500, 500, 500, 500]);
    for id in ["evt_dead_1", "evt_dead_2"] {
        api.ok(
            Method::POST,
            "/v1/events",
            Some(json!({"id": id, "type": "order.created", "data": {}})),
            202,
        )
        .await;
    }
    let dead = api.until("/v1/dead-letters", WAIT, |d| len(d) == 2).await;
    assert_eq!(len(&dead), 2, "{dead}");
    for letter in dead["data"].as_array().unwrap() {
        assert_eq!(letter["subscription_id"], sub.as_str());
        assert!(
            letter["reason"]
                .as_str()
                .unwrap()
                .starts_with("all 2 attempts failed"),
            "{letter}"
        );
    }
    let listed = api
        .ok(
            Method::GET,
            &format!("/v1/subscriptions/{sub}/deliveries?status=dead"),
            None,
            200,
        )
        .await;
    assert_eq!(len(&listed), 2);

    // Another tenant sees none of them, and peeking leaves them in the queue.
    let other = Client::of_tenant(&running, "other", Role::Admin).await;
    assert_eq!(
        len(&other.ok(Method::GET, "/v1/dead-letters", None, 200).await),
        0
    );
    assert_eq!(
        other
            .ok(Method::POST, "/v1/dead-letters/redrive", None, 202)
            .await["requeued"],
        0
    );
    assert_eq!(
        len(&api.ok(Method::GET, "/v1/dead-letters", None, 200).await),
        2
    );

    // The endpoint is fixed (its scripted failures are used up): redrive, and both arrive.
    assert_eq!(
        api.ok(Method::POST, "/v1/dead-letters/redrive", None, 202)
            .await["requeued"],
        2
    );
    let got = receiver.wait_for("down", 6, WAIT).await;
    assert_eq!(got.len(), 6, "4 failed attempts, then one success each");
    let delivered = api
        .until(
            &format!("/v1/subscriptions/{sub}/deliveries?status=succeeded"),
            WAIT,
            |d| len(d) == 2,
        )
        .await;
    assert_eq!(len(&delivered), 2);
    assert_eq!(
        len(&api.ok(Method::GET, "/v1/dead-letters", None, 200).await),
        0
    );
}

async fn recover_resends_what_failed_since_a_time(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    let sub = api.subscribe_to_orders(&receiver.url("flaky")).await;
    receiver.respond("flaky", &[500, 500]);
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    api.ok(
        Method::POST,
        "/v1/events",
        Some(json!({"id": "evt_lost", "type": "order.created", "data": {}})),
        202,
    )
    .await;
    api.until(
        &format!("/v1/subscriptions/{sub}/deliveries?status=dead"),
        WAIT,
        |d| len(d) == 1,
    )
    .await;

    let later = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
    let none = api
        .ok(
            Method::POST,
            &format!("/v1/subscriptions/{sub}/recover"),
            Some(json!({"since": later})),
            202,
        )
        .await;
    assert_eq!(none["requeued"], 0, "nothing failed after 'since'");
    let recovered = api
        .ok(
            Method::POST,
            &format!("/v1/subscriptions/{sub}/recover"),
            Some(json!({"since": before.to_rfc3339()})),
            202,
        )
        .await;
    assert_eq!(recovered["requeued"], 1);
    let got = receiver.wait_for("flaky", 3, WAIT).await;
    assert_eq!(got.len(), 3);
    let done = api
        .until(
            &format!("/v1/subscriptions/{sub}/deliveries?status=succeeded"),
            WAIT,
            |d| len(d) == 1,
        )
        .await;
    assert_eq!(len(&done), 1);
    assert_eq!(
        api.call(
            Method::POST,
            &format!("/v1/subscriptions/{sub}/recover"),
            Some(json!({"since": "yesterday"}))
        )
        .await
        .0,
        422
    );
}

async fn stats_count_each_attempt_of_the_endpoint(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    let sub = api.subscribe_to_orders(&receiver.url("s")).await;
    let path = format!("/v1/subscriptions/{sub}/stats");
    let empty = api.ok(Method::GET, &path, None, 200).await;
    assert_eq!(empty["last_24h"]["attempts"], 0);
    assert_eq!(empty["last_24h"]["success_rate"], Value::Null);

    // A known sequence: the first event fails once then succeeds, the second succeeds.
    receiver.respond("s", &[500]);
    for id in ["evt_stats_1", "evt_stats_2"] {
        api.ok(
            Method::POST,
            "/v1/events",
            Some(json!({"id": id, "type": "order.created", "data": {}})),
            202,
        )
        .await;
    }
    receiver.wait_for("s", 3, WAIT).await;
    let stats = api
        .until(&path, WAIT, |s| s["last_24h"]["attempts"] == 3)
        .await;
    for window in ["last_24h", "last_7d"] {
        let w = &stats[window];
        assert_eq!(w["attempts"], 3, "{stats}");
        assert_eq!(w["succeeded"], 2, "{stats}");
        let rate = w["success_rate"].as_f64().unwrap();
        assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{stats}");
        assert!(w["p50_ms"].is_u64() && w["p99_ms"].is_u64(), "{stats}");
        assert!(w["last_success"].is_string() && w["last_failure"].is_string());
    }
    assert_eq!(stats["truncated"], false);

    let other = Client::of_tenant(&running, "other", Role::Admin).await;
    let (status, _) = other.call(Method::GET, &path, None).await;
    assert_eq!(
        status, 404,
        "another tenant's subscription has no stats to show"
    );
}
