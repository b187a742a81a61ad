//! The queue conformance checks, one test each, against every adapter: the
//! in-memory queue, SQLite (in memory) and SQS — the `moto_server` that
//! `cargo xtask test` starts and names in `FERRY_TEST_SQS_ENDPOINT`, a
//! fresh queue per test.

mod memory {
    use ferry_queue::memory::MemoryQueue;

    /// Beyond what a receive can see: nothing in flight or delayed either.
    fn nothing_in_flight(queue: &MemoryQueue) {
        assert!(queue.is_empty(), "the check acked everything it sent");
    }

    ferry_queue::queue_conformance_tests!(MemoryQueue::new(), nothing_in_flight);
}

mod sqlite {
    ferry_queue::queue_conformance_tests!(ferry_queue::sqlite::SqliteQueue::in_memory("conformance").expect("open"));
}

mod sqs {
    use std::time::Duration;

    use ferry_queue::sqs::SqsQueue;

    fn endpoint() -> String {
        std::env::var("FERRY_TEST_SQS_ENDPOINT").expect(
            "FERRY_TEST_SQS_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server",
        )
    }

    fn unique() -> String {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        format!("{}-{nanos}", std::process::id())
    }

    async fn fresh_queue() -> SqsQueue {
        let name = format!("ferry-conformance-{}", unique());
        tokio::time::timeout(Duration::from_secs(30), SqsQueue::local(&endpoint(), &name))
            .await
            .expect("moto_server answers within 30 s")
            .expect("create queue")
    }

    ferry_queue::queue_conformance_tests!(fresh_queue().await);

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
}
