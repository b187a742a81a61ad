//! Operator commands: merchants, their API keys, and parked webhook
//! deliveries.

use ferry_domain::{ApiKey, AttemptOutcome, Merchant, MerchantId, WebhookDelivery};
use ferry_notify::ReplayScope;
use ferry_store::{ApiKeyRecord, DeliveryStore, MerchantStore, StoreError};

/// Creates a merchant.
pub async fn create_merchant<S: MerchantStore>(store: &S, name: &str) -> Result<Merchant, StoreError> {
    let merchant = Merchant {
        id: MerchantId::from_random_bytes(ferry_http::random_bytes()),
        name: name.to_string(),
        created_at: ferry_http::now(),
    };
    store.create_merchant(&merchant).await?;
    Ok(merchant)
}

/// Creates an API key for a merchant; only its hash is stored, so the
/// returned key is the one chance to see it.
pub async fn create_api_key<S: MerchantStore>(store: &S, merchant_id: MerchantId) -> Result<ApiKey, StoreError> {
    let key = ApiKey::from_random_bytes(ferry_http::random_bytes());
    let record = ApiKeyRecord { hash: key.hash(), merchant_id, created_at: ferry_http::now() };
    store.create_api_key(&record).await?;
    Ok(key)
}

/// Parked deliveries, oldest first.
pub async fn parked<S: DeliveryStore>(store: &S, limit: usize) -> Result<Vec<WebhookDelivery>, StoreError> {
    store.parked_deliveries(limit).await
}

/// Makes parked deliveries due now, with a fresh round of attempts: the
/// running webhook worker (the deployment's `deliver-webhooks` schedule, or
/// `ferry serve`) sends them on its next sweep.
pub async fn replay<S: DeliveryStore>(store: &S, scope: ReplayScope) -> Result<Vec<WebhookDelivery>, StoreError> {
    ferry_notify::replay_parked(store, scope, ferry_http::now()).await
}

/// One line about a delivery: event, endpoint, attempts and the last outcome.
pub fn describe_delivery(delivery: &WebhookDelivery) -> String {
    let last = match delivery.attempts.last().map(|a| &a.outcome) {
        Some(AttemptOutcome::Responded { status }) => format!("last answer HTTP {status}"),
        Some(AttemptOutcome::Failed { error }) => format!("last failure: {error}"),
        None => "not attempted".to_string(),
    };
    format!(
        "event {} -> {} (merchant {}): {} attempts, {last}",
        delivery.event_id,
        delivery.webhook_id,
        delivery.merchant_id,
        delivery.attempts.len()
    )
}
