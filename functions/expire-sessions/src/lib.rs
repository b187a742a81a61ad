//! `expire-sessions` (scheduled): ends the sessions nobody paid in time.
//!
//! Each run lists the open sessions (`requires_payment_method`,
//! `waiting_payment`) whose `expiresAt` has passed, oldest first, in
//! batches, through the store's index of open sessions
//! ([`ExpiryStore::due_sessions`]): the work grows with the sessions due,
//! never with all sessions. Each is moved to `expired` with the usual
//! conditional commit on its version, so a session that changed since it
//! was listed (a deposit made it `processing`, another run expired it) is
//! left alone: that commit loses and the run moves on.
//!
//! Each expiry is committed with its `session.expired` event in the same
//! conditional write (the outbox): a lost race stores neither. The event is
//! then announced on the webhook queue, so it goes out at once
//! ([`ferry_notify::announce`]).

pub mod lambda;

use std::collections::HashSet;
use std::time::Instant;

use ferry_domain::{Session, SessionEvent, SessionId, Timestamp};
use ferry_notify::Announcer;
use ferry_runtime::Ambient;
use ferry_store::{ExpiryStore, SessionChange, StoreError};
use serde::Serialize;

/// Sessions listed (and expired) per store request.
pub const BATCH_SIZE: usize = 100;

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryReport {
    /// Sessions moved to `expired`.
    pub expired: u64,
    /// Sessions listed as due that changed before their expiry was
    /// committed (paid meanwhile, or expired by another run): left alone.
    pub lost_races: u64,
    /// The run stopped at its deadline with sessions possibly still due;
    /// the next run continues.
    pub cut_short: bool,
}

/// What became of one listed session.
enum Outcome {
    Expired,
    LostRace,
    Skipped,
}

pub struct ExpireSessions<S> {
    store: S,
    /// Sessions per batch (at least 1).
    pub batch_size: usize,
    /// Where each `session.expired` event is announced after its commit.
    announcer: Announcer,
    ambient: Ambient,
}

impl<S: ExpiryStore> ExpireSessions<S> {
    pub fn new(store: S) -> Self {
        Self { store, batch_size: BATCH_SIZE, announcer: Announcer::none(), ambient: Ambient::default() }
    }

    /// Announces each event right after its commit, so its webhooks go out
    /// at once (without, they wait for the webhook sweep).
    pub fn announcing(mut self, announcer: Announcer) -> Self {
        self.announcer = announcer;
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Expires every session due at `now`, batch after batch, until none
    /// is left.
    pub async fn run_once(&self, now: Timestamp) -> Result<ExpiryReport, StoreError> {
        self.run_until(now, None).await
    }

    /// [`run_once`](Self::run_once), stopping at `stop_at` if given.
    ///
    /// A session is tried at most once per version in a run: an index that
    /// lags behind the table (DynamoDB's GSI) may list a session again as
    /// it was before this run changed it, and a batch holding nothing new
    /// ends the run (the next one picks up whatever is left).
    pub async fn run_until(&self, now: Timestamp, stop_at: Option<Instant>) -> Result<ExpiryReport, StoreError> {
        let batch_size = self.batch_size.max(1);
        let past_deadline = || stop_at.is_some_and(|stop_at| Instant::now() >= stop_at);
        let mut report = ExpiryReport::default();
        let mut tried: HashSet<(SessionId, u64)> = HashSet::new();
        loop {
            if past_deadline() {
                report.cut_short = true;
                break;
            }
            let due = self.store.due_sessions(now, batch_size).await?;
            let full = due.len() >= batch_size;
            let mut new = 0;
            for session in &due {
                if !tried.insert((session.id, session.version())) {
                    continue;
                }
                if past_deadline() {
                    report.cut_short = true;
                    return Ok(report);
                }
                new += 1;
                match self.expire(session, now).await? {
                    Outcome::Expired => report.expired += 1,
                    Outcome::LostRace => report.lost_races += 1,
                    Outcome::Skipped => {}
                }
            }
            if !full || new == 0 {
                break;
            }
        }
        Ok(report)
    }

    async fn expire(&self, session: &Session, now: Timestamp) -> Result<Outcome, StoreError> {
        let (expired, kind) = match session.expire(now) {
            Ok(change) => change,
            Err(error) => {
                // The store listed it as open and due: it is not (a bug or a corrupt index entry).
                tracing::warn!(session = %session.id, %error, "listed as due but cannot expire; skipped");
                return Ok(Outcome::Skipped);
            }
        };
        let event = SessionEvent::new(self.ambient.fresh(), kind, &expired, now);
        match self.store.commit(SessionChange::new(&expired).emitting(&event)).await {
            Ok(()) => {
                tracing::info!(session = %session.id, expires_at = %session.expires_at, event_id = %event.id, "session expired");
                self.announcer.committed(&event).await;
                Ok(Outcome::Expired)
            }
            Err(StoreError::Conflict(reason)) => {
                tracing::info!(session = %session.id, reason, "session changed since it was listed; left alone");
                Ok(Outcome::LostRace)
            }
            Err(error) => Err(error),
        }
    }
}
