//! Identifiers. Each is a newtype whose only constructors are a parser and a
//! constructor from random bytes supplied by the caller.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be 32 lowercase hexadecimal characters")]
    NotHex32,
    #[error("must be a UUID such as 123e4567-e89b-42d3-a456-426614174000")]
    NotUuid,
}

/// Parses exactly 32 lowercase hex characters into 16 bytes.
pub(crate) fn parse_hex32(s: &str) -> Result<[u8; 16], IdError> {
    let valid = s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid {
        return Err(IdError::NotHex32);
    }
    let mut out = [0u8; 16];
    hex::decode_to_slice(s, &mut out).map_err(|_| IdError::NotHex32)?;
    Ok(out)
}

macro_rules! string_serde {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_serde;

/// A session's public identifier: 128 random bits as 32 lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

impl SessionId {
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl FromStr for SessionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        parse_hex32(s).map(Self)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}
string_serde!(SessionId);

/// A merchant: the owner of API keys, sessions and webhooks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MerchantId(uuid::Uuid);

impl MerchantId {
    /// Builds a version-4 UUID from 16 random bytes.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
}

impl FromStr for MerchantId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        uuid::Uuid::try_parse(s).map(Self).map_err(|_| IdError::NotUuid)
    }
}

impl fmt::Display for MerchantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for MerchantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MerchantId({self})")
    }
}
string_serde!(MerchantId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_round_trip_through_their_hex_form() {
        let id = SessionId::from_bytes([0xab; 16]);
        assert_eq!(id.to_string(), "ab".repeat(16));
        assert_eq!(id.to_string().parse::<SessionId>(), Ok(id));
    }

    #[test]
    fn session_ids_reject_anything_but_32_lowercase_hex() {
        for bad in ["", "ab", &"AB".repeat(16), &"g".repeat(32), &"a".repeat(33), "../../etc/passwd"] {
            assert_eq!(bad.parse::<SessionId>(), Err(IdError::NotHex32), "{bad:?}");
        }
    }

    #[test]
    fn merchant_ids_are_v4_uuids() {
        let id = MerchantId::from_random_bytes([7; 16]);
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
        assert_eq!(text.parse::<MerchantId>(), Ok(id));
    }
}
