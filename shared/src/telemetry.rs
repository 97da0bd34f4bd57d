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

use std::cell::RefCell;
use std::fmt;

use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
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
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_target(false)
        .fmt_fields(NameValue);
    tracing_subscriber::registry().with(filter()).with(lines)
}

/// Fields as `name=value` pairs separated by spaces, as the default formatter writes them
/// without its styling (whose per-field wrappers were half the cost of a delivery's span:
/// docs/performance-history.md, "What holds (c), (e) and (f): the measurements"). Written
/// into a buffer of the thread's first, then in one piece: a span's fields go into a
/// `String` of their own, which would otherwise grow from empty through five allocations
/// for the dispatcher's four ids, for every delivery.
struct NameValue;

impl<'writer> FormatFields<'writer> for NameValue {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        thread_local! {
            static BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
        }
        BUFFER.with(|buffer| match buffer.try_borrow_mut() {
            Ok(mut buffer) => {
                buffer.clear();
                write_name_values(&mut *buffer, fields)?;
                let written = writer.write_str(&buffer);
                if buffer.capacity() > 4096 {
                    // One huge field does not keep its buffer for the thread's lifetime.
                    *buffer = String::new();
                }
                written
            }
            // Re-entered (a field whose formatting formats fields itself): straight to the
            // writer.
            Err(_) => write_name_values(&mut writer, fields),
        })
    }
}

fn write_name_values<R: RecordFields>(out: &mut dyn fmt::Write, fields: R) -> fmt::Result {
    struct Visitor<'a> {
        out: &'a mut dyn fmt::Write,
        first: bool,
        result: fmt::Result,
    }
    impl Visit for Visitor<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            if self.result.is_err() {
                return;
            }
            let delimiter = if self.first { "" } else { " " };
            self.first = false;
            self.result = match field.name() {
                "message" => write!(self.out, "{delimiter}{value:?}"),
                name => write!(self.out, "{delimiter}{name}={value:?}"),
            };
        }
    }
    let mut visitor = Visitor {
        out,
        first: true,
        result: Ok(()),
    };
    fields.record(&mut visitor);
    visitor.result
}

pub fn init_local() {
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = local_subscriber(std::io::stdout).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    /// What `tidings-local` prints while `log` runs, without the colour codes a terminal
    /// gets.
    fn local_text(log: impl FnOnce()) -> String {
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
        tracing::subscriber::with_default(logger, log);
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
        text
    }

    /// The span's ids and the line's fields as `name=value` pairs, the message bare.
    #[test]
    fn local_lines_carry_the_span_ids_and_fields_as_name_value_pairs() {
        let text = local_text(|| {
            let span = tracing::info_span!("delivery", tenant = %"acme", delivery = %"dlv_1");
            let _entered = span.enter();
            tracing::info!(attempt = 2, error = %"refused", reason = "gone", "attempt failed");
        });
        assert!(
            text.contains(
                "delivery{tenant=acme delivery=dlv_1}: attempt failed attempt=2 error=refused reason=\"gone\""
            ),
            "{text}"
        );
    }

    /// A field that logs while it is formatted: its line is dropped (tracing does not
    /// dispatch from inside a dispatch), the line it is part of comes out whole.
    #[test]
    fn a_field_that_logs_while_formatted_leaves_its_line_whole() {
        struct Chatty;
        impl fmt::Debug for Chatty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                tracing::info!(inner = 1, "formatting");
                f.write_str("chatty")
            }
        }
        let text = local_text(|| {
            let span = tracing::info_span!("delivery", tenant = %"acme", field = ?Chatty);
            let _entered = span.enter();
            tracing::info!(attempt = 3, "outer");
        });
        assert!(
            text.contains("delivery{tenant=acme field=chatty}: outer attempt=3"),
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
