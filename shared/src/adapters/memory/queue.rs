//! The embedded backend's queue, with SQS's semantics: a received message stays hidden for
//! the visibility timeout, comes back if not deleted, and moves to the dead-letter queue
//! once it has been received `max_receive_count` times.
//!
//! Visible messages and hidden ones are kept apart (FIFOs, and a heap and a set ordered by
//! the time each becomes visible again), so a receive costs O(log n) in the messages
//! waiting for a retry, not a scan of them all; and a receive that finds nothing waits on
//! a notification (a send, or the next message becoming visible), not a sleep-poll. A dead
//! endpoint's backlog therefore does not slow the deliveries to healthy ones.
//!
//! Unlike SQS, a receive prefers messages sent to be received at once (first attempts) to
//! messages back from a wait (retries), taking one in [`DUE_SHARE`] from the second while
//! there are both: a wave of retries falling due together cannot hold up first attempts
//! when the dispatcher is behind, and is not starved either. SQS promises no order.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rustc_hash::FxHashMap;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::ports::queue::*;

pub struct MemoryQueue {
    state: Mutex<State>,
    /// Woken on every send and every message made visible by hand.
    arrivals: Notify,
    visibility_timeout: Duration,
    max_receive_count: u32,
}

/// Messages are numbered in the order they were sent, across both lanes (a message keeps
/// its number when it is moved to the dead-letter queue): numbers, not strings, key every
/// map, and a receipt handle is the lane, the number and the receive it names.
#[derive(Default)]
struct State {
    main: Lane,
    dead: Lane,
    next_id: u64,
}

impl State {
    /// The lane and the message a live receipt handle names (its latest receive's handle:
    /// an older one, or text no receive handed out, names nothing).
    fn in_flight(&mut self, handle: &str) -> Option<(LaneName, &mut Lane, u64)> {
        let receipt = Receipt::parse(handle)?;
        let lane = match receipt.lane {
            LaneName::Main => &mut self.main,
            LaneName::Dead => &mut self.dead,
        };
        let live = lane
            .messages
            .get(&receipt.id)
            .is_some_and(|m| m.receive_count == receipt.receive);
        live.then_some((receipt.lane, lane, receipt.id))
    }

    fn new_message(&mut self, body: &str, reason: Option<&str>) -> Message {
        self.next_id += 1;
        Message {
            id: self.next_id,
            body: body.into(),
            receive_count: 0,
            hidden_until: None,
            received_wait: false,
            reason: reason.map(str::to_owned),
            sent_at: Instant::now(),
        }
    }
}

/// Which queue a receipt handle came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LaneName {
    Main,
    Dead,
}

impl LaneName {
    fn tag(self) -> char {
        match self {
            Self::Main => 'm',
            Self::Dead => 'd',
        }
    }
}

/// What a receipt handle names: a message of a lane, as received the `receive`-th time.
/// Only the latest receive's handle is live, as with SQS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Receipt {
    lane: LaneName,
    id: u64,
    receive: u32,
}

impl Receipt {
    fn format(self) -> String {
        format!("{}{}.{}", self.lane.tag(), self.id, self.receive)
    }

    /// `None` for text that no receive of this queue handed out.
    fn parse(handle: &str) -> Option<Self> {
        let lane = match handle.as_bytes().first()? {
            b'm' => LaneName::Main,
            b'd' => LaneName::Dead,
            _ => return None,
        };
        let (id, receive) = handle[1..].split_once('.')?;
        Some(Self {
            lane,
            id: id.parse().ok()?,
            receive: receive.parse().ok()?,
        })
    }
}

/// How late a message may become visible after its wait, at most: the granularity of the
/// receive loops' sleep (see [`MemoryQueue::poll`]).
const REVEAL_TICK: Duration = Duration::from_millis(10);

/// While messages sent for at once and messages back from a wait are both visible, one
/// receive in this many takes from the second (see [`Lane::pop_visible`]).
const DUE_SHARE: u32 = 8;

