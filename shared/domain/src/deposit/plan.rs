//! What to do with a deposit: deliver it to the session's destination, or
//! refund it and say why.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Deposit;
use crate::{BaseUnits, Calldata, ChainId, EvmAddress, Session, SessionStatus, Timestamp, Token};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deposit::fixtures::*;

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
}
