//! RFC 3339 timestamps in UTC, exactly as chrono's `to_rfc3339_opts(_, true)` writes them,
//! but into a buffer on the stack: every delivery record, queue message and body carries
//! a few, and chrono's formatting machinery (a `String` and `fmt::write` each) was a
//! measurable share of an attempt's CPU. Years outside 0000–9999 and leap seconds, which
//! no clock here produces, are left to chrono. A binary format (the embedded store's packed
//! delivery records) gets numbers instead of text.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A timestamp's text.
pub enum Text {
    Stack {
        buf: [u8; 30],
        len: usize,
    },
    /// What chrono wrote, for the times the fast path leaves to it.
    Chrono(String),
}

impl Text {
    pub fn as_str(&self) -> &str {
        match self {
            // Only ASCII digits and separators are written into the buffer.
            Self::Stack { buf, len } => std::str::from_utf8(&buf[..*len]).unwrap_or_default(),
            Self::Chrono(s) => s,
        }
    }
}

/// `t` as chrono's `to_rfc3339_opts(precision, true)` writes it.
pub fn format(t: &DateTime<Utc>, precision: SecondsFormat) -> Text {
    let (year, nano) = (t.year(), t.nanosecond());
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        return Text::Chrono(t.to_rfc3339_opts(precision, true));
    }
    let mut w = Writer {
        buf: [0; 30],
        len: 0,
    };
    w.digits(year as u32, 4);
    for (sep, value) in [(b'-', t.month()), (b'-', t.day())] {
        w.byte(sep);
        w.digits(value, 2);
    }
    for (sep, value) in [(b'T', t.hour()), (b':', t.minute()), (b':', t.second())] {
        w.byte(sep);
        w.digits(value, 2);
    }
    let fraction = fraction_digits(precision, nano);
    if fraction > 0 {
        w.byte(b'.');
        w.digits(nano / 10u32.pow(9 - fraction), fraction);
    }
    w.byte(b'Z');
    Text::Stack {
        buf: w.buf,
        len: w.len,
    }
}

struct Writer {
    buf: [u8; 30],
    len: usize,
}

impl Writer {
    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `value`'s last `width` decimal digits, zero-padded.
    fn digits(&mut self, value: u32, width: u32) {
        for i in (0..width).rev() {
            self.byte(b'0' + (value / 10u32.pow(i) % 10) as u8);
        }
    }
}

/// How many digits of the second's fraction `precision` writes of `nano` nanoseconds.
fn fraction_digits(precision: SecondsFormat, nano: u32) -> u32 {
    match precision {
        SecondsFormat::Secs => 0,
        SecondsFormat::Millis => 3,
        SecondsFormat::Micros => 6,
        SecondsFormat::Nanos => 9,
        _ if nano == 0 => 0,
        _ if nano.is_multiple_of(1_000_000) => 3,
        _ if nano.is_multiple_of(1_000) => 6,
        _ => 9,
    }
}

/// Reads an RFC 3339 timestamp, borrowing the text where the format allows; from a binary
/// format, the seconds and nanoseconds [`serialize`] wrote there.
pub fn parse<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    if !d.is_human_readable() {
        let (secs, nanos) = <(i64, u32)>::deserialize(d)?;
        return DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| serde::de::Error::custom("timestamp out of range"));
    }
    let s = std::borrow::Cow::<str>::deserialize(d)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(serde::de::Error::custom)
}

/// Writes `t` with `precision`: as text in JSON, and in a binary format (the embedded
/// store's packed records) as its seconds and nanoseconds since the epoch, cut to
/// `precision` as the text is. A record carries a few timestamps and is rewritten at every
/// attempt; as numbers they take a third of the bytes and no text to write or parse.
pub fn serialize<S: Serializer>(
    t: &DateTime<Utc>,
    precision: SecondsFormat,
    s: S,
) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        return s.serialize_str(format(t, precision).as_str());
    }
    let nanos = t.timestamp_subsec_nanos();
    let unit = 10u32.pow(9 - fraction_digits(precision, nanos));
    (t.timestamp(), nanos / unit * unit).serialize(s)
}

/// A timestamp and the precision to write it with, as a value of its own: for a field that
/// is not a bare timestamp (an `Option`, say) to write it as [`serialize`] does.
pub struct Precise<'a>(pub &'a DateTime<Utc>, pub SecondsFormat);

impl Serialize for Precise<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize(self.0, self.1, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const PRECISIONS: [SecondsFormat; 5] = [
        SecondsFormat::Secs,
        SecondsFormat::Millis,
        SecondsFormat::Micros,
        SecondsFormat::Nanos,
        SecondsFormat::AutoSi,
    ];

    fn check(t: DateTime<Utc>) {
        for precision in PRECISIONS {
            assert_eq!(
                format(&t, precision).as_str(),
                t.to_rfc3339_opts(precision, true),
                "{t:?} {precision:?}"
            );
        }
    }

    /// The embedded store packs records with `postcard`: what it reads back must be what
    /// JSON (the API, DynamoDB) reads back, to the precision written. (RFC 3339 text has
    /// four-digit years only.)
    fn binary_reads_back_as_text_does(t: DateTime<Utc>) {
        if !(0..=9999).contains(&t.year()) {
            return;
        }
        for precision in PRECISIONS {
            let packed = postcard::to_allocvec(&Precise(&t, precision)).unwrap();
            let text = serde_json::to_string(&Precise(&t, precision)).unwrap();
            let from_packed = parse(&mut postcard::Deserializer::from_bytes(&packed)).unwrap();
            let from_text = parse(&mut serde_json::Deserializer::from_str(&text)).unwrap();
            assert_eq!(from_packed, from_text, "{t:?} {precision:?}");
            assert!(packed.len() < text.len(), "{t:?} {precision:?}");
        }
    }

    #[test]
    fn writes_what_chrono_writes_at_the_edges() {
        for (secs, nano) in [
            (0, 0),
            (0, 1),
            (1_764_144_000, 123_000_000),
            (1_764_144_000, 123_456_000),
            (1_764_144_000, 123_456_789),
            (1_764_144_000, 999_999_999),
            (253_402_300_799, 0),   // 9999-12-31T23:59:59
            (253_402_300_800, 0),   // year 10000: chrono's
            (-62_167_219_200, 0),   // 0000-01-01
            (-62_167_219_201, 500), // year -1: chrono's
        ] {
            check(Utc.timestamp_opt(secs, nano).unwrap());
            binary_reads_back_as_text_does(Utc.timestamp_opt(secs, nano).unwrap());
        }
    }

    proptest! {
        #[test]
        fn writes_what_chrono_writes(secs in -62_167_219_200i64..253_402_300_800, nano in 0u32..1_000_000_000, round in 0u32..3) {
            // Whole milli- and microseconds too, where AutoSi writes fewer digits.
            let nano = match round { 0 => nano / 1_000_000 * 1_000_000, 1 => nano / 1_000 * 1_000, _ => nano };
            check(Utc.timestamp_opt(secs, nano).unwrap());
            binary_reads_back_as_text_does(Utc.timestamp_opt(secs, nano).unwrap());
        }
    }
}
