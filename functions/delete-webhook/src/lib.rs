//! `DELETE /v1/webhooks/{webhookId}`: removes one of the merchant's webhook
//! endpoints, freeing its place under the limit. Answers
//! `{"id", "deleted": true}`; an unknown id, one already deleted or another
//! merchant's is 404 `webhook_not_found`.

use ferry_http::auth::require_merchant;
use ferry_http::webhooks::webhook_id;
use ferry_http::wire::DeletedWebhookResponse;
use ferry_http::{ApiError, HandlerResult, Request, json};
use ferry_runtime::Clock;
use ferry_store::{MerchantStore, StoreError, WebhookStore};
use http::StatusCode;

/// How often a delete is retried when DynamoDB cancelled it for a
/// concurrent change of the merchant's endpoint count.
const MAX_ATTEMPTS: usize = 5;

pub struct DeleteWebhook<S> {
    store: S,
    clock: Clock,
}

impl<S: WebhookStore + MerchantStore> DeleteWebhook<S> {
    pub fn new(store: S) -> Self {
        Self { store, clock: Clock::system() }
    }

    /// Reads the time from `clock` (the system's by default).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, request: Request) -> HandlerResult {
        let merchant = require_merchant(&self.store, &request, self.clock.now()).await?;
        let id = webhook_id(&request)?;
        for _attempt in 0..MAX_ATTEMPTS {
            match self.store.delete_webhook(&merchant, &id).await {
                Ok(true) => {
                    tracing::info!(webhook_id = %id, "webhook endpoint deleted");
                    return json(StatusCode::OK, &DeletedWebhookResponse { id: id.to_string(), deleted: true });
                }
                Ok(false) => return Err(ApiError::webhook_not_found()),
                Err(StoreError::Conflict(why)) => {
                    tracing::info!(%why, "webhook endpoints changed concurrently; retrying");
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(ApiError::internal("webhook endpoints kept changing concurrently"))
    }
}
