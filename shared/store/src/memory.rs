//! An in-memory store for unit tests. Same semantics as the durable ones,
//! nothing survives the process.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use ferry_domain::{
    ApiKeyHash, ChainId, DepositId, DepositRecord, EventId, EvmAddress, IdempotencyKey, Merchant, MerchantId, PayoutId,
    PayoutIntent, Session, SessionEvent, SessionId,
};

use crate::{ApiKeyRecord, ChainCursor, IdempotencyRecord};

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

mod api_keys;
mod chain_state;
mod deliveries;
mod sessions;
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
