//! `GET /v1/sessions/{sessionId}`: the full session for the merchant that
//! owns it (API key), the public view for anyone else (client secret or no
//! credentials). Another merchant's key is told the session does not exist.

use ferry_http::auth::{check_client_secret, optional_merchant};
use ferry_http::request::query_param;
use ferry_http::wire::{PublicSessionResponse, SessionResponse};
use ferry_http::{ApiError, HandlerResult, Request, json, sessions};
use ferry_runtime::Ambient;
use ferry_store::{MerchantStore, SessionStore};
use http::StatusCode;

pub struct GetSession<S> {
    store: S,
    ambient: Ambient,
}

impl<S: SessionStore + MerchantStore> GetSession<S> {
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
        let id = sessions::session_id(&request)?;
        let merchant = optional_merchant(&self.store, &request, self.ambient.now()).await?;
        let session = sessions::load(&self.store, &id).await?;
        if let Some(merchant) = merchant {
            if session.merchant_id != merchant {
                return Err(ApiError::session_not_found());
            }
            return json(StatusCode::OK, &SessionResponse { session: (&session).into() });
        }
        if let Some(secret) = query_param(&request, "clientSecret") {
            check_client_secret(&session, Some(&secret))?;
        }
        json(StatusCode::OK, &PublicSessionResponse { session: (&session).into() })
    }
}
