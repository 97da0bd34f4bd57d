//! What on-call sees: the CloudWatch Embedded Metric Format lines a real delivery and a real
//! ingest produce, the ids every log line about a delivery carries, and `tidings-local
//! status` — on the embedded backend and on SQS and DynamoDB (moto).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use support::builders::{acme, delivery_body, loopback_config, subscription};
use support::client::Client;
use support::harness::{Kind, enqueue, receive_within};
use support::receiver::Receiver;
use tidings::Backend;
use tidings::config::Config;
use tidings::domain::circuit::CircuitPolicy;
use tidings::domain::{ApiKey, Role};
use tidings::http::{AppState, ingest_router};
use tidings::metrics::{Captured, DeliveryOutcome, IngestOutcome, Metrics, names};
use tidings::ports::queue::{self, OutgoingMessage};
use tidings::services::dispatch::Dispatcher;
use tidings_local::status::{self, AgeSource};

support::on_both_backends!(
    a_delivery_writes_one_emf_line_per_outcome,
    ingest_counts_accepted_duplicate_and_refused_events,
    every_log_line_about_a_delivery_carries_its_ids,
    status_counts_waiting_in_flight_and_dead_letters,
    an_endpoint_circuit_writes_a_line_when_it_opens_and_when_it_closes,
);

/// A dispatcher that may deliver to 127.0.0.1 in one retry of 1 s, its metrics captured.
fn captured_dispatcher(backend: &Backend) -> (Dispatcher, Captured) {
    let (metrics, captured) = Metrics::captured();
    let config = Config {
        metrics,
        ..loopback_config("1s")
    };
    (Dispatcher::new(backend.clone(), config).unwrap(), captured)
}

/// Checks one line against the EMF specification's rules and Tidings' conventions, and
/// returns the names of its metrics.
fn check_emf(line: &Value) -> Vec<String> {
    let root = line.as_object().expect("an EMF line is a JSON object");
    let aws = &root["_aws"];
    let timestamp = aws["Timestamp"].as_i64().expect("Timestamp in ms");
    let now = Utc::now().timestamp_millis();
    assert!(
        (now - 60_000..=now).contains(&timestamp),
        "Timestamp {timestamp} is not now ({now}) in ms"
    );
    let directives = aws["CloudWatchMetrics"].as_array().unwrap();
    assert_eq!(directives.len(), 1);
    let directive = &directives[0];
    assert_eq!(directive["Namespace"], "Tidings");
    for set in directive["Dimensions"].as_array().unwrap() {
        let set = set.as_array().unwrap();
        assert!(!set.is_empty() && set.len() <= 30);
        for name in set {
            let name = name.as_str().unwrap();
            assert!(
                root[name].as_str().is_some_and(|v| !v.is_empty()),
                "dimension {name} has a string value in {line}"
            );
        }
        assert_eq!(set[0], "Function");
    }
    directive["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["Name"].as_str().unwrap();
            assert!(
                ["Count", "Milliseconds"].contains(&m["Unit"].as_str().unwrap()),
                "{m}"
            );
            // A number, or an array of up to 100 numbers (EMF's limit).
            let value = &root[name];
            assert!(
                value.is_number()
                    || value.as_array().is_some_and(|values| {
                        (1..=100).contains(&values.len()) && values.iter().all(Value::is_number)
                    }),
                "metric {name} has a numeric value in {line}"
            );
            name.to_owned()
        })
        .collect()
}

fn with_outcome<'a>(lines: &'a [Value], outcome: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["Outcome"] == outcome).collect()
}

async fn a_delivery_writes_one_emf_line_per_outcome(backend: Backend) {
    let receiver = Receiver::start().await;
    receiver.respond("down", &[500, 500]);
    let up = subscription(&receiver.url("up")).store(&backend).await;
    let down = subscription(&receiver.url("down")).store(&backend).await;
    let off = subscription(&receiver.url("off"))
        .active(false)
        .store(&backend)
        .await;
    let (dispatcher, captured) = captured_dispatcher(&backend);

    let received = enqueue(
        &backend,
        &[
            delivery_body(&up),
            delivery_body(&down),
            delivery_body(&off),
        ],
    )
    .await;
    let outcome = dispatcher.handle_batch(&received).await;
    assert_eq!(outcome.failed.len(), 1, "the failed attempt is handed back");
    // The second and last attempt of the failing delivery: dead-lettered.
    let again = receive_within(&backend, Duration::from_secs(10)).await;
    dispatcher.handle_batch(&again).await;

    let lines = captured.json();
    for line in &lines {
        check_emf(line);
    }
    let batches: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("BatchSize").is_some())
        .collect();
    assert_eq!(
        batches
            .iter()
            .map(|b| b["BatchSize"].as_u64())
            .collect::<Vec<_>>(),
        vec![Some(3), Some(1)]
    );
    assert_eq!(
        batches[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Function"]])
    );
    assert_eq!(batches[0]["Function"], "dispatcher");

    let succeeded = with_outcome(&lines, "succeeded");
    assert_eq!(succeeded.len(), 1);
    let line = succeeded[0];
    assert_eq!(
        check_emf(line),
        vec![names::DELIVERIES, names::ATTEMPT_DURATION, names::EVENT_AGE]
    );
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Function", "Outcome"]])
    );
    // Successes are summed per batch (one value per delivery in the timing arrays); the
    // delivery record names each one.
    assert_eq!(line["Deliveries"], 1);
    assert!(line["AttemptDuration"][0].as_u64().unwrap() < 10_000);
    assert!(line["EventAge"][0].as_u64().unwrap() < 60_000);
    assert!(line.get("delivery").is_none());
    assert!(
        line.get("Tenant").is_none(),
        "the tenant dimension is opt-in"
    );

    let failed = with_outcome(&lines, "failed_attempt");
    let dead = with_outcome(&lines, "dead_lettered");
    let skipped = with_outcome(&lines, "skipped");
    assert_eq!((failed.len(), dead.len(), skipped.len()), (1, 1, 1));
    assert_eq!(failed[0]["subscription"], down.id.as_str());
    assert_eq!(dead[0]["delivery"], failed[0]["delivery"]);
    assert!(dead[0]["AttemptDuration"].is_number());
    assert_eq!(skipped[0]["subscription"], off.id.as_str());
    assert_eq!(
        check_emf(skipped[0]),
        vec![names::DELIVERIES],
        "no attempt, no timing"
    );
    let outcomes: Vec<&str> = DeliveryOutcome::ALL.iter().map(|o| o.as_str()).collect();
    assert!(
        lines
            .iter()
            .filter_map(|l| l["Outcome"].as_str())
            .all(|o| outcomes.contains(&o))
    );
}

