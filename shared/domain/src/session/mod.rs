//! The payment session: what the merchant asked for, how the payer pays,
//! and the state machine ([`status`]) every change goes through.

mod display;
mod metadata;
mod refund;
mod status;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use display::{DisplayError, DisplayField, DisplayInfo, ThemeMode};
pub use metadata::{Metadata, MetadataError};
pub use refund::SessionRefund;
pub use status::{EventKind, IllegalTransition, SessionStatus, Transition};

use crate::deposit::{Deposit, DepositId, DepositSource};
use crate::{BaseUnits, Calldata, ChainId, ClientSecret, EvmAddress, MerchantId, SessionId, Timestamp, Token, TxHash};

/// Why a session operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the session expired at {expires_at}")]
    Expired { expires_at: Timestamp },
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
}

/// Why a session could not be expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExpireError {
    /// The payer still has time.
    #[error("the session expires at {expires_at}, not yet")]
    NotYetDue { expires_at: Timestamp },
    /// Not open: `processing` (being paid) or already final.
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
}

/// Where the money must land.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub address: EvmAddress,
    pub chain_id: ChainId,
    pub chain_name: String,
    pub token: Token,
    /// Absent: the payer chooses the amount.
    pub amount: Option<BaseUnits>,
    pub calldata: Option<Calldata>,
    pub delivery: Option<Delivery>,
}

/// The transaction that delivered (or refunded) the funds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub tx_hash: TxHash,
    pub received: BaseUnits,
}

/// How the payer pays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentMethod {
    /// A deposit address, the same on every supported EVM chain.
    Evm {
        receiver_address: EvmAddress,
        created_at: Timestamp,
        /// The deposit that paid the session, once seen.
        #[serde(default)]
        source: Option<DepositSource>,
    },
}

/// A session as created from a merchant's validated request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    pub destination: Destination,
    pub display: DisplayInfo,
    pub metadata: Option<Metadata>,
    pub refund_address: Option<EvmAddress>,
}

/// A payment session.
///
/// Its `status` and `version` change only through the transitions below
/// (each the next version), so the state machine holds by construction; a
/// store reads them back as it wrote them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub merchant_id: MerchantId,
    pub client_secret: ClientSecret,
    status: SessionStatus,
    pub destination: Destination,
    pub display: DisplayInfo,
    pub metadata: Option<Metadata>,
    pub refund_address: Option<EvmAddress>,
    pub payment_method: Option<PaymentMethod>,
    /// The last transaction hash a payer pointed us at with `check`.
    pub tx_hash_hint: Option<TxHash>,
    /// The session's deposits that were sent back, in the order they were
    /// recorded. Absent in sessions stored before refunds were recorded.
    #[serde(default)]
    pub refunds: Vec<SessionRefund>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Incremented by every change; stores write conditionally on it.
    version: u64,
}

impl Session {
    /// How long a session waits for its payment unless told otherwise.
    pub const DEFAULT_LIFETIME_SECONDS: u64 = 3600;

    /// How long after its `expires_at` a final session's receiver is still
    /// watched unless told otherwise: 7 days (see [`Session::is_watched`]).
    pub const DEFAULT_LATE_DEPOSIT_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

