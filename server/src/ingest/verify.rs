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

/// What retention has removed, as far as a rebuild can tell: the cut-offs it recorded.
/// A rebuild from what is kept is compared only where nothing was removed.
#[derive(Default)]
struct Horizons {
    events: Option<DateTime<Utc>>,
    orders: Option<DateTime<Utc>>,
    rollups: Option<DateTime<Utc>>,
    dead_letters: Option<DateTime<Utc>>,
}

impl Horizons {
    async fn load(pool: &PgPool) -> sqlx::Result<Horizons> {
        use crate::retention::rows::horizon;
        Ok(Horizons {
            events: crate::retention::partitions::dropped_before(pool).await?,
            orders: horizon(pool, "orders_trimmed_before").await?,
            rollups: horizon(pool, "rollups_trimmed_before").await?,
            dead_letters: horizon(pool, "dead_letters_trimmed_before").await?,
        })
    }

    /// The first whole minute every rollup of which can be rebuilt and compared.
    fn rollups_from(&self, dead_letters: bool) -> Option<DateTime<Utc>> {
        let mut cuts = vec![self.events, self.rollups];
        if dead_letters {
            cuts.push(self.dead_letters);
        }
        cuts.into_iter()
            .flatten()
            .max()
            .map(|t| t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t) + TimeDelta::minutes(1))
    }
}

/// Differences between the stored projections and a rebuild; empty when they agree.
pub async fn verify(pool: &PgPool) -> sqlx::Result<Vec<String>> {
    let events = load_events(pool).await?;
    let cut = Horizons::load(pool).await?;
    let mut problems = Vec::new();

    type Began = Option<DateTime<Utc>>;
    let stored: BTreeMap<String, (OrderCheck, Began)> = sqlx::query_as::<_, (String, String, Option<i64>, Option<String>, i32, Option<String>, Option<String>, Began)>(
        "SELECT order_id, status, total_cents, customer_id, event_count, current_step, failure_reason, created_at FROM orders",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(id, a, b, c, d, e, f, began)| (id, ((a, b, c, d, e, f), began)))
    .collect();
    let rebuilt: BTreeMap<String, (OrderCheck, Began)> = order_deltas(&events)
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
            (d.order_id, (check, d.created_at))
        })
        .collect();
    if cut.events.is_none() && cut.orders.is_none() && stored.len() != rebuilt.len() {
        problems.push(format!(
            "orders: {} stored, {} rebuilt",
            stored.len(),
            rebuilt.len()
        ));
    }
    for (id, (want, began)) in &rebuilt {
        match stored.get(id) {
            Some((got, _)) if got == want => {}
            // Retention dropped the events the order began with: what is kept cannot
            // rebuild it (its page says so). A lost event in the middle is still found.
            Some((got, stored_began))
                if cut.events.is_some() && want.3 < got.3 && began != stored_began => {}
            // A finished order trimmed from the list while its events are still kept.
            None if cut.orders.is_some()
                && matches!(want.0.as_str(), "completed" | "failed" | "cancelled") => {}
            got => problems.push(format!(
                "order {id}: stored {:?}, rebuilt {want:?}",
                got.map(|g| &g.0)
            )),
        }
    }
    if cut.events.is_none() {
        for id in stored.keys().filter(|id| !rebuilt.contains_key(*id)) {
            problems.push(format!("order {id}: stored, but no event of it is"));
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

    // Rollups of minutes retention may have cut into (events dropped, rollups trimmed)
    // cannot be rebuilt: compared from the first whole minute after the cut.
    let from = cut.rollups_from(false);
    let rollups: BTreeMap<(DateTime<Utc>, String), i64> = sqlx::query_as::<_, (DateTime<Utc>, String, i64)>(
        "SELECT minute, kind, count FROM minute_rollups WHERE kind NOT LIKE 'dlq:%' AND kind <> 'quarantine' AND ($1::timestamptz IS NULL OR minute >= $1)",
    )
    .bind(from)
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
        if from.is_some_and(|f| minute < f) {
            continue;
        }
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
    let from = cut.rollups_from(true);
    let dlq_rollup: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(count), 0)::int8 FROM minute_rollups WHERE kind LIKE 'dlq:%' AND ($1::timestamptz IS NULL OR minute >= $1)",
    )
    .bind(from)
    .fetch_one(pool)
    .await?;
    let dead: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM dead_letters WHERE $1::timestamptz IS NULL OR date_trunc('minute', failed_at) >= $1",
    )
    .bind(from)
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
