//! The secret that signs an endpoint's deliveries.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::ids::string_serde;

const SECRET_PREFIX: &str = "whsec_";

/// The secret that signs an endpoint's deliveries: `whsec_` and 64
/// lowercase hex characters. Equality is constant-time; `Debug` redacts it.
#[derive(Clone)]
pub struct WebhookSecret([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be `whsec_` followed by 64 lowercase hexadecimal characters")]
pub struct WebhookSecretError;

impl WebhookSecret {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The secret's text, to show the merchant once, at creation. It is
    /// also the HMAC key.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", hex::encode(self.0))
    }

    pub(super) fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(self.reveal().as_bytes()).unwrap_or_else(|_| unreachable!())
    }
}

impl PartialEq for WebhookSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for WebhookSecret {}

impl FromStr for WebhookSecret {
    type Err = WebhookSecretError;
    fn from_str(s: &str) -> Result<Self, WebhookSecretError> {
        let hex = s.strip_prefix(SECRET_PREFIX).ok_or(WebhookSecretError)?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(WebhookSecretError);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex, &mut out).map_err(|_| WebhookSecretError)?;
        Ok(Self(out))
    }
}

/// Prints the secret: only for storage (serde) and the creation response.
impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reveal())
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}
string_serde!(WebhookSecret);
