//! Standard Webhooks v1a: `ed25519` subscriptions' deliveries, from the local runner to
//! receivers on 127.0.0.1, verify under an independent implementation of the spec (Python
//! `cryptography`, `tests/receivers/verify_v1a.py`) with the subscription's `whpk_` key;
//! a wrong key fails; a rotation's overlap keeps the old and the new key verifying, and
//! after it only the new one does. On the embedded backend and on SQS and DynamoDB (moto).

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use support::client::Client;
use support::harness::Kind;
use support::receiver::{Received, Receiver};
use tidings::config::Config;
use tidings::domain::Role;
use tidings::signing::{SigningKey, verify_headers};
use tidings_local::Running;

const WAIT: Duration = Duration::from_secs(15);

support::on_both_backends!(
    deliveries_verify_with_the_public_key_alone,
    a_rotation_keeps_both_keys_verifying_for_its_overlap_only,
    the_public_key_is_served_for_ed25519_subscriptions_only,
    signing_keys_are_checked,
);

async fn start(kind: Kind) -> Running {
    kind.start(Config {
        retry: "5s".parse().unwrap(),
        ..Config::default()
    })
    .await
}

/// Creates an `ed25519` subscription to `url` for `order.*`; returns its answer.
async fn subscribe(api: &Client, url: String, extra: Value) -> Value {
    let mut body = json!({"url": url, "events": ["order.*"], "signature": "ed25519"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    api.ok(Method::POST, "/v1/subscriptions", Some(body), 201)
        .await
}

/// Posts an order event and returns the one delivery `path` gets.
async fn deliver(api: &Client, receiver: &Receiver, path: &str, n: usize) -> Received {
    api.ok(
        Method::POST,
        "/v1/events",
        Some(json!({"type": "order.created", "data": {"n": n, "total": "99.99"}})),
        202,
    )
    .await;
    let received = receiver.wait_for(path, n, WAIT).await;
    assert_eq!(received.len(), n, "one delivery per event");
    received[n - 1].clone()
}

/// What `verify_v1a.py` says of each `(public key, delivery)`; `None` without Python.
fn v1a_verdicts(cases: &[(&str, &Received)]) -> Option<Vec<bool>> {
    let cases: Vec<(String, &Received)> = cases.iter().map(|(k, r)| (k.to_string(), *r)).collect();
    support::verify_v1a_with_python(&cases)
}

fn str_of(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"))
        .to_owned()
}

#[test]
fn the_python_verifier_follows_the_spec_vector() {
    // svix-server's `test_asymmetric_key_signing` (design.md, "Keys and dialects").
    let case = |signature: &str, body: &str| {
        json!({
            "public_key": "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=",
            "headers": {
                "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "webhook-timestamp": "1614265330",
                "webhook-signature": signature,
            },
            "body": body,
            "now": 1614265330,
        })
    };
    let sig = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==";
    let body = r#"{"test": 2432232314}"#;
    let cases = [
        case(sig, body),
        case(
            &format!("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= {sig}"),
            body,
        ),
        case(sig, r#"{"test": 2432232315}"#),
        case(&sig.replacen("v1a,", "v1,", 1), body),
    ];
    if let Some(verdicts) = support::verify_v1a_json(&cases) {
        assert_eq!(verdicts, [true, true, false, false]);
    }
}

async fn deliveries_verify_with_the_public_key_alone(kind: Kind) {
    let receiver = Receiver::start().await;
    let running = start(kind).await;
    let api = Client::admin(&running);
    let created = subscribe(&api, receiver.url("a"), json!({})).await;
    assert_eq!(created["signature"], "ed25519");
    let public_key = str_of(&created, "public_key");
    let secret = str_of(&created, "secret");
    assert!(public_key.starts_with("whpk_"), "{public_key}");
    assert!(
        !created.to_string().contains("whsk_"),
        "the private key is never shown: {created}"
    );
    let keys = api
        .ok(
            Method::GET,
            &format!("/v1/subscriptions/{}/public-key", str_of(&created, "id")),
            None,
            200,
        )
        .await;
    assert_eq!(
        keys,
        json!({"public_key": public_key, "previous_public_keys": []})
    );

    let delivery = deliver(&api, &receiver, "a", 1).await;
    let signatures = delivery.header("webhook-signature").unwrap();
    let versions: Vec<&str> = signatures
        .split(' ')
        .map(|s| s.split_once(',').unwrap().0)
        .collect();
    assert_eq!(versions, ["v1", "v1a"], "{signatures}");
    verify_headers(&public_key, &delivery.headers, &delivery.body).expect("v1a verifies");

    let wrong = SigningKey::generate().unwrap().public_key();
    let mut tampered = delivery.clone();
    let body = String::from_utf8(tampered.body.to_vec()).unwrap();
    tampered.body = body.replace("99.99", "0.01").into();
    assert!(verify_headers(&wrong, &delivery.headers, &delivery.body).is_err());
    assert!(verify_headers(&public_key, &tampered.headers, &tampered.body).is_err());
    let verdicts = v1a_verdicts(&[
        (&public_key, &delivery),
        (&wrong, &delivery),
        (&public_key, &tampered),
    ]);
    if let Some(verdicts) = verdicts {
        assert_eq!(
            verdicts,
            [true, false, false],
            "right key, wrong key, tampered"
        );
    }
    // The official library, which knows only v1, still verifies the v1 beside it.
    if let Some(verdicts) = support::verify_with_python(&[(secret, &delivery)]) {
        assert_eq!(verdicts, [true]);
    }
}

async fn a_rotation_keeps_both_keys_verifying_for_its_overlap_only(kind: Kind) {
    let receiver = Receiver::start().await;
    let running = start(kind).await;
    let api = Client::admin(&running);
    let given = SigningKey::generate().unwrap();
    let created = subscribe(
        &api,
        receiver.url("r"),
        json!({"signing_key": given.expose()}),
    )
    .await;
    let old = given.public_key();
    assert_eq!(created["public_key"], old.as_str(), "the key given is used");
    let id = str_of(&created, "id");
    let rotate = |overlap: u64| {
        let api = api.clone();
        let path = format!("/v1/subscriptions/{id}/rotate-key");
        async move {
            api.ok(
                Method::POST,
                &path,
                Some(json!({"overlap_secs": overlap})),
                200,
            )
            .await
        }
    };

    let rotated = rotate(4).await;
    let new = str_of(&rotated, "public_key");
    assert_ne!(new, old);
    let previous = rotated["previous_public_keys"].as_array().unwrap();
    assert_eq!(previous.len(), 1, "{rotated}");
    assert_eq!(previous[0]["public_key"], old.as_str());
    let expires_at: DateTime<Utc> = previous[0]["expires_at"].as_str().unwrap().parse().unwrap();

    // During the overlap: a receiver with the old key and one with the new both verify.
    let during = deliver(&api, &receiver, "r", 1).await;
    let sent_at: i64 = during.header("webhook-timestamp").unwrap().parse().unwrap();
    assert!(
        sent_at < expires_at.timestamp(),
        "the delivery was meant to go out during the overlap"
    );
    assert_eq!(
        during
            .header("webhook-signature")
            .unwrap()
            .matches("v1a,")
            .count(),
        2
    );
    for key in [&old, &new] {
        verify_headers(key, &during.headers, &during.body).expect("both keys verify");
    }
    if let Some(verdicts) = v1a_verdicts(&[(&old, &during), (&new, &during)]) {
        assert_eq!(
            verdicts,
            [true, true],
            "old key, new key during the overlap"
        );
    }

    // After it: only the new key.
    let wait = (expires_at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_secs(1)).await;
    let after = deliver(&api, &receiver, "r", 2).await;
    assert!(verify_headers(&old, &after.headers, &after.body).is_err());
    verify_headers(&new, &after.headers, &after.body).expect("the new key verifies");
    if let Some(verdicts) = v1a_verdicts(&[(&old, &after), (&new, &after)]) {
        assert_eq!(
            verdicts,
            [false, true],
            "old key, new key after the overlap"
        );
    }
    let keys = api
        .ok(
            Method::GET,
            &format!("/v1/subscriptions/{id}/public-key"),
            None,
            200,
        )
        .await;
    assert_eq!(keys, json!({"public_key": new, "previous_public_keys": []}));

    // No overlap (after a leak): the replaced key stops signing at once.
    let rotated = rotate(0).await;
    let newest = str_of(&rotated, "public_key");
    assert_eq!(rotated["previous_public_keys"], json!([]));
    let at_once = deliver(&api, &receiver, "r", 3).await;
    if let Some(verdicts) = v1a_verdicts(&[(&new, &at_once), (&newest, &at_once)]) {
        assert_eq!(verdicts, [false, true]);
    }
    assert_eq!(
        at_once
            .header("webhook-signature")
            .unwrap()
            .matches("v1a,")
            .count(),
        1
    );
}

async fn the_public_key_is_served_for_ed25519_subscriptions_only(running: Running) {
    let api = Client::admin(&running);
    let url = "http://127.0.0.1:9/hooks".to_owned();
    let standard = api
        .ok(
            Method::POST,
            "/v1/subscriptions",
            Some(json!({"url": url, "events": ["*"]})),
            201,
        )
        .await;
    assert!(standard.get("public_key").is_none(), "{standard}");
    let standard_id = str_of(&standard, "id");
    let other = Client::of_tenant(&running, "other", Role::Admin).await;
    let theirs = subscribe(&other, url.clone(), json!({})).await;
    let missing = "sub_01JD7Y30000000000000000009";

    // Not ed25519, another tenant's, missing or malformed: the same 404, word for word.
    let mut answers = Vec::new();
    for id in [
        standard_id.as_str(),
        &str_of(&theirs, "id"),
        missing,
        "nope",
    ] {
        for (method, action) in [(Method::GET, "public-key"), (Method::POST, "rotate-key")] {
            let path = format!("/v1/subscriptions/{id}/{action}");
            let (status, body) = api.call(method, &path, None).await;
            assert_eq!(status, 404, "{path}: {body}");
            answers.push(body);
        }
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    let ingest = Client::of_tenant(&running, "dev", Role::Ingest).await;
    let path = format!("/v1/subscriptions/{}/public-key", str_of(&theirs, "id"));
    assert_eq!(ingest.call(Method::GET, &path, None).await.0, 403);

    // Switching to ed25519 makes a key pair; leaving it drops it.
    let path = format!("/v1/subscriptions/{standard_id}");
    let changed = api
        .ok(
            Method::PATCH,
            &path,
            Some(json!({"signature": "ed25519"})),
            200,
        )
        .await;
    let public_key = str_of(&changed, "public_key");
    let keys_path = format!("{path}/public-key");
    let keys = api.ok(Method::GET, &keys_path, None, 200).await;
    assert_eq!(keys["public_key"], public_key.as_str());
    let fetched = api.ok(Method::GET, &path, None, 200).await;
    assert_eq!(fetched["public_key"], public_key.as_str());
    api.ok(
        Method::PATCH,
        &path,
        Some(json!({"description": "kept"})),
        200,
    )
    .await;
    let keys = api.ok(Method::GET, &keys_path, None, 200).await;
    assert_eq!(
        keys["public_key"],
        public_key.as_str(),
        "other changes keep the key"
    );
    let back = api
        .ok(
            Method::PATCH,
            &path,
            Some(json!({"signature": "standard"})),
            200,
        )
        .await;
    assert!(back.get("public_key").is_none(), "{back}");
    assert_eq!(api.call(Method::GET, &keys_path, None).await.0, 404);
}

async fn signing_keys_are_checked(running: Running) {
    let api = Client::admin(&running);
    let url = "http://127.0.0.1:9/hooks";
    let key = SigningKey::generate().unwrap();
    let seed_and_wrong_public = {
        let other = SigningKey::generate().unwrap();
        format!("{}{}", &key.expose()[..48], &other.expose()[48..])
    };
    let refused = |body: Value, field: &'static str| {
        let api = api.clone();
        async move {
            let (status, answer) = api
                .call(Method::POST, "/v1/subscriptions", Some(body))
                .await;
            assert_eq!(
                (status, answer["field"].as_str()),
                (422, Some(field)),
                "{answer}"
            );
            answer
        }
    };
    for bad in [
        "whsk_***",
        "whsk_",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        &key.public_key(),
        &key.expose()[5..],
        &seed_and_wrong_public,
    ] {
        let body = json!({"url": url, "events": ["*"], "signature": "ed25519", "signing_key": bad});
        let answer = refused(body, "signing_key").await;
        assert!(
            !answer.to_string().contains(&key.expose()[5..20]),
            "the problem never echoes a key: {answer}"
        );
    }
    refused(
        json!({"url": url, "events": ["*"], "signing_key": key.expose()}),
        "signing_key",
    )
    .await;
    refused(
        json!({"url": url, "events": ["*"], "signature": "ed25519", "standard_webhooks": false}),
        "standard_webhooks",
    )
    .await;
    refused(
        json!({"url": url, "events": ["*"], "signature": "ed25519", "signature_header": "x-sig"}),
        "signature_header",
    )
    .await;

    let created = subscribe(&api, url.to_owned(), json!({})).await;
    let path = format!("/v1/subscriptions/{}/rotate-key", str_of(&created, "id"));
    for (body, field) in [
        (json!({"signing_key": "whsk_nope"}), "signing_key"),
        (json!({"signing_key": key.public_key()}), "signing_key"),
        (json!({"overlap_secs": 604801}), "overlap_secs"),
    ] {
        let (status, answer) = api.call(Method::POST, &path, Some(body)).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (422, Some(field)),
            "{answer}"
        );
    }
    let rotated = api
        .ok(
            Method::POST,
            &path,
            Some(json!({"signing_key": key.expose()})),
            200,
        )
        .await;
    assert_eq!(rotated["public_key"], key.public_key().as_str());
    let patch = format!("/v1/subscriptions/{}", str_of(&created, "id"));
    let (status, answer) = api
        .call(
            Method::PATCH,
            &patch,
            Some(json!({"standard_webhooks": false})),
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (422, Some("standard_webhooks"))
    );
}
