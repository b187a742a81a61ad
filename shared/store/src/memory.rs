//! An in-memory store for unit tests. Same semantics as the durable ones,
//! nothing survives the process.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use ferry_domain::{
    ApiKeyHash, ApiKeyId, ChainId, DepositId, DepositRecord, EventId, EvmAddress, IdempotencyKey, Merchant, MerchantId,
    PayoutId, PayoutIntent, Session, SessionEvent, SessionId, Timestamp,
};

use crate::{
    ApiKeyRecord, ChainCursor, CreateSessionError, CursorStore, DepositStore, EventStore, ExpiryStore,
    IdempotencyRecord, IdempotencyStore, MerchantStore, PayoutStore, Recorded, SessionChange, SessionStore, StoreError,
    StoreResult,
};

#[derive(Default)]
struct State {
    sessions: HashMap<SessionId, Session>,
    receivers: HashMap<EvmAddress, SessionId>,
    receiver_log: Vec<crate::ReceiverClaim>,
    idempotency: HashMap<(MerchantId, IdempotencyKey), IdempotencyRecord>,
    merchants: HashMap<MerchantId, Merchant>,
    api_keys: HashMap<ApiKeyHash, ApiKeyRecord>,
    cursors: HashMap<ChainId, ChainCursor>,
    deposits: HashMap<DepositId, DepositRecord>,
    payouts: HashMap<PayoutId, PayoutIntent>,
    webhooks: HashMap<(MerchantId, ferry_domain::WebhookId), ferry_domain::WebhookEndpoint>,
    events: HashMap<EventId, SessionEvent>,
    /// Events not fanned out yet.
    pending_events: HashSet<EventId>,
    deliveries: HashMap<(EventId, ferry_domain::WebhookId), ferry_domain::WebhookDelivery>,
}

mod deliveries;
mod webhooks;

#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-updated:
        // every method checks all conditions before it mutates anything.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

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
