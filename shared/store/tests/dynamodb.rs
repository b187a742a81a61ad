//! The conformance suite against a real DynamoDB API: the `moto_server`
//! that `cargo xtask test` starts and names in `FERRY_TEST_DYNAMODB_ENDPOINT`.
#![cfg(feature = "dynamodb")]

use ferry_store::dynamodb::DynamoStore;

fn endpoint() -> String {
    std::env::var("FERRY_TEST_DYNAMODB_ENDPOINT").expect(
        "FERRY_TEST_DYNAMODB_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_conforms() {
    let table = format!("ferry-conformance-{}", uuid_like());
    let store = DynamoStore::local(&endpoint(), table).await;
    store.ensure_table().await.expect("create table");
    ferry_store::conformance::run_all(store).await;
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
