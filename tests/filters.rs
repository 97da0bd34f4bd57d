//! Subscription filters end to end, on the embedded backend and on SQS and DynamoDB (moto):
//! evaluated at ingest, an event no filter takes makes no delivery and no queue message;
//! a filter is checked when it is set and stored with its subscription; the test endpoints
//! say whether an event would match and why not.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::client::Client;
use support::harness::drain;
use support::receiver::Receiver;
use tidings::Backend;
use tidings::config::Config;
use tidings::domain::{ApiKey, Role};
use tidings::http::{AppState, router};
use tidings::signing::verify_headers;
use tidings_local::Running;

const WAIT: Duration = Duration::from_secs(20);
const KEY: &str = "tdk_filters_admin";
const BIG_ORDERS: &str = r#"{"data.total": {"$gte": 100}}"#;

support::on_both_backends!(
    an_event_the_filter_refuses_costs_no_delivery_and_no_queue_message,
    a_matching_event_reaches_the_endpoint_and_the_other_does_not,
    a_filter_is_checked_when_set_shown_and_cleared_with_null,
    the_test_endpoints_say_whether_an_event_matches_and_why_not,
    fields_trim_the_data_a_delivery_carries,
    test_events_and_operational_events_pass_whatever_the_filter,
);

fn big_orders() -> Value {
    serde_json::from_str(BIG_ORDERS).unwrap()
}

/// An admin of `acme` calling every route in process.
async fn admin(backend: &Backend) -> Client {
    let key = ApiKey::from_plaintext(KEY, support::builders::acme(), Role::Admin, None);
    backend.api_keys.put_api_key(&key).await.unwrap();
    Client::router(router(AppState::new(backend.clone(), Config::default()))).with_key(KEY)
}

async fn subscribe(api: &Client, body: Value) -> String {
    let created = api
        .ok(Method::POST, "/v1/subscriptions", Some(body), 201)
        .await;
    created["id"].as_str().unwrap().to_owned()
}

async fn an_event_the_filter_refuses_costs_no_delivery_and_no_queue_message(backend: Backend) {
    let api = admin(&backend).await;
    let filtered = subscribe(
        &api,
        json!({"url": "https://shop.example/big", "events": ["order.created"], "filter": big_orders()}),
    )
    .await;

    let order = |id: &str, total: Value| json!({"id": id, "type": "order.created", "data": {"id": "order_1", "total": total}});
    let small = api
        .ok(
            Method::POST,
            "/v1/events",
            Some(order("evt_small", json!(50))),
            202,
        )
        .await;
    assert_eq!(small["deliveries"], 0, "{small}");
    assert_eq!(
        backend.queue.stats().await.unwrap().waiting,
        0,
        "an event no filter takes puts nothing on the queue"
    );
    let recorded = api.ok(Method::GET, "/v1/events/evt_small", None, 200).await;
    assert_eq!(recorded["deliveries"], json!([]), "{recorded}");

    let big = api
        .ok(
            Method::POST,
            "/v1/events",
            Some(order("evt_big", json!(150))),
            202,
        )
        .await;
    assert_eq!(big["deliveries"], 1, "{big}");
    // A total written as a string is compared as the number it holds.
    let string_total = api
        .ok(
            Method::POST,
            "/v1/events",
            Some(order("evt_str", json!("100.00"))),
            202,
        )
        .await;
    assert_eq!(string_total["deliveries"], 1, "{string_total}");

    // A subscription without a filter beside it gets every order, big or small.
    let everything = subscribe(
        &api,
        json!({"url": "https://shop.example/all", "events": ["order.*"]}),
    )
    .await;
    let batch = json!({"events": [order("evt_b50", json!(50)), order("evt_b150", json!(150))]});
    let answer = api
        .ok(Method::POST, "/v1/events/batch", Some(batch), 200)
        .await;
    let counts: Vec<&Value> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["deliveries"])
        .collect();
    assert_eq!(counts, [&json!(1), &json!(2)], "{answer}");

    // Five deliveries in four messages: evt_b150's two share one.
    assert_eq!(backend.queue.stats().await.unwrap().waiting, 4);
    let mut sent: Vec<(String, String)> = drain(&backend)
        .await
        .into_iter()
        .flat_map(|m| m.split())
        .map(|m| (m.event.id.to_string(), m.subscription_id.to_string()))
        .collect();
    sent.sort();
    let mut want = vec![
        ("evt_big".to_owned(), filtered.clone()),
        ("evt_str".to_owned(), filtered.clone()),
        ("evt_b50".to_owned(), everything.clone()),
        ("evt_b150".to_owned(), filtered.clone()),
        ("evt_b150".to_owned(), everything.clone()),
    ];
    want.sort();
    assert_eq!(
        sent, want,
        "one message per delivery, none for a refused event"
    );
}

