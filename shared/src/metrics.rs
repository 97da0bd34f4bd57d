//! Metrics as CloudWatch Embedded Metric Format (EMF) lines: each one a bare JSON object on
//! its own line of the function's log, from which CloudWatch Logs extracts the metrics, so
//! publishing them costs no AWS call. Namespace [`NAMESPACE`], dimensions `Function` and
//! `Outcome` (and `Tenant`, when `TIDINGS_METRICS_TENANT_DIMENSION=true`).
//!
//! Where the lines go is a [`MetricsSink`]: stdout on Lambda (beside, never inside, the JSON
//! log lines), a debug-level log line in the local runner, or a [`Captured`] list in tests.
//!
//! CloudWatch Logs bills every byte ingested, so the common case is summed: the successful
//! deliveries of a batch make one line (their timings as arrays of up to 100 values, which
//! EMF allows), a batch of events one line per outcome. A delivery that did not succeed has
//! a line of its own, with its ids.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::domain::TenantId;

/// The CloudWatch namespace of every Tidings metric.
pub const NAMESPACE: &str = "Tidings";

/// The metric names, as the dashboard and the README name them.
pub mod names {
    /// Deliveries handled, by `Outcome` ([`super::DeliveryOutcome`]); Count.
    pub const DELIVERIES: &str = "Deliveries";
    /// How long one POST to an endpoint took; Milliseconds.
    pub const ATTEMPT_DURATION: &str = "AttemptDuration";
    /// How old the event was (from its timestamp) when it was POSTed; Milliseconds.
    pub const EVENT_AGE: &str = "EventAge";
    /// Messages in one batch handed to the dispatcher; Count.
    pub const BATCH_SIZE: &str = "BatchSize";
    /// Events posted to ingest, by `Outcome` ([`super::IngestOutcome`]); Count.
    pub const EVENTS: &str = "Events";
    /// Deliveries enqueued for one accepted event (its fan-out); Count.
    pub const DELIVERIES_ENQUEUED: &str = "DeliveriesEnqueued";
    /// Endpoint circuits that opened or closed, by `Outcome` ([`super::CircuitChange`]);
    /// Count.
    pub const ENDPOINT_CIRCUITS: &str = "EndpointCircuits";
}

/// A change of an endpoint's circuit (`domain::circuit`) in one dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitChange {
    /// Opened, or opened again by a failed probe: its deliveries are held.
    Opened,
    /// Closed: the endpoint answered.
    Closed,
}

impl CircuitChange {
    pub const ALL: [Self; 2] = [Self::Opened, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Closed => "closed",
        }
    }
}

/// What happened to one delivery message in the dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The endpoint answered 2xx.
    Succeeded,
    /// An attempt failed and another is scheduled.
    FailedAttempt,
    /// The last attempt failed (or the message was unreadable): moved to the dead letters.
    DeadLettered,
    /// Not sent: the subscription was deleted or deactivated.
    Skipped,
}

impl DeliveryOutcome {
    pub const ALL: [Self; 4] = [
        Self::Succeeded,
        Self::FailedAttempt,
        Self::DeadLettered,
        Self::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::FailedAttempt => "failed_attempt",
            Self::DeadLettered => "dead_lettered",
            Self::Skipped => "skipped",
        }
    }
}

/// How ingest answered one `POST /v1/events` from an authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// 202, first time this id was seen.
    Accepted,
    /// 202 with `duplicate: true`.
    Duplicate,
    /// A 4xx answer: invalid event, id reused, too large, wrong role.
    Refused,
    /// A 5xx answer: the store or the queue failed.
    Failed,
}

