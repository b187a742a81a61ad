//! `DELETE /v1/webhooks/{webhookId}`: removes one of the merchant's webhook
//! endpoints, freeing its place under the limit. Answers
//! `{"id", "deleted": true}`; an unknown id, one already deleted or another
//! merchant's is 404 `webhook_not_found`.

use ferry_http::webhooks::webhook_id;
use ferry_http::wire::DeletedWebhookResponse;
use ferry_http::{ApiError, Context, HandlerResult, Request, json};
use ferry_store::{MerchantStore, RetryError, WebhookStore, retry_on_conflict};
use http::StatusCode;

/// How often a delete is retried when DynamoDB cancelled it for a
/// concurrent change of the merchant's endpoint count.
const MAX_ATTEMPTS: u32 = 5;

#[tracing::instrument(skip_all)]
pub async fn handle<S: WebhookStore + MerchantStore>(cx: &Context<S>, request: Request) -> HandlerResult {
    let merchant = cx.merchant(&request).await?;
    let id = webhook_id(&request)?;
    let (store, merchant, id) = (&cx.store, &merchant, &id);
    let deleted = retry_on_conflict(MAX_ATTEMPTS, |_attempt| async move {
        Ok::<_, RetryError<ApiError>>(store.delete_webhook(merchant, id).await?)
    })
    .await
    .map_err(ApiError::from)?;
    if !deleted {
        return Err(ApiError::webhook_not_found());
    }
    tracing::info!(webhook_id = %id, "webhook endpoint deleted");
    json(StatusCode::OK, &DeletedWebhookResponse { id: id.to_string(), deleted: true })
}
