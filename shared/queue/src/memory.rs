//! An in-process queue with SQS's semantics: a received message stays
//! invisible for its visibility timeout and reappears (its receive count one
//! higher) unless acked; delayed messages appear after their delay; receives
//! long-poll. Oldest first, a reappearing message before newer ones. Nothing
//! survives the process.
//!
//! Time is tokio's, so tests may run it with `tokio::time::pause()`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{Queue, QueueError, QueueResult, Receipt, Received, check_delay, check_receive, long_poll};

struct Message {
    body: String,
    visible_at: Instant,
    receive_count: u32,
}

#[derive(Default)]
struct State {
    /// By send order.
    messages: BTreeMap<u64, Message>,
    next_sequence: u64,
}

impl State {
    /// Takes up to `max` messages visible at `now`, oldest first, and hides
    /// them until `now + visibility`.
    fn take_visible(&mut self, queue_id: u64, now: Instant, max: usize, visibility: Duration) -> Vec<Received> {
        self.messages
            .iter_mut()
            .filter(|(_, message)| message.visible_at <= now)
            .take(max)
            .map(|(sequence, message)| {
                message.visible_at = now + visibility;
                message.receive_count = message.receive_count.saturating_add(1);
                Received {
                    body: message.body.clone(),
                    receipt: receipt(queue_id, *sequence, message.receive_count),
                    receive_count: message.receive_count,
                }
            })
            .collect()
    }

    /// When the next hidden message becomes visible.
    fn next_visible(&self) -> Option<Instant> {
        self.messages.values().map(|m| m.visible_at).min()
    }
}

/// A receipt names the queue, the message and which receive of it issued
/// the receipt: `mem:<queue>:<sequence>:<receive count>`.
fn receipt(queue_id: u64, sequence: u64, receive_count: u32) -> Receipt {
    Receipt::new(format!("mem:{queue_id}:{sequence}:{receive_count}"))
}

fn parse_receipt(receipt: &Receipt) -> Option<(u64, u64, u32)> {
    let mut parts = receipt.as_str().strip_prefix("mem:")?.split(':');
    let queue_id = parts.next()?.parse().ok()?;
    let sequence = parts.next()?.parse().ok()?;
    let receive_count = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((queue_id, sequence, receive_count))
}

struct Inner {
    /// Tells receipts of this queue from those of another.
    id: u64,
    state: Mutex<State>,
    /// Wakes long-polling receives when a message is sent.
    sent: Notify,
}

#[derive(Clone)]
pub struct MemoryQueue {
    inner: Arc<Inner>,
}

impl Default for MemoryQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryQueue").field("id", &self.inner.id).field("len", &self.len()).finish()
    }
}

