//! [`DeliveryStore`](crate::DeliveryStore) conformance.
//!
//! The pending, due and parked lists span the whole store, which other
//! checks share: each check here works in an era of its own, earlier than
//! every other check's, so that what it lists first is its own.

use ferry_domain::{
    AttemptOutcome, DeliveryAttempt, DeliveryState, RetryPolicy, Session, SessionEvent, Timestamp, WebhookDelivery,
    WebhookId,
};

use super::{fresh_bytes, stored_waiting};
use crate::{DeliveryStore, SessionChange, Store, StoreError};

/// Eras far before `NOW` (and before each other, latest first).
const PENDING_ERA: Timestamp = Timestamp::from_unix_seconds(5_000_000);
const FAN_OUT_ERA: Timestamp = Timestamp::from_unix_seconds(4_000_000);
const UPDATE_ERA: Timestamp = Timestamp::from_unix_seconds(3_000_000);
const DUE_ERA: Timestamp = Timestamp::from_unix_seconds(2_000_000);
const PARKED_ERA: Timestamp = Timestamp::from_unix_seconds(1_000_000);

/// A session change committed with its event, created at `at`: the event
/// is pending.
async fn committed_event<S: Store>(store: &S, at: Timestamp) -> (Session, SessionEvent) {
    let waiting = stored_waiting(store).await;
    let (processing, kind) = waiting.deposit_seen(&super::sample_deposit()).expect("legal");
    let event = SessionEvent::new(fresh_bytes(), kind, &processing, at);
    store.commit(SessionChange::new(&processing).emitting(&event)).await.expect("commit with event");
    (processing, event)
}

fn delivery_for(event: &SessionEvent, at: Timestamp) -> WebhookDelivery {
    WebhookDelivery::new(event.id, WebhookId::from_bytes(fresh_bytes()), event.merchant_id, at)
}

/// `event` fanned out to `count` fresh endpoints, due at `at`.
async fn fanned_out<S: DeliveryStore>(
    store: &S,
    event: &SessionEvent,
    at: Timestamp,
    count: usize,
) -> Vec<WebhookDelivery> {
    let mut deliveries: Vec<WebhookDelivery> = (0..count).map(|_| delivery_for(event, at)).collect();
    store.fan_out(&event.id, &deliveries).await.expect("fan out");
    deliveries.sort_by_key(|d| d.webhook_id);
    deliveries
}

fn response(at: Timestamp, status: u16) -> DeliveryAttempt {
    DeliveryAttempt { at, outcome: AttemptOutcome::Responded { status }, latency_ms: 42 }
}

pub async fn events_wait_to_be_fanned_out_once<S: Store + DeliveryStore>(store: &S) {
    let (_, first) = committed_event(store, PENDING_ERA).await;
    let (_, second) = committed_event(store, PENDING_ERA.plus_seconds(1)).await;
    let pending = store.pending_events(2).await.expect("pending");
    assert_eq!(pending, vec![first.clone(), second.clone()], "every committed event is pending, oldest first");
    assert_eq!(store.pending_events(1).await.expect("pending"), vec![first.clone()], "at most `limit`");

    // A delivery of another event in the set: nothing is written.
    let stray = delivery_for(&second, PENDING_ERA);
    let mixed = store.fan_out(&first.id, &[delivery_for(&first, PENDING_ERA), stray.clone()]).await;
    assert!(matches!(mixed, Err(StoreError::Conflict(_))), "{mixed:?}");
    assert_eq!(store.list_deliveries(&first.id).await.expect("list"), vec![]);
    assert_eq!(store.list_deliveries(&second.id).await.expect("list"), vec![]);

    let deliveries = fanned_out(store, &first, PENDING_ERA, 2).await;
    assert_eq!(store.list_deliveries(&first.id).await.expect("list"), deliveries, "by endpoint id");
    let one = &deliveries[0];
    assert_eq!(store.get_delivery(&first.id, &one.webhook_id).await.expect("get"), Some(one.clone()));
    assert_eq!(store.get_delivery(&second.id, &one.webhook_id).await.expect("get"), None);
    assert_eq!(store.pending_events(1).await.expect("pending"), vec![second.clone()], "no longer pending");

    let again = store.fan_out(&first.id, &[delivery_for(&first, PENDING_ERA)]).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "an event fans out once: {again:?}");
    assert_eq!(store.list_deliveries(&first.id).await.expect("list").len(), 2);

    // An event no endpoint subscribes to leaves the list with no deliveries.
    store.fan_out(&second.id, &[]).await.expect("fan out to nobody");
    let pending = store.pending_events(10).await.expect("pending");
    assert!(pending.iter().all(|e| e.id != first.id && e.id != second.id), "both fanned out");
    assert_eq!(store.get_event(&second.id).await.expect("get"), Some(second), "the event itself stays");
}

pub async fn concurrent_fan_outs_of_one_event_store_one_set<S: Store + DeliveryStore>(store: &S) {
    let (_, event) = committed_event(store, FAN_OUT_ERA).await;
    let (left, right) = (vec![delivery_for(&event, FAN_OUT_ERA)], vec![delivery_for(&event, FAN_OUT_ERA)]);
    let (a, b) = tokio::join!(store.fan_out(&event.id, &left), store.fan_out(&event.id, &right));
    let winner = match (a, b) {
        (Ok(()), Err(StoreError::Conflict(_))) => left,
        (Err(StoreError::Conflict(_)), Ok(())) => right,
        other => panic!("exactly one fan-out must win: {other:?}"),
    };
    assert_eq!(store.list_deliveries(&event.id).await.expect("list"), winner);
}

