//! Sessions, their events, expiry and idempotency records in memory.

use std::collections::HashMap;

use ferry_domain::{EventId, EvmAddress, IdempotencyKey, MerchantId, Session, SessionEvent, SessionId, Timestamp};

use super::MemoryStore;
use crate::{
    CreateSessionError, EventStore, ExpiryStore, IdempotencyRecord, IdempotencyStore, SessionChange, SessionStore,
    StoreError, StoreResult,
};

impl SessionStore for MemoryStore {
    async fn create_session(
        &self,
        session: &Session,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), CreateSessionError> {
        let mut state = self.state();
        if let Some(record) = idempotency {
            let key = (record.merchant_id, record.key.clone());
            if state.idempotency.get(&key).is_some_and(|r| r.expires_at > record.created_at) {
                return Err(CreateSessionError::IdempotencyKeyExists);
            }
        }
        if state.sessions.contains_key(&session.id) {
            return Err(StoreError::Conflict("session id already exists").into());
        }
        if let Some(record) = idempotency {
            state.idempotency.insert((record.merchant_id, record.key.clone()), record.clone());
        }
        state.sessions.insert(session.id, session.clone());
        Ok(())
    }

    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        Ok(self.state().sessions.get(id).cloned())
    }

    async fn commit(&self, change: SessionChange<'_>) -> StoreResult<()> {
        let mut state = self.state();
        let next = change.session;
        let current = state.sessions.get(&next.id).ok_or(StoreError::Conflict("session does not exist"))?;
        if current.version().checked_add(1) != Some(next.version()) {
            return Err(StoreError::Conflict("session version changed"));
        }
        if let Some(receiver) = change.claim_receiver
            && state.receivers.get(&receiver).is_some_and(|owner| *owner != next.id)
        {
            return Err(StoreError::Conflict("receiver belongs to another session"));
        }
        if let Some(event) = change.event
            && state.events.contains_key(&event.id)
        {
            return Err(StoreError::Conflict("event id already exists"));
        }
        // Every condition held: write it all under the one lock.
        if let Some(receiver) = change.claim_receiver {
            state.receivers.insert(receiver, next.id);
        }
        if let Some(claim) = crate::ReceiverClaim::of(&change) {
            state.receiver_log.push(claim);
        }
        if let Some(event) = change.event {
            state.events.insert(event.id, event.clone());
            state.pending_events.insert(event.id);
        }
        state.sessions.insert(next.id, next.clone());
        Ok(())
    }

    async fn find_session_by_receiver(&self, receiver: &EvmAddress) -> StoreResult<Option<SessionId>> {
        Ok(self.state().receivers.get(receiver).copied())
    }

    async fn find_sessions_by_receivers(
        &self,
        receivers: &[EvmAddress],
    ) -> StoreResult<HashMap<EvmAddress, SessionId>> {
        let state = self.state();
        Ok(receivers.iter().filter_map(|r| state.receivers.get(r).map(|id| (*r, *id))).collect())
    }
}

impl EventStore for MemoryStore {
    async fn get_event(&self, id: &EventId) -> StoreResult<Option<SessionEvent>> {
        Ok(self.state().events.get(id).cloned())
    }
}

impl ExpiryStore for MemoryStore {
    /// A scan: fine for tests.
    async fn due_sessions(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<Session>> {
        let state = self.state();
        let mut due: Vec<Session> =
            state.sessions.values().filter(|s| s.status().is_open() && s.expires_at <= now).cloned().collect();
        due.sort_by_key(|s| (s.expires_at, s.id));
        due.truncate(limit);
        Ok(due)
    }
}

impl IdempotencyStore for MemoryStore {
    async fn get_idempotency(
        &self,
        merchant_id: &MerchantId,
        key: &IdempotencyKey,
        now: Timestamp,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let state = self.state();
        let record = state.idempotency.get(&(*merchant_id, key.clone()));
        Ok(record.filter(|r| r.expires_at > now).cloned())
    }
}
