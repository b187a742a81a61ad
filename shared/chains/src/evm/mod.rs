//! EVM chains: the receiver (deposit address) derivation, and with the
//! `rpc` feature the contract bindings, log scanning and the relayer.

#[cfg(feature = "rpc")]
pub mod balances;
#[cfg(feature = "rpc")]
pub mod client;
#[cfg(feature = "rpc")]
pub mod contracts;
#[cfg(feature = "rpc")]
pub mod local;
mod receiver;
#[cfg(feature = "rpc")]
pub mod relayer;
#[cfg(feature = "rpc")]
pub mod transport;

pub use receiver::{RECEIVER_INIT_CODE_HASH, ReceiverDerivation};
