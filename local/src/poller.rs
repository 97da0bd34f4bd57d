//! The local runner's stand-in for Lambda's SQS event source mapping: receive batches, hand
//! each message to the dispatcher, delete what it settled, leave the failures to come back.
//!
//! Unlike a Lambda invocation, which returns only once its whole batch is done, each message
//! here holds one of `concurrency × 10` slots for as long as its own delivery takes, and is
//! deleted as soon as it is settled. An endpoint that makes its deliveries hang until the
//! timeout therefore holds only its own slots, never the healthy deliveries received in the
//! same batch, and the other slots keep receiving.
//!
//! The loops and their deliveries run on a thread of their own, on a single-threaded tokio
//! runtime, as each Lambda dispatcher runs on one: a delivery's tasks (its receive, its
//! request and the connection's, its record) then wake one another on the same thread, and
//! its buffers are freed where they were allocated. On the HTTP API's multi-threaded
//! runtime they took a fifth more CPU a delivery and delivered a fifth fewer a second
//! (`bench-dispatch` on two cores: 24 against 20 µs, 39,000 against 48,000 a second).

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::JoinSet;
use tracing::warn;

use tidings::ports::queue::{DeliveryQueue, MAX_BATCH, ReceivedMessage};
use tidings::services::dispatch::Dispatcher;

/// How long one receive waits for messages (SQS long polling).
const WAIT: Duration = Duration::from_secs(1);

/// How long stopping waits for the deliveries under way to be dropped (their connections
/// closed) before it leaves them to the thread.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// The running receive loops; dropping it stops them and every delivery they started, and
/// returns once they are stopped.
pub struct Pollers {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Pollers {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // Nothing on that thread waits for the caller's, so this ends within STOP_WAIT.
            let _ = thread.join();
        }
    }
}

/// Starts `concurrency` receive loops sharing `concurrency × 10` delivery slots (as many
/// deliveries in flight as `concurrency` Lambda dispatchers with batches of ten), on a
/// thread of their own.
pub fn spawn(
    queue: Arc<dyn DeliveryQueue>,
    dispatcher: Arc<Dispatcher>,
    concurrency: usize,
) -> std::io::Result<Pollers> {
    let concurrency = concurrency.max(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("tidings-dispatch".into())
        .spawn(move || {
            let slots = Arc::new(Semaphore::new(concurrency * MAX_BATCH));
            let mut loops = JoinSet::new();
            for _ in 0..concurrency {
                loops.spawn_on(
                    run(queue.clone(), dispatcher.clone(), slots.clone()),
                    runtime.handle(),
                );
            }
            // Until `Pollers` is dropped (its sender with it); then the loops, and with them
            // their deliveries, are dropped with the runtime.
            runtime.block_on(async move {
                let _ = stopped.await;
                loops.shutdown().await;
            });
            runtime.shutdown_timeout(STOP_WAIT);
        })?;
    Ok(Pollers {
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// One receive loop: waits for a free slot, receives as many messages as there are free
/// slots (at most ten), and starts each one's delivery in its own task.
async fn run(queue: Arc<dyn DeliveryQueue>, dispatcher: Arc<Dispatcher>, slots: Arc<Semaphore>) {
    // Owned by this loop, so stopping the loop stops its deliveries too.
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.try_join_next().is_some() {}
        let Ok(first) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut permits = vec![first];
        while permits.len() < MAX_BATCH {
            match slots.clone().try_acquire_owned() {
                Ok(permit) => permits.push(permit),
                Err(_) => break,
            }
        }
        let messages = match queue.receive(permits.len(), WAIT).await {
            Ok(messages) => messages,
            Err(e) => {
                warn!(error = %e, "polling the delivery queue failed; trying again shortly");
                drop(permits);
                tokio::time::sleep(WAIT).await;
                continue;
            }
        };
        // Unused slots go back as `permits` drops.
        for (message, permit) in messages.into_iter().zip(permits) {
            let (queue, dispatcher) = (queue.clone(), dispatcher.clone());
            in_flight.spawn(settle(queue, dispatcher, message, permit));
        }
    }
}

/// Delivers one message and deletes it once it is settled; a failure stays on the queue,
/// hidden for its backoff.
async fn settle(
    queue: Arc<dyn DeliveryQueue>,
    dispatcher: Arc<Dispatcher>,
    message: ReceivedMessage,
    _slot: OwnedSemaphorePermit,
) {
    if !dispatcher.handle_message(&message).await {
        return;
    }
    if let Err(e) = queue.delete(&message.receipt_handle).await {
        // Not deleted means received again; the delivery record stops a second POST.
        warn!(error = %e, message = %message.message_id, "cannot delete a settled message");
    }
}
