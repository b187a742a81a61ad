//! [`DeliveryStore`] on DynamoDB. A delivery lives under its event's
//! partition (`pk = EVENT#<event>`, `sk = DELIVERY#<wh_…>`), so an event's
//! deliveries are one Query, never a Scan. The three queues are the sparse
//! `outbox` index: an event is in `EVENT_PENDING` from its commit until its
//! fan-out (one transaction removes it from the queue and puts its
//! deliveries), a delivery in `DELIVERY_DUE` (by when it wakes) until it
//! finishes and in `DELIVERY_PARKED` (by creation) while parked; a
//! succeeded one leaves the index and expires by TTL.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use ferry_domain::{DeliveryState, EventId, SessionEvent, Timestamp, WebhookDelivery, WebhookId};

use super::shards::{ShardedQuery, sharded};
use super::{DynamoStore, EVENT_PENDING, Item, OUTBOX_INDEX, TransactOutcome, doc_of, event_key, key, n, put, s};
use crate::{DeliveryStore, StoreError, StoreResult, encode};

const DELIVERY_PREFIX: &str = "DELIVERY#";
/// The `outboxQueue` of unfinished deliveries, by [`WebhookDelivery::wake_at`].
const DELIVERY_DUE: &str = "DELIVERY_DUE";
/// The `outboxQueue` of parked deliveries, by creation.
const DELIVERY_PARKED: &str = "DELIVERY_PARKED";
/// How long a succeeded delivery (and its log) is kept after it was
/// created: its `ttl`, after which DynamoDB deletes it. Unfinished and
/// parked deliveries are kept until they succeed.
const DELIVERY_RETENTION_SECONDS: u64 = 90 * 24 * 60 * 60;
/// A fan-out takes its event off the pending queue...
const TAKE_PENDING: &str = "REMOVE outboxQueue, outboxAt";
/// ...only if it is still on it (`:pending` = `EVENT_PENDING`: its shard
/// `EVENT_PENDING#<n>`, or the unsharded value of an event stored before
/// sharding).
const STILL_PENDING: &str = "begins_with(outboxQueue, :pending)";

fn delivery_key(event_id: &EventId, webhook_id: &WebhookId) -> Item {
    key(format!("EVENT#{event_id}"), &format!("{DELIVERY_PREFIX}{webhook_id}"))
}

fn delivery_item(delivery: &WebhookDelivery) -> StoreResult<Item> {
    let mut item = delivery_key(&delivery.event_id, &delivery.webhook_id);
    item.insert("type".into(), s("delivery"));
    item.insert("version".into(), n(delivery.version));
    item.insert("merchantId".into(), s(delivery.merchant_id.to_string()));
    let created_at = delivery.created_at.unix_seconds();
    let id = format!("{}#{}", delivery.event_id, delivery.webhook_id);
    match (delivery.wake_at(), delivery.state) {
        (Some(wake_at), _) => {
            item.insert("outboxQueue".into(), s(sharded(DELIVERY_DUE, &id)));
            item.insert("outboxAt".into(), n(wake_at.unix_seconds()));
        }
        (None, DeliveryState::Parked) => {
            item.insert("outboxQueue".into(), s(sharded(DELIVERY_PARKED, &id)));
            item.insert("outboxAt".into(), n(created_at));
        }
        (None, _) => {
            item.insert("ttl".into(), n(created_at.saturating_add(DELIVERY_RETENTION_SECONDS)));
        }
    }
    item.insert("doc".into(), s(encode("delivery", delivery)?));
    Ok(item)
}

impl DynamoStore {
    /// The documents (decoded as `what`) of one `outbox` queue's items (with
    /// `outboxAt <= until`, if given), ascending, at most `limit`: all its
    /// shards read at once and merged (see [`super::shards`]).
    pub(super) async fn outbox<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        queue: &str,
        until: Option<Timestamp>,
        limit: usize,
    ) -> StoreResult<Vec<T>> {
        let listing = ShardedQuery {
            index: OUTBOX_INDEX,
            partition: "outboxQueue",
            sort: "outboxAt",
            queue,
            until: until.map(Timestamp::unix_seconds),
        };
        self.query_sharded(what, listing, limit).await
    }

    /// Takes the event off the pending queue, alone (no deliveries).
    async fn take_pending(&self, event_id: &EventId) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(event_key(event_id)))
            .update_expression(TAKE_PENDING)
            .condition_expression(STILL_PENDING)
            .expression_attribute_values(":pending", s(EVENT_PENDING))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                Err(StoreError::Conflict("event is not pending"))
            }
            Err(e) => Err(StoreError::backend(e)),
        }
    }
}

impl DeliveryStore for DynamoStore {
    /// The `EVENT_PENDING` queue of the `outbox` index, oldest first.
    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<SessionEvent>> {
        self.outbox("event", EVENT_PENDING, None, limit).await
    }

