//! [`ReceiverLog`](crate::ReceiverLog) conformance: a claim is logged by the
//! commit that makes it (and only if that commit wins), and listed by time.

use ferry_domain::{EvmAddress, Timestamp};

use super::{NOW, fresh_address, fresh_merchant, sample_session};
use crate::{ChainStore, ReceiverClaim, SessionChange, StoreError};

/// A fresh session given `receiver` at `at`; the claim its commit made.
async fn claimed<S: ChainStore>(store: &S, receiver: EvmAddress, at: Timestamp) -> ReceiverClaim {
    let session = sample_session(fresh_merchant());
    store.create_session(&session, None).await.expect("create");
    let waiting = session.set_evm_payment_method(receiver, at).expect("legal").expect("changed");
    store.commit(SessionChange::new(&waiting).claiming_receiver(receiver)).await.expect("claim");
    ReceiverClaim { receiver, session_id: session.id, claimed_at: at, expires_at: session.expires_at }
}

pub async fn claims_are_logged_by_their_commit_and_listed_since_a_time<S: ChainStore>(store: &S) {
    let start = store.receiver_log_start(NOW).await.expect("log start");
    assert_eq!(store.receiver_log_start(NOW.plus_seconds(60)).await.expect("log start"), start, "it starts once");
    assert!(start <= NOW, "a store that logged every claim it holds starts no later than them: {start}");

    let t0 = NOW.plus_seconds(100);
    let claims = [
        claimed(store, fresh_address(), t0).await,
        claimed(store, fresh_address(), t0.plus_seconds(10)).await,
        claimed(store, fresh_address(), t0.plus_seconds(20)).await,
    ];
    // A commit that loses (the receiver is taken) logs nothing.
    let loser = sample_session(fresh_merchant());
    store.create_session(&loser, None).await.expect("create");
    let taken = loser.set_evm_payment_method(claims[0].receiver, t0.plus_seconds(30)).expect("legal").expect("changed");
    let lost = store.commit(SessionChange::new(&taken).claiming_receiver(claims[0].receiver)).await;
    assert!(matches!(lost, Err(StoreError::Conflict(_))), "{lost:?}");

    let mine = |listed: Vec<ReceiverClaim>| {
        let mut listed: Vec<ReceiverClaim> =
            listed.into_iter().filter(|c| claims.iter().any(|mine| mine.session_id == c.session_id)).collect();
        listed.sort_by_key(|c| c.claimed_at);
        listed
    };
    let now = t0.plus_seconds(60);
    assert_eq!(mine(store.receivers_claimed_since(t0, now).await.expect("claims")), claims.to_vec());
    assert_eq!(
        mine(store.receivers_claimed_since(t0.plus_seconds(10), now).await.expect("claims")),
        claims[1..].to_vec(),
        "claimed at or after the time"
    );
    assert_eq!(mine(store.receivers_claimed_since(t0.plus_seconds(21), now).await.expect("claims")), vec![]);
    // Across days: claims from a day before `since`'s day are found from that day on.
    let long_ago = t0.plus_seconds(0).unix_seconds() - 3 * 86_400;
    let listed =
        mine(store.receivers_claimed_since(Timestamp::from_unix_seconds(long_ago), now).await.expect("claims"));
    assert_eq!(listed, claims.to_vec());
}
