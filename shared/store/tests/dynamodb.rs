//! What only the DynamoDB adapter has to do, against a real DynamoDB API:
//! the `moto_server` that `cargo xtask test` starts and names in
//! `FERRY_TEST_DYNAMODB_ENDPOINT` (the conformance checks, which every
//! adapter passes, are in `conformance.rs`).

use ferry_store::dynamodb::DynamoStore;

fn endpoint() -> String {
    std::env::var("FERRY_TEST_DYNAMODB_ENDPOINT").expect(
        "FERRY_TEST_DYNAMODB_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server",
    )
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// A key item written before keys had ids, labels and usage (only `pk`,
/// `sk`, `type`, `merchantId` and a `doc` of hash, merchant and creation)
/// still authenticates and can be revoked by the key; its first recorded
/// use gives it the items that list it and find it by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_stored_before_ids_existed_still_work_and_are_listed_once_used() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use ferry_domain::{ApiKey, Merchant, MerchantId, Timestamp, utc_day};
    use ferry_store::MerchantStore;

    let table = format!("ferry-legacy-keys-{}", uuid_like());
    let store = DynamoStore::local(&endpoint(), table.clone()).await;
    store.ensure_table().await.expect("create table");
    let merchant = Merchant {
        id: MerchantId::from_random_bytes(*b"legacy-merchant1"),
        name: "Old".into(),
        created_at: Timestamp::from_unix_seconds(1_700_000_000),
    };
    store.create_merchant(&merchant).await.expect("merchant");
    let key = ApiKey::from_random_bytes(*b"legacy-api-key-1");
    let doc = format!(r#"{{"hash":"{}","merchant_id":"{}","created_at":1700000000}}"#, key.hash(), merchant.id);
    let s = |v: String| AttributeValue::S(v);
    store
        .client()
        .put_item()
        .table_name(&table)
        .item("pk", s(format!("APIKEY#{}", key.hash())))
        .item("sk", s("APIKEY".into()))
        .item("type", s("api_key".into()))
        .item("merchantId", s(merchant.id.to_string()))
        .item("doc", s(doc))
        .send()
        .await
        .expect("put a legacy key item");

    let found = store.find_api_key(&key.hash()).await.expect("find").expect("a legacy key authenticates");
    assert_eq!((found.merchant_id, found.label.clone(), found.last_used_on), (merchant.id, None, None));
    assert!(store.list_api_keys(&merchant.id).await.expect("list").is_empty(), "not listed before its first use");

    let today = utc_day(Timestamp::from_unix_seconds(1_800_000_000));
    store.record_api_key_use(&key.hash(), today).await.expect("first use");
    let listed = store.list_api_keys(&merchant.id).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].hash, listed[0].last_used_on), (key.hash(), Some(today)));
    assert_eq!(store.find_api_key_by_id(&found.id()).await.expect("by id").map(|r| r.hash), Some(key.hash()));

    assert!(store.revoke_api_key(&key.hash()).await.expect("revoke"));
    assert_eq!(store.find_api_key(&key.hash()).await.expect("find"), None);
    assert!(store.list_api_keys(&merchant.id).await.expect("list").is_empty());
    assert_eq!(store.find_api_key_by_id(&found.id()).await.expect("by id"), None);
}

/// Sets `attribute` of the item at (`pk`, `sk`) to `value`, as an older
/// version would have written it.
async fn set_attribute(store: &DynamoStore, pk: String, sk: &str, attribute: &str, value: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk.into()))
        .update_expression("SET #a = :v")
        .expression_attribute_names("#a", attribute)
        .expression_attribute_values(":v", AttributeValue::S(value.into()))
        .send()
        .await
        .expect("rewrite the item as an older version stored it");
}

async fn attribute(store: &DynamoStore, pk: String, sk: &str, attribute: &str) -> Option<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let item = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
        .expect("item exists");
    item.get(attribute).and_then(|v| v.as_s().ok()).cloned()
}

