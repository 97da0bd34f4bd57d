//! The OpenAPI document: the checked-in `openapi.json` is what the code generates, the API
//! serves that same document, and it describes exactly the routes the routers answer.
//!
//! After changing the API: `UPDATE_OPENAPI=1 cargo test -p tidings-tests --test openapi`.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use support::builders::acme;
use support::client::Client;
use support::harness::embedded;
use support::{read_repo_file, repo_root};
use tidings::config::Config;
use tidings::domain::{ApiKey, Role};
use tidings::http::{AppState, api_router, ingest_router, router};

const FILE: &str = "openapi.json";
const ADMIN_KEY: &str = "tdk_openapi_test_admin_key";
const UPDATE: &str = "UPDATE_OPENAPI=1 cargo test -p tidings-tests --test openapi";

/// The document as it is checked in: pretty JSON and a trailing newline.
fn generated() -> String {
    let mut text = tidings::http::openapi::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    text.push('\n');
    text
}

fn document() -> Value {
    serde_json::from_str(&generated()).unwrap()
}

async fn state() -> AppState {
    let backend = embedded().backend();
    let key = ApiKey::from_plaintext(ADMIN_KEY, acme(), Role::Admin, None);
    backend.api_keys.put_api_key(&key).await.unwrap();
    AppState::new(backend, Config::default())
}

async fn call(
    app: axum::Router,
    method: Method,
    path: &str,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let client = match key {
        Some(key) => Client::router(app).with_key(key),
        None => Client::router(app),
    };
    let (status, body) = client.call(method, path, None).await;
    (StatusCode::from_u16(status).unwrap(), body)
}

/// Every (method, path) the document lists, methods in upper case.
fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("the document has paths") {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.to_uppercase(), path.clone()));
        }
    }
    operations
}

/// A concrete request path for a templated one: `{id}` becomes an id nothing has.
fn concrete(path: &str) -> String {
    path.replace("{id}", "sub_01NOTHINGHASTHISID")
}

/// Whether the router answered "no such route" (404 with the fallback's detail, or 405).
fn is_no_route(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND && body["detail"] == "no route with this id")
}

#[test]
fn the_checked_in_document_is_the_generated_one() {
    let generated = generated();
    let path = repo_root().join(FILE);
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let line = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(generated.lines().count()))
            + 1;
        panic!(
            "{FILE} is not the document the code generates (first difference at line {line}).\n\
             If the API change is intended, run `{UPDATE}` and commit {FILE}."
        );
    }
}

#[test]
fn the_document_is_openapi_3_1_with_a_bearer_scheme() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    assert_eq!(doc["info"]["title"], "Tidings");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        serde_json::json!({"type": "http", "scheme": "bearer", "bearerFormat": "tdk_…",
            "description": "An API key (`tdk_…`) of one tenant, with role `admin` or `ingest`."})
    );
    let mut operation_ids = BTreeSet::new();
    for (method, path) in documented_operations(&doc) {
        let operation = &doc["paths"][&path][method.to_lowercase()];
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            operation_ids.insert(id.clone()),
            "{method} {path}: operationId {id:?} is missing or not unique"
        );
        let security = &operation["security"];
        // The public documents: this one, and the key set Saleor apps fetch.
        if ["/v1/openapi.json", "/.well-known/jwks.json"].contains(&path.as_str()) {
            assert!(security.is_null(), "{path} needs no key");
        } else {
            assert_eq!(
                security,
                &serde_json::json!([{"bearer": []}]),
                "{method} {path} names the bearer scheme"
            );
            assert!(
                operation["responses"]["401"]["content"]["application/problem+json"].is_object(),
                "{method} {path} documents its 401 as problem details"
            );
        }
    }
}

#[tokio::test]
async fn the_api_serves_the_document_without_a_key() {
    let expected = document();
    let state = state().await;
    for app in [router(state.clone()), api_router(state)] {
        let answer = Client::router(app)
            .send(
                Request::get("/v1/openapi.json")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK.as_u16());
        assert_eq!(answer.content_type, "application/json");
        let served: Value = serde_json::from_str(&answer.text).unwrap();
        assert!(
            served == expected,
            "the served document is the generated one"
        );
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_no_other_method_is() {
    let doc = document();
    let documented = documented_operations(&doc);
    assert!(documented.len() >= 15, "{documented:?}");
    let state = state().await;
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in &methods {
            let (status, body) = call(
                router(state.clone()),
                method.clone(),
                &concrete(path),
                Some(ADMIN_KEY),
            )
            .await;
            let is_documented = documented.contains(&(method.to_string(), path.clone()));
            assert_eq!(
                !is_no_route(status, &body),
                is_documented,
                "{method} {path}: answered {status} {body}; documented: {is_documented}"
            );
        }
    }
}

#[tokio::test]
async fn the_lambda_routers_split_the_documented_operations_between_them() {
    let documented = documented_operations(&document());
    let state = state().await;
    for (method, path) in &documented {
        let method: Method = method.parse().unwrap();
        let uri = concrete(path);
        let (ingest_status, ingest_body) =
            call(ingest_router(state.clone()), method.clone(), &uri, None).await;
        let (api_status, api_body) =
            call(api_router(state.clone()), method.clone(), &uri, None).await;
        let by_ingest = !is_no_route(ingest_status, &ingest_body);
        let by_api = !is_no_route(api_status, &api_body);
        assert!(
            by_ingest != by_api,
            "{method} {path}: exactly one Lambda function serves it (ingest: {by_ingest}, api: {by_api})"
        );
    }
}

/// The paths the routers declare (`.route("…"`), read from the source, are all documented.
#[test]
fn every_route_in_the_source_is_documented() {
    let doc = document();
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let mut declared = BTreeSet::new();
    let dir = repo_root().join("shared/src/http");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().path();
        if file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = file.strip_prefix(repo_root()).unwrap().to_str().unwrap();
        let source = read_repo_file(relative);
        for (at, _) in source.match_indices(".route(") {
            let rest = &source[at + ".route(".len()..];
            let start = rest.find('"').expect("a route path literal") + 1;
            let end = start + rest[start..].find('"').unwrap();
            declared.insert(rest[start..end].to_owned());
        }
    }
    assert!(declared.len() >= 8, "found the routes: {declared:?}");
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes not in the OpenAPI document: {undocumented:?}; annotate their handlers with \
         #[utoipa::path], list them in shared/src/http/openapi.rs, then run `{UPDATE}`"
    );
}
