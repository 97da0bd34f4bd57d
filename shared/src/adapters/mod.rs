//! Adapters for the ports, and the one place that wires them into a [`Backend`]: in memory
//! ([`Embedded`]) or on AWS ([`Backend::aws`], [`Backend::from_env`]).

pub mod aws;
pub mod dynamo;
pub mod memory;
pub mod sqs;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{AwsResources, ConfigError};
use crate::ports::Backend;
use dynamo::DynamoStore;
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
            queue: self.queue.clone(),
        }
    }
}

impl Backend {
    /// DynamoDB and SQS, with clients built from one SDK configuration.
    pub fn aws(sdk: &aws_config::SdkConfig, resources: &AwsResources) -> Self {
        let store = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            resources.table.clone(),
        ));
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
            deployment_keys: store,
            queue,
        }
    }

    /// The Lambda functions' and the CLI's backend: the resources named by the environment
    /// (`TIDINGS_TABLE`, `TIDINGS_DELIVERY_QUEUE_URL`, `TIDINGS_DEAD_LETTER_QUEUE_URL`),
    /// reached with the SDK configuration of the environment (`AWS_ENDPOINT_URL` included).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let resources = AwsResources::from_env()?;
        Ok(Self::aws(&aws::load().await, &resources))
    }
}
