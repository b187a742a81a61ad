//! The DynamoDB adapter: one table, generic keys `pk`/`sk`, the item type in
//! `type`, the domain object as a JSON document in `doc` beside the
//! attributes that conditions, indexes and TTL need.
//!
//! | item        | pk                                  | sk            | other attributes                                                       |
//! |-------------|-------------------------------------|---------------|------------------------------------------------------------------------|
//! | session     | `SESSION#<id>`                      | `SESSION`     | `version`, `status`, `merchantId`, `expiresAt`, `openShard` while open |
//! | receiver    | `RECEIVER#EVM#<address>`            | `RECEIVER`    | `sessionId`                                                            |
//! | receiver claim | `RECEIVERS#<UTC day>`            | `<claimedAt>#<address>` | `receiver`, `sessionId`, `claimedAt`, `expiresAt`, `ttl`; the receiver log (see `receivers`) |
//! | idempotency | `IDEMPOTENCY#<merchant>#<key>`      | `IDEMPOTENCY` | `expiresAt`, `ttl`                                                     |
//! | merchant    | `MERCHANT#<id>`                     | `MERCHANT`    |                                                                        |
//! | API key     | `APIKEY#<sha256>`                   | `APIKEY`      | `merchantId`, `keyId`, `lastUsedOn`; beside it a listing and a by-id item (see `api_keys`) |
//! | cursor      | `CURSOR#<chainId>`                  | `CURSOR`      | `lastScannedBlock` (no `doc`)                                          |
//! | deposit     | `DEPOSIT#<chainId:txHash:logIndex>` | `DEPOSIT`     | `version`, `sessionId`; `outboxQueue`, `outboxAt` until routed         |
//! | payout      | `PAYOUT#<payoutId>`                 | `PAYOUT`      | `version`                                                              |
//! | webhook     | `MERCHANT#<id>`                     | `WEBHOOK#<wh_…>` | `createdAt` (listed by a Query on the merchant's `pk`)              |
//! | webhook count | `MERCHANT#<id>`                   | `WEBHOOKS`    | `webhookCount`, kept in the same transaction as each create/delete     |
//! | event       | `EVENT#<uuid>`                      | `EVENT`       | `merchantId`, `sessionId`, `kind`, `createdAt`; written in the session change's transaction; `outboxQueue`, `outboxAt` until fanned out |
//! | delivery    | `EVENT#<uuid>`                      | `DELIVERY#<wh_…>` | `version`, `merchantId`; `outboxQueue`, `outboxAt` until succeeded; `ttl` once succeeded |
//!
//! `openShard` is present only on sessions still waiting for the payer, so
//! the `open-sessions` index (`openShard`, `expiresAt`) is sparse. Its
//! value is `OPEN#<0..15>`, the shard a hash of the session id picks; the
//! `outboxQueue` values below are sharded the same way (`EVENT_PENDING#3`),
//! by the event, delivery (event and endpoint) or deposit id, and every
//! listing reads all shards in parallel and merges them ([`shards`]).
//!
//! The `outbox` index (`outboxQueue`, `outboxAt`) is sparse too: it holds
//! the webhook worker's three queues and the deposit recovery sweep's, one
//! per `outboxQueue`:
//!
//! | `outboxQueue`     | items                               | `outboxAt`                                  |
//! |-------------------|-------------------------------------|---------------------------------------------|
//! | `EVENT_PENDING`   | events not fanned out yet           | the event's `createdAt`                     |
//! | `DELIVERY_DUE`    | unfinished (pending, sending) deliveries | [`ferry_domain::WebhookDelivery::wake_at`] |
//! | `DELIVERY_PARKED` | parked deliveries                   | the delivery's creation                     |
//! | `DEPOSIT_RECOVERY` | deposits whose routing has not finished | [`crate::DepositRecord::recover_at`]    |
//!
//! A fan-out removes the event's two attributes in the transaction that
//! puts its deliveries; a succeeded delivery has neither (and a `ttl`).
//!
//! Creates are conditional on `attribute_not_exists(pk)`, updates on
//! `version = :previous` (a cursor: `lastScannedBlock = :previous`); a lost
//! condition is [`StoreError::Conflict`].

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    KeysAndAttributes, Projection, ProjectionType, Put, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem,
};
use ferry_domain::{
    ApiKeyHash, ApiKeyId, ChainId, DepositId, DepositRecord, EventId, EvmAddress, IdempotencyKey, Merchant, MerchantId,
    PayoutId, PayoutIntent, Session, SessionEvent, SessionId, Timestamp,
};

