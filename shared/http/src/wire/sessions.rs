//! Sessions: creating one, choosing how to pay, checking a transaction,
//! and the merchant's and the payer's views of a session.

use std::collections::BTreeMap;

use ferry_domain::{PaymentMethod, RefundReason, Session, SessionRefund, SessionStatus, ThemeMode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_domain::{EvmAddress, MerchantId, Plan, TxHash};
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
}
