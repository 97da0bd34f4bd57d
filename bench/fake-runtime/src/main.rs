//! A fake Lambda Runtime API for the benchmark (`scripts/bench-lambda`): it serves
//! `GET /2018-06-01/runtime/invocation/next` (one event, with the headers Lambda sends),
//! `POST …/invocation/{id}/response`, `…/invocation/{id}/error` and `…/init/error` on
//! 127.0.0.1, execs a bootstrap with `AWS_LAMBDA_RUNTIME_API` pointing at itself, and times
//!
//! - **init**: exec → the bootstrap's first `next` request;
//! - **first invoke**: that request → the bootstrap's response (or error) for the event.
//!
//! Each `--case NAME BOOTSTRAP EVENT` runs `--runs` times (after one unmeasured warm-up run,
//! which brings the binary into the page cache), the cases taking turns so that a change in
//! the machine's load affects them alike. The bootstrap inherits this process's environment
//! (the caller sets the function's variables) plus the Lambda variables below. It prints one
//! JSON line per case with the medians.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use clap::Parser;
use tokio::sync::mpsc;

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:bench";
const TRACE_ID: &str = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";

#[derive(Parser)]
#[command(about = "Times Lambda bootstraps' init and first invoke through a fake Runtime API")]
struct Args {
    /// Measured runs of each case (medians are reported).
    #[arg(long, default_value_t = 31)]
    runs: usize,
    /// At most this long for one run (init and first invoke).
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Where each case's last run writes the bootstrap's stdout and stderr (NAME.log).
    #[arg(long)]
    log_dir: Option<PathBuf>,
    /// A case: its name (also AWS_LAMBDA_FUNCTION_NAME), the bootstrap, the event file.
    #[arg(long, num_args = 3, value_names = ["NAME", "BOOTSTRAP", "EVENT"], required = true)]
    case: Vec<String>,
}

struct Case {
    name: String,
    bootstrap: PathBuf,
    event: Bytes,
}

/// What the bootstrap did, as the fake API saw it.
enum Seen {
    Next(Instant),
    Response(Instant, Bytes),
    Error(Instant, Bytes),
    InitError(Bytes),
}

struct Shared {
    event: Bytes,
    nexts: AtomicU32,
    seen: mpsc::UnboundedSender<Seen>,
}

