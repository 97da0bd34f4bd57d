//! An endpoint's circuit breaker: after so many attempts in a row found it unavailable, a
//! dispatcher stops sending to it for a cool-down, then lets one delivery through as a probe.
//!
//! Why: a dead endpoint's deliveries keep falling due (each new event, each retry), and
//! every attempt at it costs a connect (or a timeout), a signature and a log line on the
//! same cores and the same concurrency as every other tenant's deliveries. While the circuit
//! is open a delivery falling due is recorded as a failed attempt *without a request*: it
//! keeps its retry schedule, its receive count and its way to the dead-letter queue exactly
//! as a refused POST would, so no guarantee changes; only the connect is saved. A
//! delivery's last attempt is always sent for real (the dispatcher's rule), so nothing is
//! dead-lettered on the circuit's word alone.
//!
//! - **Unavailable** is no answer (refused, reset, timed out, TLS or DNS failure) or a 5xx.
//!   Any other answer, even a 4xx, shows the endpoint is up and closes the circuit.
//! - **Opens** after [`CircuitPolicy::open_after`] unavailable attempts in a row, for
//!   [`CircuitPolicy::cooldown`].
//! - **Probe**: the first delivery falling due after the cool-down is sent; the circuit
//!   stays shut to the others for another cool-down meanwhile. A probe that fails doubles
//!   the cool-down (up to [`CircuitPolicy::MAX_COOLDOWN`]); one that gets an answer closes it.
//! - The state is per dispatcher (one per Lambda container, one per local runner): each
//!   learns of a dead endpoint from its own attempts, which keeps it free of store reads.

use std::time::{Duration, Instant};

/// When circuits open and how long they stay open (`TIDINGS_CIRCUIT_OPEN_AFTER`,
/// `TIDINGS_CIRCUIT_COOLDOWN_SECS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitPolicy {
    /// Unavailable attempts in a row that open the circuit; 0 never opens it.
    pub open_after: u32,
    /// The first cool-down; each failed probe doubles it.
    pub cooldown: Duration,
}

impl Default for CircuitPolicy {
    fn default() -> Self {
        Self {
            open_after: 5,
            cooldown: Duration::from_secs(5),
        }
    }
}

impl CircuitPolicy {
    /// The longest cool-down: an endpoint that comes back is used again within this.
    pub const MAX_COOLDOWN: Duration = Duration::from_secs(120);

    pub fn enabled(self) -> bool {
        self.open_after > 0
    }
}

/// What an attempt showed of its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// It answered, whatever the status (but a 5xx).
    Answered,
    /// No answer, or a 5xx.
    Unavailable,
}

/// What a delivery falling due may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Send it (the circuit is closed).
    Go,
    /// Send it as the probe of an open circuit.
    Probe,
    /// Do not send it: the circuit is open until then.
    Open { until: Instant },
}

/// A change worth telling on-call about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Opened (or opened again by a failed probe) for this long.
    Opened { cooldown: Duration, failures: u32 },
    /// An open circuit closed: the endpoint answered.
    Closed,
}

/// One endpoint's circuit. The default is closed with no failures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Circuit {
    /// Unavailable attempts in a row.
    failures: u32,
    open: Option<Open>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Open {
    until: Instant,
    cooldown: Duration,
    /// A probe was let through and has not reported yet.
    probing: bool,
}

impl Circuit {
    /// Whether a delivery falling due `now` may be sent. Lets one probe through once the
    /// cool-down is over (and again if that probe never reports within another cool-down).
    pub fn pass(&mut self, now: Instant) -> Pass {
        let Some(open) = self.open.as_mut() else {
            return Pass::Go;
        };
        if now < open.until {
            return Pass::Open { until: open.until };
        }
        open.until = now + open.cooldown;
        open.probing = true;
        Pass::Probe
    }

    /// Takes in what an attempt that was sent found.
    pub fn observe(
        &mut self,
        policy: CircuitPolicy,
        reach: Reach,
        now: Instant,
    ) -> Option<Transition> {
        match reach {
            Reach::Answered => {
                let was_open = self.open.is_some();
                *self = Self::default();
                was_open.then_some(Transition::Closed)
            }
            Reach::Unavailable => {
                self.failures = self.failures.saturating_add(1);
                match self.open.as_mut() {
                    None if policy.enabled() && self.failures >= policy.open_after => {
                        self.open = Some(Open {
                            until: now + policy.cooldown,
                            cooldown: policy.cooldown,
                            probing: false,
                        });
                        Some(Transition::Opened {
                            cooldown: policy.cooldown,
                            failures: self.failures,
                        })
                    }
                    Some(open) if open.probing => {
                        open.cooldown = (open.cooldown * 2)
                            .min(CircuitPolicy::MAX_COOLDOWN.max(policy.cooldown));
                        open.until = now + open.cooldown;
                        open.probing = false;
                        Some(Transition::Opened {
                            cooldown: open.cooldown,
                            failures: self.failures,
                        })
                    }
                    // Closed below the threshold, or an attempt that was already under way
                    // when the circuit opened.
                    _ => None,
                }
            }
        }
    }

