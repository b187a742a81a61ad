//! Deposits seen on chain, and the plan for each: deliver it to the
//! session's destination, or refund it and say why. Pure decisions; the
//! workers carry them out.

#[cfg(test)]
mod fixtures;
mod plan;
mod record;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use plan::{Plan, RefundReason, Tolerance, convert_at_par, plan};
pub use record::{DepositRecord, DepositState, PayoutId, PayoutIntent};

use crate::{BaseUnits, ChainId, EvmAddress, Token, TxHash};

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
