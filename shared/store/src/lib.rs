//! Persistence ports and their adapters.
//!
//! The ports are small traits, one per aggregate, so that a handler asks for
//! exactly what it uses. Three adapters implement all of them:
//!
//! - [`memory::MemoryStore`]: in-process, for unit tests;
//! - [`sqlite::SqliteStore`] (feature `sqlite`): the embedded, durable store
//!   behind `ferry serve`;
//! - [`dynamodb::DynamoStore`] (feature `dynamodb`): the single-table design
//!   deployed with SAM.
//!
//! Every change to a session is a conditional write on its `version`, so two
//! writers racing on one session can never both win. One set of conformance
//! checks (`conformance`, feature `testing`, with the sample data other
//! crates' tests use) runs against every adapter, one test a check.

use std::collections::HashMap;
use std::future::Future;

use ferry_domain::{
    ApiKeyHash, ApiKeyId, ApiKeyLabel, ChainId, DepositId, DepositRecord, EventId, EvmAddress, IdempotencyKey,
    Merchant, MerchantId, PayoutId, PayoutIntent, RequestHash, Session, SessionEvent, SessionId, Timestamp,
    WebhookDelivery, WebhookId,
};
use serde::{Deserialize, Serialize};

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod memory;
pub mod retry;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use retry::{DEFAULT_ATTEMPTS, RetryError, retry_on_conflict};

pub use ferry_runtime::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the item changed, or already exists.
    #[error("conflicting write: {0}")]
    Conflict(&'static str),
    /// A stored item could not be decoded.
    #[error("stored {what} is corrupt")]
    Corrupt {
        what: &'static str,
        #[source]
        source: BoxError,
    },
    /// The backing service failed.
    #[error("store backend failed")]
    Backend(#[source] BoxError),
}

impl StoreError {
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(error))
    }

    pub fn corrupt(what: &'static str, error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Corrupt { what, source: Box::new(error) }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A remembered `POST /v1/sessions` for an `Idempotency-Key`: which request
/// it was (a hash of its body) and the response to replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub merchant_id: MerchantId,
    pub key: IdempotencyKey,
    pub request_hash: RequestHash,
    pub response_status: u16,
    pub response_body: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// An API key as stored: only its hash, whose it is, and what the operator
/// sees of it. Records stored before labels and usage existed have neither
/// and still decode (both default to `None`); their id is derived from the
/// hash like every other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub hash: ApiKeyHash,
    pub merchant_id: MerchantId,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<ApiKeyLabel>,
    /// The start (00:00 UTC) of the last day the key authenticated a request;
    /// kept by [`MerchantStore::record_api_key_use`], ignored by `create_api_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_on: Option<Timestamp>,
}

impl ApiKeyRecord {
    /// A new key's record: not used yet.
    pub fn new(hash: ApiKeyHash, merchant_id: MerchantId, created_at: Timestamp, label: Option<ApiKeyLabel>) -> Self {
        Self { hash, merchant_id, created_at, label, last_used_on: None }
    }

    pub fn id(&self) -> ApiKeyId {
        ApiKeyId::of(&self.hash)
    }
}

/// Why creating a session did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CreateSessionError {
    /// The merchant already used this idempotency key (and it has not expired).
    #[error("idempotency key already used")]
    IdempotencyKeyExists,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A change to one session, written atomically: the new state (whose
/// `version` must be exactly one more than the stored one), when a deposit
/// address is assigned the index entry from that address back to the
/// session, and when the change emits one its event (the outbox: the
/// change and its event are stored together or not at all).
#[derive(Clone, Copy, Debug)]
pub struct SessionChange<'a> {
    pub session: &'a Session,
    pub claim_receiver: Option<EvmAddress>,
    /// Stored only if its id is new; otherwise the whole change loses.
    pub event: Option<&'a SessionEvent>,
}

impl<'a> SessionChange<'a> {
    pub fn new(session: &'a Session) -> Self {
        Self { session, claim_receiver: None, event: None }
    }

    pub fn claiming_receiver(mut self, receiver: EvmAddress) -> Self {
        self.claim_receiver = Some(receiver);
        self
    }

    pub fn emitting(mut self, event: &'a SessionEvent) -> Self {
        self.event = Some(event);
        self
    }
}

pub trait SessionStore: Send + Sync {
    /// Stores a new session (version 0) and, atomically with it, the
    /// idempotency record when one is given.
    fn create_session(
        &self,
        session: &Session,
        idempotency: Option<&IdempotencyRecord>,
    ) -> impl Future<Output = Result<(), CreateSessionError>> + Send;

    fn get_session(&self, id: &SessionId) -> impl Future<Output = StoreResult<Option<Session>>> + Send;

