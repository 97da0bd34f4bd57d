//! Secrets at rest, on DynamoDB and KMS (moto): the raw items hold no secret, no private key
//! and no `whsec_`/`whsk_` string, yet deliveries verify; a KMS outage is a 503 on the
//! management path and a handed-back message on the delivery path, nothing changed or lost;
//! items written in the clear before encryption keep working and get sealed.
//!
//! The embedded backend keeps subscriptions as values in the process: nothing is stored, so
//! nothing is sealed there and KMS cannot fail; these tests are for the AWS backend only.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::Method;
use serde_json::{Value, json};
use support::builders::{acme, delivery_body, dispatcher, subscription};
use support::client::Client;
use support::emulator;
use support::harness::{enqueue, receive};
use support::receiver::Receiver;
use support::wait::eventually;
use tidings::Backend;
use tidings::config::{AwsResources, Config};
use tidings::domain::{
    ApiKey, DeploymentKeys, RetiredSecret, RetiredSigningKey, Role, SignatureScheme, Subscription,
};
use tidings::http::{AppState, router};
use tidings::services::signing_keys;
use tidings::signing::{Secret, SigningKey, verify_headers};
use tidings::testing::fault::Faults;
use tidings_aws::dynamo::ReencryptReport;
use tidings_local::{self as local, Options, Storage};

const WAIT: Duration = Duration::from_secs(20);
const KEY: &str = "tdk_secrets_admin";

type Item = HashMap<String, AttributeValue>;

/// A fresh table, queues and KMS key on moto.
async fn resources() -> (SdkConfig, AwsResources) {
    let sdk = emulator::sdk().await;
    let resources = emulator::provision(&sdk).await;
    (sdk, resources)
}

