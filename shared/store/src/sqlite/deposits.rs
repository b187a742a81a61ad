//! [`DepositStore`] in SQLite: `deposits` holds each record's document
//! beside what conditions and the recovery sweep need. `recover_at` is
//! [`DepositRecord::recover_at`] (`NULL` once routing finished), read through
//! the partial index `deposits_due_for_recovery`.

use ferry_domain::{DepositId, DepositRecord, Timestamp};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{SqliteStore, db, int};
use crate::{DepositStore, Recorded, StoreError, StoreResult, decode, encode};

/// Adds `recover_at` to a `deposits` table made before it existed (its
/// records read as finished, as their documents do) and the index over it.
pub(super) fn migrate(connection: &Connection) -> rusqlite::Result<()> {
    let has_column =
        connection.prepare("SELECT 1 FROM pragma_table_info('deposits') WHERE name = 'recover_at'")?.exists([])?;
    if !has_column {
        connection.execute_batch("ALTER TABLE deposits ADD COLUMN recover_at INTEGER NULL;")?;
    }
    connection.execute_batch(
        "CREATE INDEX IF NOT EXISTS deposits_due_for_recovery ON deposits (recover_at, id)
         WHERE recover_at IS NOT NULL;",
    )
}

fn recover_at(record: &DepositRecord) -> Option<i64> {
    record.recover_at.map(|at| int(at.unix_seconds()))
}

impl DepositStore for SqliteStore {
    async fn record_deposit(&self, record: &DepositRecord) -> StoreResult<Recorded> {
        let doc = encode("deposit", record)?;
        let (id, session_id, version) = (record.id().to_string(), record.session_id.to_string(), int(record.version));
        let recover_at = recover_at(record);
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
            let inserted = tx
                .execute(
                    "INSERT INTO deposits (id, session_id, version, doc, recover_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (id) DO NOTHING",
                    params![id, session_id, version, doc, recover_at],
                )
                .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(if inserted == 1 { Recorded::New } else { Recorded::AlreadyRecorded })
        })
        .await
    }

    async fn get_deposit(&self, id: &DepositId) -> StoreResult<Option<DepositRecord>> {
        let id = id.to_string();
        let doc: Option<String> = self
            .with(move |conn| {
                conn.query_row("SELECT doc FROM deposits WHERE id = ?1", [id], |row| row.get(0)).optional().map_err(db)
            })
            .await?;
        doc.map(|doc| decode("deposit", &doc)).transpose()
    }

    async fn update_deposit(&self, record: &DepositRecord) -> StoreResult<()> {
        let doc = encode("deposit", record)?;
        let previous = record.version.checked_sub(1).ok_or(StoreError::Conflict("deposit version changed"))?;
        let (id, session_id, version, previous) =
            (record.id().to_string(), record.session_id.to_string(), int(record.version), int(previous));
        let recover_at = recover_at(record);
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
            let updated = tx
                .execute(
                    "UPDATE deposits SET session_id = ?1, version = ?2, doc = ?3, recover_at = ?4
                     WHERE id = ?5 AND version = ?6",
                    params![session_id, version, doc, recover_at, id, previous],
                )
                .map_err(db)?;
            if updated != 1 {
                return Err(StoreError::Conflict("deposit version changed"));
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn deposits_due_for_recovery(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<DepositRecord>> {
        let (now, limit) = (int(now.unix_seconds()), i64::try_from(limit).unwrap_or(i64::MAX));
        let docs: Vec<String> = self
            .with(move |conn| {
                let mut statement = conn
                    .prepare_cached(
                        "SELECT doc FROM deposits INDEXED BY deposits_due_for_recovery
                         WHERE recover_at IS NOT NULL AND recover_at <= ?1 ORDER BY recover_at, id LIMIT ?2",
                    )
                    .map_err(db)?;
                let rows = statement.query_map(params![now, limit], |row| row.get(0)).map_err(db)?;
                rows.collect::<Result<_, _>>().map_err(db)
            })
            .await?;
        docs.iter().map(|doc| decode("deposit", doc)).collect()
    }
}
