//! The embedded backend's queue, with SQS's semantics: a received message stays hidden for
//! the visibility timeout, comes back if not deleted, and moves to the dead-letter queue
//! once it has been received `max_receive_count` times.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::ids;
use crate::ports::queue::*;

pub struct MemoryQueue {
    state: Mutex<State>,
    visibility_timeout: Duration,
    max_receive_count: u32,
}

#[derive(Default)]
struct State {
    main: Vec<Message>,
    dead: Vec<Message>,
}

struct Message {
    id: String,
    body: String,
    receive_count: u32,
    visible_at: Instant,
    receipt_handle: Option<String>,
    reason: Option<String>,
    sent_at: Instant,
}

impl Message {
    fn new(body: &str, reason: Option<&str>) -> Self {
        Self {
            id: ids::new_id("msg"),
            body: body.to_owned(),
            receive_count: 0,
            visible_at: Instant::now(),
            receipt_handle: None,
            reason: reason.map(str::to_owned),
            sent_at: Instant::now(),
        }
    }

    fn hand_out(&mut self, now: Instant, visibility: Duration) -> ReceivedMessage {
        self.receive_count += 1;
        self.visible_at = now + visibility;
        let handle = ids::new_id("rh");
        self.receipt_handle = Some(handle.clone());
        ReceivedMessage {
            message_id: self.id.clone(),
            receipt_handle: handle,
            body: self.body.clone(),
            receive_count: self.receive_count,
            reason: self.reason.clone(),
        }
    }
}

impl MemoryQueue {
    pub fn new(visibility_timeout: Duration, max_receive_count: u32) -> Self {
        Self {
            state: Mutex::default(),
            visibility_timeout,
            max_receive_count,
        }
    }

    /// Messages in the main queue, visible or not, and in the dead-letter queue.
    pub fn depths(&self) -> (usize, usize) {
        let state = self.state();
        (state.main.len(), state.dead.len())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_visible(&self, max: usize, dead_letters: bool) -> Vec<ReceivedMessage> {
        let now = Instant::now();
        let mut guard = self.state();
        let state = &mut *guard;
        if !dead_letters {
            // Redrive: a message already received max_receive_count times moves on its next receive.
            let (exhausted, keep): (Vec<Message>, Vec<Message>) = std::mem::take(&mut state.main)
                .into_iter()
                .partition(|m| m.visible_at <= now && m.receive_count >= self.max_receive_count);
            state.main = keep;
            state.dead.extend(exhausted.into_iter().map(|mut m| {
                m.receipt_handle = None;
                m.receive_count = 0;
                m.visible_at = now;
                m
            }));
        }
        let messages = if dead_letters {
            &mut state.dead
        } else {
            &mut state.main
        };
        messages
            .iter_mut()
            .filter(|m| m.visible_at <= now)
            .take(max)
            .map(|m| m.hand_out(now, self.visibility_timeout))
            .collect()
    }

    async fn poll(&self, max: usize, wait: Duration, dead_letters: bool) -> Vec<ReceivedMessage> {
        let deadline = Instant::now() + wait;
        loop {
            let messages = self.take_visible(max.min(MAX_BATCH), dead_letters);
            if !messages.is_empty() || Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn find<'a>(
        state: &'a mut State,
        receipt_handle: &str,
    ) -> Option<(&'a mut Vec<Message>, usize)> {
        if let Some(i) = state
            .main
            .iter()
            .position(|m| m.receipt_handle.as_deref() == Some(receipt_handle))
        {
            return Some((&mut state.main, i));
        }
        let i = state
            .dead
            .iter()
            .position(|m| m.receipt_handle.as_deref() == Some(receipt_handle))?;
        Some((&mut state.dead, i))
    }
}

#[async_trait]
impl DeliveryQueue for MemoryQueue {
    async fn send_batch(&self, entries: &[OutgoingMessage]) -> Result<Vec<String>, QueueError> {
        let mut state = self.state();
        for entry in entries {
            state.main.push(Message::new(&entry.body, None));
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
        if let Some((messages, i)) = Self::find(&mut state, receipt_handle) {
            messages.remove(i);
        }
        Ok(())
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        let mut state = self.state();
        let (messages, i) = Self::find(&mut state, receipt_handle)
            .ok_or_else(|| QueueError::Unavailable("the receipt handle is not in flight".into()))?;
        messages[i].visible_at = Instant::now() + timeout;
        Ok(())
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError> {
        self.state().dead.push(Message::new(body, Some(reason)));
        Ok(())
    }

    async fn release_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let mut state = self.state();
        if let Some(m) = state
            .dead
            .iter_mut()
            .find(|m| m.receipt_handle.as_deref() == Some(receipt_handle))
        {
            m.visible_at = Instant::now();
        }
        Ok(())
    }

    async fn delete_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.state()
            .dead
            .retain(|m| m.receipt_handle.as_deref() != Some(receipt_handle));
        Ok(())
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let now = Instant::now();
        let state = self.state();
        let waiting = state.main.iter().filter(|m| m.visible_at <= now).count();
        Ok(QueueStats {
            waiting: waiting as u64,
            // Every hidden message was received: this queue has no delayed sends.
            in_flight: (state.main.len() - waiting) as u64,
            delayed: 0,
            oldest_age: state.main.iter().map(|m| now - m.sent_at).max(),
            dead_letters: state.dead.len() as u64,
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
