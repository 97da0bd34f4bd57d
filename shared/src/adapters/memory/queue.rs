//! The embedded backend's queue, with SQS's semantics: a received message stays hidden for
//! the visibility timeout, comes back if not deleted, and moves to the dead-letter queue
//! once it has been received `max_receive_count` times.
//!
//! Visible messages and hidden ones are kept apart (a FIFO and a map ordered by the time
//! each becomes visible again), so a receive costs O(log n) in the messages waiting for a
//! retry, not a scan of them all; and a receive that finds nothing waits on a notification
//! (a send, or the next message becoming visible), not a sleep-poll. A dead endpoint's
//! backlog therefore does not slow the deliveries to healthy ones.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::ids;
use crate::ports::queue::*;

pub struct MemoryQueue {
    state: Mutex<State>,
    /// Woken on every send and every message made visible by hand.
    arrivals: Notify,
    visibility_timeout: Duration,
    max_receive_count: u32,
}

#[derive(Default)]
struct State {
    main: Lane,
    dead: Lane,
}

/// One queue: its messages, which of them are visible, and when the others will be.
#[derive(Default)]
struct Lane {
    messages: HashMap<String, Message>,
    /// Ids of visible messages, oldest first. An id whose message was deleted or hidden
    /// again since is skipped when it comes up.
    visible: VecDeque<String>,
    /// Hidden messages by the time they become visible (a sequence number keeps keys apart).
    hidden: BTreeMap<(Instant, u64), String>,
    /// The message each live receipt handle names.
    handles: HashMap<String, String>,
    next_seq: u64,
}

struct Message {
    id: String,
    body: String,
    receive_count: u32,
    receipt_handle: Option<String>,
    /// Its key in `Lane::hidden` while it is hidden.
    hidden_until: Option<(Instant, u64)>,
    reason: Option<String>,
    sent_at: Instant,
}

impl Message {
    fn new(body: &str, reason: Option<&str>) -> Self {
        Self {
            id: ids::new_id("msg"),
            body: body.to_owned(),
            receive_count: 0,
            receipt_handle: None,
            hidden_until: None,
            reason: reason.map(str::to_owned),
            sent_at: Instant::now(),
        }
    }
}

impl Lane {
    fn push(&mut self, mut message: Message) {
        message.hidden_until = None;
        message.receipt_handle = None;
        self.visible.push_back(message.id.clone());
        self.messages.insert(message.id.clone(), message);
    }

    /// Makes visible every hidden message whose time has come.
    fn reveal(&mut self, now: Instant) {
        while let Some(entry) = self.hidden.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let id = entry.remove();
            if let Some(m) = self.messages.get_mut(&id) {
                m.hidden_until = None;
                self.visible.push_back(id);
            }
        }
    }

    fn hide(&mut self, id: &str, until: Instant) {
        let Some(m) = self.messages.get_mut(id) else {
            return;
        };
        if let Some(key) = m.hidden_until.take() {
            self.hidden.remove(&key);
        }
        let key = (until, self.next_seq);
        self.next_seq += 1;
        m.hidden_until = Some(key);
        self.hidden.insert(key, id.to_owned());
    }

    fn remove(&mut self, id: &str) -> Option<Message> {
        let m = self.messages.remove(id)?;
        if let Some(key) = m.hidden_until {
            self.hidden.remove(&key);
        }
        if let Some(handle) = &m.receipt_handle {
            self.handles.remove(handle);
        }
        Some(m)
    }

    /// The next visible message, if any.
    fn pop_visible(&mut self) -> Option<String> {
        while let Some(id) = self.visible.pop_front() {
            if self
                .messages
                .get(&id)
                .is_some_and(|m| m.hidden_until.is_none())
            {
                return Some(id);
            }
        }
        None
    }

    /// Hands the message out for `visibility`, with a new receipt handle.
    fn hand_out(
        &mut self,
        id: &str,
        now: Instant,
        visibility: Duration,
    ) -> Option<ReceivedMessage> {
        let handle = ids::new_id("rh");
        let m = self.messages.get_mut(id)?;
        m.receive_count += 1;
        if let Some(old) = m.receipt_handle.replace(handle.clone()) {
            self.handles.remove(&old);
        }
        let received = ReceivedMessage {
            message_id: m.id.clone(),
            receipt_handle: handle.clone(),
            body: m.body.clone(),
            receive_count: m.receive_count,
            reason: m.reason.clone(),
        };
        self.handles.insert(handle, id.to_owned());
        self.hide(id, now + visibility);
        Some(received)
    }

    /// The id of the message a live receipt handle names.
    fn by_handle(&self, handle: &str) -> Option<String> {
        self.handles.get(handle).cloned()
    }

    /// When the next hidden message becomes visible.
    fn next_reveal(&self) -> Option<Instant> {
        self.hidden.first_key_value().map(|((at, _), _)| *at)
    }
}

