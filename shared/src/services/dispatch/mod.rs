//! Delivering: one batch of queue messages in, each one signed and POSTed concurrently,
//! each attempt recorded, failures handed back for SQS to retry after their backoff.
//!
//! [`Dispatcher::handle_batch`] is what the Lambda function runs for an SQS event and what
//! the local runner's poller runs for its embedded queue.
//!
//! A message may carry several deliveries of one event (ingest sends an event's first
//! attempts to all its subscriptions in one message, for a fraction of the queue requests).
//! Each is handled as its own message would be; one that must be tried again goes on in a
//! new message of its own, sent with its backoff as the delay (SQS's `DelaySeconds`, at
//! most 15 minutes: a longer wait is finished by a visibility change when it comes back
//! early), and the shared message is done once those are sent. If they cannot be sent, the
//! shared message is handed back whole: its deliveries that succeeded are not POSTed again
//! (their records say so).

mod cache;
mod circuits;
mod client;
mod sqs_event;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::join_all;
use tracing::{Instrument, debug, info, info_span, warn};

pub use client::{ClientError, DeliveryClient, USER_AGENT, add_own_headers};

use crate::Backend;
use crate::config::Config;
use crate::domain::catalog;
use crate::domain::circuit::{Pass, Reach, Transition};
use crate::domain::rfc3339;
use crate::domain::{
    Admission, AttemptLog, DeliveryMessage, DeliveryRecord, DeliveryStatus, DeploymentKeys,
    RateLimit, SentAs, Subscription, SubscriptionId, TenantId, TenantSettings, WireContext,
};
use crate::egress::GuardedResolver;
use crate::metrics::{CircuitChange, DeliveryIds, DeliveryOutcome, Success};
use crate::ports::queue::{self, OutgoingMessage, ReceivedMessage};
use crate::ports::store::StoreError;
use crate::services::events;
use crate::signing::RsaSigningKey;
use cache::TtlCache;
use circuits::Circuits;

pub struct Dispatcher {
    backend: Backend,
    config: Config,
    client: DeliveryClient,
    /// The deployment's JWS keys, read at most once a [`JWS_KEYS_TTL`] per container.
    jws_keys: tokio::sync::Mutex<Option<(Instant, Arc<DeploymentKeys>)>>,
    /// Subscriptions (`None`: deleted) and tenant settings, kept for
    /// `TIDINGS_SUBSCRIPTION_CACHE_SECS`; shared, so that a delivery does not copy its
    /// subscription (URL, secrets, filter) out of the cache.
    subscriptions: TtlCache<(TenantId, SubscriptionId), Option<Arc<Subscription>>>,
    tenants: TtlCache<TenantId, TenantSettings>,
    /// Successful deliveries not yet reported: each batch ends with one metric line for them.
    successes: std::sync::Mutex<Vec<Success>>,
    /// Endpoints that keep failing, and whether to send to them (`domain::circuit`).
    circuits: Circuits,
    /// What Saleor's dialect names this deployment by ([`Config::public_domain`],
    /// [`Config::saleor_api_url`]), worked out once instead of for every delivery.
    public_domain: String,
    saleor_api_url: String,
}

/// How long a container signs with the JWS keys it read before reading them again: a
/// rotation reaches every dispatcher within this, well inside the rotation's overlap.
const JWS_KEYS_TTL: Duration = Duration::from_secs(60);

/// Where a delivery travels: a queue message of its own, or a part of one that carries
/// several deliveries of an event (retries of such a part are sent in `later`).
enum Carrier<'a> {
    Own(&'a ReceivedMessage),
    Part {
        message: &'a ReceivedMessage,
        /// The part, as a message of its own.
        part: &'a DeliveryMessage,
        later: &'a std::sync::Mutex<Vec<OutgoingMessage>>,
    },
}

