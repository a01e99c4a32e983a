//! `switchyard-tools seed`: fills the read model with a large, realistic history for the page
//! benchmark, in set-based SQL (no Kafka): orders whose events follow the saga (about one
//! in ten fails at payment and is compensated), their saga steps, per-minute rollups, dead
//! letters, and breakers with transitions.
//!
//! The projections are not computed by a second fold: one template order per path is
//! folded by the ingest projection's own [`order_deltas`], and each seeded order is that
//! template shifted in time and stretched by its own factor. `switchyard verify` agrees
//! with what this writes (checked by the tests).
//!
//! Seeded rows sit at Kafka partition -1, which no real topic has, so they never collide
//! with ingested records.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use sqlx::PgPool;
use std::time::Instant;
use switchyard::ingest::decode::EventRow;
use switchyard::ingest::project::order_deltas;

pub struct SeedArgs {
    pub orders: i64,
    pub events_per_order: usize,
    /// The orders' creation times spread over this many hours, ending now.
    pub hours: i64,
    /// Orders per INSERT statement.
    pub chunk: i64,
}

/// One event of the template saga: (type, step, action, status, error, ms after creation).
type Tpl = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    i64,
);

const COMPLETED: [Tpl; 10] = [
    ("order.created", None, None, None, None, 0),
    (
        "saga.step",
        Some("inventory"),
        Some("execute"),
        Some("started"),
        None,
        5,
    ),
    (
        "saga.step",
        Some("inventory"),
        Some("execute"),
        Some("succeeded"),
        None,
        40,
    ),
    (
        "saga.step",
        Some("payment"),
        Some("execute"),
        Some("started"),
        None,
        45,
    ),
    (
        "saga.step",
        Some("payment"),
        Some("execute"),
        Some("succeeded"),
        None,
        300,
    ),
    (
        "saga.step",
        Some("shipment"),
        Some("execute"),
        Some("started"),
        None,
        305,
    ),
    (
        "saga.step",
        Some("shipment"),
        Some("execute"),
        Some("succeeded"),
        None,
        600,
    ),
    ("order.confirmed", None, None, None, None, 610),
    ("order.completed", None, None, None, None, 650),
    ("notification.sent", None, None, None, None, 700),
];

const FAILED: [Tpl; 10] = [
    ("order.created", None, None, None, None, 0),
    (
        "saga.step",
        Some("inventory"),
        Some("execute"),
        Some("started"),
        None,
        5,
    ),
    (
        "saga.step",
        Some("inventory"),
        Some("execute"),
        Some("succeeded"),
        None,
        40,
    ),
    (
        "saga.step",
        Some("payment"),
        Some("execute"),
        Some("started"),
        None,
        45,
    ),
    (
        "saga.step",
        Some("payment"),
        Some("execute"),
        Some("failed"),
        Some("card declined"),
        900,
    ),
    (
        "saga.step",
        Some("inventory"),
        Some("compensate"),
        Some("started"),
        None,
        905,
    ),
    (
        "saga.step",
        Some("inventory"),
        Some("compensate"),
        Some("succeeded"),
        None,
        950,
    ),
    ("payment.failed", None, None, None, None, 955),
    ("order.failed", None, None, None, None, 960),
    ("notification.sent", None, None, None, None, 1000),
];

/// The first `n` events of a path (padded with notifications past ten).
fn template(path: &[Tpl; 10], n: usize) -> Vec<Tpl> {
    (0..n)
        .map(|i| {
            path.get(i).copied().unwrap_or((
                "notification.sent",
                None,
                None,
                None,
                None,
                1000 + i as i64,
            ))
        })
        .collect()
}

/// What the projection makes of one template order created at the epoch.
struct Summary {
    status: String,
    rank: i16,
    status_ms: Option<i64>,
    step: Option<String>,
    step_status: Option<String>,
    step_ms: Option<i64>,
    updated_ms: i64,
    event_count: i32,
    failure_reason: Option<String>,
    has_created: bool,
}

fn epoch_ms(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::milliseconds(ms)
}

fn summarise(tpl: &[Tpl]) -> Summary {
    let events: Vec<EventRow> = tpl.iter().map(|t| event_row(t, "T")).collect();
    let d = order_deltas(&events)
        .pop()
        .expect("a template has an order event");
    let ms = |t: DateTime<Utc>| (t - DateTime::<Utc>::UNIX_EPOCH).num_milliseconds();
    Summary {
        status: d.status,
        rank: d.status_rank,
        status_ms: (d.status_rank >= 0).then(|| ms(d.status_at)),
        step: d.current_step,
        step_status: d.step_status,
        step_ms: d.step_at.map(ms),
        updated_ms: ms(d.updated_at),
        event_count: d.event_count,
        failure_reason: d.failure_reason,
        has_created: d.created_at.is_some(),
    }
}

