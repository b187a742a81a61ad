//! What the chain workers keep in memory: block cursors, deposits, payouts and the receiver log.

use ferry_domain::{ChainId, DepositId, DepositRecord, PayoutId, PayoutIntent, Timestamp};

use super::MemoryStore;
use crate::{ChainCursor, CursorStore, DepositStore, PayoutStore, Recorded, StoreError, StoreResult};

impl CursorStore for MemoryStore {
    async fn get_cursor(&self, chain_id: ChainId) -> StoreResult<Option<ChainCursor>> {
        Ok(self.state().cursors.get(&chain_id).copied())
    }

    async fn advance_cursor(&self, previous: Option<ChainCursor>, next: ChainCursor) -> StoreResult<()> {
        let mut state = self.state();
        if previous.is_some_and(|p| p.chain_id != next.chain_id) {
            return Err(StoreError::Conflict("cursor belongs to another chain"));
        }
        if state.cursors.get(&next.chain_id) != previous.as_ref() {
            return Err(StoreError::Conflict("cursor moved"));
        }
        state.cursors.insert(next.chain_id, next);
        Ok(())
    }
}

impl DepositStore for MemoryStore {
    async fn record_deposit(&self, record: &DepositRecord) -> StoreResult<Recorded> {
        let mut state = self.state();
        let id = record.id();
        if state.deposits.contains_key(&id) {
            return Ok(Recorded::AlreadyRecorded);
        }
        state.deposits.insert(id, record.clone());
        Ok(Recorded::New)
    }

    async fn get_deposit(&self, id: &DepositId) -> StoreResult<Option<DepositRecord>> {
        Ok(self.state().deposits.get(id).cloned())
    }

    async fn update_deposit(&self, record: &DepositRecord) -> StoreResult<()> {
        let mut state = self.state();
        let id = record.id();
        let current = state.deposits.get(&id).ok_or(StoreError::Conflict("deposit does not exist"))?;
        if current.version.checked_add(1) != Some(record.version) {
            return Err(StoreError::Conflict("deposit version changed"));
        }
        state.deposits.insert(id, record.clone());
        Ok(())
    }

    async fn deposits_due_for_recovery(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<DepositRecord>> {
        let state = self.state();
        let mut due: Vec<_> =
            state.deposits.values().filter(|record| record.recover_at.is_some_and(|at| at <= now)).cloned().collect();
        due.sort_by_key(|record| (record.recover_at, record.id()));
        due.truncate(limit);
        Ok(due)
    }
}

impl PayoutStore for MemoryStore {
    async fn create_payout(&self, intent: &PayoutIntent) -> StoreResult<()> {
        let mut state = self.state();
        if state.payouts.contains_key(&intent.payout_id) {
            return Err(StoreError::Conflict("payout already exists"));
        }
        state.payouts.insert(intent.payout_id.clone(), intent.clone());
        Ok(())
    }

    async fn get_payout(&self, payout_id: &PayoutId) -> StoreResult<Option<PayoutIntent>> {
        Ok(self.state().payouts.get(payout_id).cloned())
    }

    async fn update_payout(&self, intent: &PayoutIntent) -> StoreResult<()> {
        let mut state = self.state();
        let current = state.payouts.get(&intent.payout_id).ok_or(StoreError::Conflict("payout does not exist"))?;
        if current.version.checked_add(1) != Some(intent.version) {
            return Err(StoreError::Conflict("payout version changed"));
        }
        state.payouts.insert(intent.payout_id.clone(), intent.clone());
        Ok(())
    }
}

impl crate::ReceiverLog for MemoryStore {
    async fn receivers_claimed_since(
        &self,
        since: Timestamp,
        _now: Timestamp,
    ) -> StoreResult<Vec<crate::ReceiverClaim>> {
        Ok(self.state().receiver_log.iter().filter(|claim| claim.claimed_at >= since).copied().collect())
    }

    /// The log has every claim this store ever held.
    async fn receiver_log_start(&self, _now: Timestamp) -> StoreResult<Timestamp> {
        Ok(Timestamp::from_unix_seconds(0))
    }
}