impl Carrier<'_> {
    /// The queue message as received.
    fn received(&self) -> &ReceivedMessage {
        match self {
            Self::Own(message) | Self::Part { message, .. } => message,
        }
    }

    /// For a part of a shared message: queues `delivery` to go on as a message of its own,
    /// visible after `delay` (the shared message's retries are sent together once all its
    /// parts are handled). `false` for a message of its own, which is handed back instead.
    fn resend_later(&self, delivery: &DeliveryMessage, delay: Duration) -> bool {
        let Self::Part { later, .. } = self else {
            return false;
        };
        let mut later = later.lock().unwrap_or_else(|e| e.into_inner());
        let entry = delayed(delivery, delay, later.len());
        later.push(entry);
        true
    }

    /// This delivery's message body.
    fn body(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::Own(message) => (*message.body).into(),
            Self::Part { part, .. } => json_body(part).into(),
        }
    }
}

/// `delivery` as a message of its own, made visible after `delay` (up to SQS's 15 minutes;
/// a longer delay is finished on its return, through its `not_before`).
fn delayed(delivery: &DeliveryMessage, delay: Duration, entry: usize) -> OutgoingMessage {
    let not_before = (delay > queue::MAX_DELAY)
        .then(|| {
            chrono::Duration::from_std(delay)
                .ok()
                .map(|d| Utc::now() + d)
        })
        .flatten();
    // A part of a shared message, or a retry that needs no `not_before`, is already the
    // message to send: serialised as it is, without a copy of its event.
    let body = if delivery.more.is_empty() && delivery.not_before == not_before {
        json_body(delivery)
    } else {
        json_body(&DeliveryMessage {
            not_before,
            more: Vec::new(),
            ..delivery.clone()
        })
    };
    OutgoingMessage {
        delay: delay.min(queue::MAX_DELAY),
        ..OutgoingMessage::new(entry.to_string(), body)
    }
}

fn json_body(message: &DeliveryMessage) -> String {
    // A message of owned strings and JSON values always serialises.
    serde_json::to_string(message).unwrap_or_default()
}

/// A reserved rate-limit slot this far in the past belongs to an earlier attempt.
const STALE_SLOT: chrono::Duration = chrono::Duration::seconds(2);

/// How early a retry may come back and still be attempted: the queue's timing is not exact.
const EARLY_SLACK: Duration = Duration::from_secs(5);

/// What the queue should do with each message of a batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Message ids to hand back to the queue (SQS's `batchItemFailures`); every other
    /// message of the batch is done and may be deleted.
    pub failed: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    Done,
    Retry,
}

/// The result of one POST.
struct Attempt {
    status_code: Option<u16>,
    error: Option<String>,
    duration: Duration,
    /// What a 429 or 503 answer's `Retry-After` asked for.
    retry_after: Option<Duration>,
    response_body: Option<String>,
    /// How old the event was (from its timestamp) when the POST went out.
    event_age: Duration,
    /// No request was made: the endpoint's circuit is open.
    held_by_circuit: bool,
}

impl Attempt {
    fn gone(&self) -> bool {
        self.status_code == Some(410)
    }
}

impl Dispatcher {
    /// Builds the delivery client once; call this once per Lambda container or process.
    pub fn new(backend: Backend, config: Config) -> Result<Self, ClientError> {
        let resolver = GuardedResolver::new(config.egress);
        Self::with_resolver(backend, config, resolver)
    }

    /// As [`Dispatcher::new`], resolving names with `resolver` (tests map names with it).
    pub fn with_resolver(
        backend: Backend,
        config: Config,
        resolver: GuardedResolver,
    ) -> Result<Self, ClientError> {
        let client = DeliveryClient::new(&config, resolver)?;
        Ok(Self {
            subscriptions: TtlCache::new(config.subscription_cache),
            tenants: TtlCache::new(config.subscription_cache),
            successes: std::sync::Mutex::new(Vec::new()),
            circuits: Circuits::new(config.circuit),
            public_domain: config.public_domain(),
            saleor_api_url: config.saleor_api_url(),
            backend,
            config,
            client,
            jws_keys: tokio::sync::Mutex::new(None),
        })
    }

    pub async fn handle_batch(&self, messages: &[ReceivedMessage]) -> BatchOutcome {
        self.config.metrics.batch(messages.len());
        let dispositions = join_all(messages.iter().map(|m| self.handle(m))).await;
        self.report_successes();
        BatchOutcome {
            failed: messages
                .iter()
                .zip(dispositions)
                .filter(|(_, d)| *d == Disposition::Retry)
                .map(|(m, _)| m.message_id.clone())
                .collect(),
        }
    }

