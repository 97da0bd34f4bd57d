//! What happens when one call fails, on the embedded backend and on SQS and DynamoDB (moto):
//! each AWS call is made to fail on cue by the decorators of `tidings::testing::fault`. Nothing
//! accepted is lost, nothing delivered is sent twice, nothing is retried forever.

use std::time::Duration;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};
use support::builders::{acme, delivery_body, dispatcher, loopback_config, subscription};
use support::client::Client;
use support::harness::{drain, enqueue, receive, receive_within};
use support::receiver::Receiver;
use support::wait::eventually;
use tidings::Backend;
use tidings::config::Config;
use tidings::domain::{ApiKey, DeliveryMessage, EventId, Role, Subscription};
use tidings::http::{AppState, ingest_router, router};
use tidings::ports::queue::ReceivedMessage;
use tidings::services::dispatch::Dispatcher;
use tidings::testing::fault::{Failure, Faults};

const KEY: &str = "tdk_failures";

support::on_both_backends!(
    a_failed_ingest_call_is_a_503_and_the_retry_delivers,
    a_message_received_twice_is_posted_once,
    a_repeat_is_posted_only_when_no_first_message_made_a_record,
    a_dispatcher_rereads_a_subscription_after_its_cache_time,
    a_delivery_failing_in_a_shared_message_is_retried_on_its_own,
    a_shared_message_whose_retries_cannot_be_sent_is_handed_back_whole,
    an_unreadable_message_goes_to_the_dead_letter_queue_with_its_reason,
    a_failed_record_write_does_not_resend_a_delivered_webhook,
    a_failed_backoff_still_hands_the_message_back,
    a_store_outage_in_the_dispatcher_hands_the_message_back_after_a_short_backoff,
    a_conflict_is_409_and_unreadable_data_is_500_and_neither_invites_a_retry,
);

async fn subscribe(backend: &Backend, url: &str) -> Subscription {
    subscription(url).events(&["order.*"]).store(backend).await
}

async fn post(backend: &Backend, event: &Value) -> (StatusCode, Value) {
    let router = ingest_router(AppState::new(backend.clone(), Config::default()));
    let (status, body) = Client::router(router)
        .with_key(KEY)
        .call(Method::POST, "/v1/events", Some(event.clone()))
        .await;
    (StatusCode::from_u16(status).unwrap(), body)
}

