//! The "soonest first, at most `limit`" listings with more items than one
//! partition of an index holds: a DynamoDB store spreads each queue over
//! shards and merges them, so these checks store dozens of items with
//! distinct keys, in shuffled order, and cut the listing at limits that fall
//! inside and across shards. Every adapter must list exactly the first
//! `limit` by the listing's order.
//!
//! Each check works in an era earlier than every other check's: on a store
//! shared with other checks, its items are the oldest in every listing.

use ferry_domain::{
    AttemptOutcome, DeliveryAttempt, DepositRecord, RetryPolicy, Session, SessionEvent, Timestamp, WebhookDelivery,
    WebhookId,
};

use super::{detected, fresh_bytes, fresh_merchant, sample_deposit, sample_session, stored_waiting};
use crate::{ChainStore, DeliveryStore, ExpiryStore, SessionChange, Store};

/// Items per listing: more than a queue's shards (16), so several shards hold more than one.
const COUNT: u64 = 40;
/// Limits inside the first shard's share, across shards, and past the end.
const LIMITS: [usize; 6] = [1, 2, 7, 17, 39, 100];

/// `0..COUNT` in a fixed order that is neither ascending nor descending, so
/// that a store returning insertion order fails.
fn shuffled() -> Vec<u64> {
    (0..COUNT).map(|i| (i * 17 + 5) % COUNT).collect()
}

/// The prefix of `expected` a listing with `limit` must return.
fn first<T: Clone>(expected: &[T], limit: usize) -> Vec<T> {
    expected.iter().take(limit).cloned().collect()
}

/// `listed` (with `limit`) is exactly `expected`'s first `limit`; past the
/// end of `expected`, other checks' later items may follow.
fn assert_first<T: Clone + PartialEq + std::fmt::Debug>(listed: &[T], expected: &[T], limit: usize, what: &str) {
    if limit <= expected.len() {
        assert_eq!(listed.len(), limit, "{what}: at most {limit}");
    }
    let mine = limit.min(expected.len());
    assert!(listed.len() >= mine, "{what}: {} listed, {mine} expected", listed.len());
    assert_eq!(listed[..mine], expected[..mine], "{what}: the first {limit}, in order");
}

pub async fn open_sessions_are_listed_by_expiry_across_shards<S: ExpiryStore>(store: &S) {
    let era = Timestamp::from_unix_seconds(900_000_000);
    let mut by_offset: Vec<(u64, Session)> = Vec::new();
    for offset in shuffled() {
        let mut session = sample_session(fresh_merchant());
        session.expires_at = era.plus_seconds(offset);
        session.created_at = Timestamp::from_unix_seconds(session.expires_at.unix_seconds() - 3_600);
        store.create_session(&session, None).await.expect("create");
        by_offset.push((offset, session));
    }
    by_offset.sort_by_key(|(offset, _)| *offset);
    let expected: Vec<Session> = by_offset.into_iter().map(|(_, session)| session).collect();
    let last = era.plus_seconds(COUNT - 1);
    for limit in LIMITS {
        let listed = store.due_sessions(last, limit).await.expect("due sessions");
        assert_first(&listed, &expected, limit, "open sessions due");
    }
    // `now` cuts the list too: only the first ten are due at era + 9.
    let due = store.due_sessions(era.plus_seconds(9), 100).await.expect("due sessions");
    assert_eq!(due, first(&expected, 10));
    for session in &expected {
        let (expired, _event) = session.expire(last).expect("due");
        store.commit(SessionChange::new(&expired)).await.expect("expire");
    }
    let left = store.due_sessions(last, 100).await.expect("due sessions");
    assert!(left.iter().all(|s| expected.iter().all(|e| e.id != s.id)), "all of them expired: {left:?}");
}

pub async fn pending_events_are_listed_oldest_first_across_shards<S: Store + DeliveryStore>(store: &S) {
    let era = Timestamp::from_unix_seconds(100_000);
    let mut by_offset: Vec<(u64, SessionEvent)> = Vec::new();
    for offset in shuffled() {
        let waiting = stored_waiting(store).await;
        let (processing, kind) = waiting.deposit_seen(&sample_deposit()).expect("legal");
        let event = SessionEvent::new(fresh_bytes(), kind, &processing, era.plus_seconds(offset));
        store.commit(SessionChange::new(&processing).emitting(&event)).await.expect("commit with event");
        by_offset.push((offset, event));
    }
    by_offset.sort_by_key(|(offset, _)| *offset);
    let expected: Vec<SessionEvent> = by_offset.into_iter().map(|(_, event)| event).collect();
    for limit in LIMITS {
        let listed = store.pending_events(limit).await.expect("pending");
        assert_first(&listed, &expected, limit, "pending events");
    }
    // Fanning out every other one leaves the rest, still in order.
    for event in expected.iter().step_by(2) {
        store.fan_out(&event.id, &[]).await.expect("fan out to nobody");
    }
    let rest: Vec<SessionEvent> = expected.iter().skip(1).step_by(2).cloned().collect();
    assert_first(&store.pending_events(7).await.expect("pending"), &rest, 7, "pending events left");
    for event in &rest {
        store.fan_out(&event.id, &[]).await.expect("fan out to nobody");
    }
    let left = store.pending_events(100).await.expect("pending");
    assert!(left.iter().all(|e| expected.iter().all(|x| x.id != e.id)), "all of them fanned out: {left:?}");
}