    /// One message on its own, as the local runner's poller hands them over (each in its
    /// own task, so a slow endpoint holds up no other delivery): `true` when it is settled
    /// and may be deleted, `false` when the queue must hand it out again.
    pub async fn handle_message(&self, message: &ReceivedMessage) -> bool {
        let done = self.handle(message).await == Disposition::Done;
        self.report_successes();
        done
    }

    /// The metric line of the successes not yet reported.
    fn report_successes(&self) {
        let successes =
            std::mem::take(&mut *self.successes.lock().unwrap_or_else(|e| e.into_inner()));
        self.config.metrics.succeeded(&successes);
    }

    async fn handle(&self, message: &ReceivedMessage) -> Disposition {
        let delivery: DeliveryMessage = match serde_json::from_str(&message.body) {
            Ok(d) => d,
            Err(e) => {
                let reason = format!("unreadable delivery message: {e}");
                let disposition = self.dead_letter(&Carrier::Own(message), &reason).await;
                if disposition == Disposition::Done {
                    self.config
                        .metrics
                        .delivery(DeliveryOutcome::DeadLettered, None, None);
                }
                return disposition;
            }
        };
        if delivery.more.is_empty() {
            return self.deliver_traced(&Carrier::Own(message), &delivery).await;
        }
        let later = std::sync::Mutex::new(Vec::new());
        let parts = delivery.split();
        join_all(parts.iter().map(|part| {
            let later = &later;
            async move {
                let carrier = Carrier::Part {
                    message,
                    part,
                    later,
                };
                self.deliver_traced(&carrier, part).await
            }
        }))
        .await;
        let later = later.into_inner().unwrap_or_else(|e| e.into_inner());
        let Some(soonest) = later.iter().map(|m| m.delay).min() else {
            return Disposition::Done;
        };
        match queue::send_all(self.backend.queue.as_ref(), &later).await {
            Ok(()) => Disposition::Done,
            Err(e) => {
                warn!(error = %e, "cannot send the retries of a shared message; handing it back");
                self.hand_back(&Carrier::Own(message), soonest).await
            }
        }
    }

    /// Delivers one delivery, every log line about it carrying its ids (the span's fields).
    async fn deliver_traced(
        &self,
        carrier: &Carrier<'_>,
        delivery: &DeliveryMessage,
    ) -> Disposition {
        let span = info_span!(
            "delivery",
            tenant = %delivery.tenant,
            event = %delivery.event.id,
            delivery = %delivery.delivery_id,
            subscription = %delivery.subscription_id,
        );
        self.deliver(carrier, delivery).instrument(span).await
    }