impl IngestOutcome {
    pub const ALL: [Self; 4] = [Self::Accepted, Self::Duplicate, Self::Refused, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

/// Where EMF lines are written.
pub trait MetricsSink: Send + Sync {
    /// Writes one EMF line (a JSON object, without the line break).
    fn write(&self, line: &str);

    /// Whether a line written now goes anywhere: when not, it is not even built.
    fn enabled(&self) -> bool {
        true
    }
}

/// Stdout, one whole line per write: what CloudWatch Logs reads on Lambda.
pub struct Stdout;

impl MetricsSink for Stdout {
    fn write(&self, line: &str) {
        use std::io::Write;
        // One locked write of the line and its break: never interleaved with a log line.
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(format!("{line}\n").as_bytes());
        let _ = out.flush();
    }
}

/// A debug-level log line (target `tidings::metrics`): the local runner's default.
pub struct DebugLog;

impl MetricsSink for DebugLog {
    fn write(&self, line: &str) {
        tracing::debug!(target: "tidings::metrics", "{line}");
    }

    /// The runner logs at `info` by default, which drops these lines: skip building them.
    fn enabled(&self) -> bool {
        tracing::enabled!(target: "tidings::metrics", tracing::Level::DEBUG)
    }
}

/// Keeps every line, for tests to read back.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every line so far, leaving none.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Every line, parsed.
    pub fn json(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
            .collect()
    }
}

impl MetricsSink for Captured {
    fn write(&self, line: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line.to_owned());
    }
}

/// One successful delivery, for [`Metrics::succeeded`].
#[derive(Debug, Clone)]
pub struct Success {
    pub tenant: TenantId,
    pub duration: Duration,
    pub event_age: Duration,
}

/// The ids a delivery's metric line carries as properties (searchable in Logs Insights,
/// not dimensions: they cost nothing).
#[derive(Debug, Clone, Copy)]
pub struct DeliveryIds<'a> {
    pub tenant: &'a TenantId,
    pub event: &'a str,
    pub delivery: &'a str,
    pub subscription: &'a str,
}

/// The metrics of one process: where the lines go, and how they are dimensioned.
#[derive(Clone)]
pub struct Metrics {
    sink: Option<Arc<dyn MetricsSink>>,
    /// The `Function` dimension: the Lambda function's name, or the role (`dispatcher`,
    /// `ingest`) elsewhere.
    function_name: Option<String>,
    tenant_dimension: bool,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("on", &self.sink.is_some())
            .field("function_name", &self.function_name)
            .field("tenant_dimension", &self.tenant_dimension)
            .finish()
    }
}

/// Debug-level log lines, no tenant dimension.
impl Default for Metrics {
    fn default() -> Self {
        Self::to(Arc::new(DebugLog))
    }
}

impl Metrics {
    pub fn to(sink: Arc<dyn MetricsSink>) -> Self {
        Self {
            sink: Some(sink),
            function_name: None,
            tenant_dimension: false,
        }
    }

    /// No metrics at all.
    pub fn off() -> Self {
        Self {
            sink: None,
            function_name: None,
            tenant_dimension: false,
        }
    }

    /// Metrics kept in memory, and the handle to read them.
    pub fn captured() -> (Self, Captured) {
        let captured = Captured::default();
        (Self::to(Arc::new(captured.clone())), captured)
    }

    /// On Lambda: stdout, dimensioned by the function's name.
    pub fn lambda(function_name: String) -> Self {
        Self {
            function_name: Some(function_name),
            ..Self::to(Arc::new(Stdout))
        }
    }

    /// Adds a `Tenant` dimension to the per-delivery and per-event metrics (each tenant
    /// then makes its own custom metrics: see the README for the cost).
    pub fn with_tenant_dimension(mut self, on: bool) -> Self {
        self.tenant_dimension = on;
        self
    }

    pub fn tenant_dimension(&self) -> bool {
        self.tenant_dimension
    }

    /// The `Function` dimension's value for code playing `role`.
    pub fn function<'a>(&'a self, role: &'a str) -> &'a str {
        self.function_name.as_deref().unwrap_or(role)
    }

