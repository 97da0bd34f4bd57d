//! `bench-dispatch`: the dispatcher against a bare `reqwest` POST loop, at the same
//! concurrency and to the same sink (issue 10's ratio; `scripts/bench` runs it).
//!
//! Each round puts `deliveries` events for one subscription to the sink on a fresh
//! embedded backend (not timed), then times the local runner's own pollers draining them
//! (`tidings_local::spawn_pollers`: receive up to ten, sign and POST each with
//! `Dispatcher::handle_message`, delete it once delivered) with `concurrency` receive loops
//! and `concurrency` × 10 deliveries in flight, as `tidings-local` runs them.
//!
//! Two bare loops POST the same number of requests to the same sink, with as many in
//! flight as the pollers can have (`concurrency` × 10): each request with the headers the
//! dispatcher sent for its event (worked out before the timed window: the signature headers
//! are what any sender of these webhooks sends, each message its own, and parsing them is
//! the sink's work, not the dispatcher's) and a body of the same size and shape (the same
//! keys in the same order). A bare `reqwest::Client`, the baseline; and hyper's
//! pooled client, bare, the one the dispatcher sends with (`DeliveryClient`), so the report
//! also shows what the dispatcher's own work costs over its client's.
//!
//! Rounds alternate the three, each round in another order (dispatcher, `reqwest`, hyper;
//! then `reqwest`, hyper, dispatcher; then hyper, dispatcher, `reqwest`…), so that the
//! machine's noise, and the sink's state after the phase before, falls on all alike. The
//! first round begins with a warm-up, not counted: the bare hyper loop's requests three
//! times over, so that a sink started just before is as warm for the first side as for the
//! others. Each phase also reads this process's CPU time (`CLOCK_PROCESS_CPUTIME_ID`): CPU
//! per delivery, dispatcher against bare loop, which the sink's share of the cores does not
//! move, and counts the allocations each phase makes per delivery (`counting`), which this
//! shared machine's noise does not move at all. Prints one JSON object per round and one
//! in all, on stdout; the dispatcher's log lines (`RUST_LOG`, `info` by default, as the
//! runner logs) go to stderr.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use serde_json::json;
use tracing_subscriber::util::SubscriberInitExt as _;

use tidings::adapters::Embedded;
use tidings::config::Config;
use tidings::domain::{EventId, TenantId, TenantSettings, WireContext};
use tidings::egress::EgressPolicy;
use tidings::ports::queue::MAX_BATCH;
use tidings::services::dispatch::{self, Dispatcher};
use tidings::services::{events, subscriptions};
use tidings_local::VISIBILITY_TIMEOUT;

mod counting;

// As the runner (local/src/main.rs): the dispatcher is measured with the runner's allocator,
// its allocations counted.
#[global_allocator]
static ALLOCATOR: counting::Counting<tikv_jemallocator::Jemalloc> =
    counting::Counting(tikv_jemallocator::Jemalloc);

struct Args {
    sink: reqwest::Url,
    deliveries: usize,
    concurrency: usize,
    rounds: usize,
    label: String,
}

impl Args {
    /// `key=value` arguments, as `bench/load.js` takes them.
    fn parse() -> anyhow::Result<Self> {
        let mut args = Self {
            sink: "http://127.0.0.1:4000".parse()?,
            deliveries: 20_000,
            concurrency: Config::default().local_concurrency,
            rounds: 6,
            label: format!("dispatch{}", std::process::id()),
        };
        for arg in std::env::args().skip(1) {
            let (key, value) = arg.split_once('=').context("arguments are key=value")?;
            match key {
                "sink" => args.sink = value.parse()?,
                "deliveries" => args.deliveries = value.parse()?,
                "concurrency" => args.concurrency = value.parse()?,
                "rounds" => args.rounds = value.parse()?,
                "run" => args.label = value.to_owned(),
                _ => bail!("unknown argument {key} (sink, deliveries, concurrency, rounds, run)"),
            }
        }
        if args.sink.host_str() != Some("127.0.0.1") {
            bail!("bench-dispatch only sends to 127.0.0.1");
        }
        if args.deliveries == 0 || args.concurrency == 0 {
            bail!("deliveries and concurrency must be at least 1");
        }
        Ok(args)
    }
}

