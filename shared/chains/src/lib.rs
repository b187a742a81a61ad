//! Chain adapters. For now: the EVM receiver (deposit address) derivation,
//! a pure CREATE2 computation identical on every EVM chain.

pub mod evm;
pub mod redact;
