//! Merchants and their API keys in SQLite; a key's last day of use is kept apart, in `api_key_use`.

use ferry_domain::{ApiKeyHash, ApiKeyId, Merchant, MerchantId, Timestamp};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, db, int, is_unique_violation};
use crate::{ApiKeyRecord, MerchantStore, StoreError, StoreResult, decode, encode};

impl MerchantStore for SqliteStore {
    async fn create_merchant(&self, merchant: &Merchant) -> StoreResult<()> {
        let (id, doc) = (merchant.id.to_string(), encode("merchant", merchant)?);
        self.with(move |conn| match conn.execute("INSERT INTO merchants (id, doc) VALUES (?1, ?2)", params![id, doc]) {
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("merchant already exists")),
            other => other.map(drop).map_err(db),
        })
        .await
    }

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>> {
        let id = id.to_string();
        let doc: Option<String> = self
            .with(move |conn| {
                conn.query_row("SELECT doc FROM merchants WHERE id = ?1", [id], |row| row.get(0)).optional().map_err(db)
            })
            .await?;
        doc.map(|doc| decode("merchant", &doc)).transpose()
    }

    async fn create_api_key(&self, record: &ApiKeyRecord) -> StoreResult<()> {
        let (hash, merchant_id, doc) =
            (record.hash.to_string(), record.merchant_id.to_string(), encode("api key", &unused(record))?);
        self.with(move |conn| {
            match conn.execute(
                "INSERT INTO api_keys (hash, merchant_id, doc) VALUES (?1, ?2, ?3)",
                params![hash, merchant_id, doc],
            ) {
                // Both a duplicate hash and a missing merchant (foreign key) land here.
                Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("api key exists or merchant does not")),
                other => other.map(drop).map_err(db),
            }
        })
        .await
    }

    async fn find_api_key(&self, hash: &ApiKeyHash) -> StoreResult<Option<ApiKeyRecord>> {
        Ok(self.api_keys_where("WHERE k.hash = ?1", Some(hash.to_string())).await?.pop())
    }

    async fn find_api_key_by_id(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>> {
        // Ids are derived from hashes, which SQL cannot compute: look through
        // the keys, which the embedded store holds a handful of.
        let records = self.api_keys_where("", None).await?;
        Ok(records.into_iter().find(|record| record.id() == *id))
    }

    async fn list_api_keys(&self, merchant_id: &MerchantId) -> StoreResult<Vec<ApiKeyRecord>> {
        let mut records = self.api_keys_where("WHERE k.merchant_id = ?1", Some(merchant_id.to_string())).await?;
        records.sort_by_key(|record| (record.created_at, record.id()));
        Ok(records)
    }

    async fn revoke_api_key(&self, hash: &ApiKeyHash) -> StoreResult<bool> {
        let hash = hash.to_string();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(db)?;
            tx.execute("DELETE FROM api_key_use WHERE hash = ?1", [&hash]).map_err(db)?;
            let deleted = tx.execute("DELETE FROM api_keys WHERE hash = ?1", [&hash]).map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn record_api_key_use(&self, hash: &ApiKeyHash, day: Timestamp) -> StoreResult<()> {
        let (hash, day) = (hash.to_string(), int(day.unix_seconds()));
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO api_key_use (hash, last_used_on) SELECT hash, ?2 FROM api_keys WHERE hash = ?1 \
                 ON CONFLICT (hash) DO UPDATE SET last_used_on = excluded.last_used_on \
                 WHERE last_used_on < excluded.last_used_on",
                params![hash, day],
            )
            .map(drop)
            .map_err(db)
        })
        .await
    }
}

/// The record as `create_api_key` stores it: usage is kept apart.
fn unused(record: &ApiKeyRecord) -> ApiKeyRecord {
    ApiKeyRecord { last_used_on: None, ..record.clone() }
}

impl SqliteStore {
    /// API key records (with their last day of use) matching `filter`.
    async fn api_keys_where(&self, filter: &'static str, param: Option<String>) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows: Vec<(String, Option<i64>)> = self
            .with(move |conn| {
                let sql = format!(
                    "SELECT k.doc, u.last_used_on FROM api_keys k LEFT JOIN api_key_use u ON u.hash = k.hash {filter}"
                );
                let mut statement = conn.prepare(&sql).map_err(db)?;
                let map = |row: &rusqlite::Row<'_>| Ok((row.get(0)?, row.get(1)?));
                let rows = match param {
                    Some(param) => statement.query_map([param], map),
                    None => statement.query_map([], map),
                };
                rows.map_err(db)?.collect::<Result<_, _>>().map_err(db)
            })
            .await?;
        rows.into_iter()
            .map(|(doc, last_used_on)| {
                let record: ApiKeyRecord = decode("api key", &doc)?;
                Ok(ApiKeyRecord {
                    last_used_on: last_used_on.map(|day| Timestamp::from_unix_seconds(day as u64)),
                    ..record
                })
            })
            .collect()
    }
}
