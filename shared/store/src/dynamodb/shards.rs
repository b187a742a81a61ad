//! The sparse indexes, sharded so that their writes spread.
//!
//! An index whose partition key has one value (`openShard = "OPEN"`,
//! `outboxQueue = "EVENT_PENDING"`, …) puts every write of that queue into
//! one partition of the index, which DynamoDB serves at about 1,000 writes a
//! second, and a throttled index write throttles the table write behind it.
//! So each item's value carries a shard, `<QUEUE>#<0..15>`, chosen by a
//! stable hash of the item's own id (session, event, delivery, deposit): an
//! item always lands in the same shard, and a conditional update that
//! rewrites it keeps it there.
//!
//! A listing ("oldest first, at most `limit`") queries every shard at once,
//! each for at most `limit` items, and merges them by the sort key: the
//! first `limit` of the merge are the first `limit` of the whole queue,
//! because each shard's answer is that shard's first `limit`. The unsharded
//! value is queried as one more shard, so items written before sharding
//! (`OPEN`, `EVENT_PENDING`, …) are still listed until they leave their
//! queue; the next write of such an item moves it to its shard. No
//! migration is needed.

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::try_join_all;

use super::{DynamoStore, Item, MissingAttribute, doc_of, n, s};
use crate::{StoreError, StoreResult};

/// Shards per queue. Changing it moves items between shards only when they
/// are next written; readers must then query the old shards too.
pub(super) const SHARDS: u32 = 16;

/// The shard of the item with this id: FNV-1a (64-bit) of the id's bytes,
/// modulo [`SHARDS`]. A fixed function, unlike `std`'s hasher, because the
/// shard is stored.
pub(super) fn shard_of(id: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(SHARDS)) as u32
}

/// The partition key value of an item of `queue` with this id.
pub(super) fn sharded(queue: &str, id: &str) -> String {
    format!("{queue}#{}", shard_of(id))
}

/// Every partition key value a listing of `queue` reads: its shards, then
/// the unsharded value of items written before sharding.
pub(super) fn partitions(queue: &str) -> Vec<String> {
    (0..SHARDS).map(|shard| format!("{queue}#{shard}")).chain(std::iter::once(queue.to_string())).collect()
}

/// A listing of one sharded queue of a sparse index.
pub(super) struct ShardedQuery<'a> {
    pub index: &'a str,
    /// The index's partition key attribute (`openShard`, `outboxQueue`).
    pub partition: &'a str,
    /// The index's numeric sort key attribute (`expiresAt`, `outboxAt`).
    pub sort: &'a str,
    /// The unsharded queue name (`OPEN`, `EVENT_PENDING`, …).
    pub queue: &'a str,
    /// Only items with `sort <= until`, if given.
    pub until: Option<u64>,
}

impl DynamoStore {
    /// The documents (decoded as `what`) of the first `limit` items of the
    /// queue by its sort key, ascending, read from all its shards in
    /// parallel. Ties keep shard order.
    pub(super) async fn query_sharded<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        listing: ShardedQuery<'_>,
        limit: usize,
    ) -> StoreResult<Vec<T>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let condition = match listing.until {
            Some(_) => "#p = :p AND #s <= :until",
            None => "#p = :p",
        };
        let shards = partitions(listing.queue).into_iter().map(|partition| {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(listing.index)
                .key_condition_expression(condition)
                .expression_attribute_names("#p", listing.partition)
                .expression_attribute_values(":p", s(partition))
                .scan_index_forward(true);
            if let Some(until) = listing.until {
                query = query
                    .expression_attribute_names("#s", listing.sort)
                    .expression_attribute_values(":until", n(until));
            }
            self.query_items(query, Some(limit))
        });
        let mut merged: Vec<(u64, Item)> = Vec::new();
        for items in try_join_all(shards).await? {
            for item in items {
                let key = match item.get(listing.sort) {
                    Some(AttributeValue::N(number)) => number.parse().map_err(|e| StoreError::corrupt(what, e))?,
                    _ => return Err(StoreError::corrupt(what, MissingAttribute("sort key"))),
                };
                merged.push((key, item));
            }
        }
        // Stable: equal keys stay in shard order.
        merged.sort_by_key(|(key, _)| *key);
        merged.truncate(limit);
        merged.iter().map(|(_, item)| doc_of(what, item)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_always_lands_in_the_same_shard_and_ids_spread_over_all() {
        assert_eq!(shard_of("0123456789abcdef0123456789abcdef"), shard_of("0123456789abcdef0123456789abcdef"));
        // Pinned (FNV-1a 64 of "" and "a"): the shard is stored, so the function may never change.
        assert_eq!(shard_of(""), (0xcbf2_9ce4_8422_2325u64 % 16) as u32);
        assert_eq!(sharded("OPEN", "a"), format!("OPEN#{}", (0xaf63_dc4c_8601_ec8cu64 % 16) as u32));
        let mut seen = [0usize; SHARDS as usize];
        for i in 0..1_600 {
            seen[shard_of(&format!("{i:032x}")) as usize] += 1;
        }
        assert!(seen.iter().all(|count| (50..=150).contains(count)), "{seen:?}");
    }

    #[test]
    fn a_listing_reads_every_shard_and_the_unsharded_value() {
        let all = partitions("EVENT_PENDING");
        assert_eq!(all.len(), SHARDS as usize + 1);
        assert_eq!(all.first().map(String::as_str), Some("EVENT_PENDING#0"));
        assert_eq!(all.last().map(String::as_str), Some("EVENT_PENDING"));
    }
}