async fn an_endpoint_circuit_writes_a_line_when_it_opens_and_when_it_closes(backend: Backend) {
    let receiver = Receiver::start().await;
    receiver.respond("flaky", &[503]);
    let sub = subscription(&receiver.url("flaky")).store(&backend).await;
    let (metrics, captured) = Metrics::captured();
    let config = Config {
        metrics,
        // One failure opens the circuit, for a second; the last of three attempts is
        // always sent, so the endpoint's 200 closes it whatever the timing.
        circuit: CircuitPolicy {
            open_after: 1,
            cooldown: Duration::from_secs(1),
        },
        ..loopback_config("1s,1s")
    };
    let dispatcher = Dispatcher::new(backend.clone(), config).unwrap();
    let mut batch = enqueue(&backend, &[delivery_body(&sub)]).await;
    while receiver.received("flaky").len() < 2 {
        dispatcher.handle_batch(&batch).await;
        if receiver.received("flaky").len() < 2 {
            batch = receive_within(&backend, Duration::from_secs(20)).await;
        }
    }

    let lines = captured.json();
    let circuits: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get(names::ENDPOINT_CIRCUITS).is_some())
        .collect();
    let changes: Vec<&str> = circuits
        .iter()
        .map(|l| l["Outcome"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["opened", "closed"], "{lines:?}");
    for line in circuits {
        assert_eq!(check_emf(line), vec![names::ENDPOINT_CIRCUITS]);
        assert_eq!(line[names::ENDPOINT_CIRCUITS], 1);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "Outcome"]])
        );
        assert_eq!(line["subscription"], sub.id.as_str());
        assert_eq!(line["tenant"], sub.tenant.as_str());
        assert!(
            !line.to_string().contains(&receiver.url("flaky")),
            "an endpoint's URL may carry a secret: {line}"
        );
    }
}

async fn ingest_counts_accepted_duplicate_and_refused_events(backend: Backend) {
    let (metrics, captured) = Metrics::captured();
    let config = Config {
        metrics: metrics.with_tenant_dimension(true),
        ..Config::default()
    };
    subscription("https://hooks.example.com/a")
        .store(&backend)
        .await;
    subscription("https://hooks.example.com/b")
        .store(&backend)
        .await;
    let (key, plaintext) = ApiKey::generate(acme(), Role::Ingest, None);
    backend.api_keys.put_api_key(&key).await.unwrap();
    let api = Client::router(ingest_router(AppState::new(backend, config))).with_key(&plaintext);

    let event = json!({"id": "evt_metrics", "type": "order.created", "data": {}});
    api.ok(Method::POST, "/v1/events", Some(event.clone()), 202)
        .await;
    api.ok(Method::POST, "/v1/events", Some(event), 202).await;
    let (status, _) = api
        .call(
            Method::POST,
            "/v1/events",
            Some(json!({"type": "Not A Type", "data": {}})),
        )
        .await;
    assert_eq!(status, 422);

    let lines = captured.json();
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| l["Outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["accepted", "duplicate", "refused"]);
    for line in &lines {
        let metrics = check_emf(line);
        assert_eq!(line["Function"], "ingest");
        assert_eq!(line["Events"], 1);
        assert_eq!(line["Tenant"], "acme");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "Outcome"], ["Function", "Outcome", "Tenant"]])
        );
        let enqueued = line["Outcome"] == IngestOutcome::Accepted.as_str();
        assert_eq!(
            metrics.contains(&names::DELIVERIES_ENQUEUED.to_owned()),
            enqueued
        );
    }
    assert_eq!(lines[0]["DeliveriesEnqueued"], 2, "one per subscription");
}

