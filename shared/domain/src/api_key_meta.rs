//! What an operator sees of an API key without seeing the key: a stable id,
//! an optional label, and the day it was last used.
//!
//! The id is derived from the key's hash (domain-separated SHA-256, 64 bits,
//! `key_` + 16 hex), so keys stored before ids existed have one too and
//! nothing needs to be migrated. It reveals nothing usable about the key:
//! the key has 122 random bits and the id is a hash of its hash.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::Timestamp;
use crate::credentials::ApiKeyHash;
use crate::ids::string_serde;

const ID_PREFIX: &str = "key_";
const ID_DOMAIN: &[u8] = b"ferry api key id v1\0";
const SECONDS_PER_DAY: u64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyMetaError {
    #[error("must be `key_` followed by 16 lowercase hexadecimal characters")]
    NotKeyId,
    #[error("must be 1 to {max} characters, without control characters", max = ApiKeyLabel::MAX_CHARS)]
    BadLabel,
}

/// An API key's public identifier, as `ferry api-key list` shows it and
/// `ferry api-key revoke` takes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId([u8; 8]);

impl ApiKeyId {
    /// The id of the key whose hash is `hash`.
    pub fn of(hash: &ApiKeyHash) -> Self {
        let digest = Sha256::new().chain_update(ID_DOMAIN).chain_update(hash.as_bytes()).finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self(id)
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{ID_PREFIX}{}", hex::encode(self.0))
    }
}

impl fmt::Debug for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeyId({self})")
    }
}

impl FromStr for ApiKeyId {
    type Err = ApiKeyMetaError;
    fn from_str(s: &str) -> Result<Self, ApiKeyMetaError> {
        let hex_part = s.strip_prefix(ID_PREFIX).ok_or(ApiKeyMetaError::NotKeyId)?;
        let valid = hex_part.len() == 16 && hex_part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid {
            return Err(ApiKeyMetaError::NotKeyId);
        }
        let mut out = [0u8; 8];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| ApiKeyMetaError::NotKeyId)?;
        Ok(Self(out))
    }
}
string_serde!(ApiKeyId);

/// An operator's note on a key ("production", "rotation 2026-12"): 1 to 64
/// characters, no control characters, so it prints safely on one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyLabel(String);

impl ApiKeyLabel {
    pub const MAX_CHARS: usize = 64;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ApiKeyLabel {
    type Err = ApiKeyMetaError;
    fn from_str(s: &str) -> Result<Self, ApiKeyMetaError> {
        let count = s.chars().count();
        if count == 0 || count > Self::MAX_CHARS || s.chars().any(char::is_control) || s.trim().is_empty() {
            return Err(ApiKeyMetaError::BadLabel);
        }
        Ok(Self(s.to_string()))
    }
}

impl fmt::Display for ApiKeyLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_serde!(ApiKeyLabel);

/// The start (00:00 UTC) of the day `at` falls in: what a key's last use is
/// recorded as, so that a key is written at most once a day.
pub const fn utc_day(at: Timestamp) -> Timestamp {
    Timestamp::from_unix_seconds(at.unix_seconds() - at.unix_seconds() % SECONDS_PER_DAY)
}

/// The UTC calendar date of `at` as `YYYY-MM-DD`.
pub fn utc_date(at: Timestamp) -> String {
    // Howard Hinnant's `civil_from_days`, for days since 1970-01-01 (never negative here).
    let days = at.unix_seconds() / SECONDS_PER_DAY + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ApiKey;

    #[test]
    fn ids_are_stable_and_round_trip_as_text() {
        let key: ApiKey = "123e4567-e89b-42d3-a456-426614174000".parse().expect("uuid");
        let id = ApiKeyId::of(&key.hash());
        assert_eq!(id, ApiKeyId::of(&key.hash()));
        let text = id.to_string();
        assert!(text.starts_with("key_") && text.len() == 20, "{text}");
        assert_eq!(text.parse::<ApiKeyId>(), Ok(id));
        // The id is not a piece of the hash.
        assert!(!key.hash().to_string().contains(&text[4..]));
        for bad in ["", "key_", "key_0123456789ABCDEF", "kex_0123456789abcdef", "key_0123456789abcde"] {
            assert_eq!(bad.parse::<ApiKeyId>(), Err(ApiKeyMetaError::NotKeyId), "{bad}");
        }
    }

    #[test]
    fn labels_are_short_single_lines() {
        assert_eq!("rotation 2026-12".parse::<ApiKeyLabel>().map(|l| l.to_string()), Ok("rotation 2026-12".into()));
        assert!("x".repeat(64).parse::<ApiKeyLabel>().is_ok());
        for bad in ["", "  ", "a\nb", "tab\there", &"x".repeat(65)] {
            assert_eq!(bad.parse::<ApiKeyLabel>(), Err(ApiKeyMetaError::BadLabel), "{bad:?}");
        }
    }

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(utc_date(Timestamp::from_unix_seconds(0)), "1970-01-01");
        assert_eq!(utc_date(Timestamp::from_unix_seconds(951_782_400)), "2000-02-29");
        assert_eq!(utc_date(Timestamp::from_unix_seconds(1_796_083_199)), "2026-11-30");
        assert_eq!(utc_date(Timestamp::from_unix_seconds(1_796_083_200)), "2026-12-01");
        assert_eq!(utc_day(Timestamp::from_unix_seconds(1_796_083_199)), Timestamp::from_unix_seconds(1_795_996_800));
    }

    proptest! {
        #[test]
        fn a_day_starts_at_midnight_and_contains_its_instant(seconds in 0u64..10_000_000_000) {
            let at = Timestamp::from_unix_seconds(seconds);
            let day = utc_day(at);
            prop_assert!(day <= at && at.unix_seconds() - day.unix_seconds() < SECONDS_PER_DAY);
            prop_assert_eq!(utc_date(day), utc_date(at));
            prop_assert_eq!(utc_day(day), day);
        }
    }
}
