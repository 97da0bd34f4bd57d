//! The embedded backend: a store and a queue in this process, with the semantics of
//! DynamoDB's conditional writes and SQS's visibility timeouts and redrive; and a key
//! service whose master key lives in the process.

mod keys;
mod queue;
mod store;

pub use keys::MemoryDataKeys;
pub use queue::MemoryQueue;
pub use store::MemoryStore;