async fn a_matching_event_reaches_the_endpoint_and_the_other_does_not(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    subscribe(
        &api,
        json!({"url": receiver.url("big"), "events": ["order.created"], "filter": big_orders()}),
    )
    .await;
    for (id, total) in [("evt_50", 50), ("evt_150", 150)] {
        let event = json!({"id": id, "type": "order.created", "data": {"total": total}});
        api.ok(Method::POST, "/v1/events", Some(event), 202).await;
    }
    let received = receiver.wait_for("big", 1, WAIT).await;
    assert_eq!(received[0].json()["id"], "evt_150");
    assert_eq!(received[0].json()["data"]["total"], 150);
    // The 50 was never enqueued: its event shows no delivery at all.
    let small = api.ok(Method::GET, "/v1/events/evt_50", None, 200).await;
    assert_eq!(small["deliveries"], json!([]), "{small}");
    assert_eq!(receiver.received("big").len(), 1);
}

async fn a_filter_is_checked_when_set_shown_and_cleared_with_null(backend: Backend) {
    let api = admin(&backend).await;
    let bad = json!({"url": "https://shop.example/h", "events": ["order.*"],
                     "filter": {"data": {"total": {"$gte": "100"}}}});
    let (status, problem) = api.call(Method::POST, "/v1/subscriptions", Some(bad)).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "filter.data.total.$gte");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("must be a number"),
        "{problem}"
    );
    let listed = api.ok(Method::GET, "/v1/subscriptions", None, 200).await;
    assert_eq!(
        listed["data"],
        json!([]),
        "a refused filter creates nothing"
    );

    let id = subscribe(
        &api,
        json!({"url": "https://shop.example/h", "events": ["order.*"], "filter": big_orders()}),
    )
    .await;
    let path = format!("/v1/subscriptions/{id}");
    let shown = api.ok(Method::GET, &path, None, 200).await;
    assert_eq!(shown["filter"], big_orders());

    // A bad change is refused and changes nothing.
    for (filter, place) in [
        (
            json!({"data.total": {"$gtee": 1}}),
            "filter.data.total.$gtee",
        ),
        (json!({"total": 1}), "filter.total"),
        (json!({"$or": [{"data.a": 1}, 7]}), "filter.$or[1]"),
        (json!("data.total > 100"), "filter"),
    ] {
        let (status, problem) = api
            .call(Method::PATCH, &path, Some(json!({"filter": filter})))
            .await;
        assert_eq!(
            (status, problem["field"].as_str()),
            (422, Some(place)),
            "{problem}"
        );
    }
    assert_eq!(
        api.ok(Method::GET, &path, None, 200).await["filter"],
        big_orders()
    );

    let country = json!({"data.country": {"$in": ["NG", "GH"]}});
    let patched = api
        .ok(Method::PATCH, &path, Some(json!({"filter": country})), 200)
        .await;
    assert_eq!(patched["filter"], country);
    // Other changes keep the filter.
    let described = api
        .ok(Method::PATCH, &path, Some(json!({"description": "x"})), 200)
        .await;
    assert_eq!(described["filter"], country);
    let event = |c: &str| json!({"type": "order.created", "data": {"country": c}});
    let receipt = api
        .ok(Method::POST, "/v1/events", Some(event("KE")), 202)
        .await;
    assert_eq!(receipt["deliveries"], 0);

    let cleared = api
        .ok(Method::PATCH, &path, Some(json!({"filter": null})), 200)
        .await;
    assert!(cleared.get("filter").is_none(), "{cleared}");
    let receipt = api
        .ok(Method::POST, "/v1/events", Some(event("KE")), 202)
        .await;
    assert_eq!(
        receipt["deliveries"], 1,
        "without a filter every order goes"
    );
}

