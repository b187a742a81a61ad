//! API keys on DynamoDB. Three items per key, written and deleted together
//! in one transaction:
//!
//! | item    | pk                 | sk             | attributes                                      |
//! |---------|--------------------|----------------|-------------------------------------------------|
//! | key     | `APIKEY#<sha256>`  | `APIKEY`       | `merchantId`, `doc`, `keyId`, `lastUsedOn`      |
//! | listing | `MERCHANT#<id>`    | `APIKEY#<key_…>` | `hash` (listed by a Query on the merchant's `pk`) |
//! | by id   | `APIKEYID#<key_…>` | `APIKEYID`     | `hash` (`revoke` by id, without the merchant)   |
//!
//! Authenticating is one consistent GetItem of the key item, which carries
//! the last day of use, so the caller knows without another read whether
//! today's use is recorded yet. Listing queries the merchant's listing items
//! and reads their key items in one consistent BatchGetItem per 100.
//!
//! Key items stored before ids existed have no `keyId` and no listing or
//! by-id items; they authenticate as before, can be revoked by the key, and
//! get their two items the first day they are used (so they are listed
//! from then on).

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, ReturnValue, TransactWriteItem, Update};
use ferry_domain::{ApiKeyHash, ApiKeyId, Merchant, MerchantId, Timestamp};

use super::{DynamoStore, Item, MissingAttribute, TransactOutcome, api_key_key, doc_of, key, merchant_key, n, put, s};
use crate::{ApiKeyRecord, MerchantStore, StoreError, StoreResult, encode};

const LISTING_PREFIX: &str = "APIKEY#";

fn listing_key(merchant_id: &MerchantId, id: &ApiKeyId) -> Item {
    key(format!("MERCHANT#{merchant_id}"), &format!("{LISTING_PREFIX}{id}"))
}

fn by_id_key(id: &ApiKeyId) -> Item {
    key(format!("APIKEYID#{id}"), "APIKEYID")
}

/// The hash a listing or by-id item points at.
fn pointed_hash(item: &Item) -> StoreResult<ApiKeyHash> {
    match item.get("hash") {
        Some(AttributeValue::S(hash)) => hash.parse().map_err(|e| StoreError::corrupt("api key pointer", e)),
        _ => Err(StoreError::corrupt("api key pointer", MissingAttribute("hash"))),
    }
}

/// A key item as a record, with its last day of use.
fn record_of(item: &Item) -> StoreResult<ApiKeyRecord> {
    let record: ApiKeyRecord = doc_of("api key", item)?;
    let last_used_on = match item.get("lastUsedOn") {
        Some(AttributeValue::N(day)) => {
            Some(Timestamp::from_unix_seconds(day.parse().map_err(|e| StoreError::corrupt("api key", e))?))
        }
        _ => None,
    };
    Ok(ApiKeyRecord { last_used_on, ..record })
}

/// The listing and by-id items of a key.
fn pointer_items(record: &ApiKeyRecord) -> [Item; 2] {
    let id = record.id();
    let hash = s(record.hash.to_string());
    let mut listing = listing_key(&record.merchant_id, &id);
    listing.insert("type".into(), s("api_key_listing"));
    listing.insert("hash".into(), hash.clone());
    listing.insert("createdAt".into(), n(record.created_at.unix_seconds()));
    let mut by_id = by_id_key(&id);
    by_id.insert("type".into(), s("api_key_id"));
    by_id.insert("hash".into(), hash);
    [listing, by_id]
}

