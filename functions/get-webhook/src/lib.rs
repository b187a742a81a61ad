//! `GET /v1/webhooks/{webhookId}`: one of the merchant's webhook endpoints,
//! without its secret. Another merchant's endpoint does not exist (404).

use ferry_http::webhooks::webhook_id;
use ferry_http::wire::WebhookResponse;
use ferry_http::{ApiError, Context, HandlerResult, Request, json};
use ferry_store::{MerchantStore, WebhookStore};
use http::StatusCode;

#[tracing::instrument(skip_all)]
pub async fn handle<S: WebhookStore + MerchantStore>(cx: &Context<S>, request: Request) -> HandlerResult {
    let merchant = cx.merchant(&request).await?;
    let id = webhook_id(&request)?;
    let endpoint = cx.store.get_webhook(&merchant, &id).await?.ok_or_else(ApiError::webhook_not_found)?;
    json(StatusCode::OK, &WebhookResponse { webhook: (&endpoint).into() })
}
