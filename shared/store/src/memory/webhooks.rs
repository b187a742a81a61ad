//! [`WebhookStore`] in memory.

use ferry_domain::{MerchantId, WebhookEndpoint, WebhookId};

use super::MemoryStore;
use crate::{CreateWebhookError, StoreError, StoreResult, WebhookStore};

impl WebhookStore for MemoryStore {
    async fn create_webhook(&self, endpoint: &WebhookEndpoint, limit: usize) -> Result<(), CreateWebhookError> {
        let mut state = self.state();
        let key = (endpoint.merchant_id, endpoint.id);
        if state.webhooks.contains_key(&key) {
            return Err(StoreError::Conflict("webhook id already exists").into());
        }
        let count = state.webhooks.keys().filter(|(merchant, _)| *merchant == endpoint.merchant_id).count();
        if count >= limit {
            return Err(CreateWebhookError::LimitReached { limit });
        }
        state.webhooks.insert(key, endpoint.clone());
        Ok(())
    }

    async fn get_webhook(&self, merchant_id: &MerchantId, id: &WebhookId) -> StoreResult<Option<WebhookEndpoint>> {
        Ok(self.state().webhooks.get(&(*merchant_id, *id)).cloned())
    }

    async fn list_webhooks(&self, merchant_id: &MerchantId) -> StoreResult<Vec<WebhookEndpoint>> {
        let state = self.state();
        let mut endpoints: Vec<WebhookEndpoint> =
            state.webhooks.values().filter(|e| e.merchant_id == *merchant_id).cloned().collect();
        endpoints.sort_by_key(|e| (e.created_at, e.id));
        Ok(endpoints)
    }

    async fn delete_webhook(&self, merchant_id: &MerchantId, id: &WebhookId) -> StoreResult<bool> {
        Ok(self.state().webhooks.remove(&(*merchant_id, *id)).is_some())
    }
}
