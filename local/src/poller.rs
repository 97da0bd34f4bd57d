//! The local runner's stand-in for Lambda's SQS event source mapping: receive a batch,
//! hand it to the dispatcher, delete what it settled, leave the failures to come back.

use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use tidings::ports::queue::{DeliveryQueue, MAX_BATCH, QueueError};
use tidings::services::dispatch::Dispatcher;

/// How long one receive waits for messages (SQS long polling).
const WAIT: Duration = Duration::from_secs(1);

/// Polls until the task is dropped or aborted.
pub async fn run(queue: Arc<dyn DeliveryQueue>, dispatcher: Arc<Dispatcher>) {
    loop {
        if let Err(e) = poll_once(queue.as_ref(), &dispatcher).await {
            warn!(error = %e, "polling the delivery queue failed; trying again shortly");
            tokio::time::sleep(WAIT).await;
        }
    }
}

/// One receive and dispatch; returns how many messages were received.
pub async fn poll_once(
    queue: &dyn DeliveryQueue,
    dispatcher: &Dispatcher,
) -> Result<usize, QueueError> {
    let messages = queue.receive(MAX_BATCH, WAIT).await?;
    if messages.is_empty() {
        return Ok(0);
    }
    let outcome = dispatcher.handle_batch(&messages).await;
    for message in messages
        .iter()
        .filter(|m| !outcome.failed.contains(&m.message_id))
    {
        if let Err(e) = queue.delete(&message.receipt_handle).await {
            // Not deleted means received again; the delivery record stops a second POST.
            warn!(error = %e, message = %message.message_id, "cannot delete a settled message");
        }
    }
    Ok(messages.len())
}
