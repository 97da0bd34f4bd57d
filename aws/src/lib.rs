//! Tidings on AWS: the adapters for the ports in DynamoDB, SQS and KMS, the SDK's
//! configuration and HTTP client, and the one place that wires them into a [`Backend`].
//!
//! A crate of its own so that it can be built for size while the delivery path in
//! `tidings` is built for speed (the workspace's `Cargo.toml`, `[profile.release.package.*]`):
//! these adapters are most of what full optimization adds to a Lambda bootstrap.

pub mod aws_http;
pub mod cipher;
pub mod dynamo;
pub mod kms;
pub mod sdk;
pub mod sqs;

use std::sync::Arc;

use tidings::config::{AwsResources, ConfigError};
use tidings::ports::Backend;
use tidings::ports::keys::DataKeys;

use cipher::SecretCipher;
use dynamo::DynamoStore;
use kms::KmsDataKeys;
use sqs::SqsQueue;

/// DynamoDB and SQS, with clients built from one SDK configuration, and secrets sealed with
/// KMS.
pub fn backend(sdk: &aws_config::SdkConfig, resources: &AwsResources) -> Backend {
    backend_with_store(sdk, resources, dynamo_store(sdk, resources))
}

/// As [`backend`], with data keys from `keys` instead of KMS.
pub fn backend_with_keys(
    sdk: &aws_config::SdkConfig,
    resources: &AwsResources,
    keys: Arc<dyn DataKeys>,
) -> Backend {
    backend_with_store(sdk, resources, dynamo_store_with_keys(sdk, resources, keys))
}

/// The Lambda functions' and the CLI's backend: the resources named by the environment
/// (`TIDINGS_TABLE`, `TIDINGS_DELIVERY_QUEUE_URL`, `TIDINGS_DEAD_LETTER_QUEUE_URL`,
/// `TIDINGS_KMS_KEY_ID`), reached with the SDK configuration of the environment
/// (`AWS_ENDPOINT_URL` included).
pub async fn backend_from_env() -> Result<Backend, ConfigError> {
    let resources = AwsResources::from_env()?;
    Ok(backend(&sdk::load().await?, &resources))
}

/// The DynamoDB store of `resources`, sealing secrets with data keys from KMS
/// (`resources.kms_key_id`): one data key per process, made on the first write of a secret.
pub fn dynamo_store(sdk: &aws_config::SdkConfig, resources: &AwsResources) -> DynamoStore {
    dynamo_store_with_keys(sdk, resources, Arc::new(kms_data_keys(sdk, resources)))
}

/// Data keys from the KMS key of `resources`.
pub fn kms_data_keys(sdk: &aws_config::SdkConfig, resources: &AwsResources) -> KmsDataKeys {
    KmsDataKeys::new(aws_sdk_kms::Client::new(sdk), resources.kms_key_id.clone())
}

/// The DynamoDB store of `resources`, sealing secrets with data keys from `keys` (a test's
/// faulty or in-memory key service).
pub fn dynamo_store_with_keys(
    sdk: &aws_config::SdkConfig,
    resources: &AwsResources,
    keys: Arc<dyn DataKeys>,
) -> DynamoStore {
    let cipher = SecretCipher::new(keys, resources.table.clone());
    DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        resources.table.clone(),
        Arc::new(cipher),
    )
}

fn backend_with_store(
    sdk: &aws_config::SdkConfig,
    resources: &AwsResources,
    store: DynamoStore,
) -> Backend {
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(sdk),
        resources.delivery_queue_url.clone(),
        resources.dead_letter_queue_url.clone(),
    );
    Backend::new(Arc::new(store), Arc::new(queue))
}
