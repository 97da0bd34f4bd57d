//! The Lambda handlers, fed with the sample events in `events/` (the same files
//! `cargo lambda invoke --data-file` takes), and the dispatcher's answer to what endpoints
//! say (redirects, Retry-After, 410 Gone) and to where their names point.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use support::builders::{acme, delivery_body, dispatcher, loopback_config, subscription, tenant};
use support::client::{Answer, Client};
use support::harness::{embedded, enqueue, receive};
use support::read_repo_file;
use support::receiver::{Listener, Receiver, Reply};
use tidings::Backend;
use tidings::adapters::Embedded;
use tidings::config::Config;
use tidings::domain::retry::RetrySchedule;
use tidings::domain::{
    DeliveryMessage, DeliveryRecord, DeliveryStatus, Role, Subscription, SubscriptionId,
};
use tidings::egress::{EgressPolicy, GuardedResolver, StaticLookup};
use tidings::http::{AppState, api_router, ingest_router};
use tidings::ports::queue::ReceivedMessage;
use tidings::services::dispatch::Dispatcher;
use tidings::signing::verify_headers;

const SAMPLE_KEY: &str = "tdk_example_key_for_sample_events_only";

async fn with_key(embedded: &Embedded, role: Role) -> AppState {
    let backend = embedded.backend();
    let key = tidings::domain::ApiKey::from_plaintext(SAMPLE_KEY, acme(), role, None);
    backend.api_keys.put_api_key(&key).await.unwrap();
    AppState::new(backend, Config::default())
}

/// The sample subscription `id` of `acme`, Standard Webhooks signed.
fn sample_subscription(id: &str, url: &str, events: &[&str], active: bool) -> Subscription {
    subscription(url)
        .id(id)
        .events(events)
        .active(active)
        .build()
}

/// An API Gateway event from `events/`, as the request `lambda_http` hands the router.
fn apigw_request(file: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&read_repo_file(file)).expect("a valid API Gateway event")
}

async fn call(
    router: axum::Router,
    request: Request<Body>,
) -> (StatusCode, String, serde_json::Value) {
    let Answer {
        status,
        content_type,
        body,
        ..
    } = Client::router(router).send(request).await;
    (StatusCode::from_u16(status).unwrap(), content_type, body)
}

async fn call_lambda(
    router: axum::Router,
    request: lambda_http::Request,
) -> (StatusCode, serde_json::Value) {
    let answer = Client::router(router).lambda(request).await;
    (StatusCode::from_u16(answer.status).unwrap(), answer.body)
}

