//! A session's reference key: the extra read-only account a Solana payment
//! carries (Solana Pay's `reference`) so that the payment names its session.

use std::fmt;
use std::str::FromStr;

use ferry_domain::SessionId;
use sha2::{Digest, Sha256};
use solana_pubkey::Pubkey;

/// The domain separator hashed before the session id: no other hash Ferry
/// computes over a session id can produce the same key, and a new derivation
/// would take a new version.
const DOMAIN: &[u8] = b"ferry:solana-reference:v1:";

/// 32 bytes used as an account key in a payment's account list; nothing is
/// ever stored at it, no one signs for it, and the runtime does not care
/// whether it lies on the ed25519 curve (about half of all hashes do): it is
/// only a key to find the payment by.
///
/// Derived from the session id, `sha256("ferry:solana-reference:v1:" ||
/// the id's 16 bytes)`, so asking again for a session's transaction gives the
/// same reference without storing one first, and a reference maps back to
/// its session through the store (the hash is one-way). Anyone who knows a
/// session id can compute its reference; that only lets them find or make a
/// payment to that session, which the id already allows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("a reference must be a base58 string of 32 bytes")]
    NotBase58Key,
}

impl Reference {
    /// The reference of `session`.
    pub fn for_session(session: &SessionId) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN);
        hasher.update(session.as_bytes());
        Self(hasher.finalize().into())
    }

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The reference as the account key a transaction lists.
    pub const fn to_pubkey(&self) -> Pubkey {
        Pubkey::new_from_array(self.0)
    }
}

impl From<Pubkey> for Reference {
    fn from(key: Pubkey) -> Self {
        Self(key.to_bytes())
    }
}

impl fmt::Display for Reference {
    /// Base58, as Solana writes every account key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_pubkey(), f)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, ReferenceError> {
        Pubkey::from_str(s).map(Self::from).map_err(|_| ReferenceError::NotBase58Key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(hex: &str) -> SessionId {
        hex.parse().unwrap_or_else(|error| panic!("{hex}: {error}"))
    }

    #[test]
    fn is_the_domain_separated_hash_of_the_session_id() {
        let id = session("00112233445566778899aabbccddeeff");
        let mut preimage = b"ferry:solana-reference:v1:".to_vec();
        preimage.extend_from_slice(id.as_bytes());
        let expected: [u8; 32] = Sha256::digest(&preimage).into();
        assert_eq!(Reference::for_session(&id).as_bytes(), &expected);
        // The same session always has the same reference; others differ.
        assert_eq!(Reference::for_session(&id), Reference::for_session(&id));
        assert_ne!(Reference::for_session(&id), Reference::for_session(&session("00112233445566778899aabbccddeef0")));
    }

    /// A fixed vector, so that a change of derivation (which would orphan the
    /// references of open sessions) cannot pass unnoticed. Computed
    /// independently with coreutils' `sha256sum` over the preimage, and
    /// base58-encoded by a few lines of Python (Bitcoin alphabet).
    #[test]
    fn a_known_session_has_a_known_reference() {
        let reference = Reference::for_session(&session("00112233445566778899aabbccddeeff"));
        assert_eq!(alloy_primitives::hex::encode(reference.as_bytes()), KNOWN_HEX);
        assert_eq!(reference.to_string(), KNOWN_BASE58);
    }

    const KNOWN_HEX: &str = "7f808fc5215aafcb857c3e635d61d4061b523e0bb33bc2819892e51572a778a5";
    const KNOWN_BASE58: &str = "9aiUjVQZ9vV45ioHdNofax9JEx8NmHnWNHGjrG7JN6jN";

    #[test]
    fn round_trips_through_base58() {
        let reference = Reference::for_session(&session("0123456789abcdef0123456789abcdef"));
        let text = reference.to_string();
        assert!((32..=44).contains(&text.len()), "{text}");
        assert_eq!(text.parse::<Reference>(), Ok(reference));
        assert_eq!(format!("{reference:?}"), format!("Reference({text})"));
    }

    #[test]
    fn refuses_what_is_not_a_base58_key() {
        for bad in ["", "0OIl", "abc", "3uetDDizgTtadDHZzyy9BqxrjQcozMEkxzbKhfZF4tG3x", "1111"] {
            assert_eq!(bad.parse::<Reference>(), Err(ReferenceError::NotBase58Key), "{bad}");
        }
    }
}
