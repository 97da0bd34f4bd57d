//! Circuit breakers: an endpoint that keeps failing is not sent to while its circuit is
//! open, without any delivery losing a guarantee: a delivery held by the circuit is a failed
//! attempt on its schedule, its last attempt is always sent, and the endpoint gets every
//! delivery once a probe finds it answering. On the embedded backend and on moto.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::client::Client;
use support::receiver::Receiver;
use tidings::config::Config;
use tidings::domain::circuit::CircuitPolicy;
use tidings_local::Running;

const WAIT: Duration = Duration::from_secs(60);
const NOT_SENT: &str = "not sent: the endpoint's circuit is open until ";

support::on_both_backends!(config = opens_after_three; a_failing_endpoint_is_spared_until_a_probe_finds_it_answering);
support::on_both_backends!(config = opens_after_one; the_last_attempt_is_always_sent_and_dead_letters_as_before, a_test_event_goes_through_an_open_circuit_and_closes_it);

/// Three failures in a row open a circuit for two seconds; retries every two seconds.
fn opens_after_three() -> Config {
    Config {
        circuit: CircuitPolicy {
            open_after: 3,
            cooldown: Duration::from_secs(2),
        },
        retry: "2s,2s,2s,2s,2s,2s,2s,2s".parse().unwrap(),
        ..Config::default()
    }
}

/// One failure opens a circuit for longer than the test runs; two attempts in all.
fn opens_after_one() -> Config {
    Config {
        circuit: CircuitPolicy {
            open_after: 1,
            cooldown: Duration::from_secs(600),
        },
        retry: "1s".parse().unwrap(),
        ..Config::default()
    }
}

async fn post_event(api: &Client, id: &str) {
    api.ok(
        Method::POST,
        "/v1/events",
        Some(json!({"id": id, "type": "order.created", "data": {"id": id}})),
        202,
    )
    .await;
}

/// The event's one delivery, once `done` holds of it.
async fn delivery(api: &Client, event: &str, done: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/v1/events/{event}");
    let event = api
        .until(&path, WAIT, |e| e["deliveries"][0]["id"].is_string())
        .await;
    let id = event["deliveries"][0]["id"].as_str().unwrap().to_owned();
    // The event lists the delivery at once; its record is written at its first attempt.
    api.until_found(&format!("/v1/deliveries/{id}"), WAIT, done)
        .await
}

async fn a_failing_endpoint_is_spared_until_a_probe_finds_it_answering(running: Running) {
    let receiver = Receiver::start().await;
    // Three 503s, then 200 for everything.
    receiver.respond("flaky", &[503, 503, 503]);
    let api = Client::admin(&running);
    api.subscribe_to_orders(&receiver.url("flaky")).await;
    for n in 0..3 {
        post_event(&api, &format!("evt_circuit_{n}")).await;
        receiver.wait_for("flaky", n + 1, WAIT).await;
    }
    // The circuit is open: these are recorded as failed attempts without a request.
    for n in 3..8 {
        let id = format!("evt_circuit_{n}");
        post_event(&api, &id).await;
        let held = delivery(&api, &id, |d| d["attempts"].as_u64() >= Some(1)).await;
        let error = held["last_error"].as_str().unwrap_or_default();
        if held["status"] != "succeeded" && held["attempts"] == 1 {
            assert!(error.starts_with(NOT_SENT), "{held}");
            assert_eq!(held["status"], "failed", "{held}");
            assert!(held["next_attempt_at"].is_string(), "{held}");
        }
    }
    // Once the cool-down is over, one retry probes, finds 200, and closes the circuit:
    // every delivery arrives, each exactly once, and the endpoint saw only the three
    // failures besides.
    for n in 0..8 {
        let d = delivery(&api, &format!("evt_circuit_{n}"), |d| {
            d["status"] == "succeeded"
        })
        .await;
        assert!(d["attempts"].as_u64() >= Some(2), "{d}");
    }
    let got = receiver.received("flaky");
    let mut ids: Vec<String> = got
        .iter()
        .map(|r| r.json()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        got.len(),
        3 + 8,
        "three failures and one success each: {ids:?}"
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8);
}

async fn the_last_attempt_is_always_sent_and_dead_letters_as_before(running: Running) {
    let receiver = Receiver::start().await;
    receiver.respond("down", &[503; 10]);
    let api = Client::admin(&running);
    api.subscribe_to_orders(&receiver.url("down")).await;
    post_event(&api, "evt_last_0").await;
    receiver.wait_for("down", 1, WAIT).await;
    // The circuit opened on that 503 and stays open for ten minutes: the second event's
    // first attempt is not sent, its second and last one is.
    post_event(&api, "evt_last_1").await;
    for id in ["evt_last_0", "evt_last_1"] {
        let dead = delivery(&api, id, |d| d["status"] == "dead").await;
        assert_eq!(dead["attempts"], 2, "{dead}");
        assert_eq!(
            dead["status_code"], 503,
            "the last attempt was sent: {dead}"
        );
    }
    let first = delivery(&api, "evt_last_1", |_| true).await;
    let attempts = first["recent_attempts"].as_array().unwrap();
    assert!(
        attempts[1]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with(NOT_SENT)),
        "{first}"
    );
    api.until("/v1/dead-letters", WAIT, |d| {
        d["data"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    // evt_last_0 twice, evt_last_1 once (its last attempt).
    assert_eq!(receiver.received("down").len(), 3);
}

async fn a_test_event_goes_through_an_open_circuit_and_closes_it(running: Running) {
    let receiver = Receiver::start().await;
    receiver.respond("fixed", &[503]);
    let api = Client::admin(&running);
    let sub = api.subscribe_to_orders(&receiver.url("fixed")).await;
    post_event(&api, "evt_before_fix").await;
    receiver.wait_for("fixed", 1, WAIT).await;
    // Open for ten minutes. The operator fixes the endpoint and sends a test event: it is
    // sent at once, and its answer closes the circuit.
    api.send_test_event(&sub).await;
    let got = receiver.wait_for("fixed", 2, WAIT).await;
    assert_eq!(got[1].json()["type"], "webhook.test", "{:?}", got[1].json());
    // The next event goes out on its first attempt.
    post_event(&api, "evt_after_fix").await;
    let d = delivery(&api, "evt_after_fix", |d| d["status"] == "succeeded").await;
    assert_eq!(d["attempts"], 1, "{d}");
}
