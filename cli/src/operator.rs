//! Operator commands: merchants and their API keys.

use ferry_domain::{ApiKey, Merchant, MerchantId};
use ferry_store::{ApiKeyRecord, MerchantStore, StoreError};

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
