//! One contract for each port, run against the in-memory adapters and against the AWS
//! adapters on the moto emulator: both must behave the same.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use support::builders::{self, tenant};
use support::template::Template;
use tidings::Backend;
use tidings::domain::dialect::Format;
use tidings::domain::{
    ApiKey, ApiKeyHash, DeliveryMessage, DeliveryRecord, DeliveryStatus, EventType, NewEvent, Role,
    SaleorOptions, SubscriptionRoute, TenantId, TenantSettings,
};
use tidings::ports::queue::{self, OutgoingMessage};
use tidings::ports::store::{CustomEventType, EventRecord, PlannedDelivery, StoreError};
use tidings::signing::{Secret, SigningKey};

support::on_both_backends!(
    subscriptions,
    events,
    deliveries,
    api_keys,
    subscription_updates_and_pages,
    ed25519_keys_round_trip,
    event_types,
    tenant_settings,
    delivery_listing_and_reset,
    queue_send_receive_delete,
    queue_visibility_and_redrive,
    queue_dead_letter_with_reason,
);

/// A subscription with every optional field set, so each one's round trip is checked.
fn subscription(t: &TenantId, events: &[&str]) -> tidings::domain::Subscription {
    builders::subscription("https://shop.example/hooks")
        .tenant(t)
        .events(events)
        .description("orders")
        .filter(
            serde_json::json!({"data.total": {"$gte": 100}, "$or": [{"type": "order.created"}]}),
        )
        .fields(&["data.id", "data.customer.email"])
        .hex("x-webhook-signature")
        .header("x-shop", "acme")
        // Every dialect field off its default, so the stores' round trips cover them.
        .format(Format::Saleor)
        .standard_webhooks(false)
        .saleor(SaleorOptions {
            domain: Some("shop.example.com".into()),
            legacy_headers: true,
            jws: true,
        })
        .build()
}