    pub fn create(
        new: NewSession,
        id: SessionId,
        merchant_id: MerchantId,
        client_secret: ClientSecret,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            merchant_id,
            client_secret,
            status: SessionStatus::RequiresPaymentMethod,
            destination: new.destination,
            display: new.display,
            metadata: new.metadata,
            refund_address: new.refund_address,
            payment_method: None,
            tx_hash_hint: None,
            refunds: Vec::new(),
            created_at: now,
            expires_at: now.plus_seconds(Self::DEFAULT_LIFETIME_SECONDS),
            version: 0,
        }
    }

    pub fn status(&self) -> SessionStatus {
        self.status
    }

    /// Incremented by every change; stores write conditionally on it.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether the payer's time is up at `now` (the expiry worker may not
    /// have recorded it yet).
    pub fn is_past_expiry(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// Whether transfers into this session's receiver still count as its
    /// deposits at `now`. A session that is not final (open, or
    /// `processing`) is always watched; a final one (`succeeded`, `bounced`,
    /// `expired`) for `late_deposit_window` after its `expires_at`, so that
    /// a late or second payment is still seen and refunded. Measured from
    /// `expires_at` whatever the final status, which every session has and
    /// never changes.
    pub fn is_watched(&self, late_deposit_window: Duration, now: Timestamp) -> bool {
        !self.status.is_final() || now < self.expires_at.plus_seconds(late_deposit_window.as_secs())
    }

    fn transitioned(&self, transition: Transition) -> Result<(Session, Option<EventKind>), IllegalTransition> {
        let (status, event) = self.status.apply(transition)?;
        let mut next = self.clone();
        next.status = status;
        next.version += 1;
        Ok((next, event))
    }

    /// Gives the session an EVM deposit address. Asking again for the same
    /// address while waiting for payment changes nothing and returns `None`.
    pub fn set_evm_payment_method(
        &self,
        receiver_address: EvmAddress,
        now: Timestamp,
    ) -> Result<Option<Session>, SessionError> {
        if let Some(PaymentMethod::Evm { receiver_address: existing, .. }) = &self.payment_method
            && *existing == receiver_address
            && self.status == SessionStatus::WaitingPayment
        {
            return Ok(None);
        }
        if self.status.is_open() && self.is_past_expiry(now) {
            return Err(SessionError::Expired { expires_at: self.expires_at });
        }
        let (mut next, _no_event) = self.transitioned(Transition::SetPaymentMethod)?;
        next.payment_method = Some(PaymentMethod::Evm { receiver_address, created_at: now, source: None });
        Ok(Some(next))
    }

    /// The deposit that pays this session was seen: `processing`, with the
    /// deposit recorded as the payment method's source.
    pub fn deposit_seen(&self, deposit: &Deposit) -> Result<(Session, EventKind), IllegalTransition> {
        let (mut next, event) = self.transitioned(Transition::DepositSeen)?;
        if let Some(PaymentMethod::Evm { source, .. }) = &mut next.payment_method {
            *source = Some(deposit.into());
        }
        Ok((next, event.unwrap_or(EventKind::Processing)))
    }

    /// The deposit this session is being (or was) paid by, if any.
    pub fn paid_by(&self) -> Option<&DepositId> {
        match &self.payment_method {
            Some(PaymentMethod::Evm { source: Some(source), .. }) => Some(&source.deposit_id),
            _ => None,
        }
    }

    /// The funds reached the destination: `succeeded`.
    pub fn delivered(&self, delivery: Delivery) -> Result<(Session, EventKind), IllegalTransition> {
        let (mut next, event) = self.transitioned(Transition::Delivered)?;
        next.destination.delivery = Some(delivery);
        Ok((next, event.unwrap_or(EventKind::Succeeded)))
    }

    /// Delivery failed and the funds went to the refund address: `bounced`,
    /// with the refund as the delivery and among the refunds.
    pub fn refunded(&self, refund: SessionRefund) -> Result<(Session, EventKind), IllegalTransition> {
        let (mut next, event) = self.transitioned(Transition::Refunded)?;
        next.destination.delivery = Some(Delivery { tx_hash: refund.tx_hash, received: refund.amount });
        if !self.has_refund_of(&refund.deposit_id) {
            next.refunds.push(refund);
        }
        Ok((next, event.unwrap_or(EventKind::Bounced)))
    }

    /// Records a refund of one of this session's deposits that was not
    /// delivering it (late, surplus, wrong amount): in any status, final
    /// ones too, changing no status and emitting no event. Returns `None`
    /// when this deposit's refund is already recorded.
    pub fn record_refund(&self, refund: SessionRefund) -> Option<Session> {
        if self.has_refund_of(&refund.deposit_id) {
            return None;
        }
        let mut next = self.clone();
        next.refunds.push(refund);
        next.version += 1;
        Some(next)
    }

    fn has_refund_of(&self, deposit: &DepositId) -> bool {
        self.refunds.iter().any(|refund| refund.deposit_id == *deposit)
    }

    /// The payer's time is up: `expired`, emitting `session.expired`. Only
    /// an open session (`requires_payment_method`, `waiting_payment`) at or
    /// past its `expires_at` expires; a `processing` session never does
    /// (its deposit is being delivered), nor a final one.
    pub fn expire(&self, now: Timestamp) -> Result<(Session, EventKind), ExpireError> {
        if self.status.is_open() && !self.is_past_expiry(now) {
            return Err(ExpireError::NotYetDue { expires_at: self.expires_at });
        }
        let (next, event) = self.transitioned(Transition::Expire)?;
        Ok((next, event.unwrap_or(EventKind::Expired)))
    }

    /// Records the transaction a payer says paid this session, so that the
    /// deposit can be looked up without waiting for the next chain scan.
    /// Returns `None` when there is nothing to record.
    pub fn record_tx_hash_hint(&self, tx_hash: TxHash) -> Option<Session> {
        if self.status.is_final() || self.tx_hash_hint == Some(tx_hash) {
            return None;
        }
        let mut next = self.clone();
        next.tx_hash_hint = Some(tx_hash);
        next.version += 1;
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deposit::{Plan, RefundReason};

    fn open_session(expires_at: u64) -> Session {
        let new = NewSession {
            destination: Destination {
                address: EvmAddress::new([0x11; 20].into()),
                chain_id: ChainId::new(8453),
                chain_name: "Base".into(),
                token: Token { symbol: "USDC".into(), address: EvmAddress::new([0x22; 20].into()), decimals: 6 },
                amount: Some(BaseUnits::new(10_000_000)),
                calldata: None,
                delivery: None,
            },
            display: DisplayInfo::parse("Order #1".into(), "Pay".into(), None, None).expect("display"),
            metadata: None,
            refund_address: None,
        };
        let created = Timestamp::from_unix_seconds(expires_at - Session::DEFAULT_LIFETIME_SECONDS);
        let session = Session::create(
            new,
            SessionId::from_bytes([1; 16]),
            MerchantId::from_random_bytes([2; 16]),
            ClientSecret::from_bytes([3; 16]),
            created,
        );
        assert_eq!(session.expires_at, Timestamp::from_unix_seconds(expires_at));
        session
    }

    #[test]
    fn an_open_session_expires_at_its_expiry_and_emits_session_expired() {
        let session = open_session(10_000);
        let waiting = session
            .set_evm_payment_method(EvmAddress::new([0x33; 20].into()), Timestamp::from_unix_seconds(9_000))
            .expect("legal")
            .expect("changed");
        for open in [&session, &waiting] {
            let (expired, event) = open.expire(Timestamp::from_unix_seconds(10_000)).expect("due at expires_at");
            assert_eq!(event, EventKind::Expired);
            assert_eq!(expired.status, SessionStatus::Expired);
            assert_eq!(expired.version, open.version + 1);
            assert_eq!(expired.payment_method, open.payment_method, "nothing else changes");
            assert!(open.expire(Timestamp::from_unix_seconds(10_001)).is_ok(), "and after it");
        }
    }

    #[test]
    fn a_session_does_not_expire_before_its_time() {
        let session = open_session(10_000);
        let early = session.expire(Timestamp::from_unix_seconds(9_999));
        assert_eq!(early, Err(ExpireError::NotYetDue { expires_at: Timestamp::from_unix_seconds(10_000) }));
    }

    #[test]
    fn processing_and_final_sessions_never_expire() {
        let now = Timestamp::from_unix_seconds(20_000);
        for status in
            [SessionStatus::Processing, SessionStatus::Succeeded, SessionStatus::Bounced, SessionStatus::Expired]
        {
            let mut session = open_session(10_000);
            session.status = status;
            let refused = session.expire(now).expect_err("not open");
            assert_eq!(
                refused,
                ExpireError::IllegalTransition(IllegalTransition { from: status, transition: Transition::Expire })
            );
        }
        // Paid before its expiry, then past it: still not expired.
        let mut processing = open_session(10_000);
        processing.status = SessionStatus::Processing;
        assert!(matches!(processing.expire(now), Err(ExpireError::IllegalTransition(_))));
    }

    const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

    #[test]
    fn a_session_that_is_not_final_is_watched_however_late() {
        let long_after = Timestamp::from_unix_seconds(10_000 + 10 * WEEK.as_secs());
        for status in [SessionStatus::RequiresPaymentMethod, SessionStatus::WaitingPayment, SessionStatus::Processing] {
            let mut session = open_session(10_000);
            session.status = status;
            assert!(session.is_watched(WEEK, long_after), "{status}");
            assert!(session.is_watched(Duration::ZERO, long_after), "{status}, even without a window");
        }
    }

    #[test]
    fn a_final_session_is_watched_until_its_expiry_plus_the_window() {
        let end = 10_000 + WEEK.as_secs();
        for status in [SessionStatus::Expired, SessionStatus::Succeeded, SessionStatus::Bounced] {
            let mut session = open_session(10_000);
            session.status = status;
            assert!(session.is_watched(WEEK, Timestamp::from_unix_seconds(9_000)), "{status}: before expiry");
            assert!(session.is_watched(WEEK, Timestamp::from_unix_seconds(end - 1)), "{status}: inside the window");
            assert!(!session.is_watched(WEEK, Timestamp::from_unix_seconds(end)), "{status}: the window is over");
            assert!(!session.is_watched(Duration::ZERO, Timestamp::from_unix_seconds(10_000)), "{status}: no window");
        }
        let mut forever = open_session(u64::MAX - 100);
        forever.status = SessionStatus::Expired;
        assert!(forever.is_watched(WEEK, Timestamp::from_unix_seconds(u64::MAX - 1)), "saturates, never wraps");
    }

    /// The refund of a 5 USDC deposit in transaction `[tx; 32]`.
    fn refund_of(tx: u8, reason: RefundReason) -> SessionRefund {
        let deposit = Deposit {
            chain_id: ChainId::new(8453),
            chain_name: "Base".into(),
            token: Token { symbol: "USDC".into(), address: EvmAddress::new([0x22; 20].into()), decimals: 6 },
            from: EvmAddress::new([0x44; 20].into()),
            receiver: EvmAddress::new([0x33; 20].into()),
            amount: BaseUnits::new(5_000_000),
            tx_hash: TxHash::new([tx; 32].into()),
            log_index: 0,
            block_number: 1,
        };
        SessionRefund {
            deposit_id: deposit.id(),
            deposit_chain_id: deposit.chain_id,
            deposit_tx_hash: deposit.tx_hash,
            chain_id: deposit.chain_id,
            chain_name: deposit.chain_name,
            token: deposit.token,
            amount: deposit.amount,
            to: deposit.from,
            tx_hash: TxHash::new([tx.wrapping_add(1); 32].into()),
            reason,
        }
    }

    #[test]
    fn a_refund_is_recorded_once_per_deposit_in_any_status_without_changing_it() {
        for status in SessionStatus::ALL {
            let mut session = open_session(10_000);
            session.status = status;
            let once = session.record_refund(refund_of(7, RefundReason::Expired)).expect("recorded");
            assert_eq!((once.status, once.version), (status, session.version + 1));
            assert_eq!(once.refunds, [refund_of(7, RefundReason::Expired)]);
            assert_eq!(once.record_refund(refund_of(7, RefundReason::Expired)), None, "{status}: not twice");
            let twice = once.record_refund(refund_of(8, RefundReason::AlreadyPaid)).expect("another deposit");
            assert_eq!(twice.refunds, [refund_of(7, RefundReason::Expired), refund_of(8, RefundReason::AlreadyPaid)]);
        }
    }

    #[test]
    fn a_bounce_delivers_its_refund_and_lists_it() {
        let mut processing = open_session(10_000);
        processing.status = SessionStatus::Processing;
        let refund = refund_of(9, RefundReason::CallReverted);
        let (bounced, event) = processing.refunded(refund.clone()).expect("legal");
        assert_eq!((bounced.status, event), (SessionStatus::Bounced, EventKind::Bounced));
        let delivery = Delivery { tx_hash: refund.tx_hash, received: refund.amount };
        assert_eq!(bounced.destination.delivery, Some(delivery));
        assert_eq!(bounced.refunds, std::slice::from_ref(&refund));
        assert_eq!(bounced.record_refund(refund), None, "already listed");
    }

    #[test]
    fn what_was_sent_back_is_the_deposit_or_what_its_reverted_delivery_carried() {
        let session = open_session(10_000);
        let destination = &session.destination;
        let deposit = Deposit {
            chain_id: ChainId::new(56),
            chain_name: "BNB Smart Chain".into(),
            token: Token { symbol: "USDT".into(), address: EvmAddress::new([0x55; 20].into()), decimals: 18 },
            from: EvmAddress::new([0x44; 20].into()),
            receiver: EvmAddress::new([0x33; 20].into()),
            amount: BaseUnits::new(10_000_000_000_000_000_000),
            tx_hash: TxHash::new([7; 32].into()),
            log_index: 2,
            block_number: 1,
        };
        let (refund_tx, refund_address) = (TxHash::new([8; 32].into()), EvmAddress::new([0x66; 20].into()));
        let late = Plan::Refund { to: deposit.from, reason: RefundReason::Expired };
        let returned = SessionRefund::sent_back(&deposit, &late, destination, refund_tx, deposit.amount);
        assert_eq!((returned.chain_id, &returned.token, returned.to), (deposit.chain_id, &deposit.token, deposit.from));
        assert_eq!((returned.deposit_id, returned.reason), (deposit.id(), RefundReason::Expired));

        let payout = Plan::Payout {
            chain_id: destination.chain_id,
            token: destination.token.clone(),
            amount: BaseUnits::new(10_000_000),
            to: destination.address,
            calldata: None,
            refund_to: refund_address,
        };
        let bounced = SessionRefund::sent_back(&deposit, &payout, destination, refund_tx, BaseUnits::new(10_000_000));
        assert_eq!((bounced.chain_id, bounced.chain_name.as_str()), (destination.chain_id, "Base"));
        assert_eq!((&bounced.token, bounced.to), (&destination.token, refund_address));
        assert_eq!((bounced.deposit_chain_id, bounced.deposit_tx_hash), (deposit.chain_id, deposit.tx_hash));
        assert_eq!((bounced.amount, bounced.reason), (BaseUnits::new(10_000_000), RefundReason::CallReverted));
    }

    #[test]
    fn sessions_stored_before_refunds_were_recorded_still_decode() {
        let session = open_session(10_000);
        let mut stored = serde_json::to_value(&session).expect("json");
        stored.as_object_mut().expect("object").remove("refunds");
        let decoded: Session = serde_json::from_value(stored).expect("decodes");
        assert_eq!(decoded, session);
    }
}
