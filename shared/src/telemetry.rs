//! Logging setup: JSON lines on Lambda (CloudWatch adds the time), readable lines locally.
//! `RUST_LOG` filters both, `info` by default: a level, and `target=level` pairs separated by
//! commas (`info,tidings::metrics=debug`). It is read as a [`Targets`] filter, not an
//! `EnvFilter`, whose span and field directives need a regex engine that made the Lambda
//! bootstraps larger (README, "Lambda cold start and bootstrap size"); a value that does not
//! parse means `info`.
//!
//! A log line inside a span carries the span's fields: the dispatcher opens one per
//! delivery with its `tenant`, `event`, `delivery` and `subscription` ids, which on Lambda
//! appear under the line's `span` object. Metric lines ([`crate::metrics`]) are not log
//! lines: they are written to stdout as they are, never wrapped in a log object.

use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

fn filter() -> Targets {
    parse_filter(std::env::var("RUST_LOG").ok().as_deref())
}

fn parse_filter(value: Option<&str>) -> Targets {
    value
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// The Lambda functions' logger, writing JSON lines to `writer` (tests pass a buffer).
pub fn json_subscriber<W>(writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let lines = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(writer)
        .with_target(false)
        .with_current_span(true)
        .with_span_list(false)
        .without_time();
    tracing_subscriber::registry().with(filter()).with(lines)
}

pub fn init_lambda() {
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = json_subscriber(std::io::stdout).try_init();
}

/// The local runner's logger: readable lines, written to `writer` (tests pass a buffer).
pub fn local_subscriber<W>(writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    use tracing_subscriber::field::MakeExt as _;
    // `name=value` pairs as the default formatter writes them, without its styling: the
    // dispatcher formats a span's four ids for every delivery, and the default's per-field
    // style wrappers were half of that cost (see README, Performance).
    let fields =
        tracing_subscriber::fmt::format::debug_fn(|writer, field, value| match field.name() {
            "message" => write!(writer, "{value:?}"),
            name => write!(writer, "{name}={value:?}"),
        })
        .delimited(" ");
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_target(false)
        .fmt_fields(fields);
    tracing_subscriber::registry().with(filter()).with(lines)
}

pub fn init_local() {
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = local_subscriber(std::io::stdout).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    /// What `tidings-local` prints: the span's ids and the line's fields as `name=value`
    /// pairs, the message bare (read without the colour codes a terminal gets).
    #[test]
    fn local_lines_carry_the_span_ids_and_fields_as_name_value_pairs() {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let logger = local_subscriber(move || writer.clone());
        tracing::subscriber::with_default(logger, || {
            let span = tracing::info_span!("delivery", tenant = %"acme", delivery = %"dlv_1");
            let _entered = span.enter();
            tracing::info!(attempt = 2, error = %"refused", reason = "gone", "attempt failed");
        });
        let raw = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        // Colour codes (`ESC [ … m`) around the level and the span's name, when colours are on.
        let mut text = String::new();
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                chars.by_ref().find(|c| *c == 'm');
            } else {
                text.push(c);
            }
        }
        assert!(
            text.contains(
                "delivery{tenant=acme delivery=dlv_1}: attempt failed attempt=2 error=refused reason=\"gone\""
            ),
            "{text}"
        );
    }

    #[test]
    fn rust_log_reads_as_a_level_and_target_levels() {
        let default = parse_filter(None);
        assert!(default.would_enable("tidings", &Level::INFO));
        assert!(!default.would_enable("tidings", &Level::DEBUG));
        assert!(parse_filter(Some("")).would_enable("x", &Level::INFO));
        assert!(!parse_filter(Some("[bad")).would_enable("x", &Level::DEBUG));

        let some_debug = parse_filter(Some("info,tidings::metrics=debug"));
        assert!(some_debug.would_enable("tidings::metrics", &Level::DEBUG));
        assert!(!some_debug.would_enable("tidings::http", &Level::DEBUG));
        assert!(some_debug.would_enable("aws_config", &Level::INFO));
        assert!(parse_filter(Some("debug")).would_enable("anything", &Level::DEBUG));
    }
}