/// One timed phase: how many POSTs the sink counted, how long they took, and the CPU time
/// this process spent on them (the sink's is its own).
struct Phase {
    delivered: usize,
    elapsed: Duration,
    cpu: Duration,
    /// Allocations this process made during it.
    allocations: u64,
    /// The sink's CPU time over the phase (its processes, from `/_count`'s `cpu_us`).
    sink_cpu: Duration,
    body_bytes: usize,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64()
    }

    /// This process's CPU time per delivery, in µs.
    fn cpu_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.delivered as f64
    }

    fn allocations_per_delivery(&self) -> f64 {
        self.allocations as f64 / self.delivered as f64
    }

    /// The sink's CPU time per delivery, in µs: what answering this phase's requests cost
    /// the receiver, on the same two cores.
    fn sink_cpu_us(&self) -> f64 {
        self.sink_cpu.as_secs_f64() * 1e6 / self.delivered as f64
    }

    /// The rounds of one side as one phase: their deliveries, times and CPU summed.
    fn sum(phases: &[Phase]) -> Phase {
        Phase {
            delivered: phases.iter().map(|p| p.delivered).sum(),
            elapsed: phases.iter().map(|p| p.elapsed).sum(),
            cpu: phases.iter().map(|p| p.cpu).sum(),
            allocations: phases.iter().map(|p| p.allocations).sum(),
            sink_cpu: phases.iter().map(|p| p.sink_cpu).sum(),
            body_bytes: phases.first().map_or(0, |p| p.body_bytes),
        }
    }
}

/// What this process has spent: CPU time (user and system, all its threads) and
/// allocations (all its threads).
#[derive(Clone, Copy)]
struct Usage {
    cpu: Duration,
    allocations: u64,
}

impl Usage {
    /// So far.
    fn now() -> Self {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        Self {
            cpu: Duration::new(t.tv_sec.unsigned_abs(), t.tv_nsec.unsigned_abs() as u32),
            allocations: counting::allocations(),
        }
    }

