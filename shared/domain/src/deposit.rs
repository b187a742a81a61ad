//! Deposits seen on chain, and the plan for each: deliver it to the
//! session's destination, or refund it and say why. Pure decisions; the
//! workers carry them out.

use std::fmt;

use serde::{Deserialize, Serialize};

use alloy_primitives::B256;

use crate::{BaseUnits, Calldata, ChainId, EvmAddress, Session, SessionId, SessionStatus, Timestamp, Token, TxHash};

/// One token transfer into a session's receiver address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    pub chain_id: ChainId,
    pub chain_name: String,
    pub token: Token,
    /// The sender of the transfer (the payer's wallet, usually).
    pub from: EvmAddress,
    pub receiver: EvmAddress,
    pub amount: BaseUnits,
    pub tx_hash: TxHash,
    pub log_index: u64,
    pub block_number: u64,
}

impl Deposit {
    /// `chainId:txHash:logIndex`: one transfer, recorded once.
    pub fn id(&self) -> DepositId {
        DepositId(format!("{}:{}:{}", self.chain_id, self.tx_hash, self.log_index))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DepositId(String);

/// The queue message that asks the router to route a recorded deposit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteDeposit {
    pub deposit_id: DepositId,
    /// How many routing attempts of this deposit have failed so far: the
    /// consumer re-sends a failed message with one more (and dead-letters it
    /// after its last), so that only real failures count, never a receive
    /// that was deferred, throttled or cut short.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_attempts: u32,
}

impl RouteDeposit {
    /// A first request to route `deposit_id`.
    pub fn new(deposit_id: DepositId) -> Self {
        Self { deposit_id, failed_attempts: 0 }
    }
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl fmt::Display for DepositId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the payer sent, as the session shows it (`paymentMethod.source`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositSource {
    /// The deposit this is: a session is paid by exactly one.
    pub deposit_id: DepositId,
    pub address: EvmAddress,
    pub chain_id: ChainId,
    pub chain_name: String,
    pub token: Token,
    pub sent: BaseUnits,
    pub tx_hash: TxHash,
}

impl From<&Deposit> for DepositSource {
    fn from(deposit: &Deposit) -> Self {
        Self {
            deposit_id: deposit.id(),
            address: deposit.from,
            chain_id: deposit.chain_id,
            chain_name: deposit.chain_name.clone(),
            token: deposit.token.clone(),
            sent: deposit.amount,
            tx_hash: deposit.tx_hash,
        }
    }
}

/// How far a deposit may differ from a fixed amount and still be accepted,
/// in basis points of that amount (100 = 1%).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tolerance {
    pub basis_points: u32,
}

impl Tolerance {
    /// The allowed difference from `amount`, in base units (rounded down).
    pub fn of(self, amount: BaseUnits) -> u128 {
        let (units, bps) = (amount.get(), u128::from(self.basis_points));
        units / 10_000 * bps + units % 10_000 * bps / 10_000
    }
}

impl Default for Tolerance {
    fn default() -> Self {
        Self { basis_points: 100 }
    }
}

/// Why a deposit goes back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum RefundReason {
    /// Less than the fixed amount, beyond the tolerance.
    Underpaid { expected: BaseUnits, received: BaseUnits },
    /// More than the fixed amount, beyond the tolerance.
    Overpaid { expected: BaseUnits, received: BaseUnits },
    /// The session was already paid (or is being paid) by another deposit.
    AlreadyPaid,
    /// The session had expired when the deposit arrived.
    Expired,
    /// The destination call reverted.
    CallReverted,
}

impl fmt::Display for RefundReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Underpaid { expected, received } => {
                write!(f, "underpaid: expected {expected}, received {received} base units")
            }
            Self::Overpaid { expected, received } => {
                write!(f, "overpaid: expected {expected}, received {received} base units")
            }
            Self::AlreadyPaid => f.write_str("the session was already paid"),
            Self::Expired => f.write_str("the session had expired"),
            Self::CallReverted => f.write_str("the destination contract call reverted"),
        }
    }
}

