//! The baseline of the Lambda benchmark (`scripts/bench-lambda`): `lambda_runtime`'s
//! hello-world, which reads any event and answers a small JSON object. The functions' init
//! and first invoke are reported against this binary's, built the same way.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(json!({ "hello": "world", "request_id": event.context.request_id }))
    }))
    .await
}