    async fn deliver(&self, message: &Carrier<'_>, delivery: &DeliveryMessage) -> Disposition {
        // A retry sent as a message of its own with a backoff longer than SQS's longest
        // delay comes back early: it waits out the rest without an attempt.
        let early = delivery
            .not_before
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .filter(|wait| *wait > EARLY_SLACK);
        if let Some(wait) = early {
            info!(?wait, "back before its backoff ended; waiting for the rest");
            return self.hand_back(message, wait).await;
        }
        let mut record = match self
            .backend
            .deliveries
            .get_delivery_relaxed(&delivery.tenant, &delivery.delivery_id)
            .await
        {
            Ok(Some(_)) if delivery.repeat => {
                // The producer posted the event again; the first message carries it.
                info!("a repeat of a delivery already under way");
                return Disposition::Done;
            }
            Ok(r) => r.unwrap_or_else(|| DeliveryRecord::pending(delivery, self.expires_at())),
            Err(e) => {
                warn!(error = %e, "cannot read the delivery record");
                return self.back_off(message).await;
            }
        };
        match record.status {
            DeliveryStatus::Succeeded | DeliveryStatus::Skipped => {
                // SQS delivered this message again after it was settled: never POST it twice.
                info!(status = ?record.status, "already settled");
                return Disposition::Done;
            }
            DeliveryStatus::Dead => {
                // Redriven from the dead-letter queue: a new round of attempts.
                record.restart();
            }
            DeliveryStatus::Pending | DeliveryStatus::Failed => {}
        }
        let subscription = match self
            .subscription(&delivery.tenant, &delivery.subscription_id)
            .await
        {
            Ok(Some(s)) if s.active => s,
            Ok(found) => {
                let reason = if found.is_some() {
                    "subscription is inactive"
                } else {
                    "subscription was deleted"
                };
                return self.skip(record, reason).await;
            }
            Err(e) => {
                warn!(error = %e, "cannot read the subscription");
                return self.back_off(message).await;
            }
        };
        // A delivery's last attempt is always sent (nothing is dead-lettered unheard), and so
        // is a test event: an operator who fixed the endpoint sends one to close the circuit.
        let always = record.attempts + 1 >= self.config.retry.max_attempts()
            || delivery.event.event_type.as_str() == events::TEST_EVENT_TYPE;
        if let Pass::Open { until } = self.circuits.pass(subscription.url.as_str())
            && !always
        {
            return self.not_sent(message, delivery, record, until).await;
        }
        if let Some(limit) = subscription.rate_limit {
            let now = Utc::now();
            // The slot it reserved before it was held back, unless that is long gone (this
            // is a later attempt).
            let held = delivery.slot.filter(|slot| *slot + STALE_SLOT >= now);
            let slot = match held {
                Some(slot) => slot,
                None => match self
                    .backend
                    .rates
                    .reserve_slot(
                        &delivery.tenant,
                        &delivery.subscription_id,
                        now,
                        limit.step(),
                    )
                    .await
                {
                    Ok(slot) => slot,
                    Err(e) => {
                        warn!(error = %e, "cannot reserve a slot of the rate limit");
                        return self.back_off(message).await;
                    }
                },
            };
            match RateLimit::admit(slot, now) {
                Admission::Go(pause) => tokio::time::sleep(pause).await,
                Admission::HoldBack(wait) => {
                    return self.postpone(message, delivery, slot, wait).await;
                }
            }
        }
        let tenant = if subscription.needs_tenant_settings() {
            match self.tenant_settings(&delivery.tenant).await {
                Ok(settings) => settings,
                Err(e) => {
                    warn!(error = %e, "cannot read the tenant's settings");
                    return self.back_off(message).await;
                }
            }
        } else {
            TenantSettings::default()
        };
        let jws_keys = if subscription.uses_jws() {
            match self.deployment_keys().await {
                Ok(keys) => Some(keys),
                Err(e) => {
                    warn!(error = %e, "cannot read the JWS signing keys");
                    return self.back_off(message).await;
                }
            }
        } else {
            None
        };

        let jws_key = jws_keys.as_deref().map(|k| &k.current);
        // Boxed, here and for the rare paths below: the future of a delivery is moved into its
        // task whole, and these would make it several kilobytes for every delivery.
        let (attempt, sent) = Box::pin(self.post(&subscription, delivery, &tenant, jws_key)).await;
        if sent.is_some() {
            self.observe_circuit(&subscription, &attempt);
        }
        record.sent = sent.or(record.sent);
        self.track_health(&subscription, &attempt).await;
        self.settle(message, record, attempt).await
    }

