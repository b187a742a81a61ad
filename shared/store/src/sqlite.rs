//! The embedded store behind `ferry serve`: one SQLite file, WAL journal,
//! `synchronous = FULL`, so a committed change survives a crash or restart.
//!
//! Rows keep the domain object as a JSON document beside the columns that
//! conditions and lookups need.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ferry_domain::{
    ApiKeyHash, ApiKeyId, ChainId, EventId, EvmAddress, IdempotencyKey, Merchant, MerchantId, PayoutId, PayoutIntent,
    Session, SessionEvent, SessionId, Timestamp,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{
    ApiKeyRecord, ChainCursor, CreateSessionError, CursorStore, EventStore, ExpiryStore, IdempotencyRecord,
    IdempotencyStore, MerchantStore, PayoutStore, SessionChange, SessionStore, StoreError, StoreResult, decode, encode,
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

mod deliveries;
mod deposits;
mod receivers;
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
            session.status().as_str(),
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
                            params![merchant_id, record.key.as_str(), record.created_at.unix_seconds() as i64],
                            |row| row.get(0),
                        )
                        .optional()
                        .map_err(db)?;
                    if live.is_some() {
                        return Ok(Err(CreateSessionError::IdempotencyKeyExists));
                    }
                    tx.execute(
                        "INSERT OR REPLACE INTO idempotency (merchant_id, key, expires_at, doc) VALUES (?1, ?2, ?3, ?4)",
                        params![merchant_id, record.key.as_str(), record.expires_at.unix_seconds() as i64, record_doc],
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
        let previous = session.version().checked_sub(1).ok_or(StoreError::Conflict("session version changed"))? as i64;
        let (version, status, expires) =
            (session.version() as i64, session.status().as_str(), session.expires_at.unix_seconds() as i64);
        let receiver = change.claim_receiver.map(|r| r.to_lowercase_hex());
        let claim = crate::ReceiverClaim::of(&change);
        let event = change
            .event
            .map(|event| {
                Ok::<_, StoreError>((
                    event.id.to_string(),
                    event.session_id.to_string(),
                    event.merchant_id.to_string(),
                    event.kind.as_str(),
                    int(event.created_at.unix_seconds()),
                    encode("event", event)?,
                ))
            })
            .transpose()?;
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
            if let Some((event_id, session_id, merchant_id, kind, created_at, event_doc)) = &event {
                match tx.execute(
                    "INSERT INTO events (id, session_id, merchant_id, kind, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![event_id, session_id, merchant_id, kind, created_at, event_doc],
                ) {
                    // Dropping `tx` rolls back: nothing of the change is written.
                    Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict("event id already exists")),
                    other => other.map_err(db)?,
                };
                // Every event waits to be fanned out (see `deliveries`).
                tx.execute(
                    "INSERT INTO pending_events (event_id, created_at) VALUES (?1, ?2)",
                    params![event_id, created_at],
                )
                .map_err(db)?;
            }
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
            if let Some(claim) = &claim {
                receivers::log(&tx, claim).map_err(db)?;
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

    /// One query per 500 addresses (SQLite's bound-parameter limit is far above).
    async fn find_sessions_by_receivers(
        &self,
        receivers: &[EvmAddress],
    ) -> StoreResult<HashMap<EvmAddress, SessionId>> {
        let mut found = HashMap::new();
        for chunk in receivers.chunks(500) {
            let addresses: Vec<String> = chunk.iter().map(EvmAddress::to_lowercase_hex).collect();
            let rows: Vec<(String, String)> = self
                .with(move |conn| {
                    let placeholders = vec!["?"; addresses.len()].join(", ");
                    let sql = format!("SELECT address, session_id FROM receivers WHERE address IN ({placeholders})");
                    let mut statement = conn.prepare(&sql).map_err(db)?;
                    let rows = statement
                        .query_map(rusqlite::params_from_iter(addresses.iter()), |row| Ok((row.get(0)?, row.get(1)?)))
                        .map_err(db)?;
                    rows.collect::<Result<Vec<_>, _>>().map_err(db)
                })
                .await?;
            for (address, session_id) in rows {
                let address: EvmAddress = address.parse().map_err(|e| StoreError::corrupt("receiver", e))?;
                let session_id: SessionId = session_id.parse().map_err(|e| StoreError::corrupt("receiver", e))?;
                found.insert(address, session_id);
            }
        }
        Ok(found)
    }
}