    /// Applies `change` if the stored session is at `change.session.version - 1`,
    /// the receiver (if any) is free or already this session's and the
    /// event's id (if any) is unused; otherwise [`StoreError::Conflict`] and
    /// nothing is written. The session, the receiver entry and the event are
    /// one atomic write.
    fn commit(&self, change: SessionChange<'_>) -> impl Future<Output = StoreResult<()>> + Send;

    /// The session a deposit address belongs to.
    fn find_session_by_receiver(
        &self,
        receiver: &EvmAddress,
    ) -> impl Future<Output = StoreResult<Option<SessionId>>> + Send;

    /// The sessions of those of `receivers` that belong to one, in as few
    /// round trips as the store allows (DynamoDB: one `BatchGetItem` per
    /// 100 addresses; SQLite: one query). Addresses may repeat. By default,
    /// one [`find_session_by_receiver`](Self::find_session_by_receiver) each.
    fn find_sessions_by_receivers(
        &self,
        receivers: &[EvmAddress],
    ) -> impl Future<Output = StoreResult<HashMap<EvmAddress, SessionId>>> + Send {
        async move {
            let mut found = HashMap::new();
            for receiver in receivers {
                if let Some(session_id) = self.find_session_by_receiver(receiver).await? {
                    found.insert(*receiver, session_id);
                }
            }
            Ok(found)
        }
    }
}

/// A deposit address as its session claimed it: what a chain watcher keeps
/// in memory so that it reads the store only for transfers into receivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiverClaim {
    pub receiver: EvmAddress,
    pub session_id: SessionId,
    /// When it was claimed: the payment method's `createdAt`.
    pub claimed_at: Timestamp,
    /// The session's `expiresAt`: a final session's receiver is watched
    /// until then plus the late-deposit window.
    pub expires_at: Timestamp,
}

impl ReceiverClaim {
    /// The claim a [`SessionChange`] makes, if it claims a receiver.
    pub fn of(change: &SessionChange<'_>) -> Option<Self> {
        let receiver = change.claim_receiver?;
        let session = change.session;
        let claimed_at = match &session.payment_method {
            Some(ferry_domain::PaymentMethod::Evm { receiver_address, created_at, .. })
                if *receiver_address == receiver =>
            {
                *created_at
            }
            _ => session.created_at,
        };
        Some(Self { receiver, session_id: session.id, claimed_at, expires_at: session.expires_at })
    }
}

/// The log of receiver claims, written by [`SessionStore::commit`] in the
/// same atomic write as the claim, read by time so that a watcher can load
/// the receivers it watches once and then only the new ones.
pub trait ReceiverLog: Send + Sync {
    /// Every claim with `claimed_at >= since` (and a claim time up to a day
    /// past `now`, for writers whose clocks run ahead), in no particular
    /// order. Consistent: every claim whose commit returned before the call
    /// began is listed (DynamoDB: strongly consistent Queries of one base
    /// table partition per UTC day, never an index).
    fn receivers_claimed_since(
        &self,
        since: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Vec<ReceiverClaim>>> + Send;

    /// Since when the log holds every claim: a version of Ferry from before
    /// the log claimed receivers without logging them. Memory and SQLite
    /// (which fills the log from its receivers when it first opens a
    /// database from before) answer the epoch; DynamoDB records `now` the
    /// first time it is asked (a table it creates itself starts at the epoch).
    fn receiver_log_start(&self, now: Timestamp) -> impl Future<Output = StoreResult<Timestamp>> + Send;
}

/// The outbox's events, as [`SessionStore::commit`] wrote them.
pub trait EventStore: Send + Sync {
    fn get_event(&self, id: &EventId) -> impl Future<Output = StoreResult<Option<SessionEvent>>> + Send;
}

/// The webhook worker's port: events still to be fanned out to their
/// merchant's endpoints, and each endpoint's delivery with its log.
///
/// Three sparse queues, each read by an index so that a worker's reads grow
/// with the work waiting, never with all events or deliveries: events not
/// yet fanned out (every event starts there, written by
/// [`SessionStore::commit`]), deliveries waiting for an attempt or a lapsed
/// claim (by [`WebhookDelivery::wake_at`]) and parked deliveries. Indexes
/// may lag behind the items (a GSI is eventually consistent): what they list
/// is re-read or written conditionally before it is acted on.
pub trait DeliveryStore: EventStore {
    /// Events not fanned out yet, oldest first, at most `limit`.
    fn pending_events(&self, limit: usize) -> impl Future<Output = StoreResult<Vec<SessionEvent>>> + Send;