    /// One delivery message handled by the dispatcher. `attempt` is the POST's duration and
    /// the event's age when it was sent, when a POST was made.
    pub fn delivery(
        &self,
        outcome: DeliveryOutcome,
        ids: Option<DeliveryIds<'_>>,
        attempt: Option<(Duration, Duration)>,
    ) {
        if !self.on() {
            return;
        }
        let mut values = vec![(names::DELIVERIES, Unit::Count, json!(1))];
        if let Some((duration, age)) = attempt {
            values.push((
                names::ATTEMPT_DURATION,
                Unit::Milliseconds,
                json!(millis(duration)),
            ));
            values.push((names::EVENT_AGE, Unit::Milliseconds, json!(millis(age))));
        }
        let mut properties = Map::new();
        if let Some(ids) = ids {
            properties.insert("tenant".into(), json!(ids.tenant.as_str()));
            properties.insert("event".into(), json!(ids.event));
            properties.insert("delivery".into(), json!(ids.delivery));
            properties.insert("subscription".into(), json!(ids.subscription));
        }
        self.emit(Line {
            function: self.function("dispatcher"),
            outcome: Some(outcome.as_str()),
            tenant: ids.map(|i| i.tenant),
            values: &values,
            properties,
        });
    }

    /// Successful deliveries, summed: one line per 100 of them (per tenant, with the tenant
    /// dimension), their attempts' durations and event ages as arrays.
    pub fn succeeded(&self, deliveries: &[Success]) {
        if !self.on() || deliveries.is_empty() {
            return;
        }
        let mut groups: Vec<(Option<&TenantId>, Vec<&Success>)> = Vec::new();
        for success in deliveries {
            let key = self.tenant_dimension.then_some(&success.tenant);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, group)) => group.push(success),
                None => groups.push((key, vec![success])),
            }
        }
        for (tenant, group) in groups {
            for chunk in group.chunks(100) {
                let durations: Vec<u64> = chunk.iter().map(|s| millis(s.duration)).collect();
                let ages: Vec<u64> = chunk.iter().map(|s| millis(s.event_age)).collect();
                self.emit(Line {
                    function: self.function("dispatcher"),
                    outcome: Some(DeliveryOutcome::Succeeded.as_str()),
                    tenant,
                    values: &[
                        (names::DELIVERIES, Unit::Count, json!(chunk.len())),
                        (
                            names::ATTEMPT_DURATION,
                            Unit::Milliseconds,
                            json!(durations),
                        ),
                        (names::EVENT_AGE, Unit::Milliseconds, json!(ages)),
                    ],
                    properties: Map::new(),
                });
            }
        }
    }

    /// An endpoint's circuit opened or closed, for the subscription whose delivery changed
    /// it (its tenant and id as properties: an endpoint's URL may carry a secret).
    pub fn circuit(&self, change: CircuitChange, tenant: &TenantId, subscription: &str) {
        if !self.on() {
            return;
        }
        let mut properties = Map::new();
        properties.insert("tenant".into(), json!(tenant.as_str()));
        properties.insert("subscription".into(), json!(subscription));
        self.emit(Line {
            function: self.function("dispatcher"),
            outcome: Some(change.as_str()),
            // Per stack only: circuits are an operator's signal, not a tenant's graph.
            tenant: None,
            values: &[(names::ENDPOINT_CIRCUITS, Unit::Count, json!(1))],
            properties,
        });
    }

    /// The size of one batch handed to the dispatcher.
    pub fn batch(&self, size: usize) {
        if !self.on() {
            return;
        }
        self.emit(Line {
            function: self.function("dispatcher"),
            outcome: None,
            tenant: None,
            values: &[(names::BATCH_SIZE, Unit::Count, json!(size))],
            properties: Map::new(),
        });
    }

    /// `events` posted to ingest with one `outcome`, in one request; `deliveries` enqueued
    /// for those accepted.
    pub fn ingest(
        &self,
        outcome: IngestOutcome,
        tenant: &TenantId,
        events: usize,
        deliveries: usize,
    ) {
        if !self.on() {
            return;
        }
        let mut values = vec![(names::EVENTS, Unit::Count, json!(events))];
        if outcome == IngestOutcome::Accepted {
            values.push((names::DELIVERIES_ENQUEUED, Unit::Count, json!(deliveries)));
        }
        let mut properties = Map::new();
        properties.insert("tenant".into(), json!(tenant.as_str()));
        self.emit(Line {
            function: self.function("ingest"),
            outcome: Some(outcome.as_str()),
            tenant: Some(tenant),
            values: &values,
            properties,
        });
    }

    /// Whether lines go anywhere now; each metric checks before it builds its line.
    pub fn on(&self) -> bool {
        self.sink.as_ref().is_some_and(|s| s.enabled())
    }

    fn emit(&self, line: Line<'_>) {
        let Some(sink) = &self.sink else { return };
        sink.write(&line.to_emf(self.tenant_dimension).to_string());
    }
}

