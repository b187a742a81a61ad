//! The behaviour every queue adapter must have: checks that each adapter's
//! tests run, one test a check
//! ([`queue_conformance_tests!`](crate::queue_conformance_tests)), against a
//! fresh, empty queue that nothing else uses (the checks expect to see only
//! their own messages). Every check acks all it sends, so the queue is empty
//! again at its end ([`nothing_is_left`] checks it after each).
//!
//! Test support only: compiled with the `testing` feature (which this
//! crate's own tests turn on), never into a Lambda binary.
//!
//! The checks run in real time (an SQS emulator cannot be paused): waits are
//! short, visibility timeouts one or two seconds, about ten seconds in all;
//! every receive is bounded, each check by [`CHECK_TIMEOUT`].

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::{Queue, QueueError, Receipt, Received, TypedQueue};

/// A bound for each check, for the tests that run it: the longest take a
/// few seconds of real time.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

const SECOND: Duration = Duration::from_secs(1);
/// How long a check keeps receiving before it gives up on a message.
const PATIENCE: Duration = Duration::from_secs(10);
/// A visibility timeout longer than any check, for checks that ack what
/// they receive and must not see it reappear meanwhile.
const LONG_VISIBILITY: Duration = Duration::from_secs(60);
/// Clock skew between this process and an emulator measuring delays and
/// visibility timeouts with its own clock.
const SLACK: Duration = Duration::from_millis(250);

/// Expands, where it is invoked, to one `#[tokio::test]` per check, each
/// against the fresh, empty queue that `$queue` evaluates to (inside the
/// test's async body, so it may `.await`), bounded by [`CHECK_TIMEOUT`] and
/// followed by [`nothing_is_left`]: every check acks all it sends. An
/// optional second argument, a function taking `&queue`, runs after that
/// (the in-memory queue's tests check there that nothing is in flight).
/// One test a check: a failing check does not hide the others.
///
/// ```ignore
/// mod memory {
///     ferry_queue::queue_conformance_tests!(ferry_queue::memory::MemoryQueue::new());
/// }
/// ```
#[macro_export]
macro_rules! queue_conformance_tests {
    (@checks ($queue:expr) ($after:expr); $($check:ident,)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let queue = $queue;
                let check = async {
                    $crate::conformance::$check(&queue).await;
                    $crate::conformance::nothing_is_left(&queue).await;
                };
                tokio::time::timeout($crate::conformance::CHECK_TIMEOUT, check)
                    .await
                    .expect(concat!(stringify!($check), " finishes in time"));
                ($after)(&queue);
            }
        )+
    };
    ($queue:expr, $after:expr $(,)?) => {
        $crate::queue_conformance_tests!(@checks ($queue) ($after);
            send_receive_ack_round_trip,
            an_unacked_message_reappears_after_its_visibility_timeout,
            an_acked_message_never_reappears,
            a_delayed_message_is_hidden_until_its_delay,
            a_batch_holds_at_most_max_messages,
            concurrent_consumers_never_receive_the_same_message,
            typed_queues_report_malformed_bodies,
            requests_beyond_the_limits_are_refused,
        );
    };
    ($queue:expr $(,)?) => {
        $crate::queue_conformance_tests!($queue, $crate::conformance::nothing_more);
    };
}

/// What an adapter without checks of its own runs after each check: nothing.
pub fn nothing_more<Q>(_queue: &Q) {}

/// A message body as producers write them: JSON, here with characters that
/// must survive verbatim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Probe {
    check: String,
    n: u32,
    text: String,
}

fn probe(check: &str, n: u32) -> Probe {
    Probe { check: check.into(), n, text: "Zahlung \"#1\" ✓ — 支付 💸\n\ttab, \\ backslash, </script>".into() }
}

fn body(check: &str, n: u32) -> String {
    serde_json::to_string(&probe(check, n)).expect("probe encodes")
}

/// Awaits `future`, failing the check if it takes longer than `limit`.
async fn bounded<T>(what: &str, limit: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future).await.unwrap_or_else(|_| panic!("{what} took longer than {limit:?}"))
}

/// One receive, bounded a little beyond its own wait.
async fn receive<Q: Queue>(queue: &Q, max: usize, wait: Duration, visibility: Duration) -> Vec<Received> {
    let batch = bounded("a receive", wait + PATIENCE, async { queue.receive(max, wait, visibility).await })
        .await
        .expect("receive");
    assert!(batch.len() <= max, "received {} messages, asked for at most {max}", batch.len());
    batch
}