/// Whether a message hidden `until` becomes visible before the first hidden one (at
/// `first_hidden`), which is as late as any waiting receive sleeps: only then must they be
/// woken to look again.
fn sooner(until: Instant, first_hidden: Option<Instant>) -> bool {
    first_hidden.is_none_or(|first| until < first)
}

impl MemoryQueue {
    pub fn new(visibility_timeout: Duration, max_receive_count: u32) -> Self {
        Self {
            state: Mutex::default(),
            arrivals: Notify::new(),
            visibility_timeout,
            max_receive_count,
        }
    }

    /// Messages in the main queue, visible or not, and in the dead-letter queue.
    pub fn depths(&self) -> (usize, usize) {
        let state = self.state();
        (state.main.messages.len(), state.dead.messages.len())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Up to `max` visible messages, and when to look again if there were none.
    fn take_visible(
        &self,
        max: usize,
        dead_letters: bool,
    ) -> (Vec<ReceivedMessage>, Option<Instant>) {
        let now = Instant::now();
        let mut guard = self.state();
        let state = &mut *guard;
        let mut taken = Vec::new();
        if dead_letters {
            state.dead.reveal(now);
            while taken.len() < max {
                let Some(id) = state.dead.pop_visible() else {
                    break;
                };
                taken.extend(state.dead.hand_out(&id, now, self.visibility_timeout));
            }
            return (taken, state.dead.next_reveal());
        }
        state.main.reveal(now);
        while taken.len() < max {
            let Some(id) = state.main.pop_visible() else {
                break;
            };
            let exhausted = state
                .main
                .messages
                .get(&id)
                .is_some_and(|m| m.receive_count >= self.max_receive_count);
            if exhausted {
                // Redrive: received max_receive_count times, it moves on this receive.
                if let Some(mut m) = state.main.remove(&id) {
                    m.receive_count = 0;
                    state.dead.push(m);
                }
                continue;
            }
            taken.extend(state.main.hand_out(&id, now, self.visibility_timeout));
        }
        (taken, state.main.next_reveal())
    }

    async fn poll(&self, max: usize, wait: Duration, dead_letters: bool) -> Vec<ReceivedMessage> {
        let deadline = Instant::now() + wait;
        loop {
            // Registered before looking, so a send in between is not missed.
            let arrival = self.arrivals.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();
            let (messages, next_reveal) = self.take_visible(max.min(MAX_BATCH), dead_letters);
            if !messages.is_empty() || Instant::now() >= deadline {
                return messages;
            }
            let until = next_reveal.map_or(deadline, |at| at.min(deadline));
            tokio::select! {
                _ = arrival => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }
}

#[async_trait]
impl DeliveryQueue for MemoryQueue {
    async fn send_batch(&self, entries: &[OutgoingMessage]) -> Result<Vec<String>, QueueError> {
        let wake = {
            let mut state = self.state();
            let now = Instant::now();
            // Waiting receives sleep until a send or the first hidden message's time: only
            // a message visible at once, or hidden for less than that, needs them woken (a
            // busy runner sends thousands of delayed retries a second).
            let first_hidden = state.main.next_reveal();
            let mut wake = false;
            for entry in entries {
                let message = Message::new(&entry.body, None);
                let id = message.id.clone();
                state.main.push(message);
                if entry.delay.is_zero() {
                    wake = true;
                } else {
                    let until = now + entry.delay.min(MAX_DELAY);
                    wake |= sooner(until, first_hidden);
                    state.main.hide(&id, until);
                }
            }
            wake
        };
        if wake {
            self.arrivals.notify_waiters();
        }
        Ok(Vec::new())
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        Ok(self.poll(max, wait, false).await)
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let mut state = self.state();
        if let Some(id) = state.main.by_handle(receipt_handle) {
            state.main.remove(&id);
        }
        Ok(())
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        let wake = {
            let mut guard = self.state();
            let state = &mut *guard;
            let (lane, id) = match state.main.by_handle(receipt_handle) {
                Some(id) => (&mut state.main, id),
                None => {
                    let id = state.dead.by_handle(receipt_handle).ok_or_else(|| {
                        QueueError::Unavailable("the receipt handle is not in flight".into())
                    })?;
                    (&mut state.dead, id)
                }
            };
            let until = Instant::now() + timeout;
            // As for a delayed send: a backoff that ends after the next reveal a receive
            // already waits for needs nobody woken (a dead endpoint's retries are
            // thousands a second, and each wake-up costs every idle receive loop a look).
            let wake = sooner(until, lane.next_reveal());
            lane.hide(&id, until);
            wake
        };
        if wake {
            self.arrivals.notify_waiters();
        }
        Ok(())
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError> {
        self.state().dead.push(Message::new(body, Some(reason)));
        self.arrivals.notify_waiters();
        Ok(())
    }

    async fn release_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        {
            let mut state = self.state();
            if let Some(id) = state.dead.by_handle(receipt_handle) {
                state.dead.hide(&id, Instant::now());
            }
        }
        self.arrivals.notify_waiters();
        Ok(())
    }

    async fn delete_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let mut state = self.state();
        if let Some(id) = state.dead.by_handle(receipt_handle) {
            state.dead.remove(&id);
        }
        Ok(())
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let now = Instant::now();
        let state = self.state();
        let messages = &state.main.messages;
        // Hidden until a time still to come; one whose time has passed is visible already.
        let in_flight = messages
            .values()
            .filter(|m| m.hidden_until.is_some_and(|(at, _)| at > now))
            .count();
        Ok(QueueStats {
            waiting: (messages.len() - in_flight) as u64,
            // Every hidden message was received: this queue has no delayed sends.
            in_flight: in_flight as u64,
            delayed: 0,
            oldest_age: messages.values().map(|m| now - m.sent_at).max(),
            dead_letters: state.dead.messages.len() as u64,
        })
    }

    async fn receive_dead_letters(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        Ok(self.poll(max, wait, true).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delayed(body: &str, delay: Duration) -> OutgoingMessage {
        OutgoingMessage {
            delay,
            ..OutgoingMessage::new("0", body.into())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_visibility_change_wakes_a_waiting_receive_only_when_it_is_sooner() {
        let queue = std::sync::Arc::new(MemoryQueue::new(Duration::from_secs(30), 10));
        queue
            .send_batch(&[delayed("a", Duration::ZERO), delayed("b", Duration::ZERO)])
            .await
            .unwrap();
        let taken = queue.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(taken.len(), 2);
        let start = Instant::now();

        // A backoff ending after the other message's timeout: the receive that waits sleeps
        // on, and gets `b` when its backoff is over, not before.
        queue
            .change_visibility(&taken[1].receipt_handle, Duration::from_secs(40))
            .await
            .unwrap();
        // A backoff of zero: visible at once, and a receive already waiting gets it.
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.receive(10, Duration::from_secs(20)).await.unwrap() }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        queue
            .change_visibility(&taken[0].receipt_handle, Duration::ZERO)
            .await
            .unwrap();
        let woken = waiting.await.unwrap();
        assert_eq!(woken.iter().map(|m| &m.body[..]).collect::<Vec<_>>(), ["a"]);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );

        queue.delete(&woken[0].receipt_handle).await.unwrap();
        let later = queue.receive(10, Duration::from_secs(60)).await.unwrap();
        assert_eq!(later.iter().map(|m| &m.body[..]).collect::<Vec<_>>(), ["b"]);
        assert!(
            start.elapsed() >= Duration::from_secs(40),
            "{:?}",
            start.elapsed()
        );
    }
}
