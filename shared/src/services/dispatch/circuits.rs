//! The circuits of the endpoints this dispatcher sends to (see `domain::circuit`), one per
//! subscription, kept only while it has failures counted: a healthy endpoint costs a map
//! lookup and no entry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::domain::SubscriptionId;
use crate::domain::circuit::{Circuit, CircuitPolicy, Pass, Reach, Transition};

pub struct Circuits {
    policy: CircuitPolicy,
    circuits: Mutex<HashMap<SubscriptionId, Circuit>>,
}

impl Circuits {
    pub fn new(policy: CircuitPolicy) -> Self {
        Self {
            policy,
            circuits: Mutex::new(HashMap::new()),
        }
    }

    fn circuits(&self) -> std::sync::MutexGuard<'_, HashMap<SubscriptionId, Circuit>> {
        self.circuits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a delivery to `subscription` falling due now may be sent.
    pub fn pass(&self, subscription: &SubscriptionId) -> Pass {
        if !self.policy.enabled() {
            return Pass::Go;
        }
        self.circuits()
            .get_mut(subscription)
            .map_or(Pass::Go, |c| c.pass(Instant::now()))
    }

    /// Takes in what an attempt sent to `subscription` found.
    pub fn observe(&self, subscription: &SubscriptionId, reach: Reach) -> Option<Transition> {
        if !self.policy.enabled() {
            return None;
        }
        let mut circuits = self.circuits();
        if reach == Reach::Answered && !circuits.contains_key(subscription) {
            return None;
        }
        let circuit = circuits.entry(subscription.clone()).or_default();
        let transition = circuit.observe(self.policy, reach, Instant::now());
        if circuit.is_clear() {
            circuits.remove(subscription);
        }
        transition
    }
}
