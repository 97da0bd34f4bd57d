//! A subscription's rate limit: at most so many deliveries a second to its endpoint, across
//! every dispatcher at once.
//!
//! Deliveries to a limited subscription go out on a grid of slots `1 / limit` apart. Each
//! one reserves the next free slot from a schedule every dispatcher shares (one item per
//! subscription in the store, advanced atomically), then waits for it: in the dispatcher
//! when it is near ([`RateLimit::NEAR`]), otherwise on the queue, held back with the slot
//! it reserved, to come back and go at it. One slot per delivery and one delivery per slot,
//! so any second holds at most `limit` POSTs, however many dispatchers share the load. Held
//! back is not an attempt: see `services::dispatch` for how it waits.

use std::num::NonZeroU32;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ValidationError;

/// Deliveries per second, 1 to [`RateLimit::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct RateLimit(NonZeroU32);

impl RateLimit {
    pub const MAX: u32 = 1000;
    /// A slot at most this far ahead is waited for in the dispatcher; a later one on the
    /// queue.
    pub const NEAR: Duration = Duration::from_secs(1);

    pub fn new(per_second: u32) -> Result<Self, ValidationError> {
        NonZeroU32::new(per_second)
            .filter(|n| n.get() <= Self::MAX)
            .map(Self)
            .ok_or_else(|| {
                ValidationError::new(
                    "rate_limit",
                    format!(
                        "must be a whole number of deliveries per second from 1 to {}",
                        Self::MAX
                    ),
                )
            })
    }

    pub fn per_second(self) -> u32 {
        self.0.get()
    }

    /// The time between two slots.
    pub fn step(self) -> Duration {
        Duration::from_secs(1) / self.per_second()
    }

    /// What a delivery holding `slot` does `now`.
    pub fn admit(slot: DateTime<Utc>, now: DateTime<Utc>) -> Admission {
        let wait = (slot - now).to_std().unwrap_or_default();
        if wait <= Self::NEAR {
            Admission::Go(wait)
        } else {
            Admission::HoldBack(wait)
        }
    }
}

/// What a delivery does with the slot it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It goes after this pause (at most [`RateLimit::NEAR`]).
    Go(Duration),
    /// It waits this long on the queue, keeping its slot.
    HoldBack(Duration),
}

/// The next free slot of a schedule whose next free slot was `next` (none: never used):
/// the slot a delivery asking `now` gets, and the schedule's next free slot after it.
pub fn reserve(
    next: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    step: Duration,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let slot = next.filter(|n| *n > now).unwrap_or(now);
    let step = chrono::Duration::from_std(step).unwrap_or_default();
    (slot, slot + step)
}

impl TryFrom<u32> for RateLimit {
    type Error = ValidationError;

    fn try_from(per_second: u32) -> Result<Self, Self::Error> {
        Self::new(per_second)
    }
}

impl From<RateLimit> for u32 {
    fn from(limit: RateLimit) -> Self {
        limit.per_second()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_numbers_from_one_to_the_maximum() {
        assert_eq!(RateLimit::new(50).unwrap().per_second(), 50);
        for bad in [0, RateLimit::MAX + 1] {
            let e = RateLimit::new(bad).unwrap_err();
            assert_eq!(e.field, "rate_limit");
        }
        assert!(serde_json::from_str::<RateLimit>("0").is_err());
        assert_eq!(
            serde_json::to_string(&RateLimit::new(7).unwrap()).unwrap(),
            "7"
        );
        assert_eq!(
            RateLimit::new(50).unwrap().step(),
            Duration::from_millis(20)
        );
    }

    #[test]
    fn slots_are_one_step_apart_from_now_or_from_the_schedule_ahead_of_it() {
        let now = Utc::now();
        let step = Duration::from_millis(20);
        let ms = chrono::Duration::milliseconds;
        // An idle schedule (never used, or behind now) starts at now.
        assert_eq!(reserve(None, now, step), (now, now + ms(20)));
        assert_eq!(reserve(Some(now - ms(500)), now, step), (now, now + ms(20)));
        // A busy one hands out its next slot.
        assert_eq!(
            reserve(Some(now + ms(40)), now, step),
            (now + ms(40), now + ms(60))
        );
    }

    #[test]
    fn a_burst_takes_one_slot_each_and_goes_at_the_limit() {
        let limit = RateLimit::new(50).unwrap();
        let now = Utc::now();
        let mut next = None;
        let mut per_second = std::collections::BTreeMap::<i64, u32>::new();
        let mut held_back = 0;
        for _ in 0..2000 {
            let (slot, after) = reserve(next, now, limit.step());
            next = Some(after);
            *per_second.entry((slot - now).num_seconds()).or_default() += 1;
            if let Admission::HoldBack(_) = RateLimit::admit(slot, now) {
                held_back += 1;
            }
        }
        assert_eq!(per_second.len(), 40);
        assert!(per_second.values().all(|n| *n == 50));
        assert_eq!(
            held_back,
            2000 - 51,
            "those more than a second ahead wait on the queue"
        );
    }
}