use crate::{
    ApiKeyRecord, ChainCursor, CreateSessionError, CursorStore, DepositStore, EventStore, ExpiryStore,
    IdempotencyRecord, IdempotencyStore, MerchantStore, PayoutStore, Recorded, SessionChange, SessionStore, StoreError,
    StoreResult, decode, encode,
};

/// The name of the sparse index over open sessions by expiry.
pub const OPEN_SESSIONS_INDEX: &str = "open-sessions";
/// The `openShard` queue of open sessions, sharded (see [`shards`]).
const OPEN_SHARD: &str = "OPEN";
/// The name of the sparse index of the webhook worker's queues
/// (`outboxQueue`, `outboxAt`).
pub const OUTBOX_INDEX: &str = "outbox";
/// The `outboxQueue` of events not fanned out yet.
const EVENT_PENDING: &str = "EVENT_PENDING";
/// The `outboxQueue` of deposits whose routing has not finished.
const DEPOSIT_RECOVERY: &str = "DEPOSIT_RECOVERY";

mod api_keys;
mod deliveries;
mod receivers;
mod shards;
mod webhooks;

use shards::{ShardedQuery, sharded};

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn session_key(id: &SessionId) -> Item {
    key(format!("SESSION#{id}"), "SESSION")
}

fn receiver_key(receiver: &EvmAddress) -> Item {
    key(format!("RECEIVER#EVM#{}", receiver.to_lowercase_hex()), "RECEIVER")
}

fn idempotency_key(merchant_id: &MerchantId, idempotency_key: &IdempotencyKey) -> Item {
    key(format!("IDEMPOTENCY#{merchant_id}#{idempotency_key}"), "IDEMPOTENCY")
}

fn merchant_key(id: &MerchantId) -> Item {
    key(format!("MERCHANT#{id}"), "MERCHANT")
}

fn api_key_key(hash: &ApiKeyHash) -> Item {
    key(format!("APIKEY#{hash}"), "APIKEY")
}

fn cursor_key(chain_id: ChainId) -> Item {
    key(format!("CURSOR#{chain_id}"), "CURSOR")
}

fn deposit_key(id: &DepositId) -> Item {
    key(format!("DEPOSIT#{id}"), "DEPOSIT")
}

fn payout_key(payout_id: &PayoutId) -> Item {
    key(format!("PAYOUT#{payout_id}"), "PAYOUT")
}

fn event_key(id: &EventId) -> Item {
    key(format!("EVENT#{id}"), "EVENT")
}

/// The outbox item: the event's document beside what a dispatcher filters on.
fn event_item(event: &SessionEvent) -> StoreResult<Item> {
    let mut item = event_key(&event.id);
    item.insert("type".into(), s("event"));
    item.insert("merchantId".into(), s(event.merchant_id.to_string()));
    item.insert("sessionId".into(), s(event.session_id.to_string()));
    item.insert("kind".into(), s(event.kind.as_str()));
    item.insert("createdAt".into(), n(event.created_at.unix_seconds()));
    // Pending until fanned out (see `deliveries`).
    item.insert("outboxQueue".into(), s(sharded(EVENT_PENDING, &event.id.to_string())));
    item.insert("outboxAt".into(), n(event.created_at.unix_seconds()));
    item.insert("doc".into(), s(encode("event", event)?));
    Ok(item)
}

fn deposit_item(record: &DepositRecord) -> StoreResult<Item> {
    let mut item = deposit_key(&record.id());
    item.insert("type".into(), s("deposit"));
    item.insert("version".into(), n(record.version));
    item.insert("sessionId".into(), s(record.session_id.to_string()));
    // In the recovery sweep's queue until routing finishes.
    if let Some(recover_at) = record.recover_at {
        item.insert("outboxQueue".into(), s(sharded(DEPOSIT_RECOVERY, &record.id().to_string())));
        item.insert("outboxAt".into(), n(recover_at.unix_seconds()));
    }
    item.insert("doc".into(), s(encode("deposit", record)?));
    Ok(item)
}

fn payout_item(intent: &PayoutIntent) -> StoreResult<Item> {
    let mut item = payout_key(&intent.payout_id);
    item.insert("type".into(), s("payout"));
    item.insert("version".into(), n(intent.version));
    item.insert("doc".into(), s(encode("payout", intent)?));
    Ok(item)
}

