//! Delivering one event to one webhook endpoint: the delivery's life, its
//! log of attempts, and when to try again.
//!
//! ```text
//! pending --claim--> sending --2xx--> succeeded
//!    ^                  |
//!    +---- failure -----+---- failure, budget spent --> parked --replay--> pending
//! ```
//!
//! A worker *claims* a delivery before it sends (a conditional write of the
//! next version), so two workers holding the same message cannot both send
//! it; a claim is a lease, and a worker that dies mid-attempt leaves a
//! delivery another worker may claim again once the lease lapses.
//! Every finished attempt is appended to the log, with the status code (or
//! why there was none) and the latency.
//!
//! Nothing here reads a clock or draws randomness: callers pass `now` and
//! the jitter.

use serde::{Deserialize, Serialize};

use crate::{EventId, MerchantId, Timestamp, WebhookId};

/// How failed deliveries are retried: exponential backoff with jitter, then
/// parked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in one round (the first one included); after the last one
    /// fails the delivery is parked.
    pub max_attempts: u32,
    /// The wait after the first failure, in seconds.
    pub first_delay_seconds: u64,
    /// Each further wait is this many times the one before...
    pub factor: u64,
    /// ...up to this many seconds.
    pub max_delay_seconds: u64,
}

impl RetryPolicy {
    /// 10 attempts; waits of 30 s, 1.5 min, 4.5 min, 13.5 min, 40.5 min,
    /// 2 h, 6 h, 8 h and 8 h (each ±20 %): the last attempt comes about 25
    /// hours after the first.
    pub const STANDARD: Self =
        Self { max_attempts: 10, first_delay_seconds: 30, factor: 3, max_delay_seconds: 8 * 60 * 60 };

    /// The wait after the `failures`-th failed attempt of a round (from 1),
    /// before jitter.
    pub fn base_delay_seconds(&self, failures: u32) -> u64 {
        let mut delay = self.first_delay_seconds;
        for _ in 1..failures {
            delay = delay.saturating_mul(self.factor);
            if delay >= self.max_delay_seconds {
                break;
            }
        }
        delay.min(self.max_delay_seconds)
    }

    /// The wait after the `failures`-th failure: the base delay scaled by a
    /// factor between 0.8 and 1.2 chosen by `jitter` (any random number), so
    /// that endpoints failing together are not retried in lockstep. Never
    /// zero unless the base delay is.
    pub fn delay_seconds(&self, failures: u32, jitter: u32) -> u64 {
        let base = self.base_delay_seconds(failures);
        let percent = 80 + u64::from(jitter % 41);
        (base.saturating_mul(percent) / 100).max(base.min(1))
    }
}

/// Where a delivery is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt, due at `next_attempt_at`.
    Pending { next_attempt_at: Timestamp },
    /// A worker claimed it and is sending; another may claim it again after
    /// `lease_until` (the first one died, or is hopelessly late).
    Sending { lease_until: Timestamp },
    /// An attempt got a 2xx. Final.
    Succeeded,
    /// Every attempt of the last round failed: waits for an operator's replay.
    Parked,
}

/// What one attempt got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The endpoint answered with this HTTP status.
    Responded { status: u16 },
    /// No answer: why (a timeout, a refused connection, an address the
    /// endpoint's host must not resolve to, ...). Never contains secrets.
    Failed { error: String },
}

impl AttemptOutcome {
    /// Any 2xx is a success.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Responded { status } if (200..300).contains(status))
    }
}

/// One finished attempt, as the delivery log keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// When the request was sent.
    pub at: Timestamp,
    pub outcome: AttemptOutcome,
    /// From sending the request to its answer (or failure), in milliseconds.
    pub latency_ms: u64,
}

/// One event's delivery to one endpoint, with its log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub event_id: EventId,
    pub webhook_id: WebhookId,
    pub merchant_id: MerchantId,
    pub state: DeliveryState,
    /// Every finished attempt, oldest first, across replays.
    pub attempts: Vec<DeliveryAttempt>,
    /// How many of `attempts` came before the last replay: the retry budget
    /// counts only the ones after.
    #[serde(default)]
    pub replayed_after: usize,
    pub created_at: Timestamp,
    /// Incremented by every change; stores write conditionally on it.
    pub version: u64,
}

/// Why a delivery cannot be claimed now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// It is waiting for a later attempt, or another worker's lease.
    #[error("the delivery is not due before {0}")]
    NotDue(Timestamp),
    /// It succeeded or is parked.
    #[error("the delivery is finished")]
    Finished,
}

/// Only parked deliveries are replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("only a parked delivery can be replayed")]
pub struct NotParked;

impl WebhookDelivery {
    /// A new delivery, due at once.
    pub fn new(event_id: EventId, webhook_id: WebhookId, merchant_id: MerchantId, now: Timestamp) -> Self {
        Self {
            event_id,
            webhook_id,
            merchant_id,
            state: DeliveryState::Pending { next_attempt_at: now },
            attempts: Vec::new(),
            replayed_after: 0,
            created_at: now,
            version: 0,
        }
    }

