//! Merchants and their API keys in memory.

use ferry_domain::{ApiKeyHash, ApiKeyId, Merchant, MerchantId, Timestamp};

use super::MemoryStore;
use crate::{ApiKeyRecord, MerchantStore, StoreError, StoreResult};

impl MerchantStore for MemoryStore {
    async fn create_merchant(&self, merchant: &Merchant) -> StoreResult<()> {
        let mut state = self.state();
        if state.merchants.contains_key(&merchant.id) {
            return Err(StoreError::Conflict("merchant already exists"));
        }
        state.merchants.insert(merchant.id, merchant.clone());
        Ok(())
    }

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>> {
        Ok(self.state().merchants.get(id).cloned())
    }

    async fn create_api_key(&self, record: &ApiKeyRecord) -> StoreResult<()> {
        let mut state = self.state();
        if !state.merchants.contains_key(&record.merchant_id) {
            return Err(StoreError::Conflict("merchant does not exist"));
        }
        if state.api_keys.contains_key(&record.hash) {
            return Err(StoreError::Conflict("api key already exists"));
        }
        state.api_keys.insert(record.hash, ApiKeyRecord { last_used_on: None, ..record.clone() });
        Ok(())
    }

    async fn find_api_key(&self, hash: &ApiKeyHash) -> StoreResult<Option<ApiKeyRecord>> {
        Ok(self.state().api_keys.get(hash).cloned())
    }

    async fn find_api_key_by_id(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>> {
        Ok(self.state().api_keys.values().find(|record| record.id() == *id).cloned())
    }

    async fn list_api_keys(&self, merchant_id: &MerchantId) -> StoreResult<Vec<ApiKeyRecord>> {
        let mut keys: Vec<ApiKeyRecord> =
            self.state().api_keys.values().filter(|record| record.merchant_id == *merchant_id).cloned().collect();
        keys.sort_by_key(|record| (record.created_at, record.id()));
        Ok(keys)
    }

    async fn revoke_api_key(&self, hash: &ApiKeyHash) -> StoreResult<bool> {
        Ok(self.state().api_keys.remove(hash).is_some())
    }

    async fn record_api_key_use(&self, hash: &ApiKeyHash, day: Timestamp) -> StoreResult<()> {
        if let Some(record) = self.state().api_keys.get_mut(hash)
            && record.last_used_on.is_none_or(|stored| stored < day)
        {
            record.last_used_on = Some(day);
        }
        Ok(())
    }
}
