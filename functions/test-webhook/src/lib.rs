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
use ferry_http::request::json_body;
use ferry_http::webhooks::webhook_id;
use ferry_http::wire::{EventPayload, TestWebhookRequest, TestWebhookResponse};
use ferry_http::{ApiError, Context, HandlerResult, Request, json};
use ferry_notify::{WebhookSender, event_body};
use ferry_store::{MerchantStore, WebhookStore};
use http::StatusCode;

pub struct TestWebhook<S> {
    cx: Context<S>,
    sender: WebhookSender,
}

impl<S: WebhookStore + MerchantStore> TestWebhook<S> {
    pub fn new(cx: Context<S>, sender: WebhookSender) -> Self {
        Self { cx, sender }
    }

    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, request: Request) -> HandlerResult {
        let merchant = self.cx.merchant(&request).await?;
        let id = webhook_id(&request)?;
        let body: TestWebhookRequest = json_body(&request)?;
        let endpoint = self.cx.store.get_webhook(&merchant, &id).await?.ok_or_else(ApiError::webhook_not_found)?;
        let kind = EventKind::from(body.event_type);
        let now = self.cx.ambient.now();
        let session = sample::session(merchant, kind, now, &self.cx.ambient.ids).map_err(ApiError::internal)?;
        let event = SessionEvent::new(self.cx.ambient.fresh(), kind, &session, now);
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
