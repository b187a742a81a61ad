//! `GET /v1/sessions/{sessionId}`: the full session for the merchant that
//! owns it (API key), the public view for anyone else (client secret or no
//! credentials). Another merchant's key is told the session does not exist.

use ferry_http::auth::check_client_secret;
use ferry_http::request::query_param;
use ferry_http::wire::{PublicSessionResponse, SessionResponse};
use ferry_http::{ApiError, Context, HandlerResult, Request, json, sessions};
use ferry_store::{MerchantStore, SessionStore};
use http::StatusCode;

#[tracing::instrument(skip_all)]
pub async fn handle<S: SessionStore + MerchantStore>(cx: &Context<S>, request: Request) -> HandlerResult {
    let id = sessions::session_id(&request)?;
    let merchant = cx.optional_merchant(&request).await?;
    let session = sessions::load(&cx.store, &id).await?;
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
