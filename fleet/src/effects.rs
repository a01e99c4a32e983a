//! What each step service did, per order: a reservation, a charge, a shipment (tables
//! `inventory_reservations`, `payments`, `shipments` in the fleet schema).
//!
//! The row is the service's memory and its idempotency key: the order id is the primary
//! key, so a redelivered, re-sent or replayed request finds the row and announces what was
//! recorded instead of acting again; an undo moves the row from its done state to its
//! undone state once (`UPDATE … WHERE status = done`), so nothing is refunded twice either.

use sqlx::PgPool;

/// One service's effect table and its states.
pub struct Effect {
    pub table: &'static str,
    pub done: &'static str,
    pub undone: &'static str,
}

/// In [`super::saga::ORDER_STEPS`] order.
pub const EFFECTS: [Effect; 3] = [
    Effect {
        table: "inventory_reservations",
        done: "reserved",
        undone: "released",
    },
    Effect {
        table: "payments",
        done: "charged",
        undone: "refunded",
    },
    Effect {
        table: "shipments",
        done: "created",
        undone: "cancelled",
    },
];

/// What the row says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    Done,
    Failed(String),
    Undone,
}

impl Effect {
    pub async fn get(&self, pool: &PgPool, order_id: &str) -> sqlx::Result<Option<Recorded>> {
        let row: Option<(String, Option<String>)> = sqlx::query_as(&format!(
            "SELECT status, reason FROM {} WHERE order_id = $1",
            self.table
        ))
        .bind(order_id)
        .fetch_optional(pool)
        .await?;
        Ok(row.map(|(status, reason)| {
            if status == self.done {
                Recorded::Done
            } else if status == self.undone {
                Recorded::Undone
            } else {
                Recorded::Failed(reason.unwrap_or_default())
            }
        }))
    }

    /// Records the result of the call; if another process recorded one first, theirs
    /// stands. Returns what the row says.
    pub async fn record(
        &self,
        pool: &PgPool,
        order_id: &str,
        saga_id: &str,
        result: &Result<(), String>,
    ) -> sqlx::Result<Recorded> {
        let (status, reason) = match result {
            Ok(()) => (self.done, None),
            Err(e) => ("failed", Some(e.as_str())),
        };
        sqlx::query(&format!(
            "INSERT INTO {} (order_id, saga_id, status, reason) VALUES ($1, $2, $3, $4)
             ON CONFLICT (order_id) DO NOTHING",
            self.table
        ))
        .bind(order_id)
        .bind(saga_id)
        .bind(status)
        .bind(reason)
        .execute(pool)
        .await?;
        Ok(self
            .get(pool, order_id)
            .await?
            .expect("the row was just written"))
    }

    /// Marks the effect undone (once).
    pub async fn undo(&self, pool: &PgPool, order_id: &str) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "UPDATE {} SET status = $2, updated_at = now() WHERE order_id = $1 AND status = $3",
            self.table
        ))
        .bind(order_id)
        .bind(self.undone)
        .bind(self.done)
        .execute(pool)
        .await?;
        Ok(())
    }
}
