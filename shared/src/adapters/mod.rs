//! The in-memory adapters for the ports, and their wiring into a [`Backend`] ([`Embedded`]).
//! The AWS adapters (DynamoDB, SQS, KMS) and theirs are the `tidings-aws` crate.

pub mod memory;

use std::sync::Arc;
use std::time::Duration;

use crate::ports::Backend;
use memory::{MemoryQueue, MemoryStore};

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
        Backend::new(self.store.clone(), self.queue.clone())
    }
}
