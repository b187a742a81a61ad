//! The conformance suite against a real SQS API: the `moto_server` that
//! `cargo xtask test` starts and names in `FERRY_TEST_SQS_ENDPOINT`.
#![cfg(feature = "sqs")]

use std::time::Duration;

use ferry_queue::conformance::SUITE_TIMEOUT;
use ferry_queue::sqs::SqsQueue;

fn endpoint() -> String {
    std::env::var("FERRY_TEST_SQS_ENDPOINT")
        .expect("FERRY_TEST_SQS_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_queue_conforms() {
    let name = format!("ferry-conformance-{}", unique());
    let queue = SqsQueue::local(&endpoint(), &name).await.expect("create queue");
    tokio::time::timeout(SUITE_TIMEOUT, ferry_queue::conformance::run_all(queue))
        .await
        .expect("the conformance suite finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_finds_an_existing_queue() {
    let name = format!("ferry-existing-{}", unique());
    let (created, found) = tokio::time::timeout(Duration::from_secs(30), async {
        let created = SqsQueue::local(&endpoint(), &name).await;
        let found = SqsQueue::local(&endpoint(), &name).await;
        (created, found)
    })
    .await
    .expect("moto_server answers within 30 s");
    let (created, found) = (created.expect("create queue"), found.expect("find queue"));
    assert_eq!(created.url(), found.url());
    assert!(created.url().ends_with(&name), "{}", created.url());
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}
