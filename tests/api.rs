//! The management API through the local runner's HTTP port, on the embedded backend and on
//! SQS and DynamoDB (moto): subscriptions, secrets, signature schemes, event types, API keys,
//! and tenant isolation on every route.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::builders::tenant;
use support::client::Client;
use support::receiver::Receiver;
use support::wait::eventually;
use tidings::domain::Role;
use tidings::signing::{Secret, verify};
use tidings_local::Running;

const WAIT: Duration = Duration::from_secs(15);

support::on_both_backends!(
    subscriptions_are_managed_and_paginated,
    secret_rotation_signs_with_both_secrets_during_the_overlap,
    hex_scheme_and_static_headers_reach_seed_style_receivers,
    test_events_go_to_one_subscription,
    event_types_catalog_and_custom_types,
    api_keys_have_roles_and_can_be_revoked,
    the_last_admin_key_cannot_be_revoked,
    no_route_reveals_another_tenant,
);

async fn subscriptions_are_managed_and_paginated(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let events = if i % 2 == 0 {
            json!(["order.*"])
        } else {
            json!(["product.updated"])
        };
        let body = api
            .ok(
                Method::POST,
                "/v1/subscriptions",
                Some(json!({"url": receiver.url(&format!("s{i}")), "events": events})),
                201,
            )
            .await;
        ids.push(body["id"].as_str().unwrap().to_owned());
    }

    // Pages of two, in creation order, with an opaque cursor.
    let mut seen = Vec::new();
    let mut path = "/v1/subscriptions?limit=2".to_owned();
    loop {
        let page = api.ok(Method::GET, &path, None, 200).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        assert!(data.iter().all(|s| s.get("secret").is_none()));
        seen.extend(data.iter().map(|s| s["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/subscriptions?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let orders = api
        .ok(
            Method::GET,
            "/v1/subscriptions?event_type=order.created&limit=2",
            None,
            200,
        )
        .await;
    let order_ids: Vec<&str> = orders["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(order_ids, vec![ids[0].as_str(), ids[2].as_str()]);
    let cursor = orders["next_cursor"]
        .as_str()
        .expect("a third order subscription follows");
    let rest = api
        .ok(
            Method::GET,
            &format!("/v1/subscriptions?event_type=order.created&limit=2&cursor={cursor}"),
            None,
            200,
        )
        .await;
    assert_eq!(rest["data"][0]["id"], ids[4].as_str());
    assert!(rest["next_cursor"].is_null());
    assert_eq!(
        api.call(Method::GET, "/v1/subscriptions?limit=0", None)
            .await
            .0,
        422
    );
    assert_eq!(
        api.call(Method::GET, "/v1/subscriptions?cursor=garbage", None)
            .await
            .0,
        422
    );

    // PATCH changes only what it names; deactivating stops new deliveries at once.
    let path = format!("/v1/subscriptions/{}", ids[0]);
    let patched = api
        .ok(Method::PATCH, &path, Some(json!({"active": false, "description": "paused", "events": ["order.created", "payment.*"]})), 200)
        .await;
    assert_eq!(patched["active"], false);
    assert_eq!(patched["description"], "paused");
    assert_eq!(patched["events"], json!(["order.created", "payment.*"]));
    assert_eq!(patched["url"], receiver.url("s0"));
    let inactive = api
        .ok(Method::GET, "/v1/subscriptions?active=false", None, 200)
        .await;
    assert_eq!(inactive["data"].as_array().unwrap().len(), 1);
    let receipt = api
        .ok(
            Method::POST,
            "/v1/events",
            Some(json!({"type": "order.created", "data": {}})),
            202,
        )
        .await;
    assert_eq!(receipt["deliveries"], 2, "s2 and s4 only: s0 is inactive");
    assert_eq!(
        api.call(Method::PATCH, &path, Some(json!({"url": "ftp://x"})))
            .await
            .0,
        422
    );
    assert_eq!(
        api.call(Method::PATCH, &path, Some(json!({"colour": "red"})))
            .await
            .0,
        422
    );
    api.ok(Method::DELETE, &path, None, 204).await;
    assert_eq!(
        api.call(Method::PATCH, &path, Some(json!({"active": true})))
            .await
            .0,
        404
    );
}

async fn secret_rotation_signs_with_both_secrets_during_the_overlap(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    let created = api
        .ok(
            Method::POST,
            "/v1/subscriptions",
            Some(json!({"url": receiver.url("r"), "events": ["*"]})),
            201,
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let old = created["secret"].as_str().unwrap().to_owned();
    let shown = api
        .ok(
            Method::GET,
            &format!("/v1/subscriptions/{id}/secret"),
            None,
            200,
        )
        .await;
    assert_eq!(shown["secret"], old.as_str());
    assert!(shown["previous_secret_expires_at"].is_null());

    let rotated = api
        .ok(
            Method::POST,
            &format!("/v1/subscriptions/{id}/rotate-secret"),
            None,
            200,
        )
        .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let expires: chrono::DateTime<chrono::Utc> = rotated["previous_secret_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let hours = (expires - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!(
        (23.9..=24.0).contains(&hours),
        "the default overlap is 24 h: {hours}"
    );

    api.ok(
        Method::POST,
        "/v1/events",
        Some(json!({"id": "evt_rot", "type": "order.created", "data": {}})),
        202,
    )
    .await;
    let got = receiver.wait_for("r", 1, WAIT).await;
    assert_eq!(got.len(), 1);
    let sigs = got[0].header("webhook-signature").unwrap();
    assert_eq!(sigs.split(' ').count(), 2, "both secrets sign: {sigs}");
    let check = |secret: &str| {
        verify(
            secret,
            got[0].header("webhook-id"),
            got[0].header("webhook-timestamp"),
            Some(sigs),
            &got[0].body,
            chrono::Utc::now().timestamp(),
        )
    };
    assert_eq!(
        check(&old),
        Ok(()),
        "a receiver still on the old secret verifies"
    );
    assert_eq!(check(&new), Ok(()), "a receiver on the new secret verifies");
    assert!(check(Secret::generate().expose()).is_err());
    if let Some(verdicts) =
        support::verify_with_python(&[(old.clone(), &got[0]), (new.clone(), &got[0])])
    {
        assert_eq!(verdicts, vec![true, true]);
    }

    // A rotation with no overlap retires the old secret at once.
    let rotated = api
        .ok(
            Method::POST,
            &format!("/v1/subscriptions/{id}/rotate-secret"),
            Some(json!({"overlap_secs": 0})),
            200,
        )
        .await;
    let newest = rotated["secret"].as_str().unwrap().to_owned();
    api.ok(
        Method::POST,
        "/v1/events",
        Some(json!({"id": "evt_rot2", "type": "order.created", "data": {}})),
        202,
    )
    .await;
    let got = receiver.wait_for("r", 2, WAIT).await;
    let sigs = got[1].header("webhook-signature").unwrap();
    assert_eq!(sigs.split(' ').count(), 1, "{sigs}");
    let check = |secret: &str| {
        verify(
            secret,
            got[1].header("webhook-id"),
            got[1].header("webhook-timestamp"),
            Some(sigs),
            &got[1].body,
            chrono::Utc::now().timestamp(),
        )
    };
    assert_eq!(check(&newest), Ok(()));
    assert!(
        check(&new).is_err() && check(&old).is_err(),
        "older secrets retired at once"
    );
    let bad = api
        .call(
            Method::POST,
            &format!("/v1/subscriptions/{id}/rotate-secret"),
            Some(json!({"secret": "short"})),
        )
        .await;
    assert_eq!((bad.0, bad.1["field"].as_str()), (422, Some("secret")));
}

async fn hex_scheme_and_static_headers_reach_seed_style_receivers(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    let created = api
        .ok(
            Method::POST,
            "/v1/subscriptions",
            Some(json!({
                "url": receiver.url("ce"),
                "events": ["payment.*"],
                "signature": "hex",
                "headers": {"X-Shop-Id": "acme-eu", "Authorization": "Basic c2hvcDpwYXNz"}
            })),
            201,
        )
        .await;
    assert_eq!(created["signature"], "hex");
    assert_eq!(created["signature_header"], "x-webhook-signature");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let medusa = api
        .ok(
            Method::POST,
            "/v1/subscriptions",
            Some(json!({"url": receiver.url("medusa"), "events": ["payment.*"], "signature": "hex", "signature_header": "X-Medusa-Signature"})),
            201,
        )
        .await;

    api.ok(
        Method::POST,
        "/v1/events",
        Some(json!({"type": "payment.refund.success", "data": {"amount": "10.00"}})),
        202,
    )
    .await;
    let ce = receiver.wait_for("ce", 1, WAIT).await;
    let md = receiver.wait_for("medusa", 1, WAIT).await;
    assert_eq!((ce.len(), md.len()), (1, 1));
    assert_eq!(ce[0].header("x-shop-id"), Some("acme-eu"));
    assert_eq!(ce[0].header("authorization"), Some("Basic c2hvcDpwYXNz"));
    assert!(
        ce[0].header("webhook-signature").is_some(),
        "Standard Webhooks headers come too"
    );
    let body = |r: &support::receiver::Received| String::from_utf8(r.body.to_vec()).unwrap();
    let verdicts = support::verify_hex_with_node(&[
        (
            secret.clone(),
            ce[0].header("x-webhook-signature").unwrap().to_owned(),
            body(&ce[0]),
        ),
        (
            medusa["secret"].as_str().unwrap().to_owned(),
            md[0].header("x-medusa-signature").unwrap().to_owned(),
            body(&md[0]),
        ),
        (
            secret,
            ce[0].header("x-webhook-signature").unwrap().to_owned(),
            body(&ce[0]).replace("10.00", "99.00"),
        ),
    ]);
    assert_eq!(
        verdicts,
        vec![true, true, false],
        "the seeds' own receiver code verifies"
    );

    for bad in [
        json!({"url": receiver.url("x"), "events": ["*"], "headers": {"content-type": "text/plain"}}),
        json!({"url": receiver.url("x"), "events": ["*"], "headers": {"webhook-signature": "v1,x"}}),
        json!({"url": receiver.url("x"), "events": ["*"], "signature": "hex", "headers": {"x-webhook-signature": "x"}}),
        json!({"url": receiver.url("x"), "events": ["*"], "signature": "jws"}),
    ] {
        assert_eq!(
            api.call(Method::POST, "/v1/subscriptions", Some(bad.clone()))
                .await
                .0,
            422,
            "{bad}"
        );
    }
}

async fn test_events_go_to_one_subscription(running: Running) {
    let api = Client::admin(&running);
    let receiver = Receiver::start().await;
    let a = api
        .ok(
            Method::POST,
            "/v1/subscriptions",
            Some(json!({"url": receiver.url("a"), "events": ["*"]})),
            201,
        )
        .await;
    api.ok(
        Method::POST,
        "/v1/subscriptions",
        Some(json!({"url": receiver.url("b"), "events": ["*"]})),
        201,
    )
    .await;
    let id = a["id"].as_str().unwrap();
    let sent = api.send_test_event(id).await;
    let got = receiver.wait_for("a", 1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "webhook.test");
    assert_eq!(got[0].header("webhook-id"), sent["event_id"].as_str());
    let delivery_id = sent["delivery_id"].as_str().unwrap();
    let what = format!("the delivery record of {delivery_id} to be succeeded");
    let record = eventually(&what, WAIT, || async {
        let record = running
            .backend
            .deliveries
            .get_delivery(&tenant("dev"), delivery_id)
            .await
            .unwrap();
        match record {
            Some(r) if r.success() => Ok(r),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(
        record.success(),
        "the returned delivery id names the delivery"
    );
    // The test event was planned for the tested subscription alone: b never gets it.
    let event = api
        .ok(
            Method::GET,
            &format!("/v1/events/{}", sent["event_id"].as_str().unwrap()),
            None,
            200,
        )
        .await;
    let planned: Vec<&Value> = event["deliveries"].as_array().unwrap().iter().collect();
    assert_eq!(
        planned.len(),
        1,
        "only the tested subscription gets it: {event}"
    );
    assert_eq!(planned[0]["id"], delivery_id);
    assert!(
        receiver.received("b").is_empty(),
        "only the tested subscription gets it"
    );
}

async fn event_types_catalog_and_custom_types(running: Running) {
    let api = Client::admin(&running);
    let types = api.ok(Method::GET, "/v1/event-types", None, 200).await;
    let names: Vec<&str> = types["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for expected in [
        "order.created",
        "payment.refund.success",
        "shipment.delivered",
        "product.updated",
        "webhook.test",
    ] {
        assert!(names.contains(&expected), "{expected}");
    }
    assert!(
        types["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| !t["description"].as_str().unwrap().is_empty())
    );

    let (status, body) = api
        .call(
            Method::POST,
            "/v1/subscriptions",
            Some(json!({"url": "http://127.0.0.1:9/x", "events": ["order.craeted"]})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "events[0]");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("did you mean 'order.created'"),
        "{body}"
    );

    api.ok(
        Method::POST,
        "/v1/event-types",
        Some(json!({"name": "loyalty.points_earned", "description": "A customer earned points."})),
        201,
    )
    .await;
    assert_eq!(
        api.call(
            Method::POST,
            "/v1/event-types",
            Some(json!({"name": "loyalty.points_earned", "description": "again"}))
        )
        .await
        .0,
        409
    );
    assert_eq!(
        api.call(
            Method::POST,
            "/v1/event-types",
            Some(json!({"name": "order.created", "description": "dup"}))
        )
        .await
        .0,
        409
    );
    assert_eq!(
        api.call(
            Method::POST,
            "/v1/event-types",
            Some(json!({"name": "Loyalty", "description": "x"}))
        )
        .await
        .0,
        422
    );
    api.ok(
        Method::POST,
        "/v1/subscriptions",
        Some(json!({"url": "http://127.0.0.1:9/x", "events": ["loyalty.points_earned"]})),
        201,
    )
    .await;
    let types = api.ok(Method::GET, "/v1/event-types", None, 200).await;
    let custom: Vec<&Value> = types["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["custom"] == true)
        .collect();
    assert_eq!(custom.len(), 1);
    assert_eq!(custom[0]["name"], "loyalty.points_earned");
}

async fn api_keys_have_roles_and_can_be_revoked(running: Running) {
    let api = Client::admin(&running);
    let created = api
        .ok(
            Method::POST,
            "/v1/api-keys",
            Some(json!({"role": "ingest", "name": "shop backend"})),
            201,
        )
        .await;
    let plaintext = created["key"].as_str().unwrap().to_owned();
    assert!(plaintext.starts_with("tdk_"));
    let ingest = Client::new(&running, &plaintext);
    ingest
        .ok(
            Method::POST,
            "/v1/events",
            Some(json!({"type": "order.created", "data": {}})),
            202,
        )
        .await;
    assert_eq!(
        ingest.call(Method::GET, "/v1/subscriptions", None).await.0,
        403
    );
    assert_eq!(
        ingest
            .call(Method::POST, "/v1/api-keys", Some(json!({"role": "admin"})))
            .await
            .0,
        403
    );

    let keys = api.ok(Method::GET, "/v1/api-keys", None, 200).await;
    let listed = keys["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "the development key and the new one");
    assert!(
        listed
            .iter()
            .all(|k| k.get("key").is_none() && k.get("hash").is_none()),
        "keys are shown once"
    );
    assert_eq!(
        api.call(Method::POST, "/v1/api-keys", Some(json!({"role": "owner"})))
            .await
            .0,
        422
    );

    let id = created["id"].as_str().unwrap();
    api.ok(Method::DELETE, &format!("/v1/api-keys/{id}"), None, 204)
        .await;
    assert_eq!(
        ingest
            .call(
                Method::POST,
                "/v1/events",
                Some(json!({"type": "order.created", "data": {}}))
            )
            .await
            .0,
        401
    );
    assert_eq!(
        api.call(Method::DELETE, &format!("/v1/api-keys/{id}"), None)
            .await
            .0,
        404
    );
}

async fn no_route_reveals_another_tenant(running: Running) {
    let api = Client::admin(&running);
    let created = api
        .ok(
            Method::POST,
            "/v1/subscriptions",
            Some(json!({"url": "http://127.0.0.1:9/x", "events": ["*"]})),
            201,
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let key = api
        .ok(
            Method::POST,
            "/v1/api-keys",
            Some(json!({"role": "ingest"})),
            201,
        )
        .await;
    let key_id = key["id"].as_str().unwrap();
    api.ok(
        Method::POST,
        "/v1/event-types",
        Some(json!({"name": "loyalty.secret_type", "description": "Private."})),
        201,
    )
    .await;
    api.ok(
        Method::POST,
        "/v1/events",
        Some(json!({"id": "evt_shared_id", "type": "order.created", "data": {"a": 1}})),
        202,
    )
    .await;

    let other = Client::of_tenant(&running, "other", Role::Admin).await;
    let missing = "sub_01JD7Y30000000000000000009";
    // Another tenant's ids answer exactly as ids that do not exist: the same status and
    // the same whole body (the problem never echoes the id).
    let routes = |target: &str| {
        [
            (Method::GET, format!("/v1/subscriptions/{target}"), None),
            (
                Method::PATCH,
                format!("/v1/subscriptions/{target}"),
                Some(json!({"active": false})),
            ),
            (Method::DELETE, format!("/v1/subscriptions/{target}"), None),
            (
                Method::GET,
                format!("/v1/subscriptions/{target}/secret"),
                None,
            ),
            (
                Method::POST,
                format!("/v1/subscriptions/{target}/rotate-secret"),
                None,
            ),
            (
                Method::POST,
                format!("/v1/subscriptions/{target}/test"),
                None,
            ),
        ]
    };
    for ((method, path, body), (_, missing_path, missing_body)) in
        routes(id).into_iter().zip(routes(missing))
    {
        let (status, problem) = other.call(method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(problem["detail"], "no subscription with this id");
        let (missing_status, missing_problem) = other
            .call(method.clone(), &missing_path, missing_body)
            .await;
        assert_eq!(
            (status, &problem),
            (missing_status, &missing_problem),
            "{method} {path}: another tenant's id answers as a missing one"
        );
    }
    let (status, problem) = other
        .call(Method::DELETE, &format!("/v1/api-keys/{key_id}"), None)
        .await;
    assert_eq!(status, 404);
    let missing_key = other
        .call(
            Method::DELETE,
            "/v1/api-keys/key_01JD7Y30000000000000000009",
            None,
        )
        .await;
    assert_eq!(
        (status, problem),
        missing_key,
        "another tenant's API key answers as a missing one"
    );
    let listed = other.ok(Method::GET, "/v1/subscriptions", None, 200).await;
    assert_eq!(listed["data"], json!([]));
    let keys = other.ok(Method::GET, "/v1/api-keys", None, 200).await;
    assert_eq!(
        keys["data"].as_array().unwrap().len(),
        1,
        "only its own key"
    );
    let types = other.ok(Method::GET, "/v1/event-types", None, 200).await;
    assert!(!types.to_string().contains("loyalty.secret_type"));
    // The same event id in another tenant is a different event, not a duplicate or conflict.
    let receipt = other
        .ok(
            Method::POST,
            "/v1/events",
            Some(json!({"id": "evt_shared_id", "type": "order.created", "data": {"b": 2}})),
            202,
        )
        .await;
    assert_eq!(
        (
            receipt["duplicate"].as_bool(),
            receipt["deliveries"].as_u64()
        ),
        (Some(false), Some(0))
    );
    // And nothing of the first tenant changed.
    let mine = api
        .ok(Method::GET, &format!("/v1/subscriptions/{id}"), None, 200)
        .await;
    assert_eq!(mine["active"], true);
    assert_eq!(
        api.ok(Method::GET, "/v1/api-keys", None, 200).await["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// A tenant can never lock itself out: its last admin key stays.
async fn the_last_admin_key_cannot_be_revoked(running: Running) {
    let first = Client::admin(&running);
    let admin_ids = |keys: &Value| -> Vec<String> {
        keys["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["role"] == "admin")
            .map(|k| k["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let keys = first.ok(Method::GET, "/v1/api-keys", None, 200).await;
    let [first_id] = admin_ids(&keys)
        .try_into()
        .expect("the runner's one admin key");

    // Alone, with an ingest key beside it, it may not revoke itself.
    first
        .ok(
            Method::POST,
            "/v1/api-keys",
            Some(json!({"role": "ingest"})),
            201,
        )
        .await;
    let (status, body) = first
        .call(Method::DELETE, &format!("/v1/api-keys/{first_id}"), None)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["type"], "urn:tidings:problem:conflict");
    assert!(
        body["detail"].as_str().unwrap().contains("last admin key"),
        "the detail says why: {body}"
    );
    first.ok(Method::GET, "/v1/api-keys", None, 200).await; // still works

    // With a second admin key it may; then the second is the last one.
    let second = first
        .ok(
            Method::POST,
            "/v1/api-keys",
            Some(json!({"role": "admin"})),
            201,
        )
        .await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let second = Client::new(&running, second["key"].as_str().unwrap());
    first
        .ok(
            Method::DELETE,
            &format!("/v1/api-keys/{first_id}"),
            None,
            204,
        )
        .await;
    let (status, _) = first.call(Method::GET, "/v1/api-keys", None).await;
    assert_eq!(status, 401, "the revoked key stops working at once");
    let (status, body) = second
        .call(Method::DELETE, &format!("/v1/api-keys/{second_id}"), None)
        .await;
    assert_eq!(status, 409, "{body}");
    let keys = second.ok(Method::GET, "/v1/api-keys", None, 200).await;
    assert_eq!(admin_ids(&keys), vec![second_id]);
}