    /// Since `self` was read.
    fn since(self) -> Self {
        let now = Self::now();
        Self {
            cpu: now.cpu - self.cpu,
            allocations: now.allocations - self.allocations,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The runner's own logger (its filter and line format), to stderr: the span it formats
    // for every delivery is part of the dispatcher's cost.
    tidings::telemetry::local_subscriber(std::io::stderr).init();
    let args = Args::parse()?;
    let control = reqwest::Client::new();
    let (mut dispatched, mut bare, mut bare_hyper) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        let prepared = prepare_dispatch(&args, round).await?;
        let sent = &prepared.sent;
        if round == 1 {
            // Not counted: a sink started just before spends more on each of its first tens
            // of thousands of requests (Node compiling its handler, growing its heap), which
            // would fall on whichever side went first.
            for warm_up in 1..=WARM_UPS {
                let tag = format!("w{warm_up}");
                bare_round(&args, &control, &tag, sent, BareClient::hyper()).await?;
            }
        }
        let (mut d, mut b, mut h) = (None, None, None);
        let order: Vec<&Side> = PHASES
            .iter()
            .cycle()
            .skip((round - 1) % PHASES.len())
            .take(PHASES.len())
            .collect();
        let tag = round.to_string();
        for phase in &order {
            match phase {
                Side::Dispatcher => d = Some(drain(&args, &control, &prepared).await?),
                Side::Reqwest => {
                    b = Some(bare_round(&args, &control, &tag, sent, BareClient::reqwest()).await?)
                }
                Side::Hyper => {
                    h = Some(bare_round(&args, &control, &tag, sent, BareClient::hyper()).await?)
                }
            }
        }
        let (Some(d), Some(b), Some(h)) = (d, b, h) else {
            bail!("a round ran without one of its phases");
        };
        println!(
            "{}",
            json!({
                "run": "dispatch-round", "round": round,
                "order": order.iter().map(|side| side.name()).collect::<Vec<_>>().join(" "),
                "dispatcher_per_s": d.rate().round(), "bare_per_s": b.rate().round(),
                "ratio": round2(d.rate() / b.rate()),
                "dispatcher_cpu_us": round2(d.cpu_us()), "bare_cpu_us": round2(b.cpu_us()),
                "cpu_ratio": round2(d.cpu_us() / b.cpu_us()),
                "dispatcher_allocations": round2(d.allocations_per_delivery()),
                "bare_allocations": round2(b.allocations_per_delivery()),
                "dispatcher_sink_cpu_us": round2(d.sink_cpu_us()),
                "bare_sink_cpu_us": round2(b.sink_cpu_us()),
                "hyper_per_s": h.rate().round(), "hyper_ratio": round2(d.rate() / h.rate()),
                "hyper_cpu_us": round2(h.cpu_us()),
                "hyper_allocations": round2(h.allocations_per_delivery()),
                "deliveries": d.delivered, "body_bytes": d.body_bytes,
            })
        );
        dispatched.push(d);
        bare.push(b);
        bare_hyper.push(h);
    }
    // Each round's dispatcher ÷ bare loop of `figure`.
    let per_round = |figure: fn(&Phase) -> f64| -> Vec<f64> {
        dispatched
            .iter()
            .zip(&bare)
            .map(|(d, b)| round2(figure(d) / figure(b)))
            .collect()
    };
    let (ratios, cpu_ratios) = (per_round(Phase::rate), per_round(Phase::cpu_us));
    let (d, b, h) = (
        Phase::sum(&dispatched),
        Phase::sum(&bare),
        Phase::sum(&bare_hyper),
    );
    println!(
        "{}",
        json!({
            "run": "dispatch", "rounds": args.rounds, "deliveries_per_round": args.deliveries,
            "concurrency": args.concurrency, "in_flight": args.concurrency * MAX_BATCH,
            "dispatcher_per_s": d.rate().round(), "bare_per_s": b.rate().round(),
            "ratio": round2(d.rate() / b.rate()), "round_ratios": ratios,
            "dispatcher_cpu_us": round2(d.cpu_us()), "bare_cpu_us": round2(b.cpu_us()),
            "cpu_ratio": round2(d.cpu_us() / b.cpu_us()), "round_cpu_ratios": cpu_ratios,
            "dispatcher_allocations": round2(d.allocations_per_delivery()),
            "bare_allocations": round2(b.allocations_per_delivery()),
            "dispatcher_sink_cpu_us": round2(d.sink_cpu_us()),
            "bare_sink_cpu_us": round2(b.sink_cpu_us()),
            "sink_cpu_ratio": round2(d.sink_cpu_us() / b.sink_cpu_us()),
            "hyper_per_s": h.rate().round(), "hyper_ratio": round2(d.rate() / h.rate()),
            "hyper_cpu_us": round2(h.cpu_us()),
            "hyper_cpu_ratio": round2(d.cpu_us() / h.cpu_us()),
            "hyper_allocations": round2(h.allocations_per_delivery()),
        })
    );
    Ok(())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// What the dispatcher sends for one event, as the bare loop sends it again: the same
/// headers, and a body of the same size.
struct Sent {
    headers: reqwest::header::HeaderMap,
    body_bytes: usize,
}

/// The three sides a round measures, in the order of its first round.
enum Side {
    Dispatcher,
    Reqwest,
    Hyper,
}

const PHASES: [Side; 3] = [Side::Dispatcher, Side::Reqwest, Side::Hyper];

/// Passes of the bare hyper loop before the first round, not counted: enough for a sink
/// started just before to answer at its settled cost (one pass of 20,000 was not).
const WARM_UPS: usize = 3;

impl Side {
    fn name(&self) -> &'static str {
        match self {
            Self::Dispatcher => "dispatcher",
            Self::Reqwest => "reqwest",
            Self::Hyper => "hyper",
        }
    }
}

/// A round's dispatcher, its deliveries queued and not yet drained.
struct Prepared {
    embedded: Embedded,
    dispatcher: Arc<Dispatcher>,
    run: String,
    /// What it will send for each event, for the bare loops to send.
    sent: Vec<Sent>,
}

/// A fresh embedded backend with `deliveries` deliveries of one subscription to the sink
/// queued (not timed), and what the dispatcher will send for each.
async fn prepare_dispatch(args: &Args, round: usize) -> anyhow::Result<Prepared> {
    // As the local runner configures itself: loopback allowed, records kept for the
    // local retention.
    let mut config = Config {
        egress: EgressPolicy::AllowLoopback,
        local_concurrency: args.concurrency,
        ..Config::default()
    };
    config.record_ttl = config.record_ttl.min(config.local_retention);
    let embedded = Embedded::new(VISIBILITY_TIMEOUT, config.retry.max_attempts());
    let backend = embedded.backend();
    let tenant = TenantId::parse(tidings_local::DEV_TENANT)?;
    let run = format!("{}-d{round}", args.label);
    let url = args.sink.join("/hook/dispatch")?;
    let subscription = subscriptions::create(
        &backend,
        &config,
        &tenant,
        subscriptions::CreateSubscription {
            url: url.to_string(),
            events: vec!["order.*".into()],
            description: Some("bench".into()),
            ..Default::default()
        },
    )
    .await?;
    let mut event_ids = Vec::with_capacity(args.deliveries);
    for seq in 0..args.deliveries {
        let receipt = events::accept(&backend, &config, &tenant, event_body(&run, seq)).await?;
        event_ids.push(EventId::parse(&receipt.id)?);
    }
    // Each delivery's headers as the dispatcher puts them on the wire (its id, timestamp
    // and signature), and the body's size.
    let (public_domain, saleor_api_url) = (config.public_domain(), config.saleor_api_url());
    let context = WireContext {
        tenant: &TenantSettings::default(),
        public_domain: &public_domain,
        saleor_api_url: &saleor_api_url,
        jws_key: None,
    };
    let mut sent = Vec::with_capacity(args.deliveries);
    for id in &event_ids {
        let event = backend
            .events
            .get_event(&tenant, id)
            .await?
            .context("an accepted event is stored")?
            .event;
        let wire = subscription.wire_request(&event, context, chrono::Utc::now())?;
        let mut headers = wire.headers;
        dispatch::add_own_headers(&mut headers);
        sent.push(Sent {
            headers,
            body_bytes: wire.body.len(),
        });
    }

    let dispatcher = Arc::new(Dispatcher::new(backend, config)?);
    Ok(Prepared {
        embedded,
        dispatcher,
        run,
        sent,
    })
}

/// The local runner's pollers draining a prepared round's queued deliveries to the sink.
async fn drain(
    args: &Args,
    control: &reqwest::Client,
    prepared: &Prepared,
) -> anyhow::Result<Phase> {
    let Prepared {
        embedded,
        dispatcher,
        run,
        sent,
    } = prepared;
    let sink_before = sink_read(control, &args.sink, run).await?.cpu;
    let (started, before) = (Instant::now(), Usage::now());
    let pollers =
        tidings_local::spawn_pollers(embedded.queue.clone(), dispatcher.clone(), args.concurrency);
    // A message leaves the queue once it is settled: the queue empty is the end.
    let deadline = started + Duration::from_secs(600);
    while embedded.queue.depths() != (0, 0) {
        if embedded.queue.depths().1 != 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (elapsed, spent) = (started.elapsed(), before.since());
    drop(pollers);
    let (left, dead) = embedded.queue.depths();
    if left != 0 || dead != 0 {
        bail!("{left} deliveries left on the queue and {dead} dead-lettered: the sink failed some");
    }
    let sink = sink_settled(control, &args.sink, run, args.deliveries).await?;
    Ok(Phase {
        delivered: sink.count,
        elapsed,
        cpu: spent.cpu,
        allocations: spent.allocations,
        sink_cpu: sink.cpu.saturating_sub(sink_before),
        body_bytes: sent.first().map_or(0, |s| s.body_bytes),
    })
}

/// What a bare loop sends with: `reqwest` (the baseline), or hyper's pooled client
/// as the dispatcher uses it since 2026-11-27 (`DeliveryClient`), without its TLS layer,
/// egress resolver and timeout: what the client costs without the dispatcher's own work.
#[derive(Clone)]
enum BareClient {
    Reqwest(reqwest::Client),
    Hyper(
        hyper_util::client::legacy::Client<
            hyper_util::client::legacy::connect::HttpConnector,
            Full<Bytes>,
        >,
    ),
}

impl BareClient {
    fn reqwest() -> Self {
        Self::Reqwest(reqwest::Client::new())
    }

    fn hyper() -> Self {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        Self::Hyper(
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector),
        )
    }

    /// Its phase's run label and the sink's path for it.
    fn name(&self) -> &'static str {
        match self {
            Self::Reqwest(_) => "bare",
            Self::Hyper(_) => "hyper",
        }
    }

