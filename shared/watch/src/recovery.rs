//! The recovery sweep: a deposit whose routing has not finished some time
//! after it was recorded is queued for the router again.
//!
//! Queue messages can be lost — an in-process queue with its process, a
//! message dead-lettered after its last attempt, a crash between recording a
//! deposit and queueing it — while the watcher's cursor has already moved
//! past the deposit's block, so no scan will ever find it again. Every
//! deposit is therefore recorded with a time to recover it
//! ([`ferry_domain::DepositRecord::recover_at`]); routing it to its end clears that time.
//! The sweep lists the deposits past it (a sparse index: its reads grow with
//! the deposits due, never with all deposits), queues each again, and
//! pushes its time back with an exponential backoff, so a deposit that keeps
//! failing is retried ever more rarely but never forgotten. Routing is
//! idempotent, so a message queued for a deposit that is in fact still
//! being routed costs one redundant attempt, never a second payment.

use std::time::Duration;

use ferry_domain::{RouteDeposit, Timestamp};
use ferry_queue::{Queue, TypedQueue};
use ferry_store::{DepositStore, StoreError};

use crate::WatchError;

/// When unfinished deposits are queued again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoveryPolicy {
    /// How long after it is recorded a deposit is first recovered: longer
    /// than routing normally takes, so that the sweep only finds lost ones.
    pub first_after: Duration,
    /// The longest wait between two recoveries of one deposit.
    pub max_backoff: Duration,
}

impl RecoveryPolicy {
    /// Deployments: first after 5 minutes, then 10, 20, 40 minutes…, at
    /// most every 6 hours.
    pub const STANDARD: Self =
        Self { first_after: Duration::from_secs(5 * 60), max_backoff: Duration::from_secs(6 * 3600) };

    /// How long after its `recoveries`-th recovery a deposit is due again:
    /// `first_after × 2^recoveries`, capped at `max_backoff`.
    pub fn wait_after(&self, recoveries: u32) -> Duration {
        let factor = 1u32.checked_shl(recoveries.min(31)).unwrap_or(u32::MAX);
        self.first_after.saturating_mul(factor).min(self.max_backoff)
    }

    /// When a deposit recorded at `now` is first due.
    pub fn first_due(&self, now: Timestamp) -> Timestamp {
        now.plus_seconds(self.first_after.as_secs())
    }
}

impl Default for RecoveryPolicy {
    fn default() -> Self {
        Self::STANDARD
    }
}

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Deposits queued again.
    pub requeued: usize,
    /// Deposits that changed while the sweep looked at them (the router was
    /// at work on them): queued anyway, their next recovery left to the router.
    pub contended: usize,
}

/// The sweep over one store, queueing on the deposit queue.
pub struct RecoverDeposits<S, Q> {
    store: S,
    queue: TypedQueue<Q, RouteDeposit>,
    policy: RecoveryPolicy,
}

/// How many due deposits one sweep takes at most.
pub const SWEEP_LIMIT: usize = 100;

impl<S: DepositStore, Q: Queue> RecoverDeposits<S, Q> {
    pub fn new(store: S, queue: Q, policy: RecoveryPolicy) -> Self {
        Self { store, queue: TypedQueue::new(queue), policy }
    }

    /// Queues every deposit due for recovery at `now` (at most
    /// [`SWEEP_LIMIT`]) again, then pushes its next recovery back. The
    /// message goes first: a crash between the two leaves a duplicate
    /// message, never a deposit that is due but not queued.
    pub async fn run_once(&self, now: Timestamp) -> Result<RecoveryReport, WatchError> {
        let mut report = RecoveryReport::default();
        for record in self.store.deposits_due_for_recovery(now, SWEEP_LIMIT).await? {
            if record.is_finished() {
                continue;
            }
            self.queue.send(&RouteDeposit::new(record.id())).await?;
            let recoveries = record.recoveries.saturating_add(1);
            let next = record.requeued(now.plus_seconds(self.policy.wait_after(recoveries).as_secs()));
            match self.store.update_deposit(&next).await {
                Ok(()) => report.requeued += 1,
                Err(StoreError::Conflict(_)) => report.contended += 1,
                Err(other) => return Err(other.into()),
            }
            tracing::warn!(
                session_id = %record.session_id,
                deposit = %record.id(),
                recorded_at = %record.recorded_at,
                recoveries,
                "deposit not routed to its end in time: queued again by the recovery sweep"
            );
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recoveries_back_off_exponentially_up_to_the_cap() {
        let policy = RecoveryPolicy::STANDARD;
        let minutes = |n: u64| Duration::from_secs(60 * n);
        assert_eq!(policy.wait_after(0), minutes(5));
        assert_eq!(policy.wait_after(1), minutes(10));
        assert_eq!(policy.wait_after(3), minutes(40));
        assert_eq!(policy.wait_after(7), minutes(360), "capped at 6 h");
        assert_eq!(policy.wait_after(u32::MAX), minutes(360), "never overflows");
        assert_eq!(policy.first_due(Timestamp::from_unix_seconds(1_000)), Timestamp::from_unix_seconds(1_300));
    }
}