/// Every item of the table, as DynamoDB holds it.
async fn raw_items(sdk: &SdkConfig, table: &str) -> Vec<Item> {
    aws_sdk_dynamodb::Client::new(sdk)
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

fn raw_subscriptions(items: &[Item]) -> Vec<&Item> {
    items
        .iter()
        .filter(|i| matches!(i.get("sk"), Some(AttributeValue::S(sk)) if sk.starts_with("SUBSCRIPTION#")))
        .collect()
}

/// Every string in an attribute value, keys of maps included.
fn strings(value: &AttributeValue, out: &mut Vec<String>) {
    match value {
        AttributeValue::S(s) => out.push(s.clone()),
        AttributeValue::Ss(list) => out.extend(list.iter().cloned()),
        AttributeValue::L(list) => list.iter().for_each(|v| strings(v, out)),
        AttributeValue::M(map) => {
            for (k, v) in map {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// Fails if any item holds `whsec_`, `whsk_`, or any of `secrets` (or their base64 part).
fn assert_nothing_in_the_clear(items: &[Item], secrets: &[String]) {
    let mut all = Vec::new();
    for item in items {
        for (name, value) in item {
            all.push(name.clone());
            strings(value, &mut all);
        }
    }
    let mut needles: Vec<String> = vec!["whsec_".into(), "whsk_".into()];
    for secret in secrets {
        needles.push(secret.clone());
        for prefix in ["whsec_", "whsk_"] {
            if let Some(encoded) = secret.strip_prefix(prefix) {
                needles.push(encoded.to_owned());
            }
        }
    }
    for text in &all {
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "a stored string holds {needle:?} in the clear: {text}"
            );
        }
    }
}

/// Fails if any string of any item looks like an RSA private key (base64 of a PKCS#8
/// document, which starts `MII`).
fn assert_no_pkcs8(items: &[Item]) {
    for item in items {
        let mut all = Vec::new();
        for value in item.values() {
            strings(value, &mut all);
        }
        for text in all {
            assert!(
                !text.starts_with("MII"),
                "a private key in the clear: {text}"
            );
        }
    }
}

fn str_of(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"))
        .to_owned()
}

/// The API of `backend`, as one function container would serve it, with an admin key of
/// `acme`.
async fn api(backend: &Backend) -> Client {
    let key = ApiKey::from_plaintext(KEY, acme(), Role::Admin, None);
    // Stored once per table; a second container finds it there.
    let _ = backend.api_keys.put_api_key(&key).await;
    Client::router(router(AppState::new(backend.clone(), Config::default()))).with_key(KEY)
}

/// A backend on `resources` whose KMS calls fail on cue: a new container, its data key
/// cache empty.
fn container_with_faulty_kms(sdk: &SdkConfig, resources: &AwsResources) -> (Backend, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    let keys = faults.wrap_keys(Arc::new(tidings_aws::kms_data_keys(sdk, resources)));
    (tidings_aws::backend_with_keys(sdk, resources, keys), faults)
}

#[tokio::test]
#[cfg_attr(not(moto), ignore = "needs the moto emulator: run bash scripts/test")]
async fn the_table_holds_no_secret_in_the_clear_and_deliveries_still_verify() {
    let (sdk, resources) = resources().await;
    let receiver = Receiver::start().await;
    let running = local::start(Options {
        addr: "127.0.0.1:0".parse().unwrap(),
        storage: Storage::Aws(tidings_aws::backend(&sdk, &resources)),
        dev_api_key: Some(KEY.into()),
        config: Config {
            retry: "1s".parse().unwrap(),
            ..Config::default()
        },
    })
    .await
    .unwrap();
    let api = Client::admin(&running);
    let subs = "/v1/subscriptions";
    let mut secrets = Vec::new();

    // A generated whsec_ secret, then rotated: both live during the overlap.
    let standard = api
        .ok(
            Method::POST,
            subs,
            Some(json!({"url": receiver.url("std"), "events": ["order.*"]})),
            201,
        )
        .await;
    let first = str_of(&standard, "secret");
    let id = str_of(&standard, "id");
    let rotated = api
        .ok(
            Method::POST,
            &format!("{subs}/{id}/rotate-secret"),
            Some(json!({"overlap_secs": 3600})),
            200,
        )
        .await;
    let second = str_of(&rotated, "secret");
    assert_ne!(first, second);
    secrets.extend([first.clone(), second.clone()]);

    // A receiver's own plain secret (the seeds' hex HMAC).
    let plain = api
        .ok(
            Method::POST,
            subs,
            Some(json!({
                "url": receiver.url("plain"), "events": ["order.*"], "format": "medusa",
                "secret": "my-own-plain-secret-42",
            })),
            201,
        )
        .await;
    secrets.push("my-own-plain-secret-42".into());

    // An Ed25519 key given by the client, then rotated (the new one is never shown).
    let given = SigningKey::generate().unwrap();
    let ed = api
        .ok(
            Method::POST,
            subs,
            Some(json!({
                "url": receiver.url("ed"), "events": ["order.*"], "signature": "ed25519",
                "signing_key": given.expose(),
            })),
            201,
        )
        .await;
    secrets.extend([given.expose().to_owned(), str_of(&ed, "secret")]);
    let ed_id = str_of(&ed, "id");
    let rotated_key = api
        .ok(
            Method::POST,
            &format!("{subs}/{ed_id}/rotate-key"),
            Some(json!({"overlap_secs": 3600})),
            200,
        )
        .await;
    let new_public = str_of(&rotated_key, "public_key");
    assert_ne!(new_public, given.public_key());

    // A Saleor subscription without a secret key: signed with the deployment's RSA key,
    // made on first use; then rotated, so a retired private key is stored too.
    let jws = api
        .ok(
            Method::POST,
            subs,
            Some(json!({"url": receiver.url("jws"), "events": ["order.*"], "format": "saleor"})),
            201,
        )
        .await;
    assert_eq!(jws["saleor_signature"], "jws", "{jws}");
    secrets.extend(jws["secret"].as_str().map(str::to_owned));
    signing_keys::current(&running.backend).await.unwrap();
    signing_keys::rotate(&running.backend, chrono::Duration::hours(1))
        .await
        .unwrap();

    let items = raw_items(&sdk, &resources.table).await;
    let stored = raw_subscriptions(&items);
    assert_eq!(stored.len(), 4);
    let deployment = items
        .iter()
        .find(|i| i.get("pk") == Some(&AttributeValue::S("DEPLOYMENT".into())))
        .expect("the deployment's signing keys are stored");
    let Some(AttributeValue::S(current)) = deployment.get("current") else {
        panic!("no current key: {deployment:?}")
    };
    assert!(current.starts_with("tdenc1:"), "{current}");
    let Some(AttributeValue::L(previous)) = deployment.get("previous") else {
        panic!("no previous keys: {deployment:?}")
    };
    let AttributeValue::M(retired) = &previous[0] else {
        panic!("{previous:?}")
    };
    assert!(
        matches!(retired.get("key"), Some(AttributeValue::S(k)) if k.starts_with("tdenc1:")),
        "{retired:?}"
    );
    assert_no_pkcs8(&items);
    for item in &stored {
        let Some(AttributeValue::S(secret)) = item.get("secret") else {
            panic!("no secret attribute: {item:?}")
        };
        assert!(secret.starts_with("tdenc1:"), "{secret}");
    }
    let ed_item = stored
        .iter()
        .find(|i| i.get("id") == Some(&AttributeValue::S(ed_id.clone())))
        .unwrap();
    let Some(AttributeValue::L(previous_keys)) = ed_item.get("previous_signing_keys") else {
        panic!("no previous_signing_keys: {ed_item:?}")
    };
    assert_eq!(previous_keys.len(), 1, "the rotated key is kept, sealed");
    assert_nothing_in_the_clear(&items, &secrets);

    // The store opens them again: the API shows them, deliveries are signed with them.
    let shown = api
        .ok(
            Method::GET,
            &format!("{subs}/{}/secret", str_of(&plain, "id")),
            None,
            200,
        )
        .await;
    assert_eq!(shown["secret"], "my-own-plain-secret-42");
    api.ok(
        Method::POST,
        "/v1/events",
        Some(json!({"type": "order.created", "data": {"total": "9.99"}})),
        202,
    )
    .await;
    let std_delivery = receiver.wait_for("std", 1, WAIT).await.remove(0);
    for secret in [&first, &second] {
        verify_headers(secret, &std_delivery.headers, &std_delivery.body)
            .expect("old and new secrets both verify during the overlap");
    }
    let ed_delivery = receiver.wait_for("ed", 1, WAIT).await.remove(0);
    for public in [&new_public, &given.public_key()] {
        verify_headers(public, &ed_delivery.headers, &ed_delivery.body)
            .expect("old and new keys both verify during the overlap");
    }
    let plain_delivery = receiver.wait_for("plain", 1, WAIT).await.remove(0);
    assert!(plain_delivery.header("x-medusa-signature").is_some());
    let jws_delivery = receiver.wait_for("jws", 1, WAIT).await.remove(0);
    let signature = jws_delivery.header("saleor-signature").unwrap();
    assert!(signature.contains(".."), "a detached JWS: {signature}");
    let jwks = Client::new(&running, KEY)
        .ok(Method::GET, "/.well-known/jwks.json", None, 200)
        .await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "{jwks}");

    // Delivery records and the event record hold no secret either.
    let items = raw_items(&sdk, &resources.table).await;
    assert_nothing_in_the_clear(&items, &secrets);
    assert_no_pkcs8(&items);
    drop(running);
}

#[tokio::test]
#[cfg_attr(not(moto), ignore = "needs the moto emulator: run bash scripts/test")]
async fn a_kms_outage_is_a_503_on_the_management_path_and_changes_nothing() {
    let (sdk, resources) = resources().await;

    // A new container that cannot make its data key: nothing is written.
    let (backend, faults) = container_with_faulty_kms(&sdk, &resources);
    let api1 = api(&backend).await;
    faults.fail_next("generate_data_key", usize::MAX);
    let body = json!({"url": "https://shop.example/hooks", "events": ["order.*"]});
    let (status, problem) = api1
        .call(Method::POST, "/v1/subscriptions", Some(body.clone()))
        .await;
    assert_eq!(status, 503, "{problem}");
    assert_eq!(problem["type"], "urn:tidings:problem:unavailable");
    let detail = str_of(&problem, "detail");
    assert!(
        detail.contains("AWS KMS") && detail.contains("retry"),
        "{detail}"
    );
    assert!(
        !detail.contains("arn:"),
        "the key is not named to clients: {detail}"
    );
    assert!(raw_subscriptions(&raw_items(&sdk, &resources.table).await).is_empty());

    // KMS is back: the same call works, with no restart.
    faults.recover("generate_data_key");
    let created = api1
        .ok(Method::POST, "/v1/subscriptions", Some(body), 201)
        .await;
    let id = str_of(&created, "id");
    let secret = str_of(&created, "secret");
    let path = format!("/v1/subscriptions/{id}");

    // Another new container that cannot open the data key: reads and writes are 503s, and
    // the subscription is as it was.
    let (backend, faults) = container_with_faulty_kms(&sdk, &resources);
    let api2 = api(&backend).await;
    faults.fail_next("decrypt_data_key", usize::MAX);
    faults.fail_next("generate_data_key", usize::MAX);
    let before = raw_subscriptions(&raw_items(&sdk, &resources.table).await)[0].clone();
    for (method, path, body) in [
        (Method::GET, path.clone(), None),
        (Method::GET, format!("{path}/secret"), None),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"description": "changed"})),
        ),
        (Method::POST, format!("{path}/rotate-secret"), None),
        (Method::GET, "/v1/subscriptions".to_owned(), None),
    ] {
        let (status, problem) = api2.call(method.clone(), &path, body).await;
        assert_eq!(status, 503, "{method} {path}: {problem}");
        assert!(str_of(&problem, "detail").contains("AWS KMS"), "{problem}");
    }
    let after = raw_subscriptions(&raw_items(&sdk, &resources.table).await)[0].clone();
    assert_eq!(before, after, "nothing changed");

    // Ingest never needs KMS: events are still accepted and routed.
    let receipt = api2
        .ok(
            Method::POST,
            "/v1/events",
            Some(json!({"type": "order.created", "data": {}})),
            202,
        )
        .await;
    assert_eq!(receipt["deliveries"], 1);

    faults.recover("decrypt_data_key");
    faults.recover("generate_data_key");
    let shown = api2
        .ok(Method::GET, &format!("{path}/secret"), None, 200)
        .await;
    assert_eq!(shown["secret"], secret.as_str(), "the secret is unchanged");
    let got = api2.ok(Method::GET, &path, None, 200).await;
    assert!(got["description"].is_null(), "{got}");
}

