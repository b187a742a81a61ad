//! [`DeliveryStore`] in SQLite. Two tables beside `events` (which stays as
//! it was, so older databases keep opening): `pending_events`, one row per
//! event not fanned out yet (inserted by `commit` in the event's
//! transaction), and `deliveries`, one row per event and endpoint. The
//! three queues are read through indexes: `pending_events_by_age` and the
//! partial indexes `deliveries_by_wake_at` (unfinished deliveries) and
//! `deliveries_parked` (parked ones).

use ferry_domain::{DeliveryState, EventId, SessionEvent, Timestamp, WebhookDelivery, WebhookId};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{SqliteStore, db, int, is_unique_violation};
use crate::{DeliveryStore, StoreError, StoreResult, decode, encode};

/// `wake_at` is [`WebhookDelivery::wake_at`] (`NULL` once finished);
/// `parked_at` is the delivery's creation time while it is parked (`NULL`
/// otherwise): what the parked queue is ordered by.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pending_events (
    event_id   TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_events_by_age ON pending_events (created_at, event_id);
CREATE TABLE IF NOT EXISTS deliveries (
    event_id    TEXT NOT NULL,
    webhook_id  TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    wake_at     INTEGER NULL,
    parked_at   INTEGER NULL,
    created_at  INTEGER NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (event_id, webhook_id)
);
CREATE INDEX IF NOT EXISTS deliveries_by_wake_at ON deliveries (wake_at, event_id, webhook_id)
    WHERE wake_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_parked ON deliveries (parked_at, event_id, webhook_id)
    WHERE parked_at IS NOT NULL;
";

/// Events not fanned out yet, oldest first, through `pending_events_by_age`.
const PENDING_EVENTS: &str = "SELECT events.doc FROM pending_events INDEXED BY pending_events_by_age
    JOIN events ON events.id = pending_events.event_id
    ORDER BY pending_events.created_at, pending_events.event_id LIMIT ?1";

/// Due deliveries, through the partial index `deliveries_by_wake_at` (its
/// `WHERE` repeated, so that SQLite may use it).
const DUE_DELIVERIES: &str = "SELECT doc FROM deliveries INDEXED BY deliveries_by_wake_at
    WHERE wake_at IS NOT NULL AND wake_at <= ?1
    ORDER BY wake_at, event_id, webhook_id LIMIT ?2";

/// Parked deliveries, through the partial index `deliveries_parked`.
const PARKED_DELIVERIES: &str = "SELECT doc FROM deliveries INDEXED BY deliveries_parked
    WHERE parked_at IS NOT NULL
    ORDER BY parked_at, event_id, webhook_id LIMIT ?1";