pub async fn deliveries_are_listed_by_wake_time_and_creation_across_shards<S: Store + DeliveryStore>(store: &S) {
    let era = Timestamp::from_unix_seconds(50_000);
    // Two events (a fan-out holds at most one delivery per endpoint), 20 deliveries each.
    let mut by_offset: Vec<(u64, WebhookDelivery)> = Vec::new();
    let order = shuffled();
    for half in order.chunks(COUNT as usize / 2) {
        let waiting = stored_waiting(store).await;
        let (processing, kind) = waiting.deposit_seen(&sample_deposit()).expect("legal");
        let event = SessionEvent::new(fresh_bytes(), kind, &processing, era);
        store.commit(SessionChange::new(&processing).emitting(&event)).await.expect("commit with event");
        let deliveries: Vec<(u64, WebhookDelivery)> = half
            .iter()
            .map(|offset| {
                let at = era.plus_seconds(*offset);
                (*offset, WebhookDelivery::new(event.id, WebhookId::from_bytes(fresh_bytes()), event.merchant_id, at))
            })
            .collect();
        let only: Vec<WebhookDelivery> = deliveries.iter().map(|(_, d)| d.clone()).collect();
        store.fan_out(&event.id, &only).await.expect("fan out");
        by_offset.extend(deliveries);
    }
    by_offset.sort_by_key(|(offset, _)| *offset);
    let expected: Vec<WebhookDelivery> = by_offset.into_iter().map(|(_, delivery)| delivery).collect();
    let last = era.plus_seconds(COUNT - 1);
    for limit in LIMITS {
        let listed = store.due_deliveries(last, limit).await.expect("due");
        assert_first(&listed, &expected, limit, "due deliveries");
    }
    assert_eq!(store.due_deliveries(era.plus_seconds(4), 100).await.expect("due"), first(&expected, 5));

    // Parked, they are listed by creation (the same order), and never due.
    let policy = RetryPolicy { max_attempts: 1, ..RetryPolicy::STANDARD };
    let mut parked = Vec::new();
    for delivery in &expected {
        let claimed = delivery.claim(last, 60).expect("due");
        store.update_delivery(&claimed).await.expect("claim");
        let attempt = DeliveryAttempt { at: last, outcome: AttemptOutcome::Responded { status: 500 }, latency_ms: 1 };
        let failed = claimed.record(attempt, &policy, 0);
        store.update_delivery(&failed).await.expect("park");
        parked.push(failed);
    }
    for limit in LIMITS {
        let listed = store.parked_deliveries(limit).await.expect("parked");
        assert_first(&listed, &parked, limit, "parked deliveries");
    }
    let due = store.due_deliveries(last.plus_seconds(3_600), 100).await.expect("due");
    assert!(due.iter().all(|d| !parked.iter().any(|p| p.event_id == d.event_id)), "parked ones are not due");
}

pub async fn deposits_due_for_recovery_are_listed_soonest_first_across_shards<S: ChainStore>(store: &S) {
    let era = Timestamp::from_unix_seconds(10_000);
    let mut by_offset: Vec<(u64, DepositRecord)> = Vec::new();
    for offset in shuffled() {
        let mut record = detected(sample_deposit());
        record.recover_at = Some(era.plus_seconds(offset));
        store.record_deposit(&record).await.expect("record");
        by_offset.push((offset, record));
    }
    by_offset.sort_by_key(|(offset, _)| *offset);
    let expected: Vec<DepositRecord> = by_offset.into_iter().map(|(_, record)| record).collect();
    let last = era.plus_seconds(COUNT - 1);
    for limit in LIMITS {
        let listed = store.deposits_due_for_recovery(last, limit).await.expect("due deposits");
        assert_first(&listed, &expected, limit, "deposits due for recovery");
    }
    assert_eq!(store.deposits_due_for_recovery(era.plus_seconds(2), 100).await.expect("due"), first(&expected, 3));
    for record in &expected {
        let finished = record.finished();
        store.update_deposit(&finished).await.expect("finish");
    }
    let left = store.deposits_due_for_recovery(last, 100).await.expect("due deposits");
    assert!(left.iter().all(|r| expected.iter().all(|e| e.id() != r.id())), "all of them finished: {left:?}");
}