#[tokio::test]
#[cfg_attr(not(moto), ignore = "needs the moto emulator: run bash scripts/test")]
async fn a_kms_outage_in_the_dispatcher_hands_the_message_back_and_it_is_delivered_after() {
    let (sdk, resources) = resources().await;
    let receiver = Receiver::start().await;
    let writer = tidings_aws::backend(&sdk, &resources);
    let sub = subscription(&receiver.url("ok"))
        .events(&["order.*"])
        .store(&writer)
        .await;

    // A new dispatcher container, KMS down for its first try.
    let (backend, faults) = container_with_faulty_kms(&sdk, &resources);
    let received = enqueue(&backend, &[delivery_body(&sub)]).await;
    faults.fail_next("decrypt_data_key", 1);
    let outcome = dispatcher(&backend, "1s").handle_batch(&received).await;
    assert_eq!(outcome.failed, vec![received[0].message_id.clone()]);
    assert!(receiver.received("ok").is_empty(), "nothing sent unsigned");

    // Back after the schedule's first step (1 s), not the queue's visibility timeout.
    let again = eventually(
        "the handed-back message to be visible again within seconds",
        Duration::from_secs(15),
        || async {
            let batch = backend.queue.receive(10, Duration::ZERO).await.unwrap();
            (!batch.is_empty()).then_some(batch)
        },
    )
    .await;
    assert_eq!(again[0].message_id, received[0].message_id);
    assert_eq!(
        again[0].receive_count, 2,
        "the outage used up one receive, no more"
    );
    let outcome = dispatcher(&backend, "1s").handle_batch(&again).await;
    assert!(outcome.failed.is_empty(), "delivered once KMS is back");
    let delivered = receiver.received("ok");
    assert_eq!(delivered.len(), 1);
    verify_headers(
        sub.secret.expose(),
        &delivered[0].headers,
        &delivered[0].body,
    )
    .expect("signed with the secret, opened");

    // An event accepted meanwhile is routed without KMS at all.
    faults.fail_next("decrypt_data_key", usize::MAX);
    let receipt = api(&backend)
        .await
        .ok(
            Method::POST,
            "/v1/events",
            Some(json!({"type": "order.created", "data": {}})),
            202,
        )
        .await;
    assert_eq!(receipt["deliveries"], 1);
    assert_eq!(receive(&backend, 1).await.len(), 1);
}

