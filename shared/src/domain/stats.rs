//! Endpoint stats: success rate, attempts, attempt durations and the last success and
//! failure, over the last 24 hours and the last 7 days, from the attempts Tidings keeps.

use chrono::{DateTime, Duration, Utc};

use super::AttemptLog;

/// One window's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowStats {
    pub attempts: u64,
    pub succeeded: u64,
    /// `succeeded / attempts`; `None` without attempts.
    pub success_rate: Option<f64>,
    pub p50_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_failure: Option<DateTime<Utc>>,
}

/// The last 24 hours and the last 7 days.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointStats {
    pub day: WindowStats,
    pub week: WindowStats,
}

impl EndpointStats {
    /// The window the stats reach back.
    pub const REACH: Duration = Duration::days(7);

    /// From every attempt of the endpoint's deliveries, at `now`.
    pub fn from_attempts<'a>(
        attempts: impl IntoIterator<Item = &'a AttemptLog>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut day = Vec::new();
        let mut week = Vec::new();
        for attempt in attempts {
            let age = now - attempt.at;
            if age < Duration::zero() || age > Self::REACH {
                continue;
            }
            week.push(attempt);
            if age <= Duration::days(1) {
                day.push(attempt);
            }
        }
        Self {
            day: window(&day),
            week: window(&week),
        }
    }
}

fn window(attempts: &[&AttemptLog]) -> WindowStats {
    let succeeded = attempts.iter().filter(|a| a.error.is_none()).count() as u64;
    let mut durations: Vec<u64> = attempts.iter().map(|a| a.duration_ms).collect();
    durations.sort_unstable();
    let last = |ok: bool| {
        attempts
            .iter()
            .filter(|a| a.error.is_none() == ok)
            .map(|a| a.at)
            .max()
    };
    WindowStats {
        attempts: attempts.len() as u64,
        succeeded,
        success_rate: (!attempts.is_empty()).then(|| succeeded as f64 / attempts.len() as f64),
        p50_ms: percentile(&durations, 50),
        p99_ms: percentile(&durations, 99),
        last_success: last(true),
        last_failure: last(false),
    }
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(now: DateTime<Utc>, hours_ago: i64, ok: bool, ms: u64) -> AttemptLog {
        AttemptLog {
            at: now - Duration::hours(hours_ago),
            status_code: Some(if ok { 200 } else { 500 }),
            error: (!ok).then(|| "endpoint answered 500".to_owned()),
            duration_ms: ms,
            response_body: None,
        }
    }

    #[test]
    fn a_known_sequence_gives_known_figures() {
        let now = Utc::now();
        // 100 attempts in the last day: 90 succeed in 1..=90 ms, 10 fail in 1000 ms.
        let mut attempts: Vec<AttemptLog> = (1..=90).map(|ms| attempt(now, 1, true, ms)).collect();
        attempts.extend((0..10).map(|_| attempt(now, 2, false, 1000)));
        // Older than a day, within the week: 2 failures; older than a week: ignored.
        attempts.push(attempt(now, 30, false, 5));
        attempts.push(attempt(now, 50, false, 5));
        attempts.push(attempt(now, 24 * 8, true, 5));
        let stats = EndpointStats::from_attempts(&attempts, now);
        assert_eq!(stats.day.attempts, 100);
        assert_eq!(stats.day.succeeded, 90);
        assert_eq!(stats.day.success_rate, Some(0.9));
        assert_eq!(stats.day.p50_ms, Some(50));
        assert_eq!(stats.day.p99_ms, Some(1000));
        assert_eq!(stats.day.last_success, Some(now - Duration::hours(1)));
        assert_eq!(stats.day.last_failure, Some(now - Duration::hours(2)));
        assert_eq!(stats.week.attempts, 102);
        assert_eq!(stats.week.succeeded, 90);
        assert_eq!(stats.week.last_failure, Some(now - Duration::hours(2)));
        // 102 durations: 1..=90, two more 5 ms and ten 1000 ms; the 51st is 49 ms.
        assert_eq!(stats.week.p50_ms, Some(49));
    }

    #[test]
    fn no_attempts_no_figures() {
        let stats = EndpointStats::from_attempts(&[], Utc::now());
        assert_eq!(stats, EndpointStats::default());
    }
}