async fn subscriptions(backend: Backend) {
    let b = &backend;
    let (acme, other) = (tenant("acme"), tenant("other"));
    let a = subscription(&acme, &["order.*"]);
    let a2 = subscription(&acme, &["*"]);
    let o = subscription(&other, &["*"]);
    for s in [&a, &a2, &o] {
        b.subscriptions.create_subscription(s).await.unwrap();
    }
    assert!(matches!(
        b.subscriptions.create_subscription(&a).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        b.subscriptions
            .get_subscription(&acme, &a.id)
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        b.subscriptions
            .get_subscription(&other, &a.id)
            .await
            .unwrap(),
        None,
        "another tenant's id is not found"
    );
    let listed = b.subscriptions.list_subscriptions(&acme).await.unwrap();
    assert_eq!(
        listed,
        vec![a.clone(), a2.clone()],
        "only the tenant's, oldest first"
    );
    b.subscriptions
        .set_subscription_health(&acme, &a2.id, None, true)
        .await
        .unwrap();
    assert_eq!(
        b.subscriptions
            .list_subscription_routes(&acme)
            .await
            .unwrap(),
        vec![
            a.route(),
            SubscriptionRoute {
                active: false,
                ..a2.route()
            }
        ],
        "the routes match the subscriptions, in the same order"
    );
    assert!(
        b.subscriptions
            .delete_subscription(&acme, &a.id)
            .await
            .unwrap()
    );
    assert!(
        !b.subscriptions
            .delete_subscription(&acme, &a.id)
            .await
            .unwrap()
    );
    assert!(
        !b.subscriptions
            .delete_subscription(&acme, &o.id)
            .await
            .unwrap()
    );
    assert_eq!(
        b.subscriptions
            .get_subscription(&acme, &a.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        b.subscriptions.list_subscriptions(&other).await.unwrap(),
        vec![o]
    );
}

fn event_record(t: &TenantId, id: &str, fingerprint: &str) -> EventRecord {
    let event = NewEvent::from_json(serde_json::json!({
        "id": id, "type": "order.created", "data": {"total": "99.90", "n": 1.0}
    }))
    .unwrap()
    .into_event(t.clone(), Utc::now());
    EventRecord {
        event,
        fingerprint: fingerprint.into(),
        deliveries: vec![PlannedDelivery {
            delivery_id: "dlv_1".into(),
            subscription_id: tidings::domain::SubscriptionId::generate(),
        }],
        expires_at: Utc::now().timestamp() + 3600,
    }
}

async fn events(backend: Backend) {
    let b = &backend;
    let (acme, other) = (tenant("acme"), tenant("other"));
    let first = event_record(&acme, "evt_1", "f1");
    assert_eq!(b.events.insert_event(&first).await.unwrap(), None);
    let again = event_record(&acme, "evt_1", "f2");
    let existing = b
        .events
        .insert_event(&again)
        .await
        .unwrap()
        .expect("the first record");
    assert_eq!(
        existing, first,
        "the first record comes back untouched, event and all"
    );
    let existing = b.events.insert_event(&again).await.unwrap().unwrap();
    assert_eq!(existing.fingerprint, "f1", "never overwritten");
    // The same id in another tenant is another event.
    assert_eq!(
        b.events
            .insert_event(&event_record(&other, "evt_1", "f3"))
            .await
            .unwrap(),
        None
    );
}

async fn deliveries(backend: Backend) {
    let b = &backend;
    let acme = tenant("acme");
    let sub = subscription(&acme, &["*"]);
    let event = event_record(&acme, "evt_9", "f").event;
    let message = DeliveryMessage {
        delivery_id: "dlv_9".into(),
        tenant: acme.clone(),
        subscription_id: sub.id.clone(),
        event: event.into(),
        repeat: false,
        more: Vec::new(),
        not_before: None,
        slot: None,
    };
    assert_eq!(
        b.deliveries.get_delivery(&acme, "dlv_9").await.unwrap(),
        None
    );
    let mut record = DeliveryRecord::pending(&message, Utc::now().timestamp() + 60);
    record.status = DeliveryStatus::Failed;
    record.attempts = 1;
    record.status_code = Some(500);
    record.last_attempt_at = Some(Utc::now());
    b.deliveries.put_delivery(&record).await.unwrap();
    let stored = b
        .deliveries
        .get_delivery(&acme, "dlv_9")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, DeliveryStatus::Failed);
    assert_eq!(stored.status_code, Some(500));
    assert_eq!(
        stored.last_attempt_at.map(|t| t.timestamp_millis()),
        record.last_attempt_at.map(|t| t.timestamp_millis())
    );
    record.status = DeliveryStatus::Succeeded;
    record.attempts = 2;
    record.status_code = Some(200);
    b.deliveries.put_delivery(&record).await.unwrap();
    record.status = DeliveryStatus::Failed;
    record.attempts = 3;
    assert!(
        matches!(
            b.deliveries.put_delivery(&record).await,
            Err(StoreError::Conflict)
        ),
        "a success is never overwritten"
    );
    let stored = b
        .deliveries
        .get_delivery(&acme, "dlv_9")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.success());
    assert_eq!(stored.attempts, 2);
    assert_eq!(
        b.deliveries
            .get_delivery(&tenant("other"), "dlv_9")
            .await
            .unwrap(),
        None
    );
}

