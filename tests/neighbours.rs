//! Noisy neighbours: an endpoint that hangs holds up no other endpoint's deliveries in the
//! local runner, on the embedded backend and on SQS and DynamoDB (moto).

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use support::client::Client;
use support::receiver::Receiver;
use tidings::config::Config;
use tidings_local::Running;

/// Long enough for a held request to be still unanswered when the test looks.
const WAIT: Duration = Duration::from_secs(30);

support::on_both_backends!(config = one_receive_loop; a_hanging_endpoint_holds_up_no_other_delivery);

/// One receive loop (ten delivery slots), and a delivery timeout no held request reaches.
fn one_receive_loop() -> Config {
    Config {
        local_concurrency: 1,
        delivery_timeout: Duration::from_secs(300),
        ..Config::default()
    }
}

async fn a_hanging_endpoint_holds_up_no_other_delivery(running: Running) {
    let receiver = Receiver::start().await;
    receiver.hold("hang");
    let api = Client::admin(&running);
    for path in ["hang", "ok"] {
        api.ok(
            Method::POST,
            "/v1/subscriptions",
            Some(json!({"url": receiver.url(path), "events": ["order.*"]})),
            201,
        )
        .await;
    }
    // Posted one after the other, the events' deliveries come in several receives: each
    // later one must get past the hanging deliveries received before it.
    for round in 0..4 {
        api.ok(
            Method::POST,
            "/v1/events",
            Some(json!({"id": format!("evt_neighbour_{round}"), "type": "order.created", "data": {}})),
            202,
        )
        .await;
        receiver.wait_for("ok", round + 1, WAIT).await;
        receiver.wait_for("hang", round + 1, WAIT).await;
    }
    // Every healthy delivery arrived while all four hanging ones were still unanswered.
    assert_eq!(receiver.received("ok").len(), 4);
    receiver.release("hang");
    for round in 0..4 {
        let path = format!("/v1/events/evt_neighbour_{round}");
        api.until(&path, WAIT, |body| {
            body["deliveries"]
                .as_array()
                .is_some_and(|d| d.len() == 2 && d.iter().all(|d| d["status"] == "succeeded"))
        })
        .await;
    }
}
