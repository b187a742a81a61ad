//! `GET /v1/webhooks`: the merchant's webhook endpoints, oldest first,
//! without their secrets.

use ferry_http::auth::require_merchant;
use ferry_http::wire::{WebhookListResponse, WebhookView};
use ferry_http::{HandlerResult, Request, json};
use ferry_runtime::Ambient;
use ferry_store::{MerchantStore, WebhookStore};
use http::StatusCode;

pub struct ListWebhooks<S> {
    store: S,
    ambient: Ambient,
}

impl<S: WebhookStore + MerchantStore> ListWebhooks<S> {
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
        let endpoints = self.store.list_webhooks(&merchant).await?;
        json(StatusCode::OK, &WebhookListResponse { webhooks: endpoints.iter().map(WebhookView::from).collect() })
    }
}
