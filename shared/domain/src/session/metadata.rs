//! The merchant's key/value annotations on a session.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The merchant's own key/value annotations, echoed back, never interpreted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("may hold at most {max} keys")]
    TooManyKeys { max: usize },
    #[error("keys must be 1 to {max} characters")]
    BadKey { key: String, max: usize },
    #[error("values must be at most {max} characters")]
    ValueTooLong { key: String, max: usize },
}

impl Metadata {
    pub const MAX_KEYS: usize = 50;
    pub const MAX_KEY_CHARS: usize = 40;
    pub const MAX_VALUE_CHARS: usize = 500;

    pub fn parse(entries: BTreeMap<String, String>) -> Result<Self, MetadataError> {
        if entries.len() > Self::MAX_KEYS {
            return Err(MetadataError::TooManyKeys { max: Self::MAX_KEYS });
        }
        for (key, value) in &entries {
            let key_chars = key.chars().count();
            if key_chars == 0 || key_chars > Self::MAX_KEY_CHARS {
                return Err(MetadataError::BadKey { key: key.clone(), max: Self::MAX_KEY_CHARS });
            }
            if value.chars().count() > Self::MAX_VALUE_CHARS {
                return Err(MetadataError::ValueTooLong { key: key.clone(), max: Self::MAX_VALUE_CHARS });
            }
        }
        Ok(Self(entries))
    }

    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}
