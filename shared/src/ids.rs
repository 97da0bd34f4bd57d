//! Identifiers and random material.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A new sortable unique id with the given prefix, e.g. `evt_01JD7Y2Q8ZV6M3N4P5R6S7T8U9`.
///
/// ULIDs sort by creation time, so listings and DynamoDB sort keys come out in order.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
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

/// A uniformly distributed number in `[0, 1)`, for jitter.
pub fn random_unit() -> f64 {
    let bytes = random_bytes(8);
    let n = u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]));
    (n >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_unique_and_sortable() {
        let a = new_id("evt");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("evt");
        assert!(a.starts_with("evt_") && a.len() == 30, "{a}");
        assert_ne!(a, b);
        assert!(a < b, "later ids sort after earlier ones");
    }

    #[test]
    fn random_unit_stays_in_range() {
        for _ in 0..1000 {
            let x = random_unit();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
