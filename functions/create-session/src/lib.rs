//! `POST /v1/sessions`: a merchant creates a payment session.
//!
//! API key → parse the body into domain types → store the session (and,
//! with an `Idempotency-Key`, the response to replay) in one conditional
//! write → 201.

use std::sync::Arc;

use ferry_domain::{
    BaseUnits, ChainId, ChainRegistry, ClientSecret, Destination, DisplayInfo, EvmAddress, MerchantId, Metadata,
    MetadataError, NewSession, Session, SessionId, Timestamp,
};
use ferry_http::idempotency::{self, idempotency_key, raw_json, replay, request_hash};
use ferry_http::request::{body_bytes, json_body};
use ferry_http::wire::{CreateSessionRequest, SessionResponse};
use ferry_http::{ApiError, Context, ErrorCode, HandlerResult, Request, json};
use ferry_runtime::Ids;
use ferry_store::{CreateSessionError, IdempotencyStore, MerchantStore, SessionStore};
use http::StatusCode;

pub struct CreateSession<S> {
    cx: Context<S>,
    registry: Arc<ChainRegistry>,
}

impl<S> CreateSession<S>
where
    S: SessionStore + IdempotencyStore + MerchantStore,
{
    pub fn new(cx: Context<S>, registry: Arc<ChainRegistry>) -> Self {
        Self { cx, registry }
    }

    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, request: Request) -> HandlerResult {
        let merchant = self.cx.merchant(&request).await?;
        let idempotency_key = idempotency_key(&request)?;
        let body: CreateSessionRequest = json_body(&request)?;
        let new = parse_new_session(body, &self.registry)?;
        let now = self.cx.ambient.now();

        let Some(key) = idempotency_key else {
            let session = new_session(new, merchant, now, &self.cx.ambient.ids);
            self.cx.store.create_session(&session, None).await?;
            tracing::info!(session_id = %session.id, "session created");
            return json(StatusCode::CREATED, &SessionResponse { session: (&session).into() });
        };

        let request_hash = request_hash(body_bytes(request.body()))?;
        if let Some(record) = self.cx.store.get_idempotency(&merchant, &key, now).await? {
            return replay(&record, &request_hash);
        }
        let session = new_session(new, merchant, now, &self.cx.ambient.ids);
        let response_body =
            serde_json::to_string(&SessionResponse { session: (&session).into() }).map_err(ApiError::internal)?;
        let record = idempotency::record(
            merchant,
            key.clone(),
            request_hash.clone(),
            StatusCode::CREATED,
            response_body.clone(),
            now,
        );
        match self.cx.store.create_session(&session, Some(&record)).await {
            Ok(()) => {
                tracing::info!(session_id = %session.id, "session created");
                raw_json(StatusCode::CREATED, response_body, false)
            }
            // A concurrent request with the same key won the race: answer as it did.
            Err(CreateSessionError::IdempotencyKeyExists) => {
                match self.cx.store.get_idempotency(&merchant, &key, now).await? {
                    Some(winner) => replay(&winner, &request_hash),
                    None => Err(ApiError::internal("idempotency record vanished after a conflicting create")),
                }
            }
            Err(other) => Err(other.into()),
        }
    }
}

fn new_session(new: NewSession, merchant: MerchantId, now: Timestamp, ids: &Ids) -> Session {
    let id = SessionId::from_bytes(ids.next());
    let secret = ClientSecret::from_bytes(ids.next());
    Session::create(new, id, merchant, secret, now)
}

/// Turns the wire request into a [`NewSession`], naming the first bad field.
pub fn parse_new_session(body: CreateSessionRequest, registry: &ChainRegistry) -> Result<NewSession, ApiError> {
    let destination = body.destination;
    if destination.kind != "evm" {
        return Err(ApiError::invalid("destination.type", "must be \"evm\""));
    }
    let address: EvmAddress = destination.address.parse().map_err(|e| ApiError::invalid("destination.address", e))?;
    let chain_id = ChainId::new(destination.chain_id);
    let chain = registry.chain(chain_id).ok_or_else(|| {
        let supported: Vec<String> = registry.chains().map(|c| format!("{} ({})", c.id, c.name)).collect();
        ApiError::new(
            ErrorCode::UnsupportedChain,
            format!("Chain {chain_id} is not supported. Supported chains: {}.", supported.join(", ")),
        )
        .with_param("destination.chainId")
    })?;
    let token_address: EvmAddress =
        destination.token_address.parse().map_err(|e| ApiError::invalid("destination.tokenAddress", e))?;
    let token = chain.token(&token_address).ok_or_else(|| {
        let supported: Vec<String> = chain.tokens.iter().map(|t| format!("{} ({})", t.symbol, t.address)).collect();
        ApiError::new(
            ErrorCode::UnsupportedToken,
            format!(
                "Token {token_address} is not supported on {}. Supported tokens: {}.",
                chain.name,
                supported.join(", ")
            ),
        )
        .with_param("destination.tokenAddress")
    })?;
    let amount = destination
        .amount_units
        .map(|text| BaseUnits::parse_token_amount(&text, token.decimals))
        .transpose()
        .map_err(|e| ApiError::invalid("destination.amountUnits", e))?;
    let calldata = destination
        .calldata
        .map(|text| text.parse())
        .transpose()
        .map_err(|e| ApiError::invalid("destination.calldata", e))?;

    let display = body.display;
    let theme_mode = display.theme_mode.map(Into::into);
    let display = DisplayInfo::parse(display.title, display.verb, display.theme_css_url, display.payment_options)
        .map_err(|e| ApiError::invalid(format!("display.{}", e.field_path()), &e))?
        .with_theme_mode(theme_mode);
    let metadata = body.metadata.map(Metadata::parse).transpose().map_err(|e| match &e {
        MetadataError::TooManyKeys { .. } => ApiError::invalid("metadata", &e),
        MetadataError::BadKey { key, .. } | MetadataError::ValueTooLong { key, .. } => {
            ApiError::invalid(format!("metadata.{key}"), &e)
        }
    })?;
    let refund_address =
        body.refund_address.map(|text| text.parse()).transpose().map_err(|e| ApiError::invalid("refundAddress", e))?;

    Ok(NewSession {
        destination: Destination {
            address,
            chain_id,
            chain_name: chain.name.clone(),
            token: token.clone(),
            amount,
            calldata,
            delivery: None,
        },
        display,
        metadata,
        refund_address,
    })
}
