//! Writes one batch in one transaction: events (idempotent on source position),
//! quarantined records, projections of the events that were new, the consumer positions,
//! and a NOTIFY that PostgreSQL delivers only if the transaction commits.
//!
//! Every statement is set-based (`UNNEST` of column arrays), so a batch costs a fixed
//! handful of round trips whatever its size.

use super::decode::{EventRow, QuarantineRow};
use super::project::{order_deltas, OrderDelta};
use super::LIVE_CHANNEL;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// At most this many order ids are named in one NOTIFY (its payload is limited to 8000
/// bytes); beyond that listeners are told to reload.
const NOTIFY_MAX_IDS: usize = 100;

#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<EventRow>,
    pub quarantined: Vec<QuarantineRow>,
    /// Next offset to read, per (topic, partition), once this batch is stored.
    pub positions: BTreeMap<(String, i32), i64>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.events.len() + self.quarantined.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub stored: usize,
    pub duplicates: usize,
    pub quarantined: usize,
    pub orders_changed: Vec<String>,
}

pub async fn write_batch(pool: &PgPool, group: &str, batch: &Batch) -> sqlx::Result<Outcome> {
    let mut tx = pool.begin().await?;
    let inserted = insert_events(&mut tx, &batch.events).await?;
    let fresh: Vec<&EventRow> = batch
        .events
        .iter()
        .filter(|e| {
            inserted
                .get(e.topic.as_str())
                .is_some_and(|s| s.contains(&(e.partition, e.offset)))
        })
        .collect();
    let quarantined = insert_quarantine(&mut tx, &batch.quarantined).await?;
    let deltas = order_deltas(fresh.iter().copied());
    upsert_orders(&mut tx, &deltas).await?;
    save_positions(&mut tx, group, &batch.positions).await?;
    let orders_changed: Vec<String> = deltas.into_iter().map(|d| d.order_id).collect();
    if !fresh.is_empty() || quarantined > 0 {
        notify(&mut tx, &orders_changed, fresh.len(), quarantined).await?;
    }
    tx.commit().await?;
    Ok(Outcome {
        stored: fresh.len(),
        duplicates: batch.events.len() - fresh.len(),
        quarantined,
        orders_changed,
    })
}

/// Inserts the events that are not stored yet; returns the positions actually inserted,
/// by topic.
async fn insert_events(
    tx: &mut Transaction<'_, Postgres>,
    events: &[EventRow],
) -> sqlx::Result<HashMap<String, HashSet<(i32, i64)>>> {
    if events.is_empty() {
        return Ok(HashMap::new());
    }
    let col = |f: fn(&EventRow) -> Option<String>| events.iter().map(f).collect::<Vec<_>>();
    let rows: Vec<(String, i32, i64)> = sqlx::query_as(
        "INSERT INTO events (topic, kafka_partition, kafka_offset, kafka_key, event_id, event_type,
            aggregate_id, aggregate_version, occurred_at, source, correlation_id, causation_id,
            headers, payload)
         SELECT * FROM UNNEST($1::text[], $2::int4[], $3::int8[], $4::bytea[], $5::uuid[],
            $6::text[], $7::text[], $8::int8[], $9::timestamptz[], $10::text[], $11::text[],
            $12::text[], $13::jsonb[], $14::jsonb[])
         ON CONFLICT ON CONSTRAINT events_source_position DO NOTHING
         RETURNING topic, kafka_partition, kafka_offset",
    )
    .bind(events.iter().map(|e| e.topic.clone()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.partition).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.offset).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.key.clone()).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|e| e.event_id)
            .collect::<Vec<Option<Uuid>>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.event_type.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.aggregate_id.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.aggregate_version)
            .collect::<Vec<_>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.occurred_at)
            .collect::<Vec<DateTime<Utc>>>(),
    )
    .bind(col(|e| e.source.clone()))
    .bind(col(|e| e.correlation_id.clone()))
    .bind(col(|e| e.causation_id.clone()))
    .bind(
        events
            .iter()
            .map(|e| e.headers.clone())
            .collect::<Vec<Value>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.data.clone())
            .collect::<Vec<Value>>(),
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut inserted: HashMap<String, HashSet<(i32, i64)>> = HashMap::new();
    for (topic, p, o) in rows {
        inserted.entry(topic).or_default().insert((p, o));
    }
    Ok(inserted)
}

