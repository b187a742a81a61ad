//! [`DeliveryStore`] in memory: scans, fine for tests.

use ferry_domain::{DeliveryState, EventId, SessionEvent, Timestamp, WebhookDelivery, WebhookId};

use super::MemoryStore;
use crate::{DeliveryStore, StoreError, StoreResult};

impl DeliveryStore for MemoryStore {
    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<SessionEvent>> {
        let state = self.state();
        let mut pending: Vec<SessionEvent> =
            state.pending_events.iter().filter_map(|id| state.events.get(id)).cloned().collect();
        pending.sort_by_key(|event| (event.created_at, event.id));
        pending.truncate(limit);
        Ok(pending)
    }

    async fn fan_out(&self, event_id: &EventId, deliveries: &[WebhookDelivery]) -> StoreResult<()> {
        let mut state = self.state();
        if !state.pending_events.contains(event_id) {
            return Err(StoreError::Conflict("event is not pending"));
        }
        if deliveries.iter().any(|d| d.event_id != *event_id) {
            return Err(StoreError::Conflict("delivery belongs to another event"));
        }
        if deliveries.iter().any(|d| state.deliveries.contains_key(&(d.event_id, d.webhook_id))) {
            return Err(StoreError::Conflict("delivery already exists"));
        }
        state.pending_events.remove(event_id);
        for delivery in deliveries {
            state.deliveries.insert((delivery.event_id, delivery.webhook_id), delivery.clone());
        }
        Ok(())
    }

    async fn get_delivery(&self, event_id: &EventId, webhook_id: &WebhookId) -> StoreResult<Option<WebhookDelivery>> {
        Ok(self.state().deliveries.get(&(*event_id, *webhook_id)).cloned())
    }

    async fn list_deliveries(&self, event_id: &EventId) -> StoreResult<Vec<WebhookDelivery>> {
        let state = self.state();
        let mut deliveries: Vec<WebhookDelivery> =
            state.deliveries.values().filter(|d| d.event_id == *event_id).cloned().collect();
        deliveries.sort_by_key(|d| d.webhook_id);
        Ok(deliveries)
    }

    async fn update_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<()> {
        let mut state = self.state();
        let key = (delivery.event_id, delivery.webhook_id);
        let current = state.deliveries.get(&key).ok_or(StoreError::Conflict("delivery does not exist"))?;
        if current.version.checked_add(1) != Some(delivery.version) {
            return Err(StoreError::Conflict("delivery version changed"));
        }
        state.deliveries.insert(key, delivery.clone());
        Ok(())
    }

    async fn due_deliveries(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<WebhookDelivery>> {
        let state = self.state();
        let mut due: Vec<WebhookDelivery> =
            state.deliveries.values().filter(|d| d.wake_at().is_some_and(|at| at <= now)).cloned().collect();
        due.sort_by_key(|d| (d.wake_at(), d.event_id, d.webhook_id));
        due.truncate(limit);
        Ok(due)
    }

    async fn parked_deliveries(&self, limit: usize) -> StoreResult<Vec<WebhookDelivery>> {
        let state = self.state();
        let mut parked: Vec<WebhookDelivery> =
            state.deliveries.values().filter(|d| d.state == DeliveryState::Parked).cloned().collect();
        parked.sort_by_key(|d| (d.created_at, d.event_id, d.webhook_id));
        parked.truncate(limit);
        Ok(parked)
    }
}