/// One queue: its messages, which of them are visible, and when the others will be.
#[derive(Default)]
struct Lane {
    /// Boxed: the table then holds 16 bytes a message, not a hundred, so with a backlog of
    /// a hundred thousand waiting retries its growth (a copy of every slot, then page
    /// faults across a table several times larger) stays small, under the queue's lock.
    messages: FxHashMap<u64, Box<Message>>,
    /// Visible messages sent to be received at once (an event's first attempts), oldest
    /// first. A message deleted or hidden again since is skipped when it comes up.
    ready: VecDeque<u64>,
    /// Visible messages back from a wait (a delayed send or a visibility timeout: retries,
    /// and messages whose receiver never settled them), oldest first; skipped likewise.
    due: VecDeque<u64>,
    /// Receives from `ready` in a row, counted towards the next from `due`.
    ready_streak: u32,
    /// Messages hidden for the visibility timeout of a receive, by the time they become
    /// visible again (the number keeps keys apart): no more than the receivers hold at once,
    /// each removed as soon as it is deleted or given a wait of its own.
    received: BTreeSet<(Instant, u64)>,
    /// The other hidden messages (sent with a delay, or given a wait by their receiver:
    /// retries), earliest first. An entry stays when its message is deleted or hidden again
    /// and is skipped when it comes up (its message's `hidden_until` says otherwise): a
    /// retry's wait, which mostly ends after those already waiting, is then added without a
    /// search, and never looked up, in a backlog of a hundred thousand.
    waiting: BinaryHeap<Reverse<(Instant, u64)>>,
}

struct Message {
    id: u64,
    body: Arc<str>,
    receive_count: u32,
    /// When it becomes visible again, while it is hidden: its entry in `Lane::received` if
    /// `received_wait`, else in `Lane::waiting`.
    hidden_until: Option<Instant>,
    received_wait: bool,
    reason: Option<String>,
    sent_at: Instant,
}

impl Lane {
    fn push(&mut self, mut message: Message) {
        message.hidden_until = None;
        self.ready.push_back(message.id);
        self.messages.insert(message.id, Box::new(message));
    }

    /// Adds a message that stays hidden until `until`.
    fn push_hidden(&mut self, message: Message, until: Instant) {
        let id = message.id;
        self.messages.insert(id, Box::new(message));
        self.hide(id, until, false);
    }

    /// Makes visible every hidden message whose time has come.
    fn reveal(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.received.first() {
            if at > now {
                break;
            }
            self.received.pop_first();
            self.show(id, at, true);
        }
        while let Some(&Reverse((at, id))) = self.waiting.peek() {
            if at > now {
                break;
            }
            self.waiting.pop();
            self.show(id, at, false);
        }
    }

    /// Makes the message visible if the entry that came up, hidden until `at` in `received`
    /// or `waiting`, is still its entry.
    fn show(&mut self, id: u64, at: Instant, received: bool) {
        if let Some(m) = self.messages.get_mut(&id)
            && m.hidden_until == Some(at)
            && m.received_wait == received
        {
            m.hidden_until = None;
            self.due.push_back(id);
        }
    }

    /// Hides the message until `until`: for a receive's visibility timeout (`received`),
    /// or for a wait of its own.
    fn hide(&mut self, id: u64, until: Instant, received: bool) {
        let Some(m) = self.messages.get_mut(&id) else {
            return;
        };
        if let Some(at) = m.hidden_until.replace(until)
            && m.received_wait
        {
            self.received.remove(&(at, id));
        }
        m.received_wait = received;
        if received {
            self.received.insert((until, id));
        } else {
            self.waiting.push(Reverse((until, id)));
        }
    }

    fn remove(&mut self, id: u64) -> Option<Message> {
        let m = self.messages.remove(&id)?;
        if let Some(at) = m.hidden_until
            && m.received_wait
        {
            self.received.remove(&(at, id));
        }
        Some(*m)
    }

    /// The next visible message, if any: the oldest of those sent for at once, but one in
    /// [`DUE_SHARE`] from those back from a wait while there are both. So when the
    /// dispatcher falls behind, a burst of retries (a dead endpoint's, falling due
    /// together) waits behind the first attempts that were sent for at once, instead of
    /// holding them up, and still gets a share of the receives.
    fn pop_visible(&mut self) -> Option<u64> {
        if self.ready_streak >= DUE_SHARE - 1
            && let Some(id) = Self::pop_live(&mut self.due, &self.messages)
        {
            self.ready_streak = 0;
            return Some(id);
        }
        if let Some(id) = Self::pop_live(&mut self.ready, &self.messages) {
            self.ready_streak = self.ready_streak.saturating_add(1);
            return Some(id);
        }
        let id = Self::pop_live(&mut self.due, &self.messages)?;
        self.ready_streak = 0;
        Some(id)
    }

