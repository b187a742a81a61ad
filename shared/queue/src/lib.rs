//! Queue ports and their adapters.
//!
//! [`Queue`] is the port: JSON bodies, delivered at least once, each receive
//! hiding what it returns for a visibility timeout until it is acked or
//! reappears. [`TypedQueue`] puts one message type on top of it, so callers
//! never handle raw strings. Two adapters implement the port:
//!
//! - [`memory::MemoryQueue`]: in-process, with SQS's visibility and delay
//!   semantics, for unit tests;
//! - [`sqlite::SqliteQueue`] (feature `sqlite`): the same semantics in an
//!   SQLite file, durable across crashes; it backs `ferry serve`;
//! - [`sqs::SqsQueue`] (feature `sqs`): an SQS standard queue, as deployed
//!   with SAM.
//!
//! A Lambda consumer does not receive by itself: the SQS event source
//! mapping hands it a batch, and [`lambda::process_batch`] (feature
//! `lambda`) turns the handler's per-message results into a partial batch
//! response. One set of conformance checks (`conformance`, feature
//! `testing`) runs against every adapter, one test a check.
//!
//! Delivery is at least once and only roughly in order: consumers must be
//! idempotent (the store's conditional writes make them so).
//!
//! SQS counts delays, waits and visibility timeouts in whole seconds; the
//! SQS adapter rounds sub-second durations up, the in-memory one honours
//! them exactly. Both refuse what SQS would refuse (see the `MAX_*`
//! constants) before anything is sent.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod memory;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "sqs")]
pub mod sqs;

pub use ferry_runtime::BoxError;

/// The longest delay SQS allows on one message: 15 minutes.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// The most messages one receive may return.
pub const MAX_BATCH: usize = 10;
/// The longest a receive may wait for its first message (SQS long polling).
pub const MAX_WAIT: Duration = Duration::from_secs(20);
/// The longest visibility timeout SQS allows: 12 hours.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The backing service failed.
    #[error("queue backend failed")]
    Backend(#[source] BoxError),
    /// A received body is not the JSON of the expected message type. The
    /// message stays in the queue until it is acked; after enough receives
    /// SQS moves it to the dead-letter queue.
    #[error("malformed {what} message")]
    Malformed {
        /// The type the body should have decoded as.
        what: &'static str,
        /// The body as received, for logging or parking.
        body: String,
        #[source]
        source: serde_json::Error,
    },
    /// A message could not be encoded as JSON (a map with non-string keys,
    /// a failing `Serialize` impl): a programming error, nothing was sent.
    #[error("cannot encode {what} message")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The delay is longer than [`MAX_DELAY`]; nothing was sent.
    #[error("a delay of {delay:?} is longer than the 15 minutes a queue allows")]
    DelayTooLong { delay: Duration },
    /// A receive outside the limits: `max` not in `1..=MAX_BATCH`, or `wait`
    /// or `visibility` longer than [`MAX_WAIT`] or [`MAX_VISIBILITY`].
    #[error("invalid receive: {0}")]
    InvalidReceive(&'static str),
    /// The receipt was not issued by this queue.
    #[error("receipt was not issued by this queue")]
    InvalidReceipt,
}

impl QueueError {
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(error))
    }
}

pub type QueueResult<T> = Result<T, QueueError>;

/// The handle that acks one receive of one message. Opaque: each receive
/// of a message issues a new one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Receipt(String);

impl Receipt {
    /// A receipt from its adapter-specific handle (an SQS receipt handle).
    pub fn new(handle: impl Into<String>) -> Self {
        Self(handle.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Receipt {
    /// SQS receipt handles are a few hundred characters of base64: show
    /// enough to tell two apart.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.0.chars().take(24).collect();
        if shown.len() < self.0.len() { write!(f, "Receipt({shown}…)") } else { write!(f, "Receipt({shown})") }
    }
}

/// One received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub body: String,
    pub receipt: Receipt,
    /// How many times the message has been received, this time included:
    /// 1 on first delivery.
    pub receive_count: u32,
}

pub trait Queue: Send + Sync + Clone + 'static {
    /// Sends one message (a JSON body), optionally delayed (SQS allows up to
    /// 15 minutes: a longer delay is [`QueueError::DelayTooLong`]).
    fn send(&self, body: &str, delay: Option<Duration>) -> impl Future<Output = QueueResult<()>> + Send;

