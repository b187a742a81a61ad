//! A durable queue in an SQLite file, with SQS's semantics: a received
//! message stays invisible for its visibility timeout and reappears (its
//! receive count one higher) unless acked; delayed messages appear after
//! their delay; receives long-poll. Oldest first.
//!
//! It backs `ferry serve`, in the same file as the embedded store, so that
//! a message survives what the store survives: a process killed at any
//! instruction finds its queued deposits and deliveries again when it
//! starts, instead of losing them with an in-process queue while the
//! watcher's cursor has already moved past their blocks. Every change is
//! one SQLite transaction (WAL journal, `synchronous = FULL`).
//!
//! Several named queues share one table. Times are wall-clock milliseconds
//! (they must mean the same after a restart), so this queue cannot run under
//! `tokio::time::pause()`. A receive long-polls: a send from this process
//! wakes it at once, one from another process (an operator command on the
//! same file) within [`POLL_INTERVAL`].

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{Queue, QueueError, QueueResult, Receipt, Received, check_delay, check_receive, long_poll};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queue_messages (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT NOT NULL,
    body          TEXT NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_messages_by_visibility ON queue_messages (queue, visible_at, seq);
";

/// How often a waiting receive looks for messages sent by another process.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

struct Inner {
    connection: Mutex<Connection>,
    /// Wakes this process's long-polling receives when it sends.
    sent: Notify,
}

/// One named queue in an SQLite file. Clones share the connection.
#[derive(Clone)]
pub struct SqliteQueue {
    name: Arc<str>,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue").field("name", &self.name).finish()
    }
}

fn backend(error: rusqlite::Error) -> QueueError {
    QueueError::backend(error)
}