struct Run {
    init: Duration,
    invoke: Duration,
    outcome: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cases = args
        .case
        .chunks(3)
        .map(|c| {
            let event = std::fs::read(&c[2]).with_context(|| format!("reading {}", c[2]))?;
            Ok(Case {
                name: c[0].clone(),
                bootstrap: PathBuf::from(&c[1]),
                event: Bytes::from(event),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let timeout = Duration::from_secs(args.timeout_secs);

    for case in &cases {
        run_once(case, timeout, None)
            .await
            .with_context(|| format!("{}: warm-up run", case.name))?;
    }
    let mut results: Vec<Vec<Run>> = cases.iter().map(|_| Vec::new()).collect();
    for i in 0..args.runs {
        for (case, runs) in cases.iter().zip(&mut results) {
            let log = (i + 1 == args.runs)
                .then(|| {
                    args.log_dir
                        .as_ref()
                        .map(|d| d.join(format!("{}.log", case.name)))
                })
                .flatten();
            let run = run_once(case, timeout, log.as_deref())
                .await
                .with_context(|| format!("{}: run {}", case.name, i + 1))?;
            runs.push(run);
        }
    }

    for (case, runs) in cases.iter().zip(results) {
        let init = Stats::of(runs.iter().map(|r| r.init));
        let invoke = Stats::of(runs.iter().map(|r| r.invoke));
        let mut outcomes: Vec<&str> = runs.iter().map(|r| r.outcome.as_str()).collect();
        outcomes.dedup();
        println!(
            "{}",
            serde_json::json!({
                "case": case.name,
                "runs": runs.len(),
                "init_ms": init.median, "init_min_ms": init.min, "init_max_ms": init.max,
                "invoke_ms": invoke.median, "invoke_min_ms": invoke.min, "invoke_max_ms": invoke.max,
                "outcome": outcomes.join(" | "),
            })
        );
    }
    Ok(())
}

/// Median, minimum and maximum in milliseconds.
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn of(durations: impl Iterator<Item = Duration>) -> Self {
        let mut ms: Vec<f64> = durations.map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let n = ms.len();
        let median = if n % 2 == 1 {
            ms[n / 2]
        } else {
            (ms[n / 2 - 1] + ms[n / 2]) / 2.0
        };
        let round = |v: f64| (v * 100.0).round() / 100.0;
        Self {
            median: round(median),
            min: round(ms[0]),
            max: round(ms[n - 1]),
        }
    }
}

/// One cold start: a fresh Runtime API on a random port, the bootstrap exec'd against it,
/// stopped once it has answered the event.
async fn run_once(case: &Case, timeout: Duration, log: Option<&Path>) -> anyhow::Result<Run> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        event: case.event.clone(),
        nexts: AtomicU32::new(0),
        seen: tx,
    });
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let (stdout, stderr) = match log {
        Some(path) => {
            let file = std::fs::File::create(path)?;
            (Stdio::from(file.try_clone()?), Stdio::from(file))
        }
        None => (Stdio::null(), Stdio::null()),
    };
    let mut command = tokio::process::Command::new(&case.bootstrap);
    command
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &case.name)
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", case.name),
        )
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("exec {}", case.bootstrap.display()))?;

    let result = tokio::time::timeout(timeout, async {
        let mut first_next = None;
        loop {
            tokio::select! {
                seen = rx.recv() => match seen {
                    Some(Seen::Next(at)) => { first_next.get_or_insert(at); }
                    Some(Seen::Response(at, body)) | Some(Seen::Error(at, body)) if first_next.is_some() => {
                        let next = first_next.unwrap_or(at);
                        return Ok(Run { init: next - started, invoke: at - next, outcome: describe(&body) });
                    }
                    Some(Seen::InitError(body)) => bail!("init error: {}", String::from_utf8_lossy(&body)),
                    Some(_) => bail!("an answer before any event"),
                    None => bail!("the fake API stopped"),
                },
                status = child.wait() => bail!("the bootstrap exited ({status:?}) before answering"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| bail!("no answer within {timeout:?}"));

    let _ = child.kill().await;
    server.abort();
    result
}

/// The answer in a few words: an API Gateway response's status, a batch's item failures,
/// or an invocation error's type.
fn describe(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return "response (not JSON)".into();
    };
    if let Some(kind) = value.get("errorType").and_then(|t| t.as_str()) {
        return format!("invocation error {kind}");
    }
    if let Some(status) = value.get("statusCode") {
        return format!("response, statusCode {status}");
    }
    if let Some(failures) = value.get("batchItemFailures").and_then(|f| f.as_array()) {
        return format!("response, {} batch item failure(s)", failures.len());
    }
    "response".into()
}

async fn next(State(shared): State<Arc<Shared>>) -> axum::response::Response {
    let at = Instant::now();
    if shared.nexts.fetch_add(1, Ordering::SeqCst) > 0 {
        // The event was handed out: the bootstrap waits here, as on Lambda, until stopped.
        std::future::pending::<()>().await;
    }
    let _ = shared.seen.send(Seen::Next(at));
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + 10_000;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", REQUEST_ID);
    set("lambda-runtime-deadline-ms", &deadline.to_string());
    set("lambda-runtime-invoked-function-arn", FUNCTION_ARN);
    set("lambda-runtime-trace-id", TRACE_ID);
    set("content-type", "application/json");
    (StatusCode::OK, headers, shared.event.clone()).into_response()
}

async fn response(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let _ = shared.seen.send(Seen::Response(Instant::now(), body));
    StatusCode::ACCEPTED
}

async fn error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let _ = shared.seen.send(Seen::Error(Instant::now(), body));
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let _ = shared.seen.send(Seen::InitError(body));
    StatusCode::ACCEPTED
}
