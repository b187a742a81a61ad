//! `POST /v1/webhooks/{webhookId}/test`: Ferry sends one of the merchant's
//! endpoints a test event, now.
//!
//! API key → the `eventType` of the body → the merchant's endpoint (404
//! otherwise) → a [`sample`] session of the merchant in the status the
//! event type implies, as an event with `"isTestEvent": true` → one signed
//! delivery through the deployment's [`WebhookSender`], whose URL policy
//! and SSRF rules apply as to every delivery → 200 with the event as sent
//! and what the endpoint answered.
//!
//! The event goes out even if the endpoint does not subscribe to its type.
//! Nothing is stored and nothing is retried: the event is not in the outbox,
//! and the endpoint's failure is what the response reports, not an error
//! of the request.

pub mod sample;

use ferry_domain::{EventKind, SessionEvent};
use ferry_http::auth::require_merchant;
use ferry_http::request::json_body;
use ferry_http::webhooks::webhook_id;
use ferry_http::wire::{EventPayload, TestWebhookRequest, TestWebhookResponse};
use ferry_http::{ApiError, HandlerResult, Request, json};
use ferry_notify::{WebhookSender, event_body};
use ferry_runtime::Ambient;
use ferry_store::{MerchantStore, WebhookStore};
use http::StatusCode;

pub struct TestWebhook<S> {
    store: S,
    sender: WebhookSender,
    ambient: Ambient,
}

impl<S: WebhookStore + MerchantStore> TestWebhook<S> {
    pub fn new(store: S, sender: WebhookSender) -> Self {
        Self { store, sender, ambient: Ambient::default() }
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
        let body: TestWebhookRequest = json_body(&request)?;
        let endpoint = self.store.get_webhook(&merchant, &id).await?.ok_or_else(ApiError::webhook_not_found)?;
        let kind = EventKind::from(body.event_type);
        let now = self.ambient.now();
        let session = sample::session(merchant, kind, now, &self.ambient.ids).map_err(ApiError::internal)?;
        let event = SessionEvent::new(self.ambient.fresh(), kind, &session, now);
        let body = event_body(&event, true).map_err(ApiError::internal)?;
        let attempt = self.sender.send(&endpoint.url, &endpoint.secret, &body, now).await;
        tracing::info!(
            webhook_id = %endpoint.id,
            event_id = %event.id,
            kind = kind.as_str(),
            outcome = ?attempt.outcome,
            latency_ms = attempt.latency_ms,
            "test event sent"
        );
        let event = EventPayload { is_test_event: true, ..EventPayload::from(&event) };
        json(StatusCode::OK, &TestWebhookResponse { event, delivery: (&attempt).into() })
    }
}
