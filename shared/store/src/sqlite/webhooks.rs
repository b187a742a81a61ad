//! [`WebhookStore`] in SQLite: one row per endpoint; the per-merchant limit
//! is counted inside the insert's immediate (write-locked) transaction.

use ferry_domain::{MerchantId, WebhookEndpoint, WebhookId};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{SqliteStore, db, int, is_unique_violation};
use crate::{CreateWebhookError, StoreError, StoreResult, WebhookStore, decode, encode};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhooks (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_by_merchant ON webhooks (merchant_id, created_at, id);
";

impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, endpoint: &WebhookEndpoint, limit: usize) -> Result<(), CreateWebhookError> {
        let doc = encode("webhook", endpoint)?;
        let (id, merchant_id, created_at) =
            (endpoint.id.to_string(), endpoint.merchant_id.to_string(), int(endpoint.created_at.unix_seconds()));
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
            let count: i64 = tx
                .query_row("SELECT COUNT(*) FROM webhooks WHERE merchant_id = ?1", [&merchant_id], |row| row.get(0))
                .map_err(db)?;
            if usize::try_from(count).unwrap_or(usize::MAX) >= limit {
                return Ok(Err(CreateWebhookError::LimitReached { limit }));
            }
            match tx.execute(
                "INSERT INTO webhooks (id, merchant_id, created_at, doc) VALUES (?1, ?2, ?3, ?4)",
                params![id, merchant_id, created_at, doc],
            ) {
                Err(e) if is_unique_violation(&e) => {
                    return Ok(Err(StoreError::Conflict("webhook id already exists").into()));
                }
                other => other.map_err(db)?,
            };
            tx.commit().map_err(db)?;
            Ok(Ok(()))
        })
        .await?
    }

    async fn get_webhook(&self, merchant_id: &MerchantId, id: &WebhookId) -> StoreResult<Option<WebhookEndpoint>> {
        let (merchant_id, id) = (merchant_id.to_string(), id.to_string());
        let doc: Option<String> = self
            .with(move |conn| {
                conn.query_row(
                    "SELECT doc FROM webhooks WHERE id = ?1 AND merchant_id = ?2",
                    params![id, merchant_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db)
            })
            .await?;
        doc.map(|doc| decode("webhook", &doc)).transpose()
    }

    async fn list_webhooks(&self, merchant_id: &MerchantId) -> StoreResult<Vec<WebhookEndpoint>> {
        let merchant_id = merchant_id.to_string();
        let docs: Vec<String> = self
            .with(move |conn| {
                let mut statement = conn
                    .prepare("SELECT doc FROM webhooks WHERE merchant_id = ?1 ORDER BY created_at, id")
                    .map_err(db)?;
                let rows = statement.query_map([merchant_id], |row| row.get(0)).map_err(db)?;
                rows.collect::<Result<Vec<String>, _>>().map_err(db)
            })
            .await?;
        let mut endpoints: Vec<WebhookEndpoint> =
            docs.iter().map(|doc| decode("webhook", doc)).collect::<StoreResult<_>>()?;
        // Ids sort as text in SQL; sort by the domain order to match the other adapters.
        endpoints.sort_by_key(|e| (e.created_at, e.id));
        Ok(endpoints)
    }

    async fn delete_webhook(&self, merchant_id: &MerchantId, id: &WebhookId) -> StoreResult<bool> {
        let (merchant_id, id) = (merchant_id.to_string(), id.to_string());
        let deleted = self
            .with(move |conn| {
                conn.execute("DELETE FROM webhooks WHERE id = ?1 AND merchant_id = ?2", params![id, merchant_id])
                    .map_err(db)
            })
            .await?;
        Ok(deleted == 1)
    }
}
