//! The JSON shapes of requests and responses, as the public API defines
//! them (camelCase, amounts as decimal strings in token units). The OpenAPI
//! document is generated from these types.

use std::collections::BTreeMap;

use ferry_domain::{
    AttemptOutcome, DeliveryAttempt, DeliveryState, EventKind, PaymentMethod, RefundReason, Session, SessionEvent,
    SessionRefund, SessionStatus, ThemeMode, WebhookDelivery,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// ---------------------------------------------------------------- requests

/// `POST /v1/sessions`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateSessionRequest {
    pub destination: DestinationRequest,
    pub display: DisplayRequest,
    /// Up to 50 string keys (1–40 characters) with string values (at most 500 characters).
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Receives the funds if delivery fails. `^0x[0-9a-fA-F]{40}$`.
    #[serde(default)]
    #[schema(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub refund_address: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DestinationRequest {
    /// Always `"evm"`.
    #[serde(rename = "type")]
    #[schema(example = "evm")]
    pub kind: String,
    #[schema(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub address: String,
    /// A supported EVM chain id.
    #[schema(example = 8453)]
    pub chain_id: u64,
    /// A token Ferry supports on that chain.
    #[schema(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub token_address: String,
    /// A positive decimal amount in token units, with at most the token's
    /// decimals. Absent: the payer chooses the amount.
    #[serde(default)]
    #[schema(example = "10.00")]
    pub amount_units: Option<String>,
    /// `0x` hex data: after delivery Ferry approves the amount to `address`
    /// and calls it with this data.
    #[serde(default)]
    pub calldata: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DisplayRequest {
    pub title: String,
    pub verb: String,
    #[serde(default)]
    pub theme_css_url: Option<String>,
    #[serde(default)]
    pub payment_options: Option<Vec<String>>,
    /// The checkout's colour scheme; absent: the payer's system setting.
    #[serde(default)]
    pub theme_mode: Option<ThemeModeView>,
}

/// The checkout's colour scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ThemeModeView {
    /// Follow the payer's system setting.
    System,
    Light,
    Dark,
}

impl From<ThemeModeView> for ThemeMode {
    fn from(mode: ThemeModeView) -> Self {
        match mode {
            ThemeModeView::System => Self::System,
            ThemeModeView::Light => Self::Light,
            ThemeModeView::Dark => Self::Dark,
        }
    }
}

impl From<ThemeMode> for ThemeModeView {
    fn from(mode: ThemeMode) -> Self {
        match mode {
            ThemeMode::System => Self::System,
            ThemeMode::Light => Self::Light,
            ThemeMode::Dark => Self::Dark,
        }
    }
}

/// `POST /v1/sessions/{sessionId}/paymentMethods`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePaymentMethodRequest {
    #[serde(default)]
    pub client_secret: Option<String>,
    pub payment_method: PaymentMethodRequest,
    /// The payer's UI language, which the followed API's clients send with
    /// every payment method (e.g. `"en"`, `"es-ES"`): a language tag of at
    /// most 35 characters. Checked, then ignored: Ferry's answers are not
    /// localized.
    #[serde(default)]
    #[schema(max_length = 35, pattern = "^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$", example = "en")]
    pub locale: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum PaymentMethodRequest {
    /// A deposit address on every supported EVM chain.
    Evm {},
    /// A leased Tron address for USDT (TRC-20). Not yet available.
    Tron {
        #[serde(rename = "amountUsd")]
        #[schema(value_type = f64)]
        amount_usd: serde_json::Number,
    },
    /// An unsigned Solana transaction. Not yet available.
    Solana {
        #[serde(rename = "walletAddress")]
        wallet_address: String,
        #[serde(rename = "inputTokenMint")]
        input_token_mint: String,
        #[serde(rename = "amountUsd")]
        #[schema(value_type = f64)]
        amount_usd: serde_json::Number,
    },
}

/// `PUT /v1/sessions/{sessionId}/check`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckSessionRequest {
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The payer's deposit transaction, so Ferry can look it up at once.
    #[serde(default)]
    #[schema(pattern = "^0x[0-9a-fA-F]{64}$")]
    pub tx_hash: Option<String>,
}

