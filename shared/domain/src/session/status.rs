//! The session's statuses and the transitions between them.
//!
//! ```text
//! requires_payment_method --payment method set--> waiting_payment --deposit seen--> processing
//! requires_payment_method --expiry--> expired        waiting_payment --expiry--> expired
//! processing --funds delivered--> succeeded          processing --delivery failed, refunded--> bounced
//! ```
//!
//! Transitions are pure functions from a status to the next status and the
//! event the change causes; anything not drawn above is an [`IllegalTransition`].

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    RequiresPaymentMethod,
    WaitingPayment,
    Processing,
    Succeeded,
    Bounced,
    Expired,
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 6] = [
        Self::RequiresPaymentMethod,
        Self::WaitingPayment,
        Self::Processing,
        Self::Succeeded,
        Self::Bounced,
        Self::Expired,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RequiresPaymentMethod => "requires_payment_method",
            Self::WaitingPayment => "waiting_payment",
            Self::Processing => "processing",
            Self::Succeeded => "succeeded",
            Self::Bounced => "bounced",
            Self::Expired => "expired",
        }
    }

    /// `succeeded`, `bounced` and `expired` never change again.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Bounced | Self::Expired)
    }

    /// Still waiting for the payer: the only statuses expiry applies to.
    pub const fn is_open(self) -> bool {
        matches!(self, Self::RequiresPaymentMethod | Self::WaitingPayment)
    }

    /// The status after `transition`, and the event the change emits.
    pub fn apply(self, transition: Transition) -> Result<(SessionStatus, Option<EventKind>), IllegalTransition> {
        use SessionStatus as S;
        use Transition as T;
        match (self, transition) {
            (S::RequiresPaymentMethod | S::WaitingPayment, T::SetPaymentMethod) => Ok((S::WaitingPayment, None)),
            (S::WaitingPayment, T::DepositSeen) => Ok((S::Processing, Some(EventKind::Processing))),
            (S::Processing, T::Delivered) => Ok((S::Succeeded, Some(EventKind::Succeeded))),
            (S::Processing, T::Refunded) => Ok((S::Bounced, Some(EventKind::Bounced))),
            (S::RequiresPaymentMethod | S::WaitingPayment, T::Expire) => Ok((S::Expired, Some(EventKind::Expired))),
            (from, transition) => Err(IllegalTransition { from, transition }),
        }
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transition {
    SetPaymentMethod,
    DepositSeen,
    Delivered,
    Refunded,
    Expire,
}

/// The webhook event a transition emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "session.processing")]
    Processing,
    #[serde(rename = "session.succeeded")]
    Succeeded,
    #[serde(rename = "session.bounced")]
    Bounced,
    #[serde(rename = "session.expired")]
    Expired,
}

impl EventKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "session.processing",
            Self::Succeeded => "session.succeeded",
            Self::Bounced => "session.bounced",
            Self::Expired => "session.expired",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a session that is {from} cannot {}", describe(*.transition))]
pub struct IllegalTransition {
    pub from: SessionStatus,
    pub transition: Transition,
}

fn describe(transition: Transition) -> &'static str {
    match transition {
        Transition::SetPaymentMethod => "take a payment method",
        Transition::DepositSeen => "accept a deposit",
        Transition::Delivered => "be marked delivered",
        Transition::Refunded => "be marked refunded",
        Transition::Expire => "expire",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn transitions() -> impl Strategy<Value = Transition> {
        prop_oneof![
            Just(Transition::SetPaymentMethod),
            Just(Transition::DepositSeen),
            Just(Transition::Delivered),
            Just(Transition::Refunded),
            Just(Transition::Expire),
        ]
    }

    #[test]
    fn the_happy_path_emits_processing_then_succeeded() {
        let s = SessionStatus::RequiresPaymentMethod;
        let (s, e) = s.apply(Transition::SetPaymentMethod).expect("set method");
        assert_eq!((s, e), (SessionStatus::WaitingPayment, None));
        let (s, e) = s.apply(Transition::DepositSeen).expect("deposit");
        assert_eq!((s, e), (SessionStatus::Processing, Some(EventKind::Processing)));
        let (s, e) = s.apply(Transition::Delivered).expect("delivered");
        assert_eq!((s, e), (SessionStatus::Succeeded, Some(EventKind::Succeeded)));
    }

    #[test]
    fn a_processing_session_never_expires() {
        let err = SessionStatus::Processing.apply(Transition::Expire).expect_err("illegal");
        assert_eq!(err.to_string(), "a session that is processing cannot expire");
    }

    proptest! {
        #[test]
        fn final_statuses_never_change(transitions in proptest::collection::vec(transitions(), 0..20)) {
            let mut status = SessionStatus::RequiresPaymentMethod;
            let mut reached_final = None;
            for transition in transitions {
                match status.apply(transition) {
                    Ok((next, _)) => {
                        prop_assert!(reached_final.is_none(), "{status} moved on by {transition:?}");
                        status = next;
                        if status.is_final() { reached_final = Some(status); }
                    }
                    Err(err) => prop_assert_eq!(err.from, status),
                }
            }
        }

        #[test]
        fn every_status_change_except_setting_a_method_emits_its_event(
            from in proptest::sample::select(SessionStatus::ALL.to_vec()),
            transition in transitions(),
        ) {
            if let Ok((to, event)) = from.apply(transition) {
                let expected = match to {
                    SessionStatus::Processing => Some(EventKind::Processing),
                    SessionStatus::Succeeded => Some(EventKind::Succeeded),
                    SessionStatus::Bounced => Some(EventKind::Bounced),
                    SessionStatus::Expired => Some(EventKind::Expired),
                    SessionStatus::WaitingPayment | SessionStatus::RequiresPaymentMethod => None,
                };
                prop_assert_eq!(event, expected);
                prop_assert!(!from.is_final());
            }
        }
    }
}