/// The sparse indexes are sharded by the items' ids (`OPEN#<n>`,
/// `EVENT_PENDING#<n>`, `DEPOSIT_RECOVERY#<n>`), so their writes spread;
/// items written before sharding, under the unsharded value, are still
/// listed in order among the sharded ones, a legacy pending event still
/// fans out, and a legacy deposit's next write moves it to its shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_indexes_spread_over_shards_and_still_list_items_written_before_sharding() {
    use ferry_domain::{DepositRecord, EventId, EvmAddress, MerchantId, SessionEvent, Timestamp};
    use ferry_store::conformance::{sample_deposit, sample_session};
    use ferry_store::{DeliveryStore, DepositStore, ExpiryStore, SessionChange, SessionStore};

    let table = format!("ferry-shards-{}", uuid_like());
    let store = DynamoStore::local(&endpoint(), table).await;
    store.ensure_table().await.expect("create table");
    let era = Timestamp::from_unix_seconds(1_000_000);

    // 24 open sessions, expiring a second apart; every third one as stored before sharding.
    let mut sessions = Vec::new();
    for i in 0..24u64 {
        let mut session = sample_session(MerchantId::from_random_bytes([i as u8 + 1; 16]));
        session.expires_at = era.plus_seconds(i);
        store.create_session(&session, None).await.expect("create");
        let pk = format!("SESSION#{}", session.id);
        if i % 3 == 0 {
            set_attribute(&store, pk, "SESSION", "openShard", "OPEN").await;
        } else {
            let shard = attribute(&store, pk, "SESSION", "openShard").await.expect("open");
            assert!(shard.starts_with("OPEN#"), "{shard}");
        }
        sessions.push(session);
    }
    let mut shards = std::collections::HashSet::new();
    for session in &sessions {
        shards.insert(attribute(&store, format!("SESSION#{}", session.id), "SESSION", "openShard").await);
    }
    assert!(shards.len() >= 5, "the sessions spread over several shards: {shards:?}");
    for limit in [1, 4, 10, 24] {
        let due = store.due_sessions(era.plus_seconds(23), limit).await.expect("due");
        let ids: Vec<_> = due.iter().map(|s| s.id).collect();
        let expected: Vec<_> = sessions.iter().take(limit).map(|s| s.id).collect();
        assert_eq!(ids, expected, "legacy and sharded sessions merged by expiry, at most {limit}");
    }

    // A pending event stored before sharding is listed, and fans out.
    let mut events = Vec::new();
    for i in 0..3u64 {
        let session = sample_session(MerchantId::from_random_bytes([0x30 + i as u8; 16]));
        store.create_session(&session, None).await.expect("create");
        let receiver = EvmAddress::new([0x40 + i as u8; 20].into());
        let waiting = session.set_evm_payment_method(receiver, session.created_at).expect("legal").expect("changed");
        store.commit(SessionChange::new(&waiting).claiming_receiver(receiver)).await.expect("waiting");
        let (processing, kind) = waiting.deposit_seen(&sample_deposit()).expect("legal");
        let event = SessionEvent::new([0x50 + i as u8; 16], kind, &processing, era.plus_seconds(10 - i));
        store.commit(SessionChange::new(&processing).emitting(&event)).await.expect("event");
        events.push(event);
    }
    let legacy: &SessionEvent = &events[1];
    set_attribute(&store, format!("EVENT#{}", legacy.id), "EVENT", "outboxQueue", "EVENT_PENDING").await;
    let pending = store.pending_events(3).await.expect("pending");
    let order: Vec<EventId> = pending.iter().map(|e| e.id).collect();
    assert_eq!(order, vec![events[2].id, events[1].id, events[0].id], "oldest first, the legacy one included");
    store.fan_out(&legacy.id, &[]).await.expect("a legacy pending event fans out");
    let pending = store.pending_events(3).await.expect("pending");
    assert_eq!(pending.iter().map(|e| e.id).collect::<Vec<_>>(), vec![events[2].id, events[0].id]);

    // A deposit due for recovery stored before sharding is listed, and its next write shards it.
    let mut deposits = Vec::new();
    for i in 0..3u64 {
        let record = DepositRecord::detected(sample_deposit(), sessions[0].id, era, era.plus_seconds(i));
        store.record_deposit(&record).await.expect("record");
        deposits.push(record);
    }
    let pk = format!("DEPOSIT#{}", deposits[0].id());
    set_attribute(&store, pk.clone(), "DEPOSIT", "outboxQueue", "DEPOSIT_RECOVERY").await;
    let due = store.deposits_due_for_recovery(era.plus_seconds(5), 10).await.expect("due");
    assert_eq!(due, deposits, "soonest first, the legacy one included");
    let rescheduled =
        DepositRecord { recover_at: Some(era.plus_seconds(3)), recoveries: 1, version: 1, ..deposits[0].clone() };
    store.update_deposit(&rescheduled).await.expect("reschedule");
    let queue = attribute(&store, pk, "DEPOSIT", "outboxQueue").await.expect("still due");
    assert!(queue.starts_with("DEPOSIT_RECOVERY#"), "moved to its shard: {queue}");
    let due = store.deposits_due_for_recovery(era.plus_seconds(5), 10).await.expect("due");
    assert_eq!(due, vec![deposits[1].clone(), deposits[2].clone(), rescheduled]);
}

/// A table that an older version filled (no `RECEIVERS#LOG` item; the table
/// is not one `ensure_table` just created) starts its receiver log the first
/// time a watcher asks, once: watchers then know receivers claimed before
/// may be missing from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_from_before_the_receiver_log_starts_it_when_first_asked() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use ferry_domain::Timestamp;
    use ferry_store::ReceiverLog;

    let table = format!("ferry-log-start-{}", uuid_like());
    let store = DynamoStore::local(&endpoint(), table.clone()).await;
    store.ensure_table().await.expect("create table");
    let epoch = Timestamp::from_unix_seconds(0);
    let now = Timestamp::from_unix_seconds(1_800_000_000);
    assert_eq!(store.receiver_log_start(now).await.expect("start"), epoch, "a new table's log is complete");

    store
        .client()
        .delete_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("RECEIVERS#LOG".into()))
        .key("sk", AttributeValue::S("START".into()))
        .send()
        .await
        .expect("forget the start, as a table from before the log has none");
    assert_eq!(store.receiver_log_start(now).await.expect("start"), now);
    assert_eq!(store.receiver_log_start(now.plus_seconds(60)).await.expect("start"), now, "it starts once");
}
