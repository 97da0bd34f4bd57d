//! The retry schedule: stated once, read by the dispatcher, and checked against the
//! queue's `maxReceiveCount` in `template.yaml` by a test.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

use crate::ids;

/// SQS refuses a visibility timeout above 12 hours.
pub const MAX_DELAY: Duration = Duration::from_secs(12 * 60 * 60);

/// Delays between attempts, the first attempt being immediate. Eight attempts by default:
/// immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, about a day and a quarter.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    /// Each delay is moved by up to ± this fraction, so failures do not retry in lockstep.
    jitter: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("retry schedule: {0}")]
pub struct ScheduleError(String);

impl RetrySchedule {
    pub const DEFAULT: &'static str = "5s,5m,30m,2h,5h,10h,10h";
    const JITTER: f64 = 0.2;

    pub fn new(delays: Vec<Duration>) -> Result<Self, ScheduleError> {
        if let Some(d) = delays.iter().find(|d| **d > MAX_DELAY) {
            return Err(ScheduleError(format!(
                "{}s is longer than SQS's 12 h visibility limit",
                d.as_secs()
            )));
        }
        Ok(Self {
            delays,
            jitter: Self::JITTER,
        })
    }

    /// The same schedule without jitter, for tests that check exact delays.
    pub fn without_jitter(mut self) -> Self {
        self.jitter = 0.0;
        self
    }

    /// Attempts in all, the first one included: the queue's `maxReceiveCount`.
    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32 + 1
    }

    /// The nominal wait after failed attempt number `attempt` (1-based), or `None` when it
    /// was the last one.
    pub fn nominal_delay_after(&self, attempt: u32) -> Option<Duration> {
        let index = usize::try_from(attempt).ok()?.checked_sub(1)?;
        self.delays.get(index).copied()
    }

    /// The wait after failed attempt `attempt`, with jitter, never above SQS's limit.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        let nominal = self.nominal_delay_after(attempt)?;
        let factor = 1.0 + self.jitter * (2.0 * ids::random_unit() - 1.0);
        Some(nominal.mul_f64(factor).min(MAX_DELAY))
    }
}

impl RetrySchedule {
    /// The wait after failed attempt `attempt` when the endpoint asked, with `Retry-After`,
    /// to wait `retry_after`: at least the schedule's own delay, and no longer than the step
    /// after it (nor SQS's 12 h limit), so a receiver can slow retries but not stall them.
    pub fn delay_honouring(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let delay = self.delay_after(attempt)?;
        let Some(asked) = retry_after else {
            return Some(delay);
        };
        let ceiling = self
            .nominal_delay_after(attempt + 1)
            .unwrap_or(delay)
            .max(delay)
            .min(MAX_DELAY);
        Some(asked.clamp(delay, ceiling))
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self::DEFAULT
            .parse()
            .expect("the default schedule is valid")
    }
}

impl FromStr for RetrySchedule {
    type Err = ScheduleError;

    /// A comma-separated list of delays such as `5s,5m,30m,2h`; an empty string means a
    /// single attempt.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let delays = s
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(parse_duration)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(delays)
    }
}

impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.delays.iter().map(|d| format_duration(*d)).collect();
        f.write_str(&parts.join(","))
    }
}

fn parse_duration(part: &str) -> Result<Duration, ScheduleError> {
    let split = part
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(part.len());
    let (number, unit) = part.split_at(split);
    let n: u64 = number.parse().map_err(|_| {
        ScheduleError(format!(
            "'{part}' is not a number followed by ms, s, m or h"
        ))
    })?;
    let duration = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => {
            return Err(ScheduleError(format!(
                "'{part}' is not a number followed by ms, s, m or h"
            )));
        }
    };
    Ok(duration)
}

fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_millis() != 0 || secs == 0 {
        format!("{}ms", d.as_millis())
    } else if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_svix_like_schedule() {
        let s = RetrySchedule::default();
        assert_eq!(s.max_attempts(), 8);
        assert_eq!(s.nominal_delay_after(1), Some(Duration::from_secs(5)));
        assert_eq!(s.nominal_delay_after(2), Some(Duration::from_secs(300)));
        assert_eq!(s.nominal_delay_after(7), Some(Duration::from_secs(36_000)));
        assert_eq!(
            s.nominal_delay_after(8),
            None,
            "the eighth attempt is the last"
        );
        assert_eq!(s.nominal_delay_after(0), None);
        assert_eq!(s.to_string(), RetrySchedule::DEFAULT);
    }

    #[test]
    fn barecommerce_schedule_is_expressible() {
        // Immediately, 5 s, 25 s, 2 min, 10 min.
        let s: RetrySchedule = "5s,25s,2m,10m".parse().unwrap();
        assert_eq!(s.max_attempts(), 5);
        assert_eq!(s.nominal_delay_after(4), Some(Duration::from_secs(600)));
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let s = RetrySchedule::default();
        for _ in 0..200 {
            let d = s.delay_after(2).unwrap().as_secs_f64();
            assert!((240.0..=360.0).contains(&d), "{d}");
        }
        let exact = RetrySchedule::default().without_jitter();
        assert_eq!(exact.delay_after(2), Some(Duration::from_secs(300)));
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let s = RetrySchedule::default().without_jitter();
        let secs = Duration::from_secs;
        // Asked for longer than the 5 s step: granted, up to the next step (5 min).
        assert_eq!(s.delay_honouring(1, Some(secs(60))), Some(secs(60)));
        assert_eq!(s.delay_honouring(1, Some(secs(3600))), Some(secs(300)));
        // Asked for shorter: the schedule's own delay still applies.
        assert_eq!(s.delay_honouring(2, Some(secs(1))), Some(secs(300)));
        // The last step has no next one: its own delay is the ceiling.
        assert_eq!(s.delay_honouring(7, Some(secs(86_400))), Some(secs(36_000)));
        assert_eq!(
            s.delay_honouring(8, Some(secs(10))),
            None,
            "no attempt left"
        );
        assert_eq!(s.delay_honouring(3, None), Some(secs(1800)));
    }

    #[test]
    fn bad_schedules_are_refused() {
        assert!("5x".parse::<RetrySchedule>().is_err());
        assert!("five".parse::<RetrySchedule>().is_err());
        assert!(
            "13h".parse::<RetrySchedule>().is_err(),
            "above SQS's visibility limit"
        );
        assert_eq!("".parse::<RetrySchedule>().unwrap().max_attempts(), 1);
        assert_eq!(
            "100ms, 1s".parse::<RetrySchedule>().unwrap().to_string(),
            "100ms,1s"
        );
    }
}
