//! The set of ports one deployment uses: all in memory, or all on AWS.

use std::sync::Arc;
use std::time::Duration;

use crate::config::AwsResources;
use crate::queue::DeliveryQueue;
use crate::queue::memory::MemoryQueue;
use crate::queue::sqs::SqsQueue;
use crate::store::dynamo::DynamoStore;
use crate::store::memory::MemoryStore;
use crate::store::{ApiKeyStore, DeliveryStore, EventStore, EventTypeStore, SubscriptionStore};

#[derive(Clone)]
pub struct Backend {
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub events: Arc<dyn EventStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub api_keys: Arc<dyn ApiKeyStore>,
    pub event_types: Arc<dyn EventTypeStore>,
    pub queue: Arc<dyn DeliveryQueue>,
}

/// The in-memory adapters, kept concrete so tests can inject failures into them.
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
            event_types: store,
            queue,
        }
    }
}
