//! Identifiers and random material.

use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A new sortable unique id with the given prefix, e.g. `evt_01JD7Y2Q8ZV6M3N4P5R6S7T8U9`.
///
/// ULIDs sort by creation time, so listings and DynamoDB sort keys come out in order.
pub fn new_id(prefix: &str) -> String {
    // One generator per process keeps ids made in the same millisecond in order.
    static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let id = generator
        .get_or_insert_with(ulid::Generator::new)
        .generate()
        .unwrap_or_else(|_| ulid::Ulid::new());
    format!("{prefix}_{id}")
}

/// `n` bytes from the operating system's random source.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    // The OS random source failing is not something a webhook service can recover from.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    bytes
}

/// A random token: `prefix` followed by 32 random bytes in URL-safe base64.
pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes(32)))
}

/// A uniformly distributed number in `[0, 1)`, for jitter: from a generator kept per thread
/// (seeded once), not the OS's random source, which costs a system call each time and would
/// be one on every failed attempt. Jitter needs spread, not secrecy.
pub fn random_unit() -> f64 {
    fastrand::f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_unique_and_sortable() {
        let ids: Vec<String> = (0..1000).map(|_| new_id("evt")).collect();
        assert!(
            ids[0].starts_with("evt_") && ids[0].len() == 30,
            "{}",
            ids[0]
        );
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "later ids sort after earlier ones"
        );
    }

    #[test]
    fn random_unit_stays_in_range_and_spreads() {
        let draws: Vec<f64> = (0..1000).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        // Jitter that spreads: both halves of the range come up, and hardly a repeat.
        assert!(draws.iter().any(|x| *x < 0.5) && draws.iter().any(|x| *x >= 0.5));
        let mut distinct = draws.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        assert!(distinct.len() > 990, "{} distinct of 1000", distinct.len());
    }
}