// --------------------------------------------------------------- responses

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatusView {
    RequiresPaymentMethod,
    WaitingPayment,
    Processing,
    Succeeded,
    Bounced,
    Expired,
}

impl From<SessionStatus> for SessionStatusView {
    fn from(status: SessionStatus) -> Self {
        match status {
            SessionStatus::RequiresPaymentMethod => Self::RequiresPaymentMethod,
            SessionStatus::WaitingPayment => Self::WaitingPayment,
            SessionStatus::Processing => Self::Processing,
            SessionStatus::Succeeded => Self::Succeeded,
            SessionStatus::Bounced => Self::Bounced,
            SessionStatus::Expired => Self::Expired,
        }
    }
}

/// What anyone holding the session id may see.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionPublicInfo {
    /// 32 lowercase hex characters.
    pub session_id: String,
    pub status: SessionStatusView,
    pub destination: DestinationView,
    pub display: DisplayView,
    /// `null` until the payer chooses how to pay.
    pub payment_method: Option<PaymentMethodView>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; by default `createdAt + 3600`.
    pub expires_at: u64,
}

/// The merchant's view of its session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    #[serde(flatten)]
    pub public: SessionPublicInfo,
    pub metadata: Option<BTreeMap<String, String>>,
    /// Give this to the payer's client; it authorizes that one session.
    pub client_secret: String,
    /// Beyond the API Ferry follows (an addition its clients may ignore):
    /// the session's deposits that Ferry sent back, in the order they were
    /// refunded, in any status (a late deposit is listed on an `expired`
    /// session, a second one on a `succeeded` one). Absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<RefundView>,
}

/// A deposit Ferry sent back. Beyond the API Ferry follows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    /// The chain the refunded deposit was made on.
    pub deposit_chain_id: u64,
    /// The refunded deposit's transaction.
    pub deposit_tx_hash: String,
    /// Where the refund was sent: the deposit's chain, or the destination
    /// chain when a payout from inventory bounced off a reverting call.
    pub chain_id: u64,
    pub chain_name: String,
    /// EIP-55 checksummed.
    pub token_address: String,
    pub token_symbol: String,
    /// What was sent back, in the token's units.
    #[schema(example = "10.00")]
    pub amount_units: String,
    /// The refund address, or else the deposit's sender. EIP-55 checksummed.
    pub to: String,
    /// The refund's transaction.
    pub tx_hash: String,
    pub reason: RefundReasonView,
}

/// Why a deposit was sent back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundReasonView {
    /// The session had expired when the deposit arrived.
    Expired,
    /// The session was already paid (or being paid) by another deposit.
    AlreadyPaid,
    /// Less than the session's amount, beyond the tolerance.
    Underpaid,
    /// More than the session's amount, beyond the tolerance.
    Overpaid,
    /// The destination's contract call reverted (the session `bounced`).
    CallReverted,
}

impl From<&RefundReason> for RefundReasonView {
    fn from(reason: &RefundReason) -> Self {
        match reason {
            RefundReason::Expired => Self::Expired,
            RefundReason::AlreadyPaid => Self::AlreadyPaid,
            RefundReason::Underpaid { .. } => Self::Underpaid,
            RefundReason::Overpaid { .. } => Self::Overpaid,
            RefundReason::CallReverted => Self::CallReverted,
        }
    }
}