    /// When a worker should next look at it: its next attempt, or when the
    /// current claim lapses. `None` once finished.
    pub fn wake_at(&self) -> Option<Timestamp> {
        match self.state {
            DeliveryState::Pending { next_attempt_at } => Some(next_attempt_at),
            DeliveryState::Sending { lease_until } => Some(lease_until),
            DeliveryState::Succeeded | DeliveryState::Parked => None,
        }
    }

    /// The delivery claimed for an attempt at `now`, held for
    /// `lease_seconds` (longer than an attempt can take): the next version,
    /// to be written conditionally before anything is sent.
    pub fn claim(&self, now: Timestamp, lease_seconds: u64) -> Result<Self, ClaimError> {
        match self.wake_at() {
            None => Err(ClaimError::Finished),
            Some(due) if due > now => Err(ClaimError::NotDue(due)),
            Some(_) => Ok(Self {
                state: DeliveryState::Sending { lease_until: now.plus_seconds(lease_seconds) },
                version: self.version + 1,
                ..self.clone()
            }),
        }
    }

    /// The delivery with `attempt` logged: succeeded on a 2xx; otherwise due
    /// again after the policy's delay (`jitter`: any random number), or
    /// parked when the round's attempts are spent.
    pub fn record(&self, attempt: DeliveryAttempt, policy: &RetryPolicy, jitter: u32) -> Self {
        let finished_at = attempt.at.plus_seconds(attempt.latency_ms.div_ceil(1000));
        let succeeded = attempt.outcome.is_success();
        let mut next = Self { version: self.version + 1, ..self.clone() };
        next.attempts.push(attempt);
        let failures = u32::try_from(next.attempts_this_round()).unwrap_or(u32::MAX);
        next.state = if succeeded {
            DeliveryState::Succeeded
        } else if failures >= policy.max_attempts {
            DeliveryState::Parked
        } else {
            let delay = policy.delay_seconds(failures, jitter);
            DeliveryState::Pending { next_attempt_at: finished_at.plus_seconds(delay) }
        };
        next
    }

    /// The claimed delivery parked without sending: what it was to carry is
    /// gone (`why`: its endpoint was deleted, ...). Logged as a failed attempt.
    pub fn abandon(&self, now: Timestamp, why: &str) -> Self {
        let mut next = Self { state: DeliveryState::Parked, version: self.version + 1, ..self.clone() };
        next.attempts.push(DeliveryAttempt {
            at: now,
            outcome: AttemptOutcome::Failed { error: why.to_string() },
            latency_ms: 0,
        });
        next
    }

    /// A parked delivery due again at `now`, with a fresh round of attempts.
    pub fn replay(&self, now: Timestamp) -> Result<Self, NotParked> {
        if self.state != DeliveryState::Parked {
            return Err(NotParked);
        }
        Ok(Self {
            state: DeliveryState::Pending { next_attempt_at: now },
            replayed_after: self.attempts.len(),
            version: self.version + 1,
            ..self.clone()
        })
    }

