//! Rebuilds the projections from the event store and compares them with the stored ones.
//!
//! Projections are merged batch by batch; this folds every stored event in one pass with
//! the same pure functions. Equality is the check that no batch was lost, doubled or
//! applied out of order — used by the fault tests and by `switchyard verify`.

use super::project::{breaker_deltas, order_deltas, saga_step};
use super::record::EventRow;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;
use sqlx::PgPool;
use std::collections::BTreeMap;
use switchyard_contract::SAGA_STEP;
use uuid::Uuid;

type EventTuple = (
    String,
    i32,
    i64,
    Option<Vec<u8>>,
    Option<Uuid>,
    String,
    String,
    Option<i64>,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    Option<String>,
    Value,
    Value,
);

const EVENT_COLUMNS: &str = "topic, kafka_partition, kafka_offset, kafka_key, event_id, event_type,
    aggregate_id, aggregate_version, occurred_at, source, correlation_id, causation_id, headers, payload";

fn event_row(r: EventTuple) -> EventRow {
    EventRow {
        topic: r.0,
        partition: r.1,
        offset: r.2,
        key: r.3,
        event_id: r.4,
        event_type: r.5,
        aggregate_id: r.6,
        aggregate_version: r.7,
        occurred_at: r.8,
        source: r.9,
        correlation_id: r.10,
        causation_id: r.11,
        headers: r.12,
        data: r.13,
        payload: None,
    }
}

async fn load_events(pool: &PgPool) -> sqlx::Result<Vec<EventRow>> {
    let rows: Vec<EventTuple> =
        sqlx::query_as(&format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY id"))
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(event_row).collect())
}

/// One order's stored events in event-time order (as the order page lists them), for
/// folding its state as of any version with the projection's own functions.
pub async fn order_events(pool: &PgPool, order_id: &str) -> sqlx::Result<Vec<EventRow>> {
    let rows: Vec<EventTuple> = sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE aggregate_id = $1 ORDER BY occurred_at, id LIMIT 1000"
    ))
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(event_row).collect())
}

type OrderCheck = (
    String,
    Option<i64>,
    Option<String>,
    i32,
    Option<String>,
    Option<String>,
);

/// Differences between the stored projections and a rebuild; empty when they agree.
pub async fn verify(pool: &PgPool) -> sqlx::Result<Vec<String>> {
    let events = load_events(pool).await?;
    let mut problems = Vec::new();

    let stored: BTreeMap<String, OrderCheck> = sqlx::query_as::<_, (String, String, Option<i64>, Option<String>, i32, Option<String>, Option<String>)>(
        "SELECT order_id, status, total_cents, customer_id, event_count, current_step, failure_reason FROM orders",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(id, a, b, c, d, e, f)| (id, (a, b, c, d, e, f)))
    .collect();
    let rebuilt: BTreeMap<String, OrderCheck> = order_deltas(&events)
        .into_iter()
        .map(|d| {
            let check = (
                d.status,
                d.total_cents,
                d.customer_id,
                d.event_count,
                d.current_step,
                d.failure_reason,
            );
            (d.order_id, check)
        })
        .collect();
    if stored.len() != rebuilt.len() {
        problems.push(format!(
            "orders: {} stored, {} rebuilt",
            stored.len(),
            rebuilt.len()
        ));
    }
    for (id, want) in &rebuilt {
        match stored.get(id) {
            Some(got) if got == want => {}
            got => problems.push(format!("order {id}: stored {got:?}, rebuilt {want:?}")),
        }
    }

    let steps: i64 = sqlx::query_scalar("SELECT count(*) FROM saga_steps")
        .fetch_one(pool)
        .await?;
    let want_steps = events
        .iter()
        .filter(|e| e.event_type == SAGA_STEP && saga_step(e).is_some())
        .count() as i64;
    if steps != want_steps {
        problems.push(format!("saga_steps: {steps} stored, {want_steps} rebuilt"));
    }

    let breakers: BTreeMap<(String, String), (String, Option<i64>)> =
        sqlx::query_as::<_, (String, String, String, Option<i64>)>(
            "SELECT service, breaker, state, calls FROM breakers",
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|(s, b, st, c)| ((s, b), (st, c)))
        .collect();
    for d in breaker_deltas(&events) {
        let want = (d.state, d.calls);
        match breakers.get(&(d.service.clone(), d.breaker.clone())) {
            Some(got) if *got == want => {}
            got => problems.push(format!(
                "breaker {}/{}: stored {got:?}, rebuilt {want:?}",
                d.service, d.breaker
            )),
        }
    }

    let rollups: BTreeMap<(DateTime<Utc>, String), i64> = sqlx::query_as::<_, (DateTime<Utc>, String, i64)>(
        "SELECT minute, kind, count FROM minute_rollups WHERE kind NOT LIKE 'dlq:%' AND kind <> 'quarantine'",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(m, k, c)| ((m, k), c))
    .collect();
    let mut want_rollups: BTreeMap<(DateTime<Utc>, String), i64> = BTreeMap::new();
    for e in &events {
        let minute = e
            .occurred_at
            .duration_trunc(TimeDelta::minutes(1))
            .unwrap_or(e.occurred_at);
        *want_rollups
            .entry((minute, e.event_type.clone()))
            .or_default() += 1;
    }
    if rollups != want_rollups {
        problems.push(format!(
            "minute_rollups: {} stored buckets ({} events), {} rebuilt ({} events)",
            rollups.len(),
            rollups.values().sum::<i64>(),
            want_rollups.len(),
            want_rollups.values().sum::<i64>()
        ));
    }
    let dlq_rollup: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(count), 0)::int8 FROM minute_rollups WHERE kind LIKE 'dlq:%'",
    )
    .fetch_one(pool)
    .await?;
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters")
        .fetch_one(pool)
        .await?;
    if dlq_rollup != dead {
        problems.push(format!(
            "dead-letter rollups count {dlq_rollup}, table holds {dead}"
        ));
    }
    problems.truncate(50);
    Ok(problems)
}
