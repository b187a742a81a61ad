//! Solana (feature `solana`): what a payer signs, built without any I/O.
//!
//! A Solana payment is one classic SPL Token `TransferChecked` from the
//! payer's associated token account into Ferry's treasury token account for
//! the mint, carrying the session's [`Reference`] as an extra read-only
//! account (as Solana Pay does), so that the payment names its session on
//! chain without any per-session account. [`ata`] derives the token
//! accounts, [`transfer`] builds the unsigned transaction.

pub mod ata;
pub mod reference;
pub mod transfer;

pub use ata::{ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID, associated_token_account};
pub use reference::{Reference, ReferenceError};
pub use transfer::{
    COMPUTE_UNIT_LIMIT, DEFAULT_COMPUTE_UNIT_PRICE, Payment, TransferError, serialize_hex, unsigned_transaction,
};

/// The key types, so that callers need not depend on the Solana crates.
pub use solana_hash::Hash;
pub use solana_pubkey::Pubkey;
pub use solana_transaction::versioned::VersionedTransaction;
