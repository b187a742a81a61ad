//! Block cursors and payouts in SQLite (deposits: [`super::deposits`]).

use ferry_domain::{ChainId, PayoutId, PayoutIntent};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{SqliteStore, db, int, is_unique_violation};
use crate::{ChainCursor, CursorStore, PayoutStore, StoreError, StoreResult, decode, encode};

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
