//! What Tidings asks of AWS, metered on the emulator (moto) through a proxy that tallies
//! every SDK call (`support::meter`): requests and DynamoDB request units per event at
//! ingest, single and batched, and per delivery at the dispatcher, on the success path and
//! for a failed attempt and its retry; then what a million deliveries cost at list prices
//! (`support::cost`). The assertions are the budget the README promises; `scripts/bench`
//! runs this test with `--nocapture` to print the figures.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::builders::{acme, loopback_config, subscription};
use support::client::Client;
use support::cost::{self, Assumptions, Work};
use support::emulator;
use support::harness::receive_within;
use support::meter::{self, Meter, Tally};
use support::receiver::Receiver;
use support::template::{Template, number};
use tidings::Backend;
use tidings::config::Config;
use tidings::domain::{ApiKey, Role};
use tidings::http::{AppState, ingest_router};
use tidings::metrics::Metrics;
use tidings::services::dispatch::Dispatcher;

const KEY: &str = "tdk_cost";
/// Events of each ingest run; the batched run posts them as one batch.
const EVENTS: usize = 30;

/// Bytes written to the log, as Lambda's JSON logger would write them.
#[derive(Clone, Default)]
struct LogBytes(Arc<Mutex<usize>>);

impl Write for LogBytes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        *self.0.lock().unwrap() += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBytes {
    fn take(&self) -> usize {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Bench {
    backend: Backend,
    meter: Meter,
    logs: LogBytes,
    metrics: tidings::metrics::Captured,
    config: Config,
    batch_size: usize,
}

impl Bench {
    /// Everything metered and logged since the last call, as work per `units`.
    fn work(&self, units: usize) -> (Tally, Work) {
        let tally = self.meter.take();
        let n = units as f64;
        let requests = |prefix: &str| {
            tally
                .iter()
                .filter(|(op, _)| op.starts_with(prefix))
                .map(|(_, u)| u.requests as f64)
                .sum::<f64>()
        };
        let total = meter::total(&tally);
        let metric_bytes: usize = self.metrics.take().iter().map(|l| l.len() + 1).sum();
        let work = Work {
            dynamodb_write_units: total.write_units / n,
            dynamodb_read_units: total.read_units / n,
            sqs_requests: requests("SQS.") / n,
            sqs_messages: total.messages as f64 / n,
            kms_requests: requests("KMS.") / n,
            log_bytes: (self.logs.take() + metric_bytes) as f64 / n,
        };
        (tally, work)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let router = ingest_router(AppState::new(self.backend.clone(), self.config.clone()));
        let (status, answer) = Client::router(router)
            .with_key(KEY)
            .call(Method::POST, path, Some(body))
            .await;
        assert!((200..300).contains(&status), "{status} {answer}");
        answer
    }

    /// Receives `count` messages (as the event source mapping would, unmetered; a message
    /// carries up to ten deliveries of one event) and
    /// dispatches them in batches of the template's size.
    async fn dispatch(&self, dispatcher: &Dispatcher, count: usize) -> usize {
        let mut messages = Vec::new();
        while messages.len() < count {
            messages.extend(receive_within(&self.backend, Duration::from_secs(20)).await);
        }
        self.meter.take();
        let mut failed = 0;
        for batch in messages.chunks(self.batch_size) {
            failed += dispatcher.handle_batch(batch).await.failed.len();
        }
        failed
    }
}

fn show(title: &str, tally: &Tally, per: usize) {
    println!("{title} (per {per}):");
    for (operation, usage) in tally {
        println!(
            "  {operation:<28} {:>6.2} requests  {:>5.2} WCU  {:>5.2} RCU  largest item {} B",
            usage.requests as f64 / per as f64,
            usage.write_units / per as f64,
            usage.read_units / per as f64,
            usage.largest_item,
        );
    }
}

fn events(prefix: &str, event_type: &str) -> Vec<Value> {
    (0..EVENTS)
        .map(|i| {
            // A typical commerce event: an order with a few lines, about 500 bytes of data.
            json!({
                "id": format!("evt_{prefix}_{i}"),
                "type": event_type,
                "data": {
                    "id": format!("order_{i}"), "currency": "EUR", "total": 15990 + i,
                    "customer": {"id": "cus_01J8Z3", "email": "ada@example.com"},
                    "items": [
                        {"sku": "TSHIRT-M-BLK", "quantity": 2, "unit_price": 2500},
                        {"sku": "MUG-WHT", "quantity": 1, "unit_price": 1290},
                        {"sku": "HOODIE-L-NVY", "quantity": 1, "unit_price": 8900}
                    ],
                    "shipping_address": {"line1": "12 Rue de la Paix", "city": "Paris",
                                         "postal_code": "75002", "country": "FR"}
                }
            })
        })
        .collect()
}

#[tokio::test]
#[cfg_attr(not(moto), ignore = "needs the moto emulator: run bash scripts/test")]
async fn what_events_and_deliveries_cost_on_aws() {
    let upstream = std::env::var(emulator::ENDPOINT_VAR).expect("the emulator's endpoint");
    let meter = Meter::start(&upstream).await;
    let sdk = meter.sdk().await;
    let resources = emulator::provision(&sdk).await;
    let backend = tidings_aws::backend(&sdk, &resources);
    let (metrics, captured) = Metrics::captured();
    // The dispatcher as the template configures it.
    let template = Template::load();
    let parameter = |name: &str| number(&template.parameter(name)["Default"]);
    let config = Config {
        metrics,
        subscription_cache: Duration::from_secs(parameter("SubscriptionCacheSeconds").into()),
        ..loopback_config("1s,1s")
    };
    let logs = LogBytes::default();
    let writer = logs.clone();
    let _logger =
        tracing::subscriber::set_default(tidings::telemetry::json_subscriber(move || {
            writer.clone()
        }));

    let receiver = Receiver::start().await;
    // Three subscriptions to orders (fan-out 3), one of them also to payments (fan-out 1).
    subscription(&receiver.url("a"))
        .events(&["order.*", "payment.*"])
        .store(&backend)
        .await;
    for path in ["b", "c"] {
        subscription(&receiver.url(path))
            .events(&["order.*"])
            .store(&backend)
            .await;
    }
    let key = ApiKey::from_plaintext(KEY, acme(), Role::Ingest, None);
    backend.api_keys.put_api_key(&key).await.unwrap();
    let dispatcher = Dispatcher::new(backend.clone(), config.clone()).unwrap();
    let bench = Bench {
        backend,
        meter,
        logs,
        metrics: captured,
        config,
        batch_size: parameter("DispatcherBatchSize") as usize,
    };

    // A warm container: its first event and deliveries (key lookups, data key) not counted.
    bench
        .post("/v1/events", json!({"type": "order.created", "data": {}}))
        .await;
    // One message carries an event's deliveries to all three subscriptions.
    bench.dispatch(&dispatcher, 1).await;
    bench.work(1);

    for event in events("single", "payment.refunded") {
        bench.post("/v1/events", event).await;
    }
    let (single, ingest_single) = bench.work(EVENTS);
    bench
        .post(
            "/v1/events/batch",
            json!({"events": events("batch", "payment.refunded")}),
        )
        .await;
    let (batched, ingest_batched) = bench.work(EVENTS);
    let deliveries = 2 * EVENTS;
    assert_eq!(bench.dispatch(&dispatcher, deliveries).await, 0);
    let (delivered, dispatch) = bench.work(deliveries);
    assert_eq!(receiver.received("a").len(), 1 + deliveries);

    // A failed attempt, then its retry.
    receiver.respond("a", &[500]);
    bench
        .post(
            "/v1/events",
            json!({"type": "payment.refunded", "data": {"n": 1}}),
        )
        .await;
    bench.work(1);
    assert_eq!(bench.dispatch(&dispatcher, 1).await, 1);
    let (failed, _) = bench.work(1);
    assert_eq!(bench.dispatch(&dispatcher, 1).await, 0);
    let (retried, _) = bench.work(1);

    // Fan-out 3, batched, for the bill.
    bench
        .post(
            "/v1/events/batch",
            json!({"events": events("fan3", "order.created")}),
        )
        .await;
    let (_, ingest_fan3) = bench.work(EVENTS);
    assert_eq!(bench.dispatch(&dispatcher, EVENTS).await, 0);
    let (_, dispatch_fan3) = bench.work(3 * EVENTS);

    show("ingest, one event per POST /v1/events", &single, EVENTS);
    show("ingest, POST /v1/events/batch", &batched, EVENTS);
    show(
        "dispatcher, delivered at the first attempt",
        &delivered,
        deliveries,
    );
    show("dispatcher, a failed attempt", &failed, 1);
    show(
        "dispatcher, its successful retry (and the delivery.recovered event it sends)",
        &retried,
        1,
    );
    println!(
        "log and metric bytes: {:.0} per event at ingest, {:.0} per delivery",
        ingest_single.log_bytes, dispatch.log_bytes
    );

    let assume = |events_per_request: f64| Assumptions {
        events_per_request,
        dispatcher_batch: parameter("DispatcherBatchSize").into(),
        ingest_memory_gb: 0.25,
        dispatcher_memory_gb: 0.25,
        ingest_seconds: 0.02 + 0.002 * events_per_request,
        dispatcher_seconds: 0.15,
    };
    let bills = vec![
        (
            "fan-out 1 single".to_owned(),
            cost::per_million_deliveries(ingest_single, dispatch, 1.0, assume(1.0)),
        ),
        (
            "fan-out 1 batched".to_owned(),
            cost::per_million_deliveries(ingest_batched, dispatch, 1.0, assume(100.0)),
        ),
        (
            "fan-out 3 single".to_owned(),
            cost::per_million_deliveries(ingest_single, dispatch_fan3, 3.0, assume(1.0)),
        ),
        (
            "fan-out 3 batched".to_owned(),
            cost::per_million_deliveries(ingest_fan3, dispatch_fan3, 3.0, assume(100.0)),
        ),
    ];
    let a = assume(100.0);
    println!(
        "\nassumed: dispatcher batches of {} (the template's), {} GB functions on arm64, a \
         dispatcher invocation billed {} s (its batch POSTed at once to endpoints answering \
         in about 100 ms), an ingest invocation {} s per event and {} s for a batch of 100",
        a.dispatcher_batch,
        a.dispatcher_memory_gb,
        a.dispatcher_seconds,
        assume(1.0).ingest_seconds,
        a.ingest_seconds,
    );
    println!("\n{}", cost::table(&bills));
    println!("target (issue 10, batched ingest): fan-out 1 <= $1.50, fan-out 3 <= $1.00");

    // The budget: one write per event at ingest and per delivery at the dispatcher, each
    // item within one write unit; the success path reads only the delivery record
    // (eventually consistent), the subscription coming from the dispatcher's cache.
    for work in [ingest_single, ingest_batched, ingest_fan3] {
        assert_eq!(work.dynamodb_write_units, 1.0, "one write per event");
    }
    assert_eq!(meter::requests(&single, "DynamoDB.UpdateItem"), 0);
    for tally in [&single, &batched, &delivered] {
        assert!(meter::total(tally).largest_item <= 1024, "{tally:?}");
    }
    assert_eq!(dispatch.dynamodb_write_units, 1.0, "one write per delivery");
    assert!(dispatch.dynamodb_read_units <= 0.5 + 0.01, "{dispatch:?}");
    // Issue 10's targets, batched ingest: $1.50 at fan-out 1, $1.00 at fan-out 3.
    let (fan_out_1, fan_out_3) = (bills[1].1.total(), bills[3].1.total());
    assert!(
        fan_out_1 <= 1.50,
        "${fan_out_1:.3} per million at fan-out 1"
    );
    assert!(
        fan_out_3 <= 1.00,
        "${fan_out_3:.3} per million at fan-out 3"
    );
    // An event's deliveries share one queue message.
    assert_eq!(ingest_fan3.sqs_messages, 1.0);
}
