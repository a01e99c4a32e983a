//! The read-model queries behind the pages: the server's implementation of the UI's
//! [`OpsApi`] contract over PostgreSQL.

use async_trait::async_trait;
use sqlx::PgPool;
use switchyard_app::api::{OpsApi, OpsError, OrderRow};

#[derive(Clone)]
pub struct PgOps {
    pool: PgPool,
}

impl PgOps {
    pub fn new(pool: PgPool) -> Self {
        PgOps { pool }
    }
}

const ORDER_COLUMNS: &str = "order_id, customer_id, status, total_cents, currency, item_count,
    failure_reason, created_at, updated_at";

type OrderTuple = (
    String,
    Option<String>,
    String,
    Option<i64>,
    Option<String>,
    Option<i32>,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
    chrono::DateTime<chrono::Utc>,
);

fn order_row(t: OrderTuple) -> OrderRow {
    OrderRow {
        order_id: t.0,
        customer_id: t.1,
        status: t.2,
        total_cents: t.3,
        currency: t.4,
        item_count: t.5,
        failure_reason: t.6,
        created_at: t.7,
        updated_at: t.8,
    }
}

/// Orders by id, in no particular order (ids that do not exist are skipped).
pub async fn orders_by_id(pool: &PgPool, ids: &[String]) -> sqlx::Result<Vec<OrderRow>> {
    let rows: Vec<OrderTuple> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(order_row).collect())
}

#[async_trait]
impl OpsApi for PgOps {
    async fn recent_orders(&self, limit: i64) -> Result<Vec<OrderRow>, OpsError> {
        let rows: Vec<OrderTuple> = sqlx::query_as(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders ORDER BY updated_at DESC, order_id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(order_row).collect())
    }
}
