//! The read-model queries behind the pages: the server's implementation of the UI's
//! [`OpsApi`] contract over PostgreSQL.

use crate::masking::Masker;
use async_trait::async_trait;
use sqlx::PgPool;
use switchyard_app::ops::{
    DeadLetterView, EventView, OpsApi, OpsError, OrderDetail, OrderRow, QuarantinedView,
    SagaStepView,
};
use switchyard_app::saga::{actionable, CommandView, SagaActionsView};
use switchyard_app::states::{DeadLetterStatus, OrderStatus};

#[derive(Clone)]
pub struct PgOps {
    pool: PgPool,
    masker: Masker,
}

impl PgOps {
    pub fn new(pool: PgPool) -> Self {
        PgOps {
            pool,
            masker: Masker::default(),
        }
    }

    /// What viewers may see of stored text that was not masked at rest: a quarantined
    /// record's bytes, exception text stored before masking was configured.
    pub fn with_masker(mut self, masker: Masker) -> Self {
        self.masker = masker;
        self
    }

    fn masked(&self, mut text: String) -> String {
        self.masker.mask(&mut text);
        text
    }
}

pub const ORDER_COLUMNS: &str = "order_id, customer_id, status, total_cents, currency, item_count,
    failure_reason, created_at, updated_at,
    CASE WHEN current_step IS NULL THEN NULL ELSE current_step || ' ' || COALESCE(step_status, '') END";

pub type OrderTuple = (
    String,
    Option<String>,
    String,
    Option<i64>,
    Option<String>,
    Option<i32>,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
    chrono::DateTime<chrono::Utc>,
    Option<String>,
);

pub fn order_row(t: OrderTuple) -> OrderRow {
    OrderRow {
        order_id: t.0,
        customer_id: t.1,
        status: OrderStatus::from_db(&t.2),
        total_cents: t.3,
        currency: t.4,
        item_count: t.5,
        failure_reason: t.6,
        created_at: t.7,
        updated_at: t.8,
        step: t.9,
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

    async fn order_detail(&self, order_id: &str) -> Result<Option<OrderDetail>, OpsError> {
        let row: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT order_id, current_step, step_status FROM orders WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((_, current_step, step_status)) = row else {
            return Ok(None);
        };
        let order = orders_by_id(&self.pool, &[order_id.to_string()])
            .await?
            .pop()
            .ok_or("order vanished")?;
        let steps: Vec<SagaStepView> = sqlx::query_as::<
            _,
            (
                String,
                String,
                String,
                Option<String>,
                i32,
                chrono::DateTime<chrono::Utc>,
            ),
        >(
            "SELECT step, action, status, error, attempt, at FROM saga_steps
             WHERE order_id = $1 ORDER BY at, event_id",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|(step, action, status, error, attempt, at)| SagaStepView {
            step,
            action,
            status,
            error,
            attempt,
            at,
        })
        .collect();
        type Ev = (
            i64,
            String,
            String,
            i32,
            i64,
            Option<i64>,
            chrono::DateTime<chrono::Utc>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let events: Vec<EventView> = sqlx::query_as::<_, Ev>(
            "SELECT id, event_type, topic, kafka_partition, kafka_offset, aggregate_version, occurred_at,
                    source, correlation_id, causation_id, event_id::text
             FROM events WHERE aggregate_id = $1 ORDER BY occurred_at, id LIMIT 1000",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|e| EventView {
            id: e.0,
            event_type: e.1,
            topic: e.2,
            partition: e.3,
            offset: e.4,
            version: e.5,
            occurred_at: e.6,
            source: e.7,
            correlation_id: e.8,
            causation_id: e.9,
            event_id: e.10,
        })
        .collect();
        let dead_letters = sqlx::query_as::<
            _,
            (
                i64,
                String,
                String,
                Option<String>,
                String,
                chrono::DateTime<chrono::Utc>,
            ),
        >(
            "SELECT id, original_topic, dialect, exception_message, status, failed_at
             FROM dead_letters WHERE order_id = $1 ORDER BY failed_at LIMIT 500",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(
            |(id, original_topic, dialect, exception_message, status, failed_at)| DeadLetterView {
                id,
                original_topic,
                dialect,
                exception_message: exception_message.map(|m| self.masked(m)),
                status: DeadLetterStatus::from_db(&status),
                failed_at,
            },
        )
        .collect();
        let history_aged_out_before = aged_out_before(&self.pool, &order, &events).await?;
        let commands: Vec<CommandView> = super::commands::of_order(&self.pool, order_id)
            .await?
            .into_iter()
            .map(|mut c| {
                c.reason = self.masked(c.reason);
                c.detail = c.detail.map(|d| self.masked(d));
                c
            })
            .collect();
        let waiting_on = actionable(order.status, &steps, &commands);
        let breaker_not_closed = match &waiting_on {
            Some(w) => breaker_not_closed(&self.pool, &w.step).await?,
            None => None,
        };
        let actions = SagaActionsView {
            enabled: crate::auth::settings::saga_actions_enabled(&self.pool).await?,
            waiting_on,
            commands,
            breaker_not_closed,
        };
        Ok(Some(OrderDetail {
            order,
            current_step,
            step_status,
            steps,
            events,
            dead_letters,
            history_aged_out_before,
            actions,
        }))
    }

    async fn quarantined(&self, limit: i64) -> Result<Vec<QuarantinedView>, OpsError> {
        let rows = sqlx::query_as::<
            _,
            (
                i64,
                String,
                i32,
                i64,
                String,
                i64,
                Option<Vec<u8>>,
                chrono::DateTime<chrono::Utc>,
            ),
        >(
            "SELECT id, topic, kafka_partition, kafka_offset, reason,
                    COALESCE(octet_length(raw_value), 0)::int8, substring(raw_value FROM 1 FOR 200),
                    quarantined_at
             FROM quarantine ORDER BY quarantined_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, topic, partition, offset, reason, size, head, quarantined_at)| {
                    QuarantinedView {
                        id,
                        topic,
                        partition,
                        offset,
                        reason: self.masked(reason),
                        size,
                        preview: self.masked(
                            String::from_utf8_lossy(head.as_deref().unwrap_or_default())
                                .into_owned(),
                        ),
                        quarantined_at,
                    }
                },
            )
            .collect())
    }
}

/// The breaker in front of `step`'s dependency (the contract's service map), in words,
/// when it would hold a replay now (the same rule: open, half open or forced open).
async fn breaker_not_closed(pool: &PgPool, step: &str) -> sqlx::Result<Option<String>> {
    let Some(dep) = switchyard_contract::services::dependency_of(step) else {
        return Ok(None);
    };
    let holding = crate::replay::hold::holding_among(pool, &[dep.breaker.to_string()]).await?;
    Ok(holding.map(|h| h.describe()))
}

/// When retention has dropped events (`retention::partitions`), whether this order lost
/// some: its first kept event is later than the order began (or none is kept at all).
/// Then the horizon, for the page to say so instead of showing a timeline that starts in
/// the middle as if it were whole.
async fn aged_out_before(
    pool: &PgPool,
    order: &OrderRow,
    kept: &[EventView],
) -> Result<Option<chrono::DateTime<chrono::Utc>>, OpsError> {
    let Some(horizon) = crate::retention::partitions::dropped_before(pool).await? else {
        return Ok(None);
    };
    let first_kept = kept.iter().map(|e| e.occurred_at).min();
    let began = order.created_at.unwrap_or(order.updated_at);
    Ok(match first_kept {
        None => Some(horizon),
        Some(first) if first > began => Some(horizon),
        Some(_) => None,
    })
}