async fn the_test_endpoints_say_whether_an_event_matches_and_why_not(backend: Backend) {
    let api = admin(&backend).await;
    let order = |total: i64| json!({"type": "order.created", "data": {"total": total}});
    let try_filter = |event: Value| json!({"filter": big_orders(), "event": event});

    let yes = api
        .ok(
            Method::POST,
            "/v1/filters/test",
            Some(try_filter(order(150))),
            200,
        )
        .await;
    assert_eq!(yes, json!({"matches": true, "failed": null}));
    let no = api
        .ok(
            Method::POST,
            "/v1/filters/test",
            Some(try_filter(order(50))),
            200,
        )
        .await;
    assert_eq!(
        no,
        json!({"matches": false, "failed": {
            "place": "filter.data.total.$gte",
            "reason": "data.total is 50; the condition wants $gte 100",
        }})
    );
    let (status, problem) = api
        .call(
            Method::POST,
            "/v1/filters/test",
            Some(json!({"filter": {"data.total": {"$gte": 1, "x": 2}}, "event": order(1)})),
        )
        .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("filter.data.total"))
    );
    let (status, problem) = api
        .call(
            Method::POST,
            "/v1/filters/test",
            Some(json!({"filter": {}, "event": {"type": "Order", "data": {}}})),
        )
        .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("event.type"))
    );

    let id = subscribe(
        &api,
        json!({"url": "https://shop.example/h", "events": ["order.created"], "filter": big_orders()}),
    )
    .await;
    let path = format!("/v1/subscriptions/{id}/filter/test");
    let verdict = |event: Value| {
        let api = api.clone();
        let path = path.clone();
        async move {
            api.ok(Method::POST, &path, Some(json!({"event": event})), 200)
                .await
        }
    };
    assert_eq!(verdict(order(150)).await["matches"], true);
    assert_eq!(
        verdict(order(50)).await["failed"]["place"],
        "filter.data.total.$gte"
    );
    let other_type = verdict(json!({"type": "payment.success", "data": {"total": 150}})).await;
    assert_eq!(other_type["failed"]["place"], "events", "{other_type}");
    api.ok(
        Method::PATCH,
        &format!("/v1/subscriptions/{id}"),
        Some(json!({"active": false})),
        200,
    )
    .await;
    assert_eq!(verdict(order(150)).await["failed"]["place"], "active");

    let (status, _) = api
        .call(
            Method::POST,
            "/v1/subscriptions/sub_01NOSUCH/filter/test",
            Some(json!({"event": order(1)})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        backend.queue.stats().await.unwrap().waiting,
        0,
        "trying sends nothing"
    );
}

async fn fields_trim_the_data_a_delivery_carries(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    let created = api
        .ok(
            Method::POST,
            "/v1/subscriptions",
            Some(json!({"url": receiver.url("slim"), "events": ["order.*"],
                        "fields": ["data.id", "data.customer.email", "data.items.sku"]})),
            201,
        )
        .await;
    let secret = created["secret"].as_str().unwrap();
    assert_eq!(
        created["fields"],
        json!(["data.id", "data.customer.email", "data.items.sku"])
    );
    let path = format!("/v1/subscriptions/{}", created["id"].as_str().unwrap());
    let (status, problem) = api
        .call(
            Method::PATCH,
            &path,
            Some(json!({"fields": ["data.id", "total"]})),
        )
        .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("fields[1]"))
    );

    let data = json!({
        "id": "order_1", "total": "99.99",
        "customer": {"email": "a@example.com", "phone": "+234 1"},
        "items": [{"sku": "A", "price": 5}, {"sku": "B", "price": 7}],
    });
    let event = json!({"id": "evt_slim", "type": "order.created", "data": data});
    api.ok(Method::POST, "/v1/events", Some(event), 202).await;
    let received = receiver.wait_for("slim", 1, WAIT).await;
    verify_headers(secret, &received[0].headers, &received[0].body).expect("a valid signature");
    let body = received[0].json();
    assert_eq!(body["id"], "evt_slim");
    assert_eq!(body["type"], "order.created");
    assert_eq!(
        body["data"],
        json!({"id": "order_1", "customer": {"email": "a@example.com"},
               "items": [{"sku": "A"}, {"sku": "B"}]})
    );
    // The event itself is kept whole.
    let stored = api.ok(Method::GET, "/v1/events/evt_slim", None, 200).await;
    assert_eq!(stored["event"]["data"], data);

    // null sends all of data again.
    let cleared = api
        .ok(Method::PATCH, &path, Some(json!({"fields": null})), 200)
        .await;
    assert!(cleared.get("fields").is_none(), "{cleared}");
    let event = json!({"id": "evt_full", "type": "order.created", "data": data});
    api.ok(Method::POST, "/v1/events", Some(event), 202).await;
    let received = receiver.wait_for("slim", 2, WAIT).await;
    assert_eq!(received[1].json()["data"], data);
}

async fn test_events_and_operational_events_pass_whatever_the_filter(backend: Backend) {
    let api = admin(&backend).await;
    let filtered = subscribe(
        &api,
        json!({"url": "https://shop.example/big", "events": ["order.*", "subscription.*"],
               "filter": big_orders()}),
    )
    .await;
    // Announced to `filtered` as subscription.created, though its data has no total.
    subscribe(
        &api,
        json!({"url": "https://shop.example/other", "events": ["payment.*"]}),
    )
    .await;
    api.ok(
        Method::POST,
        &format!("/v1/subscriptions/{filtered}/test"),
        None,
        202,
    )
    .await;
    let mut types: Vec<String> = drain(&backend)
        .await
        .into_iter()
        .inspect(|m| assert_eq!(m.subscription_id.as_str(), filtered))
        .map(|m| m.event.event_type.to_string())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "subscription.created",
            "subscription.created",
            "webhook.test"
        ],
        "its own creation, the other's, and the test event"
    );
}