impl DynamoStore {
    pub(super) async fn put_api_key(&self, record: &ApiKeyRecord) -> StoreResult<()> {
        let stored = ApiKeyRecord { last_used_on: None, ..record.clone() };
        let mut item = api_key_key(&record.hash);
        item.insert("type".into(), s("api_key"));
        item.insert("merchantId".into(), s(record.merchant_id.to_string()));
        item.insert("keyId".into(), s(record.id().to_string()));
        item.insert("doc".into(), s(encode("api key", &stored)?));
        let merchant_exists = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(merchant_key(&record.merchant_id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(StoreError::backend)?;
        let [listing, by_id] = pointer_items(record);
        let items = vec![
            TransactWriteItem::builder().condition_check(merchant_exists).build(),
            put(item, &self.table, "attribute_not_exists(pk)", None)?,
            put(listing, &self.table, "attribute_not_exists(pk)", None)?,
            put(by_id, &self.table, "attribute_not_exists(pk)", None)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactOutcome::Cancelled(_)) => Err(StoreError::Conflict("api key exists or merchant does not")),
            Err(TransactOutcome::Failed(e)) => Err(e),
        }
    }

    pub(super) async fn get_api_key(&self, hash: &ApiKeyHash) -> StoreResult<Option<ApiKeyRecord>> {
        self.get_item(api_key_key(hash)).await?.as_ref().map(record_of).transpose()
    }

    pub(super) async fn get_api_key_by_id(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>> {
        let Some(pointer) = self.get_item(by_id_key(id)).await? else {
            return Ok(None);
        };
        self.get_api_key(&pointed_hash(&pointer)?).await
    }

    pub(super) async fn query_api_keys(&self, merchant_id: &MerchantId) -> StoreResult<Vec<ApiKeyRecord>> {
        let mut hashes = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(format!("MERCHANT#{merchant_id}")))
                .expression_attribute_values(":prefix", s(LISTING_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(StoreError::backend)?;
            for item in output.items() {
                hashes.push(pointed_hash(item)?);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        let mut records = self.batch_get_api_keys(&hashes).await?;
        records.sort_by_key(|record| (record.created_at, record.id()));
        Ok(records)
    }

    /// The key items of `hashes` (distinct), in bulk (see `batch_get`).
    async fn batch_get_api_keys(&self, hashes: &[ApiKeyHash]) -> StoreResult<Vec<ApiKeyRecord>> {
        let items = self.batch_get(hashes.iter().map(api_key_key).collect()).await?;
        items.iter().map(record_of).collect()
    }

    pub(super) async fn delete_api_key(&self, hash: &ApiKeyHash) -> StoreResult<bool> {
        let Some(record) = self.get_api_key(hash).await? else {
            return Ok(false);
        };
        let delete = |key: Item, condition: Option<&str>| {
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .set_condition_expression(condition.map(str::to_string))
                .build()
                .map(|delete| TransactWriteItem::builder().delete(delete).build())
                .map_err(StoreError::backend)
        };
        let id = record.id();
        let items = vec![
            delete(api_key_key(hash), Some("attribute_exists(pk)"))?,
            delete(listing_key(&record.merchant_id, &id), None)?,
            delete(by_id_key(&id), None)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            // Revoked by someone else in between.
            Err(TransactOutcome::Cancelled(_)) => Ok(false),
            Err(TransactOutcome::Failed(e)) => Err(e),
        }
    }

    pub(super) async fn touch_api_key(&self, hash: &ApiKeyHash, day: Timestamp) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(api_key_key(hash)))
            .update_expression("SET lastUsedOn = :day")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(lastUsedOn) OR lastUsedOn < :day)")
            .expression_attribute_values(":day", n(day.unix_seconds()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let old = match result {
            Ok(output) => output.attributes.unwrap_or_default(),
            // Gone (revoked), or today's use is already recorded.
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                return Ok(());
            }
            Err(e) => return Err(StoreError::backend(e)),
        };
        if old.contains_key("keyId") {
            return Ok(());
        }
        self.index_legacy_api_key(&old).await
    }

    /// Gives a key stored before ids existed its listing and by-id items,
    /// if it still exists.
    async fn index_legacy_api_key(&self, item: &Item) -> StoreResult<()> {
        let record = record_of(item)?;
        let id = record.id();
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(api_key_key(&record.hash)))
            .update_expression("SET keyId = :id")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":id", s(id.to_string()))
            .build()
            .map_err(StoreError::backend)?;
        let [listing, by_id] = pointer_items(&record);
        let items = vec![
            TransactWriteItem::builder().update(mark).build(),
            put(listing, &self.table, "attribute_not_exists(pk)", None)?,
            put(by_id, &self.table, "attribute_not_exists(pk)", None)?,
        ];
        match self.transact(items).await {
            // Cancelled: revoked meanwhile, or indexed by a racing request.
            Ok(()) | Err(TransactOutcome::Cancelled(_)) => Ok(()),
            Err(TransactOutcome::Failed(e)) => Err(e),
        }
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn legacy_key_items_decode_without_label_or_usage() {
        let hash = ferry_domain::ApiKey::from_random_bytes([3; 16]).hash();
        let merchant = MerchantId::from_random_bytes([4; 16]);
        let doc = format!(r#"{{"hash":"{hash}","merchant_id":"{merchant}","created_at":1700000000}}"#);
        let mut item: Item = HashMap::from([("doc".to_string(), s(doc))]);
        let record = record_of(&item).expect("legacy record");
        assert_eq!(record, ApiKeyRecord::new(hash, merchant, Timestamp::from_unix_seconds(1_700_000_000), None));
        item.insert("lastUsedOn".into(), n(1_699_920_000));
        assert_eq!(record_of(&item).expect("used").last_used_on, Some(Timestamp::from_unix_seconds(1_699_920_000)));
    }
}