#[derive(Debug, Clone, Copy)]
enum Unit {
    Count,
    Milliseconds,
}

struct Line<'a> {
    function: &'a str,
    outcome: Option<&'a str>,
    tenant: Option<&'a TenantId>,
    /// A number, or an array of numbers (EMF takes up to 100).
    values: &'a [(&'static str, Unit, Value)],
    /// Extra fields, not metrics nor dimensions (CloudWatch keeps them in the log event).
    properties: Map<String, Value>,
}

impl Line<'_> {
    fn to_emf(&self, tenant_dimension: bool) -> Value {
        let mut base = vec!["Function"];
        if self.outcome.is_some() {
            base.push("Outcome");
        }
        let mut dimensions = vec![base.clone()];
        let mut root = self.properties.clone();
        if let (true, Some(tenant)) = (tenant_dimension, self.tenant) {
            let mut with_tenant = base;
            with_tenant.push("Tenant");
            dimensions.push(with_tenant);
            root.insert("Tenant".into(), json!(tenant.as_str()));
        }
        root.insert("Function".into(), json!(self.function));
        if let Some(outcome) = self.outcome {
            root.insert("Outcome".into(), json!(outcome));
        }
        let metrics: Vec<Value> = self
            .values
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": format!("{unit:?}")}))
            .collect();
        for (name, _, value) in self.values {
            root.insert((*name).into(), value.clone());
        }
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": Utc::now().timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": dimensions,
                    "Metrics": metrics,
                }],
            }),
        );
        Value::Object(root)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    #[test]
    fn a_delivery_line_is_one_emf_object() {
        let (metrics, captured) = Metrics::captured();
        let tenant = acme();
        metrics.delivery(
            DeliveryOutcome::Succeeded,
            Some(DeliveryIds {
                tenant: &tenant,
                event: "evt_1",
                delivery: "dlv_1",
                subscription: "sub_1",
            }),
            Some((Duration::from_millis(12), Duration::from_millis(3400))),
        );
        let lines = captured.lines();
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains('\n'));
        let v: Value = serde_json::from_str(&lines[0]).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Tidings");
        assert_eq!(directive["Dimensions"], json!([["Function", "Outcome"]]));
        assert_eq!(
            (
                &v["Function"],
                &v["Outcome"],
                &v["Deliveries"],
                &v["AttemptDuration"],
                &v["EventAge"]
            ),
            (
                &json!("dispatcher"),
                &json!("succeeded"),
                &json!(1),
                &json!(12),
                &json!(3400)
            )
        );
        assert_eq!(v["tenant"], "acme");
        assert!(v.get("Tenant").is_none(), "no tenant dimension by default");
        assert!(v["_aws"]["Timestamp"].as_i64().unwrap() > 1_600_000_000_000);
    }

    #[test]
    fn the_tenant_dimension_is_added_beside_the_base_set() {
        let (metrics, captured) = Metrics::captured();
        let metrics = metrics.with_tenant_dimension(true);
        metrics.ingest(IngestOutcome::Accepted, &acme(), 1, 3);
        metrics.batch(7);
        let lines = captured.json();
        assert_eq!(
            lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "Outcome"], ["Function", "Outcome", "Tenant"]])
        );
        assert_eq!(lines[0]["Tenant"], "acme");
        assert_eq!(lines[0]["DeliveriesEnqueued"], 3);
        assert_eq!(
            lines[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"]]),
            "batches have no tenant"
        );
    }

    #[test]
    fn off_writes_nothing_and_lambda_names_the_function() {
        Metrics::off().batch(1);
        let m = Metrics::lambda("stack-DispatcherFunction-X".into());
        assert_eq!(m.function("dispatcher"), "stack-DispatcherFunction-X");
    }
}
