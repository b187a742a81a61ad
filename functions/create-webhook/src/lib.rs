//! `POST /v1/webhooks`: a merchant registers a webhook endpoint.
//!
//! API key → parse and check the body (URL rules and the SSRF check on IP
//! literals, events, description) → resolve a host name and refuse it if
//! every address it has is one deliveries may not reach → store it, unless
//! the merchant already has [`MAX_WEBHOOKS_PER_MERCHANT`] → 201 with the
//! signing secret, the only time it is shown.
//!
//! A name that does not resolve now (not yet in DNS, a resolver hiccup) is
//! accepted: every delivery resolves it again and applies the same rules,
//! which is what actually protects the network.

use std::time::Duration;

use ferry_domain::webhook::MAX_WEBHOOKS_PER_MERCHANT;
use ferry_domain::{UrlPolicy, WebhookUrl};
use ferry_http::request::json_body;
use ferry_http::webhooks::parse_new_webhook;
use ferry_http::wire::{CreateWebhookRequest, CreatedWebhookResponse};
use ferry_http::{ApiError, Context, HandlerResult, Request, json};
use ferry_notify::{GuardedResolver, HostLookup, ResolveError};
use ferry_store::{CreateWebhookError, MerchantStore, RetryError, WebhookStore, retry_on_conflict};
use http::StatusCode;

/// How often a create is retried when DynamoDB cancelled it for a
/// concurrent change of the merchant's endpoint count.
const MAX_ATTEMPTS: u32 = 5;
/// How long the host name check may take; a name not resolved by then is
/// accepted (deliveries check it again).
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

pub struct CreateWebhook<S> {
    cx: Context<S>,
    policy: UrlPolicy,
    resolver: GuardedResolver,
}

impl<S: WebhookStore + MerchantStore> CreateWebhook<S> {
    pub fn new(cx: Context<S>, policy: UrlPolicy) -> Self {
        Self { cx, policy, resolver: GuardedResolver::new(HostLookup::System, policy) }
    }

    /// Resolves host names with `lookup` (tests: a fixed table).
    pub fn with_lookup(mut self, lookup: HostLookup) -> Self {
        self.resolver = GuardedResolver::new(lookup, self.policy);
        self
    }

    /// Refuses a host name all of whose addresses deliveries may not reach.
    async fn check_host(&self, url: &WebhookUrl) -> Result<(), ApiError> {
        let Some(url::Host::Domain(host)) = url.host() else { return Ok(()) };
        match tokio::time::timeout(RESOLVE_TIMEOUT, self.resolver.resolve_host(host)).await {
            Ok(Err(ResolveError::Refused(refused))) => Err(ApiError::invalid(
                "url",
                format!("must not name a host that resolves only to {} addresses ({host})", refused.class),
            )),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                tracing::info!(%error, "the endpoint's host does not resolve now; deliveries will check it");
                Ok(())
            }
            Err(_elapsed) => {
                tracing::info!("resolving the endpoint's host timed out; deliveries will check it");
                Ok(())
            }
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, request: Request) -> HandlerResult {
        let merchant = self.cx.merchant(&request).await?;
        let body: CreateWebhookRequest = json_body(&request)?;
        let new = parse_new_webhook(body, self.policy)?;
        self.check_host(&new.url).await?;
        let endpoint = new.into_endpoint(merchant, self.cx.ambient.now(), &self.cx.ambient.ids);
        let (store, endpoint) = (&self.cx.store, &endpoint);
        retry_on_conflict(MAX_ATTEMPTS, |_attempt| async move {
            store.create_webhook(endpoint, MAX_WEBHOOKS_PER_MERCHANT).await.map_err(|error| match error {
                CreateWebhookError::Store(error) => RetryError::Store(error),
                refused => RetryError::Refused(ApiError::from(refused)),
            })
        })
        .await
        .map_err(ApiError::from)?;
        tracing::info!(webhook_id = %endpoint.id, "webhook endpoint created");
        json(StatusCode::CREATED, &CreatedWebhookResponse { webhook: endpoint.into() })
    }
}