#[tokio::test]
async fn ingest_accepts_the_sample_event_once_and_enqueues_one_message_per_match() {
    let embedded = embedded();
    let state = with_key(&embedded, Role::Ingest).await;
    let subs = &state.backend.subscriptions;
    let orders = sample_subscription("sub_01", "https://a.example/h", &["order.*"], true);
    subs.create_subscription(&orders).await.unwrap();
    subs.create_subscription(&sample_subscription(
        "sub_02",
        "https://b.example/h",
        &["product.*"],
        true,
    ))
    .await
    .unwrap();
    subs.create_subscription(&sample_subscription(
        "sub_03",
        "https://c.example/h",
        &["*"],
        false,
    ))
    .await
    .unwrap();

    let (status, body) = call_lambda(
        ingest_router(state.clone()),
        apigw_request("events/ingest-post-event.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        body,
        json!({"id": "evt_01JD7Y2Q8ZV6M3N4P5R6S7T8U9", "type": "order.created", "deliveries": 1, "duplicate": false})
    );
    let queued = state
        .backend
        .queue
        .receive(10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    let message: DeliveryMessage = serde_json::from_str(&queued[0].body).unwrap();
    assert_eq!(message.subscription_id, orders.id);
    assert_eq!(
        message.event.tenant,
        acme(),
        "the tenant comes from the API key"
    );
    assert_eq!(message.event.data.value()["orderNumber"], "ORD-000001");

    // The producer retries: the first answer again, and the same delivery sent again as a
    // repeat (ingest writes once, so it cannot tell whether the first try sent it all),
    // which the dispatcher drops since the first message carries the delivery.
    let (status, body) = call_lambda(
        ingest_router(state.clone()),
        apigw_request("events/ingest-post-event.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["duplicate"], true);
    assert_eq!(body["deliveries"], 1);
    let again = state
        .backend
        .queue
        .receive(10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    let repeat: DeliveryMessage = serde_json::from_str(&again[0].body).unwrap();
    assert!(repeat.repeat);
    assert_eq!(repeat.delivery_id, message.delivery_id);
}

#[tokio::test]
async fn api_creates_the_sample_subscription_and_shows_its_secret_only_then() {
    let embedded = embedded();
    let state = with_key(&embedded, Role::Admin).await;
    let (status, created) = call_lambda(
        api_router(state.clone()),
        apigw_request("events/api-create-subscription.json"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["id"].as_str().unwrap().starts_with("sub_"));
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(
        created["events"],
        json!(["order.*", "payment.refund.success"])
    );
    assert_eq!(created["active"], true);

    let list = Request::get("/v1/subscriptions")
        .header("authorization", format!("Bearer {SAMPLE_KEY}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, listed) = call(api_router(state.clone()), list).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], created["id"]);
    assert!(
        listed["data"][0].get("secret").is_none(),
        "listings never show secrets"
    );
}

fn post_event(key: Option<&str>, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post("/v1/events").header("content-type", content_type);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    request.body(body.into()).unwrap()
}

#[tokio::test]
async fn bad_requests_get_problem_details_and_change_nothing() {
    let embedded = embedded();
    let state = with_key(&embedded, Role::Ingest).await;
    let json = "application/json";
    let valid = json!({"type": "order.created", "data": {}}).to_string();
    let cases = [
        (
            post_event(None, json, valid.clone()),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            post_event(Some("tdk_wrong"), json, valid.clone()),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            post_event(
                Some(SAMPLE_KEY),
                json,
                json!({"type": "Order.Created", "data": {}}).to_string(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            post_event(Some(SAMPLE_KEY), json, "{not json"),
            StatusCode::BAD_REQUEST,
            "malformed-request",
        ),
        (
            post_event(Some(SAMPLE_KEY), "text/plain", valid.clone()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        ),
        (
            post_event(
                Some(SAMPLE_KEY),
                json,
                json!({"type": "order.created", "data": {"blob": "x".repeat(300 * 1024)}})
                    .to_string(),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
        ),
    ];
    for (request, status, problem) in cases {
        let (got, content_type, body) = call(ingest_router(state.clone()), request).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["type"], format!("urn:tidings:problem:{problem}"));
        assert_eq!(body["status"], status.as_u16());
        assert!(!body["detail"].as_str().unwrap().is_empty());
    }
    let (_, _, body) = call(
        ingest_router(state.clone()),
        post_event(
            Some(SAMPLE_KEY),
            json,
            json!({"type": "order.created"}).to_string(),
        ),
    )
    .await;
    assert_eq!(body["field"], "data", "the problem names the field");
    assert_eq!(body["detail"], "data: is required");

    // An ingest key may not manage subscriptions.
    let list = Request::get("/v1/subscriptions")
        .header("authorization", format!("Bearer {SAMPLE_KEY}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = call(api_router(state.clone()), list).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(embedded.queue.depths(), (0, 0), "nothing was enqueued");
}

#[tokio::test]
async fn an_id_reused_with_other_data_is_a_conflict() {
    let embedded = embedded();
    let state = with_key(&embedded, Role::Ingest).await;
    let first = json!({"id": "evt_same", "type": "order.created", "data": {"total": 1}});
    let other = json!({"id": "evt_same", "type": "order.created", "data": {"total": 2}});
    let (status, _, _) = call(
        ingest_router(state.clone()),
        post_event(Some(SAMPLE_KEY), "application/json", first.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _, body) = call(
        ingest_router(state.clone()),
        post_event(Some(SAMPLE_KEY), "application/json", other.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

/// The record of the sample batch's first delivery.
async fn first_sample_record(backend: &tidings::Backend) -> tidings::domain::DeliveryRecord {
    backend
        .deliveries
        .get_delivery(&acme(), "dlv_01JD7Y3A0000000000000000A1")
        .await
        .unwrap()
        .expect("the delivery was recorded")
}

/// A receiver, an embedded backend, and the sample batch's first subscription pointing at
/// `path` on the receiver, with the sample batch cut down to its first record.
struct Setup {
    receiver: Receiver,
    embedded: Embedded,
    backend: tidings::Backend,
    sub: Subscription,
    event: SqsEvent,
}

async fn first_subscription_at(path: &str, active: bool) -> Setup {
    let receiver = Receiver::start().await;
    let embedded = embedded();
    let backend = embedded.backend();
    let sub = sample_subscription(
        "sub_01JD7Y30000000000000000001",
        &receiver.url(path),
        &["*"],
        active,
    );
    backend
        .subscriptions
        .create_subscription(&sub)
        .await
        .unwrap();
    let mut event = sample_sqs_event();
    event.records.truncate(1);
    Setup {
        receiver,
        embedded,
        backend,
        sub,
        event,
    }
}

fn sample_sqs_event() -> SqsEvent {
    serde_json::from_str(&read_repo_file("events/dispatcher-sqs-batch.json")).unwrap()
}

#[tokio::test]
async fn dispatcher_delivers_the_sample_batch_signed_and_skips_a_deleted_subscription() {
    let receiver = Receiver::start().await;
    let embedded = embedded();
    let backend = embedded.backend();
    let sub = sample_subscription(
        "sub_01JD7Y30000000000000000001",
        &receiver.url("orders"),
        &["order.*"],
        true,
    );
    backend
        .subscriptions
        .create_subscription(&sub)
        .await
        .unwrap();
    // sub_…02 does not exist: its delivery is recorded as skipped, not retried.
    let dispatcher = dispatcher(&embedded.backend(), "5s");

    let response = dispatcher.handle_sqs_event(sample_sqs_event()).await;
    assert!(response.batch_item_failures.is_empty());
    let got = receiver.received("orders");
    assert_eq!(got.len(), 1);
    verify_headers(sub.secret.expose(), &got[0].headers, &got[0].body).expect("a valid signature");
    assert_eq!(
        got[0].header("webhook-id"),
        Some("evt_01JD7Y2Q8ZV6M3N4P5R6S7T8U9")
    );
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    assert_eq!(got[0].json()["type"], "order.created");

    let record = |sub: &str, id: &str| {
        let backend = backend.clone();
        let (sub, id) = (SubscriptionId::parse(sub).unwrap(), id.to_owned());
        async move {
            let record = backend
                .deliveries
                .get_delivery(&acme(), &id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(record.subscription_id, sub);
            record
        }
    };
    let delivered = record(
        "sub_01JD7Y30000000000000000001",
        "dlv_01JD7Y3A0000000000000000A1",
    )
    .await;
    assert_eq!(delivered.status, DeliveryStatus::Succeeded);
    assert_eq!((delivered.attempts, delivered.status_code), (1, Some(200)));
    let skipped = record(
        "sub_01JD7Y30000000000000000002",
        "dlv_01JD7Y3A0000000000000000A2",
    )
    .await;
    assert_eq!(skipped.status, DeliveryStatus::Skipped);
    assert_eq!(
        skipped.last_error.as_deref(),
        Some("subscription was deleted")
    );

    // SQS hands the batch over again: the delivery that succeeded is not POSTed twice.
    receiver.respond("orders", &[500]);
    let response = dispatcher.handle_sqs_event(sample_sqs_event()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(receiver.received("orders").len(), 1);
}

#[tokio::test]
async fn dispatcher_reports_failures_for_retry_and_dead_letters_the_last_one() {
    let Setup {
        receiver,
        embedded,
        backend,
        event,
        ..
    } = first_subscription_at("down", true).await;
    receiver.respond("down", &[503, 500]);
    let id = event.records[0].message_id.clone().unwrap();

    // Two attempts in all: the first failure is handed back to SQS...
    let dispatcher = dispatcher(&embedded.backend(), "5s");
    let response = dispatcher.handle_sqs_event(event.clone()).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec![id.as_str()]);
    let record = first_sample_record(&backend).await;
    assert_eq!(record.status, DeliveryStatus::Failed);
    assert_eq!((record.attempts, record.status_code), (1, Some(503)));
    let wait = record.next_attempt_at.unwrap() - record.last_attempt_at.unwrap();
    assert!(
        (4_000..=6_000).contains(&wait.num_milliseconds()),
        "5 s ± 20 %: {wait}"
    );

    // ...and the last one goes to the dead-letter queue with its reason, not back to SQS.
    let response = dispatcher.handle_sqs_event(event).await;
    assert!(response.batch_item_failures.is_empty());
    let dead = backend
        .queue
        .receive_dead_letters(10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].reason.as_deref(),
        Some("all 2 attempts failed; last: endpoint answered 500 Internal Server Error")
    );
    let record = first_sample_record(&backend).await;
    assert_eq!(record.status, DeliveryStatus::Dead);
    assert_eq!(receiver.received("down").len(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured_and_each_attempt_keeps_the_start_of_the_answer() {
    let Setup {
        receiver,
        embedded,
        backend,
        event,
        ..
    } = first_subscription_at("busy", true).await;
    let long = "x".repeat(5000);
    receiver.reply(
        "busy",
        &[
            Reply::status(429)
                .header("retry-after", "120")
                .body("slow down"),
            Reply::status(500).body(&long),
        ],
    );
    let dispatcher = dispatcher(&embedded.backend(), "5s,5m,30m");
    let get = || async { first_sample_record(&backend).await };

    dispatcher.handle_sqs_event(event.clone()).await;
    let record = get().await;
    let wait = record.next_attempt_at.unwrap() - record.last_attempt_at.unwrap();
    assert!(
        (119..=121).contains(&wait.num_seconds()),
        "Retry-After: 120 beats the 5 s step (bounded by the 5 min one): {wait}"
    );
    assert_eq!(
        record.recent_attempts[0].response_body.as_deref(),
        Some("slow down")
    );

    dispatcher.handle_sqs_event(event).await;
    let record = get().await;
    assert_eq!(record.attempts, 2);
    assert_eq!(record.recent_attempts.len(), 2, "newest first");
    assert_eq!(record.recent_attempts[0].status_code, Some(500));
    assert_eq!(
        record.recent_attempts[0]
            .response_body
            .as_ref()
            .unwrap()
            .len(),
        1024
    );
    assert_eq!(record.recent_attempts[1].status_code, Some(429));
}

#[tokio::test]
async fn gone_deactivates_the_subscription_at_once() {
    let Setup {
        receiver,
        embedded,
        backend,
        sub,
        event,
    } = first_subscription_at("gone", true).await;
    receiver.respond("gone", &[410]);
    let response = dispatcher(&embedded.backend(), "5s")
        .handle_sqs_event(event)
        .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "no retry after 410"
    );
    let stored = backend
        .subscriptions
        .get_subscription(&acme(), &sub.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.active, "410 Gone deactivates the subscription");
    let dead = backend
        .queue
        .receive_dead_letters(10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].reason.as_deref().unwrap().contains("410 Gone"),
        "{:?}",
        dead[0].reason
    );
}

#[tokio::test]
async fn an_endpoint_failing_for_the_whole_period_is_disabled_and_the_tenant_told() {
    let receiver = Receiver::start().await;
    let embedded = embedded();
    let backend = embedded.backend();
    let down = sample_subscription(
        "sub_01JD7Y30000000000000000001",
        &receiver.url("down"),
        &["*"],
        true,
    );
    let watcher = sample_subscription(
        "sub_01JD7Y30000000000000000009",
        &receiver.url("ops"),
        &["subscription.disabled"],
        true,
    );
    let everything = sample_subscription(
        "sub_01JD7Y3000000000000000000A",
        &receiver.url("all"),
        &["*"],
        true,
    );
    for s in [&down, &watcher, &everything] {
        backend.subscriptions.create_subscription(s).await.unwrap();
    }
    receiver.respond("down", &[500, 500]);
    receiver.respond("all", &[200]);
    let config = Config {
        auto_disable_after: Duration::ZERO,
        ..loopback_config("5s,5s")
    };
    let dispatcher = Dispatcher::new(backend.clone(), config).unwrap();
    let mut event = sample_sqs_event();
    event.records.truncate(1);
    let stored = || async {
        backend
            .subscriptions
            .get_subscription(&acme(), &down.id)
            .await
            .unwrap()
            .unwrap()
    };

    dispatcher.handle_sqs_event(event.clone()).await;
    let first = stored().await;
    assert!(
        first.active && first.failing_since.is_some(),
        "the first failure starts the clock"
    );
    dispatcher.handle_sqs_event(event).await;
    let second = stored().await;
    assert!(
        !second.active,
        "failing for the whole period (here: zero) deactivates it"
    );

    // subscription.disabled goes to the subscription that asked for it, not to '*' ones.
    let queued = backend.queue.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(queued.len(), 1);
    let outcome = dispatcher.handle_batch(&queued).await;
    assert!(outcome.failed.is_empty());
    let ops = receiver.received("ops");
    assert_eq!(ops.len(), 1);
    let body = ops[0].json();
    assert_eq!(body["type"], "subscription.disabled");
    assert_eq!(body["data"]["subscription_id"], down.id.as_str());
    assert!(
        body["data"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("every attempt since")
    );
    assert!(receiver.received("all").is_empty());
}

#[tokio::test]
async fn a_success_clears_the_failing_clock() {
    let Setup {
        receiver,
        embedded,
        backend,
        sub,
        event,
    } = first_subscription_at("flaky", true).await;
    receiver.respond("flaky", &[500]);
    let dispatcher = dispatcher(&embedded.backend(), "5s");
    dispatcher.handle_sqs_event(event.clone()).await;
    let failing = backend
        .subscriptions
        .get_subscription(&acme(), &sub.id)
        .await
        .unwrap()
        .unwrap();
    assert!(failing.failing_since.is_some());
    dispatcher.handle_sqs_event(event).await;
    let healthy = backend
        .subscriptions
        .get_subscription(&acme(), &sub.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(healthy.failing_since, None);
    assert!(healthy.active);
}

#[tokio::test]
async fn timeouts_and_tls_failures_are_failed_attempts_with_their_reason() {
    // A listener that never answers: the connection opens, the answer never comes.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // A plain-HTTP receiver addressed with https: the TLS handshake fails.
    let plain = Receiver::start().await;
    let cases = [
        (
            format!("http://{}/slow", silent.local_addr().unwrap()),
            "timed out after 300ms",
        ),
        (format!("https://{}/tls", plain.addr), "connection failed"),
    ];
    for (url, reason) in cases {
        let embedded = embedded();
        let backend = embedded.backend();
        let sub = sample_subscription("sub_01JD7Y30000000000000000001", &url, &["*"], true);
        backend
            .subscriptions
            .create_subscription(&sub)
            .await
            .unwrap();
        let config = Config {
            delivery_timeout: Duration::from_millis(300),
            ..loopback_config(RetrySchedule::DEFAULT)
        };
        let mut event = sample_sqs_event();
        event.records.truncate(1);
        let response = Dispatcher::new(backend.clone(), config)
            .unwrap()
            .handle_sqs_event(event)
            .await;
        assert_eq!(response.batch_item_failures.len(), 1, "{url}: retried");
        let record = first_sample_record(&backend).await;
        assert_eq!(record.status, DeliveryStatus::Failed);
        assert_eq!(record.status_code, None);
        let error = record.last_error.unwrap();
        assert!(error.starts_with(reason), "{url}: {error}");
    }
    assert!(
        plain.received("tls").is_empty(),
        "nothing readable reached it"
    );
}

#[tokio::test]
async fn a_deactivated_subscription_skips_what_was_already_queued() {
    let Setup {
        receiver,
        embedded,
        backend,
        event,
        ..
    } = first_subscription_at("paused", false).await;
    let response = dispatcher(&embedded.backend(), "5s")
        .handle_sqs_event(event)
        .await;
    assert!(response.batch_item_failures.is_empty(), "not retried");
    assert!(receiver.received("paused").is_empty(), "not sent");
    let record = first_sample_record(&backend).await;
    assert_eq!(record.status, DeliveryStatus::Skipped);
    assert_eq!(
        record.last_error.as_deref(),
        Some("subscription is inactive")
    );
}

#[tokio::test]
async fn a_refused_endpoint_is_a_failed_attempt_with_its_reason() {
    let embedded = embedded();
    let backend = embedded.backend();
    // Nothing listens on port 9 of loopback: the connection is refused.
    let sub = sample_subscription(
        "sub_01JD7Y30000000000000000001",
        "http://127.0.0.1:9/hook",
        &["*"],
        true,
    );
    backend
        .subscriptions
        .create_subscription(&sub)
        .await
        .unwrap();
    let mut event = sample_sqs_event();
    event.records.truncate(1);
    let response = dispatcher(&embedded.backend(), "5s")
        .handle_sqs_event(event)
        .await;
    assert_eq!(response.batch_item_failures.len(), 1);
    let record = first_sample_record(&backend).await;
    assert_eq!(record.status_code, None);
    assert!(
        record
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("connection failed"),
        "{record:?}"
    );
}

// What endpoints answer, and what the dispatcher makes of it, on both backends: each
// delivery goes through the deliveries queue and is recorded in the store.

support::on_both_backends!(
    a_redirect_is_a_failed_attempt_and_is_not_followed,
    the_production_egress_policy_connects_to_no_private_address_a_name_resolves_to,
    unavailable_with_retry_after_is_honoured_within_the_schedule,
    gone_is_announced_to_the_subscriptions_that_asked_for_subscription_disabled,
);

/// The record of the delivery a queue message carries.
async fn record_of(backend: &Backend, message: &ReceivedMessage) -> DeliveryRecord {
    let delivery: DeliveryMessage = serde_json::from_str(&message.body).unwrap();
    backend
        .deliveries
        .get_delivery(&delivery.tenant, &delivery.delivery_id)
        .await
        .unwrap()
        .expect("the attempt was recorded")
}

async fn a_redirect_is_a_failed_attempt_and_is_not_followed(backend: Backend) {
    let receiver = Receiver::start().await;
    let sub = subscription(&receiver.url("moved")).store(&backend).await;
    let target = receiver.url("new-home");
    let statuses = [301, 302, 303, 307, 308];
    let replies: Vec<Reply> = statuses
        .iter()
        .map(|s| Reply::status(*s).header("location", &target))
        .collect();
    receiver.reply("moved", &replies);
    let dispatcher = dispatcher(&backend, "5s,5s,5s,5s,5s");
    let received = enqueue(&backend, &[delivery_body(&sub)]).await;

    for (attempt, status) in statuses.into_iter().enumerate() {
        let outcome = dispatcher.handle_batch(&received).await;
        assert_eq!(
            outcome.failed,
            vec![received[0].message_id.clone()],
            "{status}: a failed attempt, retried"
        );
        let record = record_of(&backend, &received[0]).await;
        assert_eq!(record.status, DeliveryStatus::Failed, "{status}");
        assert_eq!(
            (record.attempts, record.status_code),
            (attempt as u32 + 1, Some(status))
        );
        let error = record.last_error.unwrap();
        assert!(
            error.starts_with(&format!("endpoint answered {status}")),
            "{error}"
        );
    }
    assert_eq!(receiver.received("moved").len(), statuses.len());
    assert!(
        receiver.received("new-home").is_empty(),
        "the redirect was not followed"
    );
}

async fn the_production_egress_policy_connects_to_no_private_address_a_name_resolves_to(
    backend: Backend,
) {
    // A public-looking name, resolved (by the test's table) to a loopback address where a
    // listener counts the connections it gets.
    let listener = Listener::start();
    let url = format!("https://hooks.shop.example:{}/webhooks", listener.port());
    EgressPolicy::PublicOnly
        .check_url(&url.parse().unwrap())
        .expect("a name over https passes the checks made before resolving");
    let sub = subscription(&url).store(&backend).await;
    let to_loopback: StaticLookup = Arc::new(|_| vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    let dispatcher_with = |policy: EgressPolicy| {
        let config = Config {
            egress: policy,
            delivery_timeout: Duration::from_millis(300),
            ..loopback_config("5s,5s")
        };
        let resolver = GuardedResolver::with_lookup(policy, to_loopback.clone());
        Dispatcher::with_resolver(backend.clone(), config, resolver).unwrap()
    };
    let received = enqueue(&backend, &[delivery_body(&sub)]).await;

    let outcome = dispatcher_with(EgressPolicy::PublicOnly)
        .handle_batch(&received)
        .await;
    assert_eq!(outcome.failed, vec![received[0].message_id.clone()]);
    let record = record_of(&backend, &received[0]).await;
    assert_eq!(
        (record.status, record.status_code),
        (DeliveryStatus::Failed, None)
    );
    let error = record.last_error.unwrap();
    assert!(
        error.contains("hooks.shop.example resolves to 127.0.0.1, which is not a public address"),
        "the reason names the refused address: {error}"
    );
    assert_eq!(listener.connections(), 0, "no connection was made");

    // The listener does see a connection when the policy lets one through (development).
    dispatcher_with(EgressPolicy::AllowLoopback)
        .handle_batch(&received)
        .await;
    assert_eq!(listener.connections(), 1, "the listener counts connections");
}

async fn unavailable_with_retry_after_is_honoured_within_the_schedule(backend: Backend) {
    let receiver = Receiver::start().await;
    let sub = subscription(&receiver.url("busy")).store(&backend).await;
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let busy = |retry_after: &str| Reply::status(503).header("retry-after", retry_after);
    receiver.reply(
        "busy",
        &[busy("120"), busy("86400"), busy(&in_an_hour), busy("1")],
    );
    let dispatcher = dispatcher(&backend, "5s,5m,30m,2h,5h");
    let received = enqueue(&backend, &[delivery_body(&sub)]).await;
    let mut waits = Vec::new();
    for _ in 0..4 {
        let outcome = dispatcher.handle_batch(&received).await;
        assert_eq!(outcome.failed, vec![received[0].message_id.clone()]);
        let record = record_of(&backend, &received[0]).await;
        assert_eq!(record.status_code, Some(503));
        assert_eq!(
            record.last_error.as_deref(),
            Some("endpoint answered 503 Service Unavailable")
        );
        let wait = record.next_attempt_at.unwrap() - record.last_attempt_at.unwrap();
        waits.push(wait.num_seconds());
    }
    assert!(
        (119..=120).contains(&waits[0]),
        "Retry-After: 120 beats the 5 s step: {waits:?}"
    );
    assert!(
        (1799..=1800).contains(&waits[1]),
        "a day is cut to the step after the 5 min one, 30 min: {waits:?}"
    );
    assert!(
        (3590..=3600).contains(&waits[2]),
        "an HTTP date an hour ahead, within 30 min ± 20 % and 2 h: {waits:?}"
    );
    assert!(
        (5759..=8640).contains(&waits[3]),
        "1 s is less than the 2 h (± 20 %) step, which applies: {waits:?}"
    );
    assert_eq!(receiver.received("busy").len(), 4);
}

async fn gone_is_announced_to_the_subscriptions_that_asked_for_subscription_disabled(
    backend: Backend,
) {
    let receiver = Receiver::start().await;
    let gone = subscription(&receiver.url("gone"))
        .events(&["order.*"])
        .store(&backend)
        .await;
    let by_name = subscription(&receiver.url("ops"))
        .events(&["subscription.disabled"])
        .store(&backend)
        .await;
    let by_prefix = subscription(&receiver.url("family"))
        .events(&["subscription.*"])
        .store(&backend)
        .await;
    subscription(&receiver.url("all"))
        .events(&["*"])
        .store(&backend)
        .await;
    subscription(&receiver.url("other-tenant"))
        .tenant(&tenant("other"))
        .events(&["subscription.disabled"])
        .store(&backend)
        .await;
    receiver.respond("gone", &[410]);
    let dispatcher = dispatcher(&backend, "5s");
    let received = enqueue(&backend, &[delivery_body(&gone)]).await;

    let outcome = dispatcher.handle_batch(&received).await;
    assert!(outcome.failed.is_empty(), "no retry after 410");
    let stored = backend
        .subscriptions
        .get_subscription(&acme(), &gone.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.active, "410 Gone deactivates the subscription");

    // One subscription.disabled event, planned for the tenant's subscriptions that name it
    // (not '*', which means commerce events, and not another tenant's); one message
    // carries both deliveries.
    let told = receive(&backend, 1).await;
    let event_id = serde_json::from_str::<DeliveryMessage>(&told[0].body)
        .unwrap()
        .event
        .id
        .clone();
    let event = backend
        .events
        .get_event(&acme(), &event_id)
        .await
        .unwrap()
        .expect("the event was recorded");
    let mut planned: Vec<&str> = event
        .deliveries
        .iter()
        .map(|d| d.subscription_id.as_str())
        .collect();
    planned.sort();
    let mut expected = vec![by_name.id.as_str(), by_prefix.id.as_str()];
    expected.sort();
    assert_eq!(planned, expected);

    let outcome = dispatcher.handle_batch(&told).await;
    assert!(outcome.failed.is_empty());
    for path in ["ops", "family"] {
        let got = receiver.received(path);
        assert_eq!(got.len(), 1, "{path}");
        let body = got[0].json();
        assert_eq!(body["type"], "subscription.disabled");
        assert_eq!(body["tenant"], "acme");
        assert_eq!(body["data"]["subscription_id"], gone.id.as_str());
        assert_eq!(body["data"]["url"], gone.url.as_str());
        assert_eq!(body["data"]["reason"], "the endpoint answered 410 Gone");
        let since: chrono::DateTime<chrono::Utc> = body["data"]["failing_since"]
            .as_str()
            .expect("failing_since is a time")
            .parse()
            .unwrap();
        assert!(since <= chrono::Utc::now());
    }
    assert!(receiver.received("all").is_empty());
    assert!(receiver.received("other-tenant").is_empty());
}