    /// One `TransactWriteItems`: the event's conditional Update off the
    /// pending queue and a Put (`attribute_not_exists(pk)`) per delivery.
    /// With no deliveries, the Update alone.
    async fn fan_out(&self, event_id: &EventId, deliveries: &[WebhookDelivery]) -> StoreResult<()> {
        if deliveries.iter().any(|d| d.event_id != *event_id) {
            return Err(StoreError::Conflict("delivery belongs to another event"));
        }
        if deliveries.is_empty() {
            return self.take_pending(event_id).await;
        }
        let take = Update::builder()
            .table_name(&self.table)
            .set_key(Some(event_key(event_id)))
            .update_expression(TAKE_PENDING)
            .condition_expression(STILL_PENDING)
            .expression_attribute_values(":pending", s(EVENT_PENDING))
            .build()
            .map_err(StoreError::backend)?;
        let mut items = vec![TransactWriteItem::builder().update(take).build()];
        for delivery in deliveries {
            items.push(put(delivery_item(delivery)?, &self.table, "attribute_not_exists(pk)", None)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactOutcome::Cancelled(codes)) if codes.first().is_some_and(|c| c != "None") => {
                Err(StoreError::Conflict("event is not pending"))
            }
            Err(TransactOutcome::Cancelled(_)) => Err(StoreError::Conflict("delivery already exists")),
            Err(TransactOutcome::Failed(e)) => Err(e),
        }
    }

    async fn get_delivery(&self, event_id: &EventId, webhook_id: &WebhookId) -> StoreResult<Option<WebhookDelivery>> {
        let item = self.get_item(delivery_key(event_id, webhook_id)).await?;
        item.map(|item| doc_of("delivery", &item)).transpose()
    }

    /// A consistent Query of the event's partition; `sk` order is endpoint
    /// id order (ids are fixed-length lowercase hex).
    async fn list_deliveries(&self, event_id: &EventId) -> StoreResult<Vec<WebhookDelivery>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(format!("EVENT#{event_id}")))
            .expression_attribute_values(":prefix", s(DELIVERY_PREFIX))
            .consistent_read(true);
        self.query_docs("delivery", query, None).await
    }

    async fn update_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<()> {
        self.put_next_version(delivery_item(delivery)?, delivery.version, "delivery version changed").await
    }

    /// The `DELIVERY_DUE` queue up to `now`, soonest first.
    async fn due_deliveries(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<WebhookDelivery>> {
        self.outbox("delivery", DELIVERY_DUE, Some(now), limit).await
    }

    /// The `DELIVERY_PARKED` queue, oldest first.
    async fn parked_deliveries(&self, limit: usize) -> StoreResult<Vec<WebhookDelivery>> {
        self.outbox("delivery", DELIVERY_PARKED, None, limit).await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;
    use ferry_domain::{AttemptOutcome, DeliveryAttempt, MerchantId, RetryPolicy};

    use super::*;

    const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

    fn queue_of(item: &Item) -> (Option<&AttributeValue>, Option<&AttributeValue>) {
        (item.get("outboxQueue"), item.get("outboxAt"))
    }

    #[test]
    fn a_delivery_sits_in_the_queue_its_state_says() {
        let event_id = EventId::from_random_bytes([1; 16]);
        let webhook_id = WebhookId::from_bytes([2; 16]);
        let new = WebhookDelivery::new(event_id, webhook_id, MerchantId::from_random_bytes([3; 16]), T0);
        let item = delivery_item(&new).expect("item");
        assert_eq!(item.get("pk"), Some(&s(format!("EVENT#{event_id}"))));
        assert_eq!(item.get("sk"), Some(&s(format!("DELIVERY#{webhook_id}"))));
        let shard = sharded(DELIVERY_DUE, &format!("{event_id}#{webhook_id}"));
        assert!(shard.starts_with("DELIVERY_DUE#"), "{shard}");
        assert_eq!(queue_of(&item), (Some(&s(shard)), Some(&n(T0.unix_seconds()))));
        assert!(!item.contains_key("ttl"));

        let policy = RetryPolicy { max_attempts: 1, ..RetryPolicy::STANDARD };
        let attempt = |status| DeliveryAttempt { at: T0, outcome: AttemptOutcome::Responded { status }, latency_ms: 1 };
        let claimed = new.claim(T0, 60).expect("due");
        let parked = delivery_item(&claimed.record(attempt(500), &policy, 0)).expect("item");
        let shard = sharded(DELIVERY_PARKED, &format!("{event_id}#{webhook_id}"));
        assert_eq!(queue_of(&parked), (Some(&s(shard)), Some(&n(T0.unix_seconds()))));
        let succeeded = delivery_item(&claimed.record(attempt(200), &policy, 0)).expect("item");
        assert_eq!(queue_of(&succeeded), (None, None));
        assert_eq!(succeeded.get("ttl"), Some(&n(T0.unix_seconds() + DELIVERY_RETENTION_SECONDS)));
    }
}