    /// The attempts since the last replay (or ever).
    pub fn attempts_this_round(&self) -> usize {
        self.attempts.len().saturating_sub(self.replayed_after)
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.state, DeliveryState::Succeeded | DeliveryState::Parked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

    fn delivery() -> WebhookDelivery {
        WebhookDelivery::new(
            EventId::from_random_bytes([1; 16]),
            WebhookId::from_bytes([2; 16]),
            MerchantId::from_random_bytes([3; 16]),
            T0,
        )
    }

    fn attempt(at: Timestamp, outcome: AttemptOutcome) -> DeliveryAttempt {
        DeliveryAttempt { at, outcome, latency_ms: 120 }
    }

    fn failed(at: Timestamp) -> DeliveryAttempt {
        attempt(at, AttemptOutcome::Responded { status: 500 })
    }

    #[test]
    fn the_standard_policy_spreads_ten_attempts_over_about_a_day() {
        let policy = RetryPolicy::STANDARD;
        let waits: Vec<u64> = (1..policy.max_attempts).map(|n| policy.base_delay_seconds(n)).collect();
        assert_eq!(waits, [30, 90, 270, 810, 2430, 7290, 21_870, 28_800, 28_800]);
        let total: u64 = waits.iter().sum();
        assert!((20 * 3600..30 * 3600).contains(&total), "{total} s is not about a day");
    }

    #[test]
    fn base_delays_saturate_instead_of_overflowing() {
        let policy =
            RetryPolicy { max_attempts: 100, first_delay_seconds: u64::MAX / 2, factor: 3, max_delay_seconds: 60 };
        assert_eq!(policy.base_delay_seconds(1), 60);
        assert_eq!(policy.base_delay_seconds(90), 60);
    }

    proptest! {
        #[test]
        fn jitter_keeps_a_delay_within_a_fifth_of_its_base(failures in 1u32..12, jitter: u32) {
            let policy = RetryPolicy::STANDARD;
            let base = policy.base_delay_seconds(failures);
            let delay = policy.delay_seconds(failures, jitter);
            prop_assert!(delay * 100 >= base * 80 && delay * 100 <= base * 120, "{delay} vs {base}");
        }
    }

    #[test]
    fn a_short_base_delay_never_jitters_down_to_zero() {
        let policy = RetryPolicy { max_attempts: 3, first_delay_seconds: 1, factor: 1, max_delay_seconds: 1 };
        assert!((0..41).all(|jitter| policy.delay_seconds(1, jitter) >= 1));
        let immediate = RetryPolicy { first_delay_seconds: 0, max_delay_seconds: 0, ..policy };
        assert_eq!(immediate.delay_seconds(1, 7), 0);
    }

    #[test]
    fn a_claim_takes_a_due_delivery_and_leases_it() {
        let claimed = delivery().claim(T0, 60).expect("due");
        assert_eq!(claimed.state, DeliveryState::Sending { lease_until: T0.plus_seconds(60) });
        assert_eq!(claimed.version, 1);
        assert_eq!(claimed.wake_at(), Some(T0.plus_seconds(60)));
        assert_eq!(claimed.claim(T0.plus_seconds(59), 60), Err(ClaimError::NotDue(T0.plus_seconds(60))));
        let taken_over = claimed.claim(T0.plus_seconds(60), 60).expect("the lease lapsed");
        assert_eq!(taken_over.version, 2);
    }

    #[test]
    fn a_2xx_succeeds_and_finishes_the_delivery() {
        let claimed = delivery().claim(T0, 60).expect("due");
        let done = claimed.record(attempt(T0, AttemptOutcome::Responded { status: 204 }), &RetryPolicy::STANDARD, 0);
        assert_eq!(done.state, DeliveryState::Succeeded);
        assert_eq!(done.attempts.len(), 1);
        assert_eq!(done.version, 2);
        assert_eq!(done.wake_at(), None);
        assert_eq!(done.claim(T0.plus_seconds(10_000), 60), Err(ClaimError::Finished));
    }

    #[test]
    fn only_2xx_statuses_are_successes() {
        for status in [100, 199, 301, 304, 400, 410, 429, 500, 503] {
            assert!(!AttemptOutcome::Responded { status }.is_success(), "{status}");
        }
        for status in [200, 201, 202, 204, 299] {
            assert!(AttemptOutcome::Responded { status }.is_success(), "{status}");
        }
        assert!(!AttemptOutcome::Failed { error: "timed out".into() }.is_success());
    }

    #[test]
    fn a_failure_is_retried_after_the_policy_delay_from_when_the_attempt_ended() {
        let claimed = delivery().claim(T0, 60).expect("due");
        let mut slow = failed(T0);
        slow.latency_ms = 10_000;
        let next = claimed.record(slow, &RetryPolicy::STANDARD, 20);
        // 30 s × 1.0 (jitter 20 → 100 %) after the attempt ended at T0 + 10 s.
        assert_eq!(next.state, DeliveryState::Pending { next_attempt_at: T0.plus_seconds(40) });
    }

    #[test]
    fn the_last_failure_of_a_round_parks_and_a_replay_starts_a_new_round() {
        let policy = RetryPolicy { max_attempts: 3, first_delay_seconds: 1, factor: 2, max_delay_seconds: 10 };
        let mut current = delivery();
        let mut now = T0;
        for _ in 0..3 {
            let claimed = current.claim(now, 60).expect("due");
            current = claimed.record(failed(now), &policy, 0);
            now = current.wake_at().unwrap_or(now);
        }
        assert_eq!(current.state, DeliveryState::Parked);
        assert_eq!(current.attempts.len(), 3);
        assert_eq!(current.claim(now.plus_seconds(1_000), 60), Err(ClaimError::Finished));

        let replayed = current.replay(now).expect("parked");
        assert_eq!(replayed.state, DeliveryState::Pending { next_attempt_at: now });
        assert_eq!(replayed.attempts_this_round(), 0);
        assert_eq!(replayed.replay(now), Err(NotParked));
        let again = replayed.claim(now, 60).expect("due").record(failed(now), &policy, 0);
        assert!(matches!(again.state, DeliveryState::Pending { .. }), "a fresh round: {:?}", again.state);
        assert_eq!(again.attempts.len(), 4, "the log keeps every attempt");
    }

    #[test]
    fn an_abandoned_delivery_is_parked_with_the_reason_logged() {
        let claimed = delivery().claim(T0, 60).expect("due");
        let abandoned = claimed.abandon(T0, "the endpoint was deleted");
        assert_eq!(abandoned.state, DeliveryState::Parked);
        assert_eq!(abandoned.version, 2);
        assert_eq!(
            abandoned.attempts,
            [attempt(T0, AttemptOutcome::Failed { error: "the endpoint was deleted".into() })]
                .map(|a| DeliveryAttempt { latency_ms: 0, ..a })
        );
    }

    #[test]
    fn deliveries_round_trip_through_json() {
        let claimed = delivery().claim(T0, 60).expect("due");
        let logged = claimed.record(
            attempt(T0, AttemptOutcome::Failed { error: "timed out after 10 s".into() }),
            &RetryPolicy::STANDARD,
            3,
        );
        let json = serde_json::to_string(&logged).expect("json");
        assert_eq!(serde_json::from_str::<WebhookDelivery>(&json).expect("decode"), logged);
    }
}
