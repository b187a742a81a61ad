//! `GET /v1/events/{eventId}`: one of the merchant's events and the log of
//! its deliveries (each endpoint it was fanned out to, the delivery's status
//! and every attempt). Beyond the API Ferry follows; the OpenAPI document
//! says so. Another merchant's event, an unknown id and a malformed one are
//! all 404 `event_not_found`.

use ferry_http::webhooks::event_id;
use ferry_http::wire::EventResponse;
use ferry_http::{ApiError, Context, HandlerResult, Request, json};
use ferry_store::{DeliveryStore, MerchantStore};
use http::StatusCode;

#[tracing::instrument(skip_all)]
pub async fn handle<S: DeliveryStore + MerchantStore>(cx: &Context<S>, request: Request) -> HandlerResult {
    let merchant = cx.merchant(&request).await?;
    let id = event_id(&request)?;
    let event = cx
        .store
        .get_event(&id)
        .await?
        .filter(|event| event.merchant_id == merchant)
        .ok_or_else(ApiError::event_not_found)?;
    let deliveries = cx.store.list_deliveries(&id).await?;
    let deliveries = deliveries.iter().filter(|delivery| delivery.merchant_id == merchant).map(Into::into).collect();
    json(StatusCode::OK, &EventResponse { event: (&event).into(), deliveries })
}