async fn api_keys(backend: Backend) {
    let b = &backend;
    let (acme, other) = (tenant("acme"), tenant("other"));
    let (key, plaintext) = ApiKey::generate(acme.clone(), Role::Ingest, Some("shop".into()));
    let (admin, _) = ApiKey::generate(acme.clone(), Role::Admin, None);
    let (foreign, foreign_plain) = ApiKey::generate(other.clone(), Role::Admin, None);
    for k in [&key, &admin, &foreign] {
        b.api_keys.put_api_key(k).await.unwrap();
    }
    let found = b
        .api_keys
        .find_api_key(&ApiKeyHash::of(&plaintext))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, key);
    assert!(matches!(
        b.api_keys.put_api_key(&key).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        b.api_keys
            .find_api_key(&ApiKeyHash::of("tdk_guess"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        b.api_keys.list_api_keys(&acme).await.unwrap(),
        vec![key.clone(), admin.clone()]
    );
    // Revoking takes effect at once, and only within the tenant.
    assert!(!b.api_keys.delete_api_key(&acme, &foreign.id).await.unwrap());
    assert!(b.api_keys.delete_api_key(&acme, &key.id).await.unwrap());
    assert!(!b.api_keys.delete_api_key(&acme, &key.id).await.unwrap());
    assert_eq!(
        b.api_keys
            .find_api_key(&ApiKeyHash::of(&plaintext))
            .await
            .unwrap(),
        None
    );
    assert_eq!(b.api_keys.list_api_keys(&acme).await.unwrap(), vec![admin]);
    assert!(
        b.api_keys
            .find_api_key(&ApiKeyHash::of(&foreign_plain))
            .await
            .unwrap()
            .is_some()
    );
}

async fn subscription_updates_and_pages(backend: Backend) {
    let b = &backend;
    let acme = tenant("acme");
    let mut all = Vec::new();
    for _ in 0..5 {
        let s = subscription(&acme, &["order.*"]);
        b.subscriptions.create_subscription(&s).await.unwrap();
        all.push(s);
    }
    b.subscriptions
        .create_subscription(&subscription(&tenant("other"), &["*"]))
        .await
        .unwrap();
    let (first, more) = b
        .subscriptions
        .list_subscriptions_page(&acme, None, 2)
        .await
        .unwrap();
    assert_eq!((first.as_slice(), more), (&all[..2], true));
    let (second, more) = b
        .subscriptions
        .list_subscriptions_page(&acme, Some(&first[1].id), 2)
        .await
        .unwrap();
    assert_eq!((second.as_slice(), more), (&all[2..4], true));
    let (last, more) = b
        .subscriptions
        .list_subscriptions_page(&acme, Some(&second[1].id), 2)
        .await
        .unwrap();
    assert_eq!((last.as_slice(), more), (&all[4..], false));

    let mut changed = all[0].clone();
    changed.active = false;
    changed.rotate_secret(Secret::generate(), chrono::Duration::hours(24), Utc::now());
    b.subscriptions.update_subscription(&changed).await.unwrap();
    let stored = b
        .subscriptions
        .get_subscription(&acme, &changed.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, changed, "rotated secrets and all round-trip");
    let since = Utc::now() - chrono::Duration::hours(1);
    let id = &all[1].id;
    b.subscriptions
        .set_subscription_health(&acme, id, Some(since), false)
        .await
        .unwrap();
    let failing = b
        .subscriptions
        .get_subscription(&acme, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        failing.failing_since.map(|t| t.timestamp_millis()),
        Some(since.timestamp_millis())
    );
    assert_eq!(failing.events, all[1].events, "nothing else changed");
    b.subscriptions
        .set_subscription_health(&acme, id, None, false)
        .await
        .unwrap();
    let healthy = b
        .subscriptions
        .get_subscription(&acme, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(healthy, all[1]);
    b.subscriptions
        .set_subscription_health(&acme, id, Some(since), true)
        .await
        .unwrap();
    assert!(
        !b.subscriptions
            .get_subscription(&acme, id)
            .await
            .unwrap()
            .unwrap()
            .active
    );

    b.subscriptions
        .delete_subscription(&acme, &changed.id)
        .await
        .unwrap();
    assert!(
        matches!(
            b.subscriptions.update_subscription(&changed).await,
            Err(StoreError::Conflict)
        ),
        "an update never resurrects a deleted subscription"
    );
    assert!(matches!(
        b.subscriptions
            .set_subscription_health(&acme, &changed.id, None, true)
            .await,
        Err(StoreError::Conflict)
    ));
}

/// An `ed25519` subscription's key and its rotated keys come back as they were stored.
async fn ed25519_keys_round_trip(backend: Backend) {
    let b = &backend;
    let acme = tenant("acme");
    let mut s = builders::subscription("https://shop.example/hooks")
        .ed25519()
        .build();
    b.subscriptions.create_subscription(&s).await.unwrap();
    let stored = b
        .subscriptions
        .get_subscription(&acme, &s.id)
        .await
        .unwrap();
    assert_eq!(stored.as_ref(), Some(&s), "the key round-trips");
    let now = Utc::now();
    s.rotate_signing_key(
        SigningKey::generate().unwrap(),
        chrono::Duration::hours(24),
        now,
    );
    s.rotate_signing_key(
        SigningKey::generate().unwrap(),
        chrono::Duration::hours(24),
        now,
    );
    assert_eq!(s.previous_signing_keys.len(), 2);
    b.subscriptions.update_subscription(&s).await.unwrap();
    let stored = b
        .subscriptions
        .get_subscription(&acme, &s.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, s, "rotated keys and their expiries round-trip");
    assert_eq!(stored.public_key(), s.public_key());
    let listed = b.subscriptions.list_subscriptions(&acme).await.unwrap();
    assert_eq!(listed, vec![s]);
}

async fn event_types(backend: Backend) {
    let b = &backend;
    let (acme, other) = (tenant("acme"), tenant("other"));
    let custom = |name: &str| CustomEventType {
        name: EventType::parse(name).unwrap(),
        description: format!("{name} happened"),
    };
    b.event_types
        .put_event_type(&acme, &custom("loyalty.points_earned"))
        .await
        .unwrap();
    b.event_types
        .put_event_type(&acme, &custom("loyalty.tier_changed"))
        .await
        .unwrap();
    assert!(matches!(
        b.event_types
            .put_event_type(&acme, &custom("loyalty.tier_changed"))
            .await,
        Err(StoreError::Conflict)
    ));
    b.event_types
        .put_event_type(&other, &custom("loyalty.tier_changed"))
        .await
        .unwrap();
    assert_eq!(
        b.event_types.list_event_types(&acme).await.unwrap(),
        vec![
            custom("loyalty.points_earned"),
            custom("loyalty.tier_changed")
        ]
    );
    assert_eq!(
        b.event_types.list_event_types(&other).await.unwrap().len(),
        1
    );
}

fn outgoing(n: usize) -> Vec<OutgoingMessage> {
    (0..n)
        .map(|i| OutgoingMessage::new(i.to_string(), format!("{{\"n\":{i}}}")))
        .collect()
}

const WAIT: Duration = Duration::from_secs(1);

async fn queue_send_receive_delete(backend: Backend) {
    let b = &backend;
    let q = b.queue.as_ref();
    queue::send_all(q, &outgoing(12)).await.unwrap();
    let mut bodies = HashSet::new();
    let mut received = Vec::new();
    for _ in 0..10 {
        let batch = q.receive(10, WAIT).await.unwrap();
        assert!(batch.len() <= 10);
        for m in batch {
            assert_eq!(m.receive_count, 1);
            bodies.insert(m.body.to_string());
            received.push(m);
        }
        if bodies.len() == 12 {
            break;
        }
    }
    let expected: HashSet<String> = outgoing(12).into_iter().map(|m| m.body).collect();
    assert_eq!(
        bodies, expected,
        "every message arrives, in two batches or more"
    );
    for m in &received {
        q.delete(&m.receipt_handle).await.unwrap();
    }
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
}

async fn queue_visibility_and_redrive(backend: Backend) {
    let b = &backend;
    let q = b.queue.as_ref();
    let max_receive_count = Template::load().queue_settings().max_receive_count;
    queue::send_all(q, &outgoing(1)).await.unwrap();
    for n in 1..=max_receive_count {
        let batch = q.receive(10, WAIT).await.unwrap();
        assert_eq!(batch.len(), 1, "receive {n}");
        assert_eq!(batch[0].receive_count, n);
        // While in flight it stays hidden.
        assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
        // Backoff of zero: it is visible again at once.
        q.change_visibility(&batch[0].receipt_handle, Duration::ZERO)
            .await
            .unwrap();
    }
    // Received maxReceiveCount times: the next receive moves it to the dead-letter queue.
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    let dead = q.receive_dead_letters(10, WAIT).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(&*dead[0].body, "{\"n\":0}");
}

async fn queue_dead_letter_with_reason(backend: Backend) {
    let b = &backend;
    let q = b.queue.as_ref();
    q.dead_letter("{\"broken\":true}", "unreadable delivery message")
        .await
        .unwrap();
    let dead = q.receive_dead_letters(10, WAIT).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(&*dead[0].body, "{\"broken\":true}");
    assert_eq!(
        dead[0].reason.as_deref(),
        Some("unreadable delivery message")
    );
    assert!(
        q.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "the main queue is untouched"
    );
}

async fn delivery_listing_and_reset(backend: Backend) {
    let b = &backend;
    let acme = tenant("acme");
    let sub = subscription(&acme, &["*"]);
    let other_sub = subscription(&acme, &["*"]);
    let record = event_record(&acme, "evt_list", "f");
    b.events.insert_event(&record).await.unwrap();
    assert_eq!(
        b.events.get_event(&acme, &record.event.id).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        b.events
            .get_event(&tenant("other"), &record.event.id)
            .await
            .unwrap(),
        None
    );

    let mut ids = Vec::new();
    for i in 0..5 {
        let message = DeliveryMessage {
            delivery_id: tidings::ids::new_id("dlv"),
            tenant: acme.clone(),
            repeat: false,
            more: Vec::new(),
            not_before: None,
            slot: None,
            subscription_id: if i == 2 {
                other_sub.id.clone()
            } else {
                sub.id.clone()
            },
            event: record.event.clone().into(),
        };
        let pending = DeliveryRecord::pending(&message, Utc::now().timestamp() + 60);
        b.deliveries.put_delivery(&pending).await.unwrap();
        if i != 2 {
            ids.push(message.delivery_id);
        }
    }
    ids.reverse(); // newest first
    let (first, more) = b
        .deliveries
        .list_deliveries(&acme, &sub.id, None, 3)
        .await
        .unwrap();
    let first_ids: Vec<&str> = first.iter().map(|r| r.delivery_id.as_str()).collect();
    assert_eq!(
        (first_ids, more),
        (
            vec![ids[0].as_str(), ids[1].as_str(), ids[2].as_str()],
            true
        )
    );
    let (rest, more) = b
        .deliveries
        .list_deliveries(&acme, &sub.id, Some(&ids[2]), 3)
        .await
        .unwrap();
    let rest_ids: Vec<&str> = rest.iter().map(|r| r.delivery_id.as_str()).collect();
    assert_eq!((rest_ids, more), (vec![ids[3].as_str()], false));
    let (none, _) = b
        .deliveries
        .list_deliveries(&tenant("other"), &sub.id, None, 3)
        .await
        .unwrap();
    assert!(none.is_empty());

    // A success is final for put_delivery, but a replay resets it.
    let mut done = b
        .deliveries
        .get_delivery(&acme, &ids[0])
        .await
        .unwrap()
        .unwrap();
    done.status = DeliveryStatus::Succeeded;
    b.deliveries.put_delivery(&done).await.unwrap();
    done.status = DeliveryStatus::Pending;
    assert!(matches!(
        b.deliveries.put_delivery(&done).await,
        Err(StoreError::Conflict)
    ));
    b.deliveries.reset_delivery(&done).await.unwrap();
    let stored = b
        .deliveries
        .get_delivery(&acme, &ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, DeliveryStatus::Pending);
}

async fn tenant_settings(backend: Backend) {
    let b = &backend;
    let (acme, other) = (tenant("acme"), tenant("other"));
    assert_eq!(
        b.tenants.get_tenant_settings(&acme).await.unwrap(),
        TenantSettings::default(),
        "a tenant that never set anything has the defaults"
    );
    let settings = TenantSettings {
        store_id: Some("store_42".into()),
        saleor_domain: Some("shop.example.com".into()),
    };
    b.tenants
        .put_tenant_settings(&acme, &settings)
        .await
        .unwrap();
    assert_eq!(
        b.tenants.get_tenant_settings(&acme).await.unwrap(),
        settings
    );
    assert_eq!(
        b.tenants.get_tenant_settings(&other).await.unwrap(),
        TenantSettings::default(),
        "settings are the tenant's own"
    );
    let cleared = TenantSettings {
        store_id: None,
        ..settings
    };
    b.tenants
        .put_tenant_settings(&acme, &cleared)
        .await
        .unwrap();
    assert_eq!(b.tenants.get_tenant_settings(&acme).await.unwrap(), cleared);
    // The settings item shares the tenant's partition with subscriptions and keys, and
    // must not show up among them.
    assert!(
        b.subscriptions
            .list_subscriptions(&acme)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(b.api_keys.list_api_keys(&acme).await.unwrap().is_empty());
    assert!(
        b.event_types
            .list_event_types(&acme)
            .await
            .unwrap()
            .is_empty()
    );
}
