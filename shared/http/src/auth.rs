//! Authentication: API keys (merchant) and client secrets (one session).

use ferry_domain::{ApiKey, ClientSecret, MerchantId, Session, Timestamp, utc_day};
use ferry_store::MerchantStore;
use lambda_http::Request;

use crate::request::header;
use crate::{ApiError, ErrorCode};

fn invalid_api_key() -> ApiError {
    ApiError::new(ErrorCode::InvalidApiKey, "The API key is not valid.")
}

/// The API key from `Authorization: Bearer <key>`, if the header is there.
fn presented_api_key(request: &Request) -> Option<Result<ApiKey, ApiError>> {
    let value = header(request, "authorization").or_else(|| {
        // A header that is present but not valid UTF-8 still counts as presented.
        request.headers().get("authorization").map(|_| "")
    })?;
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    Some(match token {
        Some(token) => token.parse::<ApiKey>().map_err(|_| invalid_api_key()),
        None => Err(ApiError::new(ErrorCode::InvalidApiKey, "The Authorization header must be `Bearer <API key>`.")),
    })
}

/// The key's merchant. The first request of each UTC day also records the
/// day as the key's last use: the record just read carries the stored day,
/// so every other request costs no write. A failure to record it is logged
/// and does not fail the request.
async fn merchant_for<S: MerchantStore>(store: &S, key: ApiKey, now: Timestamp) -> Result<MerchantId, ApiError> {
    let hash = key.hash();
    let record = store.find_api_key(&hash).await?.ok_or_else(invalid_api_key)?;
    let today = utc_day(now);
    if record.last_used_on.is_none_or(|day| day < today)
        && let Err(error) = store.record_api_key_use(&hash, today).await
    {
        let chain = ferry_runtime::error_chain(&error);
        tracing::warn!(key_id = %record.id(), "could not record an API key's use: {chain}");
    }
    Ok(record.merchant_id)
}

/// The merchant whose API key authorizes this request; 401 without one.
/// `now` dates the key's use.
pub async fn require_merchant<S: MerchantStore>(
    store: &S,
    request: &Request,
    now: Timestamp,
) -> Result<MerchantId, ApiError> {
    match presented_api_key(request) {
        None => Err(ApiError::new(
            ErrorCode::MissingApiKey,
            "This endpoint needs an API key: send `Authorization: Bearer <API key>`.",
        )),
        Some(key) => merchant_for(store, key?, now).await,
    }
}

/// The merchant when an API key is presented (it must then be valid), or
/// `None` for an anonymous request.
pub async fn optional_merchant<S: MerchantStore>(
    store: &S,
    request: &Request,
    now: Timestamp,
) -> Result<Option<MerchantId>, ApiError> {
    match presented_api_key(request) {
        None => Ok(None),
        Some(key) => merchant_for(store, key?, now).await.map(Some),
    }
}

/// Checks a presented client secret against the session's, in constant time.
pub fn check_client_secret(session: &Session, presented: Option<&str>) -> Result<(), ApiError> {
    let presented = presented.ok_or_else(|| {
        ApiError::new(ErrorCode::MissingClientSecret, "Send the session's client secret as `clientSecret`.")
            .with_param("clientSecret")
    })?;
    let invalid = || {
        ApiError::new(ErrorCode::InvalidClientSecret, "The client secret is not valid for this session.")
            .with_param("clientSecret")
    };
    let presented: ClientSecret = presented.parse().map_err(|_| invalid())?;
    if session.client_secret.matches(&presented) { Ok(()) } else { Err(invalid()) }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ferry_domain::{ApiKeyHash, ApiKeyId, Merchant, Timestamp};
    use ferry_store::memory::MemoryStore;
    use ferry_store::{ApiKeyRecord, StoreResult};

    use super::*;

    /// The in-memory store, counting the writes of a key's last use.
    #[derive(Clone, Default)]
    struct CountingStore {
        inner: MemoryStore,
        use_writes: Arc<AtomicUsize>,
    }

    impl MerchantStore for CountingStore {
        async fn create_merchant(&self, merchant: &Merchant) -> StoreResult<()> {
            self.inner.create_merchant(merchant).await
        }
        async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>> {
            self.inner.get_merchant(id).await
        }
        async fn create_api_key(&self, record: &ApiKeyRecord) -> StoreResult<()> {
            self.inner.create_api_key(record).await
        }
        async fn find_api_key(&self, hash: &ApiKeyHash) -> StoreResult<Option<ApiKeyRecord>> {
            self.inner.find_api_key(hash).await
        }
        async fn find_api_key_by_id(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>> {
            self.inner.find_api_key_by_id(id).await
        }
        async fn list_api_keys(&self, merchant_id: &MerchantId) -> StoreResult<Vec<ApiKeyRecord>> {
            self.inner.list_api_keys(merchant_id).await
        }
        async fn revoke_api_key(&self, hash: &ApiKeyHash) -> StoreResult<bool> {
            self.inner.revoke_api_key(hash).await
        }
        async fn record_api_key_use(&self, hash: &ApiKeyHash, day: Timestamp) -> StoreResult<()> {
            self.use_writes.fetch_add(1, Ordering::SeqCst);
            self.inner.record_api_key_use(hash, day).await
        }
    }

    fn with_key(key: &ApiKey) -> Request {
        let request = http::Request::builder()
            .header("authorization", format!("Bearer {}", key.reveal()))
            .body(lambda_http::Body::Empty)
            .expect("request");
        Request::from(request)
    }

    #[tokio::test]
    async fn a_key_records_its_day_of_use_once_and_a_revoked_key_is_refused() {
        let store = CountingStore::default();
        let merchant = Merchant {
            id: MerchantId::from_random_bytes([1; 16]),
            name: "Acme".into(),
            created_at: Timestamp::from_unix_seconds(1),
        };
        store.create_merchant(&merchant).await.expect("merchant");
        let key = ApiKey::from_random_bytes([2; 16]);
        let record = ApiKeyRecord::new(key.hash(), merchant.id, Timestamp::from_unix_seconds(1), None);
        store.create_api_key(&record).await.expect("key");

        let today = Timestamp::from_unix_seconds(1_800_000_000);
        for _ in 0..3 {
            assert_eq!(require_merchant(&store, &with_key(&key), today).await.expect("valid"), merchant.id);
        }
        assert_eq!(store.use_writes.load(Ordering::SeqCst), 1, "one write for the day, not one per request");
        let stored = store.find_api_key(&key.hash()).await.expect("find").expect("stored");
        assert_eq!(stored.last_used_on, Some(utc_day(today)));
        let tomorrow = today.plus_seconds(24 * 3600);
        require_merchant(&store, &with_key(&key), tomorrow).await.expect("valid");
        assert_eq!(store.use_writes.load(Ordering::SeqCst), 2, "the next day's first use is recorded");

        assert!(store.revoke_api_key(&key.hash()).await.expect("revoke"));
        let refused = require_merchant(&store, &with_key(&key), tomorrow).await.expect_err("revoked");
        assert_eq!(refused.code, ErrorCode::InvalidApiKey);
        assert_eq!(refused.status(), http::StatusCode::UNAUTHORIZED);
    }
}
