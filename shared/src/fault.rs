//! Failures on cue for the in-memory adapters, so tests can make exactly one call fail.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct Faults {
    pending: Mutex<HashMap<&'static str, usize>>,
}

impl Faults {
    pub fn fail_next(&self, operation: &'static str, count: usize) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        *pending.entry(operation).or_default() += count;
    }

    /// Whether this call of `operation` should fail, using up one planned failure.
    pub fn should_fail(&self, operation: &'static str) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.get_mut(operation) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}
