//! `PUT /v1/sessions/{sessionId}/check`: the payer's client asks Ferry to
//! look at the session now, optionally naming its deposit transaction
//! (`txHash`), which is recorded for the chain watcher to look up at once.

use ferry_domain::TxHash;
use ferry_http::auth::check_client_secret;
use ferry_http::request::json_body;
use ferry_http::sessions::{self, Write};
use ferry_http::wire::{CheckSessionRequest, PublicSessionResponse};
use ferry_http::{ApiError, HandlerResult, Request, json};
use ferry_store::SessionStore;
use http::StatusCode;

pub struct CheckSession<S> {
    store: S,
}

impl<S: SessionStore> CheckSession<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, request: Request) -> HandlerResult {
        let id = sessions::session_id(&request)?;
        let body: CheckSessionRequest = json_body(&request)?;
        let tx_hash: Option<TxHash> =
            body.tx_hash.as_deref().map(str::parse).transpose().map_err(|e| ApiError::invalid("txHash", e))?;
        let session = sessions::update(&self.store, &id, |current| {
            check_client_secret(current, body.client_secret.as_deref())?;
            let next = tx_hash.and_then(|hash| current.record_tx_hash_hint(hash));
            Ok(next.map(|next| Write { next, claim_receiver: None }))
        })
        .await?;
        json(StatusCode::OK, &PublicSessionResponse { session: (&session).into() })
    }
}