impl From<&SessionRefund> for RefundView {
    fn from(refund: &SessionRefund) -> Self {
        Self {
            deposit_chain_id: refund.deposit_chain_id.get(),
            deposit_tx_hash: refund.deposit_tx_hash.to_string(),
            chain_id: refund.chain_id.get(),
            chain_name: refund.chain_name.clone(),
            token_address: refund.token.address.to_string(),
            token_symbol: refund.token.symbol.clone(),
            amount_units: refund.amount.to_token_amount(refund.token.decimals),
            to: refund.to.to_string(),
            tx_hash: refund.tx_hash.to_string(),
            reason: (&refund.reason).into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DestinationView {
    /// Always `"evm"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// EIP-55 checksummed.
    pub address: String,
    pub chain_id: u64,
    pub chain_name: String,
    pub token_address: String,
    pub token_symbol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_units: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calldata: Option<String>,
    /// Present once the session succeeded or bounced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub tx_hash: String,
    pub received_units: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisplayView {
    pub title: String,
    pub verb: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme_css_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_options: Option<Vec<String>>,
    /// As given at creation; absent when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub theme_mode: Option<ThemeModeView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PaymentMethodView {
    Evm {
        /// The session's deposit address, the same on every supported EVM chain.
        #[serde(rename = "receiverAddress")]
        receiver_address: String,
        #[serde(rename = "createdAt")]
        created_at: u64,
        /// The deposit, once Ferry has seen it.
        #[serde(skip_serializing_if = "Option::is_none")]
        source: Option<SourceView>,
    },
}

/// What the payer sent.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceView {
    pub address: String,
    pub chain_id: u64,
    pub chain_name: String,
    pub token_address: String,
    pub token_symbol: String,
    /// In the source token's units.
    pub sent_units: String,
    pub tx_hash: String,
}

/// `{"session": SessionPublicInfo}`
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicSessionResponse {
    pub session: SessionPublicInfo,
}

/// `{"session": Session}`
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    pub session: SessionView,
}

/// `GET /v1/sessions/{sessionId}/tokenOptions`: every stablecoin the session
/// can be paid with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenOptionsResponse {
    /// 32 lowercase hex characters.
    pub session_id: String,
    /// Every supported stablecoin of every supported chain, by chain id, then
    /// in the registry's order of the chain's tokens.
    pub options: Vec<TokenOptionView>,
}

/// One token the payer can pay with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenOptionView {
    pub chain_id: u64,
    /// EIP-55 checksummed.
    pub token_address: String,
    pub token_symbol: String,
    /// The session's amount converted at par (1 stablecoin unit = 1 unit) to
    /// this token's decimals, rounded up so that paying it is never short;
    /// in this token's units. `null` when the session has no fixed amount
    /// (the payer chooses it).
    #[schema(required = true, example = "10.50")]
    pub required_units: Option<String>,
    /// The wallet's balance of this token, in token units. Present only when
    /// `evmAddress` was given and the chain could be read; absent otherwise
    /// (Ferry has no node for the chain, or it did not answer in time).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "125.00")]
    pub balance_units: Option<String>,
}

impl From<&Session> for SessionPublicInfo {
    fn from(session: &Session) -> Self {
        let destination = &session.destination;
        let decimals = destination.token.decimals;
        Self {
            session_id: session.id.to_string(),
            status: session.status().into(),
            destination: DestinationView {
                kind: "evm",
                address: destination.address.to_string(),
                chain_id: destination.chain_id.get(),
                chain_name: destination.chain_name.clone(),
                token_address: destination.token.address.to_string(),
                token_symbol: destination.token.symbol.clone(),
                amount_units: destination.amount.map(|amount| amount.to_token_amount(decimals)),
                calldata: destination.calldata.as_ref().map(ToString::to_string),
                delivery: destination.delivery.as_ref().map(|delivery| DeliveryView {
                    tx_hash: delivery.tx_hash.to_string(),
                    received_units: delivery.received.to_token_amount(decimals),
                }),
            },
            display: DisplayView {
                title: session.display.title().to_string(),
                verb: session.display.verb().to_string(),
                theme_css_url: session.display.theme_css_url().map(str::to_string),
                payment_options: session.display.payment_options().map(<[String]>::to_vec),
                theme_mode: session.display.theme_mode().map(Into::into),
            },
            payment_method: session.payment_method.as_ref().map(|method| match method {
                PaymentMethod::Evm { receiver_address, created_at, source } => PaymentMethodView::Evm {
                    receiver_address: receiver_address.to_string(),
                    created_at: created_at.unix_seconds(),
                    source: source.as_ref().map(|source| SourceView {
                        address: source.address.to_string(),
                        chain_id: source.chain_id.get(),
                        chain_name: source.chain_name.clone(),
                        token_address: source.token.address.to_string(),
                        token_symbol: source.token.symbol.clone(),
                        sent_units: source.sent.to_token_amount(source.token.decimals),
                        tx_hash: source.tx_hash.to_string(),
                    }),
                },
            }),
            created_at: session.created_at.unix_seconds(),
            expires_at: session.expires_at.unix_seconds(),
        }
    }
}

