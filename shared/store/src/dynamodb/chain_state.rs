//! What the chain workers keep on DynamoDB: block cursors, deposits and payouts.

use std::collections::HashMap;

use ferry_domain::{ChainId, DepositId, DepositRecord, PayoutId, PayoutIntent, Timestamp};

use super::{
    DEPOSIT_RECOVERY, DynamoStore, cursor_key, deposit_item, deposit_key, doc_of, n, number_of, payout_item,
    payout_key, s,
};
use crate::{ChainCursor, CursorStore, DepositStore, PayoutStore, Recorded, StoreError, StoreResult};

impl CursorStore for DynamoStore {
    async fn get_cursor(&self, chain_id: ChainId) -> StoreResult<Option<ChainCursor>> {
        let Some(item) = self.get_item(cursor_key(chain_id)).await? else {
            return Ok(None);
        };
        let last_scanned_block = number_of("cursor", &item, "lastScannedBlock")?;
        Ok(Some(ChainCursor { chain_id, last_scanned_block }))
    }

    async fn advance_cursor(&self, previous: Option<ChainCursor>, next: ChainCursor) -> StoreResult<()> {
        if previous.is_some_and(|p| p.chain_id != next.chain_id) {
            return Err(StoreError::Conflict("cursor belongs to another chain"));
        }
        let mut item = cursor_key(next.chain_id);
        item.insert("type".into(), s("cursor"));
        item.insert("lastScannedBlock".into(), n(next.last_scanned_block));
        let written = match previous {
            None => self.put_if(item, "attribute_not_exists(pk)", None).await?,
            Some(previous) => {
                let values = HashMap::from([(":previous".to_string(), n(previous.last_scanned_block))]);
                self.put_if(item, "lastScannedBlock = :previous", Some(values)).await?
            }
        };
        if written { Ok(()) } else { Err(StoreError::Conflict("cursor moved")) }
    }
}

impl DepositStore for DynamoStore {
    async fn record_deposit(&self, record: &DepositRecord) -> StoreResult<Recorded> {
        let item = deposit_item(record)?;
        let new = self.put_if(item, "attribute_not_exists(pk)", None).await?;
        Ok(if new { Recorded::New } else { Recorded::AlreadyRecorded })
    }

    async fn get_deposit(&self, id: &DepositId) -> StoreResult<Option<DepositRecord>> {
        let item = self.get_item(deposit_key(id)).await?;
        item.map(|item| doc_of("deposit", &item)).transpose()
    }

    async fn update_deposit(&self, record: &DepositRecord) -> StoreResult<()> {
        self.put_next_version(deposit_item(record)?, record.version, "deposit version changed").await
    }

    /// The `DEPOSIT_RECOVERY` queue of the `outbox` index, soonest first.
    async fn deposits_due_for_recovery(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<DepositRecord>> {
        self.outbox("deposit", DEPOSIT_RECOVERY, Some(now), limit).await
    }
}

impl PayoutStore for DynamoStore {
    async fn create_payout(&self, intent: &PayoutIntent) -> StoreResult<()> {
        self.put_new(payout_item(intent)?, "payout already exists").await
    }

    async fn get_payout(&self, payout_id: &PayoutId) -> StoreResult<Option<PayoutIntent>> {
        let item = self.get_item(payout_key(payout_id)).await?;
        item.map(|item| doc_of("payout", &item)).transpose()
    }

    async fn update_payout(&self, intent: &PayoutIntent) -> StoreResult<()> {
        self.put_next_version(payout_item(intent)?, intent.version, "payout version changed").await
    }
}
