//! [`WebhookStore`] on DynamoDB. An endpoint lives under its merchant's
//! partition (`pk = MERCHANT#<merchant>`, `sk = WEBHOOK#<id>`), so listing
//! is a Query of that partition, never a Scan. Beside them, the counter item
//! (`sk = WEBHOOKS`, `webhookCount`) is incremented conditionally
//! (`webhookCount < limit`) in the same transaction as each insert and
//! decremented in the same transaction as each delete: concurrent creates
//! cannot exceed the limit.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};
use ferry_domain::{MerchantId, WebhookEndpoint, WebhookId};

use super::{DynamoStore, Item, TransactOutcome, doc_of, key, n, put, s};
use crate::{CreateWebhookError, StoreError, StoreResult, WebhookStore, encode};

const WEBHOOK_PREFIX: &str = "WEBHOOK#";
const COUNTER_SK: &str = "WEBHOOKS";

fn partition(merchant_id: &MerchantId) -> String {
    format!("MERCHANT#{merchant_id}")
}

fn webhook_key(merchant_id: &MerchantId, id: &WebhookId) -> Item {
    key(partition(merchant_id), &format!("{WEBHOOK_PREFIX}{id}"))
}

fn counter_key(merchant_id: &MerchantId) -> Item {
    key(partition(merchant_id), COUNTER_SK)
}

fn values(pairs: &[(&str, AttributeValue)]) -> Option<Item> {
    Some(pairs.iter().map(|(name, value)| (name.to_string(), value.clone())).collect())
}

impl DynamoStore {
    fn counter_update(
        &self,
        merchant_id: &MerchantId,
        expression: &str,
        condition: &str,
        attribute_values: Option<Item>,
    ) -> StoreResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(counter_key(merchant_id)))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#type", "type")
            .set_expression_attribute_values(attribute_values)
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

impl WebhookStore for DynamoStore {
    async fn create_webhook(&self, endpoint: &WebhookEndpoint, limit: usize) -> Result<(), CreateWebhookError> {
        let mut item = webhook_key(&endpoint.merchant_id, &endpoint.id);
        item.insert("type".into(), s("webhook"));
        item.insert("createdAt".into(), n(endpoint.created_at.unix_seconds()));
        item.insert("doc".into(), s(encode("webhook", endpoint)?));
        let items = vec![
            self.counter_update(
                &endpoint.merchant_id,
                "SET webhookCount = if_not_exists(webhookCount, :zero) + :one, #type = :type",
                "attribute_not_exists(webhookCount) OR webhookCount < :limit",
                values(&[(":zero", n(0)), (":one", n(1)), (":limit", n(limit as u64)), (":type", s("webhook_count"))]),
            )?,
            put(item, &self.table, "attribute_not_exists(pk)", None)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactOutcome::Cancelled(codes)) if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") => {
                Err(CreateWebhookError::LimitReached { limit })
            }
            Err(TransactOutcome::Cancelled(_)) => {
                Err(StoreError::Conflict("webhook id exists or the count changed concurrently").into())
            }
            Err(TransactOutcome::Failed(e)) => Err(e.into()),
        }
    }

    async fn get_webhook(&self, merchant_id: &MerchantId, id: &WebhookId) -> StoreResult<Option<WebhookEndpoint>> {
        let item = self.get_item(webhook_key(merchant_id, id)).await?;
        item.map(|item| doc_of("webhook", &item)).transpose()
    }

    async fn list_webhooks(&self, merchant_id: &MerchantId) -> StoreResult<Vec<WebhookEndpoint>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(partition(merchant_id)))
            .expression_attribute_values(":prefix", s(WEBHOOK_PREFIX))
            .consistent_read(true);
        let mut endpoints: Vec<WebhookEndpoint> = self.query_docs("webhook", query, None).await?;
        endpoints.sort_by_key(|e| (e.created_at, e.id));
        Ok(endpoints)
    }

    async fn delete_webhook(&self, merchant_id: &MerchantId, id: &WebhookId) -> StoreResult<bool> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(webhook_key(merchant_id, id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(StoreError::backend)?;
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            self.counter_update(
                merchant_id,
                "SET webhookCount = webhookCount - :one, #type = :type",
                "webhookCount > :zero",
                values(&[(":zero", n(0)), (":one", n(1)), (":type", s("webhook_count"))]),
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(TransactOutcome::Cancelled(codes)) if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") => {
                Ok(false)
            }
            Err(TransactOutcome::Cancelled(_)) => Err(StoreError::Conflict("webhooks changed concurrently")),
            Err(TransactOutcome::Failed(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_sit_under_their_merchant_and_the_counter_is_not_listed() {
        let merchant = MerchantId::from_random_bytes([1; 16]);
        let id = WebhookId::from_bytes([2; 16]);
        let item = webhook_key(&merchant, &id);
        assert_eq!(item.get("pk"), Some(&s(format!("MERCHANT#{merchant}"))));
        assert_eq!(item.get("sk"), Some(&s(format!("WEBHOOK#{id}"))));
        assert!(!COUNTER_SK.starts_with(WEBHOOK_PREFIX));
    }
}
