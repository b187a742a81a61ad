//! Which session events an endpoint wants.

use serde::{Deserialize, Serialize};

use crate::session::EventKind;

/// The events an endpoint subscribes to; by default all of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EventSelection {
    /// `"*"`: every event, including ones Ferry adds later.
    #[default]
    All,
    /// These events, without duplicates, in [`EventSelection::KINDS`] order.
    Only(Vec<EventKind>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventSelectionError {
    #[error("must name at least one event (or \"*\" for all)")]
    Empty,
    #[error(
        "has unknown event `{0}`; expected \"*\", \"session.processing\", \"session.succeeded\", \"session.bounced\" or \"session.expired\""
    )]
    Unknown(String),
    #[error("may contain \"*\" only on its own")]
    WildcardWithOthers,
}

impl EventSelection {
    /// Every event kind, in the order selections list them.
    pub const KINDS: [EventKind; 4] =
        [EventKind::Processing, EventKind::Succeeded, EventKind::Bounced, EventKind::Expired];

    /// Parses the API's `events` array. Duplicates are collapsed.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, EventSelectionError> {
        if names.is_empty() {
            return Err(EventSelectionError::Empty);
        }
        let mut wildcard = false;
        let mut chosen = [false; 4];
        for name in names {
            let name = name.as_ref();
            if name == "*" {
                wildcard = true;
                continue;
            }
            let index = Self::KINDS
                .iter()
                .position(|kind| kind.as_str() == name)
                .ok_or_else(|| EventSelectionError::Unknown(name.chars().take(64).collect()))?;
            chosen[index] = true;
        }
        match (wildcard, chosen.iter().any(|c| *c)) {
            (true, false) => Ok(Self::All),
            (true, true) => Err(EventSelectionError::WildcardWithOthers),
            (false, _) => {
                Ok(Self::Only(Self::KINDS.iter().zip(chosen).filter(|(_, c)| *c).map(|(kind, _)| *kind).collect()))
            }
        }
    }

    /// Whether an endpoint with this selection gets `kind`.
    pub fn includes(&self, kind: EventKind) -> bool {
        match self {
            Self::All => true,
            Self::Only(kinds) => kinds.contains(&kind),
        }
    }

    /// The selection as the API writes it: `["*"]` or the event names.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            Self::All => vec!["*"],
            Self::Only(kinds) => kinds.iter().map(|kind| kind.as_str()).collect(),
        }
    }
}

impl Serialize for EventSelection {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EventSelection {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        Self::parse(&names).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_selections_parse_with_clear_errors() {
        assert_eq!(EventSelection::parse(&["*"]), Ok(EventSelection::All));
        assert_eq!(EventSelection::parse(&["*", "*"]), Ok(EventSelection::All));
        assert_eq!(
            EventSelection::parse(&["session.expired", "session.processing", "session.expired"]),
            Ok(EventSelection::Only(vec![EventKind::Processing, EventKind::Expired]))
        );
        assert_eq!(EventSelection::parse::<&str>(&[]), Err(EventSelectionError::Empty));
        assert_eq!(EventSelection::parse(&["*", "session.bounced"]), Err(EventSelectionError::WildcardWithOthers));
        assert_eq!(EventSelection::parse(&["session.paid"]), Err(EventSelectionError::Unknown("session.paid".into())));
        assert!(
            EventSelection::parse(&["session.paid"]).expect_err("unknown").to_string().contains("session.processing")
        );
        assert_eq!(EventSelection::default().names(), vec!["*"]);
        assert!(EventSelection::All.includes(EventKind::Expired));
        let only = EventSelection::parse(&["session.succeeded"]).expect("parse");
        assert!(only.includes(EventKind::Succeeded) && !only.includes(EventKind::Bounced));
    }
}
