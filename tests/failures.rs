//! What happens when one call fails, on the embedded backend and on SQS and DynamoDB (moto):
//! each AWS call is made to fail on cue by the decorators of `tidings::testing::fault`. Nothing
//! accepted is lost, nothing delivered is sent twice, nothing is retried forever.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use serde_json::{Value, json};
use support::emulator;
use support::receiver::Receiver;
use tidings::Backend;
use tidings::adapters::Embedded;
use tidings::config::Config;
use tidings::domain::{
    ApiKey, DeliveryMessage, EventPattern, Role, Subscription, SubscriptionId, TenantId,
};
use tidings::egress::EgressPolicy;
use tidings::http::{AppState, ingest_router};
use tidings::ports::queue::{self, OutgoingMessage, ReceivedMessage};
use tidings::services::dispatch::Dispatcher;
use tidings::signing::Secret;
use tidings::testing::fault::Faults;
use tower::ServiceExt;

const KEY: &str = "tdk_failures";

async fn backend(on_emulator: bool) -> Option<Backend> {
    if on_emulator {
        let sdk = emulator::sdk().await?;
        let resources = emulator::provision(&sdk).await;
        Some(Backend::aws(&sdk, &resources))
    } else {
        Some(Embedded::new(Duration::from_secs(360), 8).backend())
    }
}

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn embedded() {
                super::$scenario(super::backend(false).await.unwrap()).await;
            }

            #[tokio::test]
            async fn aws() {
                if let Some(backend) = super::backend(true).await {
                    super::$scenario(backend).await;
                }
            }
        }
    )*};
}

on_both_backends!(
    a_failed_ingest_call_is_a_503_and_the_retry_delivers,
    a_message_received_twice_is_posted_once,
    an_unreadable_message_goes_to_the_dead_letter_queue_with_its_reason,
    a_failed_record_write_does_not_resend_a_delivered_webhook,
    a_failed_backoff_still_hands_the_message_back,
);

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

async fn subscribe(backend: &Backend, url: &str) -> Subscription {
    let s = Subscription {
        id: SubscriptionId::generate(),
        tenant: acme(),
        url: url.parse().unwrap(),
        events: vec![EventPattern::parse("order.*").unwrap()],
        active: true,
        description: None,
        secret: Secret::generate(),
        previous_secrets: Vec::new(),
        signature: Default::default(),
        headers: Default::default(),
        format: Default::default(),
        standard_webhooks: true,
        saleor: Default::default(),
        created_at: Utc::now(),
        failing_since: None,
    };
    backend.subscriptions.create_subscription(&s).await.unwrap();
    s
}

async fn post(backend: &Backend, event: &Value) -> (StatusCode, Value) {
    let request = Request::post("/v1/events")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {KEY}"))
        .body(Body::from(event.to_string()))
        .unwrap();
    let router = ingest_router(AppState::new(backend.clone(), Config::default()));
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// Everything on the deliveries queue now, deleted as it is read.
async fn drain(backend: &Backend) -> Vec<DeliveryMessage> {
    let mut all = Vec::new();
    loop {
        let batch = backend.queue.receive(10, Duration::ZERO).await.unwrap();
        if batch.is_empty() {
            return all;
        }
        for m in batch {
            backend.queue.delete(&m.receipt_handle).await.unwrap();
            all.push(serde_json::from_str(&m.body).unwrap());
        }
    }
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
    assert!(
        drain(&backend).await.is_empty(),
        "an accepted id enqueues nothing more"
    );

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

    // Enqueued, but not marked accepted: the retry enqueues the same delivery again (the
    // dispatcher's record stops a second POST), never nothing.
    let event = json!({"id": "evt_mark", "type": "order.created", "data": {}});
    faults.fail_next("mark_event_accepted", 1);
    assert_eq!(
        post(&backend, &event).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let first = drain(&backend).await;
    assert_eq!(post(&backend, &event).await.0, StatusCode::ACCEPTED);
    let second = drain(&backend).await;
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_eq!(
        first[0].delivery_id, second[0].delivery_id,
        "the same delivery, not a new one"
    );
}

fn dispatcher(backend: &Backend) -> Dispatcher {
    let config = Config {
        egress: EgressPolicy::AllowLoopback,
        retry: "5s".parse().unwrap(),
        ..Config::default()
    };
    Dispatcher::new(backend.clone(), config).unwrap()
}

async fn enqueue(backend: &Backend, bodies: &[String]) -> Vec<ReceivedMessage> {
    let messages: Vec<OutgoingMessage> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| OutgoingMessage {
            entry_id: i.to_string(),
            body: body.clone(),
        })
        .collect();
    queue::send_all(backend.queue.as_ref(), &messages)
        .await
        .unwrap();
    let mut received = Vec::new();
    while received.len() < bodies.len() {
        let batch = backend
            .queue
            .receive(10, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(!batch.is_empty(), "the messages arrive");
        received.extend(batch);
    }
    received
}

fn delivery_body(subscription: &Subscription) -> String {
    let event =
        tidings::domain::NewEvent::from_json(json!({"type": "order.created", "data": {"n": 1}}))
            .unwrap()
            .into_event(acme(), Utc::now());
    serde_json::to_string(&DeliveryMessage {
        delivery_id: tidings::ids::new_id("dlv"),
        tenant: acme(),
        subscription_id: subscription.id.clone(),
        event,
    })
    .unwrap()
}

async fn a_message_received_twice_is_posted_once(backend: Backend) {
    let receiver = Receiver::start().await;
    let sub = subscribe(&backend, &receiver.url("once")).await;
    let body = delivery_body(&sub);
    // The same message twice, as SQS may hand it over.
    let received = enqueue(&backend, &[body.clone(), body]).await;
    let dispatcher = dispatcher(&backend);
    let first = dispatcher.handle_batch(&received[..1]).await;
    let second = dispatcher.handle_batch(&received[1..]).await;
    assert!(first.failed.is_empty() && second.failed.is_empty());
    assert_eq!(
        receiver.received("once").len(),
        1,
        "a delivery that succeeded is not POSTed again"
    );
}

async fn an_unreadable_message_goes_to_the_dead_letter_queue_with_its_reason(backend: Backend) {
    let received = enqueue(&backend, &["{\"not\": \"a delivery\"}".to_owned()]).await;
    let outcome = dispatcher(&backend).handle_batch(&received).await;
    assert!(outcome.failed.is_empty(), "never retried forever");
    let dead = backend
        .queue
        .receive_dead_letters(10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "{\"not\": \"a delivery\"}");
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
    let outcome = dispatcher(&backend).handle_batch(&received).await;
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
    let outcome = dispatcher(&backend).handle_batch(&received).await;
    assert_eq!(
        outcome.failed,
        vec![received[0].message_id.clone()],
        "retried after the queue's own timeout"
    );

    // A delivery that cannot be recorded as read fails safe: handed back, not dropped.
    let received = enqueue(&backend, &[delivery_body(&sub)]).await;
    faults.fail_next("get_delivery", 1);
    let outcome = dispatcher(&backend).handle_batch(&received).await;
    assert_eq!(outcome.failed, vec![received[0].message_id.clone()]);
}
