//! `GET /v1/webhooks`: the merchant's webhook endpoints, oldest first,
//! without their secrets.

use ferry_http::auth::require_merchant;
use ferry_http::wire::{WebhookListResponse, WebhookView};
use ferry_http::{HandlerResult, Request, json};
use ferry_runtime::Clock;
use ferry_store::{MerchantStore, WebhookStore};
use http::StatusCode;

pub struct ListWebhooks<S> {
    store: S,
    clock: Clock,
}

impl<S: WebhookStore + MerchantStore> ListWebhooks<S> {
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
        let endpoints = self.store.list_webhooks(&merchant).await?;
        json(StatusCode::OK, &WebhookListResponse { webhooks: endpoints.iter().map(WebhookView::from).collect() })
    }
}
