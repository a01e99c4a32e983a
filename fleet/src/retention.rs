//! The fleet's own retention: its tables (idempotency marks, the order service's event
//! store, sagas and their logs, operator commands, the services' effects) grow with every order, so a fleet
//! that runs for months trims what finished longer ago than its window
//! (`SWITCHYARD_FLEET_RETAIN`, a week by default), every minute, in batches.
//!
//! An idempotency mark (`processed`) older than the window is forgotten: a redelivery of
//! an event that old would be handled again. A week is far beyond any broker's redelivery
//! (a consumer group's offsets are committed within seconds).

use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::watch;

const BATCH: i64 = 5_000;

/// One rule per table: the ids of at most `$2` rows older than `$1` seconds, deleted.
const RULES: &[(&str, &str)] = &[
    (
        "processed",
        "DELETE FROM processed WHERE ctid IN (SELECT ctid FROM processed
           WHERE processed_at < now() - make_interval(secs => $1) LIMIT $2)",
    ),
    (
        "saga_log",
        "DELETE FROM saga_log WHERE ctid IN (SELECT l.ctid FROM saga_log l JOIN sagas s USING (saga_id)
           WHERE s.state <> 'running' AND s.updated_at < now() - make_interval(secs => $1) LIMIT $2)",
    ),
    (
        "sagas",
        "DELETE FROM sagas WHERE saga_id IN (SELECT saga_id FROM sagas s
           WHERE state <> 'running' AND updated_at < now() - make_interval(secs => $1)
             AND NOT EXISTS (SELECT 1 FROM saga_log l WHERE l.saga_id = s.saga_id) LIMIT $2)",
    ),
    (
        "order_events",
        "DELETE FROM order_events WHERE order_id IN (SELECT e.order_id FROM order_events e
           WHERE NOT EXISTS (SELECT 1 FROM sagas s WHERE s.order_id = e.order_id AND s.state = 'running')
           GROUP BY e.order_id HAVING max(e.at) < now() - make_interval(secs => $1) LIMIT $2)",
    ),
    (
        "saga_commands",
        "DELETE FROM saga_commands WHERE command_id IN (SELECT command_id FROM saga_commands
           WHERE answered_at < now() - make_interval(secs => $1) LIMIT $2)",
    ),
    (
        "inventory_reservations",
        "DELETE FROM inventory_reservations WHERE order_id IN (SELECT order_id FROM inventory_reservations
           WHERE updated_at < now() - make_interval(secs => $1) LIMIT $2)",
    ),
    (
        "payments",
        "DELETE FROM payments WHERE order_id IN (SELECT order_id FROM payments
           WHERE updated_at < now() - make_interval(secs => $1) LIMIT $2)",
    ),
    (
        "shipments",
        "DELETE FROM shipments WHERE order_id IN (SELECT order_id FROM shipments
           WHERE updated_at < now() - make_interval(secs => $1) LIMIT $2)",
    ),
];

/// Applies every rule once; the rows removed per table (tables with none left out).
pub async fn trim(pool: &PgPool, window: Duration) -> sqlx::Result<Vec<(&'static str, u64)>> {
    let mut out = Vec::new();
    for (table, sql) in RULES {
        let mut total = 0;
        loop {
            let n = sqlx::query(sql)
                .bind(window.as_secs_f64())
                .bind(BATCH)
                .execute(pool)
                .await?
                .rows_affected();
            total += n;
            if n < BATCH as u64 {
                break;
            }
        }
        if total > 0 {
            out.push((*table, total));
        }
    }
    Ok(out)
}

/// Trims every minute (or every quarter window, if shorter) until `stop`.
pub async fn run(pool: PgPool, window: Duration, mut stop: watch::Receiver<bool>) {
    let every = (window / 4).clamp(Duration::from_secs(5), Duration::from_secs(60));
    loop {
        match trim(&pool, window).await {
            Ok(removed) if !removed.is_empty() => tracing::info!(?removed, "fleet retention"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "fleet retention failed; trying again later"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
