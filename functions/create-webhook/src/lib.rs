//! `POST /v1/webhooks`: a merchant registers a webhook endpoint.
//!
//! API key → parse and check the body (URL rules and the SSRF check on IP
//! literals, events, description) → store it, unless the merchant already
//! has [`MAX_WEBHOOKS_PER_MERCHANT`] → 201 with the signing secret, the only
//! time it is shown.

use ferry_domain::UrlPolicy;
use ferry_domain::webhook::MAX_WEBHOOKS_PER_MERCHANT;
use ferry_http::auth::require_merchant;
use ferry_http::request::json_body;
use ferry_http::webhooks::parse_new_webhook;
use ferry_http::wire::{CreateWebhookRequest, CreatedWebhookResponse};
use ferry_http::{ApiError, HandlerResult, Request, json};
use ferry_store::{CreateWebhookError, MerchantStore, StoreError, WebhookStore};
use http::StatusCode;

/// How often a create is retried when DynamoDB cancelled it for a
/// concurrent change of the merchant's endpoint count.
const MAX_ATTEMPTS: usize = 5;

pub struct CreateWebhook<S> {
    store: S,
    policy: UrlPolicy,
}

impl<S: WebhookStore + MerchantStore> CreateWebhook<S> {
    pub fn new(store: S, policy: UrlPolicy) -> Self {
        Self { store, policy }
    }

    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, request: Request) -> HandlerResult {
        let merchant = require_merchant(&self.store, &request).await?;
        let body: CreateWebhookRequest = json_body(&request)?;
        let endpoint = parse_new_webhook(body, self.policy)?.into_endpoint(merchant, ferry_http::now());
        for _attempt in 0..MAX_ATTEMPTS {
            match self.store.create_webhook(&endpoint, MAX_WEBHOOKS_PER_MERCHANT).await {
                Ok(()) => {
                    tracing::info!(webhook_id = %endpoint.id, "webhook endpoint created");
                    return json(StatusCode::CREATED, &CreatedWebhookResponse { webhook: (&endpoint).into() });
                }
                Err(CreateWebhookError::Store(StoreError::Conflict(why))) => {
                    tracing::info!(%why, "webhook endpoints changed concurrently; retrying");
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(ApiError::internal("webhook endpoints kept changing concurrently"))
    }
}
