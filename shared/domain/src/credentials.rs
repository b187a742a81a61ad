//! Credentials: API keys (server side, one merchant each, stored only as a
//! hash) and client secrets (client side, one session each).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ids::{IdError, parse_hex32, string_serde};
use crate::{MerchantId, Timestamp};

/// A secret API key as the merchant holds it: a random version-4 UUID.
///
/// It is never stored; only its [`ApiKeyHash`] is. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(uuid::Uuid);

impl ApiKey {
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// The SHA-256 of the key's canonical (lowercase, hyphenated) text.
    pub fn hash(&self) -> ApiKeyHash {
        let digest = Sha256::digest(self.0.hyphenated().to_string().as_bytes());
        ApiKeyHash(digest.into())
    }

    /// The key's text, to show the merchant once when it is created.
    pub fn reveal(&self) -> String {
        self.0.hyphenated().to_string()
    }
}

impl FromStr for ApiKey {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        uuid::Uuid::try_parse(s).map(Self).map_err(|_| IdError::NotUuid)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// SHA-256 of an API key: what the store indexes keys by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiKeyHash([u8; 32]);

impl ApiKeyHash {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ApiKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ApiKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeyHash({self})")
    }
}

impl FromStr for ApiKeyHash {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let mut out = [0u8; 32];
        let valid = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid {
            return Err(IdError::NotHex32);
        }
        hex::decode_to_slice(s, &mut out).map_err(|_| IdError::NotHex32)?;
        Ok(Self(out))
    }
}
string_serde!(ApiKeyHash);

/// A session's client secret: 128 random bits as 32 lowercase hex.
///
/// Equality is constant-time and `Debug` does not print the value.
#[derive(Clone)]
pub struct ClientSecret([u8; 16]);

impl ClientSecret {
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// Compares in time independent of where the two secrets differ.
    pub fn matches(&self, presented: &ClientSecret) -> bool {
        self.0.ct_eq(&presented.0).into()
    }

    /// The secret's text, for the merchant's full view of its session.
    pub fn reveal(&self) -> String {
        hex::encode(self.0)
    }
}

impl PartialEq for ClientSecret {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other)
    }
}
impl Eq for ClientSecret {}

impl FromStr for ClientSecret {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        parse_hex32(s).map(Self)
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reveal())
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}
string_serde!(ClientSecret);

/// A merchant account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merchant {
    pub id: MerchantId,
    pub name: String,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_hash_is_sha256_of_the_canonical_text() {
        let key: ApiKey = "123E4567-E89B-42D3-A456-426614174000".parse().expect("uuid");
        let expected = Sha256::digest(b"123e4567-e89b-42d3-a456-426614174000");
        assert_eq!(key.hash().to_string(), hex::encode(expected));
        assert_eq!(key.hash().to_string().parse::<ApiKeyHash>(), Ok(key.hash()));
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let key = ApiKey::from_random_bytes([9; 16]);
        let secret = ClientSecret::from_bytes([9; 16]);
        assert!(!format!("{key:?}").contains(&key.reveal()));
        assert!(!format!("{secret:?}").contains(&secret.reveal()));
    }

    #[test]
    fn client_secrets_compare_by_value() {
        let a = ClientSecret::from_bytes([1; 16]);
        assert!(a.matches(&ClientSecret::from_bytes([1; 16])));
        assert!(!a.matches(&ClientSecret::from_bytes([2; 16])));
    }
}