fn session_item(session: &Session) -> StoreResult<Item> {
    let mut item = session_key(&session.id);
    item.insert("type".into(), s("session"));
    item.insert("version".into(), n(session.version()));
    item.insert("status".into(), s(session.status().as_str()));
    item.insert("merchantId".into(), s(session.merchant_id.to_string()));
    item.insert("expiresAt".into(), n(session.expires_at.unix_seconds()));
    if session.status().is_open() {
        item.insert("openShard".into(), s(sharded(OPEN_SHARD, &session.id.to_string())));
    }
    item.insert("doc".into(), s(encode("session", session)?));
    Ok(item)
}

fn doc_of<T: serde::de::DeserializeOwned>(what: &'static str, item: &Item) -> StoreResult<T> {
    match item.get("doc") {
        Some(AttributeValue::S(doc)) => decode(what, doc),
        _ => Err(StoreError::corrupt(what, MissingAttribute("doc"))),
    }
}

fn number_of(what: &'static str, item: &Item, attribute: &'static str) -> StoreResult<u64> {
    match item.get(attribute) {
        Some(AttributeValue::N(number)) => number.parse().map_err(|e| StoreError::corrupt(what, e)),
        _ => Err(StoreError::corrupt(what, MissingAttribute(attribute))),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("item has no attribute {0}")]
struct MissingAttribute(&'static str);

fn put(item: Item, table: &str, condition: &str, values: Option<Item>) -> StoreResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .set_expression_attribute_values(values)
        .build()
        .map_err(StoreError::backend)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// What a cancelled transaction's reasons say, item by item.
fn cancellation_codes<R>(
    error: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<String>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => Some(
            cancelled.cancellation_reasons().iter().map(|reason| reason.code().unwrap_or("None").to_string()).collect(),
        ),
        _ => None,
    }
}

/// A cancellation caused only by failed conditions or a concurrent
/// transaction: a lost race, not a broken backend.
fn lost_race(codes: &[String]) -> bool {
    codes.iter().any(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict")
        && codes.iter().all(|c| c == "None" || c == "ConditionalCheckFailed" || c == "TransactionConflict")
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// A client from the standard AWS configuration chain (environment,
    /// profile, instance role). `AWS_ENDPOINT_URL` points it at a local
    /// DynamoDB-compatible service.
    pub async fn from_env(table: impl Into<String>) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(Client::new(&config), table)
    }

    /// A client for a local DynamoDB-compatible endpoint with dummy credentials.
    pub async fn local(endpoint: &str, table: impl Into<String>) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "ferry-local",
            ))
            .load()
            .await;
        Self::new(Client::new(&config), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The DynamoDB client, for tests that write items as older versions did.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the table as `template.yaml` declares it, if it does not
    /// exist yet. For local development and tests; deployments get the
    /// table from CloudFormation.
    pub async fn ensure_table(&self) -> StoreResult<()> {
        let exists = self.client.describe_table().table_name(&self.table).send().await;
        if exists.is_ok() {
            return Ok(());
        }
        let attribute = |name: &str, kind: ScalarAttributeType| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
                .map_err(StoreError::backend)
        };
        let key_element = |name: &str, kind: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(StoreError::backend)
        };
        let open_sessions = GlobalSecondaryIndex::builder()
            .index_name(OPEN_SESSIONS_INDEX)
            .key_schema(key_element("openShard", KeyType::Hash)?)
            .key_schema(key_element("expiresAt", KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(StoreError::backend)?;
        let outbox = GlobalSecondaryIndex::builder()
            .index_name(OUTBOX_INDEX)
            .key_schema(key_element("outboxQueue", KeyType::Hash)?)
            .key_schema(key_element("outboxAt", KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(StoreError::backend)?;
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("pk", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("sk", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("openShard", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("expiresAt", ScalarAttributeType::N)?)
            .attribute_definitions(attribute("outboxQueue", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("outboxAt", ScalarAttributeType::N)?)
            .key_schema(key_element("pk", KeyType::Hash)?)
            .key_schema(key_element("sk", KeyType::Range)?)
            .global_secondary_indexes(open_sessions)
            .global_secondary_indexes(outbox)
            .send()
            .await
            .map_err(StoreError::backend)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("ttl")
                    .build()
                    .map_err(StoreError::backend)?,
            )
            .send()
            .await
            .map_err(StoreError::backend)?;
        // A new table holds no claims from before the receiver log.
        self.start_receiver_log(Timestamp::from_unix_seconds(0)).await
    }

    /// The items at `keys` (distinct: BatchGetItem refuses a request that
    /// repeats one), in one consistent `BatchGetItem` per 100 keys (its
    /// limit), asking again for the keys DynamoDB leaves unprocessed
    /// (throttling) after a short pause that doubles each time.
    async fn batch_get(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(StoreError::backend)?;
            let mut pause = std::time::Duration::from_millis(50);
            loop {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(StoreError::backend)?;
                let (responses, unprocessed) = (output.responses, output.unprocessed_keys);
                items.extend(responses.and_then(|mut tables| tables.remove(&self.table)).unwrap_or_default());
                match unprocessed.and_then(|mut tables| tables.remove(&self.table)) {
                    Some(unprocessed) if !unprocessed.keys().is_empty() => {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(std::time::Duration::from_secs(2));
                        pending = unprocessed;
                    }
                    _ => break,
                }
            }
        }
        Ok(items)
    }

    async fn get_item(&self, key: Item) -> StoreResult<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::backend)?;
        Ok(output.item)
    }

    /// Puts `item` if `condition` holds; `false` if it did not.
    async fn put_if(&self, item: Item, condition: &str, values: Option<Item>) -> StoreResult<bool> {
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                Ok(false)
            }
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    /// Puts `item` if no item has its key yet.
    async fn put_new(&self, item: Item, conflict: &'static str) -> StoreResult<()> {
        if self.put_if(item, "attribute_not_exists(pk)", None).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(conflict))
        }
    }

    /// Replaces the item stored at `version - 1` with `item` (at `version`).
    async fn put_next_version(&self, item: Item, version: u64, conflict: &'static str) -> StoreResult<()> {
        let previous = version.checked_sub(1).ok_or(StoreError::Conflict(conflict))?;
        let values = HashMap::from([(":previous".to_string(), n(previous))]);
        if self.put_if(item, "version = :previous", Some(values)).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(conflict))
        }
    }

    /// The documents of every item `query` finds (decoded as `what`), page
    /// after page until `limit` of them (if any) or the end.
    async fn query_docs<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        query: QueryFluentBuilder,
        limit: Option<usize>,
    ) -> StoreResult<Vec<T>> {
        self.query_items(query, limit).await?.iter().map(|item| doc_of(what, item)).collect()
    }

    /// Every item `query` finds, page after page until `limit` of them (if
    /// any) or the end.
    async fn query_items(&self, query: QueryFluentBuilder, limit: Option<usize>) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut page = query.clone().set_exclusive_start_key(start.take());
            if let Some(limit) = limit {
                if items.len() >= limit {
                    break;
                }
                page = page.limit(i32::try_from(limit - items.len()).unwrap_or(i32::MAX));
            }
            let output = page.send().await.map_err(StoreError::backend)?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        if let Some(limit) = limit {
            items.truncate(limit);
        }
        Ok(items)
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactOutcome> {
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match cancellation_codes(&e) {
                Some(codes) if lost_race(&codes) => Err(TransactOutcome::Cancelled(codes)),
                _ => Err(TransactOutcome::Failed(StoreError::backend(e))),
            },
        }
    }
}

