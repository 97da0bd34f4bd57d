//! A metering proxy in front of the AWS emulator: every SDK call of a backend built on
//! [`Meter::sdk`] goes through it, and it tallies what AWS would bill for it. Requests by
//! operation (`DynamoDB.PutItem`, `SQS.SendMessageBatch`, `KMS.Decrypt`…), and for DynamoDB
//! the request units: each written item's size by DynamoDB's published sizing rules (one
//! write unit per started KB), each read's size (one read unit per started 4 KB, half that
//! when eventually consistent). An `UpdateItem` is billed on the item's size after the
//! update, which the proxy reads back from the emulator without counting that read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What one operation cost, summed over its calls.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Usage {
    pub requests: u64,
    /// DynamoDB write request units.
    pub write_units: f64,
    /// DynamoDB read request units.
    pub read_units: f64,
    /// The largest item written, in bytes as DynamoDB sizes it.
    pub largest_item: u64,
    /// SQS messages sent (entries of a batch).
    pub messages: u64,
}

/// Usage by operation, e.g. `DynamoDB.PutItem`.
pub type Tally = BTreeMap<String, Usage>;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    tally: Arc<Mutex<Tally>>,
}

pub struct Meter {
    pub url: String,
    tally: Arc<Mutex<Tally>>,
}

impl Meter {
    /// Starts the proxy on 127.0.0.1 in front of the emulator at `upstream`.
    pub async fn start(upstream: &str) -> Meter {
        let tally = Arc::new(Mutex::new(Tally::new()));
        let proxy = Proxy {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            tally: tally.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(forward).with_state(proxy);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Meter { url, tally }
    }

    /// The SDK configuration that reaches the emulator through this proxy.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        tidings_aws::sdk::emulator(&self.url)
            .await
            .expect("the SDK's HTTP client builds")
    }

    /// What was metered since the last call, and starts afresh.
    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.tally.lock().unwrap())
    }
}

async fn forward(
    State(proxy): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = proxy
        .client
        .request(method, format!("{}{path}", proxy.upstream));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let answer = match request.body(body.clone()).send().await {
        Ok(answer) => answer,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = answer.status();
    let mut out = HeaderMap::new();
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            out.insert(name, value.clone());
        }
    }
    let answer_body = answer.bytes().await.unwrap_or_default();
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if status.is_success() {
        let usage = proxy.meter(&target, &headers, &body, &answer_body).await;
        if let Some((operation, usage)) = usage {
            let mut tally = proxy.tally.lock().unwrap();
            let total = tally.entry(operation).or_default();
            total.requests += usage.requests;
            total.write_units += usage.write_units;
            total.read_units += usage.read_units;
            total.messages += usage.messages;
            total.largest_item = total.largest_item.max(usage.largest_item);
        }
    }
    (status, out, answer_body).into_response()
}

impl Proxy {
    async fn meter(
        &self,
        target: &str,
        headers: &HeaderMap,
        body: &[u8],
        answer: &[u8],
    ) -> Option<(String, Usage)> {
        let (service, operation) = target.split_once('.')?;
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let answer: Value = serde_json::from_slice(answer).unwrap_or(Value::Null);
        let mut usage = Usage {
            requests: 1,
            ..Usage::default()
        };
        let service = match service {
            s if s.starts_with("DynamoDB") => {
                self.dynamo(operation, headers, &request, &answer, &mut usage)
                    .await;
                "DynamoDB"
            }
            "AmazonSQS" => {
                if let Some(entries) = request["Entries"].as_array() {
                    usage.messages = entries.len() as u64;
                    // SQS bills each started 64 KB of a request's payload as one request.
                    usage.requests = (body.len() as u64).div_ceil(64 * 1024).max(1);
                } else if operation == "SendMessage" {
                    usage.messages = 1;
                }
                "SQS"
            }
            "TrentService" => "KMS",
            other => other,
        };
        Some((format!("{service}.{operation}"), usage))
    }