    /// One POST, its answer read whole, as the dispatcher reads it; an error unless 2xx.
    async fn post(
        &self,
        url: &reqwest::Url,
        headers: &reqwest::header::HeaderMap,
        body: &Bytes,
    ) -> anyhow::Result<()> {
        let status = match self {
            Self::Reqwest(client) => {
                let response = client
                    .post(url.clone())
                    .headers(headers.clone())
                    .body(body.clone())
                    .send()
                    .await?;
                let status = response.status();
                response.bytes().await?;
                status
            }
            Self::Hyper(client) => {
                let mut request = http::Request::new(Full::new(body.clone()));
                *request.method_mut() = http::Method::POST;
                *request.uri_mut() = url.as_str().parse()?;
                *request.headers_mut() = headers.clone();
                let response = client.request(request).await?;
                let status = response.status();
                response.into_body().collect().await?;
                status
            }
        };
        if !status.is_success() {
            bail!("the sink answered {status}");
        }
        Ok(())
    }
}

/// A bare loop: the same number of POSTs, each with the headers the dispatcher sent for its
/// event and a body of the same size, to the same sink, with `concurrency × 10` in flight
/// (what the pollers' batches can have).
async fn bare_round(
    args: &Args,
    control: &reqwest::Client,
    tag: &str,
    sent: &[Sent],
    client: BareClient,
) -> anyhow::Result<Phase> {
    let run = format!("{}-{}{tag}", args.label, client.name());
    let url = args.sink.join(&format!("/hook/{}", client.name()))?;
    let body_bytes = sent.first().map_or(0, |s| s.body_bytes);
    let requests: Vec<(reqwest::header::HeaderMap, Bytes)> = sent
        .iter()
        .enumerate()
        .map(|(seq, s)| {
            let body = padded_envelope(&run, seq, s.body_bytes);
            (s.headers.clone(), Bytes::from(body))
        })
        .collect();
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let sink_before = sink_read(control, &args.sink, &run).await?.cpu;
    let (started, before) = (Instant::now(), Usage::now());
    let workers: Vec<_> = (0..args.concurrency * MAX_BATCH)
        .map(|_| {
            let (client, url, requests, next) =
                (client.clone(), url.clone(), requests.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((headers, body)) = requests.get(i) else {
                        return Ok::<_, anyhow::Error>(Instant::now());
                    };
                    client.post(&url, headers, body).await?;
                }
            })
        })
        .collect();
    let mut finished = started;
    for worker in workers {
        finished = finished.max(worker.await??);
    }
    let spent = before.since();
    let sink = sink_settled(control, &args.sink, &run, args.deliveries).await?;
    Ok(Phase {
        delivered: sink.count,
        elapsed: finished - started,
        cpu: spent.cpu,
        allocations: spent.allocations,
        sink_cpu: sink.cpu.saturating_sub(sink_before),
        body_bytes,
    })
}

