//! `POST /v1/sessions/{sessionId}/paymentMethods`: the payer chooses how to
//! pay. For `evm` the session gets its deposit address — a CREATE2 address
//! that is the same on every supported EVM chain — and moves to
//! `waiting_payment`. Asking again returns the same address.

use ferry_chains::evm::ReceiverDerivation;
use ferry_domain::Locale;
use ferry_http::auth::check_client_secret;
use ferry_http::request::{body_bytes, json_body};
use ferry_http::sessions::{self, Write};
use ferry_http::wire::{CreatePaymentMethodRequest, PaymentMethodRequest, PublicSessionResponse};
use ferry_http::{ApiError, Context, ErrorCode, HandlerResult, Request, json};
use ferry_store::SessionStore;
use http::StatusCode;

/// Payment method types of the followed API that Ferry does not offer (its
/// published client sends them): refused as unsupported, whatever else their
/// body holds, rather than as malformed. Any other unknown type is a
/// malformed request (`invalid_parameter`).
const NOT_OFFERED: [&str; 3] = ["exchange", "stripe", "fiat"];

fn unsupported(kind: &str) -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedPaymentMethod,
        format!("`{kind}` payment methods are not available on this deployment; use `evm`."),
    )
    .with_param("paymentMethod.type")
}

/// The unsupported-method error, when the body asks for a type of
/// [`NOT_OFFERED`].
fn not_offered(request: &Request) -> Option<ApiError> {
    let body: serde_json::Value = serde_json::from_slice(body_bytes(request.body())).ok()?;
    let kind = body.pointer("/paymentMethod/type")?.as_str()?;
    NOT_OFFERED.contains(&kind).then(|| unsupported(kind))
}

pub struct CreatePaymentMethod<S> {
    cx: Context<S>,
    receivers: ReceiverDerivation,
}

impl<S: SessionStore> CreatePaymentMethod<S> {
    pub fn new(cx: Context<S>, receivers: ReceiverDerivation) -> Self {
        Self { cx, receivers }
    }

    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, request: Request) -> HandlerResult {
        let id = sessions::session_id(&request)?;
        let body: CreatePaymentMethodRequest =
            json_body(&request).map_err(|malformed| not_offered(&request).unwrap_or(malformed))?;
        // The language is checked so a malformed one is a clear 400, then
        // not used: nothing Ferry answers is localized.
        if let Some(locale) = &body.locale {
            Locale::parse(locale).map_err(|e| ApiError::invalid("locale", &e))?;
        }
        let receiver = self.receivers.receiver(&id);
        let now = self.cx.ambient.now();
        let session = sessions::update(&self.cx.store, &id, |current| {
            check_client_secret(current, body.client_secret.as_deref())?;
            match &body.payment_method {
                PaymentMethodRequest::Evm {} => {}
                PaymentMethodRequest::Tron { .. } => return Err(unsupported("tron")),
                PaymentMethodRequest::Solana { .. } => return Err(unsupported("solana")),
            }
            let next = current.set_evm_payment_method(receiver, now)?;
            Ok(next.map(|next| Write { next, claim_receiver: Some(receiver) }))
        })
        .await?;
        tracing::info!(session_id = %session.id, %receiver, "evm payment method set");
        json(StatusCode::OK, &PublicSessionResponse { session: (&session).into() })
    }
}