impl From<&Session> for SessionView {
    fn from(session: &Session) -> Self {
        Self {
            public: session.into(),
            metadata: session.metadata.as_ref().map(|m| m.entries().clone()),
            client_secret: session.client_secret.reveal(),
            refunds: session.refunds.iter().map(RefundView::from).collect(),
        }
    }
}

// ---------------------------------------------------------------- webhooks

/// The session in an event: the merchant's full view of it, without its
/// client secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSessionView {
    #[serde(flatten)]
    pub public: SessionPublicInfo,
    pub metadata: Option<BTreeMap<String, String>>,
    /// As in the merchant's view: beyond the API Ferry follows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<RefundView>,
}

impl From<&Session> for EventSessionView {
    fn from(session: &Session) -> Self {
        Self {
            public: session.into(),
            metadata: session.metadata.as_ref().map(|m| m.entries().clone()),
            refunds: session.refunds.iter().map(RefundView::from).collect(),
        }
    }
}

/// `{"session": EventSessionView}`
#[derive(Debug, Serialize, ToSchema)]
pub struct EventData {
    pub session: EventSessionView,
}

/// A webhook delivery's body:
/// `{"id", "type", "createdAt", "data": {"session"}, "isTestEvent"?: true}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPayload {
    /// A UUID, the same on every delivery attempt of the event.
    pub id: String,
    /// `session.processing`, `session.succeeded`, `session.bounced` or `session.expired`.
    #[serde(rename = "type")]
    #[schema(example = "session.succeeded")]
    pub kind: &'static str,
    /// Unix seconds.
    pub created_at: u64,
    pub data: EventData,
    /// Present (and `true`) only on test deliveries.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_test_event: bool,
}

impl From<&SessionEvent> for EventPayload {
    fn from(event: &SessionEvent) -> Self {
        Self {
            id: event.id.to_string(),
            kind: event.kind.as_str(),
            created_at: event.created_at.unix_seconds(),
            data: EventData { session: (&event.session).into() },
            is_test_event: false,
        }
    }
}

/// `POST /v1/webhooks`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateWebhookRequest {
    /// Where deliveries are POSTed: `https`, at most 2048 characters, no
    /// username or password, no fragment, and neither an IP address in a
    /// private, loopback, link-local, unique-local, multicast or reserved
    /// range nor a host name that resolves only to such addresses (names
    /// are resolved again at every delivery; plain `http` to a loopback
    /// host only where the deployment allows it for development).
    #[schema(example = "https://shop.example/hooks/ferry")]
    pub url: String,
    /// `["*"]` (the default: every event, including ones added later) or
    /// a non-empty list of `session.processing`, `session.succeeded`,
    /// `session.bounced`, `session.expired`. Duplicates are ignored; `"*"`
    /// must stand alone.
    #[serde(default)]
    #[schema(example = json!(["session.succeeded", "session.bounced"]))]
    pub events: Option<Vec<String>>,
    /// At most 500 characters; empty means none.
    #[serde(default)]
    pub description: Option<String>,
}

/// A webhook endpoint, without its secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    /// `wh_` and 32 lowercase hex characters.
    #[schema(example = "wh_0123456789abcdef0123456789abcdef")]
    pub id: String,
    /// The URL as normalized when it was registered.
    pub url: String,
    /// `["*"]` or the subscribed event types.
    pub events: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
}

/// A webhook endpoint as created: with its signing secret, shown only once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhookView {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_` and 64 lowercase hex characters: the HMAC-SHA256 key of
    /// every delivery's `Ferry-Signature`. Shown only in this response.
    #[schema(example = "whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    pub secret: String,
}

/// `{"webhook": CreatedWebhookView}`
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhookResponse {
    pub webhook: CreatedWebhookView,
}

/// `{"webhook": WebhookView}`
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    pub webhook: WebhookView,
}