/// The columns of a delivery's row besides its key: `(version, wake_at,
/// parked_at, doc)`.
fn columns(delivery: &WebhookDelivery) -> StoreResult<(i64, Option<i64>, Option<i64>, String)> {
    let wake_at = delivery.wake_at().map(|at| int(at.unix_seconds()));
    let parked_at = (delivery.state == DeliveryState::Parked).then(|| int(delivery.created_at.unix_seconds()));
    Ok((int(delivery.version), wake_at, parked_at, encode("delivery", delivery)?))
}

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl SqliteStore {
    /// The documents `query` lists for `values`.
    async fn docs(&self, query: &'static str, values: Vec<i64>) -> StoreResult<Vec<String>> {
        self.with(move |conn| {
            let mut statement = conn.prepare_cached(query).map_err(db)?;
            let rows = statement.query_map(rusqlite::params_from_iter(values), |row| row.get(0)).map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }
}

impl DeliveryStore for SqliteStore {
    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<SessionEvent>> {
        let docs = self.docs(PENDING_EVENTS, vec![limit_of(limit)]).await?;
        docs.iter().map(|doc| decode("event", doc)).collect()
    }

    /// One immediate transaction: the event's `pending_events` row deleted
    /// (none: [`StoreError::Conflict`]) and every delivery inserted (a
    /// duplicate: [`StoreError::Conflict`], all rolled back).
    async fn fan_out(&self, event_id: &EventId, deliveries: &[WebhookDelivery]) -> StoreResult<()> {
        if deliveries.iter().any(|d| d.event_id != *event_id) {
            return Err(StoreError::Conflict("delivery belongs to another event"));
        }
        let rows = deliveries
            .iter()
            .map(|d| {
                let (version, wake_at, parked_at, doc) = columns(d)?;
                let keys = (d.webhook_id.to_string(), d.merchant_id.to_string(), int(d.created_at.unix_seconds()));
                Ok((keys, version, wake_at, parked_at, doc))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let event_id = event_id.to_string();
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
            let taken = tx.execute("DELETE FROM pending_events WHERE event_id = ?1", [&event_id]).map_err(db)?;
            if taken != 1 {
                return Err(StoreError::Conflict("event is not pending"));
            }
            for ((webhook_id, merchant_id, created_at), version, wake_at, parked_at, doc) in &rows {
                match tx.execute(
                    "INSERT INTO deliveries (event_id, webhook_id, merchant_id, version, wake_at, parked_at, created_at, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![event_id, webhook_id, merchant_id, version, wake_at, parked_at, created_at, doc],
                ) {
                    // Dropping `tx` rolls back: the event stays pending.
                    Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict("delivery already exists")),
                    other => other.map_err(db)?,
                };
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn get_delivery(&self, event_id: &EventId, webhook_id: &WebhookId) -> StoreResult<Option<WebhookDelivery>> {
        let (event_id, webhook_id) = (event_id.to_string(), webhook_id.to_string());
        let doc: Option<String> = self
            .with(move |conn| {
                conn.query_row(
                    "SELECT doc FROM deliveries WHERE event_id = ?1 AND webhook_id = ?2",
                    params![event_id, webhook_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db)
            })
            .await?;
        doc.map(|doc| decode("delivery", &doc)).transpose()
    }

    /// Ordered by the primary key: endpoint ids are fixed-length lowercase
    /// hex, so their text order is the domain's.
    async fn list_deliveries(&self, event_id: &EventId) -> StoreResult<Vec<WebhookDelivery>> {
        let event_id = event_id.to_string();
        let docs: Vec<String> = self
            .with(move |conn| {
                let mut statement = conn
                    .prepare_cached("SELECT doc FROM deliveries WHERE event_id = ?1 ORDER BY webhook_id")
                    .map_err(db)?;
                let rows = statement.query_map([event_id], |row| row.get(0)).map_err(db)?;
                rows.collect::<Result<Vec<String>, _>>().map_err(db)
            })
            .await?;
        docs.iter().map(|doc| decode("delivery", doc)).collect()
    }

    async fn update_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<()> {
        let previous = delivery.version.checked_sub(1).ok_or(StoreError::Conflict("delivery version changed"))?;
        let (version, wake_at, parked_at, doc) = columns(delivery)?;
        let (event_id, webhook_id, previous) =
            (delivery.event_id.to_string(), delivery.webhook_id.to_string(), int(previous));
        let updated = self
            .with(move |conn| {
                conn.execute(
                    "UPDATE deliveries SET version = ?1, wake_at = ?2, parked_at = ?3, doc = ?4
                     WHERE event_id = ?5 AND webhook_id = ?6 AND version = ?7",
                    params![version, wake_at, parked_at, doc, event_id, webhook_id, previous],
                )
                .map_err(db)
            })
            .await?;
        if updated != 1 {
            return Err(StoreError::Conflict("delivery version changed"));
        }
        Ok(())
    }

    async fn due_deliveries(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<WebhookDelivery>> {
        let docs = self.docs(DUE_DELIVERIES, vec![int(now.unix_seconds()), limit_of(limit)]).await?;
        docs.iter().map(|doc| decode("delivery", doc)).collect()
    }

    async fn parked_deliveries(&self, limit: usize) -> StoreResult<Vec<WebhookDelivery>> {
        let docs = self.docs(PARKED_DELIVERIES, vec![limit_of(limit)]).await?;
        docs.iter().map(|doc| decode("delivery", doc)).collect()
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    /// The query plan of `query` on the full schema.
    fn plan(query: &str, values: &[i64]) -> String {
        let connection = Connection::open_in_memory().expect("open");
        connection.execute_batch(super::super::SCHEMA).expect("schema");
        connection.execute_batch(SCHEMA).expect("deliveries schema");
        let mut statement = connection.prepare(&format!("EXPLAIN QUERY PLAN {query}")).expect("explain");
        let plan: Vec<String> = statement
            .query_map(rusqlite::params_from_iter(values), |row| row.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("rows");
        plan.join("\n")
    }

    #[test]
    fn the_queues_are_read_through_their_indexes() {
        let pending = plan(PENDING_EVENTS, &[100]);
        assert!(pending.contains("USING COVERING INDEX pending_events_by_age"), "{pending}");
        assert!(pending.contains("USING INDEX sqlite_autoindex_events_1"), "{pending}");
        let due = plan(DUE_DELIVERIES, &[0, 100]);
        assert!(due.contains("USING INDEX deliveries_by_wake_at"), "{due}");
        let parked = plan(PARKED_DELIVERIES, &[100]);
        assert!(parked.contains("USING INDEX deliveries_parked"), "{parked}");
        for plan in [pending, due, parked] {
            assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
        }
    }
}
