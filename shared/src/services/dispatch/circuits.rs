//! The circuits of the endpoints this dispatcher sends to (see `domain::circuit`), one per
//! endpoint URL (so a subscription moved to a new URL starts afresh, and subscriptions
//! sharing an endpoint share what is learnt of it), kept only while it has failures
//! counted: a healthy endpoint costs a map lookup and no entry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::domain::circuit::{Circuit, CircuitPolicy, Pass, Reach, Transition};

pub struct Circuits {
    policy: CircuitPolicy,
    circuits: Mutex<HashMap<String, Circuit>>,
}

impl Circuits {
    pub fn new(policy: CircuitPolicy) -> Self {
        Self {
            policy,
            circuits: Mutex::new(HashMap::new()),
        }
    }

    fn circuits(&self) -> std::sync::MutexGuard<'_, HashMap<String, Circuit>> {
        self.circuits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a delivery to `endpoint` falling due now may be sent.
    pub fn pass(&self, endpoint: &str) -> Pass {
        if !self.policy.enabled() {
            return Pass::Go;
        }
        self.circuits()
            .get_mut(endpoint)
            .map_or(Pass::Go, |c| c.pass(Instant::now()))
    }

    /// Takes in what an attempt sent to `endpoint` found.
    pub fn observe(&self, endpoint: &str, reach: Reach) -> Option<Transition> {
        if !self.policy.enabled() {
            return None;
        }
        let mut circuits = self.circuits();
        if reach == Reach::Answered && !circuits.contains_key(endpoint) {
            return None;
        }
        let circuit = circuits.entry(endpoint.to_owned()).or_default();
        let transition = circuit.observe(self.policy, reach, Instant::now());
        if circuit.is_clear() {
            circuits.remove(endpoint);
        }
        transition
    }
}
