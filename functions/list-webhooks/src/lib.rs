//! `GET /v1/webhooks`: the merchant's webhook endpoints, oldest first,
//! without their secrets.

use ferry_http::wire::{WebhookListResponse, WebhookView};
use ferry_http::{Context, HandlerResult, Request, json};
use ferry_store::{MerchantStore, WebhookStore};
use http::StatusCode;

#[tracing::instrument(skip_all)]
pub async fn handle<S: WebhookStore + MerchantStore>(cx: &Context<S>, request: Request) -> HandlerResult {
    let merchant = cx.merchant(&request).await?;
    let endpoints = cx.store.list_webhooks(&merchant).await?;
    json(StatusCode::OK, &WebhookListResponse { webhooks: endpoints.iter().map(WebhookView::from).collect() })
}