/// The event `bench/load.js` posts: the sink counts it under `run`.
fn event_body(run: &str, seq: usize) -> serde_json::Value {
    json!({
        "type": "order.created",
        "data": {
            "bench_run": run,
            "sent_at": monotonic_ms(),
            "seq": seq,
            "order_id": format!("order_{seq}"),
            "total": "99.99",
        },
    })
}

/// An envelope shaped as the dispatcher's (the same keys, in the same order, so the sink
/// parses both alike), its `order_id` padded to make it exactly `bytes` long.
fn padded_envelope(run: &str, seq: usize, bytes: usize) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Envelope<'a> {
        id: String,
        #[serde(rename = "type")]
        event_type: &'static str,
        timestamp: &'static str,
        tenant: &'static str,
        data: Data<'a>,
    }
    // In the order of `event_body`'s keys (a `json!` object's, sorted), which ingest keeps.
    #[derive(serde::Serialize)]
    struct Data<'a> {
        bench_run: &'a str,
        order_id: String,
        sent_at: f64,
        seq: usize,
        total: &'static str,
    }
    let (id, sent_at) = (format!("evt_{seq:026}"), monotonic_ms());
    let envelope = |pad: &str| {
        let envelope = Envelope {
            id: id.clone(),
            event_type: "order.created",
            timestamp: "2026-11-25T00:00:00.000000000Z",
            tenant: "dev",
            data: Data {
                bench_run: run,
                order_id: format!("order_{seq}{pad}"),
                sent_at,
                seq,
                total: "99.99",
            },
        };
        // Plain strings and numbers: it always serializes.
        serde_json::to_vec(&envelope).unwrap_or_default()
    };
    let bare = envelope("").len();
    envelope(&"x".repeat(bytes.saturating_sub(bare)))
}

