//! Operator commands: merchants, their API keys, and parked webhook
//! deliveries.

use ferry_domain::{ApiKey, ApiKeyId, ApiKeyLabel, AttemptOutcome, Merchant, MerchantId, WebhookDelivery, utc_date};
use ferry_notify::ReplayScope;
use ferry_store::{ApiKeyRecord, DeliveryStore, MerchantStore, StoreError};

/// Creates a merchant.
pub async fn create_merchant<S: MerchantStore>(store: &S, name: &str) -> Result<Merchant, StoreError> {
    let merchant = Merchant {
        id: MerchantId::from_random_bytes(ferry_runtime::Ids::random().next()),
        name: name.to_string(),
        created_at: ferry_runtime::Clock::system().now(),
    };
    store.create_merchant(&merchant).await?;
    Ok(merchant)
}

/// Creates an API key for a merchant; only its hash is stored, so the
/// returned key is the one chance to see it.
pub async fn create_api_key<S: MerchantStore>(store: &S, merchant_id: MerchantId) -> Result<ApiKey, StoreError> {
    create_labelled_api_key(store, merchant_id, None).await.map(|(key, _)| key)
}

/// [`create_api_key`] with a label to tell the merchant's keys apart.
pub async fn create_labelled_api_key<S: MerchantStore>(
    store: &S,
    merchant_id: MerchantId,
    label: Option<ApiKeyLabel>,
) -> Result<(ApiKey, ApiKeyRecord), StoreError> {
    let key = ApiKey::from_random_bytes(ferry_runtime::Ids::random().next());
    let record = ApiKeyRecord::new(key.hash(), merchant_id, ferry_runtime::Clock::system().now(), label);
    store.create_api_key(&record).await?;
    Ok((key, record))
}

/// Which key `ferry api-key revoke` means: the key itself, or its id.
#[derive(Clone, Debug)]
pub enum KeyRef {
    Key(ApiKey),
    Id(ApiKeyId),
}

impl std::str::FromStr for KeyRef {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(id) = s.parse() {
            return Ok(Self::Id(id));
        }
        s.parse()
            .map(Self::Key)
            .map_err(|_| "expected an API key (a UUID) or a key id from `ferry api-key list` (key_…)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("no such API key (already revoked, or never created in this store)")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Revokes a key: from the moment this returns, it authenticates nothing.
pub async fn revoke_api_key<S: MerchantStore>(store: &S, key: &KeyRef) -> Result<ApiKeyRecord, RevokeError> {
    let record = match key {
        KeyRef::Key(key) => store.find_api_key(&key.hash()).await?,
        KeyRef::Id(id) => store.find_api_key_by_id(id).await?,
    }
    .ok_or(RevokeError::NotFound)?;
    if store.revoke_api_key(&record.hash).await? { Ok(record) } else { Err(RevokeError::NotFound) }
}

/// One line about a key, never the key nor its hash: id, creation day, last
/// day of use, label.
pub fn describe_api_key(record: &ApiKeyRecord) -> String {
    let last_used = record.last_used_on.map_or_else(|| "never".to_string(), utc_date);
    let label = record.label.as_ref().map_or("-", ApiKeyLabel::as_str);
    format!("{}  created {}  last used {last_used}  {label}", record.id(), utc_date(record.created_at))
}

/// Parked deliveries, oldest first.
pub async fn parked<S: DeliveryStore>(store: &S, limit: usize) -> Result<Vec<WebhookDelivery>, StoreError> {
    store.parked_deliveries(limit).await
}

/// Makes parked deliveries due now, with a fresh round of attempts: the
/// running webhook worker (the deployment's `deliver-webhooks` schedule, or
/// `ferry serve`) sends them on its next sweep.
pub async fn replay<S: DeliveryStore>(store: &S, scope: ReplayScope) -> Result<Vec<WebhookDelivery>, StoreError> {
    ferry_notify::replay_parked(store, scope, ferry_runtime::Clock::system().now()).await
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