/// `{"webhooks": [WebhookView]}`, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookListResponse {
    pub webhooks: Vec<WebhookView>,
}

/// `DELETE /v1/webhooks/{webhookId}`
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedWebhookResponse {
    pub id: String,
    /// Always `true`.
    pub deleted: bool,
}

impl From<&ferry_domain::WebhookEndpoint> for WebhookView {
    fn from(endpoint: &ferry_domain::WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id.to_string(),
            url: endpoint.url.to_string(),
            events: endpoint.events.names().into_iter().map(str::to_string).collect(),
            description: endpoint.description.clone(),
            created_at: endpoint.created_at.unix_seconds(),
        }
    }
}

impl From<&ferry_domain::WebhookEndpoint> for CreatedWebhookView {
    fn from(endpoint: &ferry_domain::WebhookEndpoint) -> Self {
        Self { webhook: endpoint.into(), secret: endpoint.secret.reveal() }
    }
}

/// An event type, as requests name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "session.processing")]
    SessionProcessing,
    #[serde(rename = "session.succeeded")]
    SessionSucceeded,
    #[serde(rename = "session.bounced")]
    SessionBounced,
    #[serde(rename = "session.expired")]
    SessionExpired,
}

impl From<EventType> for EventKind {
    fn from(kind: EventType) -> Self {
        match kind {
            EventType::SessionProcessing => Self::Processing,
            EventType::SessionSucceeded => Self::Succeeded,
            EventType::SessionBounced => Self::Bounced,
            EventType::SessionExpired => Self::Expired,
        }
    }
}

/// `POST /v1/webhooks/{webhookId}/test`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestWebhookRequest {
    /// The type of the test event; sent even if the endpoint does not
    /// subscribe to it.
    pub event_type: EventType,
}

/// One attempt to deliver an event: exactly one of `statusCode` (the
/// endpoint answered) and `error` (it did not) is present.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttemptView {
    /// When the request was sent, in unix seconds.
    pub at: u64,
    /// The HTTP status the endpoint answered with; any 2xx is a success.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = 200)]
    pub status_code: Option<u16>,
    /// Why there was no answer: a timeout (10 s), a refused connection, a
    /// host that resolves only to addresses webhooks may not reach, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "no answer within 10 s")]
    pub error: Option<String>,
    /// From sending the request to its answer (or failure), in milliseconds.
    pub latency_ms: u64,
}

impl From<&DeliveryAttempt> for DeliveryAttemptView {
    fn from(attempt: &DeliveryAttempt) -> Self {
        let (status_code, error) = match &attempt.outcome {
            AttemptOutcome::Responded { status } => (Some(*status), None),
            AttemptOutcome::Failed { error } => (None, Some(error.clone())),
        };
        Self { at: attempt.at.unix_seconds(), status_code, error, latency_ms: attempt.latency_ms }
    }
}

/// What the test delivery got.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestDeliveryView {
    /// Whether the endpoint answered with a 2xx within 10 s.
    pub succeeded: bool,
    #[serde(flatten)]
    pub attempt: DeliveryAttemptView,
}

impl From<&DeliveryAttempt> for TestDeliveryView {
    fn from(attempt: &DeliveryAttempt) -> Self {
        Self { succeeded: attempt.outcome.is_success(), attempt: attempt.into() }
    }
}

/// `{"event": EventPayload, "delivery": TestDeliveryView}`: the test event
/// exactly as it was sent, and what its one delivery attempt got.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestWebhookResponse {
    pub event: EventPayload,
    pub delivery: TestDeliveryView,
}

/// Where a delivery is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatusView {
    /// Waiting for its next attempt, at `nextAttemptAt`.
    Pending,
    /// An attempt is under way.
    Sending,
    /// The endpoint answered with a 2xx. Final.
    Succeeded,
    /// Every attempt of the last round failed (about 10 over about a day):
    /// it waits for an operator's replay.
    Parked,
}