/// `sent_at` as `bench/load.js` sets it: ms on the machine's monotonic clock.
fn monotonic_ms() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as f64 * 1000.0 + t.tv_nsec as f64 / 1e6
}

/// What the sink's `/_count` says: the POSTs it counted for a run, and the CPU time its
/// processes have used so far (`cpu_us`).
struct SinkCount {
    count: usize,
    cpu: Duration,
}

/// The sink's `/_count` for `run`, read once.
async fn sink_read(
    control: &reqwest::Client,
    sink: &reqwest::Url,
    run: &str,
) -> anyhow::Result<SinkCount> {
    let mut url = sink.join("/_count")?;
    url.query_pairs_mut().append_pair("run", run);
    let answer: serde_json::Value = control.get(url).send().await?.json().await?;
    let us = answer["cpu_us"]
        .as_u64()
        .context("the sink's /_count has no cpu_us (bench/sink.js before 2026-11-27?)")?;
    Ok(SinkCount {
        count: answer["count"].as_u64().unwrap_or(0) as usize,
        cpu: Duration::from_micros(us),
    })
}

/// The sink's `/_count` for `run` once the count stops moving (waits briefly for the last
/// POSTs to be counted); an error unless it counted all `expected`.
async fn sink_settled(
    control: &reqwest::Client,
    sink: &reqwest::Url,
    run: &str,
    expected: usize,
) -> anyhow::Result<SinkCount> {
    let mut last = sink_read(control, sink, run).await?;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let again = sink_read(control, sink, run).await?;
        let settled = again.count == last.count;
        last = again;
        if settled {
            break;
        }
    }
    if last.count != expected {
        bail!(
            "the sink counted {} of {expected} POSTs for {run}",
            last.count
        );
    }
    Ok(last)
}
