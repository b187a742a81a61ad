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
    ApiKeyHash, ChainId, DepositId, DepositRecord, EventId, EvmAddress, IdempotencyKey, MerchantId, PayoutId,
    PayoutIntent, Session, SessionEvent, SessionId, Timestamp,
};

use crate::{StoreError, StoreResult, decode, encode};

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
mod chain_state;
mod deliveries;
mod receivers;
mod sessions;
mod shards;
mod webhooks;

use shards::sharded;

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