    async fn dynamo(
        &self,
        operation: &str,
        headers: &HeaderMap,
        request: &Value,
        answer: &Value,
        usage: &mut Usage,
    ) {
        let consistent = request["ConsistentRead"].as_bool().unwrap_or(false);
        let read_units = |bytes: u64| {
            let units = bytes.div_ceil(4096).max(1) as f64;
            if consistent { units } else { units / 2.0 }
        };
        let mut written = |bytes: u64| {
            usage.write_units += bytes.div_ceil(1024).max(1) as f64;
            usage.largest_item = usage.largest_item.max(bytes);
        };
        match operation {
            "PutItem" => written(item_size(&request["Item"])),
            "UpdateItem" | "DeleteItem" => {
                let after = self
                    .read_back(headers, &request["TableName"], &request["Key"])
                    .await;
                written(after.unwrap_or(1));
            }
            "BatchWriteItem" => {
                for writes in request["RequestItems"].as_object().into_iter().flatten() {
                    for write in writes.1.as_array().into_iter().flatten() {
                        written(item_size(&write["PutRequest"]["Item"]).max(1));
                    }
                }
            }
            "GetItem" => usage.read_units = read_units(item_size(&answer["Item"])),
            "Query" | "Scan" => {
                let bytes = answer["Items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(item_size)
                    .sum();
                usage.read_units = read_units(bytes);
            }
            "BatchGetItem" => {
                for items in answer["Responses"].as_object().into_iter().flatten() {
                    for item in items.1.as_array().into_iter().flatten() {
                        usage.read_units += read_units(item_size(item));
                    }
                }
            }
            _ => {}
        }
    }

    /// The size of an item after a write, read from the emulator directly (not metered).
    async fn read_back(&self, headers: &HeaderMap, table: &Value, key: &Value) -> Option<u64> {
        let mut request = self
            .client
            .post(&self.upstream)
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .header("content-type", "application/x-amz-json-1.0");
        if let Some(auth) = headers.get("authorization") {
            request = request.header("authorization", auth);
        }
        let answer: Value = request
            .body(json!({"TableName": table, "Key": key, "ConsistentRead": true}).to_string())
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        Some(item_size(&answer["Item"]))
    }
}

/// An item's size as DynamoDB bills it: each attribute's name plus its value (strings and
/// binaries by their bytes, numbers about one byte per two digits plus one, booleans and
/// nulls one byte, lists and maps three bytes plus one per element plus their contents).
pub fn item_size(item: &Value) -> u64 {
    item.as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> u64 {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, |s| s.len() as u64),
        // Binary arrives base64-encoded on the wire.
        "B" => inner.as_str().map_or(0, |s| s.len() as u64 * 3 / 4),
        "N" => inner.as_str().map_or(0, |n| {
            let digits = n.chars().filter(char::is_ascii_digit).count() as u64;
            digits.div_ceil(2) + 1
        }),
        "BOOL" | "NULL" => 1,
        "SS" | "NS" | "BS" => inner
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().map_or(0, |s| s.len() as u64))
            .sum(),
        "L" => {
            3 + inner
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| 1 + value_size(v))
                .sum::<u64>()
        }
        "M" => 3 + item_size(inner) + inner.as_object().map_or(0, |o| o.len() as u64),
        _ => 0,
    }
}

/// The sum of a tally's figures, and one operation's requests.
pub fn total(tally: &Tally) -> Usage {
    tally.values().fold(Usage::default(), |mut sum, u| {
        sum.requests += u.requests;
        sum.write_units += u.write_units;
        sum.read_units += u.read_units;
        sum.messages += u.messages;
        sum.largest_item = sum.largest_item.max(u.largest_item);
        sum
    })
}

pub fn requests(tally: &Tally, operation: &str) -> u64 {
    tally.get(operation).map_or(0, |u| u.requests)
}
