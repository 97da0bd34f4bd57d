//! Saleor's JWS (seed 004, issue 9): a `saleor` subscription without a secret key is signed
//! with a detached RS256 JWS, and Saleor apps' own verifiers accept the deliveries of the
//! local runner: the seed's `jose` code (`tests/receivers/saleor_jws.js`) and
//! `@saleor/app-sdk`'s `verifySignatureWithJwks` (`tests/receivers/saleor_app_sdk.js`), both
//! fetching the key set from the runner's `/.well-known/jwks.json`, on the embedded backend
//! and on SQS and DynamoDB (moto). A tampered body or a stranger's key fails. Rotation: during
//! the overlap a receiver still holding the old key set and one holding the new both verify
//! what they may meet; after it, only the new key is published and signs.
//!
//! Each runner's dispatcher reads the deployment's keys at its first JWS delivery and keeps
//! them a minute, so the rotation tests rotate before any delivery (the deliveries are then
//! signed with the new key at once) and make the old key's signatures with the key material
//! itself, as a dispatcher that has not read the keys again yet would: RS256 (RSASSA-PKCS1
//! v1.5) is deterministic, so a signature made here is the one a dispatcher would send.

use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use reqwest::Method;
use serde_json::{Value, json};
use support::client::Client;
use support::node_receiver::NodeReceiver;
use support::receiver::{Received, Receiver};
use support::wait::eventually;
use tidings::services::signing_keys;
use tidings::signing::RsaSigningKey;
use tidings_local::Running;

const WAIT: Duration = Duration::from_secs(15);

/// Where both Node receivers take deliveries.
const PATH: &str = "/api/webhooks/saleor";

support::on_both_backends!(
    jws_deliveries_verify_under_jose_and_app_sdk,
    a_tampered_body_or_a_strangers_key_fails,
    during_the_overlap_old_and_new_key_sets_both_verify,
    after_the_overlap_only_the_new_key_verifies,
);

// ------------------------------------------------------------------------------- helpers

/// `GET /.well-known/jwks.json` without an API key: the key set and its `Cache-Control`.
async fn jwks(running: &Running) -> (Value, Option<String>) {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/.well-known/jwks.json", running.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "the JWKS needs no API key");
    let cache_control = response
        .headers()
        .get(header::CACHE_CONTROL)
        .map(|v| v.to_str().unwrap().to_owned());
    (
        response.json().await.expect("the JWKS is JSON"),
        cache_control,
    )
}

