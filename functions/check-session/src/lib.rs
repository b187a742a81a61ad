//! `PUT /v1/sessions/{sessionId}/check`: the payer's client asks Ferry to
//! look at the session now, optionally naming its deposit transaction
//! (`txHash`). The hint is recorded on the session and, where chains are
//! configured, the transaction is looked up at once: a confirmed transfer
//! into the session's receiver becomes a deposit on the same path as the
//! chain scan's, without waiting for the next cycle.

use std::sync::Arc;

use ferry_domain::{PaymentMethod, Session, SessionStatus, TxHash};
use ferry_http::auth::check_client_secret;
use ferry_http::request::json_body;
use ferry_http::sessions::{self, Write};
use ferry_http::wire::{CheckSessionRequest, PublicSessionResponse};
use ferry_http::{ApiError, Context, HandlerResult, Request, json};
use ferry_store::SessionStore;
use ferry_watch::TxHintLookup;
use http::StatusCode;

pub struct CheckSession<S> {
    cx: Context<S>,
    lookup: Option<Arc<dyn TxHintLookup>>,
}

impl<S: SessionStore> CheckSession<S> {
    pub fn new(cx: Context<S>) -> Self {
        Self { cx, lookup: None }
    }

    /// Looks hinted transactions up on these chains at once.
    pub fn with_tx_lookup(mut self, lookup: Arc<dyn TxHintLookup>) -> Self {
        self.lookup = Some(lookup);
        self
    }

    /// Takes the hinted transaction through the deposit path now, within
    /// the lookup's budget ([`ferry_watch::HINT_BUDGET`]). A failure or a
    /// chain that does not answer in time only delays the deposit until the
    /// next scan, so it is logged, not returned: the answer is the session
    /// as it is.
    async fn look_up(&self, session: &Session, tx_hash: TxHash) {
        let (Some(lookup), Some(PaymentMethod::Evm { receiver_address, .. })) = (&self.lookup, &session.payment_method)
        else {
            return;
        };
        if session.status() != SessionStatus::WaitingPayment {
            return;
        }
        let outcome = lookup.look_up(tx_hash, *receiver_address, self.cx.ambient.now()).await;
        let found = outcome.enqueued;
        if outcome.timed_out.is_empty() {
            tracing::info!(session_id = %session.id, %tx_hash, found, failed = ?outcome.failed, "hinted transaction looked up");
        } else {
            tracing::warn!(
                session_id = %session.id,
                %tx_hash,
                found,
                timed_out = ?outcome.timed_out,
                failed = ?outcome.failed,
                "hinted transaction lookup ran out of time; the chain scan will find the deposit"
            );
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, request: Request) -> HandlerResult {
        let id = sessions::session_id(&request)?;
        let body: CheckSessionRequest = json_body(&request)?;
        let tx_hash: Option<TxHash> =
            body.tx_hash.as_deref().map(str::parse).transpose().map_err(|e| ApiError::invalid("txHash", e))?;
        let session = sessions::update(&self.cx.store, &id, |current| {
            check_client_secret(current, body.client_secret.as_deref())?;
            let next = tx_hash.and_then(|hash| current.record_tx_hash_hint(hash));
            Ok(next.map(|next| Write { next, claim_receiver: None }))
        })
        .await?;
        if let Some(tx_hash) = tx_hash {
            self.look_up(&session, tx_hash).await;
        }
        json(StatusCode::OK, &PublicSessionResponse { session: (&session).into() })
    }
}
