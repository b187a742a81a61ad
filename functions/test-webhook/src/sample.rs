//! The session a test event carries: a sample of the merchant's, in the
//! status the event type implies, under a fresh random id, with
//! placeholder values everywhere else — 10.00 USDC on Base to
//! `0x1111…1111`, paid from `0x3333…3333` into `0x4444…4444`, refunds to
//! `0x2222…2222`, titled "Test event". It is built through the session's
//! own transitions, so it looks exactly like a real one in that status.

use alloy_primitives::{B256, address};
use ferry_domain::{
    BaseUnits, ChainId, ClientSecret, Delivery, Deposit, Destination, DisplayError, DisplayInfo, EventKind, EvmAddress,
    ExpireError, IllegalTransition, MerchantId, NewSession, Plan, Session, SessionError, SessionId, SessionRefund,
    Timestamp, Token, TxHash,
};
use ferry_runtime::Ids;

/// Where the sample's money goes.
pub const DESTINATION: EvmAddress = EvmAddress::new(address!("0x1111111111111111111111111111111111111111"));
/// Where the sample's refund goes.
pub const REFUND: EvmAddress = EvmAddress::new(address!("0x2222222222222222222222222222222222222222"));
/// Who paid the sample.
pub const PAYER: EvmAddress = EvmAddress::new(address!("0x3333333333333333333333333333333333333333"));
/// The sample's deposit address.
pub const RECEIVER: EvmAddress = EvmAddress::new(address!("0x4444444444444444444444444444444444444444"));
/// The sample's title, as the checkout would show it.
pub const TITLE: &str = "Test event";

const BASE: ChainId = ChainId::new(8453);
const USDC_ON_BASE: EvmAddress = EvmAddress::new(address!("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"));
/// 10.00 USDC.
const AMOUNT: BaseUnits = BaseUnits::new(10_000_000);
/// How long before the event the sample session was created.
const AGE_SECONDS: u64 = 5 * 60;