/// Writes `subscription` as its item was stored before encryption: every secret in the
/// clear (the sealed item, with the plaintexts put back in place).
async fn put_in_the_clear(sdk: &SdkConfig, resources: &AwsResources, subscription: &Subscription) {
    tidings_aws::backend(sdk, resources)
        .subscriptions
        .create_subscription(subscription)
        .await
        .unwrap();
    let items = raw_items(sdk, &resources.table).await;
    let mut item = raw_subscriptions(&items)
        .into_iter()
        .find(|i| i.get("id") == Some(&AttributeValue::S(subscription.id.to_string())))
        .unwrap()
        .clone();
    let s = |text: &str| AttributeValue::S(text.to_owned());
    let in_list = |item: &mut Item, list: &str, field: &str, texts: Vec<&str>| {
        let Some(AttributeValue::L(entries)) = item.get_mut(list) else {
            panic!("no {list}")
        };
        assert_eq!(entries.len(), texts.len());
        for (entry, text) in entries.iter_mut().zip(texts) {
            let AttributeValue::M(map) = entry else {
                panic!("{list} holds maps")
            };
            map.insert(field.to_owned(), AttributeValue::S(text.to_owned()));
        }
    };
    item.insert("secret".into(), s(subscription.secret.expose()));
    in_list(
        &mut item,
        "previous_secrets",
        "secret",
        subscription
            .previous_secrets
            .iter()
            .map(|r| r.secret.expose())
            .collect(),
    );
    if let Some(key) = &subscription.signing_key {
        item.insert("signing_key".into(), s(key.expose()));
    }
    in_list(
        &mut item,
        "previous_signing_keys",
        "key",
        subscription
            .previous_signing_keys
            .iter()
            .map(|r| r.key.expose())
            .collect(),
    );
    aws_sdk_dynamodb::Client::new(sdk)
        .put_item()
        .table_name(&resources.table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

/// The private keys of the deployment's key set, as they are stored in the clear.
fn pkcs8_of(keys: &DeploymentKeys) -> Vec<String> {
    std::iter::once(&keys.current)
        .chain(keys.previous.iter().map(|r| &r.key))
        .map(|k| {
            serde_json::to_value(k)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Writes a rotated deployment key set as it was stored before encryption; returns its
/// private keys (PKCS#8, base64).
async fn put_deployment_keys_in_the_clear(
    sdk: &SdkConfig,
    resources: &AwsResources,
) -> Vec<String> {
    let backend = tidings_aws::backend(sdk, resources);
    signing_keys::current(&backend).await.unwrap();
    let keys = signing_keys::rotate(&backend, chrono::Duration::hours(1))
        .await
        .unwrap();
    let clear = pkcs8_of(&keys);
    let items = raw_items(sdk, &resources.table).await;
    let mut item = items
        .into_iter()
        .find(|i| i.get("pk") == Some(&AttributeValue::S("DEPLOYMENT".into())))
        .unwrap();
    item.insert("current".into(), AttributeValue::S(clear[0].clone()));
    let Some(AttributeValue::L(previous)) = item.get_mut("previous") else {
        panic!("no previous keys")
    };
    let AttributeValue::M(retired) = &mut previous[0] else {
        panic!("a map")
    };
    retired.insert("key".into(), AttributeValue::S(clear[1].clone()));
    aws_sdk_dynamodb::Client::new(sdk)
        .put_item()
        .table_name(&resources.table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    assert!(
        clear.iter().all(|k| k.starts_with("MII")),
        "PKCS#8 in base64"
    );
    clear
}

/// An `ed25519` subscription with a rotated secret and a rotated key, all live.
fn with_every_secret(url: &str) -> Subscription {
    let mut sub = subscription(url).events(&["order.*"]).build();
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    sub.previous_secrets = vec![RetiredSecret {
        secret: Secret::generate(),
        expires_at: in_an_hour,
    }];
    sub.signature = SignatureScheme::Ed25519;
    sub.signing_key = Some(SigningKey::generate().unwrap());
    sub.previous_signing_keys = vec![RetiredSigningKey {
        key: SigningKey::generate().unwrap(),
        expires_at: in_an_hour,
    }];
    sub
}

fn secrets_of(sub: &Subscription) -> Vec<String> {
    let mut all = vec![sub.secret.expose().to_owned()];
    all.extend(
        sub.previous_secrets
            .iter()
            .map(|r| r.secret.expose().to_owned()),
    );
    all.extend(sub.signing_key.iter().map(|k| k.expose().to_owned()));
    all.extend(
        sub.previous_signing_keys
            .iter()
            .map(|r| r.key.expose().to_owned()),
    );
    all
}

fn same(a: &Subscription, b: &Subscription) {
    assert_eq!(a.secret, b.secret);
    assert_eq!(a.signing_key, b.signing_key);
    let secrets = |s: &Subscription| secrets_of(s);
    assert_eq!(secrets(a), secrets(b));
}

#[tokio::test]
#[cfg_attr(not(moto), ignore = "needs the moto emulator: run bash scripts/test")]
async fn items_written_in_the_clear_keep_working_and_get_sealed() {
    let (sdk, resources) = resources().await;
    let receiver = Receiver::start().await;
    let old = [
        with_every_secret(&receiver.url("a")),
        with_every_secret(&receiver.url("b")),
        with_every_secret(&receiver.url("c")),
    ];
    for sub in &old {
        put_in_the_clear(&sdk, &resources, sub).await;
    }
    let keys = put_deployment_keys_in_the_clear(&sdk, &resources).await;
    let mut all_secrets: Vec<String> = old.iter().flat_map(secrets_of).collect();
    all_secrets.extend(keys.iter().cloned());
    let items = raw_items(&sdk, &resources.table).await;
    assert!(
        raw_subscriptions(&items).iter().all(
            |i| matches!(i.get("secret"), Some(AttributeValue::S(s)) if s.starts_with("whsec_"))
        ),
        "the test starts from items in the clear"
    );

    // A new container reads them as they are, and delivers with them.
    let backend = tidings_aws::backend(&sdk, &resources);
    let read = backend
        .subscriptions
        .get_subscription(&acme(), &old[0].id)
        .await
        .unwrap()
        .unwrap();
    same(&read, &old[0]);
    let received = enqueue(&backend, &[delivery_body(&old[0])]).await;
    assert!(
        dispatcher(&backend, "1s")
            .handle_batch(&received)
            .await
            .failed
            .is_empty()
    );
    let delivered = receiver.received("a");
    for key in [
        old[0].secret.expose().to_owned(),
        old[0].previous_secrets[0].secret.expose().to_owned(),
        old[0].signing_key.as_ref().unwrap().public_key(),
        old[0].previous_signing_keys[0].key.public_key(),
    ] {
        verify_headers(&key, &delivered[0].headers, &delivered[0].body).expect("verifies");
    }

    // Its next write seals it.
    let mut changed = read.clone();
    changed.description = Some("written again".into());
    backend
        .subscriptions
        .update_subscription(&changed)
        .await
        .unwrap();
    let items = raw_items(&sdk, &resources.table).await;
    let sealed = raw_subscriptions(&items)
        .into_iter()
        .find(|i| i.get("id") == Some(&AttributeValue::S(old[0].id.to_string())))
        .unwrap()
        .clone();
    assert_nothing_in_the_clear(&[sealed], &all_secrets);

    // The operator command seals the rest, leaves what is sealed, and can run again.
    let store = tidings_aws::dynamo_store(&sdk, &resources);
    assert_eq!(
        store.reencrypt_secrets().await.unwrap(),
        ReencryptReport {
            sealed: 3,
            already_sealed: 1,
            changed_meanwhile: 0,
        },
        "two subscriptions and the deployment's keys"
    );
    assert_nothing_in_the_clear(&raw_items(&sdk, &resources.table).await, &all_secrets);
    assert_eq!(
        store.reencrypt_secrets().await.unwrap(),
        ReencryptReport {
            sealed: 0,
            already_sealed: 4,
            changed_meanwhile: 0,
        }
    );
    assert_no_pkcs8(&raw_items(&sdk, &resources.table).await);
    // Every value reads back the same, in a container that never saw them in the clear.
    let fresh = tidings_aws::backend(&sdk, &resources);
    let read_keys = fresh
        .deployment_keys
        .get_deployment_keys()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pkcs8_of(&read_keys), keys);
    let listed = fresh
        .subscriptions
        .list_subscriptions(&acme())
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    for sub in &old {
        let found = listed.iter().find(|s| s.id == sub.id).unwrap();
        same(found, sub);
    }
}