impl MemoryQueue {
    pub fn new() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Self {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                state: Mutex::default(),
                sent: Notify::new(),
            }),
        }
    }

    /// Messages not yet acked: visible, delayed or in flight.
    pub fn len(&self) -> usize {
        self.state().messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every method mutates `State` in steps that cannot panic halfway,
        // so a poisoned lock still guards a consistent state.
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Queue for MemoryQueue {
    async fn send(&self, body: &str, delay: Option<Duration>) -> QueueResult<()> {
        check_delay(delay)?;
        let now = Instant::now();
        {
            let mut state = self.state();
            let sequence = state.next_sequence;
            state.next_sequence += 1;
            state.messages.insert(
                sequence,
                Message { body: body.to_string(), visible_at: now + delay.unwrap_or_default(), receive_count: 0 },
            );
        }
        self.inner.sent.notify_waiters();
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration, visibility: Duration) -> QueueResult<Vec<Received>> {
        check_receive(max, wait, visibility)?;
        long_poll(&self.inner.sent, wait, || {
            let mut state = self.state();
            let batch = state.take_visible(self.inner.id, Instant::now(), max, visibility);
            std::future::ready(Ok(if batch.is_empty() { Err(state.next_visible()) } else { Ok(batch) }))
        })
        .await
    }

    async fn ack(&self, receipt: &Receipt) -> QueueResult<()> {
        let (queue_id, sequence, receive_count) = parse_receipt(receipt).ok_or(QueueError::InvalidReceipt)?;
        if queue_id != self.inner.id {
            return Err(QueueError::InvalidReceipt);
        }
        let mut state = self.state();
        // Only the latest receive's receipt deletes; an older one (or one of
        // a message already deleted) is accepted and does nothing.
        if state.messages.get(&sequence).is_some_and(|m| m.receive_count == receive_count) {
            state.messages.remove(&sequence);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::{Instant, timeout};

    use super::MemoryQueue;
    use crate::{Queue, QueueError, Receipt};

    const SECOND: Duration = Duration::from_secs(1);

    /// Fails a test that takes longer than a minute of tokio time: in a
    /// paused test, a receive that never returns fails at once instead of
    /// hanging.
    async fn bounded(test: impl Future<Output = ()>) {
        timeout(Duration::from_secs(60), test).await.expect("the test finishes within a minute");
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_reappears_exactly_when_its_visibility_ends() {
        bounded(async {
            let queue = MemoryQueue::new();
            queue.send("{}", None).await.expect("send");
            let start = Instant::now();
            let first = queue.receive(1, SECOND, 10 * SECOND).await.expect("receive");
            assert_eq!(first.len(), 1);

            // A receive that gives up before the 10 s are over gets nothing.
            let early = queue.receive(1, 9 * SECOND, SECOND).await.expect("receive");
            assert!(early.is_empty());
            assert_eq!(start.elapsed(), 9 * SECOND);

            // One still waiting when they are over gets it at once.
            let again = queue.receive(1, 5 * SECOND, SECOND).await.expect("receive");
            assert_eq!(start.elapsed(), 10 * SECOND);
            assert_eq!(again.len(), 1);
            assert_eq!(again[0].receive_count, 2);
            assert_ne!(again[0].receipt, first[0].receipt);
        })
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_message_appears_exactly_after_its_delay() {
        bounded(async {
            let queue = MemoryQueue::new();
            queue.send("{}", Some(Duration::from_millis(1_500))).await.expect("send");
            let start = Instant::now();
            let received = queue.receive(10, 20 * SECOND, SECOND).await.expect("receive");
            assert_eq!(received.len(), 1);
            assert_eq!(received[0].receive_count, 1);
            assert_eq!(start.elapsed(), Duration::from_millis(1_500));
        })
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_poll_wakes_when_a_message_is_sent() {
        bounded(async {
            let queue = MemoryQueue::new();
            let sender = queue.clone();
            let start = Instant::now();
            tokio::spawn(async move {
                tokio::time::sleep(3 * SECOND).await;
                sender.send(r#"{"late":true}"#, None).await.expect("send");
            });
            let received = queue.receive(10, 20 * SECOND, SECOND).await.expect("receive");
            assert_eq!(start.elapsed(), 3 * SECOND);
            assert_eq!(received.len(), 1);
            assert_eq!(received[0].body, r#"{"late":true}"#);
            queue.ack(&received[0].receipt).await.expect("ack");

            // With nothing to receive, a receive waits exactly `wait`.
            let start = Instant::now();
            let empty = queue.receive(10, 2 * SECOND, SECOND).await.expect("receive");
            assert!(empty.is_empty());
            assert_eq!(start.elapsed(), 2 * SECOND);
        })
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn messages_come_oldest_first_and_a_reappearing_one_first_of_all() {
        bounded(async {
            let queue = MemoryQueue::new();
            for n in 0..3 {
                queue.send(&n.to_string(), None).await.expect("send");
            }
            let bodies = |batch: Vec<crate::Received>| -> Vec<String> { batch.into_iter().map(|r| r.body).collect() };
            let first = queue.receive(1, SECOND, SECOND).await.expect("receive");
            assert_eq!(bodies(first), ["0"]);
            tokio::time::sleep(2 * SECOND).await;
            queue.send("3", None).await.expect("send");
            let all = queue.receive(10, SECOND, SECOND).await.expect("receive");
            assert_eq!(bodies(all), ["0", "1", "2", "3"]);
        })
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_latest_receipt_deletes() {
        bounded(async {
            let queue = MemoryQueue::new();
            queue.send("{}", None).await.expect("send");
            let first = queue.receive(1, SECOND, SECOND).await.expect("receive");
            tokio::time::sleep(2 * SECOND).await;
            let second = queue.receive(1, SECOND, SECOND).await.expect("receive");
            assert_eq!(second.len(), 1);

            queue.ack(&first[0].receipt).await.expect("stale ack accepted");
            assert_eq!(queue.len(), 1, "a stale receipt deletes nothing");
            queue.ack(&second[0].receipt).await.expect("ack");
            assert!(queue.is_empty());
            queue.ack(&second[0].receipt).await.expect("acking twice is harmless");
        })
        .await;
    }

    #[tokio::test]
    async fn receipts_of_another_queue_are_refused() {
        bounded(async {
            let queue = MemoryQueue::new();
            let other = MemoryQueue::new();
            other.send("{}", None).await.expect("send");
            let received = other.receive(1, Duration::ZERO, SECOND).await.expect("receive");
            let foreign = queue.ack(&received[0].receipt).await;
            assert!(matches!(foreign, Err(QueueError::InvalidReceipt)), "{foreign:?}");
            for garbage in ["", "mem:", "mem:1:2", "mem:1:2:3:4", "AQEB+sqs-handle"] {
                let refused = queue.ack(&Receipt::new(garbage)).await;
                assert!(matches!(refused, Err(QueueError::InvalidReceipt)), "{garbage}");
            }
            assert_eq!(other.len(), 1);
        })
        .await;
    }

    #[tokio::test]
    async fn refused_sends_leave_nothing_behind() {
        bounded(async {
            let queue = MemoryQueue::new();
            let refused = queue.send("{}", Some(crate::MAX_DELAY + SECOND)).await;
            assert!(matches!(refused, Err(QueueError::DelayTooLong { .. })));
            assert!(queue.is_empty());
        })
        .await;
    }
}
