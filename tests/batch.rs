//! `POST /v1/events/batch`, on the embedded backend and on SQS and DynamoDB (moto): one
//! answer per event, each deduplicated as a single post, and the no-loss rule per event.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::builders::{acme, subscription};
use support::client::Client;
use support::receiver::Receiver;
use tidings::Backend;
use tidings::config::Config;
use tidings::domain::{ApiKey, Role};
use tidings::http::{AppState, ingest_router};
use tidings::testing::fault::Faults;
use tidings_local::Running;

const WAIT: Duration = Duration::from_secs(20);
const KEY: &str = "tdk_batch";

support::on_both_backends!(
    a_batch_is_answered_event_by_event,
    a_failed_enqueue_is_a_503_for_each_event_and_the_retry_delivers_once,
    malformed_batches_are_refused_whole,
);

fn statuses(answer: &Value) -> Vec<u64> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect()
}

async fn a_batch_is_answered_event_by_event(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    api.ok(
        Method::POST,
        "/v1/subscriptions",
        Some(json!({"url": receiver.url("r"), "events": ["order.*"]})),
        201,
    )
    .await;
    // One event over the 240 KiB an event may take, measured as its envelope is written.
    let too_large = "x".repeat(240 * 1024);
    let batch = json!({"events": [
        {"id": "evt_b1", "type": "order.created", "data": {"n": 1}},
        {"id": "evt_b2", "type": "ORDER_UPDATED", "data": {"n": 2}},
        {"id": "evt_b3", "type": "product.created", "data": {"n": 3}},
        {"id": "evt_b4", "type": "Order.Created", "data": {}},
        {"id": "evt_b1", "type": "order.created", "data": {"n": 1}},
        {"id": "evt_b2", "type": "order.updated", "data": {"other": true}},
        {"id": "evt_b5", "type": "order.created", "data": {"blob": too_large}},
    ]});
    let answer = api
        .ok(Method::POST, "/v1/events/batch", Some(batch.clone()), 200)
        .await;
    assert_eq!(
        statuses(&answer),
        [202, 202, 202, 422, 202, 409, 422],
        "{answer}"
    );
    let results = &answer["results"];
    assert_eq!(results[0]["deliveries"], 1);
    assert_eq!(results[1]["type"], "order.updated");
    assert_eq!(results[2]["deliveries"], 0, "nobody subscribed to products");
    assert_eq!(results[3]["problem"]["field"], "events[3].type");
    assert_eq!(results[4]["duplicate"], true, "a repeat within the batch");
    assert_eq!(results[4]["id"], "evt_b1");
    assert_eq!(
        results[5]["problem"]["type"],
        "urn:tidings:problem:conflict"
    );
    assert_eq!(results[6]["problem"]["field"], "events[6]");
    assert!(
        results[6]["problem"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("larger than 240 KiB")),
        "{answer}"
    );
    let (status, _) = api.call(Method::GET, "/v1/events/evt_b5", None).await;
    assert_eq!(status, 404, "the event over the limit was not kept");

    let received = receiver.wait_for("r", 2, WAIT).await;
    assert_eq!(received.len(), 2);

    // The same batch again: every accepted event is a duplicate, nothing is sent twice.
    let again = api
        .ok(Method::POST, "/v1/events/batch", Some(batch), 200)
        .await;
    assert_eq!(statuses(&again), [202, 202, 202, 422, 202, 409, 422]);
    assert!(
        [0, 1, 2, 4]
            .iter()
            .all(|&i| again["results"][i]["duplicate"] == true)
    );
    api.until("/v1/events/evt_b2", WAIT, |e| {
        e["deliveries"][0]["status"] == "succeeded"
    })
    .await;
    assert_eq!(receiver.received("r").len(), 2);
}

async fn post_batch(backend: &Backend, batch: &Value) -> (u16, Value) {
    let router = ingest_router(AppState::new(backend.clone(), Config::default()));
    Client::router(router)
        .with_key(KEY)
        .call(Method::POST, "/v1/events/batch", Some(batch.clone()))
        .await
}

async fn a_failed_enqueue_is_a_503_for_each_event_and_the_retry_delivers_once(backend: Backend) {
    let (backend, faults) = Faults::inject(backend);
    let key = ApiKey::from_plaintext(KEY, acme(), Role::Ingest, None);
    backend.api_keys.put_api_key(&key).await.unwrap();
    subscription("https://shop.example/hooks")
        .events(&["order.*"])
        .store(&backend)
        .await;
    let batch = json!({"events": [
        {"id": "evt_f1", "type": "order.created", "data": {}},
        {"id": "evt_f2", "type": "order.created", "data": {}},
        {"id": "evt_f3", "type": "nope", "data": {}},
    ]});

    // SendMessageBatch fails on every try: no event is reported accepted.
    faults.fail_next("send_batch", 4);
    let (status, answer) = post_batch(&backend, &batch).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(statuses(&answer), [503, 503, 422]);
    assert!(
        answer["results"][0]["problem"]["detail"]
            .as_str()
            .unwrap()
            .contains("retry with the same event id")
    );

    // The retry enqueues each once.
    let (_, answer) = post_batch(&backend, &batch).await;
    assert_eq!(statuses(&answer), [202, 202, 422]);
    let mut ids = Vec::new();
    loop {
        let messages = backend.queue.receive(10, Duration::ZERO).await.unwrap();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            backend.queue.delete(&m.receipt_handle).await.unwrap();
            let body: Value = serde_json::from_str(&m.body).unwrap();
            ids.push(body["event"]["id"].as_str().unwrap().to_owned());
        }
    }
    ids.sort();
    // The first try's messages may or may not have reached the queue before it failed;
    // whatever did is a copy of the same delivery, which the dispatcher sends once.
    ids.dedup();
    assert_eq!(ids, ["evt_f1", "evt_f2"]);
}

async fn malformed_batches_are_refused_whole(backend: Backend) {
    let key = ApiKey::from_plaintext(KEY, acme(), Role::Ingest, None);
    backend.api_keys.put_api_key(&key).await.unwrap();
    let one = json!({"type": "order.created", "data": {}});
    for bad in [
        json!({"events": []}),
        json!({"events": vec![one.clone(); 101]}),
        json!({"events": one.clone()}),
        json!({"events": [one.clone()], "extra": 1}),
        json!([one]),
    ] {
        let (status, answer) = post_batch(&backend, &bad).await;
        assert_eq!(status, 422, "{bad}: {answer}");
        assert_eq!(answer["field"], "events", "{answer}");
    }
}
