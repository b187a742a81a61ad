//! [`ReceiverLog`] on DynamoDB: each claim is also an item of a per-day
//! partition of the base table (`pk = RECEIVERS#<UTC day number>`,
//! `sk = <claimedAt, 10 digits>#<address>`), put in the commit's
//! transaction. Reading "claims since T" is one Query per day since T,
//! strongly consistent (an index could lag behind the claim and a watcher
//! would miss a deposit). A day's partition takes every claim of that day,
//! well within a partition's 1,000 writes a second.
//!
//! `RECEIVERS#LOG`/`START` records when the log began (see
//! [`ReceiverLog::receiver_log_start`]).

use aws_sdk_dynamodb::types::AttributeValue;
use ferry_domain::Timestamp;
use futures::{StreamExt, TryStreamExt};

use super::{DynamoStore, Item, MissingAttribute, key, n, number_of, s};
use crate::{ReceiverClaim, ReceiverLog, StoreError, StoreResult};

const DAY: u64 = 86_400;
/// Days queried at once when loading a long stretch of the log.
const PARALLEL_DAYS: usize = 16;
/// Claims are kept this long after their session's expiry: longer than the
/// longest late-deposit window (a year) a watcher can be configured with.
const RETENTION_SECONDS: u64 = 366 * DAY;

fn day_pk(day: u64) -> String {
    format!("RECEIVERS#{day}")
}

fn start_key() -> Item {
    key("RECEIVERS#LOG".into(), "START")
}

/// The log item of `claim`.
pub(super) fn claim_item(claim: &ReceiverClaim) -> Item {
    let claimed_at = claim.claimed_at.unix_seconds();
    let mut item = key(day_pk(claimed_at / DAY), &format!("{claimed_at:010}#{}", claim.receiver.to_lowercase_hex()));
    item.insert("type".into(), s("receiver_claim"));
    item.insert("receiver".into(), s(claim.receiver.to_lowercase_hex()));
    item.insert("sessionId".into(), s(claim.session_id.to_string()));
    item.insert("claimedAt".into(), n(claimed_at));
    item.insert("expiresAt".into(), n(claim.expires_at.unix_seconds()));
    item.insert("ttl".into(), n(claim.expires_at.unix_seconds().saturating_add(RETENTION_SECONDS)));
    item
}

fn claim_of(item: &Item) -> StoreResult<ReceiverClaim> {
    let text = |attribute: &'static str| match item.get(attribute) {
        Some(AttributeValue::S(value)) => Ok(value.as_str()),
        _ => Err(StoreError::corrupt("receiver claim", MissingAttribute(attribute))),
    };
    Ok(ReceiverClaim {
        receiver: text("receiver")?.parse().map_err(|e| StoreError::corrupt("receiver claim", e))?,
        session_id: text("sessionId")?.parse().map_err(|e| StoreError::corrupt("receiver claim", e))?,
        claimed_at: Timestamp::from_unix_seconds(number_of("receiver claim", item, "claimedAt")?),
        expires_at: Timestamp::from_unix_seconds(number_of("receiver claim", item, "expiresAt")?),
    })
}

impl DynamoStore {
    /// Records that the log began at `at`, unless it already began.
    pub(super) async fn start_receiver_log(&self, at: Timestamp) -> StoreResult<()> {
        let mut item = start_key();
        item.insert("type".into(), s("receiver_log"));
        item.insert("startedAt".into(), n(at.unix_seconds()));
        self.put_if(item, "attribute_not_exists(pk)", None).await.map(|_| ())
    }
}

impl ReceiverLog for DynamoStore {
    async fn receivers_claimed_since(&self, since: Timestamp, now: Timestamp) -> StoreResult<Vec<ReceiverClaim>> {
        let first = since.unix_seconds() / DAY;
        let last = now.unix_seconds().max(since.unix_seconds()) / DAY + 1;
        let from = format!("{:010}", since.unix_seconds());
        let days = (first..=last).map(|day| {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk >= :from")
                .expression_attribute_values(":pk", s(day_pk(day)))
                .expression_attribute_values(":from", s(from.clone()))
                .consistent_read(true);
            self.query_items(query, None)
        });
        let items: Vec<Vec<Item>> = futures::stream::iter(days).buffer_unordered(PARALLEL_DAYS).try_collect().await?;
        items.iter().flatten().map(claim_of).collect()
    }

    /// `RECEIVERS#LOG`'s `startedAt`, written with `now` the first time
    /// (conditionally, so racing watchers agree), read consistently.
    async fn receiver_log_start(&self, now: Timestamp) -> StoreResult<Timestamp> {
        self.start_receiver_log(now).await?;
        let item = self.get_item(start_key()).await?.ok_or(StoreError::Conflict("receiver log start vanished"))?;
        Ok(Timestamp::from_unix_seconds(number_of("receiver log", &item, "startedAt")?))
    }
}
