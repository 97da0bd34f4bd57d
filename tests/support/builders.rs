//! Test data: tenants, subscriptions stored directly, delivery messages, and dispatchers
//! that may deliver to 127.0.0.1.

use chrono::Utc;
use serde_json::{Value, json};
use tidings::Backend;
use tidings::config::Config;
use tidings::domain::dialect::Format;
use tidings::domain::{
    DeliveryMessage, EventPattern, Filter, NewEvent, SaleorOptions, Selection, SignatureScheme,
    Subscription, SubscriptionId, TenantId,
};
use tidings::egress::EgressPolicy;
use tidings::services::dispatch::Dispatcher;
use tidings::signing::{Secret, SigningKey};

pub fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

/// The tenant most tests act for.
pub fn acme() -> TenantId {
    tenant("acme")
}

/// A subscription of `acme` to `url` for every commerce event (`*`), active, signed the
/// Standard Webhooks way; change what the test is about, then `build` or `store` it.
pub fn subscription(url: &str) -> SubscriptionBuilder {
    SubscriptionBuilder(Subscription {
        id: SubscriptionId::generate(),
        tenant: acme(),
        url: url.parse().unwrap(),
        events: vec![EventPattern::parse("*").unwrap()],
        filter: None,
        fields: None,
        rate_limit: None,
        active: true,
        description: None,
        secret: Secret::generate(),
        previous_secrets: Vec::new(),
        signature: SignatureScheme::Standard,
        signing_key: None,
        previous_signing_keys: Vec::new(),
        headers: Default::default(),
        format: Format::Standard,
        standard_webhooks: true,
        saleor: SaleorOptions::default(),
        created_at: Utc::now(),
        failing_since: None,
    })
}

pub struct SubscriptionBuilder(Subscription);

impl SubscriptionBuilder {
    pub fn id(mut self, id: &str) -> Self {
        self.0.id = SubscriptionId::parse(id).unwrap();
        self
    }

    pub fn tenant(mut self, tenant: &TenantId) -> Self {
        self.0.tenant = tenant.clone();
        self
    }

    pub fn events(mut self, events: &[&str]) -> Self {
        self.0.events = events
            .iter()
            .map(|e| EventPattern::parse(e).unwrap())
            .collect();
        self
    }

    pub fn active(mut self, active: bool) -> Self {
        self.0.active = active;
        self
    }

    pub fn filter(mut self, filter: Value) -> Self {
        self.0.filter = Some(Filter::parse(&filter).unwrap());
        self
    }

    pub fn fields(mut self, paths: &[&str]) -> Self {
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        self.0.fields = Some(Selection::parse(&paths).unwrap());
        self
    }

    pub fn description(mut self, description: &str) -> Self {
        self.0.description = Some(description.to_owned());
        self
    }

    /// Signed the seeds' way too: a hex HMAC in `header`.
    pub fn hex(mut self, header: &str) -> Self {
        self.0.signature = SignatureScheme::Hex {
            header: header.to_owned(),
        };
        self
    }

    /// Signed with Ed25519 too (`v1a`), with a new key.
    pub fn ed25519(mut self) -> Self {
        self.0.signature = SignatureScheme::Ed25519;
        self.0.signing_key = Some(SigningKey::generate().unwrap());
        self
    }

    /// A static header sent with every delivery.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0.headers.insert(name.to_owned(), value.to_owned());
        self
    }

    /// The wire dialect of its deliveries.
    pub fn format(mut self, format: Format) -> Self {
        self.0.format = format;
        self
    }

    /// Whether deliveries also carry the Standard Webhooks headers.
    pub fn standard_webhooks(mut self, on: bool) -> Self {
        self.0.standard_webhooks = on;
        self
    }

    pub fn saleor(mut self, options: SaleorOptions) -> Self {
        self.0.saleor = options;
        self
    }

    pub fn build(self) -> Subscription {
        self.0
    }

    /// Stores it directly (no validation against the egress policy), and returns it.
    pub async fn store(self, backend: &Backend) -> Subscription {
        backend
            .subscriptions
            .create_subscription(&self.0)
            .await
            .unwrap();
        self.0
    }
}

/// A delivery of a new `event` (`{"type", "data"}`, as a producer posts it) to
/// `subscription`, as ingest puts it on the queue.
pub fn delivery(subscription: &Subscription, event: Value) -> DeliveryMessage {
    let event = NewEvent::from_json(event)
        .unwrap()
        .into_event(subscription.tenant.clone(), Utc::now());
    DeliveryMessage {
        delivery_id: tidings::ids::new_id("dlv"),
        tenant: subscription.tenant.clone(),
        subscription_id: subscription.id.clone(),
        event: event.into(),
        repeat: false,
        more: Vec::new(),
        not_before: None,
        slot: None,
    }
}

/// The queue body of a delivery of an `order.created` event to `subscription`.
pub fn delivery_body(subscription: &Subscription) -> String {
    let message = delivery(
        subscription,
        json!({"type": "order.created", "data": {"n": 1}}),
    );
    serde_json::to_string(&message).unwrap()
}

/// The configuration of a dispatcher that may deliver to 127.0.0.1, on `schedule`.
pub fn loopback_config(schedule: &str) -> Config {
    Config {
        egress: EgressPolicy::AllowLoopback,
        retry: schedule.parse().unwrap(),
        ..Config::default()
    }
}

/// A dispatcher that may deliver to 127.0.0.1, retrying on `schedule`.
pub fn dispatcher(backend: &Backend, schedule: &str) -> Dispatcher {
    Dispatcher::new(backend.clone(), loopback_config(schedule)).unwrap()
}