    /// Fans an event out, atomically: stores its `deliveries` (all new; at
    /// most one per endpoint, so at most [`ferry_domain::webhook::MAX_WEBHOOKS_PER_MERCHANT`])
    /// and takes the event off the pending list. [`StoreError::Conflict`] and
    /// nothing written if it is not pending any more (another worker fanned
    /// it out) or a delivery exists.
    fn fan_out(
        &self,
        event_id: &EventId,
        deliveries: &[WebhookDelivery],
    ) -> impl Future<Output = StoreResult<()>> + Send;

    fn get_delivery(
        &self,
        event_id: &EventId,
        webhook_id: &WebhookId,
    ) -> impl Future<Output = StoreResult<Option<WebhookDelivery>>> + Send;

    /// An event's deliveries, by endpoint id.
    fn list_deliveries(&self, event_id: &EventId) -> impl Future<Output = StoreResult<Vec<WebhookDelivery>>> + Send;

    /// Replaces the delivery if the stored one is at `delivery.version - 1`.
    fn update_delivery(&self, delivery: &WebhookDelivery) -> impl Future<Output = StoreResult<()>> + Send;

    /// Unfinished deliveries with [`WebhookDelivery::wake_at`] `<= now`,
    /// soonest first, at most `limit`.
    fn due_deliveries(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<WebhookDelivery>>> + Send;

    /// Parked deliveries, oldest first (by creation), at most `limit`.
    fn parked_deliveries(&self, limit: usize) -> impl Future<Output = StoreResult<Vec<WebhookDelivery>>> + Send;
}

/// The expiry worker's port: the sparse index of open sessions by expiry.
pub trait ExpiryStore: SessionStore {
    /// Open sessions (`requires_payment_method`, `waiting_payment`) with
    /// `expires_at <= now`, oldest first, at most `limit`.
    ///
    /// Reads only the index of open sessions (DynamoDB: the sparse
    /// `open-sessions` GSI; SQLite: the partial index
    /// `sessions_open_by_expiry`), so the work grows with the sessions due,
    /// never with all sessions. The index may lag behind the table (a GSI is
    /// eventually consistent): a listed session may have changed since, and
    /// the conditional [`SessionStore::commit`] of its expiry decides.
    fn due_sessions(&self, now: Timestamp, limit: usize) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;
}

pub trait IdempotencyStore: Send + Sync {
    /// The live (unexpired at `now`) record for this merchant and key.
    fn get_idempotency(
        &self,
        merchant_id: &MerchantId,
        key: &IdempotencyKey,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Option<IdempotencyRecord>>> + Send;
}

pub trait MerchantStore: Send + Sync {
    fn create_merchant(&self, merchant: &Merchant) -> impl Future<Output = StoreResult<()>> + Send;

    fn get_merchant(&self, id: &MerchantId) -> impl Future<Output = StoreResult<Option<Merchant>>> + Send;

    /// Stores a key's hash for an existing merchant.
    fn create_api_key(&self, record: &ApiKeyRecord) -> impl Future<Output = StoreResult<()>> + Send;

    /// The key with this hash (a consistent read: a revoked key is gone at once).
    fn find_api_key(&self, hash: &ApiKeyHash) -> impl Future<Output = StoreResult<Option<ApiKeyRecord>>> + Send;

    /// The key with this id, for revoking it by the id `list_api_keys` shows.
    fn find_api_key_by_id(&self, id: &ApiKeyId) -> impl Future<Output = StoreResult<Option<ApiKeyRecord>>> + Send;

    /// The merchant's keys, oldest first.
    fn list_api_keys(&self, merchant_id: &MerchantId) -> impl Future<Output = StoreResult<Vec<ApiKeyRecord>>> + Send;

    /// Deletes the key; `false` if there was none. Once this returns, the key
    /// no longer authenticates.
    fn revoke_api_key(&self, hash: &ApiKeyHash) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Records that the key was used on `day` (a [`ferry_domain::utc_day`]):
    /// written only if the stored day is earlier or absent and the key still
    /// exists (a revoked key is never brought back). Callers skip the call
    /// when the record they just read already shows `day`, so a key costs at
    /// most one write a day (a few, if its first requests of the day race).
    fn record_api_key_use(&self, hash: &ApiKeyHash, day: Timestamp) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A chain watcher's progress: the last block whose logs were scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCursor {
    pub chain_id: ChainId,
    pub last_scanned_block: u64,
}

pub trait CursorStore: Send + Sync {
    fn get_cursor(&self, chain_id: ChainId) -> impl Future<Output = StoreResult<Option<ChainCursor>>> + Send;

