//! A webhook endpoint's id: `wh_` and 32 lowercase hex characters.

use std::fmt;
use std::str::FromStr;

use crate::ids::{parse_hex32, string_serde};

const ID_PREFIX: &str = "wh_";

/// A webhook endpoint's identifier: `wh_` and 32 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WebhookId([u8; 16]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be `wh_` followed by 32 lowercase hexadecimal characters")]
pub struct WebhookIdError;

impl WebhookId {
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

impl FromStr for WebhookId {
    type Err = WebhookIdError;
    fn from_str(s: &str) -> Result<Self, WebhookIdError> {
        let hex = s.strip_prefix(ID_PREFIX).ok_or(WebhookIdError)?;
        parse_hex32(hex).map(Self).map_err(|_| WebhookIdError)
    }
}

impl fmt::Display for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{ID_PREFIX}{}", hex::encode(self.0))
    }
}

impl fmt::Debug for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookId({self})")
    }
}
string_serde!(WebhookId);