async fn insert_quarantine(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[QuarantineRow],
) -> sqlx::Result<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "INSERT INTO quarantine (topic, kafka_partition, kafka_offset, kafka_key, raw_value, headers, reason)
         SELECT * FROM UNNEST($1::text[], $2::int4[], $3::int8[], $4::bytea[], $5::bytea[], $6::jsonb[], $7::text[])
         ON CONFLICT ON CONSTRAINT quarantine_source_position DO NOTHING",
    )
    .bind(rows.iter().map(|r| r.topic.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.partition).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.offset).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.key.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.value.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.headers.clone()).collect::<Vec<Value>>())
    .bind(rows.iter().map(|r| r.reason.clone()).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() as usize)
}

async fn upsert_orders(tx: &mut Transaction<'_, Postgres>, d: &[OrderDelta]) -> sqlx::Result<()> {
    if d.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO orders AS o (order_id, customer_id, status, status_rank, status_at, total_cents,
            currency, item_count, failure_reason, created_at, updated_at, event_count)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int2[], $5::timestamptz[],
            $6::int8[], $7::text[], $8::int4[], $9::text[], $10::timestamptz[], $11::timestamptz[],
            $12::int4[])
         ON CONFLICT (order_id) DO UPDATE SET
            customer_id = COALESCE(EXCLUDED.customer_id, o.customer_id),
            total_cents = COALESCE(EXCLUDED.total_cents, o.total_cents),
            currency = COALESCE(EXCLUDED.currency, o.currency),
            item_count = COALESCE(EXCLUDED.item_count, o.item_count),
            created_at = COALESCE(EXCLUDED.created_at, o.created_at),
            failure_reason = COALESCE(EXCLUDED.failure_reason, o.failure_reason),
            status = CASE WHEN (EXCLUDED.status_at, EXCLUDED.status_rank) > (o.status_at, o.status_rank)
                          THEN EXCLUDED.status ELSE o.status END,
            status_rank = CASE WHEN (EXCLUDED.status_at, EXCLUDED.status_rank) > (o.status_at, o.status_rank)
                          THEN EXCLUDED.status_rank ELSE o.status_rank END,
            status_at = GREATEST(EXCLUDED.status_at, o.status_at),
            updated_at = GREATEST(EXCLUDED.updated_at, o.updated_at),
            event_count = o.event_count + EXCLUDED.event_count",
    )
    .bind(d.iter().map(|x| x.order_id.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.customer_id.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.status.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.status_rank).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.status_at).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.total_cents).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.currency.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.item_count).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.failure_reason.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.created_at).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.updated_at).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.event_count).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn save_positions(
    tx: &mut Transaction<'_, Postgres>,
    group: &str,
    positions: &BTreeMap<(String, i32), i64>,
) -> sqlx::Result<()> {
    if positions.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO consumer_positions AS p (group_id, topic, kafka_partition, next_offset)
         SELECT $1, * FROM UNNEST($2::text[], $3::int4[], $4::int8[])
         ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE
            SET next_offset = GREATEST(p.next_offset, EXCLUDED.next_offset), updated_at = now()",
    )
    .bind(group)
    .bind(positions.keys().map(|(t, _)| t.clone()).collect::<Vec<_>>())
    .bind(positions.keys().map(|(_, p)| *p).collect::<Vec<_>>())
    .bind(positions.values().copied().collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The NOTIFY payload: which orders changed, or `more: true` when too many to name.
pub fn notify_payload(orders: &[String], events: usize, quarantined: usize) -> Value {
    serde_json::json!({
        "orders": orders.iter().take(NOTIFY_MAX_IDS).collect::<Vec<_>>(),
        "more": orders.len() > NOTIFY_MAX_IDS,
        "events": events,
        "quarantined": quarantined,
    })
}

async fn notify(
    tx: &mut Transaction<'_, Postgres>,
    orders: &[String],
    events: usize,
    quarantined: usize,
) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(LIVE_CHANNEL)
        .bind(notify_payload(orders, events, quarantined).to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Reads stored positions for a group: (topic, partition) → next offset.
pub async fn load_positions(
    pool: &PgPool,
    group: &str,
) -> sqlx::Result<BTreeMap<(String, i32), i64>> {
    let rows: Vec<(String, i32, i64)> = sqlx::query_as(
        "SELECT topic, kafka_partition, next_offset FROM consumer_positions WHERE group_id = $1",
    )
    .bind(group)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(t, p, o)| ((t, p), o)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_payload_stays_small() {
        let ids: Vec<String> = (0..1000).map(|i| format!("ORD-{i:06}")).collect();
        let p = notify_payload(&ids, 1000, 3).to_string();
        assert!(p.len() < 8000, "{} bytes", p.len());
        assert!(p.contains("\"more\":true"));
    }
}
