//! A deposit's routing record and the payout intents written before a
//! payout is sent, so a worker that dies mid-route can finish the job.

use std::fmt;

use serde::{Deserialize, Serialize};

use alloy_primitives::B256;

use super::{Deposit, DepositId, Plan};
use crate::{BaseUnits, ChainId, EvmAddress, SessionId, Timestamp, Token, TxHash};

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
    use crate::deposit::RefundReason;
    use crate::deposit::fixtures::*;

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
