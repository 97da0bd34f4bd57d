//! Logging setup: JSON lines on Lambda (CloudWatch adds the time), readable lines locally.
//! `RUST_LOG` filters both, `info` by default.
//!
//! A log line inside a span carries the span's fields: the dispatcher opens one per
//! delivery with its `tenant`, `event`, `delivery` and `subscription` ids, which on Lambda
//! appear under the line's `span` object. Metric lines ([`crate::metrics`]) are not log
//! lines: they are written to stdout as they are, never wrapped in a log object.

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The Lambda functions' logger, writing JSON lines to `writer` (tests pass a buffer).
pub fn json_subscriber<W>(writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter())
        .with_writer(writer)
        .with_target(false)
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .finish()
}

pub fn init_lambda() {
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = json_subscriber(std::io::stdout).try_init();
}

pub fn init_local() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_target(false)
        .try_init();
}
