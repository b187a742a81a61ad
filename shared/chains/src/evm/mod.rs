//! EVM chains: the receiver (deposit address) derivation, and with the
//! `rpc` feature the contract bindings, log scanning and the relayer.

#[cfg(feature = "rpc")]
pub mod contracts;
mod receiver;

pub use receiver::ReceiverDerivation;
