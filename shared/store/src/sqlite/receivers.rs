//! [`ReceiverLog`] in SQLite: `receiver_claims`, one row per claim, written
//! in the commit's transaction and read by `claimed_at` through its index.

use ferry_domain::Timestamp;
use rusqlite::{Connection, params};

use super::{SqliteStore, db, int};
use crate::{ReceiverClaim, ReceiverLog, StoreError, StoreResult};

/// Creates the log; a database from before it gets a row per receiver it
/// holds, claimed (as far as the log knows) at its session's expiry, which
/// is no earlier than the real claim: a watcher loading claims since a
/// time still finds it. So the log is complete from the epoch on.
pub(super) fn migrate(connection: &Connection) -> rusqlite::Result<()> {
    let exists = connection
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'receiver_claims'")?
        .exists([])?;
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS receiver_claims (
             address    TEXT NOT NULL,
             session_id TEXT NOT NULL,
             claimed_at INTEGER NOT NULL,
             expires_at INTEGER NOT NULL
         );
         CREATE INDEX IF NOT EXISTS receiver_claims_by_time ON receiver_claims (claimed_at);",
    )?;
    if !exists {
        connection.execute_batch(
            "INSERT INTO receiver_claims (address, session_id, claimed_at, expires_at)
             SELECT r.address, r.session_id, s.expires_at, s.expires_at
             FROM receivers r JOIN sessions s ON s.id = r.session_id;",
        )?;
    }
    Ok(())
}

/// Inserts `claim` inside the commit's transaction.
pub(super) fn log(tx: &rusqlite::Transaction<'_>, claim: &ReceiverClaim) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO receiver_claims (address, session_id, claimed_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            claim.receiver.to_lowercase_hex(),
            claim.session_id.to_string(),
            int(claim.claimed_at.unix_seconds()),
            int(claim.expires_at.unix_seconds())
        ],
    )?;
    Ok(())
}

impl ReceiverLog for SqliteStore {
    async fn receivers_claimed_since(&self, since: Timestamp, _now: Timestamp) -> StoreResult<Vec<ReceiverClaim>> {
        let since = int(since.unix_seconds());
        let rows: Vec<(String, String, i64, i64)> = self
            .with(move |conn| {
                let mut statement = conn
                    .prepare(
                        "SELECT address, session_id, claimed_at, expires_at FROM receiver_claims
                         WHERE claimed_at >= ?1",
                    )
                    .map_err(db)?;
                let rows = statement
                    .query_map([since], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
                    .map_err(db)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db)
            })
            .await?;
        rows.into_iter()
            .map(|(address, session_id, claimed_at, expires_at)| {
                Ok(ReceiverClaim {
                    receiver: address.parse().map_err(|e| StoreError::corrupt("receiver claim", e))?,
                    session_id: session_id.parse().map_err(|e| StoreError::corrupt("receiver claim", e))?,
                    claimed_at: Timestamp::from_unix_seconds(claimed_at as u64),
                    expires_at: Timestamp::from_unix_seconds(expires_at as u64),
                })
            })
            .collect()
    }

    /// Complete from the epoch: [`migrate`] filled it from older databases.
    async fn receiver_log_start(&self, _now: Timestamp) -> StoreResult<Timestamp> {
        Ok(Timestamp::from_unix_seconds(0))
    }
}