/// The sample could not take its transitions: a bug, never the caller's.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("cannot build the sample session")]
    Transition(#[from] IllegalTransition),
    #[error("cannot build the sample session")]
    Session(#[from] SessionError),
    #[error("cannot build the sample session")]
    Expire(#[from] ExpireError),
    #[error("cannot build the sample session")]
    Display(#[from] DisplayError),
}

/// A session of `merchant_id` as the change that emits `kind` left it, at
/// `now`: `processing` (paid), `succeeded` (paid and delivered), `bounced`
/// (paid and refunded) or `expired` (never paid).
pub fn session(merchant_id: MerchantId, kind: EventKind, now: Timestamp, ids: &Ids) -> Result<Session, SampleError> {
    let lifetime = match kind {
        EventKind::Expired => Session::DEFAULT_LIFETIME_SECONDS,
        EventKind::Processing | EventKind::Succeeded | EventKind::Bounced => AGE_SECONDS,
    };
    let created = Timestamp::from_unix_seconds(now.unix_seconds().saturating_sub(lifetime));
    let session = Session::create(
        new_session()?,
        SessionId::from_bytes(ids.next()),
        merchant_id,
        ClientSecret::from_bytes(ids.next()),
        created,
    );
    if kind == EventKind::Expired {
        let (expired, _event) = session.expire(session.expires_at)?;
        return Ok(expired);
    }
    let waiting = session.set_evm_payment_method(RECEIVER, created)?.unwrap_or(session);
    let deposit = deposit(ids);
    let (processing, _event) = waiting.deposit_seen(&deposit)?;
    let (next, _event) = match kind {
        EventKind::Processing | EventKind::Expired => return Ok(processing),
        EventKind::Succeeded => processing.delivered(Delivery { tx_hash: tx_hash(ids), received: AMOUNT })?,
        EventKind::Bounced => {
            // The destination's call reverted, and the funds went back.
            let plan = Plan::Sweep { to: DESTINATION, calldata: None, refund_to: REFUND };
            let refund = SessionRefund::sent_back(&deposit, &plan, &processing.destination, tx_hash(ids), AMOUNT);
            processing.refunded(refund)?
        }
    };
    Ok(next)
}

fn usdc() -> Token {
    Token { symbol: "USDC".into(), address: USDC_ON_BASE, decimals: 6 }
}

fn new_session() -> Result<NewSession, DisplayError> {
    Ok(NewSession {
        destination: Destination {
            address: DESTINATION,
            chain_id: BASE,
            chain_name: "Base".into(),
            token: usdc(),
            amount: Some(AMOUNT),
            calldata: None,
            delivery: None,
        },
        display: DisplayInfo::parse(TITLE.into(), "Pay".into(), None, None)?,
        metadata: None,
        refund_address: Some(REFUND),
    })
}

fn deposit(ids: &Ids) -> Deposit {
    Deposit {
        chain_id: BASE,
        chain_name: "Base".into(),
        token: usdc(),
        from: PAYER,
        receiver: RECEIVER,
        amount: AMOUNT,
        tx_hash: tx_hash(ids),
        log_index: 0,
        block_number: 0,
    }
}

/// A sample transaction hash from `ids`.
fn tx_hash(ids: &Ids) -> TxHash {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&ids.next());
    bytes[16..].copy_from_slice(&ids.next());
    TxHash::new(B256::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_domain::{PaymentMethod, SessionStatus};

    const NOW: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

    fn merchant() -> MerchantId {
        MerchantId::from_random_bytes([7; 16])
    }

    #[test]
    fn each_event_type_gets_a_session_in_its_status() {
        for (kind, status) in [
            (EventKind::Processing, SessionStatus::Processing),
            (EventKind::Succeeded, SessionStatus::Succeeded),
            (EventKind::Bounced, SessionStatus::Bounced),
            (EventKind::Expired, SessionStatus::Expired),
        ] {
            let session = session(merchant(), kind, NOW, &Ids::random()).expect("sample");
            assert_eq!(session.status(), status, "{kind:?}");
            assert_eq!(session.merchant_id, merchant());
            assert_eq!(session.destination.address, DESTINATION);
            assert_eq!(session.display.title(), TITLE);
            assert!(session.created_at < NOW && session.expires_at.unix_seconds() <= NOW.unix_seconds() + 3600);
        }
    }

    #[test]
    fn a_paid_sample_shows_its_deposit_and_a_finished_one_its_delivery() {
        let processing = session(merchant(), EventKind::Processing, NOW, &Ids::random()).expect("sample");
        let Some(PaymentMethod::Evm { receiver_address, source: Some(source), .. }) = &processing.payment_method else {
            panic!("no deposit: {:?}", processing.payment_method);
        };
        assert_eq!((*receiver_address, source.address, source.sent), (RECEIVER, PAYER, AMOUNT));
        assert!(processing.destination.delivery.is_none());
        for kind in [EventKind::Succeeded, EventKind::Bounced] {
            let finished = session(merchant(), kind, NOW, &Ids::random()).expect("sample");
            assert_eq!(finished.destination.delivery.as_ref().map(|d| d.received), Some(AMOUNT), "{kind:?}");
        }
        let expired = session(merchant(), EventKind::Expired, NOW, &Ids::random()).expect("sample");
        assert!(expired.payment_method.is_none(), "never paid");
        assert_eq!(expired.expires_at, NOW);
    }

    #[test]
    fn every_sample_has_a_fresh_id() {
        let a = session(merchant(), EventKind::Succeeded, NOW, &Ids::random()).expect("sample");
        let b = session(merchant(), EventKind::Succeeded, NOW, &Ids::random()).expect("sample");
        assert_ne!(a.id, b.id);
        assert_ne!(a.destination.delivery, b.destination.delivery, "fresh transaction hashes too");
    }
}
