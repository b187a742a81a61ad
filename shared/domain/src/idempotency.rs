//! What makes `POST /v1/sessions` idempotent: the merchant's key for a
//! request and a hash of that request, so that a retry with the same key
//! and body gets the first response again and the same key with another
//! body is refused.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The merchant's `Idempotency-Key`: 1 to [`IdempotencyKey::MAX_CHARS`]
/// characters, compared exactly.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
}

impl IdempotencyKey {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(key: &str) -> Result<Self, IdempotencyKeyError> {
        if key.is_empty() {
            return Err(IdempotencyKeyError::Empty);
        }
        if key.len() > Self::MAX_CHARS {
            return Err(IdempotencyKeyError::TooLong { max: Self::MAX_CHARS });
        }
        Ok(Self(key.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which request a key was first used with: the hex SHA-256 of its body in
/// a canonical form (the HTTP layer decides which; today canonical JSON).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestHash(String);

impl RequestHash {
    /// The hash of a request already in its canonical form.
    pub fn of_canonical(canonical: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(canonical)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_characters() {
        assert_eq!(IdempotencyKey::parse(""), Err(IdempotencyKeyError::Empty));
        assert_eq!(IdempotencyKey::parse(&"k".repeat(255)).map(|key| key.as_str().len()), Ok(255));
        assert_eq!(IdempotencyKey::parse(&"k".repeat(256)), Err(IdempotencyKeyError::TooLong { max: 255 }));
        assert_eq!(IdempotencyKey::parse("order-1").expect("key").to_string(), "order-1");
    }

    #[test]
    fn keys_and_hashes_are_stored_as_plain_strings() {
        let key = IdempotencyKey::parse("order-1").expect("key");
        assert_eq!(serde_json::to_value(&key).expect("json"), serde_json::json!("order-1"));
        let hash = RequestHash::of_canonical(b"{}");
        assert_eq!(serde_json::to_value(&hash).expect("json"), serde_json::json!(hash.as_str()));
        assert_eq!(serde_json::from_value::<RequestHash>(serde_json::json!(hash.as_str())).expect("read"), hash);
    }

    #[test]
    fn a_request_hash_is_the_hex_sha256_of_the_canonical_request() {
        assert_eq!(
            RequestHash::of_canonical(b"").as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
