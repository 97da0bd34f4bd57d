//! The delivery queue port. Its adapters: [`crate::adapters::memory::MemoryQueue`], which
//! keeps SQS's semantics (visibility timeouts, receive counts, redrive to a dead-letter queue
//! after `maxReceiveCount`), and `tidings_aws::sqs::SqsQueue`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

/// SQS takes at most ten entries per `SendMessageBatch`.
pub const MAX_BATCH: usize = 10;
/// How often [`send_all`] retries the entries SQS refused, before giving up.
const SEND_ATTEMPTS: u32 = 4;
/// The message attribute that says why a message was dead-lettered.
pub const REASON_ATTRIBUTE: &str = "tidings-reason";

#[derive(Debug, Error)]
pub enum QueueError {
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    #[error("{failed} of {total} messages could not be enqueued")]
    Incomplete { failed: usize, total: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// Unique within one batch; SQS reports failures by it.
    pub entry_id: String,
    pub body: String,
    /// How long the message stays invisible after it is sent (SQS `DelaySeconds`), at most
    /// [`MAX_DELAY`].
    pub delay: Duration,
}

/// The longest delay SQS gives a message when it is sent.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

impl OutgoingMessage {
    /// A message visible at once.
    pub fn new(entry_id: impl Into<String>, body: String) -> Self {
        Self {
            entry_id: entry_id.into(),
            body,
            delay: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    /// Shared: the embedded queue hands out the body it keeps instead of a copy at every
    /// receive (a retry is received again and again).
    pub body: Arc<str>,
    /// How many times the queue has handed this message out, this time included.
    pub receive_count: u32,
    /// Why it was dead-lettered, for messages read from the dead-letter queue.
    pub reason: Option<String>,
}

/// How full the queues are, as `tidings-local status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Deliveries waiting to be received (SQS `ApproximateNumberOfMessages`).
    pub waiting: u64,
    /// Received and not yet deleted, or handed back to wait for their backoff (SQS
    /// `ApproximateNumberOfMessagesNotVisible`).
    pub in_flight: u64,
    /// Sent with a delay that has not passed (SQS `ApproximateNumberOfMessagesDelayed`).
    pub delayed: u64,
    /// How long the oldest message of the deliveries queue has been on it, where the queue
    /// service says so through its API (the embedded queue does; SQS's API does not, only
    /// its CloudWatch metric `ApproximateAgeOfOldestMessage`).
    pub oldest_age: Option<Duration>,
    /// Messages in the dead-letter queue, visible or not.
    pub dead_letters: u64,
}

#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// One `SendMessageBatch` of at most [`MAX_BATCH`] entries; returns the entry ids that
    /// were not enqueued. Callers use [`send_all`], which retries those.
    async fn send_batch(&self, entries: &[OutgoingMessage]) -> Result<Vec<String>, QueueError>;
    /// Up to `max` visible messages, waiting up to `wait` for one to arrive.
    async fn receive(&self, max: usize, wait: Duration)
    -> Result<Vec<ReceivedMessage>, QueueError>;
    /// Up to `max` messages visible now, if the queue has them at hand without a request
    /// of its own, as [`DeliveryQueue::receive`] hands them out: the embedded queue does;
    /// a queue service, where every receive is a billed request, answers none (the
    /// default), and its receivers long-poll with `receive`.
    fn receive_ready(&self, _max: usize) -> Vec<ReceivedMessage> {
        Vec::new()
    }
    /// Deletes a message received from the main queue: it is done.
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError>;
    /// Hides a received message for `timeout` from now: this is how backoff is scheduled.
    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError>;
    /// Sends a message straight to the dead-letter queue, with the reason as an attribute.
    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError>;
    /// Makes a message received from the dead-letter queue visible again (after a peek).
    async fn release_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError>;
    /// Deletes a message received from the dead-letter queue (once it is redriven).
    async fn delete_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError>;
    /// Moves every dead letter back to the deliveries queue with the queue service's own
    /// mover (SQS's StartMessageMoveTask). `Ok(false)` where there is none, and the caller
    /// moves them itself.
    async fn start_dead_letter_move(&self) -> Result<bool, QueueError> {
        Ok(false)
    }
    /// How many messages each queue holds, and in which state.
    async fn stats(&self) -> Result<QueueStats, QueueError>;
    /// Receives from the dead-letter queue (for inspection and redrive).
    async fn receive_dead_letters(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;
}

/// Enqueues every message, in batches of ten, retrying the entries the queue refused.
/// Either all are enqueued or an error says how many were not.
pub async fn send_all(
    queue: &dyn DeliveryQueue,
    messages: &[OutgoingMessage],
) -> Result<(), QueueError> {
    for chunk in messages.chunks(MAX_BATCH) {
        let mut pending: Vec<OutgoingMessage> = chunk.to_vec();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let outcome = queue.send_batch(&pending).await;
            match outcome {
                Ok(failed) => pending.retain(|m| failed.contains(&m.entry_id)),
                Err(err) if attempt >= SEND_ATTEMPTS => return Err(err),
                Err(err) => tracing::warn!(%err, attempt, "SendMessageBatch failed, retrying"),
            }
            if !pending.is_empty() {
                if attempt >= SEND_ATTEMPTS {
                    return Err(QueueError::Incomplete {
                        failed: pending.len(),
                        total: messages.len(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
            }
        }
    }
    Ok(())
}
