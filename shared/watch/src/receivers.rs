//! The receivers a chain watcher watches, kept in memory so that a scan
//! reads the store only for transfers into them: on a busy chain almost
//! every USDC/USDT transfer pays somebody else, and looking each recipient
//! up made the store's reads follow the chain's whole stablecoin traffic.
//!
//! Loaded once from the store's receiver log ([`ReceiverLog`]): every claim
//! since `now - (late-deposit window + session lifetime + a day)` (a
//! receiver claimed earlier belongs to a session that expired before the
//! window began). Then, before matching each scan's transfers, the claims
//! since the last refresh (less [`REFRESH_OVERLAP`], for claims committed
//! a little after the time they carry) are added. The log is read
//! consistently and after the scan's logs were fetched, so a receiver
//! claimed before a transfer into it (the payer learned the address from
//! the committed claim) is always known when that transfer is matched.
//!
//! Stores whose log started after their first claims (a DynamoDB table that
//! an older version filled) leave a gap: until every receiver claimed before
//! the log began is out of its window, a recipient not in memory is still
//! looked up in the store, as before.

use std::collections::HashMap;
use std::time::Duration;

use ferry_domain::{EvmAddress, Session, SessionId, Timestamp};
use ferry_store::{ReceiverLog, StoreError};
use tokio::sync::Mutex;

/// How far before the previous refresh the next one reads: a claim carries
/// its handler's time, and its commit may land up to the handler's timeout
/// (10 s, API Gateway's 30 s at most) later.
pub const REFRESH_OVERLAP: Duration = Duration::from_secs(120);
/// Slack beyond the late-deposit window and a session's lifetime before a
/// receiver is forgotten (and after which transfers into it are no longer
/// even logged as too late).
const SLACK_SECONDS: u64 = 86_400;
/// How often forgotten receivers are dropped from memory.
const PRUNE_EVERY_SECONDS: u64 = 3_600;

#[derive(Clone, Copy)]
struct Watched {
    session_id: SessionId,
    expires_at: Timestamp,
}

struct State {
    /// `None` until loaded.
    refreshed_at: Option<Timestamp>,
    log_start: Timestamp,
    pruned_at: Timestamp,
    receivers: HashMap<EvmAddress, Watched>,
}

/// What a refresh read, for the benchmark and the logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refresh {
    pub claims_read: usize,
    pub watched: usize,
}

/// The receivers being watched, shared by a watcher's chain loops.
pub struct WatchedReceivers {
    late_deposit_window: Duration,
    state: Mutex<State>,
}

impl WatchedReceivers {
    pub fn new(late_deposit_window: Duration) -> Self {
        let epoch = Timestamp::from_unix_seconds(0);
        let state = State { refreshed_at: None, log_start: epoch, pruned_at: epoch, receivers: HashMap::new() };
        Self { late_deposit_window, state: Mutex::new(state) }
    }

    /// How long a receiver is remembered after its session's expiry.
    fn horizon_seconds(&self) -> u64 {
        self.late_deposit_window.as_secs() + SLACK_SECONDS
    }

    /// Loads the receivers (the first time) or adds those claimed since the
    /// last refresh. One refresh at a time: concurrent callers wait and
    /// then read only what is newer.
    pub async fn refresh<S: ReceiverLog>(&self, store: &S, now: Timestamp) -> Result<Refresh, StoreError> {
        let mut state = self.state.lock().await;
        let since = match state.refreshed_at {
            Some(last) => Timestamp::from_unix_seconds(last.unix_seconds().saturating_sub(REFRESH_OVERLAP.as_secs())),
            None => {
                state.log_start = store.receiver_log_start(now).await?;
                let back = self.horizon_seconds() + Session::DEFAULT_LIFETIME_SECONDS;
                Timestamp::from_unix_seconds(now.unix_seconds().saturating_sub(back))
            }
        };
        let claims = store.receivers_claimed_since(since, now).await?;
        for claim in &claims {
            state
                .receivers
                .insert(claim.receiver, Watched { session_id: claim.session_id, expires_at: claim.expires_at });
        }
        state.refreshed_at = Some(now);
        if now.unix_seconds() >= state.pruned_at.unix_seconds() + PRUNE_EVERY_SECONDS {
            let horizon = self.horizon_seconds();
            state.receivers.retain(|_, w| w.expires_at.unix_seconds().saturating_add(horizon) >= now.unix_seconds());
            state.pruned_at = now;
        }
        Ok(Refresh { claims_read: claims.len(), watched: state.receivers.len() })
    }

    /// The sessions of those of `receivers` that are watched, and the
    /// recipients that must still be looked up in the store because the
    /// log may lack them (see the module's note on older stores).
    pub async fn sessions_of(
        &self,
        receivers: &[EvmAddress],
        now: Timestamp,
    ) -> (HashMap<EvmAddress, SessionId>, Vec<EvmAddress>) {
        let state = self.state.lock().await;
        let gap_open = state.refreshed_at.is_none()
            || now.unix_seconds()
                < state.log_start.unix_seconds() + Session::DEFAULT_LIFETIME_SECONDS + self.horizon_seconds();
        let mut found = HashMap::new();
        let mut unknown = Vec::new();
        for receiver in receivers {
            match state.receivers.get(receiver) {
                Some(watched) => {
                    found.insert(*receiver, watched.session_id);
                }
                None if gap_open => unknown.push(*receiver),
                None => {}
            }
        }
        (found, unknown)
    }
}