    /// POSTs one delivery; also says how it went on the wire, when it got that far.
    async fn post(
        &self,
        subscription: &Subscription,
        delivery: &DeliveryMessage,
        tenant: &TenantSettings,
        jws_key: Option<&RsaSigningKey>,
    ) -> (Attempt, Option<SentAs>) {
        let started = Instant::now();
        let now = Utc::now();
        let event_age = (now - delivery.event.timestamp)
            .to_std()
            .unwrap_or_default();
        let failed = |error: String| Attempt {
            status_code: None,
            error: Some(error),
            duration: started.elapsed(),
            retry_after: None,
            response_body: None,
            event_age,
            held_by_circuit: false,
        };
        if let Err(e) = self.config.egress.check_url(&subscription.url) {
            return (failed(format!("endpoint refused: url {e}")), None);
        }
        let context = WireContext {
            tenant,
            public_domain: &self.public_domain,
            saleor_api_url: &self.saleor_api_url,
            jws_key,
        };
        let wire = match subscription.wire_request(&delivery.event, context, now) {
            Ok(wire) => wire,
            Err(e) => return (failed(e.to_string()), None),
        };
        // The request as the wire request has it, headers and all: no header is parsed or
        // copied again on the way.
        let answer = self
            .client
            .post(
                &subscription.url,
                wire.headers,
                wire.body,
                AttemptLog::BODY_PREFIX,
            )
            .await;
        let attempt = match answer {
            Ok(answer) => {
                let status = answer.status;
                let retry_after = match status.as_u16() {
                    429 | 503 => client::retry_after(&answer.headers, now),
                    _ => None,
                };
                Attempt {
                    status_code: Some(status.as_u16()),
                    error: (!status.is_success()).then(|| format!("endpoint answered {status}")),
                    duration: started.elapsed(),
                    retry_after,
                    response_body: answer.body_prefix,
                    event_age,
                    held_by_circuit: false,
                }
            }
            Err(e) => failed(e.to_string()),
        };
        (attempt, Some(wire.sent))
    }

    async fn settle(
        &self,
        message: &Carrier<'_>,
        mut record: DeliveryRecord,
        attempt: Attempt,
    ) -> Disposition {
        let now = Utc::now();
        let gone = attempt.gone();
        let timing = Some((attempt.duration, attempt.event_age));
        record.log_attempt(AttemptLog {
            at: now,
            status_code: attempt.status_code,
            error: attempt.error.clone(),
            duration_ms: attempt.duration.as_millis() as u64,
            response_body: attempt.response_body,
        });

        let Some(error) = attempt.error else {
            record.status = DeliveryStatus::Succeeded;
            self.save(&record).await;
            // Debug: at scale a line per success is most of the log bill, and the delivery
            // record already says it.
            debug!(attempts = record.attempts, "delivered");
            self.count(DeliveryOutcome::Succeeded, &record, timing);
            if record.attempts > 1 {
                Box::pin(self.tell_tenant(events::DELIVERY_RECOVERED, &record, None)).await;
            }
            return Disposition::Done;
        };
        let next = if gone {
            None
        } else {
            self.config
                .retry
                .delay_honouring(record.attempts, attempt.retry_after)
        };
        match next {
            Some(delay) => {
                record.status = DeliveryStatus::Failed;
                record.next_attempt_at = chrono::Duration::from_std(delay).ok().map(|d| now + d);
                self.save(&record).await;
                if !attempt.held_by_circuit {
                    info!(attempt = record.attempts, %error, ?delay, "attempt failed; retry scheduled");
                } else {
                    // The circuit's opening was logged; a line per delivery it holds is noise.
                    debug!(
                        attempt = record.attempts,
                        ?delay,
                        "not sent (circuit open); retry scheduled"
                    );
                }
                self.count(DeliveryOutcome::FailedAttempt, &record, timing);
                if record.attempts == self.config.failing_after {
                    Box::pin(self.tell_tenant(events::DELIVERY_FAILING, &record, None)).await;
                }
                self.hand_back(message, delay).await
            }
            None => {
                record.status = DeliveryStatus::Dead;
                self.save(&record).await;
                let reason = if gone {
                    format!("{error}: the endpoint is gone, so the subscription was deactivated")
                } else {
                    format!("all {} attempts failed; last: {error}", record.attempts)
                };
                let disposition = Box::pin(self.dead_letter(message, &reason)).await;
                let outcome = match disposition {
                    Disposition::Done => DeliveryOutcome::DeadLettered,
                    // Still on the queue: SQS's own redrive moves it in the end.
                    Disposition::Retry => DeliveryOutcome::FailedAttempt,
                };
                self.count(outcome, &record, timing);
                if disposition == Disposition::Done {
                    Box::pin(self.tell_tenant(events::DELIVERY_EXHAUSTED, &record, Some(&reason)))
                        .await;
                }
                disposition
            }
        }
    }