/// One event's delivery to one endpoint, with every attempt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeliveryView {
    /// The endpoint (`wh_` and 32 lowercase hex characters); it may have
    /// been deleted since.
    pub webhook_id: String,
    pub status: DeliveryStatusView,
    /// When the next attempt is due, in unix seconds; only while `pending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_attempt_at: Option<u64>,
    /// Every finished attempt, oldest first, replays included.
    pub attempts: Vec<DeliveryAttemptView>,
}

impl From<&WebhookDelivery> for WebhookDeliveryView {
    fn from(delivery: &WebhookDelivery) -> Self {
        let (status, next_attempt_at) = match delivery.state {
            DeliveryState::Pending { next_attempt_at } => {
                (DeliveryStatusView::Pending, Some(next_attempt_at.unix_seconds()))
            }
            DeliveryState::Sending { .. } => (DeliveryStatusView::Sending, None),
            DeliveryState::Succeeded => (DeliveryStatusView::Succeeded, None),
            DeliveryState::Parked => (DeliveryStatusView::Parked, None),
        };
        Self {
            webhook_id: delivery.webhook_id.to_string(),
            status,
            next_attempt_at,
            attempts: delivery.attempts.iter().map(Into::into).collect(),
        }
    }
}

/// `GET /v1/events/{eventId}`: `{"event": EventPayload, "deliveries": [WebhookDeliveryView]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    /// The event as its deliveries carry it.
    pub event: EventPayload,
    /// One per endpoint the event was fanned out to, by endpoint id. Empty
    /// until the event is fanned out (normally seconds after it happened),
    /// and when no endpoint subscribed to it.
    pub deliveries: Vec<WebhookDeliveryView>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_domain::{EventKind, EvmAddress, MerchantId, Plan, Timestamp, TxHash};
    use serde_json::json;

    #[test]
    fn the_merchant_view_lists_refunds_and_the_public_view_does_not() {
        let session = ferry_store::conformance::sample_session(MerchantId::from_random_bytes([5; 16]));
        let none = serde_json::to_value(SessionView::from(&session)).expect("json");
        assert!(none.get("refunds").is_none(), "absent when there are none: {none:#}");

        let deposit = ferry_store::conformance::sample_deposit();
        let to: EvmAddress = "0x5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e".parse().expect("address");
        let plan = Plan::Refund { to, reason: RefundReason::Expired };
        let refund_tx = TxHash::new([0xab; 32].into());
        let refund = SessionRefund::sent_back(&deposit, &plan, &session.destination, refund_tx, deposit.amount);
        let refunded = session.record_refund(refund).expect("recorded");
        let (expired, _event) = refunded.expire(refunded.expires_at).expect("open and due");

        let json = serde_json::to_value(SessionView::from(&expired)).expect("json");
        assert_eq!(
            json["refunds"],
            json!([{
                "depositChainId": 8453,
                "depositTxHash": deposit.tx_hash.to_string(),
                "chainId": 8453,
                "chainName": "Base",
                "tokenAddress": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                "tokenSymbol": "USDC",
                "amountUnits": "25.00",
                "to": to.to_string(),
                "txHash": format!("0x{}", "ab".repeat(32)),
                "reason": "expired",
            }])
        );
        assert_eq!(json["status"], "expired");
        let public = serde_json::to_value(SessionPublicInfo::from(&expired)).expect("json");
        assert!(public.get("refunds").is_none(), "{public:#}");

        let reasons = [
            (RefundReason::Expired, "expired"),
            (RefundReason::AlreadyPaid, "already_paid"),
            (RefundReason::Underpaid { expected: deposit.amount, received: deposit.amount }, "underpaid"),
            (RefundReason::Overpaid { expected: deposit.amount, received: deposit.amount }, "overpaid"),
            (RefundReason::CallReverted, "call_reverted"),
        ];
        for (reason, code) in reasons {
            assert_eq!(serde_json::to_value(RefundReasonView::from(&reason)).expect("json"), code);
        }
    }

    #[test]
    fn an_event_payload_is_the_merchant_view_without_the_client_secret() {
        let open = ferry_store::conformance::sample_session(MerchantId::from_random_bytes([5; 16]));
        let (session, _event) = open.expire(open.expires_at).expect("open and due");
        let event =
            SessionEvent::new([6; 16], EventKind::Expired, &session, Timestamp::from_unix_seconds(1_800_000_100));
        let json = serde_json::to_value(EventPayload::from(&event)).expect("json");

        let object = json.as_object().expect("object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["createdAt", "data", "id", "type"], "no isTestEvent on a real event");
        assert_eq!(json["id"], event.id.to_string());
        assert_eq!(json["id"].as_str().map(str::len), Some(36));
        assert_eq!(json["type"], "session.expired");
        assert_eq!(json["createdAt"], 1_800_000_100);

        let data = json["data"].as_object().expect("data");
        assert_eq!(data.keys().collect::<Vec<_>>(), ["session"]);
        let mut merchant_view = serde_json::to_value(SessionView::from(&session)).expect("json");
        let secret = merchant_view.as_object_mut().expect("object").remove("clientSecret");
        assert!(secret.is_some(), "the merchant view has one");
        assert_eq!(json["data"]["session"], merchant_view, "everything else the merchant sees");
        assert_eq!(json["data"]["session"]["sessionId"], session.id.to_string());
        assert_eq!(json["data"]["session"]["status"], "expired");
        assert!(!json.to_string().contains(&session.client_secret.reveal()), "the secret appears nowhere");

        let test = EventPayload { is_test_event: true, ..EventPayload::from(&event) };
        assert_eq!(serde_json::to_value(test).expect("json")["isTestEvent"], true);
    }

    #[test]
    fn an_attempt_shows_either_the_status_code_or_why_there_was_none() {
        let at = Timestamp::from_unix_seconds(1_800_000_000);
        let answered = DeliveryAttempt { at, outcome: AttemptOutcome::Responded { status: 503 }, latency_ms: 41 };
        assert_eq!(
            serde_json::to_value(TestDeliveryView::from(&answered)).expect("json"),
            serde_json::json!({"succeeded": false, "at": 1_800_000_000, "statusCode": 503, "latencyMs": 41})
        );
        let failed = DeliveryAttempt {
            at,
            outcome: AttemptOutcome::Failed { error: "no answer within 10 s".into() },
            latency_ms: 10_000,
        };
        assert_eq!(
            serde_json::to_value(DeliveryAttemptView::from(&failed)).expect("json"),
            serde_json::json!({"at": 1_800_000_000, "error": "no answer within 10 s", "latencyMs": 10_000})
        );
        let ok = DeliveryAttempt { outcome: AttemptOutcome::Responded { status: 204 }, ..answered };
        assert_eq!(serde_json::to_value(TestDeliveryView::from(&ok)).expect("json")["succeeded"], true);
    }

    #[test]
    fn a_delivery_shows_its_status_and_only_a_pending_one_its_next_attempt() {
        let t0 = Timestamp::from_unix_seconds(1_800_000_000);
        let delivery = WebhookDelivery::new(
            ferry_domain::EventId::from_random_bytes([1; 16]),
            ferry_domain::WebhookId::from_bytes([2; 16]),
            MerchantId::from_random_bytes([3; 16]),
            t0,
        );
        let json = serde_json::to_value(WebhookDeliveryView::from(&delivery)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "webhookId": "wh_02020202020202020202020202020202",
                "status": "pending",
                "nextAttemptAt": 1_800_000_000,
                "attempts": [],
            })
        );
        let claimed = delivery.claim(t0, 60).expect("due");
        let json = serde_json::to_value(WebhookDeliveryView::from(&claimed)).expect("json");
        assert_eq!(json["status"], "sending");
        assert!(json.get("nextAttemptAt").is_none(), "{json}");
        let attempt = DeliveryAttempt { at: t0, outcome: AttemptOutcome::Responded { status: 200 }, latency_ms: 9 };
        let done = claimed.record(attempt, &ferry_domain::RetryPolicy::STANDARD, 0);
        let json = serde_json::to_value(WebhookDeliveryView::from(&done)).expect("json");
        assert_eq!(json["status"], "succeeded");
        assert_eq!(json["attempts"], serde_json::json!([{"at": 1_800_000_000, "statusCode": 200, "latencyMs": 9}]));
    }
}
