//! [`WebhookStore`](crate::WebhookStore) conformance.

use ferry_domain::{
    EventSelection, MerchantId, Timestamp, UrlPolicy, WebhookEndpoint, WebhookId, WebhookSecret, WebhookUrl,
};

use super::{NOW, fresh_bytes, fresh_merchant};
use crate::{CreateWebhookError, StoreError, WebhookStore};

/// An endpoint as `create-webhook` would build it.
pub fn sample_webhook(merchant_id: MerchantId, created_at: Timestamp) -> WebhookEndpoint {
    let mut secret = [0u8; 32];
    secret[..16].copy_from_slice(&fresh_bytes());
    secret[16..].copy_from_slice(&fresh_bytes());
    WebhookEndpoint {
        id: WebhookId::from_bytes(fresh_bytes()),
        merchant_id,
        url: WebhookUrl::parse("https://merchant.example/hooks/ferry", UrlPolicy::default()).expect("url"),
        events: EventSelection::parse(&["session.succeeded", "session.bounced"]).expect("events"),
        description: Some("Orders".into()),
        secret: WebhookSecret::from_bytes(secret),
        created_at,
    }
}

pub async fn webhooks_round_trip_scoped_to_their_merchant<S: WebhookStore>(store: &S) {
    let (owner, other) = (fresh_merchant(), fresh_merchant());
    let endpoint = sample_webhook(owner, NOW);
    store.create_webhook(&endpoint, 16).await.expect("create");

    assert_eq!(store.get_webhook(&owner, &endpoint.id).await.expect("get"), Some(endpoint.clone()));
    assert_eq!(store.get_webhook(&other, &endpoint.id).await.expect("get"), None);
    assert_eq!(store.list_webhooks(&owner).await.expect("list"), vec![endpoint.clone()]);
    assert_eq!(store.list_webhooks(&other).await.expect("list"), vec![]);

    // The same id again is a conflict, not a second endpoint.
    let again = store.create_webhook(&endpoint, 16).await;
    assert!(matches!(again, Err(CreateWebhookError::Store(StoreError::Conflict(_)))), "{again:?}");
    assert_eq!(store.list_webhooks(&owner).await.expect("list").len(), 1);

    assert!(!store.delete_webhook(&other, &endpoint.id).await.expect("delete"), "another merchant deleted it");
    assert!(store.get_webhook(&owner, &endpoint.id).await.expect("get").is_some());
    assert!(store.delete_webhook(&owner, &endpoint.id).await.expect("delete"));
    assert_eq!(store.get_webhook(&owner, &endpoint.id).await.expect("get"), None);
    assert!(!store.delete_webhook(&owner, &endpoint.id).await.expect("delete"), "deleted twice");
    assert_eq!(store.list_webhooks(&owner).await.expect("list"), vec![]);
}

pub async fn webhooks_are_listed_oldest_first<S: WebhookStore>(store: &S) {
    let merchant = fresh_merchant();
    let endpoints: Vec<WebhookEndpoint> =
        [30, 10, 20].iter().map(|offset| sample_webhook(merchant, NOW.plus_seconds(*offset))).collect();
    for endpoint in &endpoints {
        store.create_webhook(endpoint, 16).await.expect("create");
    }
    let listed: Vec<Timestamp> =
        store.list_webhooks(&merchant).await.expect("list").iter().map(|e| e.created_at).collect();
    assert_eq!(listed, vec![NOW.plus_seconds(10), NOW.plus_seconds(20), NOW.plus_seconds(30)]);
}

pub async fn the_limit_counts_live_endpoints<S: WebhookStore>(store: &S) {
    let merchant = fresh_merchant();
    let mut created = Vec::new();
    for _ in 0..3 {
        let endpoint = sample_webhook(merchant, NOW);
        store.create_webhook(&endpoint, 3).await.expect("create under the limit");
        created.push(endpoint);
    }
    let over = store.create_webhook(&sample_webhook(merchant, NOW), 3).await;
    assert!(matches!(over, Err(CreateWebhookError::LimitReached { limit: 3 })), "{over:?}");
    // Another merchant has its own count.
    store.create_webhook(&sample_webhook(fresh_merchant(), NOW), 3).await.expect("another merchant");
    // Deleting one frees its place; deleting an unknown id frees nothing.
    assert!(!store.delete_webhook(&merchant, &WebhookId::from_bytes(fresh_bytes())).await.expect("delete"));
    let over = store.create_webhook(&sample_webhook(merchant, NOW), 3).await;
    assert!(matches!(over, Err(CreateWebhookError::LimitReached { .. })), "{over:?}");
    assert!(store.delete_webhook(&merchant, &created[0].id).await.expect("delete"));
    store.create_webhook(&sample_webhook(merchant, NOW), 3).await.expect("create after a delete");
    assert_eq!(store.list_webhooks(&merchant).await.expect("list").len(), 3);
}

pub async fn concurrent_creates_never_exceed_the_limit<S: WebhookStore + Clone + 'static>(store: &S) {
    const LIMIT: usize = 3;
    let merchant = fresh_merchant();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.create_webhook(&sample_webhook(merchant, NOW), LIMIT).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("join") {
            Ok(()) => created += 1,
            // A lost race (DynamoDB cancels concurrent transactions on one item).
            Err(CreateWebhookError::LimitReached { .. } | CreateWebhookError::Store(StoreError::Conflict(_))) => {}
            Err(other) => panic!("unexpected failure: {other:?}"),
        }
    }
    assert!((1..=LIMIT).contains(&created), "{created} created");
    assert_eq!(store.list_webhooks(&merchant).await.expect("list").len(), created);
    // Filling up sequentially stops exactly at the limit.
    for _ in created..LIMIT {
        store.create_webhook(&sample_webhook(merchant, NOW), LIMIT).await.expect("create");
    }
    let over = store.create_webhook(&sample_webhook(merchant, NOW), LIMIT).await;
    assert!(matches!(over, Err(CreateWebhookError::LimitReached { .. })), "{over:?}");
    assert_eq!(store.list_webhooks(&merchant).await.expect("list").len(), LIMIT);
}