fn now_millis() -> i64 {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis()).unwrap_or(0);
    i64::try_from(millis).unwrap_or(i64::MAX)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl SqliteQueue {
    /// Opens the queue `name` in the database file at `path` (created if
    /// needed; the embedded store's file may hold it beside its tables).
    pub fn open(path: &Path, name: &str) -> QueueResult<Self> {
        Self::init(Connection::open(path).map_err(backend)?, name)
    }

    /// A queue in a private in-memory database, for tests.
    pub fn in_memory(name: &str) -> QueueResult<Self> {
        Self::init(Connection::open_in_memory().map_err(backend)?, name)
    }

    fn init(connection: Connection, name: &str) -> QueueResult<Self> {
        connection.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;").map_err(backend)?;
        connection.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
        connection.execute_batch(SCHEMA).map_err(backend)?;
        Ok(Self {
            name: name.into(),
            inner: Arc::new(Inner { connection: Mutex::new(connection), sent: Notify::new() }),
        })
    }

    /// Another named queue in the same file, on the same connection.
    pub fn sibling(&self, name: &str) -> Self {
        Self { name: name.into(), inner: Arc::clone(&self.inner) }
    }

    fn with_connection<T>(&self, work: impl FnOnce(&mut Connection) -> T) -> T {
        // Every operation is one transaction: a poisoned lock still guards a
        // consistent connection.
        let mut guard = self.inner.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&mut guard)
    }

    /// Runs `work` on the blocking pool (SQLite calls block, up to the busy
    /// timeout when another process holds the file).
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&str, &mut Connection) -> QueueResult<T> + Send + 'static,
    ) -> QueueResult<T> {
        let queue = self.clone();
        tokio::task::spawn_blocking(move || queue.with_connection(|connection| work(&queue.name, connection)))
            .await
            .map_err(QueueError::backend)?
    }

    /// Messages not yet acked: visible, delayed or in flight.
    pub async fn len(&self) -> QueueResult<usize> {
        self.blocking(|name, connection| {
            let count: i64 = connection
                .query_row("SELECT COUNT(*) FROM queue_messages WHERE queue = ?1", params![name], |row| row.get(0))
                .map_err(backend)?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
        .await
    }

    /// Takes up to `max` messages visible now, oldest first, and hides them
    /// for `visibility`; or, when none is visible, when the next one will be.
    async fn take_visible(&self, max: usize, visibility: Duration) -> QueueResult<Result<Vec<Received>, Option<i64>>> {
        self.blocking(move |name, connection| {
            let now = now_millis();
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let visible: Vec<(i64, String, u32)> = {
                let mut statement = transaction
                    .prepare_cached(
                        "SELECT seq, body, receive_count FROM queue_messages
                         WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, seq LIMIT ?3",
                    )
                    .map_err(backend)?;
                let rows = statement
                    .query_map(params![name, now, i64::try_from(max).unwrap_or(10)], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                    .map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            if visible.is_empty() {
                let next: Option<i64> = transaction
                    .query_row("SELECT MIN(visible_at) FROM queue_messages WHERE queue = ?1", params![name], |row| {
                        row.get(0)
                    })
                    .map_err(backend)?;
                return Ok(Err(next));
            }
            let hidden_until = now.saturating_add(millis(visibility));
            let mut batch = Vec::with_capacity(visible.len());
            for (seq, body, receive_count) in visible {
                let receive_count = receive_count.saturating_add(1);
                transaction
                    .execute(
                        "UPDATE queue_messages SET visible_at = ?2, receive_count = ?3 WHERE seq = ?1",
                        params![seq, hidden_until, receive_count],
                    )
                    .map_err(backend)?;
                batch.push(Received { body, receipt: receipt(name, seq, receive_count), receive_count });
            }
            transaction.commit().map_err(backend)?;
            Ok(Ok(batch))
        })
        .await
    }
}

/// A receipt names the message, which receive of it issued the receipt and
/// the queue: `sqlite:<seq>:<receive count>:<queue>`.
fn receipt(queue: &str, seq: i64, receive_count: u32) -> Receipt {
    Receipt::new(format!("sqlite:{seq}:{receive_count}:{queue}"))
}

fn parse_receipt(receipt: &Receipt) -> Option<(i64, u32, &str)> {
    let mut parts = receipt.as_str().strip_prefix("sqlite:")?.splitn(3, ':');
    let seq = parts.next()?.parse().ok()?;
    let receive_count = parts.next()?.parse().ok()?;
    Some((seq, receive_count, parts.next()?))
}

impl Queue for SqliteQueue {
    async fn send(&self, body: &str, delay: Option<Duration>) -> QueueResult<()> {
        check_delay(delay)?;
        let body = body.to_owned();
        let delay = millis(delay.unwrap_or_default());
        self.blocking(move |name, connection| {
            connection
                .execute(
                    "INSERT INTO queue_messages (queue, body, visible_at) VALUES (?1, ?2, ?3)",
                    params![name, body, now_millis().saturating_add(delay)],
                )
                .map_err(backend)?;
            Ok(())
        })
        .await?;
        self.inner.sent.notify_waiters();
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration, visibility: Duration) -> QueueResult<Vec<Received>> {
        check_receive(max, wait, visibility)?;
        long_poll(&self.inner.sent, wait, || async move {
            Ok(self.take_visible(max, visibility).await?.map_err(|next_visible| {
                // Another process may send to the same file: look again
                // at least every POLL_INTERVAL.
                let until_visible =
                    next_visible.map(|at| Duration::from_millis(u64::try_from(at - now_millis()).unwrap_or(0)));
                Some(Instant::now() + until_visible.map_or(POLL_INTERVAL, |until| until.min(POLL_INTERVAL)))
            }))
        })
        .await
    }

    async fn ack(&self, receipt: &Receipt) -> QueueResult<()> {
        let (seq, receive_count, queue) = parse_receipt(receipt).ok_or(QueueError::InvalidReceipt)?;
        if queue != &*self.name {
            return Err(QueueError::InvalidReceipt);
        }
        // Only the latest receive's receipt deletes; an older one (or one of a
        // message already deleted) is accepted and does nothing.
        self.blocking(move |name, connection| {
            connection
                .execute(
                    "DELETE FROM queue_messages WHERE seq = ?1 AND queue = ?2 AND receive_count = ?3",
                    params![seq, name, receive_count],
                )
                .map_err(backend)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::SqliteQueue;
    use crate::{Queue, QueueError, Receipt};

    fn temp_file(name: &str) -> std::path::PathBuf {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        std::env::temp_dir().join(format!("ferry-queue-{name}-{}-{nanos}.db", std::process::id()))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_survive_reopening_the_file_and_in_flight_ones_come_back() {
        let path = temp_file("durable");
        let before = SqliteQueue::open(&path, "deposits").expect("open");
        before.send("one", None).await.expect("send");
        before.send("two", None).await.expect("send");
        let in_flight = before.receive(1, Duration::ZERO, Duration::from_secs(1)).await.expect("receive");
        assert_eq!(in_flight.len(), 1);
        drop(before);

        // As after `kill -9`: the file is all that is left.
        let after = SqliteQueue::open(&path, "deposits").expect("reopen");
        assert_eq!(after.len().await.expect("len"), 2, "nothing was lost");
        let mut bodies = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while bodies.len() < 2 {
            assert!(tokio::time::Instant::now() < deadline, "only {bodies:?} came back");
            for message in after.receive(10, Duration::from_secs(2), Duration::from_secs(30)).await.expect("receive") {
                if message.body == "one" {
                    assert_eq!(message.receive_count, 2, "the unacked receive counted");
                }
                bodies.push(message.body.clone());
                after.ack(&message.receipt).await.expect("ack");
            }
        }
        bodies.sort();
        assert_eq!(bodies, ["one", "two"]);
        assert_eq!(after.len().await.expect("len"), 0);
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn named_queues_in_one_file_are_separate() {
        let path = temp_file("named");
        let deposits = SqliteQueue::open(&path, "deposits").expect("open");
        let dead = deposits.sibling("deposits-dead");
        dead.send("dead", None).await.expect("send");
        let from_deposits = deposits.receive(10, Duration::ZERO, Duration::from_secs(5)).await.expect("receive");
        assert!(from_deposits.is_empty(), "{from_deposits:?}");
        let from_dead = dead.receive(10, Duration::ZERO, Duration::from_secs(5)).await.expect("receive");
        assert_eq!(from_dead.len(), 1);
        let wrong_queue = deposits.ack(&from_dead[0].receipt).await;
        assert!(matches!(wrong_queue, Err(QueueError::InvalidReceipt)), "{wrong_queue:?}");
        dead.ack(&from_dead[0].receipt).await.expect("ack");
        assert!(matches!(dead.ack(&Receipt::new("mem:1:2:3")).await, Err(QueueError::InvalidReceipt)));
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_send_from_another_connection_wakes_a_waiting_receive() {
        let path = temp_file("wake");
        let consumer = SqliteQueue::open(&path, "q").expect("open");
        let producer = SqliteQueue::open(&path, "q").expect("open a second connection, as another process would");
        let waiting =
            tokio::spawn(async move { consumer.receive(1, Duration::from_secs(5), Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent_at = tokio::time::Instant::now();
        producer.send("hello", None).await.expect("send");
        let received = waiting.await.expect("join").expect("receive");
        assert_eq!(received.len(), 1);
        assert!(sent_at.elapsed() < Duration::from_secs(2), "woke after {:?}", sent_at.elapsed());
        let _ = std::fs::remove_file(&path);
    }
}