fn kids(set: &Value) -> Vec<&str> {
    set["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("a key set: {set}"))
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect()
}

/// A key set frozen as it was: what a receiver that fetched it before a rotation holds.
struct JwksSnapshot {
    origin: String,
    task: tokio::task::JoinHandle<()>,
}

impl JwksSnapshot {
    async fn serve(set: &Value) -> Self {
        let text = set.to_string();
        let app = Router::new().route(
            "/.well-known/jwks.json",
            get(move || {
                let text = text.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], text) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { origin, task }
    }
}

impl Drop for JwksSnapshot {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The seed's jose code, fetching the key set from `origin`.
async fn jose_receiver(origin: &str) -> NodeReceiver {
    NodeReceiver::start("saleor_jws.js", &[("SALEOR_BACKEND", origin)]).await
}

/// app-sdk's check; `pinned`: the key set it holds and never refreshes.
async fn app_sdk_receiver(pinned: Option<&Value>) -> NodeReceiver {
    match pinned {
        Some(set) => {
            NodeReceiver::start("saleor_app_sdk.js", &[("SALEOR_JWKS", &set.to_string())]).await
        }
        None => NodeReceiver::start("saleor_app_sdk.js", &[]).await,
    }
}

/// A `saleor` subscription of `ORDER_CREATED` without a secret key: signed with the JWS.
async fn subscribe_jws(api: &Client, url: String) -> Value {
    let created = api
        .ok(
            Method::POST,
            "/v1/subscriptions",
            Some(json!({"url": url, "events": ["ORDER_CREATED"], "format": "saleor"})),
            201,
        )
        .await;
    assert_eq!(created["saleor_signature"], "jws", "{created}");
    created
}

async fn post_order_created(api: &Client, id: &str, data: &Value) {
    let receipt = api
        .ok(
            Method::POST,
            "/v1/events",
            Some(json!({"id": id, "type": "ORDER_CREATED", "data": data})),
            202,
        )
        .await;
    assert_eq!(receipt["type"], "order.created");
}

/// The receiver's own records (`verified` or `rejected`), without the harness's
/// `rejected 401` lines.
fn verdicts(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["branch"] == "verified" || r["branch"] == "rejected")
        .cloned()
        .collect()
}

/// Waits for the one real delivery a Node receiver gets, and returns its record.
async fn the_delivery(node: &NodeReceiver) -> Value {
    let records = node.wait_for(1, WAIT).await;
    let verdicts = verdicts(&records);
    assert_eq!(verdicts.len(), 1, "one delivery: {records:#?}");
    verdicts[0].clone()
}

/// The one delivery the Rust receiver captured at `/saleor`: its body and `Saleor-Signature`.
async fn captured(capture: &Receiver) -> (Received, String) {
    let got = capture.wait_for("saleor", 1, WAIT).await;
    assert_eq!(got.len(), 1, "one delivery");
    let signature = got[0]
        .header("saleor-signature")
        .expect("a Saleor-Signature")
        .to_owned();
    (got[0].clone(), signature)
}

/// POSTs `body` to the receiver with `signature` and the delivery's other Saleor headers:
/// the status and the receiver's verdict.
async fn replay(
    node: &NodeReceiver,
    delivery: &Received,
    body: &[u8],
    signature: &str,
) -> (u16, Value) {
    let mut headers = vec![("saleor-signature", signature)];
    for name in ["saleor-event", "saleor-domain", "saleor-api-url"] {
        headers.push((name, delivery.header(name).unwrap()));
    }
    let before = node.received().await.len();
    let status = node.post(PATH, body, &headers).await;
    let verdict = eventually("the receiver's verdict", WAIT, || async {
        let records = node.received().await;
        verdicts(records.get(before..).unwrap_or_default())
            .into_iter()
            .next()
            .ok_or_else(|| format!("{records:?}"))
    })
    .await;
    (status, verdict)
}

/// The receiver verifies `signature` over `body`, made with the key `kid`.
async fn verifies(
    node: &NodeReceiver,
    delivery: &Received,
    body: &[u8],
    signature: &str,
    kid: &str,
) {
    let (status, verdict) = replay(node, delivery, body, signature).await;
    assert_eq!(
        (status, &verdict["branch"], &verdict["kid"]),
        (200, &json!("verified"), &json!(kid)),
        "{verdict}; {}",
        node.log()
    );
}

/// The receiver answers 401 to `signature` over `body`: the verdict, to check the reason.
async fn rejects(node: &NodeReceiver, delivery: &Received, body: &[u8], signature: &str) -> Value {
    let (status, verdict) = replay(node, delivery, body, signature).await;
    assert_eq!(
        (status, &verdict["branch"]),
        (401, &json!("rejected")),
        "{verdict}; {}",
        node.log()
    );
    verdict
}

// ------------------------------------------------------------------------------- deliveries

/// A delivery of a `saleor` subscription without a secret verifies under the seed's jose
/// code and under app-sdk, both fetching the runner's public, cacheable key set.
async fn jws_deliveries_verify_under_jose_and_app_sdk(running: Running) {
    let api = Client::admin(&running);
    let (set, cache_control) = jwks(&running).await;
    assert_eq!(cache_control.as_deref(), Some("public, max-age=300"));
    let keys = set["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "one key before any rotation: {set}");
    let key = &keys[0];
    let mut members: Vec<&str> = key
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        ["alg", "e", "key_ops", "kid", "kty", "n", "use"],
        "{key}"
    );
    assert_eq!(
        (
            &key["kty"],
            &key["use"],
            &key["key_ops"],
            &key["alg"],
            &key["e"]
        ),
        (
            &json!("RSA"),
            &json!("sig"),
            &json!(["verify"]),
            &json!("RS256"),
            &json!("AQAB")
        )
    );
    assert_eq!(
        key["n"].as_str().unwrap().len(),
        342,
        "a 2048-bit modulus, base64url"
    );
    let keys_now = signing_keys::current(&running.backend).await.unwrap();
    let kid = keys_now.current.kid().to_owned();
    assert_eq!(key["kid"], kid.as_str());

    let jose = jose_receiver(&running.base_url()).await;
    let sdk = app_sdk_receiver(None).await;
    let capture = Receiver::start().await;
    for url in [jose.url(PATH), sdk.url(PATH), capture.url("saleor")] {
        subscribe_jws(&api, url).await;
    }
    let with_secret = api
        .ok(
            Method::POST,
            "/v1/subscriptions",
            Some(
                json!({"url": capture.url("hmac"), "events": ["ORDER_CREATED"],
                        "format": "saleor", "secret": "secret-key"}),
            ),
            201,
        )
        .await;
    assert_eq!(with_secret["saleor_signature"], "hmac");

    let order =
        json!({"order": {"id": "T3JkZXI6MQ==", "number": "1", "userEmail": "ada@example.com"}});
    post_order_created(&api, "evt_jws_1", &order).await;

    let header = json!({"alg": "RS256", "b64": false, "crit": ["b64"], "kid": kid, "typ": "JWT"});
    let by_jose = the_delivery(&jose).await;
    assert_eq!(
        (
            &by_jose["branch"],
            &by_jose["event"],
            &by_jose["kid"],
            &by_jose["data"]
        ),
        (
            &json!("verified"),
            &json!("order_created"),
            &json!(kid),
            &order
        ),
        "{by_jose}; {}",
        jose.log()
    );
    assert_eq!(
        by_jose["header"], header,
        "the protected header, as jose read it"
    );
    let by_sdk = the_delivery(&sdk).await;
    assert_eq!(
        (
            &by_sdk["branch"],
            &by_sdk["event"],
            &by_sdk["kid"],
            &by_sdk["data"]
        ),
        (
            &json!("verified"),
            &json!("order_created"),
            &json!(kid),
            &order
        ),
        "{by_sdk}; {}",
        sdk.log()
    );

    let (delivery, signature) = captured(&capture).await;
    assert_eq!(delivery.json(), order, "the payload itself is the body");
    assert_eq!(
        signature,
        keys_now.current.sign_detached(&delivery.body).unwrap(),
        "the deployment's current key signed the raw body"
    );
    let (protected, rest) = signature.split_once('.').unwrap();
    assert!(rest.starts_with('.'), "a detached payload: {signature}");
    assert!(!protected.is_empty());
    assert_eq!(
        delivery.header("saleor-api-url"),
        Some(format!("{}/graphql/", running.base_url()).as_str()),
        "app-sdk fetches the key set from this origin"
    );
}

/// One byte of the body changed, or a signature by a key the deployment never published:
/// both verifiers answer 401, for that reason; the genuine delivery replayed passes.
async fn a_tampered_body_or_a_strangers_key_fails(running: Running) {
    let api = Client::admin(&running);
    let jose = jose_receiver(&running.base_url()).await;
    let sdk = app_sdk_receiver(None).await;
    let capture = Receiver::start().await;
    subscribe_jws(&api, capture.url("saleor")).await;
    let order = json!({"order": {"id": "T3JkZXI6Mg==", "number": "2"}});
    post_order_created(&api, "evt_jws_tampered", &order).await;
    let (delivery, signature) = captured(&capture).await;
    let kid = signing_keys::current(&running.backend)
        .await
        .unwrap()
        .current
        .kid()
        .to_owned();

    let body = delivery.body.to_vec();
    let at = String::from_utf8(body.clone())
        .unwrap()
        .find("\"number\":\"2\"")
        .expect("the order number is in the body")
        + "\"number\":\"".len();
    let mut tampered = body.clone();
    tampered[at] = b'3';
    assert_eq!(
        tampered.iter().zip(&body).filter(|(a, b)| a != b).count(),
        1,
        "one byte changed"
    );
    let stranger = RsaSigningKey::generate()
        .unwrap()
        .sign_detached(&body)
        .unwrap();

    for node in [&jose, &sdk] {
        let verdict = rejects(node, &delivery, &tampered, &signature).await;
        assert_eq!(verdict["kid"], kid.as_str());
        let verdict = rejects(node, &delivery, &body, &stranger).await;
        assert_ne!(verdict["kid"], kid.as_str());
        verifies(node, &delivery, &body, &signature, &kid).await;
    }
    let reasons = verdicts(&jose.received().await)
        .iter()
        .map(|v| v["reason"].clone())
        .collect::<Vec<_>>();
    assert_eq!(
        reasons,
        [
            json!("ERR_JWS_SIGNATURE_VERIFICATION_FAILED"),
            json!("ERR_JWKS_NO_MATCHING_KEY"),
            Value::Null
        ],
        "jose's reasons"
    );
    let reasons = verdicts(&sdk.received().await)
        .iter()
        .map(|v| v["reason"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>();
    assert!(
        reasons[0].contains("signature verification failed"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("no applicable key found"),
        "{reasons:?}"
    );
}

// ------------------------------------------------------------------------------- rotation

/// A rotation with an overlap publishes both keys; a receiver that still holds the old key
/// set verifies what the old key signs (dispatchers keep signing with it until they read
/// the keys again), one that fetched the key set after the rotation verifies both keys'
/// signatures, and the new key signs the deliveries of a dispatcher that read the keys after
/// the rotation.
async fn during_the_overlap_old_and_new_key_sets_both_verify(running: Running) {
    let api = Client::admin(&running);
    let (old_set, _) = jwks(&running).await;
    let before = signing_keys::current(&running.backend).await.unwrap();
    let old_kid = before.current.kid().to_owned();
    assert_eq!(kids(&old_set), [old_kid.as_str()]);
    let snapshot = JwksSnapshot::serve(&old_set).await;
    let old_jose = jose_receiver(&snapshot.origin).await;
    let old_sdk = app_sdk_receiver(Some(&old_set)).await;

    let rotated = signing_keys::rotate(&running.backend, chrono::Duration::hours(1))
        .await
        .unwrap();
    let new_kid = rotated.current.kid().to_owned();
    assert_ne!(new_kid, old_kid);
    let (set, _) = jwks(&running).await;
    assert_eq!(
        kids(&set),
        [new_kid.as_str(), old_kid.as_str()],
        "the new key first, the old one for the overlap"
    );
    assert_eq!(set["keys"][1], old_set["keys"][0], "the old key, unchanged");

    let new_jose = jose_receiver(&running.base_url()).await;
    let new_sdk = app_sdk_receiver(None).await;
    let capture = Receiver::start().await;
    for url in [new_jose.url(PATH), new_sdk.url(PATH), capture.url("saleor")] {
        subscribe_jws(&api, url).await;
    }
    let order = json!({"order": {"id": "T3JkZXI6Mw==", "number": "3"}});
    post_order_created(&api, "evt_jws_overlap", &order).await;
    for node in [&new_jose, &new_sdk] {
        let verdict = the_delivery(node).await;
        assert_eq!(
            (&verdict["branch"], &verdict["kid"], &verdict["data"]),
            (&json!("verified"), &json!(new_kid), &order),
            "{verdict}; {}",
            node.log()
        );
    }
    let (delivery, new_signature) = captured(&capture).await;
    let body = delivery.body.to_vec();
    assert_eq!(new_signature, rotated.current.sign_detached(&body).unwrap());

    // What a dispatcher that has not read the keys again sends during the overlap.
    let old_signature = before.current.sign_detached(&body).unwrap();
    for node in [&old_jose, &old_sdk, &new_jose, &new_sdk] {
        verifies(node, &delivery, &body, &old_signature, &old_kid).await;
    }
    for node in [&new_jose, &new_sdk] {
        verifies(node, &delivery, &body, &new_signature, &new_kid).await;
    }
    // A receiver that never fetches the key set again cannot verify the new key: the overlap
    // is its time to do so.
    let verdict = rejects(&old_jose, &delivery, &body, &new_signature).await;
    assert_eq!(verdict["reason"], "ERR_JWKS_NO_MATCHING_KEY");
    rejects(&old_sdk, &delivery, &body, &new_signature).await;
}

/// When the overlap ends, the old key leaves the key set: the deliveries are signed with the
/// new key, which only a receiver with the new key set verifies, and a signature of the old
/// key no longer verifies under the published key set. A rotation without overlap publishes
/// only the new key at once.
async fn after_the_overlap_only_the_new_key_verifies(running: Running) {
    let api = Client::admin(&running);
    let (old_set, _) = jwks(&running).await;
    let before = signing_keys::current(&running.backend).await.unwrap();
    let old_kid = before.current.kid().to_owned();
    let snapshot = JwksSnapshot::serve(&old_set).await;
    let old_jose = jose_receiver(&snapshot.origin).await;
    let old_sdk = app_sdk_receiver(Some(&old_set)).await;

    let rotated = signing_keys::rotate(&running.backend, chrono::Duration::seconds(1))
        .await
        .unwrap();
    let new_kid = rotated.current.kid().to_owned();
    eventually("the old key to leave the key set", WAIT, || async {
        let (set, _) = jwks(&running).await;
        if kids(&set) == [new_kid.as_str()] {
            Ok(())
        } else {
            Err(set.to_string())
        }
    })
    .await;

    let new_jose = jose_receiver(&running.base_url()).await;
    let new_sdk = app_sdk_receiver(None).await;
    let capture = Receiver::start().await;
    for url in [new_jose.url(PATH), new_sdk.url(PATH), capture.url("saleor")] {
        subscribe_jws(&api, url).await;
    }
    let order = json!({"order": {"id": "T3JkZXI6NA==", "number": "4"}});
    post_order_created(&api, "evt_jws_after", &order).await;
    for node in [&new_jose, &new_sdk] {
        let verdict = the_delivery(node).await;
        assert_eq!(
            (&verdict["branch"], &verdict["kid"]),
            (&json!("verified"), &json!(new_kid)),
            "{verdict}; {}",
            node.log()
        );
    }
    let (delivery, new_signature) = captured(&capture).await;
    let body = delivery.body.to_vec();
    let old_signature = before.current.sign_detached(&body).unwrap();

    for node in [&old_jose, &old_sdk] {
        rejects(node, &delivery, &body, &new_signature).await;
    }
    for node in [&new_jose, &new_sdk] {
        let verdict = rejects(node, &delivery, &body, &old_signature).await;
        assert_eq!(verdict["kid"], old_kid.as_str());
    }
    let verdict = verdicts(&new_jose.received().await).pop().unwrap();
    assert_eq!(verdict["reason"], "ERR_JWKS_NO_MATCHING_KEY");

    let third = signing_keys::rotate(&running.backend, chrono::Duration::zero())
        .await
        .unwrap();
    let (set, _) = jwks(&running).await;
    assert_eq!(
        kids(&set),
        [third.current.kid()],
        "no overlap: only the new key"
    );
}