/// A `MakeWriter` for the logger: every line it writes, kept.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn every_log_line_about_a_delivery_carries_its_ids(backend: Backend) {
    let receiver = Receiver::start().await;
    receiver.respond("flaky", &[503]);
    let sub = subscription(&receiver.url("flaky")).store(&backend).await;
    let (dispatcher, _) = captured_dispatcher(&backend);
    let received = enqueue(&backend, &[delivery_body(&sub)]).await;

    // The Lambda functions' JSON logger, writing here; the test runs on one thread.
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let logger = tidings::telemetry::json_subscriber(move || writer.clone());
    let guard = tracing::subscriber::set_default(logger);
    dispatcher.handle_batch(&received).await;
    let again = receive_within(&backend, Duration::from_secs(10)).await;
    dispatcher.handle_batch(&again).await;
    drop(guard);

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each log line is one JSON object"))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    // A success logs at debug level only (RUST_LOG=debug): the record says it, for less.
    assert!(
        messages.contains(&"attempt failed; retry scheduled") && !messages.contains(&"delivered"),
        "{messages:?}"
    );
    let message: tidings::domain::DeliveryMessage =
        serde_json::from_str(&received[0].body).unwrap();
    for line in &lines {
        let span = &line["span"];
        assert_eq!(span["name"], "delivery", "{line}");
        assert_eq!(span["tenant"], "acme", "{line}");
        assert_eq!(span["event"], message.event.id.as_str(), "{line}");
        assert_eq!(span["delivery"], message.delivery_id.as_str(), "{line}");
        assert_eq!(span["subscription"], sub.id.as_str(), "{line}");
        assert!(
            line.get("_aws").is_none(),
            "metrics never go through the logger"
        );
    }
}

async fn status_counts_waiting_in_flight_and_dead_letters(kind: Kind) {
    let (backend, age_metric) = match kind {
        Kind::Embedded => (kind.backend().await, None),
        Kind::Moto => {
            let sdk = support::emulator::sdk().await;
            let resources = support::emulator::provision(&sdk).await;
            let metric = status::AgeMetric::new(&sdk, &resources.delivery_queue_url);
            (tidings_aws::backend(&sdk, &resources), Some(metric))
        }
    };
    let empty = status::read(&backend, age_metric.as_ref()).await.unwrap();
    assert_eq!(
        (
            empty.stats.waiting,
            empty.stats.in_flight,
            empty.stats.dead_letters
        ),
        (0, 0, 0)
    );

    let messages: Vec<OutgoingMessage> = (0..3)
        .map(|i| OutgoingMessage::new(i.to_string(), format!("{{\"n\":{i}}}")))
        .collect();
    queue::send_all(backend.queue.as_ref(), &messages)
        .await
        .unwrap();
    let taken = backend
        .queue
        .receive(1, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    backend
        .queue
        .dead_letter("{\"n\":9}", "all 8 attempts failed")
        .await
        .unwrap();

    let status = status::read(&backend, age_metric.as_ref()).await.unwrap();
    assert_eq!(
        (
            status.stats.waiting,
            status.stats.in_flight,
            status.stats.dead_letters
        ),
        (2, 1, 1),
        "{status}"
    );
    let text = status.to_string();
    assert!(text.contains("in flight        1"), "{text}");
    assert!(text.contains("dead letters       1"), "{text}");
    match kind {
        Kind::Embedded => {
            assert_eq!(status.age_source, AgeSource::Queue);
            assert!(
                status
                    .stats
                    .oldest_age
                    .is_some_and(|a| a < Duration::from_secs(60))
            );
            assert!(text.contains("oldest message   0s"), "{text}");
        }
        Kind::Moto => {
            // SQS's API has no oldest-message age; with no CloudWatch datapoint it is unknown.
            assert_eq!(status.age_source, AgeSource::Unknown);
            assert_eq!(status.stats.oldest_age, None);
            assert!(text.contains("oldest message   unknown"), "{text}");
            // Once CloudWatch has a datapoint of SQS's metric, status reports it.
            let metric = age_metric.as_ref().unwrap();
            put_oldest_age(metric, 42.0).await;
            let status = status::read(&backend, Some(metric)).await.unwrap();
            assert_eq!(status.age_source, AgeSource::CloudWatch);
            assert_eq!(status.stats.oldest_age, Some(Duration::from_secs(42)));
            assert_eq!(status.to_json()["oldest_message_age_secs"], 42);
        }
    }
}

/// What SQS publishes every minute, written to the emulator's CloudWatch by hand.
async fn put_oldest_age(metric: &status::AgeMetric, seconds: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    metric
        .cloudwatch
        .put_metric_data()
        .namespace("AWS/SQS")
        .metric_data(
            MetricDatum::builder()
                .metric_name("ApproximateAgeOfOldestMessage")
                .dimensions(
                    Dimension::builder()
                        .name("QueueName")
                        .value(&metric.queue_name)
                        .build(),
                )
                .value(seconds)
                .build(),
        )
        .send()
        .await
        .expect("the emulator takes the datapoint");
}