/// Receives until `count` messages arrived (SQS may return fewer than are
/// available), within [`PATIENCE`].
async fn receive_exactly<Q: Queue>(queue: &Q, count: usize, visibility: Duration) -> Vec<Received> {
    let deadline = Instant::now() + PATIENCE;
    let mut received = Vec::new();
    while received.len() < count {
        assert!(Instant::now() < deadline, "only {} of {count} messages arrived within {PATIENCE:?}", received.len());
        let max = (count - received.len()).min(crate::MAX_BATCH);
        received.extend(receive(queue, max, SECOND, visibility).await);
    }
    received
}

async fn ack<Q: Queue>(queue: &Q, receipt: &Receipt) {
    bounded("an ack", PATIENCE, queue.ack(receipt)).await.expect("ack");
}

async fn send<Q: Queue>(queue: &Q, body: &str, delay: Option<Duration>) {
    bounded("a send", PATIENCE, queue.send(body, delay)).await.expect("send");
}

pub async fn send_receive_ack_round_trip<Q: Queue>(queue: &Q) {
    let sent = body("round trip", 1);
    send(queue, &sent, None).await;
    let received = receive_exactly(queue, 1, 2 * SECOND).await;
    assert_eq!(received[0].body, sent, "the body comes back verbatim");
    assert_eq!(received[0].receive_count, 1);
    ack(queue, &received[0].receipt).await;
    // Acking again is harmless.
    ack(queue, &received[0].receipt).await;
}

pub async fn an_unacked_message_reappears_after_its_visibility_timeout<Q: Queue>(queue: &Q) {
    let sent = body("reappears", 1);
    send(queue, &sent, None).await;
    let first = receive_exactly(queue, 1, SECOND).await;
    let hidden_at = Instant::now();
    assert_eq!(first[0].receive_count, 1);

    let meanwhile = receive(queue, 10, Duration::ZERO, SECOND).await;
    assert!(meanwhile.is_empty(), "a received message is invisible: {meanwhile:?}");

    let again = receive_exactly(queue, 1, 2 * SECOND).await;
    assert!(
        hidden_at.elapsed() + SLACK >= SECOND,
        "reappeared after {:?}, before its 1 s visibility timeout",
        hidden_at.elapsed()
    );
    assert_eq!(again[0].body, sent);
    assert_eq!(again[0].receive_count, 2);
    assert_ne!(again[0].receipt, first[0].receipt, "each receive issues its own receipt");
    ack(queue, &again[0].receipt).await;
}

pub async fn an_acked_message_never_reappears<Q: Queue>(queue: &Q) {
    send(queue, &body("acked", 1), None).await;
    let received = receive_exactly(queue, 1, SECOND).await;
    ack(queue, &received[0].receipt).await;
    // Wait past the visibility timeout: nothing comes back.
    let after = receive(queue, 10, 2 * SECOND, SECOND).await;
    assert!(after.is_empty(), "an acked message reappeared: {after:?}");
}

pub async fn a_delayed_message_is_hidden_until_its_delay<Q: Queue>(queue: &Q) {
    let delay = 2 * SECOND;
    let sent = body("delayed", 1);
    let sent_at = Instant::now();
    send(queue, &sent, Some(delay)).await;

    let at_once = receive(queue, 10, Duration::ZERO, SECOND).await;
    assert!(at_once.is_empty(), "visible before its delay: {at_once:?}");
    // Ends about one second into the two.
    let soon = receive(queue, 10, SECOND, SECOND).await;
    assert!(
        soon.is_empty() || sent_at.elapsed() + SLACK >= delay,
        "visible after {:?}, before its {delay:?} delay",
        sent_at.elapsed()
    );

    let received = if soon.is_empty() { receive_exactly(queue, 1, SECOND).await } else { soon };
    assert!(sent_at.elapsed() + SLACK >= delay, "visible after {:?}, before its {delay:?} delay", sent_at.elapsed());
    assert_eq!(received[0].body, sent);
    assert_eq!(received[0].receive_count, 1);
    ack(queue, &received[0].receipt).await;
}

pub async fn a_batch_holds_at_most_max_messages<Q: Queue>(queue: &Q) {
    let count = 12;
    for n in 0..count {
        send(queue, &body("batch", n), None).await;
    }
    let deadline = Instant::now() + PATIENCE;
    let mut seen = HashSet::new();
    while seen.len() < count as usize {
        assert!(Instant::now() < deadline, "only {} of {count} arrived", seen.len());
        // `receive` asserts the bound.
        for received in receive(queue, 3, SECOND, LONG_VISIBILITY).await {
            let probe: Probe = serde_json::from_str(&received.body).expect("a probe");
            assert_eq!(probe.check, "batch");
            assert!(seen.insert(probe.n), "message {} received twice", probe.n);
            ack(queue, &received.receipt).await;
        }
    }
    // A full batch never exceeds ten.
    for n in 0..count {
        send(queue, &body("full batch", n), None).await;
    }
    let received = receive_exactly(queue, count as usize, LONG_VISIBILITY).await;
    for message in &received {
        ack(queue, &message.receipt).await;
    }
}

