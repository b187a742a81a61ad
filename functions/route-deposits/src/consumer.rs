//! What becomes of one deposit message, the same in the deployed function
//! (SQS) and in `ferry serve` (the durable SQLite queue).
//!
//! Only a real failure of routing counts against a deposit. A message that
//! is not started for lack of time, and a receive burned by throttling or a
//! crash, must never push it toward the dead-letter queue, yet SQS counts
//! every receive toward `maxReceiveCount`. So the consumer keeps its own
//! count in the message ([`RouteDeposit::failed_attempts`]) and always
//! answers a message itself:
//!
//! - routed → done;
//! - not started (too little time left) → sent again unchanged, at once;
//! - failed → sent again with one more failed attempt after a short backoff
//!   (seconds, not the queue's visibility timeout), or after
//!   [`MAX_FAILED_ATTEMPTS`] sent to the dead-letter queue, from which
//!   `ferry deposits replay` puts it back.
//!
//! The original is then acknowledged (in Lambda: reported as processed).
//! Only when the queue itself fails does the original stay, to come back
//! after its visibility timeout — which SQS's own `maxReceiveCount` still
//! bounds. A crash between the re-send and the acknowledgement leaves two
//! messages for one deposit: routing is idempotent, so that costs a
//! redundant attempt, never a second payment. And a message lost however
//! it may be is found again by the recovery sweep
//! ([`ferry_watch::RecoverDeposits`]).

use std::time::Duration;

use ferry_domain::{RouteDeposit, Timestamp};
use ferry_queue::{Queue, QueueError, TypedQueue};
use ferry_store::ChainStore;

use crate::{RouteDeposits, RouteError};

/// Failed routing attempts after which a deposit goes to the dead-letter
/// queue (an operator looks; the recovery sweep still retries it, rarely).
pub const MAX_FAILED_ATTEMPTS: u32 = 8;
/// The shortest time a routing attempt needs: a sweep or payout waits for
/// its transaction to be mined. A message is not started with less left.
pub const MIN_MESSAGE_BUDGET: Duration = Duration::from_secs(15);

/// How long after its `failed_attempts`-th failure a deposit is tried
/// again: 5 s, 10 s, 20 s, … at most 15 minutes (the longest SQS delay).
pub fn retry_delay(failed_attempts: u32) -> Duration {
    let doublings = failed_attempts.saturating_sub(1).min(16);
    Duration::from_secs(5 << doublings).min(ferry_queue::MAX_DELAY)
}

/// What the consumer did with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Routed,
    /// Not started: sent again as it was.
    Deferred,
    /// Failed: sent again with this many failed attempts, after `delay`.
    Retrying {
        failed_attempts: u32,
        delay: Duration,
    },
    /// Failed for the last time: moved to the dead-letter queue.
    DeadLettered {
        failed_attempts: u32,
    },
}

/// The router with the deposit queue it consumes and its dead-letter queue.
pub struct DepositConsumer<S, Q> {
    pub router: RouteDeposits<S>,
    queue: TypedQueue<Q, RouteDeposit>,
    dead_letters: TypedQueue<Q, RouteDeposit>,
}

impl<S: ChainStore, Q: Queue> DepositConsumer<S, Q> {
    pub fn new(router: RouteDeposits<S>, queue: Q, dead_letters: Q) -> Self {
        Self { router, queue: TypedQueue::new(queue), dead_letters: TypedQueue::new(dead_letters) }
    }

    /// Handles one message with `budget` left to work in; `describe` turns
    /// a routing failure into its log text (the deployed function redacts
    /// RPC URLs there). `Err` only when the queue failed: then leave the
    /// message to come back by itself.
    pub async fn consume(
        &self,
        message: &RouteDeposit,
        budget: Duration,
        now: Timestamp,
        describe: impl Fn(&RouteError) -> String,
    ) -> Result<Outcome, QueueError> {
        if budget < MIN_MESSAGE_BUDGET {
            self.queue.send(message).await?;
            tracing::info!(deposit = %message.deposit_id, ?budget, "not started for lack of time; queued again");
            return Ok(Outcome::Deferred);
        }
        let failure = match tokio::time::timeout(budget, self.router.route(&message.deposit_id, now)).await {
            Ok(Ok(())) => return Ok(Outcome::Routed),
            Ok(Err(error)) => describe(&error),
            Err(_elapsed) => format!("routing took longer than the {budget:?} left; cut short"),
        };
        let failed_attempts = message.failed_attempts.saturating_add(1);
        let next = RouteDeposit { deposit_id: message.deposit_id.clone(), failed_attempts };
        if failed_attempts >= MAX_FAILED_ATTEMPTS {
            self.dead_letters.send(&next).await?;
            tracing::error!(
                deposit = %message.deposit_id,
                failed_attempts,
                error = %failure,
                "deposit dead-lettered after its last routing attempt; replay it with `ferry deposits replay`"
            );
            return Ok(Outcome::DeadLettered { failed_attempts });
        }
        let delay = retry_delay(failed_attempts);
        self.queue.send_delayed(&next, delay).await?;
        tracing::warn!(deposit = %message.deposit_id, failed_attempts, ?delay, error = %failure, "routing failed; will retry");
        Ok(Outcome::Retrying { failed_attempts, delay })
    }
}

/// Moves up to `limit` messages from a dead-letter queue back to the
/// deposit queue with a fresh count of failed attempts; returns how many.
/// Each is sent before it is deleted from the dead-letter queue, so a
/// failure in between leaves a duplicate, never a lost message.
pub async fn replay_dead_letters<Q: Queue>(dead_letters: Q, queue: Q, limit: usize) -> Result<usize, QueueError> {
    let (dead_letters, queue) =
        (TypedQueue::<Q, RouteDeposit>::new(dead_letters), TypedQueue::<Q, RouteDeposit>::new(queue));
    let mut replayed = 0;
    while replayed < limit {
        let batch = dead_letters
            .receive((limit - replayed).min(ferry_queue::MAX_BATCH), Duration::ZERO, Duration::from_secs(60))
            .await?;
        if batch.is_empty() {
            break;
        }
        for delivery in batch {
            match delivery.message {
                Ok(message) => {
                    queue.send(&RouteDeposit::new(message.deposit_id.clone())).await?;
                    tracing::info!(deposit = %message.deposit_id, "dead-lettered deposit queued again");
                    replayed += 1;
                }
                // Not a deposit message: left where it is for an operator.
                Err(error) => {
                    tracing::error!(%error, "a dead-lettered message is not a deposit message; left in place");
                    continue;
                }
            }
            dead_letters.ack(&delivery.receipt).await?;
        }
    }
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_seconds_to_the_longest_sqs_delay() {
        let seconds = |s| Duration::from_secs(s);
        assert_eq!(retry_delay(1), seconds(5));
        assert_eq!(retry_delay(2), seconds(10));
        assert_eq!(retry_delay(7), seconds(320));
        assert_eq!(retry_delay(9), seconds(900));
        assert_eq!(retry_delay(u32::MAX), ferry_queue::MAX_DELAY);
    }
}
