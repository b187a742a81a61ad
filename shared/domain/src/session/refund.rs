//! What a session records about a deposit Ferry sent back.

use serde::{Deserialize, Serialize};

use super::Destination;
use crate::deposit::{Deposit, DepositId, Plan, RefundReason};
use crate::{BaseUnits, ChainId, EvmAddress, Token, TxHash};

/// A deposit Ferry sent back, as its session records it for the merchant:
/// at most one per deposit, whatever the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRefund {
    /// The deposit refunded.
    pub deposit_id: DepositId,
    pub deposit_chain_id: ChainId,
    pub deposit_tx_hash: TxHash,
    /// Where and what the refund sent: the deposit's chain and token, except
    /// after a payout from inventory whose contract call reverted (the
    /// destination chain and token, which is what the payout carried).
    pub chain_id: ChainId,
    pub chain_name: String,
    pub token: Token,
    pub amount: BaseUnits,
    pub to: EvmAddress,
    pub tx_hash: TxHash,
    pub reason: RefundReason,
}

impl SessionRefund {
    /// What carrying out `plan` for `deposit` sent back in `tx_hash`. A
    /// refund plan returns the deposit on its own chain, for its reason. A
    /// delivery sends back only when its contract call reverts: what it
    /// carried (on the deposit's chain for a sweep, on the `destination`'s
    /// for a payout) to the refund address.
    pub fn sent_back(
        deposit: &Deposit,
        plan: &Plan,
        destination: &Destination,
        tx_hash: TxHash,
        amount: BaseUnits,
    ) -> Self {
        let (to, reason) = match plan {
            Plan::Refund { to, reason } => (*to, reason.clone()),
            Plan::Sweep { refund_to, .. } | Plan::Payout { refund_to, .. } => (*refund_to, RefundReason::CallReverted),
        };
        let (chain_id, chain_name, token) = match plan {
            Plan::Payout { chain_id, token, .. } => (*chain_id, destination.chain_name.clone(), token.clone()),
            Plan::Refund { .. } | Plan::Sweep { .. } => {
                (deposit.chain_id, deposit.chain_name.clone(), deposit.token.clone())
            }
        };
        Self {
            deposit_id: deposit.id(),
            deposit_chain_id: deposit.chain_id,
            deposit_tx_hash: deposit.tx_hash,
            chain_id,
            chain_name,
            token,
            amount,
            to,
            tx_hash,
            reason,
        }
    }
}
