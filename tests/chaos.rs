//! Chaos, end to end: 1,000 events to 3 subscriptions whose receivers fail 30 % of attempts
//! (answering 500, closing the connection, or answering too late), on a compressed retry
//! schedule. In the end every (event, subscription) pair was verified by its receiver or
//! sits in the dead-letter queue; none is missing. Duplicates are counted and printed.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use support::client::Client;
use support::harness::Kind;
use support::wait::eventually;
use tidings::config::Config;
use tidings::domain::DeliveryMessage;
use tidings::signing::verify;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const EVENTS: usize = 1000;
const DELIVERY_TIMEOUT: Duration = Duration::from_millis(300);

#[derive(Default)]
struct Tally {
    /// Requests per webhook-id, whatever became of them.
    requests: HashMap<String, u32>,
    /// Deliveries verified and answered 2xx, per webhook-id.
    delivered: HashMap<String, u32>,
    bad_signatures: u32,
}

/// A receiver that misbehaves on purpose, decided by a hash of (receiver, event, attempt)
/// so a run can be reproduced: 20 % answer 500, 5 % close the connection without an answer,
/// 5 % process the delivery but answer only after the sender's timeout (so its retry is a
/// duplicate); the rest verify the signature and answer 204.
struct ChaosReceiver {
    url: String,
    secret: Arc<Mutex<String>>,
    tally: Arc<Mutex<Tally>>,
}

impl ChaosReceiver {
    async fn start(name: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/{name}", listener.local_addr().unwrap());
        let secret = Arc::new(Mutex::new(String::new()));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let (s, t) = (secret.clone(), tally.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(name, stream, s.clone(), t.clone()));
            }
        });
        Self { url, secret, tally }
    }
}

async fn serve(
    name: &str,
    mut stream: TcpStream,
    secret: Arc<Mutex<String>>,
    tally: Arc<Mutex<Tally>>,
) {
    let Some((headers, body)) = read_request(&mut stream).await else {
        return;
    };
    let header = |n: &str| headers.get(n).map(String::as_str);
    let id = header("webhook-id").unwrap_or_default().to_owned();
    let attempt = {
        let mut t = tally.lock().unwrap();
        let n = t.requests.entry(id.clone()).or_default();
        *n += 1;
        *n
    };
    let mut hasher = DefaultHasher::new();
    (name, &id, attempt).hash(&mut hasher);
    let roll = hasher.finish() % 100;
    if roll < 20 {
        let _ = stream
            .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        return;
    }
    if roll < 25 {
        return; // connection closed, no answer
    }
    let secret = secret.lock().unwrap().clone();
    let now = chrono::Utc::now().timestamp();
    let verified = verify(
        &secret,
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        &body,
        now,
    );
    let status = {
        let mut t = tally.lock().unwrap();
        if verified.is_ok() {
            *t.delivered.entry(id).or_default() += 1;
            "204 No Content"
        } else {
            t.bad_signatures += 1;
            "401 Unauthorized"
        }
    };
    if roll < 30 {
        // Processed, but the answer comes after the sender gave up: it will retry.
        tokio::time::sleep(DELIVERY_TIMEOUT * 3).await;
    }
    let response = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = stream.write_all(response.as_bytes()).await;
}

/// Reads one HTTP/1.1 request: lowercased headers and the body (by content-length).
async fn read_request(stream: &mut TcpStream) -> Option<(HashMap<String, String>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((headers, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_reaches_every_subscription_or_the_dead_letter_queue() {
    let running = Kind::Embedded
        .start(Config {
            retry: "50ms,100ms,200ms,400ms,800ms".parse().unwrap(),
            delivery_timeout: DELIVERY_TIMEOUT,
            ..Config::default()
        })
        .await;
    let api = Client::admin(&running);

    let mut receivers = Vec::new();
    let mut by_subscription = HashMap::new();
    for (name, events) in [
        ("all", json!(["*"])),
        ("orders", json!(["order.*"])),
        ("created", json!(["order.created"])),
    ] {
        let receiver = ChaosReceiver::start(name).await;
        let created = api
            .ok(
                Method::POST,
                "/v1/subscriptions",
                Some(json!({"url": receiver.url, "events": events})),
                201,
            )
            .await;
        *receiver.secret.lock().unwrap() = created["secret"].as_str().unwrap().to_owned();
        by_subscription.insert(created["id"].as_str().unwrap().to_owned(), receivers.len());
        receivers.push(receiver);
    }

    let started = Instant::now();
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..EVENTS {
        let api = api.clone();
        posts.spawn(async move {
            let event = json!({"id": format!("evt_chaos_{i:04}"), "type": "order.created", "data": {"n": i}});
            let (_, receipt) = api.call(Method::POST, "/v1/events", Some(event)).await;
            assert_eq!(receipt["deliveries"], 3, "{receipt}");
        });
        if posts.len() >= 32 {
            posts.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(done) = posts.join_next().await {
        done.unwrap();
    }

    // Wait until the deliveries queue is empty: every message settled, as a success or a
    // dead letter (a late answer's delivery may be both: that is at-least-once).
    let queue = running.embedded.as_ref().unwrap().queue.clone();
    eventually(
        "every delivery to settle (the deliveries queue to be empty)",
        Duration::from_secs(180),
        || async {
            match queue.depths() {
                (0, _) => Ok(()),
                depths => Err(format!("queue depths (main, dead) {depths:?}")),
            }
        },
    )
    .await;

    let mut dead: HashSet<(String, usize)> = HashSet::new();
    loop {
        let batch = running
            .backend
            .queue
            .receive_dead_letters(10, Duration::ZERO)
            .await
            .unwrap();
        if batch.is_empty() {
            break;
        }
        for m in batch {
            let message: DeliveryMessage = serde_json::from_str(&m.body).unwrap();
            let receiver = by_subscription[message.subscription_id.as_str()];
            assert!(
                m.reason
                    .as_deref()
                    .unwrap()
                    .starts_with("all 6 attempts failed"),
                "{:?}",
                m.reason
            );
            dead.insert((message.event.id.to_string(), receiver));
        }
    }

    let mut missing = Vec::new();
    let mut report = Vec::new();
    for (index, receiver) in receivers.iter().enumerate() {
        let tally = receiver.tally.lock().unwrap();
        assert_eq!(tally.bad_signatures, 0, "every signature verifies");
        for i in 0..EVENTS {
            let id = format!("evt_chaos_{i:04}");
            let got = tally.delivered.contains_key(&id);
            let is_dead = dead.contains(&(id.clone(), index));
            if !got && !is_dead {
                missing.push((id, index));
            }
        }
        let duplicates: u32 = tally.delivered.values().map(|n| n - 1).sum();
        let attempts: u32 = tally.requests.values().sum();
        report.push(format!(
            "{}: {} delivered, {} dead-lettered, {} attempts, {} duplicates",
            receiver.url,
            tally.delivered.len(),
            dead.iter().filter(|(_, r)| *r == index).count(),
            attempts,
            duplicates
        ));
    }
    println!(
        "chaos run settled in {:.1?}:\n  {}",
        started.elapsed(),
        report.join("\n  ")
    );
    assert!(
        missing.is_empty(),
        "pairs neither delivered nor dead-lettered: {missing:?}"
    );
}
