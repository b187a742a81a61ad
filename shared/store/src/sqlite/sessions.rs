//! Sessions, their events, expiry and idempotency records in SQLite.

use std::collections::HashMap;

use ferry_domain::{EventId, EvmAddress, IdempotencyKey, MerchantId, Session, SessionEvent, SessionId, Timestamp};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{SqliteStore, db, int, is_unique_violation, receivers};
use crate::{
    CreateSessionError, EventStore, ExpiryStore, IdempotencyRecord, IdempotencyStore, SessionChange, SessionStore,
    StoreError, StoreResult, decode, encode,
};

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
pub(super) const DUE_SESSIONS: &str = "SELECT doc FROM sessions INDEXED BY sessions_open_by_expiry
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
