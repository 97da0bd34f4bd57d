//! What a dispatcher remembers between deliveries: the subscriptions and tenant settings it
//! read, each for `TIDINGS_SUBSCRIPTION_CACHE_SECS`, so that a busy endpoint costs one read
//! per container and period instead of one per delivery. A change made through the API
//! reaches a dispatcher within that period; what the dispatcher changes itself (a
//! subscription's health, its deactivation) it writes through to its own copy at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept at most; past it the cache starts afresh (a burst of reads, then warm).
const CAPACITY: usize = 10_000;

/// A map whose entries are good for `ttl` after they were read. A zero `ttl` keeps nothing.
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<K, (Instant, V)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether it keeps anything (its `ttl` is not zero).
    pub fn keeps(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The value read for `key` less than `ttl` ago.
    pub fn get(&self, key: &K) -> Option<V> {
        if !self.keeps() {
            return None;
        }
        let entries = self.entries();
        let (read_at, value) = entries.get(key)?;
        (read_at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Remembers what was just read for `key`.
    pub fn insert(&self, key: K, value: V) {
        if !self.keeps() {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Applies a change this process made to the stored value to its copy, if it has one.
    pub fn update(&self, key: &K, change: impl FnOnce(&mut V)) {
        if let Some((_, value)) = self.entries().get_mut(key) {
            change(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl_and_a_zero_ttl_keeps_nothing() {
        let cache = TtlCache::new(Duration::from_secs(60));
        cache.insert("a", 1);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.update(&"a", |v| *v = 2);
        assert_eq!(cache.get(&"a"), Some(2));

        let short = TtlCache::new(Duration::from_millis(1));
        short.insert("a", 1);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(short.get(&"a"), None);

        let off = TtlCache::new(Duration::ZERO);
        assert!(!off.keeps() && cache.keeps());
        off.insert("a", 1);
        assert_eq!(off.get(&"a"), None);
    }

    #[test]
    fn a_full_cache_starts_afresh() {
        let cache = TtlCache::new(Duration::from_secs(60));
        for i in 0..CAPACITY {
            cache.insert(i, i);
        }
        cache.insert(CAPACITY, CAPACITY);
        assert_eq!(cache.get(&0), None);
        assert_eq!(cache.get(&CAPACITY), Some(CAPACITY));
    }
}