    /// Receives up to `max` (1..=10) messages, waiting up to `wait` for the
    /// first; each stays invisible for `visibility` until acked or it
    /// reappears. An empty batch means nothing arrived within `wait`.
    fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> impl Future<Output = QueueResult<Vec<Received>>> + Send;

    /// Deletes a received message. Acking twice is harmless; a receipt from
    /// an older receive of a message that has been received again since may
    /// leave the message in the queue (as SQS documents).
    fn ack(&self, receipt: &Receipt) -> impl Future<Output = QueueResult<()>> + Send;
}

/// The whole seconds SQS counts for `duration`, rounded up so that a delay
/// or visibility timeout is never shorter than asked.
pub(crate) fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Refuses a delay SQS would refuse.
pub(crate) fn check_delay(delay: Option<Duration>) -> QueueResult<()> {
    match delay {
        Some(delay) if whole_seconds(delay) > MAX_DELAY.as_secs() => Err(QueueError::DelayTooLong { delay }),
        _ => Ok(()),
    }
}

/// Refuses a receive SQS would refuse.
pub(crate) fn check_receive(max: usize, wait: Duration, visibility: Duration) -> QueueResult<()> {
    if !(1..=MAX_BATCH).contains(&max) {
        return Err(QueueError::InvalidReceive("max must be between 1 and 10"));
    }
    if whole_seconds(wait) > MAX_WAIT.as_secs() {
        return Err(QueueError::InvalidReceive("wait must be at most 20 seconds"));
    }
    if whole_seconds(visibility) > MAX_VISIBILITY.as_secs() {
        return Err(QueueError::InvalidReceive("visibility must be at most 12 hours"));
    }
    Ok(())
}

/// A local queue's long-polling receive, as SQS's `WaitTimeSeconds`: looks
/// for visible messages and, while there are none, waits for a send or for
/// the time `look` names (when its next message becomes visible, or when it
/// wants to look again), for at most `wait`. `look` answers a batch, or
/// `Err(wake_at)` when nothing is visible.
pub(crate) async fn long_poll<Look>(
    sent: &tokio::sync::Notify,
    wait: Duration,
    mut look: impl FnMut() -> Look,
) -> QueueResult<Vec<Received>>
where
    Look: Future<Output = QueueResult<Result<Vec<Received>, Option<tokio::time::Instant>>>>,
{
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Registered before looking, so that a send between the look and
        // the sleep still wakes this receive.
        let mut notified = std::pin::pin!(sent.notified());
        notified.as_mut().enable();
        let wake_at = match look().await? {
            Ok(batch) => return Ok(batch),
            Err(wake_at) => wake_at,
        };
        if tokio::time::Instant::now() >= deadline {
            return Ok(Vec::new());
        }
        let wake = wake_at.map_or(deadline, |at| at.min(deadline));
        tokio::select! {
            () = notified => {}
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// Encodes a message as the JSON body a queue carries.
pub fn encode<M: Serialize>(message: &M) -> QueueResult<String> {
    serde_json::to_string(message).map_err(|source| QueueError::Encode { what: std::any::type_name::<M>(), source })
}

/// Decodes a received body; [`QueueError::Malformed`] when it is not an `M`.
pub fn decode<M: DeserializeOwned>(body: &str) -> QueueResult<M> {
    serde_json::from_str(body).map_err(|source| QueueError::Malformed {
        what: std::any::type_name::<M>(),
        body: body.to_string(),
        source,
    })
}

/// One received message of a [`TypedQueue`].
#[derive(Debug)]
pub struct Delivery<M> {
    /// The message, or [`QueueError::Malformed`] when its body does not
    /// decode: the consumer decides whether to ack (drop) it or leave it to
    /// reappear and eventually reach the dead-letter queue.
    pub message: QueueResult<M>,
    pub receipt: Receipt,
    pub receive_count: u32,
}

/// A queue that carries one message type, as JSON.
pub struct TypedQueue<Q, M> {
    queue: Q,
    message: PhantomData<fn() -> M>,
}

impl<Q: Clone, M> Clone for TypedQueue<Q, M> {
    fn clone(&self) -> Self {
        Self { queue: self.queue.clone(), message: PhantomData }
    }
}

impl<Q: fmt::Debug, M> fmt::Debug for TypedQueue<Q, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedQueue").field("queue", &self.queue).field("message", &std::any::type_name::<M>()).finish()
    }
}

impl<Q: Queue, M: Serialize + DeserializeOwned> TypedQueue<Q, M> {
    pub fn new(queue: Q) -> Self {
        Self { queue, message: PhantomData }
    }

