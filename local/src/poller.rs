//! The local runner's stand-in for Lambda's SQS event source mapping: receive batches, hand
//! each message to the dispatcher, delete what it settled, leave the failures to come back.
//!
//! Unlike a Lambda invocation, which returns only once its whole batch is done, each message
//! here holds one of `concurrency × 10` slots for as long as its own delivery takes, and is
//! deleted as soon as it is settled. An endpoint that makes its deliveries hang until the
//! timeout therefore holds only its own slots, never the healthy deliveries received in the
//! same batch, and the other slots keep receiving.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tracing::warn;

use tidings::ports::queue::{DeliveryQueue, MAX_BATCH, ReceivedMessage};
use tidings::services::dispatch::Dispatcher;

/// How long one receive waits for messages (SQS long polling).
const WAIT: Duration = Duration::from_secs(1);

/// The running receive loops; dropping it stops them and every delivery they started.
pub struct Pollers(Vec<JoinHandle<()>>);

impl Drop for Pollers {
    fn drop(&mut self) {
        for poller in &self.0 {
            poller.abort();
        }
    }
}

/// Starts `concurrency` receive loops sharing `concurrency × 10` delivery slots: as many
/// deliveries in flight as `concurrency` Lambda dispatchers with batches of ten.
pub fn spawn(
    queue: Arc<dyn DeliveryQueue>,
    dispatcher: Arc<Dispatcher>,
    concurrency: usize,
) -> Pollers {
    let concurrency = concurrency.max(1);
    let slots = Arc::new(Semaphore::new(concurrency * MAX_BATCH));
    Pollers(
        (0..concurrency)
            .map(|_| tokio::spawn(run(queue.clone(), dispatcher.clone(), slots.clone())))
            .collect(),
    )
}

/// One receive loop: waits for a free slot, receives as many messages as there are free
/// slots (at most ten), and starts each one's delivery in its own task.
async fn run(queue: Arc<dyn DeliveryQueue>, dispatcher: Arc<Dispatcher>, slots: Arc<Semaphore>) {
    // Owned by this loop, so stopping the loop stops its deliveries too.
    let mut in_flight = JoinSet::new();
    // The slots each receive holds, kept from one receive to the next (empty in between).
    let mut permits = Vec::with_capacity(MAX_BATCH);
    loop {
        while in_flight.try_join_next().is_some() {}
        let Ok(first) = slots.clone().acquire_owned().await else {
            return;
        };
        permits.push(first);
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
                permits.clear();
                tokio::time::sleep(WAIT).await;
                continue;
            }
        };
        // Unused slots go back as the drain ends.
        for (message, permit) in messages.into_iter().zip(permits.drain(..)) {
            let (queue, dispatcher) = (queue.clone(), dispatcher.clone());
            in_flight.spawn(settle(queue, dispatcher, message, permit));
        }
    }
}

/// Delivers one message and deletes it once it is settled (a failure stays on the queue,
/// hidden for its backoff); then, while the queue has another at hand, that one in the
/// same slot: through a busy spell a slot's task goes on from message to message, and no
/// receive loop is woken and no task started for each.
async fn settle(
    queue: Arc<dyn DeliveryQueue>,
    dispatcher: Arc<Dispatcher>,
    mut message: ReceivedMessage,
    _slot: OwnedSemaphorePermit,
) {
    loop {
        if dispatcher.handle_message(&message).await
            && let Err(e) = queue.delete(&message.receipt_handle).await
        {
            // Not deleted means received again; the delivery record stops a second POST.
            warn!(error = %e, message = %message.message_id, "cannot delete a settled message");
        }
        // A message can be settled without waiting on anything (the embedded store and
        // queue never make it wait; a skipped delivery sends nothing): a run of them would
        // keep this worker thread from every other task, the API's included, but for the
        // budget of work tokio gives a task's turn.
        tokio::task::consume_budget().await;
        match queue.receive_ready(1).pop() {
            Some(next) => message = next,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tidings::adapters::Embedded;
    use tidings::config::Config;
    use tidings::domain::TenantId;
    use tidings::egress::EgressPolicy;
    use tidings::services::{events, subscriptions};

    use super::*;
    use crate::{DEV_TENANT, VISIBILITY_TIMEOUT};

    #[tokio::test]
    async fn a_run_of_deliveries_that_wait_on_nothing_lets_other_tasks_run() {
        let config = Config {
            egress: EgressPolicy::AllowLoopback,
            ..Config::default()
        };
        let embedded = Embedded::new(VISIBILITY_TIMEOUT, config.retry.max_attempts());
        let backend = embedded.backend();
        let tenant = TenantId::parse(DEV_TENANT).unwrap();
        let subscription = subscriptions::create(
            &backend,
            &config,
            &tenant,
            subscriptions::CreateSubscription {
                // Never reached: its deliveries are skipped.
                url: "http://127.0.0.1:9/hook".into(),
                events: vec!["order.*".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        // More than the ten tasks of a receive get through in one turn each (tokio's budget,
        // 128 units a turn).
        const EVENTS: usize = 3_000;
        for seq in 0..EVENTS {
            let event = serde_json::json!({"type": "order.created", "data": {"seq": seq}});
            events::accept(&backend, &config, &tenant, event)
                .await
                .unwrap();
        }
        // Deleted with its deliveries queued: each is skipped, a record written and nothing
        // sent, so none of them waits on anything.
        subscriptions::delete(&backend, &config, &tenant, subscription.id.as_str())
            .await
            .unwrap();
        assert_eq!(embedded.queue.depths().0, EVENTS);

        let dispatcher = Arc::new(Dispatcher::new(backend.clone(), config).unwrap());
        let _pollers = spawn(backend.queue.clone(), dispatcher, 1);
        // On this one thread (the test's runtime), a task that looks at the queue whenever
        // it gets a turn: it must get turns while the pollers are still draining it.
        let seen_midway = Arc::new(AtomicUsize::new(0));
        let looker = tokio::spawn({
            let (queue, seen_midway) = (embedded.queue.clone(), seen_midway.clone());
            async move {
                loop {
                    let left = queue.depths().0;
                    if left == 0 {
                        return;
                    }
                    if left < EVENTS {
                        seen_midway.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::task::yield_now().await;
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), looker)
            .await
            .expect("the queue drains")
            .unwrap();
        assert!(
            seen_midway.load(Ordering::Relaxed) >= 2,
            "the other task got no turn while the deliveries were being skipped"
        );
    }
}