/// A template event as the projection sees it (the payload the seed SQL writes).
fn event_row(t: &Tpl, id: &str) -> EventRow {
    let at = epoch_ms(t.5);
    let data = match t.0 {
        "saga.step" => json!({"saga_id": format!("SAGA-{id}"), "order_id": id, "step": t.1,
            "action": t.2, "status": t.3, "error": t.4, "attempt": 1,
            "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}),
        "order.failed" => json!({"reason": "payment declined"}),
        _ => json!({}),
    };
    EventRow {
        topic: t.0.into(),
        partition: -1,
        offset: 0,
        key: None,
        event_id: None,
        event_type: t.0.into(),
        aggregate_id: id.into(),
        aggregate_version: None,
        occurred_at: at,
        source: Some("seed".into()),
        correlation_id: None,
        causation_id: None,
        headers: json!([]),
        data,
        payload: None,
    }
}

// Per-order values, shared by the events and the orders statements. `$1` is the first
// order number of the chunk, `i` the order number, `base` its creation time.
const ORDER_ID: &str = "'SEED-' || lpad(i::text, 8, '0')";
const FAILS: &str = "(i % 10 = 7)";
/// Stretch of the template: 0.5x .. 3x, spread by a multiplicative hash.
const STRETCH: &str = "(0.5 + ((i * 2654435761) % 1000) / 400.0)";
const CUSTOMER: &str = "'CUST-' || lpad(((i * 7919) % 20000)::text, 5, '0')";
const TOTAL: &str = "(500 + (i * 37) % 20000)";
const QUANTITY: &str = "(1 + i % 3)";

/// Fills the read model; returns (orders, events) written.
pub async fn seed(pool: &PgPool, args: &SeedArgs) -> anyhow::Result<(i64, i64)> {
    switchyard::retention::partitions::ensure(pool).await?;
    let n = args.orders.max(0);
    let e = args.events_per_order.max(1);
    let now = Utc::now() - TimeDelta::minutes(1);
    let start = now - TimeDelta::hours(args.hours.max(1));
    let span_ms = (now - start).num_milliseconds() as f64;
    let first: i64 = sqlx::query_scalar(
        "SELECT COALESCE(max(substring(order_id FROM 6)::int8), 0) FROM orders WHERE order_id ~ '^SEED-[0-9]{8}$'",
    )
    .fetch_one(pool)
    .await?;
    let (completed, failed) = (template(&COMPLETED, e), template(&FAILED, e));
    let tpl_rows: Vec<(bool, i32, Tpl)> = [(false, &completed), (true, &failed)]
        .into_iter()
        .flat_map(|(f, t)| {
            t.iter()
                .enumerate()
                .map(move |(k, x)| (f, k as i32 + 1, *x))
        })
        .collect();
    let sums = [summarise(&completed), summarise(&failed)];
    let started = Instant::now();
    let mut lo = first + 1;
    let hi_all = first + n;
    while lo <= hi_all {
        let hi = (lo + args.chunk.max(1) - 1).min(hi_all);
        insert_chunk(pool, lo, hi, first, n, start, span_ms, &tpl_rows, &sums).await?;
        eprintln!(
            "seeded orders {lo}..{hi} ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
        lo = hi + 1;
    }
    seed_breakers(pool, start, now).await?;
    sqlx::query("ANALYZE").execute(pool).await?;
    Ok((n, n * e as i64))
}

#[allow(clippy::too_many_arguments)]
async fn insert_chunk(
    pool: &PgPool,
    lo: i64,
    hi: i64,
    first: i64,
    n: i64,
    start: DateTime<Utc>,
    span_ms: f64,
    tpl: &[(bool, i32, Tpl)],
    sums: &[Summary; 2],
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    // Creation time of order i: spread evenly over the window.
    let base = "($3::timestamptz + make_interval(secs => ((i - $4)::float8 / GREATEST($5, 1)) * $6 / 1000.0))";
    let at = format!(
        "date_trunc('milliseconds', {base} + make_interval(secs => tpl.ms * {STRETCH} / 1000.0))"
    );
    let events_sql = format!(
        "WITH ins AS (
            INSERT INTO events (topic, kafka_partition, kafka_offset, event_type, aggregate_id,
                                aggregate_version, occurred_at, source, correlation_id, payload,
                                step_at)
            SELECT tpl.event_type, -1, i * 100 + tpl.seq, tpl.event_type, {ORDER_ID},
                   CASE WHEN tpl.event_type LIKE 'order.%' THEN tpl.seq END, {at}, 'seed',
                   'COR-' || i,
                   CASE tpl.event_type
                     WHEN 'order.created' THEN jsonb_build_object('customer_id', {CUSTOMER},
                        'total_cents', {TOTAL}, 'currency', 'EUR',
                        'items', jsonb_build_array(jsonb_build_object('sku', 'SKU-' || (i % 500), 'quantity', {QUANTITY})))
                     WHEN 'saga.step' THEN jsonb_strip_nulls(jsonb_build_object('saga_id', 'SAGA-' || {ORDER_ID},
                        'order_id', {ORDER_ID}, 'step', tpl.step, 'action', tpl.action, 'status', tpl.status,
                        'error', tpl.error, 'attempt', 1,
                        'at', to_char({at} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')))
                     WHEN 'order.failed' THEN jsonb_build_object('reason', 'payment declined')
                     ELSE '{{}}'::jsonb END,
                   CASE WHEN tpl.event_type = 'saga.step' THEN {at} END
            FROM generate_series($1::int8, $2::int8) i
            JOIN UNNEST($7::bool[], $8::int4[], $9::text[], $10::text[], $11::text[], $12::text[],
                        $13::text[], $14::int8[])
                 AS tpl(fails, seq, event_type, step, action, status, error, ms)
              ON tpl.fails = {FAILS}
            RETURNING event_type, occurred_at)
         INSERT INTO minute_rollups AS r (minute, kind, count)
         SELECT date_trunc('minute', occurred_at), event_type, count(*) FROM ins GROUP BY 1, 2
         ON CONFLICT (minute, kind) DO UPDATE SET count = r.count + EXCLUDED.count"
    );
    let col = |f: &dyn Fn(&Tpl) -> Option<&'static str>| {
        tpl.iter()
            .map(|t| f(&t.2).map(str::to_string))
            .collect::<Vec<_>>()
    };
    sqlx::query(&events_sql)
        .bind(lo)
        .bind(hi)
        .bind(start)
        .bind(first + 1)
        .bind(n)
        .bind(span_ms)
        .bind(tpl.iter().map(|t| t.0).collect::<Vec<_>>())
        .bind(tpl.iter().map(|t| t.1).collect::<Vec<_>>())
        .bind(col(&|t| Some(t.0)))
        .bind(col(&|t| t.1))
        .bind(col(&|t| t.2))
        .bind(col(&|t| t.3))
        .bind(col(&|t| t.4))
        .bind(tpl.iter().map(|t| t.2 .5).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;

    // The orders projection: each path's folded template, shifted and stretched.
    let pick = |c: &str, f: &str| format!("CASE WHEN {FAILS} THEN {f} ELSE {c} END");
    let offset = |ms: &str| {
        format!(
            "date_trunc('milliseconds', {base} + make_interval(secs => {ms} * {STRETCH} / 1000.0))"
        )
    };
    let orders_sql = format!(
        "INSERT INTO orders (order_id, customer_id, status, status_at, status_rank, total_cents,
                             currency, item_count, failure_reason, created_at, updated_at,
                             event_count, current_step, step_status, step_at)
         SELECT {ORDER_ID},
                CASE WHEN $7 THEN {CUSTOMER} END,
                {status}, COALESCE({status_at}, 'epoch'::timestamptz), {rank},
                CASE WHEN $7 THEN {TOTAL} END, CASE WHEN $7 THEN 'EUR' END,
                CASE WHEN $7 THEN {QUANTITY} END, {reason},
                CASE WHEN $7 THEN {base} END, {updated}, {count}, {step}, {step_status}, {step_at}
         FROM generate_series($1::int8, $2::int8) i",
        status = pick("$8", "$9"),
        status_at = offset(&pick("$10::float8", "$11::float8")),
        rank = pick("$12::int2", "$13::int2"),
        reason = pick("$14", "$15"),
        updated = offset(&pick("$16::float8", "$17::float8")),
        count = pick("$18::int4", "$19::int4"),
        step = pick("$20", "$21"),
        step_status = pick("$22", "$23"),
        step_at = offset(&pick("$24::float8", "$25::float8")),
    );
    let [c, f] = sums;
    sqlx::query(&orders_sql)
        .bind(lo)
        .bind(hi)
        .bind(start)
        .bind(first + 1)
        .bind(n)
        .bind(span_ms)
        .bind(c.has_created)
        .bind(&c.status)
        .bind(&f.status)
        .bind(c.status_ms.map(|v| v as f64))
        .bind(f.status_ms.map(|v| v as f64))
        .bind(c.rank)
        .bind(f.rank)
        .bind(&c.failure_reason)
        .bind(&f.failure_reason)
        .bind(c.updated_ms as f64)
        .bind(f.updated_ms as f64)
        .bind(c.event_count)
        .bind(f.event_count)
        .bind(&c.step)
        .bind(&f.step)
        .bind(&c.step_status)
        .bind(&f.step_status)
        .bind(c.step_ms.map(|v| v as f64))
        .bind(f.step_ms.map(|v| v as f64))
        .execute(&mut *tx)
        .await?;

    // One dead letter for every 50th order: its notification could not be rendered.
    let dlq_sql = format!(
        "WITH d AS (
            INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, dialect, original_topic,
                                      exception_type, exception_message, failed_at, attempts, order_id)
            SELECT 'notification.sent.dlq', -1, i, 'spring-cloud-stream', 'notification.sent',
                   'TemplateError', 'template \"receipt\" missing',
                   {base} + interval '2 seconds', 3, {ORDER_ID}
            FROM generate_series($1::int8, $2::int8) i WHERE i % 50 = 3
            RETURNING failed_at)
         INSERT INTO minute_rollups AS r (minute, kind, count)
         SELECT date_trunc('minute', failed_at), 'dlq:notification.sent', count(*) FROM d GROUP BY 1
         ON CONFLICT (minute, kind) DO UPDATE SET count = r.count + EXCLUDED.count"
    );
    sqlx::query(&dlq_sql)
        .bind(lo)
        .bind(hi)
        .bind(start)
        .bind(first + 1)
        .bind(n)
        .bind(span_ms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Three breakers; each opens, half-opens and closes again every half hour of the window,
/// with a final metrics snapshot. Written as events too, so `verify` agrees.
async fn seed_breakers(
    pool: &PgPool,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "WITH b(service, breaker, k) AS (VALUES ('payment', 'gateway', 0), ('inventory', 'warehouse', 1),
                                        ('shipment', 'carrier', 2)),
              cycle(n) AS (SELECT generate_series(0, (extract(epoch FROM $2::timestamptz - $1::timestamptz) / 1800)::int - 1)),
              tr(service, breaker, k, n, seq, from_state, to_state, at) AS (
                SELECT service, breaker, k, n, s.seq, s.from_state, s.to_state,
                       date_trunc('milliseconds', $1::timestamptz + make_interval(secs => n * 1800 + k * 400 + s.after))
                FROM b, cycle,
                     (VALUES (0, 'CLOSED', 'OPEN', 0), (1, 'OPEN', 'HALF_OPEN', 30), (2, 'HALF_OPEN', 'CLOSED', 45))
                       AS s(seq, from_state, to_state, after)),
              ins AS (
                INSERT INTO events (topic, kafka_partition, kafka_offset, event_type, aggregate_id,
                                    occurred_at, source, payload)
                SELECT 'breaker.transition', -1, (k * 1000000 + n * 10 + seq), 'breaker.transition', service, at,
                       'seed', jsonb_build_object('service', service, 'breaker', breaker, 'from', from_state,
                         'to', to_state, 'failure_count', 12, 'success_count', 3, 'failure_rate', 0.8,
                         'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))
                FROM tr
                ON CONFLICT DO NOTHING
                RETURNING id, occurred_at, payload),
              t AS (
                INSERT INTO breaker_transitions (event_id, service, breaker, from_state, to_state,
                                                 failure_count, success_count, failure_rate, at)
                SELECT id, payload->>'service', payload->>'breaker', payload->>'from', payload->>'to',
                       12, 3, 0.8, occurred_at FROM ins),
              r AS (
                INSERT INTO minute_rollups AS r (minute, kind, count)
                SELECT date_trunc('minute', occurred_at), 'breaker.transition', count(*) FROM ins GROUP BY 1
                ON CONFLICT (minute, kind) DO UPDATE SET count = r.count + EXCLUDED.count)
         INSERT INTO breakers (service, breaker, state, state_at)
         SELECT payload->>'service', payload->>'breaker', 'CLOSED', max(occurred_at) FROM ins
         GROUP BY 1, 2
         ON CONFLICT (service, breaker) DO UPDATE
            SET state = EXCLUDED.state, state_at = EXCLUDED.state_at
            WHERE breakers.state_at <= EXCLUDED.state_at",
    )
    .bind(start)
    .bind(end)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fold_to_the_expected_outcomes() {
        let c = summarise(&template(&COMPLETED, 10));
        assert_eq!((c.status.as_str(), c.event_count), ("completed", 9));
        assert_eq!(c.step.as_deref(), Some("shipment:execute"));
        let f = summarise(&template(&FAILED, 10));
        assert_eq!(f.status, "failed");
        assert_eq!(f.step.as_deref(), Some("inventory:compensate"));
        assert_eq!(f.failure_reason.as_deref(), Some("payment declined"));
        let short = summarise(&template(&COMPLETED, 3));
        assert_eq!((short.status.as_str(), short.rank), ("created", 0));
        assert_eq!(template(&COMPLETED, 12).len(), 12);
    }
}
