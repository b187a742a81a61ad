//! Sessions, their events, expiry and idempotency records on DynamoDB.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use ferry_domain::{EventId, EvmAddress, IdempotencyKey, MerchantId, Session, SessionEvent, SessionId, Timestamp};

use super::shards::ShardedQuery;
use super::{
    DynamoStore, Item, MissingAttribute, OPEN_SESSIONS_INDEX, OPEN_SHARD, TransactOutcome, doc_of, event_item,
    event_key, idempotency_key, n, put, receiver_key, receivers, s, session_item, session_key,
};
use crate::{
    CreateSessionError, EventStore, ExpiryStore, IdempotencyRecord, IdempotencyStore, SessionChange, SessionStore,
    StoreError, StoreResult, encode,
};

impl SessionStore for DynamoStore {
    async fn create_session(
        &self,
        session: &Session,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), CreateSessionError> {
        let item = session_item(session)?;
        let Some(record) = idempotency else {
            return Ok(self.put_new(item, "session id already exists").await?);
        };
        let mut record_item = idempotency_key(&record.merchant_id, &record.key);
        record_item.insert("type".into(), s("idempotency"));
        record_item.insert("expiresAt".into(), n(record.expires_at.unix_seconds()));
        record_item.insert("ttl".into(), n(record.expires_at.unix_seconds()));
        record_item.insert("doc".into(), s(encode("idempotency record", record)?));
        let items = vec![
            put(
                record_item,
                &self.table,
                "attribute_not_exists(pk) OR expiresAt <= :now",
                Some(HashMap::from([(":now".to_string(), n(record.created_at.unix_seconds()))])),
            )?,
            put(item, &self.table, "attribute_not_exists(pk)", None)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactOutcome::Cancelled(codes)) if codes.first().is_some_and(|c| c != "None") => {
                Err(CreateSessionError::IdempotencyKeyExists)
            }
            Err(TransactOutcome::Cancelled(_)) => Err(StoreError::Conflict("session id already exists").into()),
            Err(TransactOutcome::Failed(e)) => Err(e.into()),
        }
    }

    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        let item = self.get_item(session_key(id)).await?;
        item.map(|item| doc_of("session", &item)).transpose()
    }

    /// One `PutItem` conditional on the version when the change is the
    /// session alone; otherwise one `TransactWriteItems` of the session's Put
    /// (`version = :previous`), the receiver's Put (free or already this
    /// session's) and the event's Put (`attribute_not_exists(pk)`).
    async fn commit(&self, change: SessionChange<'_>) -> StoreResult<()> {
        let session = change.session;
        let previous = session.version().checked_sub(1).ok_or(StoreError::Conflict("session version changed"))?;
        let condition = "version = :previous";
        let values = HashMap::from([(":previous".to_string(), n(previous))]);
        let item = session_item(session)?;
        if change.claim_receiver.is_none() && change.event.is_none() {
            return self.put_next_version(item, session.version(), "session version changed").await;
        }
        let mut items = vec![put(item, &self.table, condition, Some(values))?];
        // What a failed condition at each further position means.
        let mut conflicts = vec!["session version changed"];
        if let Some(receiver) = change.claim_receiver {
            let mut receiver_item = receiver_key(&receiver);
            receiver_item.insert("type".into(), s("receiver"));
            receiver_item.insert("sessionId".into(), s(session.id.to_string()));
            items.push(put(
                receiver_item,
                &self.table,
                "attribute_not_exists(pk) OR sessionId = :session",
                Some(HashMap::from([(":session".to_string(), s(session.id.to_string()))])),
            )?);
            conflicts.push("receiver belongs to another session");
        }
        if let Some(event) = change.event {
            items.push(put(event_item(event)?, &self.table, "attribute_not_exists(pk)", None)?);
            conflicts.push("event id already exists");
        }
        if let Some(claim) = crate::ReceiverClaim::of(&change) {
            // Unconditional: the claim's log entry (see `receivers`).
            let item = receivers::claim_item(&claim);
            let log =
                Put::builder().table_name(&self.table).set_item(Some(item)).build().map_err(StoreError::backend)?;
            items.push(TransactWriteItem::builder().put(log).build());
            conflicts.push("receiver log entry");
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactOutcome::Cancelled(codes)) => {
                // The session's own condition first: a stale version is the usual race.
                let failed = codes.iter().position(|c| c == "ConditionalCheckFailed").unwrap_or(0);
                Err(StoreError::Conflict(conflicts.get(failed).copied().unwrap_or("session version changed")))
            }
            Err(TransactOutcome::Failed(e)) => Err(e),
        }
    }

    async fn find_session_by_receiver(&self, receiver: &EvmAddress) -> StoreResult<Option<SessionId>> {
        let Some(item) = self.get_item(receiver_key(receiver)).await? else {
            return Ok(None);
        };
        receiver_session(&item).map(Some)
    }

    /// One consistent `BatchGetItem` per 100 distinct addresses (see
    /// `batch_get`).
    async fn find_sessions_by_receivers(
        &self,
        receivers: &[EvmAddress],
    ) -> StoreResult<HashMap<EvmAddress, SessionId>> {
        let by_pk: HashMap<String, EvmAddress> = receivers
            .iter()
            .map(|receiver| (format!("RECEIVER#EVM#{}", receiver.to_lowercase_hex()), *receiver))
            .collect();
        let items = self.batch_get(by_pk.values().map(receiver_key).collect()).await?;
        let mut found = HashMap::new();
        for item in &items {
            let receiver = match item.get("pk") {
                Some(AttributeValue::S(pk)) => by_pk.get(pk).copied(),
                _ => None,
            }
            .ok_or_else(|| StoreError::corrupt("receiver", MissingAttribute("pk")))?;
            found.insert(receiver, receiver_session(item)?);
        }
        Ok(found)
    }
}

