//! The conformance suite against a real DynamoDB API: the `moto_server`
//! that `cargo xtask test` starts and names in `FERRY_TEST_DYNAMODB_ENDPOINT`.
#![cfg(feature = "dynamodb")]

use ferry_store::dynamodb::DynamoStore;

fn endpoint() -> String {
    std::env::var("FERRY_TEST_DYNAMODB_ENDPOINT").expect(
        "FERRY_TEST_DYNAMODB_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_conforms() {
    let table = format!("ferry-conformance-{}", uuid_like());
    let store = DynamoStore::local(&endpoint(), table).await;
    store.ensure_table().await.expect("create table");
    ferry_store::conformance::run_all(store).await;
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}