    /// The first id of `ids` whose message is still there and visible.
    fn pop_live(ids: &mut VecDeque<u64>, messages: &FxHashMap<u64, Box<Message>>) -> Option<u64> {
        while let Some(id) = ids.pop_front() {
            if messages.get(&id).is_some_and(|m| m.hidden_until.is_none()) {
                return Some(id);
            }
        }
        None
    }

    /// Hands the message out for `visibility`, with a new receipt handle.
    fn hand_out(
        &mut self,
        lane: LaneName,
        id: u64,
        now: Instant,
        visibility: Duration,
    ) -> Option<ReceivedMessage> {
        let m = self.messages.get_mut(&id)?;
        m.receive_count += 1;
        let receipt = Receipt {
            lane,
            id,
            receive: m.receive_count,
        };
        let received = ReceivedMessage {
            message_id: id.to_string(),
            receipt_handle: receipt.format(),
            body: m.body.clone(),
            receive_count: m.receive_count,
            reason: m.reason.clone(),
        };
        self.hide(id, now + visibility, true);
        Some(received)
    }

    /// When the next hidden message becomes visible (or earlier: a skipped entry of
    /// `waiting` may come first, which only makes a receive look once more).
    fn next_reveal(&self) -> Option<Instant> {
        let received = self.received.first().map(|(at, _)| *at);
        let waiting = self.waiting.peek().map(|Reverse((at, _))| *at);
        received.into_iter().chain(waiting).min()
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
                taken.extend(
                    state
                        .dead
                        .hand_out(LaneName::Dead, id, now, self.visibility_timeout),
                );
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
                if let Some(mut m) = state.main.remove(id) {
                    m.receive_count = 0;
                    state.dead.push(m);
                }
                continue;
            }
            taken.extend(
                state
                    .main
                    .hand_out(LaneName::Main, id, now, self.visibility_timeout),
            );
        }
        (taken, state.main.next_reveal())
    }

    async fn poll(&self, max: usize, wait: Duration, dead_letters: bool) -> Vec<ReceivedMessage> {
        // A busy queue answers at once, without registering for a notification.
        let (messages, _) = self.take_visible(max.min(MAX_BATCH), dead_letters);
        if !messages.is_empty() {
            return messages;
        }
        let deadline = Instant::now() + wait;
        loop {
            // Registered before looking again, so a send in between is not missed.
            let arrival = self.arrivals.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();
            let (messages, next_reveal) = self.take_visible(max.min(MAX_BATCH), dead_letters);
            if !messages.is_empty() || Instant::now() >= deadline {
                return messages;
            }
            // Every idle receive loop sleeps until the same next reveal: not sooner than a
            // tick from now, so that retries falling due a few hundred microseconds apart
            // wake them once per tick for all of them, not each for every one.
            let until = next_reveal.map_or(deadline, |at| {
                at.max(Instant::now() + REVEAL_TICK).min(deadline)
            });
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
                let message = state.new_message(&entry.body, None);
                if entry.delay.is_zero() {
                    state.main.push(message);
                    wake = true;
                } else {
                    let until = now + entry.delay.min(MAX_DELAY);
                    wake |= sooner(until, first_hidden);
                    state.main.push_hidden(message, until);
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

    fn receive_ready(&self, max: usize) -> Vec<ReceivedMessage> {
        self.take_visible(max.min(MAX_BATCH), false).0
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        if let Some((LaneName::Main, lane, id)) = self.state().in_flight(receipt_handle) {
            lane.remove(id);
        }
        Ok(())
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        let wake = {
            let mut state = self.state();
            let (_, lane, id) = state.in_flight(receipt_handle).ok_or_else(|| {
                QueueError::Unavailable("the receipt handle is not in flight".into())
            })?;
            let until = Instant::now() + timeout;
            // As for a delayed send: a backoff that ends after the next reveal a receive
            // already waits for needs nobody woken (a dead endpoint's retries are
            // thousands a second, and each wake-up costs every idle receive loop a look).
            let wake = sooner(until, lane.next_reveal());
            lane.hide(id, until, false);
            wake
        };
        if wake {
            self.arrivals.notify_waiters();
        }
        Ok(())
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError> {
        let mut state = self.state();
        let message = state.new_message(body, Some(reason));
        state.dead.push(message);
        drop(state);
        self.arrivals.notify_waiters();
        Ok(())
    }

    async fn release_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        {
            if let Some((LaneName::Dead, lane, id)) = self.state().in_flight(receipt_handle) {
                lane.hide(id, Instant::now(), false);
            }
        }
        self.arrivals.notify_waiters();
        Ok(())
    }

    async fn delete_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        if let Some((LaneName::Dead, lane, id)) = self.state().in_flight(receipt_handle) {
            lane.remove(id);
        }
        Ok(())
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let now = Instant::now();
        let state = self.state();
        let messages = &state.main.messages;
        // Hidden until a time still to come (one whose time has passed is visible already):
        // as SQS counts them, "delayed" if it was sent with a delay and never received since,
        // "in flight" (not visible) if it was received.
        let (mut in_flight, mut delayed) = (0, 0);
        for m in messages.values() {
            if m.hidden_until.is_some_and(|at| at > now) {
                if m.receive_count == 0 {
                    delayed += 1;
                } else {
                    in_flight += 1;
                }
            }
        }
        Ok(QueueStats {
            waiting: (messages.len() - in_flight - delayed) as u64,
            in_flight: in_flight as u64,
            delayed: delayed as u64,
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
    async fn retries_falling_due_wait_behind_first_attempts_but_get_one_receive_in_eight() {
        let queue = MemoryQueue::new(Duration::from_secs(30), 10);
        let retries: Vec<_> = (0..3)
            .map(|i| delayed(&format!("retry{i}"), Duration::from_secs(5)))
            .collect();
        queue.send_batch(&retries).await.unwrap();
        tokio::time::advance(Duration::from_secs(6)).await;
        let first: Vec<_> = (0..16)
            .map(|i| delayed(&format!("first{i}"), Duration::ZERO))
            .collect();
        queue.send_batch(&first).await.unwrap();

        let mut order = Vec::new();
        while let Some(m) = queue.receive(1, Duration::ZERO).await.unwrap().pop() {
            order.push(m.body.to_string());
        }
        let expected: Vec<String> = (0..7)
            .map(|i| format!("first{i}"))
            .chain(["retry0".to_owned()])
            .chain((7..14).map(|i| format!("first{i}")))
            .chain(["retry1".to_owned()])
            .chain((14..16).map(|i| format!("first{i}")))
            // Nothing sent for at once is left: the rest of the retries, at once.
            .chain(["retry2".to_owned()])
            .collect();
        assert_eq!(order, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_falling_due_within_a_tick_are_received_together() {
        let queue = MemoryQueue::new(Duration::from_secs(30), 10);
        let start = Instant::now();
        let retries: Vec<_> = [1, 4, 9]
            .map(|ms| delayed(&format!("retry{ms}"), Duration::from_millis(ms)))
            .into();
        queue.send_batch(&retries).await.unwrap();
        // A receive waiting for them wakes once, a tick on, for all three.
        let taken = queue.receive(10, Duration::from_secs(1)).await.unwrap();
        let bodies: Vec<_> = taken.iter().map(|m| &*m.body).collect();
        assert_eq!(bodies, ["retry1", "retry4", "retry9"]);
        let waited = start.elapsed();
        assert!(
            (REVEAL_TICK..REVEAL_TICK * 2).contains(&waited),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_replaced_by_a_longer_one_ends_at_the_new_time_and_once() {
        let queue = MemoryQueue::new(Duration::from_secs(30), 10);
        queue
            .send_batch(&[delayed("a", Duration::ZERO), delayed("b", Duration::ZERO)])
            .await
            .unwrap();
        let taken = queue.receive(2, Duration::ZERO).await.unwrap();
        // `a` waits 1 s, then (the same receive's handle) 5 s instead; `b` is never
        // settled, so it is back after the visibility timeout.
        let a = &taken[0].receipt_handle;
        queue
            .change_visibility(a, Duration::from_secs(1))
            .await
            .unwrap();
        queue
            .change_visibility(a, Duration::from_secs(5))
            .await
            .unwrap();

        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
        tokio::time::advance(Duration::from_secs(4)).await;
        let back = queue.receive(10, Duration::ZERO).await.unwrap();
        let bodies: Vec<_> = back.iter().map(|m| &*m.body).collect();
        assert_eq!(bodies, ["a"]);
        queue.delete(&back[0].receipt_handle).await.unwrap();

        tokio::time::advance(Duration::from_secs(25)).await;
        let back = queue.receive(10, Duration::ZERO).await.unwrap();
        let bodies: Vec<_> = back.iter().map(|m| (&*m.body, m.receive_count)).collect();
        assert_eq!(bodies, [("b", 2)]);
        assert_eq!(queue.depths(), (1, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_ready_message_is_handed_out_as_a_receive_would_and_a_hidden_one_is_not() {
        let queue = MemoryQueue::new(Duration::from_secs(30), 2);
        queue
            .send_batch(&[
                delayed("a", Duration::ZERO),
                delayed("later", Duration::from_secs(5)),
            ])
            .await
            .unwrap();
        let ready = queue.receive_ready(10);
        let taken: Vec<_> = ready.iter().map(|m| (&*m.body, m.receive_count)).collect();
        assert_eq!(taken, [("a", 1)]);
        // Handed out: hidden for the visibility timeout, like any received message.
        assert!(queue.receive_ready(10).is_empty());

        tokio::time::advance(Duration::from_secs(31)).await;
        let again = queue.receive_ready(10);
        let bodies: Vec<_> = again.iter().map(|m| (&*m.body, m.receive_count)).collect();
        assert_eq!(bodies, [("a", 2), ("later", 1)]);
        // Received as often as the redrive allows: the next look moves `a` to the
        // dead-letter queue instead of handing it out a third time.
        queue.delete(&again[1].receipt_handle).await.unwrap();
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(queue.receive_ready(10).is_empty());
        assert_eq!(queue.depths(), (0, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn stats_count_delayed_sends_apart_from_received_messages() {
        let queue = MemoryQueue::new(Duration::from_secs(30), 10);
        queue
            .send_batch(&[
                delayed("now", Duration::ZERO),
                delayed("waiting", Duration::ZERO),
                delayed("later", Duration::from_secs(5)),
            ])
            .await
            .unwrap();
        let taken = queue.receive(1, Duration::ZERO).await.unwrap();
        assert_eq!(&*taken[0].body, "now");
        let stats = queue.stats().await.unwrap();
        assert_eq!(
            (stats.waiting, stats.in_flight, stats.delayed),
            (1, 1, 1),
            "{stats:?}"
        );
        // Its delay over, the delayed send is waiting like any other.
        tokio::time::advance(Duration::from_secs(6)).await;
        let stats = queue.stats().await.unwrap();
        assert_eq!((stats.waiting, stats.in_flight, stats.delayed), (2, 1, 0));
    }

    #[tokio::test]
    async fn only_the_latest_receipt_handle_of_a_message_acts_on_it() {
        let queue = MemoryQueue::new(Duration::ZERO, 10);
        queue
            .send_batch(&[delayed("a", Duration::ZERO)])
            .await
            .unwrap();
        let first = queue.receive(1, Duration::ZERO).await.unwrap().remove(0);
        // Visible again at once (a zero timeout): received a second time, a new handle.
        let second = queue.receive(1, Duration::ZERO).await.unwrap().remove(0);
        assert_eq!(second.message_id, first.message_id);
        assert_eq!(second.receive_count, 2);
        assert_ne!(second.receipt_handle, first.receipt_handle);

        for stale in [first.receipt_handle.as_str(), "m1", "x1.1", "", "d1.2"] {
            assert!(
                queue
                    .change_visibility(stale, Duration::ZERO)
                    .await
                    .is_err(),
                "{stale:?} is not in flight"
            );
            queue.delete(stale).await.unwrap();
            assert_eq!(queue.depths(), (1, 0), "{stale:?} deleted the message");
        }
        queue.delete(&second.receipt_handle).await.unwrap();
        assert_eq!(queue.depths(), (0, 0));
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