impl EventStore for SqliteStore {
    async fn get_event(&self, id: &EventId) -> StoreResult<Option<SessionEvent>> {
        let id = id.to_string();
        let doc: Option<String> = self
            .with(move |conn| {
                conn.query_row("SELECT doc FROM events WHERE id = ?1", [id], |row| row.get(0)).optional().map_err(db)
            })
            .await?;
        doc.map(|doc| decode("event", &doc)).transpose()
    }
}

/// Due open sessions, through the partial index `sessions_open_by_expiry`
/// (its `WHERE` repeated verbatim, so that SQLite may use it).
const DUE_SESSIONS: &str = "SELECT doc FROM sessions INDEXED BY sessions_open_by_expiry
    WHERE status IN ('requires_payment_method', 'waiting_payment') AND expires_at <= ?1
    ORDER BY expires_at LIMIT ?2";

impl ExpiryStore for SqliteStore {
    async fn due_sessions(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<Session>> {
        let (now, limit) = (int(now.unix_seconds()), i64::try_from(limit).unwrap_or(i64::MAX));
        let docs: Vec<String> = self
            .with(move |conn| {
                let mut statement = conn.prepare_cached(DUE_SESSIONS).map_err(db)?;
                let rows = statement.query_map(params![now, limit], |row| row.get(0)).map_err(db)?;
                rows.collect::<Result<_, _>>().map_err(db)
            })
            .await?;
        docs.iter().map(|doc| decode("session", doc)).collect()
    }
}

impl IdempotencyStore for SqliteStore {
    async fn get_idempotency(
        &self,
        merchant_id: &MerchantId,
        key: &IdempotencyKey,
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
            (record.hash.to_string(), record.merchant_id.to_string(), encode("api key", &unused(record))?);
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
        Ok(self.api_keys_where("WHERE k.hash = ?1", Some(hash.to_string())).await?.pop())
    }

    async fn find_api_key_by_id(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>> {
        // Ids are derived from hashes, which SQL cannot compute: look through
        // the keys, which the embedded store holds a handful of.
        let records = self.api_keys_where("", None).await?;
        Ok(records.into_iter().find(|record| record.id() == *id))
    }

    async fn list_api_keys(&self, merchant_id: &MerchantId) -> StoreResult<Vec<ApiKeyRecord>> {
        let mut records = self.api_keys_where("WHERE k.merchant_id = ?1", Some(merchant_id.to_string())).await?;
        records.sort_by_key(|record| (record.created_at, record.id()));
        Ok(records)
    }

    async fn revoke_api_key(&self, hash: &ApiKeyHash) -> StoreResult<bool> {
        let hash = hash.to_string();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(db)?;
            tx.execute("DELETE FROM api_key_use WHERE hash = ?1", [&hash]).map_err(db)?;
            let deleted = tx.execute("DELETE FROM api_keys WHERE hash = ?1", [&hash]).map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn record_api_key_use(&self, hash: &ApiKeyHash, day: Timestamp) -> StoreResult<()> {
        let (hash, day) = (hash.to_string(), int(day.unix_seconds()));
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO api_key_use (hash, last_used_on) SELECT hash, ?2 FROM api_keys WHERE hash = ?1 \
                 ON CONFLICT (hash) DO UPDATE SET last_used_on = excluded.last_used_on \
                 WHERE last_used_on < excluded.last_used_on",
                params![hash, day],
            )
            .map(drop)
            .map_err(db)
        })
        .await
    }
}

/// The record as `create_api_key` stores it: usage is kept apart.
fn unused(record: &ApiKeyRecord) -> ApiKeyRecord {
    ApiKeyRecord { last_used_on: None, ..record.clone() }
}