    /// An attempt made without a request, because the endpoint's circuit is open until
    /// `until`: recorded and retried as a failed attempt (it uses up the schedule and the
    /// receive as a refused POST would), minus the connect, the signing and the log line.
    async fn not_sent(
        &self,
        message: &Carrier<'_>,
        delivery: &DeliveryMessage,
        record: DeliveryRecord,
        until: Instant,
    ) -> Disposition {
        let reopens = chrono::Duration::from_std(until.saturating_duration_since(Instant::now()))
            .map(|wait| Utc::now() + wait)
            .unwrap_or_else(|_| Utc::now());
        let error = format!(
            "not sent: the endpoint's circuit is open until {} after {} failed attempts in a row",
            rfc3339::format(&reopens, chrono::SecondsFormat::Secs).as_str(),
            self.config.circuit.open_after,
        );
        let attempt = Attempt {
            status_code: None,
            error: Some(error),
            duration: Duration::ZERO,
            retry_after: None,
            response_body: None,
            event_age: (Utc::now() - delivery.event.timestamp)
                .to_std()
                .unwrap_or_default(),
            held_by_circuit: true,
        };
        self.settle(message, record, attempt).await
    }

    /// Tells the endpoint's circuit what an attempt that was sent found: no answer or a 5xx
    /// counts against it, any other answer closes it.
    fn observe_circuit(&self, subscription: &Subscription, attempt: &Attempt) {
        let reach = match attempt.status_code {
            Some(status) if status < 500 => Reach::Answered,
            _ => Reach::Unavailable,
        };
        let change = match self.circuits.observe(subscription.url.as_str(), reach) {
            Some(Transition::Opened { cooldown, failures }) => {
                warn!(
                    subscription = %subscription.id,
                    failures,
                    ?cooldown,
                    "endpoint unavailable: circuit open, its deliveries are not sent until a probe gets an answer"
                );
                CircuitChange::Opened
            }
            Some(Transition::Closed) => {
                info!(subscription = %subscription.id, "endpoint answered: circuit closed");
                CircuitChange::Closed
            }
            None => return,
        };
        self.config
            .metrics
            .circuit(change, &subscription.tenant, subscription.id.as_str());
    }

    /// Sends one of the `delivery.*` operational events about `record` to the tenant's
    /// subscriptions that name it. Never about an operational event's own delivery, so a
    /// failing endpoint subscribed to `delivery.*` cannot feed itself.
    async fn tell_tenant(&self, event_type: &str, record: &DeliveryRecord, reason: Option<&str>) {
        if catalog::is_operational(record.event_type.as_str()) {
            return;
        }
        let data = serde_json::json!({
            "delivery_id": record.delivery_id,
            "subscription_id": record.subscription_id,
            "event_id": record.event_id,
            "event_type": record.event_type,
            "attempts": record.attempts,
            "status_code": record.status_code,
            "last_error": record.last_error,
            "reason": reason,
        });
        if let Err(e) = events::emit_operational(
            &self.backend,
            &self.config,
            &record.tenant,
            event_type,
            data,
        )
        .await
        {
            warn!(error = %e, event_type, "cannot send an operational event");
        }
    }

