//! The embedded backend: a store and a queue in this process, with the semantics of
//! DynamoDB's conditional writes and SQS's visibility timeouts and redrive.

mod queue;
mod store;

pub use queue::MemoryQueue;
pub use store::MemoryStore;
