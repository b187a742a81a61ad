//! The embedded store behind `ferry serve`: one SQLite file, WAL journal,
//! `synchronous = FULL`, so a committed change survives a crash or restart.
//!
//! Rows keep the domain object as a JSON document beside the columns that
//! conditions and lookups need.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::{StoreError, StoreResult};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_open_by_expiry ON sessions (expires_at)
    WHERE status IN ('requires_payment_method', 'waiting_payment');
CREATE TABLE IF NOT EXISTS receivers (
    address    TEXT PRIMARY KEY,
    session_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    merchant_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (merchant_id, key)
);
CREATE TABLE IF NOT EXISTS merchants (
    id  TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    hash        TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    doc         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_by_merchant ON api_keys (merchant_id);
-- A key's last day of use (00:00 UTC, unix seconds), beside the key rather
-- than in its row so that databases from before it need no migration.
CREATE TABLE IF NOT EXISTS api_key_use (
    hash         TEXT PRIMARY KEY REFERENCES api_keys (hash) ON DELETE CASCADE,
    last_used_on INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    chain_id           INTEGER PRIMARY KEY,
    last_scanned_block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deposits (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payouts (
    id      TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    doc     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    doc         TEXT NOT NULL
);
";

mod api_keys;
mod chain_state;
mod deliveries;
mod deposits;
mod receivers;
mod sessions;
mod webhooks;

#[derive(Clone)]
pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        Self::init(Connection::open(path).map_err(StoreError::backend)?)
    }

    /// A private database that lives as long as the store.
    pub fn in_memory() -> StoreResult<Self> {
        Self::init(Connection::open_in_memory().map_err(StoreError::backend)?)
    }

    fn init(connection: Connection) -> StoreResult<Self> {
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(StoreError::backend)?;
        connection.busy_timeout(std::time::Duration::from_secs(5)).map_err(StoreError::backend)?;
        connection.execute_batch(SCHEMA).map_err(StoreError::backend)?;
        connection.execute_batch(webhooks::SCHEMA).map_err(StoreError::backend)?;
        connection.execute_batch(deliveries::SCHEMA).map_err(StoreError::backend)?;
        deposits::migrate(&connection).map_err(StoreError::backend)?;
        receivers::migrate(&connection).map_err(StoreError::backend)?;
        Ok(Self { connection: Arc::new(Mutex::new(connection)) })
    }

    /// Runs `work` on the connection on the blocking pool.
    async fn with<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut guard = connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(StoreError::backend)?
    }
}

fn db(error: rusqlite::Error) -> StoreError {
    StoreError::backend(error)
}

/// A `u64` as an SQLite INTEGER: the same 64 bits, so `as u64` reads it
/// back exactly and equality conditions hold.
fn int(value: u64) -> i64 {
    value as i64
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

#[cfg(test)]
mod tests {
    use ferry_domain::{EvmAddress, MerchantId, Timestamp};
    use rusqlite::params;

    use super::*;
    use crate::{SessionChange, SessionStore};

    #[test]
    fn due_sessions_are_read_through_the_partial_index() {
        let connection = Connection::open_in_memory().expect("open");
        connection.execute_batch(SCHEMA).expect("schema");
        let mut statement =
            connection.prepare(&format!("EXPLAIN QUERY PLAN {}", sessions::DUE_SESSIONS)).expect("explain");
        let plan: Vec<String> = statement
            .query_map(params![0_i64, 100_i64], |row| row.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("rows");
        let plan = plan.join("\n");
        assert!(plan.contains("USING INDEX sessions_open_by_expiry"), "{plan}");
        assert!(!plan.contains("SCAN sessions\n") && !plan.ends_with("SCAN sessions"), "{plan}");
    }

    #[tokio::test]
    async fn a_restart_loses_nothing() {
        let dir = std::env::temp_dir().join(format!("ferry-sqlite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("restart.db");
        let _ = std::fs::remove_file(&path);
        let merchant = MerchantId::from_random_bytes([3; 16]);
        let session = crate::conformance::sample_session(merchant);
        {
            let store = SqliteStore::open(&path).expect("open");
            store.create_session(&session, None).await.expect("create");
        }
        let reopened = SqliteStore::open(&path).expect("reopen");
        assert_eq!(reopened.get_session(&session.id).await.expect("get"), Some(session));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A database from before the receiver log gets a log entry for each
    /// receiver it holds, claimed (as far as the log knows) at its session's
    /// expiry, so a watcher loading recent claims finds it.
    #[tokio::test]
    async fn a_database_from_before_the_receiver_log_gets_its_receivers_logged() {
        use crate::{ReceiverClaim, ReceiverLog};
        let dir = std::env::temp_dir().join(format!("ferry-sqlite-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("before-log.db");
        let _ = std::fs::remove_file(&path);
        let session = crate::conformance::sample_session(MerchantId::from_random_bytes([4; 16]));
        let receiver = EvmAddress::new([0x42; 20].into());
        {
            let store = SqliteStore::open(&path).expect("open");
            store.create_session(&session, None).await.expect("create");
            let waiting =
                session.set_evm_payment_method(receiver, session.created_at).expect("legal").expect("changed");
            store.commit(SessionChange::new(&waiting).claiming_receiver(receiver)).await.expect("claim");
        }
        // As an older version left it: receivers, and no log.
        Connection::open(&path).expect("open").execute_batch("DROP TABLE receiver_claims;").expect("drop the log");
        let reopened = SqliteStore::open(&path).expect("reopen");
        let epoch = Timestamp::from_unix_seconds(0);
        assert_eq!(reopened.receiver_log_start(session.created_at).await.expect("start"), epoch);
        let logged = reopened.receivers_claimed_since(session.created_at, session.created_at).await.expect("claims");
        let expected = ReceiverClaim {
            receiver,
            session_id: session.id,
            claimed_at: session.expires_at,
            expires_at: session.expires_at,
        };
        assert_eq!(logged, vec![expected]);
        // Opening it again logs nothing twice.
        drop(reopened);
        let again = SqliteStore::open(&path).expect("reopen");
        assert_eq!(again.receivers_claimed_since(epoch, session.created_at).await.expect("claims").len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