pub async fn delivery_updates_are_conditional_on_the_version<S: Store + DeliveryStore>(store: &S) {
    let (_, event) = committed_event(store, UPDATE_ERA).await;
    let stored = fanned_out(store, &event, UPDATE_ERA, 1).await.remove(0);
    let claimed = stored.claim(UPDATE_ERA, 60).expect("due");
    store.update_delivery(&claimed).await.expect("claim");

    // A second worker claiming from the same read loses.
    let lost = store.update_delivery(&stored.claim(UPDATE_ERA, 60).expect("due on the stale copy")).await;
    assert!(matches!(lost, Err(StoreError::Conflict(_))), "{lost:?}");
    let skipped = WebhookDelivery { version: claimed.version + 2, ..claimed.clone() };
    assert!(matches!(store.update_delivery(&skipped).await, Err(StoreError::Conflict(_))));
    let unknown = delivery_for(&event, UPDATE_ERA);
    assert!(matches!(store.update_delivery(&unknown).await, Err(StoreError::Conflict(_))), "never an upsert");

    let done = claimed.record(response(UPDATE_ERA, 200), &RetryPolicy::STANDARD, 0);
    store.update_delivery(&done).await.expect("record");
    assert_eq!(store.get_delivery(&event.id, &done.webhook_id).await.expect("get"), Some(done));
}

pub async fn due_deliveries_are_the_unfinished_ones_whose_time_came<S: Store + DeliveryStore>(store: &S) {
    let (_, event) = committed_event(store, DUE_ERA).await;
    let [pending, sending, succeeded] =
        <[WebhookDelivery; 3]>::try_from(fanned_out(store, &event, DUE_ERA, 3).await).expect("three deliveries");
    let sending = sending.claim(DUE_ERA, 60).expect("due");
    store.update_delivery(&sending).await.expect("claim");
    let claimed = succeeded.claim(DUE_ERA, 60).expect("due");
    let succeeded = claimed.record(response(DUE_ERA, 204), &RetryPolicy::STANDARD, 0);
    store.update_delivery(&claimed).await.expect("claim");
    store.update_delivery(&succeeded).await.expect("record");
    assert_eq!(succeeded.state, DeliveryState::Succeeded);

    let due = store.due_deliveries(DUE_ERA.plus_seconds(59), 10).await.expect("due");
    assert_eq!(due, vec![pending.clone()], "the claimed one is not due while its lease holds");
    let due = store.due_deliveries(DUE_ERA.plus_seconds(60), 10).await.expect("due");
    assert_eq!(due, vec![pending.clone(), sending.clone()], "soonest first; never the finished one");
    assert_eq!(store.due_deliveries(DUE_ERA.plus_seconds(60), 1).await.expect("due"), vec![pending.clone()]);
    let before = Timestamp::from_unix_seconds(DUE_ERA.unix_seconds() - 1);
    assert_eq!(store.due_deliveries(before, 10).await.expect("due"), vec![], "nothing is due before its time");

    // A failure moves it later: due again only then.
    let retry = pending.claim(DUE_ERA, 60).expect("due").record(response(DUE_ERA, 503), &RetryPolicy::STANDARD, 20);
    store.update_delivery(&pending.claim(DUE_ERA, 60).expect("due")).await.expect("claim");
    store.update_delivery(&retry).await.expect("record");
    let next = retry.wake_at().expect("pending");
    assert_eq!(next, DUE_ERA.plus_seconds(31), "30 s after the attempt ended (42 ms, rounded up)");
    let due = store.due_deliveries(DUE_ERA.plus_seconds(60), 10).await.expect("due");
    assert_eq!(due, vec![retry.clone(), sending], "retry at +31 s, lease lapsing at +60 s");
}

pub async fn parked_deliveries_wait_for_a_replay<S: Store + DeliveryStore>(store: &S) {
    let policy = RetryPolicy { max_attempts: 1, ..RetryPolicy::STANDARD };
    let (_, event) = committed_event(store, PARKED_ERA).await;
    let deliveries = fanned_out(store, &event, PARKED_ERA, 2).await;
    let mut parked = Vec::new();
    for delivery in &deliveries {
        let claimed = delivery.claim(PARKED_ERA, 60).expect("due");
        store.update_delivery(&claimed).await.expect("claim");
        let failed = claimed.record(response(PARKED_ERA, 500), &policy, 0);
        assert_eq!(failed.state, DeliveryState::Parked);
        store.update_delivery(&failed).await.expect("park");
        parked.push(failed);
    }
    let listed = store.parked_deliveries(2).await.expect("parked");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|d| parked.contains(d)), "the oldest parked are this check's: {listed:?}");
    let later = Timestamp::from_unix_seconds(PARKED_ERA.unix_seconds() + 86_400 * 365);
    assert!(
        store.due_deliveries(later, 100).await.expect("due").iter().all(|d| d.event_id != event.id),
        "parked deliveries are never due"
    );

    let replayed = parked[0].replay(PARKED_ERA.plus_seconds(10)).expect("parked");
    store.update_delivery(&replayed).await.expect("replay");
    let listed = store.parked_deliveries(1).await.expect("parked");
    assert_eq!(listed, vec![parked[1].clone()], "the replayed one left the list");
    let due = store.due_deliveries(PARKED_ERA.plus_seconds(10), 1).await.expect("due");
    assert_eq!(due, vec![replayed], "and is due");
}
