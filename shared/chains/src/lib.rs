//! Chain adapters. For now: the EVM receiver (deposit address) derivation,
//! a pure CREATE2 computation identical on every EVM chain; and, behind the
//! `solana` feature, the Solana payer's transaction.

pub mod evm;
pub mod redact;
#[cfg(feature = "solana")]
pub mod solana;