    /// Moves the cursor from `previous` (`None`: it does not exist yet) to
    /// `next`; [`StoreError::Conflict`] if another watcher moved it first.
    fn advance_cursor(
        &self,
        previous: Option<ChainCursor>,
        next: ChainCursor,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Whether [`DepositStore::record_deposit`] stored something new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    New,
    AlreadyRecorded,
}

pub trait DepositStore: Send + Sync {
    /// Stores a newly seen deposit (version 0) unless one with its id exists.
    fn record_deposit(&self, record: &DepositRecord) -> impl Future<Output = StoreResult<Recorded>> + Send;

    fn get_deposit(&self, id: &DepositId) -> impl Future<Output = StoreResult<Option<DepositRecord>>> + Send;

    /// Replaces the record if the stored one is at `record.version - 1`.
    fn update_deposit(&self, record: &DepositRecord) -> impl Future<Output = StoreResult<()>> + Send;

    /// Deposits whose routing has not finished and whose
    /// [`recover_at`](DepositRecord::recover_at) is `<= now`, soonest first,
    /// at most `limit`: what the recovery sweep queues again. Reads a sparse
    /// index (DynamoDB: the `outbox` index's `DEPOSIT_RECOVERY` queue;
    /// SQLite: a partial index), so the work grows with the deposits due,
    /// never with all deposits. The index may lag: a listed record is
    /// changed only by a conditional write.
    fn deposits_due_for_recovery(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<DepositRecord>>> + Send;
}

pub trait PayoutStore: Send + Sync {
    /// Stores a new intent (version 0); [`StoreError::Conflict`] if one with
    /// its `payout_id` exists.
    fn create_payout(&self, intent: &PayoutIntent) -> impl Future<Output = StoreResult<()>> + Send;

    fn get_payout(&self, payout_id: &PayoutId) -> impl Future<Output = StoreResult<Option<PayoutIntent>>> + Send;

    /// Replaces the intent if the stored one is at `intent.version - 1`.
    fn update_payout(&self, intent: &PayoutIntent) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Why creating a webhook endpoint did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CreateWebhookError {
    /// The merchant already has `limit` endpoints.
    #[error("the merchant already has {limit} webhook endpoints")]
    LimitReached { limit: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A merchant's webhook endpoints. Every read and write is scoped to the
/// merchant: another merchant's endpoint id is simply not there.
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint unless its merchant already has `limit`. The
    /// count and the insert are one atomic step (DynamoDB: a per-merchant
    /// counter item updated conditionally in the insert's transaction;
    /// SQLite: one immediate transaction), so concurrent creates cannot
    /// exceed the limit.
    fn create_webhook(
        &self,
        endpoint: &ferry_domain::WebhookEndpoint,
        limit: usize,
    ) -> impl Future<Output = Result<(), CreateWebhookError>> + Send;

    fn get_webhook(
        &self,
        merchant_id: &MerchantId,
        id: &ferry_domain::WebhookId,
    ) -> impl Future<Output = StoreResult<Option<ferry_domain::WebhookEndpoint>>> + Send;

    /// The merchant's endpoints, oldest first (ties by id).
    fn list_webhooks(
        &self,
        merchant_id: &MerchantId,
    ) -> impl Future<Output = StoreResult<Vec<ferry_domain::WebhookEndpoint>>> + Send;

    /// Deletes the endpoint (freeing its place under the limit); `false` if
    /// the merchant has no endpoint with this id.
    fn delete_webhook(
        &self,
        merchant_id: &MerchantId,
        id: &ferry_domain::WebhookId,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Everything the API needs from a store (events and their delivery logs
/// for `GET /v1/events/{eventId}`).
pub trait Store:
    SessionStore + IdempotencyStore + MerchantStore + WebhookStore + DeliveryStore + Clone + 'static
{
}
impl<T: SessionStore + IdempotencyStore + MerchantStore + WebhookStore + DeliveryStore + Clone + 'static> Store for T {}

/// Everything the chain workers need from a store.
pub trait ChainStore: SessionStore + ReceiverLog + CursorStore + DepositStore + PayoutStore + Clone + 'static {}
impl<T: SessionStore + ReceiverLog + CursorStore + DepositStore + PayoutStore + Clone + 'static> ChainStore for T {}

#[cfg(any(feature = "sqlite", feature = "dynamodb"))]
/// Decodes a JSON document stored by an adapter.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(what: &'static str, json: &str) -> StoreResult<T> {
    serde_json::from_str(json).map_err(|e| StoreError::corrupt(what, e))
}

#[cfg(any(feature = "sqlite", feature = "dynamodb"))]
/// Encodes a value as the JSON document an adapter stores.
pub(crate) fn encode<T: Serialize>(what: &'static str, value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::corrupt(what, e))
}