/// What to do with a deposit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Plan {
    /// The deposit is already on the destination chain in the destination
    /// token: the factory sweeps the receiver straight to the destination
    /// (with the contract call, refunding to `refund_to` if it reverts).
    Sweep { to: EvmAddress, calldata: Option<Calldata>, refund_to: EvmAddress },
    /// Elsewhere: the relayer pays `amount` of the destination token on the
    /// destination chain from its inventory, and the deposit is swept into
    /// the treasury on its own chain.
    Payout {
        chain_id: ChainId,
        token: Token,
        amount: BaseUnits,
        to: EvmAddress,
        calldata: Option<Calldata>,
        refund_to: EvmAddress,
    },
    /// The deposit goes back to `to` on its own chain.
    Refund { to: EvmAddress, reason: RefundReason },
}

/// Converts an amount between tokens of equal value (USDC and USDT at par)
/// with different decimals, rounding down: never pays out more than came in.
pub fn convert_at_par(amount: BaseUnits, from_decimals: u8, to_decimals: u8) -> Option<BaseUnits> {
    let units = amount.get();
    let converted = if to_decimals >= from_decimals {
        units.checked_mul(10u128.checked_pow(u32::from(to_decimals - from_decimals))?)?
    } else {
        units / 10u128.checked_pow(u32::from(from_decimals - to_decimals))?
    };
    Some(BaseUnits::new(converted))
}

/// Decides what happens to `deposit`, made to `session` at `now`.
pub fn plan(session: &Session, deposit: &Deposit, tolerance: Tolerance, now: Timestamp) -> Plan {
    let refund_to = session.refund_address.unwrap_or(deposit.from);
    let refund = |reason| Plan::Refund { to: refund_to, reason };
    match session.status() {
        SessionStatus::WaitingPayment if session.is_past_expiry(now) => return refund(RefundReason::Expired),
        SessionStatus::WaitingPayment => {}
        SessionStatus::Expired => return refund(RefundReason::Expired),
        SessionStatus::RequiresPaymentMethod => return refund(RefundReason::Expired),
        SessionStatus::Processing | SessionStatus::Succeeded | SessionStatus::Bounced => {
            return refund(RefundReason::AlreadyPaid);
        }
    }
    let destination = &session.destination;
    let Some(received) = convert_at_par(deposit.amount, deposit.token.decimals, destination.token.decimals) else {
        return refund(RefundReason::Overpaid {
            expected: destination.amount.unwrap_or(deposit.amount),
            received: deposit.amount,
        });
    };
    if received.get() == 0 {
        // Dust that is worth nothing in the destination token.
        let expected = destination.amount.unwrap_or(BaseUnits::new(1));
        return refund(RefundReason::Underpaid { expected, received });
    }
    if let Some(expected) = destination.amount {
        let slack = tolerance.of(expected);
        if received.get() < expected.get().saturating_sub(slack) {
            return refund(RefundReason::Underpaid { expected, received });
        }
        if received.get() > expected.get().saturating_add(slack) {
            return refund(RefundReason::Overpaid { expected, received });
        }
    }
    let same_place = deposit.chain_id == destination.chain_id && deposit.token.address == destination.token.address;
    if same_place {
        Plan::Sweep { to: destination.address, calldata: destination.calldata.clone(), refund_to }
    } else {
        Plan::Payout {
            chain_id: destination.chain_id,
            token: destination.token.clone(),
            amount: received,
            to: destination.address,
            calldata: destination.calldata.clone(),
            refund_to,
        }
    }
}

/// Where a deposit is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DepositState {
    /// Seen on chain and matched to its session; waiting to be routed.
    Detected,
    /// The router decided what to do; carrying it out.
    Planned { plan: Plan },
    /// Done: the funds moved in `tx_hash` (to the destination, or back).
    Settled { plan: Plan, tx_hash: TxHash, amount: BaseUnits },
}

