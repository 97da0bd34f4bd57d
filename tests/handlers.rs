//! The Lambda handlers, fed with the sample events in `events/` (the same files
//! `cargo lambda invoke --data-file` takes).

use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use serde_json::{Value, json};
use support::read_repo_file;
use support::receiver::{Receiver, Reply};
use tidings::adapters::Embedded;
use tidings::config::Config;
use tidings::domain::{
    ApiKey, DeliveryMessage, DeliveryStatus, EventPattern, Role, SignatureScheme, Subscription,
    SubscriptionId, TenantId,
};
use tidings::egress::EgressPolicy;
use tidings::http::{AppState, api_router, ingest_router};
use tidings::services::dispatch::Dispatcher;
use tidings::signing::{Secret, verify_headers};
use tower::ServiceExt;

const SAMPLE_KEY: &str = "tdk_example_key_for_sample_events_only";

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn embedded() -> Embedded {
    Embedded::new(Duration::from_secs(360), 8)
}

async fn with_key(embedded: &Embedded, role: Role) -> AppState {
    let backend = embedded.backend();
    let key = ApiKey::from_plaintext(SAMPLE_KEY, acme(), role, None);
    backend.api_keys.put_api_key(&key).await.unwrap();
    AppState::new(backend, Config::default())
}

fn subscription(id: &str, url: &str, events: &[&str], active: bool) -> Subscription {
    Subscription {
        id: SubscriptionId::parse(id).unwrap(),
        tenant: acme(),
        url: url.parse().unwrap(),
        events: events
            .iter()
            .map(|e| EventPattern::parse(e).unwrap())
            .collect(),
        active,
        description: None,
        secret: Secret::generate(),
        previous_secrets: Vec::new(),
        signature: SignatureScheme::Standard,
        headers: Default::default(),
        format: Default::default(),
        standard_webhooks: true,
        saleor: Default::default(),
        created_at: Utc::now(),
        failing_since: None,
    }
}

/// An API Gateway event from `events/`, as the request `lambda_http` hands the router.
fn apigw_request(file: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&read_repo_file(file)).expect("a valid API Gateway event")
}

async fn call(router: axum::Router, request: Request<Body>) -> (StatusCode, String, Value) {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, content_type, body)
}

async fn call_lambda(router: axum::Router, request: lambda_http::Request) -> (StatusCode, Value) {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn ingest_accepts_the_sample_event_once_and_enqueues_one_message_per_match() {
    let embedded = embedded();
    let state = with_key(&embedded, Role::Ingest).await;
    let subs = &state.backend.subscriptions;
    let orders = subscription("sub_01", "https://a.example/h", &["order.*"], true);
    subs.create_subscription(&orders).await.unwrap();
    subs.create_subscription(&subscription(
        "sub_02",
        "https://b.example/h",
        &["product.*"],
        true,
    ))
    .await
    .unwrap();
    subs.create_subscription(&subscription(
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
    assert_eq!(message.event.data["orderNumber"], "ORD-000001");

    // The producer retries: the first answer again, and nothing more on the queue.
    let (status, body) = call_lambda(
        ingest_router(state.clone()),
        apigw_request("events/ingest-post-event.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["duplicate"], true);
    assert_eq!(body["deliveries"], 1);
    assert_eq!(embedded.queue.depths(), (1, 0));
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

fn dispatcher(embedded: &Embedded, schedule: &str) -> Dispatcher {
    let config = Config {
        egress: EgressPolicy::AllowLoopback,
        retry: schedule.parse().unwrap(),
        ..Config::default()
    };
    Dispatcher::new(embedded.backend(), config).unwrap()
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
    let sub = subscription(
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
    let sub = subscription(
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
    let dispatcher = dispatcher(&embedded, "5s");

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
    let dispatcher = dispatcher(&embedded, "5s");
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
    let dispatcher = dispatcher(&embedded, "5s,5m,30m");
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
    let response = dispatcher(&embedded, "5s").handle_sqs_event(event).await;
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
    let down = subscription(
        "sub_01JD7Y30000000000000000001",
        &receiver.url("down"),
        &["*"],
        true,
    );
    let watcher = subscription(
        "sub_01JD7Y30000000000000000009",
        &receiver.url("ops"),
        &["subscription.disabled"],
        true,
    );
    let everything = subscription(
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
        egress: EgressPolicy::AllowLoopback,
        retry: "5s,5s".parse().unwrap(),
        auto_disable_after: Duration::ZERO,
        ..Config::default()
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
    let dispatcher = dispatcher(&embedded, "5s");
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
        let sub = subscription("sub_01JD7Y30000000000000000001", &url, &["*"], true);
        backend
            .subscriptions
            .create_subscription(&sub)
            .await
            .unwrap();
        let config = Config {
            egress: EgressPolicy::AllowLoopback,
            delivery_timeout: Duration::from_millis(300),
            ..Config::default()
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
    let response = dispatcher(&embedded, "5s").handle_sqs_event(event).await;
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
    let sub = subscription(
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
    let response = dispatcher(&embedded, "5s").handle_sqs_event(event).await;
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
