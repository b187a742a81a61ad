//! The embedded store behind `ferry serve`: one SQLite file, WAL journal,
//! `synchronous = FULL`, so a committed change survives a crash or restart.
//!
//! Rows keep the domain object as a JSON document beside the columns that
//! conditions and lookups need.

use std::path::Path;
use std::sync::{Arc, Mutex};

use ferry_domain::{ApiKeyHash, EvmAddress, Merchant, MerchantId, Session, SessionId, Timestamp};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{
    ApiKeyRecord, CreateSessionError, IdempotencyRecord, IdempotencyStore, MerchantStore, SessionChange, SessionStore,
    StoreError, StoreResult, decode, encode,
};

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
";

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

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

impl SessionStore for SqliteStore {
    async fn create_session(
        &self,
        session: &Session,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), CreateSessionError> {
        let doc = encode("session", session)?;
        let (id, merchant, status, expires) = (
            session.id.to_string(),
            session.merchant_id.to_string(),
            session.status.as_str(),
            session.expires_at.unix_seconds() as i64,
        );
        let record =
            idempotency.map(|r| Ok::<_, StoreError>((r.clone(), encode("idempotency record", r)?))).transpose()?;
        self.with(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
                if let Some((record, record_doc)) = &record {
                    let merchant_id = record.merchant_id.to_string();
                    let live: Option<i64> = tx
                        .query_row(
                            "SELECT expires_at FROM idempotency WHERE merchant_id = ?1 AND key = ?2 AND expires_at > ?3",
                            params![merchant_id, record.key, record.created_at.unix_seconds() as i64],
                            |row| row.get(0),
                        )
                        .optional()
                        .map_err(db)?;
                    if live.is_some() {
                        return Ok(Err(CreateSessionError::IdempotencyKeyExists));
                    }
                    tx.execute(
                        "INSERT OR REPLACE INTO idempotency (merchant_id, key, expires_at, doc) VALUES (?1, ?2, ?3, ?4)",
                        params![merchant_id, record.key, record.expires_at.unix_seconds() as i64, record_doc],
                    )
                    .map_err(db)?;
                }
                match tx.execute(
                    "INSERT INTO sessions (id, merchant_id, version, status, expires_at, doc) VALUES (?1, ?2, 0, ?3, ?4, ?5)",
                    params![id, merchant, status, expires, doc],
                ) {
                    Err(e) if is_unique_violation(&e) => {
                        return Ok(Err(StoreError::Conflict("session id already exists").into()));
                    }
                    other => other.map_err(db)?,
                };
                tx.commit().map_err(db)?;
                Ok(Ok(()))
            })
            .await?
    }

    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        let id = id.to_string();
        let doc: Option<String> = self
            .with(move |conn| {
                conn.query_row("SELECT doc FROM sessions WHERE id = ?1", [id], |row| row.get(0)).optional().map_err(db)
            })
            .await?;
        doc.map(|doc| decode("session", &doc)).transpose()
    }

    async fn commit(&self, change: SessionChange<'_>) -> StoreResult<()> {
        let session = change.session;
        let doc = encode("session", session)?;
        let id = session.id.to_string();
        let previous = session.version.checked_sub(1).ok_or(StoreError::Conflict("session version changed"))? as i64;
        let (version, status, expires) =
            (session.version as i64, session.status.as_str(), session.expires_at.unix_seconds() as i64);
        let receiver = change.claim_receiver.map(|r| r.to_lowercase_hex());
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
            if let Some(receiver) = &receiver {
                let owner: Option<String> = tx
                    .query_row("SELECT session_id FROM receivers WHERE address = ?1", [receiver], |row| row.get(0))
                    .optional()
                    .map_err(db)?;
                match owner {
                    Some(owner) if owner != id => return Err(StoreError::Conflict("receiver belongs to another session")),
                    Some(_) => {}
                    None => {
                        tx.execute("INSERT INTO receivers (address, session_id) VALUES (?1, ?2)", params![receiver, id])
                            .map_err(db)?;
                    }
                }
            }
            let updated = tx
                .execute(
                    "UPDATE sessions SET version = ?1, status = ?2, expires_at = ?3, doc = ?4 WHERE id = ?5 AND version = ?6",
                    params![version, status, expires, doc, id, previous],
                )
                .map_err(db)?;
            if updated != 1 {
                return Err(StoreError::Conflict("session version changed"));
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn find_session_by_receiver(&self, receiver: &EvmAddress) -> StoreResult<Option<SessionId>> {
        let address = receiver.to_lowercase_hex();
        let id: Option<String> = self
            .with(move |conn| {
                conn.query_row("SELECT session_id FROM receivers WHERE address = ?1", [address], |row| row.get(0))
                    .optional()
                    .map_err(db)
            })
            .await?;
        id.map(|id| id.parse().map_err(|e| StoreError::corrupt("receiver", e))).transpose()
    }
}

impl IdempotencyStore for SqliteStore {
    async fn get_idempotency(
        &self,
        merchant_id: &MerchantId,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let (merchant_id, key, now) = (merchant_id.to_string(), key.to_string(), now.unix_seconds() as i64);
        let doc: Option<String> = self
            .with(move |conn| {
                conn.query_row(
                    "SELECT doc FROM idempotency WHERE merchant_id = ?1 AND key = ?2 AND expires_at > ?3",
                    params![merchant_id, key, now],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db)
            })
            .await?;
        doc.map(|doc| decode("idempotency record", &doc)).transpose()
    }
}

impl MerchantStore for SqliteStore {
    async fn create_merchant(&self, merchant: &Merchant) -> StoreResult<()> {
        let (id, doc) = (merchant.id.to_string(), encode("merchant", merchant)?);
        self.with(move |conn| match conn.execute("INSERT INTO merchants (id, doc) VALUES (?1, ?2)", params![id, doc]) {
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("merchant already exists")),
            other => other.map(drop).map_err(db),
        })
        .await
    }

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>> {
        let id = id.to_string();
        let doc: Option<String> = self
            .with(move |conn| {
                conn.query_row("SELECT doc FROM merchants WHERE id = ?1", [id], |row| row.get(0)).optional().map_err(db)
            })
            .await?;
        doc.map(|doc| decode("merchant", &doc)).transpose()
    }

    async fn create_api_key(&self, record: &ApiKeyRecord) -> StoreResult<()> {
        let (hash, merchant_id, doc) =
            (record.hash.to_string(), record.merchant_id.to_string(), encode("api key", record)?);
        self.with(move |conn| {
            match conn.execute(
                "INSERT INTO api_keys (hash, merchant_id, doc) VALUES (?1, ?2, ?3)",
                params![hash, merchant_id, doc],
            ) {
                // Both a duplicate hash and a missing merchant (foreign key) land here.
                Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("api key exists or merchant does not")),
                other => other.map(drop).map_err(db),
            }
        })
        .await
    }

    async fn find_api_key(&self, hash: &ApiKeyHash) -> StoreResult<Option<ApiKeyRecord>> {
        let hash = hash.to_string();
        let doc: Option<String> = self
            .with(move |conn| {
                conn.query_row("SELECT doc FROM api_keys WHERE hash = ?1", [hash], |row| row.get(0))
                    .optional()
                    .map_err(db)
            })
            .await?;
        doc.map(|doc| decode("api key", &doc)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_store_conforms() {
        crate::conformance::run_all(SqliteStore::in_memory().expect("open")).await;
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
}