/// A deposit as recorded: exactly once per `chainId:txHash:logIndex`.
///
/// Every change is a method returning the next version (`version` one
/// more), which a store writes only if the stored record is at the previous
/// one: two workers racing on one deposit can never both win.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositRecord {
    pub deposit: Deposit,
    pub session_id: SessionId,
    pub state: DepositState,
    pub recorded_at: Timestamp,
    /// While the deposit's routing has not finished: when the recovery sweep
    /// is to queue it again, in case its queue message was lost (a crash, a
    /// message dead-lettered or dropped). `None` once routing finished: the
    /// deposit is settled and its session shows the outcome. Records stored
    /// before this field existed read as finished.
    #[serde(default)]
    pub recover_at: Option<Timestamp>,
    /// How many times the recovery sweep has queued the deposit again.
    #[serde(default)]
    pub recoveries: u32,
    /// Incremented by every change; writes are conditional on it.
    pub version: u64,
}

impl DepositRecord {
    /// A deposit just seen on chain, to be routed, due for recovery at
    /// `recover_at` if its routing has not finished by then.
    pub fn detected(deposit: Deposit, session_id: SessionId, now: Timestamp, recover_at: Timestamp) -> Self {
        Self {
            deposit,
            session_id,
            state: DepositState::Detected,
            recorded_at: now,
            recover_at: Some(recover_at),
            recoveries: 0,
            version: 0,
        }
    }

    pub fn id(&self) -> DepositId {
        self.deposit.id()
    }

    /// Whether routing has finished (nothing left for the recovery sweep).
    pub fn is_finished(&self) -> bool {
        self.recover_at.is_none()
    }

    /// The router decided (or re-decided, as a refund) what to do.
    pub fn planned(&self, plan: Plan) -> Self {
        self.next(|next| next.state = DepositState::Planned { plan })
    }

    /// The plan was carried out: the funds moved in `tx_hash`.
    pub fn settled(&self, plan: Plan, tx_hash: TxHash, amount: BaseUnits) -> Self {
        self.next(|next| next.state = DepositState::Settled { plan, tx_hash, amount })
    }

    /// Routing finished: off the recovery sweep's queue.
    pub fn finished(&self) -> Self {
        self.next(|next| next.recover_at = None)
    }

    /// The recovery sweep queued it again; it looks again at `recover_at`.
    pub fn requeued(&self, recover_at: Timestamp) -> Self {
        self.next(|next| {
            next.recoveries = next.recoveries.saturating_add(1);
            next.recover_at = Some(recover_at);
        })
    }

    fn next(&self, change: impl FnOnce(&mut Self)) -> Self {
        let mut next = self.clone();
        change(&mut next);
        next.version += 1;
        next
    }
}

/// The 32-byte id a payout from inventory carries on chain (the factory's
/// `pay`/`payAndCall` refuses a second payout with the same id), as `0x`-hex.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PayoutId(String);

impl PayoutId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<B256> for PayoutId {
    fn from(id: B256) -> Self {
        Self(id.to_string())
    }
}

impl From<[u8; 32]> for PayoutId {
    fn from(bytes: [u8; 32]) -> Self {
        B256::from(bytes).into()
    }
}

impl fmt::Display for PayoutId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A payout from the relayer's inventory, written before its transaction is
/// sent so that a retry after a crash resumes it instead of paying twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutIntent {
    pub payout_id: PayoutId,
    pub deposit_id: DepositId,
    pub chain_id: ChainId,
    pub relayer: EvmAddress,
    /// The relayer's nonce this payout's transaction uses.
    pub nonce: u64,
    pub token: Token,
    pub amount: BaseUnits,
    pub to: EvmAddress,
    /// Set once the payout's transaction is mined.
    pub tx_hash: Option<TxHash>,
    /// The destination chain's block when the intent was written: where a
    /// retry searches for the payout's event.
    #[serde(default)]
    pub from_block: u64,
    pub created_at: Timestamp,
    pub version: u64,
}

