//! `GET /v1/events/{eventId}`: one of the merchant's events and the log of
//! its deliveries (each endpoint it was fanned out to, the delivery's status
//! and every attempt). Beyond the API Ferry follows; the OpenAPI document
//! says so. Another merchant's event, an unknown id and a malformed one are
//! all 404 `event_not_found`.

use ferry_http::auth::require_merchant;
use ferry_http::webhooks::event_id;
use ferry_http::wire::EventResponse;
use ferry_http::{ApiError, HandlerResult, Request, json};
use ferry_runtime::Ambient;
use ferry_store::{DeliveryStore, MerchantStore};
use http::StatusCode;

pub struct GetEvent<S> {
    store: S,
    ambient: Ambient,
}

impl<S: DeliveryStore + MerchantStore> GetEvent<S> {
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
        let id = event_id(&request)?;
        let event = self
            .store
            .get_event(&id)
            .await?
            .filter(|event| event.merchant_id == merchant)
            .ok_or_else(ApiError::event_not_found)?;
        let deliveries = self.store.list_deliveries(&id).await?;
        let deliveries =
            deliveries.iter().filter(|delivery| delivery.merchant_id == merchant).map(Into::into).collect();
        json(StatusCode::OK, &EventResponse { event: (&event).into(), deliveries })
    }
}