enum TransactOutcome {
    /// Reason codes, one per item, in order.
    Cancelled(Vec<String>),
    Failed(StoreError),
}

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

impl MerchantStore for DynamoStore {
    async fn create_merchant(&self, merchant: &Merchant) -> StoreResult<()> {
        let mut item = merchant_key(&merchant.id);
        item.insert("type".into(), s("merchant"));
        item.insert("doc".into(), s(encode("merchant", merchant)?));
        self.put_new(item, "merchant already exists").await
    }

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>> {
        let item = self.get_item(merchant_key(id)).await?;
        item.map(|item| doc_of("merchant", &item)).transpose()
    }

    async fn create_api_key(&self, record: &ApiKeyRecord) -> StoreResult<()> {
        self.put_api_key(record).await
    }

    async fn find_api_key(&self, hash: &ApiKeyHash) -> StoreResult<Option<ApiKeyRecord>> {
        self.get_api_key(hash).await
    }

    async fn find_api_key_by_id(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>> {
        self.get_api_key_by_id(id).await
    }

    async fn list_api_keys(&self, merchant_id: &MerchantId) -> StoreResult<Vec<ApiKeyRecord>> {
        self.query_api_keys(merchant_id).await
    }

    async fn revoke_api_key(&self, hash: &ApiKeyHash) -> StoreResult<bool> {
        self.delete_api_key(hash).await
    }

    async fn record_api_key_use(&self, hash: &ApiKeyHash, day: Timestamp) -> StoreResult<()> {
        self.touch_api_key(hash, day).await
    }
}

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