pub async fn concurrent_consumers_never_receive_the_same_message<Q: Queue>(queue: &Q) {
    let count = 20usize;
    for n in 0..count {
        send(queue, &body("concurrent", n as u32), None).await;
    }
    let received = Arc::new(Mutex::new(Vec::new()));
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let queue = queue.clone();
            let received = Arc::clone(&received);
            tokio::spawn(async move {
                let deadline = Instant::now() + PATIENCE;
                loop {
                    let done = received.lock().map(|r| r.len()).unwrap_or(count) >= count;
                    if done || Instant::now() >= deadline {
                        break;
                    }
                    // Visible again only long after this check ends: any
                    // message received twice was shared.
                    for message in receive(&queue, 3, SECOND, LONG_VISIBILITY).await {
                        ack(&queue, &message.receipt).await;
                        received.lock().expect("no consumer panicked holding the lock").push(message.body);
                    }
                }
            })
        })
        .collect();
    for consumer in consumers {
        consumer.await.expect("consumer");
    }
    let received = received.lock().expect("lock").clone();
    let mut seen = HashSet::new();
    for body in &received {
        let probe: Probe = serde_json::from_str(body).expect("a probe");
        assert_eq!(probe.check, "concurrent");
        assert!(seen.insert(probe.n), "two consumers both received message {} within its visibility timeout", probe.n);
    }
    assert_eq!(seen.len(), count, "every message was received");
}

pub async fn typed_queues_report_malformed_bodies<Q: Queue>(queue: &Q) {
    let typed = TypedQueue::<Q, Probe>::new(queue.clone());
    let good = probe("typed", 1);
    bounded("a typed send", PATIENCE, typed.send(&good)).await.expect("send");
    send(queue, "not json", None).await;
    send(queue, r#"{"check":"typed"}"#, None).await;

    let deadline = Instant::now() + PATIENCE;
    let mut decoded = Vec::new();
    let mut malformed = Vec::new();
    while decoded.len() + malformed.len() < 3 {
        assert!(Instant::now() < deadline, "typed messages did not arrive");
        let batch = bounded("a typed receive", PATIENCE, typed.receive(10, SECOND, SECOND)).await.expect("receive");
        for delivery in batch {
            bounded("a typed ack", PATIENCE, typed.ack(&delivery.receipt)).await.expect("ack");
            match delivery.message {
                Ok(message) => decoded.push(message),
                Err(QueueError::Malformed { what, body, .. }) => {
                    assert!(what.ends_with("Probe"), "{what}");
                    malformed.push(body);
                }
                Err(other) => panic!("expected a malformed message, got {other:?}"),
            }
        }
    }
    assert_eq!(decoded, [good]);
    malformed.sort();
    assert_eq!(malformed, ["not json", r#"{"check":"typed"}"#]);
}

pub async fn requests_beyond_the_limits_are_refused<Q: Queue>(queue: &Q) {
    for delay in [
        crate::MAX_DELAY + SECOND,
        // SQS counts whole seconds: this would be 901.
        crate::MAX_DELAY + Duration::from_millis(500),
    ] {
        let refused = queue.send(&body("too late", 1), Some(delay)).await;
        assert!(matches!(refused, Err(QueueError::DelayTooLong { delay: d }) if d == delay), "{refused:?}");
    }
    for (max, wait, visibility) in [
        (0, SECOND, SECOND),
        (11, SECOND, SECOND),
        (1, crate::MAX_WAIT + SECOND, SECOND),
        (1, SECOND, crate::MAX_VISIBILITY + SECOND),
    ] {
        let refused = queue.receive(max, wait, visibility).await;
        assert!(
            matches!(refused, Err(QueueError::InvalidReceive(_))),
            "receive({max}, {wait:?}, {visibility:?}): {refused:?}"
        );
    }
    let garbage = queue.ack(&Receipt::new("not-a-receipt")).await;
    assert!(matches!(garbage, Err(QueueError::InvalidReceipt)), "{garbage:?}");
}

pub async fn nothing_is_left<Q: Queue>(queue: &Q) {
    let left = receive(queue, 10, SECOND, SECOND).await;
    assert!(left.is_empty(), "messages left behind: {left:?}");
}