async fn a_failed_ingest_call_is_a_503_and_the_retry_delivers(backend: Backend) {
    let (backend, faults) = Faults::inject(backend);
    let key = ApiKey::from_plaintext(KEY, acme(), Role::Ingest, None);
    backend.api_keys.put_api_key(&key).await.unwrap();
    subscribe(&backend, "https://shop.example/hooks").await;

    // SendMessageBatch fails on every one of ingest's tries.
    let event = json!({"id": "evt_batch", "type": "order.created", "data": {}});
    faults.fail_next("send_batch", 4);
    let (status, body) = post(&backend, &event).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("retry with the same event id")
    );
    assert!(drain(&backend).await.is_empty());
    let (status, body) = post(&backend, &event).await;
    assert_eq!(
        (status, body["deliveries"].as_u64()),
        (StatusCode::ACCEPTED, Some(1))
    );
    assert_eq!(
        drain(&backend).await.len(),
        1,
        "the retry enqueued it, once"
    );
    let (_, body) = post(&backend, &event).await;
    assert_eq!(body["duplicate"], true);
    // Ingest writes once, before sending, so it cannot tell a finished first try from one
    // that failed part-way: it sends the delivery again, marked as a repeat, which the
    // dispatcher drops once the first message has made the delivery's record.
    let repeats = drain(&backend).await;
    assert_eq!(repeats.len(), 1);
    assert!(repeats[0].repeat, "sent again as a repeat");

    // SQS refuses one entry of a batch: ingest retries that entry and answers only then.
    faults.fail_next("send_batch_entry", 2);
    let (status, _) = post(&backend, &json!({"type": "order.created", "data": {}})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(drain(&backend).await.len(), 1);

    // The dedup write fails: nothing is enqueued, and the retry is a first acceptance.
    let event = json!({"id": "evt_store", "type": "order.created", "data": {}});
    faults.fail_next("insert_event", 1);
    assert_eq!(
        post(&backend, &event).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(drain(&backend).await.is_empty());
    let (status, body) = post(&backend, &event).await;
    assert_eq!(
        (status, body["duplicate"].as_bool()),
        (StatusCode::ACCEPTED, Some(false))
    );
    assert_eq!(drain(&backend).await.len(), 1);

    // Recorded, but the send failed: the retry enqueues the same delivery again (as a
    // repeat, which the dispatcher's record stops from being POSTed twice), never nothing.
    let event = json!({"id": "evt_mark", "type": "order.created", "data": {}});
    faults.fail_next("send_batch", 4);
    assert_eq!(
        post(&backend, &event).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let first = drain(&backend).await;
    assert_eq!(post(&backend, &event).await.0, StatusCode::ACCEPTED);
    let second = drain(&backend).await;
    assert_eq!((first.len(), second.len()), (0, 1));
    let record = backend
        .events
        .get_event(&acme(), &EventId::parse("evt_mark").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.deliveries[0].delivery_id, second[0].delivery_id,
        "the delivery recorded at the first try, not a new one"
    );
}

async fn a_message_received_twice_is_posted_once(backend: Backend) {
    let receiver = Receiver::start().await;
    let sub = subscribe(&backend, &receiver.url("once")).await;
    let body = delivery_body(&sub);
    // The same message twice, as SQS may hand it over.
    let received = enqueue(&backend, &[body.clone(), body]).await;
    let dispatcher = dispatcher(&backend, "5s");
    let first = dispatcher.handle_batch(&received[..1]).await;
    let second = dispatcher.handle_batch(&received[1..]).await;
    assert!(first.failed.is_empty() && second.failed.is_empty());
    assert_eq!(
        receiver.received("once").len(),
        1,
        "a delivery that succeeded is not POSTed again"
    );
}

async fn a_repeat_is_posted_only_when_no_first_message_made_a_record(backend: Backend) {
    let receiver = Receiver::start().await;
    let sub = subscribe(&backend, &receiver.url("repeat")).await;
    let first: DeliveryMessage = serde_json::from_str(&delivery_body(&sub)).unwrap();
    let repeat = DeliveryMessage {
        repeat: true,
        ..first.clone()
    };
    let lost_first = DeliveryMessage {
        delivery_id: tidings::ids::new_id("dlv"),
        ..repeat.clone()
    };
    let bodies: Vec<String> = [&first, &repeat, &lost_first]
        .iter()
        .map(|m| serde_json::to_string(m).unwrap())
        .collect();
    let received = enqueue(&backend, &bodies).await;
    let dispatcher = dispatcher(&backend, "5s");
    for message in received.chunks(1) {
        assert!(dispatcher.handle_batch(message).await.failed.is_empty());
    }
    let ids: Vec<String> = receiver
        .received("repeat")
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "the first message and the repeat whose first message never came"
    );
    for id in [&first.delivery_id, &lost_first.delivery_id] {
        let record = backend.deliveries.get_delivery(&sub.tenant, id).await;
        assert!(record.unwrap().unwrap().success());
    }
}

/// Puts one delivery to `subscription` on the queue and has `dispatcher` handle it.
async fn deliver_once(backend: &Backend, dispatcher: &Dispatcher, subscription: &Subscription) {
    let received = enqueue(backend, &[delivery_body(subscription)]).await;
    assert!(dispatcher.handle_batch(&received).await.failed.is_empty());
}

/// A dispatcher that keeps the subscriptions it reads for `cache`.
fn caching_dispatcher(backend: &Backend, cache: Duration) -> Dispatcher {
    let config = Config {
        subscription_cache: cache,
        ..loopback_config("5s")
    };
    Dispatcher::new(backend.clone(), config).unwrap()
}

async fn a_dispatcher_rereads_a_subscription_after_its_cache_time(backend: Backend) {
    let receiver = Receiver::start().await;
    let kept = subscribe(&backend, &receiver.url("kept")).await;
    let gone = subscribe(&backend, &receiver.url("gone")).await;
    let long = caching_dispatcher(&backend, Duration::from_secs(3600));
    let short = caching_dispatcher(&backend, Duration::from_millis(500));
    for dispatcher in [&long, &short] {
        deliver_once(&backend, dispatcher, &kept).await;
    }
    backend
        .subscriptions
        .delete_subscription(&kept.tenant, &kept.id)
        .await
        .unwrap();

    // Within its cache time a dispatcher goes by the copy it read: no read per delivery.
    deliver_once(&backend, &long, &kept).await;
    assert_eq!(receiver.received("kept").len(), 3);
    // After it, the deletion applies: the delivery is skipped, not POSTed.
    tokio::time::sleep(Duration::from_millis(600)).await;
    deliver_once(&backend, &short, &kept).await;
    assert_eq!(receiver.received("kept").len(), 3);

    // What a dispatcher changes itself applies to its own copy at once: a 410 switches the
    // subscription off, and the next delivery is skipped though the copy is fresh.
    receiver.respond("gone", &[410]);
    deliver_once(&backend, &long, &gone).await;
    deliver_once(&backend, &long, &gone).await;
    assert_eq!(receiver.received("gone").len(), 1);
}

/// An event to three subscriptions, `up`, `down` (failing once) and `off` (inactive): one
/// message carries its deliveries.
async fn shared_message(backend: &Backend, receiver: &Receiver) -> Vec<ReceivedMessage> {
    let key = ApiKey::from_plaintext(KEY, acme(), Role::Ingest, None);
    backend.api_keys.put_api_key(&key).await.unwrap();
    for path in ["up", "down"] {
        subscribe(backend, &receiver.url(path)).await;
    }
    receiver.respond("down", &[503]);
    let (status, body) = post(backend, &json!({"type": "order.created", "data": {}})).await;
    assert_eq!(
        (status, body["deliveries"].as_u64()),
        (StatusCode::ACCEPTED, Some(2))
    );
    let received = receive(backend, 1).await;
    let message: DeliveryMessage = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(message.more.len(), 1, "two deliveries, one message");
    received
}

async fn a_delivery_failing_in_a_shared_message_is_retried_on_its_own(backend: Backend) {
    let receiver = Receiver::start().await;
    let received = shared_message(&backend, &receiver).await;
    let dispatcher = dispatcher(&backend, "1s");
    let outcome = dispatcher.handle_batch(&received).await;
    assert!(outcome.failed.is_empty(), "the shared message is done");
    assert_eq!(receiver.received("up").len(), 1);
    assert_eq!(receiver.received("down").len(), 1);

    // The failed one comes back alone after its backoff, and succeeds.
    let retry = receive_within(&backend, Duration::from_secs(10)).await;
    let message: DeliveryMessage = serde_json::from_str(&retry[0].body).unwrap();
    assert!(message.more.is_empty(), "a message of its own");
    assert!(dispatcher.handle_batch(&retry).await.failed.is_empty());
    assert_eq!(receiver.received("down").len(), 2);
    assert_eq!(receiver.received("up").len(), 1, "never sent twice");
    let record = backend
        .deliveries
        .get_delivery(&message.tenant, &message.delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((record.success(), record.attempts), (true, 2));
}

async fn a_shared_message_whose_retries_cannot_be_sent_is_handed_back_whole(backend: Backend) {
    let (backend, faults) = Faults::inject(backend);
    let receiver = Receiver::start().await;
    let received = shared_message(&backend, &receiver).await;
    let dispatcher = dispatcher(&backend, "1s");
    faults.fail_next("send_batch", 4);
    let outcome = dispatcher.handle_batch(&received).await;
    assert_eq!(outcome.failed.len(), 1, "handed back whole");

    // It comes back after the failed delivery's backoff: only that one is POSTed again.
    let again = receive_within(&backend, Duration::from_secs(10)).await;
    assert!(dispatcher.handle_batch(&again).await.failed.is_empty());
    assert_eq!(receiver.received("up").len(), 1, "never sent twice");
    assert_eq!(receiver.received("down").len(), 2);
}

async fn an_unreadable_message_goes_to_the_dead_letter_queue_with_its_reason(backend: Backend) {
    let received = enqueue(&backend, &["{\"not\": \"a delivery\"}".to_owned()]).await;
    let outcome = dispatcher(&backend, "5s").handle_batch(&received).await;
    assert!(outcome.failed.is_empty(), "never retried forever");
    let dead = backend
        .queue
        .receive_dead_letters(10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(&*dead[0].body, "{\"not\": \"a delivery\"}");
    assert!(
        dead[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("unreadable delivery message")
    );
}

async fn a_failed_record_write_does_not_resend_a_delivered_webhook(backend: Backend) {
    let (backend, faults) = Faults::inject(backend);
    let receiver = Receiver::start().await;
    let sub = subscribe(&backend, &receiver.url("ok")).await;
    let received = enqueue(&backend, &[delivery_body(&sub)]).await;
    faults.fail_next("put_delivery", 1);
    let outcome = dispatcher(&backend, "5s").handle_batch(&received).await;
    assert!(
        outcome.failed.is_empty(),
        "delivered is done, recorded or not"
    );
    assert_eq!(receiver.received("ok").len(), 1);
}

async fn a_failed_backoff_still_hands_the_message_back(backend: Backend) {
    let (backend, faults) = Faults::inject(backend);
    let receiver = Receiver::start().await;
    let sub = subscribe(&backend, &receiver.url("down")).await;
    receiver.respond("down", &[500]);
    let received = enqueue(&backend, &[delivery_body(&sub)]).await;
    faults.fail_next("change_visibility", 1);
    let outcome = dispatcher(&backend, "5s").handle_batch(&received).await;
    assert_eq!(
        outcome.failed,
        vec![received[0].message_id.clone()],
        "retried after the queue's own timeout"
    );

    // A delivery that cannot be recorded as read fails safe: handed back, not dropped.
    let received = enqueue(&backend, &[delivery_body(&sub)]).await;
    faults.fail_next("get_delivery", 1);
    let outcome = dispatcher(&backend, "5s").handle_batch(&received).await;
    assert_eq!(outcome.failed, vec![received[0].message_id.clone()]);
}

async fn a_store_outage_in_the_dispatcher_hands_the_message_back_after_a_short_backoff(
    backend: Backend,
) {
    let (backend, faults) = Faults::inject(backend);
    let receiver = Receiver::start().await;
    let sub = subscribe(&backend, &receiver.url("ok")).await;
    let received = enqueue(&backend, &[delivery_body(&sub)]).await;
    faults.fail_next("get_delivery", 1);
    let outcome = dispatcher(&backend, "1s").handle_batch(&received).await;
    assert_eq!(outcome.failed, vec![received[0].message_id.clone()]);

    // Back after the schedule's first step (1 s here), not the queue's 360 s timeout.
    let again = eventually(
        "the handed-back message to be visible again within seconds",
        Duration::from_secs(15),
        || async {
            let batch = backend.queue.receive(10, Duration::ZERO).await.unwrap();
            (!batch.is_empty()).then_some(batch)
        },
    )
    .await;
    assert_eq!(again[0].message_id, received[0].message_id);
    assert_eq!(again[0].receive_count, 2, "the outage used up one attempt");
    let outcome = dispatcher(&backend, "1s").handle_batch(&again).await;
    assert!(
        outcome.failed.is_empty(),
        "delivered once the store is back"
    );
    assert_eq!(receiver.received("ok").len(), 1);
}

async fn a_conflict_is_409_and_unreadable_data_is_500_and_neither_invites_a_retry(
    backend: Backend,
) {
    let (backend, faults) = Faults::inject(backend);
    let key = ApiKey::from_plaintext(KEY, acme(), Role::Admin, None);
    backend.api_keys.put_api_key(&key).await.unwrap();
    let receiver = Receiver::start().await;
    subscribe(&backend, &receiver.url("ok")).await;
    let api =
        Client::router(router(AppState::new(backend.clone(), Config::default()))).with_key(KEY);
    let receipt = api
        .ok(
            Method::POST,
            "/v1/events",
            Some(json!({"id": "evt_fix", "type": "order.created", "data": {}})),
            202,
        )
        .await;
    assert_eq!(receipt["deliveries"], 1);
    let outcome = dispatcher(&backend, "5s")
        .handle_batch(&receive(&backend, 1).await)
        .await;
    assert!(outcome.failed.is_empty());
    let event = api.ok(Method::GET, "/v1/events/evt_fix", None, 200).await;
    let delivery = event["deliveries"][0]["id"].as_str().unwrap().to_owned();

    faults.fail_next_with("get_delivery", 1, Failure::Corrupt);
    let (status, body) = api
        .call(Method::GET, &format!("/v1/deliveries/{delivery}"), None)
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["type"], "urn:tidings:problem:internal");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("will not help"), "{detail}");

    faults.fail_next_with("reset_delivery", 1, Failure::Conflict);
    let (status, body) = api
        .call(
            Method::POST,
            &format!("/v1/deliveries/{delivery}/retry"),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["type"], "urn:tidings:problem:conflict");
    assert!(
        !body["detail"]
            .as_str()
            .unwrap()
            .contains("retry the request")
    );

    // An outage is still a 503 that asks for a retry, and the retry works.
    faults.fail_next("get_delivery", 1);
    let (status, body) = api
        .call(Method::GET, &format!("/v1/deliveries/{delivery}"), None)
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("retry"));
    api.ok(
        Method::GET,
        &format!("/v1/deliveries/{delivery}"),
        None,
        200,
    )
    .await;
}