impl PayoutIntent {
    /// The payout's transaction was mined in `tx_hash`.
    pub fn mined(&self, tx_hash: TxHash) -> Self {
        Self { tx_hash: Some(tx_hash), version: self.version + 1, ..self.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientSecret, Destination, DisplayInfo, MerchantId, NewSession, SessionId};

    fn usdc(chain: u64) -> Token {
        let address = if chain == 1 {
            "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
        } else {
            "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
        };
        Token { symbol: "USDC".into(), address: address.parse().expect("address"), decimals: 6 }
    }

    fn usdt_18() -> Token {
        Token {
            symbol: "USDT".into(),
            address: "0x55d398326f99059fF775485246999027B3197955".parse().expect("address"),
            decimals: 18,
        }
    }

    fn address(byte: u8) -> EvmAddress {
        EvmAddress::new([byte; 20].into())
    }

    fn waiting_session(amount: Option<u128>, refund: Option<EvmAddress>) -> Session {
        let new = NewSession {
            destination: Destination {
                address: address(0xd),
                chain_id: ChainId::new(8453),
                chain_name: "Base".into(),
                token: usdc(8453),
                amount: amount.map(BaseUnits::new),
                calldata: None,
                delivery: None,
            },
            display: DisplayInfo::parse("t".into(), "Pay".into(), None, None).expect("display"),
            metadata: None,
            refund_address: refund,
        };
        let session = Session::create(
            new,
            SessionId::from_bytes([1; 16]),
            MerchantId::from_random_bytes([2; 16]),
            ClientSecret::from_bytes([3; 16]),
            Timestamp::from_unix_seconds(1000),
        );
        session
            .set_evm_payment_method(address(0xe), Timestamp::from_unix_seconds(1001))
            .expect("legal")
            .expect("changed")
    }

    fn deposit(chain: u64, token: Token, amount: u128) -> Deposit {
        Deposit {
            chain_id: ChainId::new(chain),
            chain_name: "X".into(),
            token,
            from: address(0xf),
            receiver: address(0xe),
            amount: BaseUnits::new(amount),
            tx_hash: TxHash::new([9; 32].into()),
            log_index: 3,
            block_number: 7,
        }
    }

    const NOW: Timestamp = Timestamp::from_unix_seconds(1100);

    #[test]
    fn same_chain_same_token_is_swept_straight_to_the_destination() {
        let session = waiting_session(Some(10_000_000), None);
        let plan = plan(&session, &deposit(8453, usdc(8453), 10_000_000), Tolerance::default(), NOW);
        assert_eq!(plan, Plan::Sweep { to: address(0xd), calldata: None, refund_to: address(0xf) });
    }

    #[test]
    fn other_chains_and_tokens_are_paid_out_at_par_rounding_down() {
        let session = waiting_session(None, None);
        let plan = plan(&session, &deposit(56, usdt_18(), 10_000_000_999_999_999_999), Tolerance::default(), NOW);
        let Plan::Payout { chain_id, amount, to, .. } = plan else { panic!("{plan:?}") };
        assert_eq!((chain_id, amount, to), (ChainId::new(8453), BaseUnits::new(10_000_000), address(0xd)));
    }

    #[test]
    fn amounts_outside_the_tolerance_are_refunded_to_the_refund_address() {
        let session = waiting_session(Some(10_000_000), Some(address(0xa)));
        let at = |units| plan(&session, &deposit(8453, usdc(8453), units), Tolerance::default(), NOW);
        assert!(matches!(at(9_900_000), Plan::Sweep { .. }), "1% under is accepted");
        assert!(matches!(at(10_100_000), Plan::Sweep { .. }), "1% over is accepted");
        assert_eq!(
            at(9_899_999),
            Plan::Refund {
                to: address(0xa),
                reason: RefundReason::Underpaid {
                    expected: BaseUnits::new(10_000_000),
                    received: BaseUnits::new(9_899_999)
                }
            }
        );
        assert!(matches!(at(10_100_001), Plan::Refund { reason: RefundReason::Overpaid { .. }, .. }));
    }

    #[test]
    fn second_and_late_deposits_are_refunded_to_the_sender() {
        let session = waiting_session(None, None);
        let (processing, _) = session.deposit_seen(&deposit(8453, usdc(8453), 5)).expect("legal");
        let second = plan(&processing, &deposit(8453, usdc(8453), 5), Tolerance::default(), NOW);
        assert_eq!(second, Plan::Refund { to: address(0xf), reason: RefundReason::AlreadyPaid });
        let late = plan(&session, &deposit(8453, usdc(8453), 5), Tolerance::default(), session.expires_at);
        assert_eq!(late, Plan::Refund { to: address(0xf), reason: RefundReason::Expired });
    }

    #[test]
    fn dust_worth_nothing_in_the_destination_token_is_refunded() {
        let session = waiting_session(None, None);
        let plan = plan(&session, &deposit(56, usdt_18(), 999_999_999_999), Tolerance::default(), NOW);
        assert!(matches!(plan, Plan::Refund { reason: RefundReason::Underpaid { .. }, .. }), "{plan:?}");
    }

    #[test]
    fn tolerance_never_overflows() {
        assert_eq!(Tolerance { basis_points: 100 }.of(BaseUnits::new(u128::MAX)), u128::MAX / 100);
        assert_eq!(Tolerance { basis_points: 100 }.of(BaseUnits::new(10_000_000)), 100_000);
    }

    #[test]
    fn every_change_of_a_deposit_record_is_its_next_version() {
        let session = SessionId::from_bytes([1; 16]);
        let detected = DepositRecord::detected(deposit(8453, usdc(8453), 5), session, NOW, NOW.plus_seconds(300));
        assert_eq!(
            (detected.version, detected.state.clone(), detected.is_finished()),
            (0, DepositState::Detected, false)
        );

        let sweep = Plan::Sweep { to: address(0xd), calldata: None, refund_to: address(0xf) };
        let planned = detected.planned(sweep.clone());
        assert_eq!((planned.version, &planned.state), (1, &DepositState::Planned { plan: sweep.clone() }));

        let refund = Plan::Refund { to: address(0xf), reason: RefundReason::AlreadyPaid };
        let replanned = planned.planned(refund.clone());
        assert_eq!((replanned.version, &replanned.state), (2, &DepositState::Planned { plan: refund.clone() }));

        let (tx_hash, amount) = (TxHash::new([4; 32].into()), BaseUnits::new(5));
        let settled = replanned.settled(refund.clone(), tx_hash, amount);
        assert_eq!((settled.version, &settled.state), (3, &DepositState::Settled { plan: refund, tx_hash, amount }));
        assert!(!settled.is_finished(), "settling alone leaves it to the recovery sweep");

        let requeued = settled.requeued(NOW.plus_seconds(600));
        assert_eq!((requeued.version, requeued.recoveries, requeued.recover_at), (4, 1, Some(NOW.plus_seconds(600))));

        let finished = requeued.finished();
        assert_eq!((finished.version, finished.recover_at, finished.is_finished()), (5, None, true));
        assert_eq!((finished.deposit, finished.session_id, finished.recorded_at), (detected.deposit, session, NOW));
    }

    #[test]
    fn a_recovery_count_never_overflows() {
        let mut record =
            DepositRecord::detected(deposit(8453, usdc(8453), 5), SessionId::from_bytes([1; 16]), NOW, NOW);
        record.recoveries = u32::MAX;
        assert_eq!(record.requeued(NOW).recoveries, u32::MAX);
    }

    #[test]
    fn a_payout_id_is_the_hex_its_chain_id_prints_and_is_stored_as_a_string() {
        let id = B256::repeat_byte(0xab);
        let payout_id = PayoutId::from(id);
        assert_eq!(payout_id.as_str(), id.to_string());
        assert_eq!(payout_id.as_str(), format!("0x{}", "ab".repeat(32)));
        assert_eq!(PayoutId::from([0xab; 32]), payout_id);
        assert_eq!(serde_json::to_value(&payout_id).expect("json"), serde_json::json!(id.to_string()));
    }

    #[test]
    fn a_mined_payout_intent_is_its_next_version_with_the_transaction() {
        let intent = PayoutIntent {
            payout_id: [1; 32].into(),
            deposit_id: deposit(56, usdt_18(), 5).id(),
            chain_id: ChainId::new(8453),
            relayer: address(0xa),
            nonce: 7,
            token: usdc(8453),
            amount: BaseUnits::new(5),
            to: address(0xd),
            tx_hash: None,
            from_block: 100,
            created_at: NOW,
            version: 0,
        };
        let tx_hash = TxHash::new([2; 32].into());
        let mined = intent.mined(tx_hash);
        assert_eq!(mined, PayoutIntent { tx_hash: Some(tx_hash), version: 1, ..intent });
    }
}
