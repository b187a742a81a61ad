//! One loop for every read-modify-conditional-write.
//!
//! Every change in Ferry is a conditional write: a writer reads, decides on
//! what it read, and writes only if nothing changed meanwhile. When another
//! writer got there first the write loses with [`StoreError::Conflict`] and
//! the decision is made again on a fresh read. [`retry_on_conflict`] is that
//! loop, bounded, so that a writer that keeps losing gives up with
//! [`RetryError::Exhausted`] (and the last conflict as its source) instead of
//! spinning.

use std::future::Future;

use crate::StoreError;

/// How many attempts a change gets unless its caller says otherwise: enough
/// for the few writers that ever race on one item (an API request, a router,
/// the expiry worker), few enough that a bug that conflicts every time ends.
pub const DEFAULT_ATTEMPTS: u32 = 5;

/// Why a change retried by [`retry_on_conflict`] did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RetryError<E = std::convert::Infallible> {
    /// Every attempt lost to a concurrent writer.
    #[error("the write conflicted on each of {attempts} attempts")]
    Exhausted {
        attempts: u32,
        #[source]
        last: StoreError,
    },
    /// The store failed otherwise (not retried).
    #[error(transparent)]
    Store(StoreError),
    /// The attempt itself refused (not retried): the caller's own error.
    #[error(transparent)]
    Refused(E),
}

impl<E> From<StoreError> for RetryError<E> {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl<E> RetryError<E> {
    /// The caller's own refusal, for `.map_err(RetryError::refused)?` inside an attempt.
    pub fn refused(error: impl Into<E>) -> Self {
        Self::Refused(error.into())
    }
}

/// Runs `attempt` (read, decide, write conditionally) until it succeeds, at
/// most `max_attempts` times (at least once). An attempt that fails with
/// [`RetryError::Store`]`(`[`StoreError::Conflict`]`)` runs again, so it must
/// read what it changes afresh each time; any other failure ends the loop at
/// once. `attempt` gets the attempt's number, from 1.
///
/// `attempt` returns a future rather than being an async closure: a future
/// that borrows only what the closure captured by reference (`async move`
/// over references taken outside) stays `Send` for the Lambda runtimes,
/// which `AsyncFnMut`'s futures cannot yet promise.
pub async fn retry_on_conflict<T, E, F, Fut>(max_attempts: u32, mut attempt: F) -> Result<T, RetryError<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, RetryError<E>>>,
{
    let max_attempts = max_attempts.max(1);
    let mut number = 1;
    loop {
        match attempt(number).await {
            Err(RetryError::Store(StoreError::Conflict(why))) if number < max_attempts => {
                tracing::info!(%why, attempt = number, "changed concurrently; retrying on a fresh read");
                number += 1;
            }
            Err(RetryError::Store(last @ StoreError::Conflict(_))) => {
                return Err(RetryError::Exhausted { attempts: number, last });
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::sync::atomic::{AtomicU32, Ordering};

    use ferry_domain::{MerchantId, Session, SessionId, TxHash};

    use super::*;
    use crate::conformance::sample_session;
    use crate::memory::MemoryStore;
    use crate::{SessionChange, SessionStore};

    /// A store that loses the first `conflicts` commits to a "concurrent
    /// writer" (which really bumps the stored session, as a rival would),
    /// then behaves.
    struct Contended {
        store: MemoryStore,
        conflicts: AtomicU32,
        commits: AtomicU32,
    }

    impl Contended {
        async fn new(conflicts: u32) -> (Self, SessionId) {
            let store = MemoryStore::new();
            let session = sample_session(MerchantId::from_random_bytes([2; 16]));
            store.create_session(&session, None).await.expect("create");
            (Self { store, conflicts: AtomicU32::new(conflicts), commits: AtomicU32::new(0) }, session.id)
        }

        /// Reads the session, records a hint on it (a change that needs the
        /// fresh version) and commits it, losing while conflicts remain.
        async fn change(&self, id: &SessionId, hint: u8) -> Result<Session, RetryError> {
            let current = self.store.get_session(id).await?.ok_or(StoreError::Conflict("gone"))?;
            let next =
                current.record_tx_hash_hint(TxHash::new([hint; 32].into())).ok_or(StoreError::Conflict("no change"))?;
            let left = self.conflicts.load(Ordering::SeqCst);
            if left > 0 {
                self.conflicts.store(left - 1, Ordering::SeqCst);
                // A rival's different change lands first: ours is now one version behind.
                let rival = current.record_tx_hash_hint(TxHash::new([left.to_be_bytes()[3] | 0x80; 32].into()));
                self.store.commit(SessionChange::new(&rival.ok_or(StoreError::Conflict("no change"))?)).await?;
            }
            self.commits.fetch_add(1, Ordering::SeqCst);
            self.store.commit(SessionChange::new(&next)).await?;
            Ok(next)
        }
    }

    #[tokio::test]
    async fn a_change_that_loses_fewer_times_than_allowed_is_written_on_a_fresh_read() {
        let (store, id) = Contended::new(4).await;
        let attempts = AtomicU32::new(0);
        let written = retry_on_conflict(5, |n| {
            attempts.store(n, Ordering::SeqCst);
            store.change(&id, 7)
        })
        .await
        .expect("the fifth attempt wins");
        assert_eq!(attempts.load(Ordering::SeqCst), 5);
        let stored = store.store.get_session(&id).await.expect("read").expect("stored");
        assert_eq!(stored, written);
        assert_eq!(stored.version(), 5, "four rival writes and ours");
    }

    #[tokio::test]
    async fn a_change_that_always_loses_gives_up_after_the_bound_with_the_last_conflict() {
        let (store, id) = Contended::new(u32::MAX).await;
        let error = retry_on_conflict(3, |_| store.change(&id, 7)).await.expect_err("never wins");
        let RetryError::Exhausted { attempts, last } = &error else { panic!("not exhausted: {error:?}") };
        assert_eq!(*attempts, 3);
        assert!(matches!(last, StoreError::Conflict(_)));
        assert!(error.source().is_some(), "the conflict stays the error's source");
        assert_eq!(store.commits.load(Ordering::SeqCst), 3, "exactly the bound, no more");
    }

    #[tokio::test]
    async fn other_failures_and_refusals_end_the_loop_at_once() {
        let runs = AtomicU32::new(0);
        let failed: Result<(), RetryError> = retry_on_conflict(5, |_| {
            runs.fetch_add(1, Ordering::SeqCst);
            async { Err(StoreError::backend(std::io::Error::other("down")).into()) }
        })
        .await;
        assert!(matches!(failed, Err(RetryError::Store(StoreError::Backend(_)))));
        let refused: Result<(), RetryError<&str>> = retry_on_conflict(5, |_| {
            runs.fetch_add(1, Ordering::SeqCst);
            async { Err(RetryError::Refused("no")) }
        })
        .await;
        assert!(matches!(refused, Err(RetryError::Refused("no"))));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn zero_attempts_still_tries_once() {
        let (store, id) = Contended::new(0).await;
        retry_on_conflict(0, |_| store.change(&id, 9)).await.expect("one attempt, no rival");
    }
}