/// The session a receiver item points at.
fn receiver_session(item: &Item) -> StoreResult<SessionId> {
    match item.get("sessionId") {
        Some(AttributeValue::S(id)) => id.parse().map_err(|e| StoreError::corrupt("receiver", e)),
        _ => Err(StoreError::corrupt("receiver", MissingAttribute("sessionId"))),
    }
}

impl EventStore for DynamoStore {
    async fn get_event(&self, id: &EventId) -> StoreResult<Option<SessionEvent>> {
        let item = self.get_item(event_key(id)).await?;
        item.map(|item| doc_of("event", &item)).transpose()
    }
}

impl ExpiryStore for DynamoStore {
    /// A Query per shard of the sparse `open-sessions` index (`openShard =
    /// "OPEN#<n>" AND expiresAt <= :now`, ascending, and the unsharded
    /// `OPEN` of sessions stored before sharding), all at once, merged by
    /// expiry: only open sessions are in the index, so the items read are
    /// the sessions due (at most `limit` per shard). The index is eventually
    /// consistent: a session just changed may still be listed as it was.
    async fn due_sessions(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<Session>> {
        let listing = ShardedQuery {
            index: OPEN_SESSIONS_INDEX,
            partition: "openShard",
            sort: "expiresAt",
            queue: OPEN_SHARD,
            until: Some(now.unix_seconds()),
        };
        self.query_sharded("session", listing, limit).await
    }
}

impl IdempotencyStore for DynamoStore {
    async fn get_idempotency(
        &self,
        merchant_id: &MerchantId,
        key: &IdempotencyKey,
        now: Timestamp,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let Some(item) = self.get_item(idempotency_key(merchant_id, key)).await? else {
            return Ok(None);
        };
        // TTL deletion is lazy: an expired record may still be readable.
        let record: IdempotencyRecord = doc_of("idempotency record", &item)?;
        Ok((record.expires_at > now).then_some(record))
    }
}