    /// Keeps the subscription's `failing_since` up to date, and switches it off when the
    /// endpoint is gone (`410`) or has failed every attempt for `auto_disable_after`.
    async fn track_health(&self, subscription: &Subscription, attempt: &Attempt) {
        let succeeded = attempt.error.is_none();
        if succeeded && subscription.failing_since.is_none() {
            // Healthy and still so: the common case, settled without reading the clock.
            return;
        }
        let now = Utc::now();
        let reason = if attempt.gone() {
            Some("the endpoint answered 410 Gone".to_owned())
        } else {
            subscription
                .failing_since
                .filter(|since| {
                    !succeeded
                        && now - *since
                            >= chrono::Duration::from_std(self.config.auto_disable_after)
                                .unwrap_or_default()
                })
                .map(|since| {
                    format!(
                        "every attempt since {} failed",
                        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    )
                })
        };
        let failing_since = match (succeeded, subscription.failing_since) {
            // (A success with no failures before returned above.)
            (true, _) => None,
            (false, None) => Some(now),
            (false, Some(_)) if reason.is_none() => return,
            (false, since) => since,
        };
        let store = &self.backend.subscriptions;
        if let Err(e) = store
            .set_subscription_health(
                &subscription.tenant,
                &subscription.id,
                failing_since,
                reason.is_some(),
            )
            .await
        {
            warn!(error = %e, subscription = %subscription.id, "cannot record the endpoint's health");
            return;
        }
        let deactivated = reason.is_some();
        let key = (subscription.tenant.clone(), subscription.id.clone());
        self.subscriptions.update(&key, |cached| {
            if let Some(s) = cached {
                let s = Arc::make_mut(s);
                s.failing_since = failing_since;
                s.active &= !deactivated;
            }
        });
        let Some(reason) = reason else { return };
        warn!(subscription = %subscription.id, %reason, "subscription deactivated");
        let data = serde_json::json!({
            "subscription_id": subscription.id,
            "url": subscription.url,
            "reason": reason,
            "failing_since": failing_since,
        });
        if let Err(e) = events::emit_operational(
            &self.backend,
            &self.config,
            &subscription.tenant,
            events::SUBSCRIPTION_DISABLED,
            data,
        )
        .await
        {
            warn!(error = %e, "cannot emit subscription.disabled");
        }
    }