    /// Closed with no failures counted: nothing worth keeping.
    pub fn is_clear(&self) -> bool {
        *self == Self::default()
    }

    /// Unavailable attempts in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: CircuitPolicy = CircuitPolicy {
        open_after: 3,
        cooldown: Duration::from_secs(5),
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn opened(circuit: &mut Circuit, t0: Instant) {
        for _ in 0..POLICY.open_after {
            assert_eq!(circuit.pass(t0), Pass::Go);
            circuit.observe(POLICY, Reach::Unavailable, t0);
        }
    }

    #[test]
    fn opens_after_the_threshold_of_unavailable_attempts_in_a_row() {
        let t0 = Instant::now();
        let mut c = Circuit::default();
        assert_eq!(c.observe(POLICY, Reach::Unavailable, t0), None);
        assert_eq!(c.observe(POLICY, Reach::Unavailable, t0), None);
        assert_eq!(c.pass(t0), Pass::Go);
        assert_eq!(
            c.observe(POLICY, Reach::Unavailable, t0),
            Some(Transition::Opened {
                cooldown: secs(5),
                failures: 3
            })
        );
        assert_eq!(
            c.pass(t0 + secs(4)),
            Pass::Open {
                until: t0 + secs(5)
            }
        );
    }

    #[test]
    fn an_answer_resets_the_count_so_failures_must_be_in_a_row() {
        let t0 = Instant::now();
        let mut c = Circuit::default();
        c.observe(POLICY, Reach::Unavailable, t0);
        c.observe(POLICY, Reach::Unavailable, t0);
        assert_eq!(c.observe(POLICY, Reach::Answered, t0), None);
        assert!(c.is_clear());
        c.observe(POLICY, Reach::Unavailable, t0);
        c.observe(POLICY, Reach::Unavailable, t0);
        assert_eq!(c.pass(t0), Pass::Go);
        assert_eq!(c.failures(), 2);
    }

    #[test]
    fn after_the_cooldown_one_probe_goes_and_the_others_wait_for_it() {
        let t0 = Instant::now();
        let mut c = Circuit::default();
        opened(&mut c, t0);
        assert_eq!(c.pass(t0 + secs(5)), Pass::Probe);
        // While the probe is out, the circuit stays shut for another cool-down.
        assert_eq!(
            c.pass(t0 + secs(6)),
            Pass::Open {
                until: t0 + secs(10)
            }
        );
    }

    #[test]
    fn a_failed_probe_doubles_the_cooldown_up_to_the_cap() {
        let t0 = Instant::now();
        let mut c = Circuit::default();
        opened(&mut c, t0);
        let mut now = t0;
        let mut cooldown = secs(5);
        for _ in 0..10 {
            now += cooldown;
            assert_eq!(c.pass(now), Pass::Probe);
            let Some(Transition::Opened { cooldown: next, .. }) =
                c.observe(POLICY, Reach::Unavailable, now)
            else {
                panic!("a failed probe opens the circuit again");
            };
            assert_eq!(next, (cooldown * 2).min(CircuitPolicy::MAX_COOLDOWN));
            cooldown = next;
            assert_eq!(
                c.pass(now + cooldown - secs(1)),
                Pass::Open {
                    until: now + cooldown
                }
            );
        }
        assert_eq!(cooldown, CircuitPolicy::MAX_COOLDOWN);
    }

    #[test]
    fn a_probe_that_gets_an_answer_closes_it_even_a_4xx() {
        let t0 = Instant::now();
        let mut c = Circuit::default();
        opened(&mut c, t0);
        assert_eq!(c.pass(t0 + secs(5)), Pass::Probe);
        assert_eq!(
            c.observe(POLICY, Reach::Answered, t0 + secs(5)),
            Some(Transition::Closed)
        );
        assert_eq!(c.pass(t0 + secs(5)), Pass::Go);
        assert!(c.is_clear());
    }

    #[test]
    fn failures_of_attempts_already_under_way_do_not_extend_an_open_circuit() {
        let t0 = Instant::now();
        let mut c = Circuit::default();
        opened(&mut c, t0);
        assert_eq!(c.observe(POLICY, Reach::Unavailable, t0 + secs(2)), None);
        assert_eq!(c.pass(t0 + secs(5)), Pass::Probe);
    }

    #[test]
    fn a_probe_that_never_reports_is_replaced_after_a_cooldown() {
        let t0 = Instant::now();
        let mut c = Circuit::default();
        opened(&mut c, t0);
        assert_eq!(c.pass(t0 + secs(5)), Pass::Probe);
        assert_eq!(c.pass(t0 + secs(10)), Pass::Probe);
    }

    #[test]
    fn open_after_zero_never_opens() {
        let off = CircuitPolicy {
            open_after: 0,
            ..POLICY
        };
        let t0 = Instant::now();
        let mut c = Circuit::default();
        for _ in 0..100 {
            assert_eq!(c.observe(off, Reach::Unavailable, t0), None);
        }
        assert_eq!(c.pass(t0), Pass::Go);
    }
}
