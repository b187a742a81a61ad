//! `DELETE /v1/webhooks/{webhookId}`: removes one of the merchant's webhook
//! endpoints, freeing its place under the limit. Answers
//! `{"id", "deleted": true}`; an unknown id, one already deleted or another
//! merchant's is 404 `webhook_not_found`.

use ferry_http::auth::require_merchant;
use ferry_http::webhooks::webhook_id;
use ferry_http::wire::DeletedWebhookResponse;
use ferry_http::{ApiError, HandlerResult, Request, json};
use ferry_runtime::Ambient;
use ferry_store::{MerchantStore, RetryError, WebhookStore, retry_on_conflict};
use http::StatusCode;

/// How often a delete is retried when DynamoDB cancelled it for a
/// concurrent change of the merchant's endpoint count.
const MAX_ATTEMPTS: u32 = 5;

pub struct DeleteWebhook<S> {
    store: S,
    ambient: Ambient,
}

impl<S: WebhookStore + MerchantStore> DeleteWebhook<S> {
    pub fn new(store: S) -> Self {
        Self { store, ambient: Ambient::default() }
    }

    /// Takes the time and fresh ids from `ambient` (the system's by default).
    pub fn with_ambient(mut self, ambient: Ambient) -> Self {
        self.ambient = ambient;
        self
    }

    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, request: Request) -> HandlerResult {
        let merchant = require_merchant(&self.store, &request, self.ambient.now()).await?;
        let id = webhook_id(&request)?;
        let (store, merchant, id) = (&self.store, &merchant, &id);
        let deleted = retry_on_conflict(MAX_ATTEMPTS, |_attempt| async move {
            Ok::<_, RetryError<ApiError>>(store.delete_webhook(merchant, id).await?)
        })
        .await
        .map_err(ApiError::from)?;
        if !deleted {
            return Err(ApiError::webhook_not_found());
        }
        tracing::info!(webhook_id = %id, "webhook endpoint deleted");
        json(StatusCode::OK, &DeletedWebhookResponse { id: id.to_string(), deleted: true })
    }
}
