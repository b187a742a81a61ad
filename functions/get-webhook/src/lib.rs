//! `GET /v1/webhooks/{webhookId}`: one of the merchant's webhook endpoints,
//! without its secret. Another merchant's endpoint does not exist (404).

use ferry_http::auth::require_merchant;
use ferry_http::webhooks::webhook_id;
use ferry_http::wire::WebhookResponse;
use ferry_http::{ApiError, HandlerResult, Request, json};
use ferry_runtime::Ambient;
use ferry_store::{MerchantStore, WebhookStore};
use http::StatusCode;

pub struct GetWebhook<S> {
    store: S,
    ambient: Ambient,
}

impl<S: WebhookStore + MerchantStore> GetWebhook<S> {
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
        let endpoint = self.store.get_webhook(&merchant, &id).await?.ok_or_else(ApiError::webhook_not_found)?;
        json(StatusCode::OK, &WebhookResponse { webhook: (&endpoint).into() })
    }
}