impl SqliteStore {
    /// API key records (with their last day of use) matching `filter`.
    async fn api_keys_where(&self, filter: &'static str, param: Option<String>) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows: Vec<(String, Option<i64>)> = self
            .with(move |conn| {
                let sql = format!(
                    "SELECT k.doc, u.last_used_on FROM api_keys k LEFT JOIN api_key_use u ON u.hash = k.hash {filter}"
                );
                let mut statement = conn.prepare(&sql).map_err(db)?;
                let map = |row: &rusqlite::Row<'_>| Ok((row.get(0)?, row.get(1)?));
                let rows = match param {
                    Some(param) => statement.query_map([param], map),
                    None => statement.query_map([], map),
                };
                rows.map_err(db)?.collect::<Result<_, _>>().map_err(db)
            })
            .await?;
        rows.into_iter()
            .map(|(doc, last_used_on)| {
                let record: ApiKeyRecord = decode("api key", &doc)?;
                Ok(ApiKeyRecord {
                    last_used_on: last_used_on.map(|day| Timestamp::from_unix_seconds(day as u64)),
                    ..record
                })
            })
            .collect()
    }
}

impl CursorStore for SqliteStore {
    async fn get_cursor(&self, chain_id: ChainId) -> StoreResult<Option<ChainCursor>> {
        let id = int(chain_id.get());
        let block: Option<i64> = self
            .with(move |conn| {
                conn.query_row("SELECT last_scanned_block FROM cursors WHERE chain_id = ?1", [id], |row| row.get(0))
                    .optional()
                    .map_err(db)
            })
            .await?;
        Ok(block.map(|block| ChainCursor { chain_id, last_scanned_block: block as u64 }))
    }

    async fn advance_cursor(&self, previous: Option<ChainCursor>, next: ChainCursor) -> StoreResult<()> {
        if previous.is_some_and(|p| p.chain_id != next.chain_id) {
            return Err(StoreError::Conflict("cursor belongs to another chain"));
        }
        let (id, block) = (int(next.chain_id.get()), int(next.last_scanned_block));
        let previous = previous.map(|p| int(p.last_scanned_block));
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
            let written = match previous {
                None => match tx
                    .execute("INSERT INTO cursors (chain_id, last_scanned_block) VALUES (?1, ?2)", params![id, block])
                {
                    Err(e) if is_unique_violation(&e) => 0,
                    other => other.map_err(db)?,
                },
                Some(previous) => tx
                    .execute(
                        "UPDATE cursors SET last_scanned_block = ?1 WHERE chain_id = ?2 AND last_scanned_block = ?3",
                        params![block, id, previous],
                    )
                    .map_err(db)?,
            };
            if written != 1 {
                return Err(StoreError::Conflict("cursor moved"));
            }
            tx.commit().map_err(db)
        })
        .await
    }
}

impl PayoutStore for SqliteStore {
    async fn create_payout(&self, intent: &PayoutIntent) -> StoreResult<()> {
        let doc = encode("payout", intent)?;
        let (id, version) = (intent.payout_id.to_string(), int(intent.version));
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
            match tx.execute("INSERT INTO payouts (id, version, doc) VALUES (?1, ?2, ?3)", params![id, version, doc]) {
                Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict("payout already exists")),
                other => other.map_err(db)?,
            };
            tx.commit().map_err(db)
        })
        .await
    }

    async fn get_payout(&self, payout_id: &PayoutId) -> StoreResult<Option<PayoutIntent>> {
        let id = payout_id.to_string();
        let doc: Option<String> = self
            .with(move |conn| {
                conn.query_row("SELECT doc FROM payouts WHERE id = ?1", [id], |row| row.get(0)).optional().map_err(db)
            })
            .await?;
        doc.map(|doc| decode("payout", &doc)).transpose()
    }

    async fn update_payout(&self, intent: &PayoutIntent) -> StoreResult<()> {
        let doc = encode("payout", intent)?;
        let previous = intent.version.checked_sub(1).ok_or(StoreError::Conflict("payout version changed"))?;
        let (id, version, previous) = (intent.payout_id.to_string(), int(intent.version), int(previous));
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
            let updated = tx
                .execute(
                    "UPDATE payouts SET version = ?1, doc = ?2 WHERE id = ?3 AND version = ?4",
                    params![version, doc, id, previous],
                )
                .map_err(db)?;
            if updated != 1 {
                return Err(StoreError::Conflict("payout version changed"));
            }
            tx.commit().map_err(db)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_sessions_are_read_through_the_partial_index() {
        let connection = Connection::open_in_memory().expect("open");
        connection.execute_batch(SCHEMA).expect("schema");
        let mut statement = connection.prepare(&format!("EXPLAIN QUERY PLAN {DUE_SESSIONS}")).expect("explain");
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
