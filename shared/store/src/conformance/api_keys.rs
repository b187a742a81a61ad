//! API keys: listing, revocation, rotation and the last day of use.

use ferry_domain::{ApiKey, ApiKeyId, Merchant, Timestamp, utc_day};

use super::{NOW, fresh_bytes, fresh_merchant};
use crate::{ApiKeyRecord, MerchantStore};

async fn merchant_with_keys<S: MerchantStore>(store: &S, labels: &[Option<&str>]) -> (Merchant, Vec<ApiKeyRecord>) {
    let merchant = Merchant { id: fresh_merchant(), name: "Rotating".into(), created_at: NOW };
    store.create_merchant(&merchant).await.expect("create merchant");
    let mut records = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let key = ApiKey::from_random_bytes(fresh_bytes());
        let label = label.map(|l| l.parse().expect("label"));
        let record = ApiKeyRecord::new(key.hash(), merchant.id, NOW.plus_seconds(i as u64), label);
        store.create_api_key(&record).await.expect("create key");
        records.push(record);
    }
    (merchant, records)
}

pub async fn a_merchant_lists_its_keys_oldest_first<S: MerchantStore>(store: &S) {
    let (merchant, records) = merchant_with_keys(store, &[Some("old"), None, Some("rotation 2026-12")]).await;
    let (_, others) = merchant_with_keys(store, &[Some("someone else")]).await;
    let listed = store.list_api_keys(&merchant.id).await.expect("list");
    assert_eq!(listed, records, "the merchant's keys, oldest first, and only theirs");
    assert!(!listed.contains(&others[0]));
    let empty = store.list_api_keys(&fresh_merchant()).await.expect("list");
    assert!(empty.is_empty());
    for record in &records {
        assert_eq!(store.find_api_key_by_id(&record.id()).await.expect("by id").as_ref(), Some(record));
    }
    let unknown = ApiKeyId::of(&ApiKey::from_random_bytes(fresh_bytes()).hash());
    assert_eq!(store.find_api_key_by_id(&unknown).await.expect("by id"), None);
}

pub async fn a_revoked_key_is_gone_at_once_and_its_sibling_stays<S: MerchantStore>(store: &S) {
    // A rotation: the new key is created while the old one still works.
    let (merchant, records) = merchant_with_keys(store, &[Some("old"), Some("new")]).await;
    let (old, new) = (&records[0], &records[1]);
    for record in &records {
        assert_eq!(store.find_api_key(&record.hash).await.expect("find").as_ref(), Some(record));
    }
    assert!(store.revoke_api_key(&old.hash).await.expect("revoke"));
    assert_eq!(store.find_api_key(&old.hash).await.expect("find"), None, "a revoked key is gone at once");
    assert_eq!(store.find_api_key_by_id(&old.id()).await.expect("by id"), None);
    assert_eq!(store.list_api_keys(&merchant.id).await.expect("list"), vec![new.clone()]);
    assert_eq!(store.find_api_key(&new.hash).await.expect("find").as_ref(), Some(new));
    assert!(!store.revoke_api_key(&old.hash).await.expect("revoke again"), "nothing left to revoke");
    // Recording a use of a revoked key does not bring it back.
    store.record_api_key_use(&old.hash, utc_day(NOW)).await.expect("use after revoke");
    assert_eq!(store.find_api_key(&old.hash).await.expect("find"), None);
    assert_eq!(store.find_api_key_by_id(&old.id()).await.expect("by id"), None);
    assert!(store.revoke_api_key(&new.hash).await.expect("revoke"));
    assert!(store.list_api_keys(&merchant.id).await.expect("list").is_empty());
}

pub async fn the_last_day_of_use_only_moves_forward<S: MerchantStore>(store: &S) {
    let (merchant, records) = merchant_with_keys(store, &[Some("used"), None]).await;
    let (used, unused) = (&records[0], &records[1]);
    let today = utc_day(NOW);
    let yesterday = Timestamp::from_unix_seconds(today.unix_seconds() - 86_400);
    store.record_api_key_use(&used.hash, today).await.expect("use");
    store.record_api_key_use(&used.hash, today).await.expect("use again");
    store.record_api_key_use(&used.hash, yesterday).await.expect("a late, older use");
    let found = store.find_api_key(&used.hash).await.expect("find").expect("stored");
    assert_eq!(found.last_used_on, Some(today));
    assert_eq!(found, ApiKeyRecord { last_used_on: Some(today), ..used.clone() });
    let listed = store.list_api_keys(&merchant.id).await.expect("list");
    assert_eq!(listed.iter().map(|r| r.last_used_on).collect::<Vec<_>>(), vec![Some(today), None]);
    assert_eq!(store.find_api_key(&unused.hash).await.expect("find").and_then(|r| r.last_used_on), None);
    let tomorrow = today.plus_seconds(86_400);
    store.record_api_key_use(&used.hash, tomorrow).await.expect("use tomorrow");
    assert_eq!(store.find_api_key_by_id(&used.id()).await.expect("by id").and_then(|r| r.last_used_on), Some(tomorrow));
}
