//! The order aggregate, event-sourced: its state is a fold of its events, and its event
//! store appends with optimistic concurrency on (order id, version).
//!
//! The seed's `OrderAggregate` numbered events in memory and its `EventStore` appended
//! without any version check, so two writers could both "win"; here an append names the
//! version it expects and loses cleanly with [`AppendError::Conflict`] when another writer
//! got there first. The seed also published to a topic per aggregate
//! (`aggregate.<id>.<type>`); events go to the contract's one topic per type instead.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OrderState {
    pub status: String,
    pub customer_id: Option<String>,
    pub total_cents: i64,
    pub tracking: Option<String>,
    pub failure_reason: Option<String>,
    pub version: i64,
}

/// One stored event of an order.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub version: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub data: Value,
    pub at: DateTime<Utc>,
}

/// Applies one event to the state (unknown types only advance the version).
pub fn apply(mut s: OrderState, e: &StoredEvent) -> OrderState {
    match e.event_type.as_str() {
        "order.created" => {
            s.status = "created".into();
            s.customer_id = e.data["customer_id"].as_str().map(str::to_string);
            s.total_cents = e.data["total_cents"].as_i64().unwrap_or(0);
        }
        "order.confirmed" => s.status = "confirmed".into(),
        "shipment.created" => s.tracking = e.data["tracking"].as_str().map(str::to_string),
        "order.completed" => s.status = "completed".into(),
        "order.failed" | "order.cancelled" => {
            s.status = if e.event_type == "order.failed" {
                "failed"
            } else {
                "cancelled"
            }
            .into();
            s.failure_reason = e.data["reason"].as_str().map(str::to_string);
        }
        _ => {}
    }
    s.version = e.version;
    s
}

/// The state after `events` (in version order) — after any prefix of them, for time travel.
pub fn rebuild<'a>(events: impl IntoIterator<Item = &'a StoredEvent>) -> OrderState {
    events.into_iter().fold(OrderState::default(), apply)
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("order {order_id} is at a newer version than {expected}")]
    Conflict { order_id: String, expected: i64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Appends `events` (type, data) after `expected` (the version the caller decided on);
/// returns the stored events with their versions and ids.
pub async fn append(
    pool: &PgPool,
    order_id: &str,
    expected: i64,
    events: &[(&str, Value)],
) -> Result<Vec<StoredEvent>, AppendError> {
    let mut tx = pool.begin().await?;
    let stored = append_in(&mut tx, order_id, expected, events).await?;
    tx.commit().await?;
    Ok(stored)
}

/// [`append`] inside the caller's transaction, so other writes can commit with it.
pub async fn append_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    order_id: &str,
    expected: i64,
    events: &[(&str, Value)],
) -> Result<Vec<StoredEvent>, AppendError> {
    let mut stored = Vec::with_capacity(events.len());
    for (i, (event_type, data)) in events.iter().enumerate() {
        let e = StoredEvent {
            version: expected + 1 + i as i64,
            event_id: Uuid::now_v7(),
            event_type: event_type.to_string(),
            data: data.clone(),
            at: Utc::now(),
        };
        let res = sqlx::query(
            "INSERT INTO order_events (order_id, version, event_id, event_type, data, at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(order_id)
        .bind(e.version)
        .bind(e.event_id)
        .bind(&e.event_type)
        .bind(&e.data)
        .bind(e.at)
        .execute(&mut **tx)
        .await;
        match res {
            Ok(_) => stored.push(e),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(AppendError::Conflict {
                    order_id: order_id.to_string(),
                    expected,
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(stored)
}

/// Every event of an order, in version order.
pub async fn load(pool: &PgPool, order_id: &str) -> sqlx::Result<Vec<StoredEvent>> {
    let rows: Vec<(i64, Uuid, String, Value, DateTime<Utc>)> = sqlx::query_as(
        "SELECT version, event_id, event_type, data, at FROM order_events
         WHERE order_id = $1 ORDER BY version",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(version, event_id, event_type, data, at)| StoredEvent {
            version,
            event_id,
            event_type,
            data,
            at,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(version: i64, t: &str, data: Value) -> StoredEvent {
        StoredEvent {
            version,
            event_id: Uuid::nil(),
            event_type: t.into(),
            data,
            at: Utc::now(),
        }
    }

    #[test]
    fn state_is_the_fold_of_the_events_and_prefixes_travel_in_time() {
        let events = vec![
            ev(
                1,
                "order.created",
                json!({"customer_id": "C", "total_cents": 900}),
            ),
            ev(2, "shipment.created", json!({"tracking": "TRK-1"})),
            ev(3, "order.completed", json!({})),
        ];
        let now = rebuild(&events);
        assert_eq!(
            (now.status.as_str(), now.version, now.total_cents),
            ("completed", 3, 900)
        );
        assert_eq!(now.tracking.as_deref(), Some("TRK-1"));
        let then = rebuild(&events[..1]);
        assert_eq!((then.status.as_str(), then.version), ("created", 1));
    }
}