    /// The untyped queue underneath.
    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// Sends one message now.
    pub fn send(&self, message: &M) -> impl Future<Output = QueueResult<()>> + Send + use<'_, Q, M> {
        self.send_with(message, None)
    }

    /// Sends one message that becomes visible after `delay` (at most
    /// [`MAX_DELAY`]).
    pub fn send_delayed(
        &self,
        message: &M,
        delay: Duration,
    ) -> impl Future<Output = QueueResult<()>> + Send + use<'_, Q, M> {
        self.send_with(message, Some(delay))
    }

    fn send_with(
        &self,
        message: &M,
        delay: Option<Duration>,
    ) -> impl Future<Output = QueueResult<()>> + Send + use<'_, Q, M> {
        // Encoded before the future starts, so that it does not borrow the
        // message (nor need it to be `Sync`).
        let body = encode(message);
        async move { self.queue.send(&body?, delay).await }
    }

    /// Receives up to `max` messages, as [`Queue::receive`]; a body that is
    /// not an `M` comes back as a [`Delivery`] whose `message` is the error.
    pub async fn receive(&self, max: usize, wait: Duration, visibility: Duration) -> QueueResult<Vec<Delivery<M>>> {
        let received = self.queue.receive(max, wait, visibility).await?;
        Ok(received
            .into_iter()
            .map(|r| Delivery { message: decode(&r.body), receipt: r.receipt, receive_count: r.receive_count })
            .collect())
    }

    /// Deletes a received message.
    pub fn ack<'a>(&'a self, receipt: &'a Receipt) -> impl Future<Output = QueueResult<()>> + Send + 'a {
        self.queue.ack(receipt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(2)), 2);
        assert_eq!(whole_seconds(Duration::from_millis(2_001)), 3);
    }

    #[test]
    fn limits_are_the_ones_sqs_enforces() {
        assert!(check_delay(None).is_ok());
        assert!(check_delay(Some(MAX_DELAY)).is_ok());
        assert!(matches!(
            check_delay(Some(MAX_DELAY + Duration::from_millis(1))),
            Err(QueueError::DelayTooLong { .. })
        ));
        let second = Duration::from_secs(1);
        assert!(check_receive(1, Duration::ZERO, Duration::ZERO).is_ok());
        assert!(check_receive(MAX_BATCH, MAX_WAIT, MAX_VISIBILITY).is_ok());
        for (max, wait, visibility) in [
            (0, second, second),
            (MAX_BATCH + 1, second, second),
            (1, MAX_WAIT + Duration::from_millis(1), second),
            (1, second, MAX_VISIBILITY + second),
        ] {
            assert!(matches!(check_receive(max, wait, visibility), Err(QueueError::InvalidReceive(_))));
        }
    }

    #[test]
    fn malformed_bodies_are_errors_that_keep_the_body() {
        #[derive(Debug, serde::Deserialize)]
        struct Deposit {
            #[allow(dead_code)]
            amount: u64,
        }
        match decode::<Deposit>(r#"{"amount":"lots"}"#) {
            Err(QueueError::Malformed { what, body, .. }) => {
                assert!(what.ends_with("Deposit"), "{what}");
                assert_eq!(body, r#"{"amount":"lots"}"#);
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn unencodable_messages_are_errors() {
        let map = std::collections::HashMap::from([((1, 2), "tuple keys are not JSON")]);
        assert!(matches!(encode(&map), Err(QueueError::Encode { .. })));
    }

    #[tokio::test]
    async fn typed_sends_do_not_borrow_the_message() {
        let typed = TypedQueue::<_, Vec<u32>>::new(memory::MemoryQueue::new());
        let sending = {
            let message = vec![1, 2, 3];
            typed.send_delayed(&message, Duration::ZERO)
        };
        sending.await.expect("send");
        let received = typed.receive(1, Duration::ZERO, Duration::from_secs(1)).await.expect("receive");
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].message.as_ref().expect("decodes"), &[1, 2, 3]);
        assert_eq!(received[0].receive_count, 1);
    }

    #[test]
    fn receipts_debug_briefly() {
        let long = Receipt::new("x".repeat(300));
        assert_eq!(format!("{long:?}"), format!("Receipt({}…)", "x".repeat(24)));
        assert_eq!(format!("{:?}", Receipt::new("r1")), "Receipt(r1)");
    }
}
