//! Adapters for the ports, and the one place that wires them into a [`Backend`]: in memory
//! ([`Embedded`]) or on AWS ([`Backend::aws`], [`Backend::from_env`]).

pub mod aws;
pub mod aws_http;
pub mod cipher;
pub mod dynamo;
pub mod kms;
pub mod memory;
pub mod sqs;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{AwsResources, ConfigError};
use crate::ports::Backend;
use crate::ports::keys::DataKeys;
use cipher::SecretCipher;
use dynamo::DynamoStore;
use kms::KmsDataKeys;
use memory::{MemoryQueue, MemoryStore};
use sqs::SqsQueue;

/// The in-memory adapters, kept concrete so tests can reach into them.
pub struct Embedded {
    pub store: Arc<MemoryStore>,
    pub queue: Arc<MemoryQueue>,
}

impl Embedded {
    /// `visibility_timeout` and `max_receive_count` play the roles of the queue settings in
    /// `template.yaml`.
    pub fn new(visibility_timeout: Duration, max_receive_count: u32) -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            queue: Arc::new(MemoryQueue::new(visibility_timeout, max_receive_count)),
        }
    }

    pub fn backend(&self) -> Backend {
        Backend {
            subscriptions: self.store.clone(),
            events: self.store.clone(),
            deliveries: self.store.clone(),
            api_keys: self.store.clone(),
            event_types: self.store.clone(),
            tenants: self.store.clone(),
            deployment_keys: self.store.clone(),
            rates: self.store.clone(),
            queue: self.queue.clone(),
        }
    }
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

impl Backend {
    /// DynamoDB and SQS, with clients built from one SDK configuration, and secrets sealed
    /// with KMS.
    pub fn aws(sdk: &aws_config::SdkConfig, resources: &AwsResources) -> Self {
        Self::with_store(sdk, resources, dynamo_store(sdk, resources))
    }

    /// As [`Backend::aws`], with data keys from `keys` instead of KMS.
    pub fn aws_with_keys(
        sdk: &aws_config::SdkConfig,
        resources: &AwsResources,
        keys: Arc<dyn DataKeys>,
    ) -> Self {
        Self::with_store(sdk, resources, dynamo_store_with_keys(sdk, resources, keys))
    }

    fn with_store(
        sdk: &aws_config::SdkConfig,
        resources: &AwsResources,
        store: DynamoStore,
    ) -> Self {
        let store = Arc::new(store);
        let queue = Arc::new(SqsQueue::new(
            aws_sdk_sqs::Client::new(sdk),
            resources.delivery_queue_url.clone(),
            resources.dead_letter_queue_url.clone(),
        ));
        Self {
            subscriptions: store.clone(),
            events: store.clone(),
            deliveries: store.clone(),
            api_keys: store.clone(),
            event_types: store.clone(),
            tenants: store.clone(),
            deployment_keys: store.clone(),
            rates: store,
            queue,
        }
    }

    /// The Lambda functions' and the CLI's backend: the resources named by the environment
    /// (`TIDINGS_TABLE`, `TIDINGS_DELIVERY_QUEUE_URL`, `TIDINGS_DEAD_LETTER_QUEUE_URL`,
    /// `TIDINGS_KMS_KEY_ID`), reached with the SDK configuration of the environment
    /// (`AWS_ENDPOINT_URL` included).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let resources = AwsResources::from_env()?;
        Ok(Self::aws(&aws::load().await?, &resources))
    }
}
