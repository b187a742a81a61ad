//! The store conformance checks, one test each, against every adapter: the
//! in-memory store, SQLite (in memory) and DynamoDB — the `moto_server` that
//! `cargo xtask test` starts and names in `FERRY_TEST_DYNAMODB_ENDPOINT`,
//! a fresh table per test.

mod memory {
    ferry_store::store_conformance_tests!(ferry_store::memory::MemoryStore::new());
}

mod sqlite {
    ferry_store::store_conformance_tests!(ferry_store::sqlite::SqliteStore::in_memory().expect("open"));
}

mod dynamodb {
    use ferry_store::dynamodb::DynamoStore;

    async fn fresh_table() -> DynamoStore {
        let endpoint = std::env::var("FERRY_TEST_DYNAMODB_ENDPOINT").expect(
            "FERRY_TEST_DYNAMODB_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server",
        );
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let table = format!("ferry-conformance-{}-{nanos}", std::process::id());
        let store = DynamoStore::local(&endpoint, table).await;
        store.ensure_table().await.expect("create table");
        store
    }

    ferry_store::store_conformance_tests!(fresh_table().await);
}
