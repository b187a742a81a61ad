//! `expire-sessions` as its EventBridge schedule drives it: the function's
//! entry on the scheduled-event fixture over the in-memory store, and the
//! real binary through its Lambda entry point against DynamoDB (moto),
//! where due sessions are found through the sparse `open-sessions` index.

use std::time::{Duration, SystemTime};

use expire_sessions::ExpireSessions;
use expire_sessions::lambda::ScheduledExpiry;
use ferry_domain::{Session, SessionStatus, Timestamp};
use ferry_store::memory::MemoryStore;
use ferry_store::{ExpiryStore, SessionChange, SessionStore};
use ferry_testing::{FakeRuntimeApi, bounded, fresh_table, moto_endpoint, sam_local_env};
use serde_json::Value;

const FIXTURE: &str = ferry_testing::SCHEDULED_EVENT;

fn scheduled_event() -> String {
    std::fs::read_to_string(FIXTURE).expect("read the fixture")
}

/// A stored session that expires `seconds_from_now` from now (negative: in the past).
async fn session_expiring_in<S: SessionStore>(store: &S, seconds_from_now: i64) -> Session {
    let now = ferry_http::now().unix_seconds();
    let mut session = ferry_store::conformance::sample_session(ferry_domain::MerchantId::from_random_bytes(
        ferry_http::random_bytes(),
    ));
    session.expires_at = Timestamp::from_unix_seconds(now.saturating_add_signed(seconds_from_now));
    session.created_at = Timestamp::from_unix_seconds(session.expires_at.unix_seconds() - 3_600);
    store.create_session(&session, None).await.expect("create");
    session
}

async fn status<S: SessionStore>(store: &S, session: &Session) -> SessionStatus {
    store.get_session(&session.id).await.expect("get").expect("stored").status
}

#[tokio::test]
async fn the_handler_expires_what_is_due_and_reports_it() {
    bounded(async {
        let store = MemoryStore::new();
        let due = session_expiring_in(&store, -60).await;
        let not_yet = session_expiring_in(&store, 3_600).await;
        let function = ScheduledExpiry::new(ExpireSessions::new(store.clone()));
        let event: Value = serde_json::from_str(&scheduled_event()).expect("JSON");

        let report = function.handle(&event, SystemTime::now() + Duration::from_secs(30)).await.expect("ran");

        assert_eq!((report.expired, report.lost_races, report.cut_short), (1, 0, false));
        assert_eq!(status(&store, &due).await, SessionStatus::Expired);
        assert_eq!(status(&store, &not_yet).await, SessionStatus::RequiresPaymentMethod);
        let json = serde_json::to_value(report).expect("JSON");
        assert_eq!(json, serde_json::json!({ "expired": 1, "lostRaces": 0, "cutShort": false }));
    })
    .await;
}

/// The real binary, started as Lambda starts it, on the scheduled event:
/// the due open sessions in the table become `expired`; a session not yet
/// due, a `processing` one past its expiry and an already expired one are
/// left as they are. Its variables are those `sam local --env-vars
/// events/env.json` sets, only the table and moto_server being this test's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_expires_due_sessions_in_dynamodb() {
    let endpoint = moto_endpoint();
    let store = bounded(fresh_table(&endpoint, "ferry-expire-sessions")).await;
    let (due, not_yet, processing) = bounded(async {
        let mut due = Vec::new();
        for age in 1..=5 {
            due.push(session_expiring_in(&store, -60 * age).await);
        }
        let not_yet = session_expiring_in(&store, 3_600).await;
        let open = session_expiring_in(&store, -120).await;
        let receiver = ferry_store::conformance::sample_deposit().receiver;
        let waiting = open.set_evm_payment_method(receiver, open.created_at).expect("legal").expect("changed");
        store.commit(SessionChange::new(&waiting).claiming_receiver(receiver)).await.expect("method");
        let (paid, _event) = waiting.deposit_seen(&ferry_store::conformance::sample_deposit()).expect("legal");
        store.commit(SessionChange::new(&paid)).await.expect("paid");
        (due, not_yet, paid)
    })
    .await;

    let binary = env!("CARGO_BIN_EXE_expire-sessions");
    let overrides = [("AWS_ENDPOINT_URL", endpoint.as_str()), ("FERRY_TABLE_NAME", store.table())];
    let env = sam_local_env("ExpireSessionsFunction", &overrides);
    let event = scheduled_event();
    let invocation =
        tokio::task::spawn_blocking(move || FakeRuntimeApi::invoke(binary, &env, &event, Duration::from_secs(30)));
    let response = invocation.await.expect("the invocation thread").unwrap_or_else(|error| panic!("{error}"));

    assert_eq!(response["expired"], 5, "{response}");
    assert_eq!(response["lostRaces"], 0, "{response}");
    assert_eq!(response["cutShort"], false, "{response}");
    bounded(async {
        for session in &due {
            assert_eq!(status(&store, session).await, SessionStatus::Expired);
        }
        assert_eq!(status(&store, &not_yet).await, SessionStatus::RequiresPaymentMethod);
        assert_eq!(status(&store, &processing).await, SessionStatus::Processing);
        assert!(store.due_sessions(ferry_http::now(), 100).await.expect("due").is_empty());
    })
    .await;
}
