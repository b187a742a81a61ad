//! Session events: what the outbox stores with each session state change,
//! and what webhook deliveries carry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{IdError, string_serde};
use crate::{EventKind, MerchantId, Session, SessionId, Timestamp};

/// An event's identifier: a version-4 UUID, stable across delivery retries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(uuid::Uuid);

impl EventId {
    /// Builds a version-4 UUID from 16 random bytes.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
}

impl FromStr for EventId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        uuid::Uuid::try_parse(s).map(Self).map_err(|_| IdError::NotUuid)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}
string_serde!(EventId);

/// A session state change as an event: written in the same atomic write as
/// the change itself (the outbox), delivered to webhooks later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEvent {
    pub id: EventId,
    pub kind: EventKind,
    pub session_id: SessionId,
    pub merchant_id: MerchantId,
    pub created_at: Timestamp,
    /// The session as the change left it.
    pub session: Session,
}

impl SessionEvent {
    /// The event `kind` of the change that produced `session` (the state
    /// after the change), under a fresh id from `random_bytes`.
    pub fn new(random_bytes: [u8; 16], kind: EventKind, session: &Session, now: Timestamp) -> Self {
        Self {
            id: EventId::from_random_bytes(random_bytes),
            kind,
            session_id: session.id,
            merchant_id: session.merchant_id,
            created_at: now,
            session: session.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_v4_uuids_that_round_trip() {
        let id = EventId::from_random_bytes([9; 16]);
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
        assert_eq!(text.parse::<EventId>(), Ok(id));
        assert_eq!("nope".parse::<EventId>(), Err(IdError::NotUuid));
    }
}