    /// The subscription (`None` once deleted), from this container's cache while it is fresh.
    async fn subscription(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Option<Arc<Subscription>>, StoreError> {
        // The key is made only when there is a cache (off by default locally): two copies
        // of ids a delivery would otherwise make for nothing.
        let key = self
            .subscriptions
            .keeps()
            .then(|| (tenant.clone(), id.clone()));
        if let Some(cached) = key.as_ref().and_then(|key| self.subscriptions.get(key)) {
            return Ok(cached);
        }
        let read = self
            .backend
            .subscriptions
            .get_subscription_shared(tenant, id)
            .await?;
        if let Some(key) = key {
            self.subscriptions.insert(key, read.clone());
        }
        Ok(read)
    }

    /// The tenant's settings, from this container's cache while they are fresh.
    async fn tenant_settings(&self, tenant: &TenantId) -> Result<TenantSettings, StoreError> {
        if let Some(cached) = self.tenants.get(tenant) {
            return Ok(cached);
        }
        let read = self.backend.tenants.get_tenant_settings(tenant).await?;
        self.tenants.insert(tenant.clone(), read.clone());
        Ok(read)
    }

    /// The deployment's JWS keys, from this container's cache while it is fresh.
    async fn deployment_keys(&self) -> Result<Arc<DeploymentKeys>, crate::services::ServiceError> {
        let mut cached = self.jws_keys.lock().await;
        if let Some((read_at, keys)) = cached.as_ref()
            && read_at.elapsed() < JWS_KEYS_TTL
        {
            return Ok(keys.clone());
        }
        let keys = Arc::new(crate::services::signing_keys::current(&self.backend).await?);
        *cached = Some((Instant::now(), keys.clone()));
        Ok(keys)
    }

    /// Hands a message back after a read it needed failed (a store outage): with the jittered
    /// backoff a failed POST gets at this receive, not the queue's whole visibility timeout.
    /// Each receive counts towards `maxReceiveCount`, so an outage longer than the schedule
    /// dead-letters the delivery, which a redrive then sends.
    async fn back_off(&self, message: &Carrier<'_>) -> Disposition {
        let retry = &self.config.retry;
        match retry
            .delay_after(message.received().receive_count)
            .or_else(|| retry.delay_after(1))
        {
            Some(delay) => self.hand_back(message, delay).await,
            None => Disposition::Retry,
        }
    }

    /// Holds a delivery back for its subscription's rate limit: it goes on the queue again as
    /// a new message that becomes visible after `wait`, and this one is done. Not an
    /// attempt: nothing is recorded, the retry schedule is not used up, and the new
    /// message's receive count starts afresh, so throttling never uses up the queue's
    /// `maxReceiveCount` nor dead-letters anything. If that send fails, the message is
    /// handed back instead (which does count one receive).
    async fn postpone(
        &self,
        message: &Carrier<'_>,
        delivery: &DeliveryMessage,
        slot: chrono::DateTime<Utc>,
        wait: Duration,
    ) -> Disposition {
        info!(?wait, "held back by the subscription's rate limit");
        let holding = DeliveryMessage {
            slot: Some(slot),
            ..delivery.clone()
        };
        // Back within a second before its slot (SQS delays are whole seconds, rounded up),
        // to wait out the rest in the dispatcher and go at it.
        let delay = wait.saturating_sub(RateLimit::NEAR);
        if message.resend_later(&holding, delay) {
            return Disposition::Retry;
        }
        let again = delayed(&holding, delay, 0);
        match queue::send_all(self.backend.queue.as_ref(), &[again]).await {
            Ok(()) => Disposition::Done,
            Err(e) => {
                warn!(error = %e, "cannot put the held-back delivery on the queue again");
                self.hand_back(message, wait).await
            }
        }
    }

    /// Makes the message visible again after `delay`: this is how backoff is scheduled. A
    /// part of a shared message is sent again on its own, with `delay` as its delay.
    async fn hand_back(&self, message: &Carrier<'_>, delay: Duration) -> Disposition {
        let message = match message {
            Carrier::Own(message) => message,
            Carrier::Part { part, .. } => {
                message.resend_later(part, delay);
                return Disposition::Retry;
            }
        };
        if let Err(e) = self
            .backend
            .queue
            .change_visibility(&message.receipt_handle, delay)
            .await
        {
            // The message still comes back, after the queue's own visibility timeout.
            warn!(error = %e, "cannot set the backoff; the queue's default applies");
        }
        Disposition::Retry
    }

    async fn skip(&self, mut record: DeliveryRecord, reason: &str) -> Disposition {
        record.status = DeliveryStatus::Skipped;
        record.last_error = Some(reason.to_owned());
        self.save(&record).await;
        info!(reason, "skipped");
        self.count(DeliveryOutcome::Skipped, &record, None);
        Disposition::Done
    }

    async fn dead_letter(&self, message: &Carrier<'_>, reason: &str) -> Disposition {
        match self
            .backend
            .queue
            .dead_letter(&message.body(), reason)
            .await
        {
            Ok(()) => {
                let id = &message.received().message_id;
                warn!(message = %id, reason, "moved to the dead-letter queue");
                Disposition::Done
            }
            Err(e) => {
                // Keep the message: the queue's own redrive will move it in the end (a
                // part of a shared message goes on in a message of its own, to the same
                // end).
                warn!(error = %e, "cannot dead-letter the message; leaving it on the queue");
                match message {
                    Carrier::Own(_) => Disposition::Retry,
                    Carrier::Part { .. } => self.hand_back(message, Duration::ZERO).await,
                }
            }
        }
    }

    /// Recording is for visibility; a failed write must not turn a delivered webhook into a
    /// re-sent one, so it is logged and the delivery goes on.
    async fn save(&self, record: &DeliveryRecord) {
        if let Err(e) = self.backend.deliveries.put_delivery(record).await {
            warn!(error = %e, "cannot record the attempt");
        }
    }

    /// One delivery's metric line: its outcome, and the attempt's timing when there was one.
    /// Successes are summed into the batch's line instead.
    fn count(
        &self,
        outcome: DeliveryOutcome,
        record: &DeliveryRecord,
        timing: Option<(Duration, Duration)>,
    ) {
        if let (DeliveryOutcome::Succeeded, Some((duration, event_age))) = (outcome, timing) {
            // Kept for the batch's metric line only when there is one to write (not on the
            // local runner, whose metrics are off).
            if self.config.metrics.on() {
                self.successes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Success {
                        tenant: record.tenant.clone(),
                        duration,
                        event_age,
                    });
            }
            return;
        }
        let ids = DeliveryIds {
            tenant: &record.tenant,
            event: record.event_id.as_str(),
            delivery: &record.delivery_id,
            subscription: record.subscription_id.as_str(),
        };
        self.config.metrics.delivery(outcome, Some(ids), timing);
    }

    fn expires_at(&self) -> i64 {
        (Utc::now() + self.config.record_ttl).timestamp()
    }
}
