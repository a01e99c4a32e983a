//! Retention for the tables that are not partitioned: each rule is one `DELETE` of rows
//! older than its window, in batches of [`BATCH`] rows (one short transaction each, so a
//! trim never holds locks or writes WAL in one burst), until none is left.
//!
//! The rules, one per table (windows from `config::RetentionConfig`):
//! - `breaker_transitions`, `minute_rollups`, `quarantine`: by their own time;
//! - `replay_jobs` (with their items and topics) once finished, from their end; the
//!   replays they sent stay with their dead letters (their `job_id` is cleared); finished
//!   `saga_command_batches` likewise (their commands stay with their orders);
//! - `dead_letters` once resolved (replayed or discarded) or superseded (`failed_again`:
//!   replayed and back as a newer dead letter, which carries the story and its replay
//!   count on), from then, with their replays and job items; unresolved ones (pending,
//!   parked) are kept however old. Without `failed_again` here, every replay that fails
//!   again left a row for ever (the 2-hour soak: 1,063 of them in 70 minutes);
//! - `assistant_conversations` from their last turn (turns go with them);
//! - `orders` once finished (completed, failed, cancelled), from their last change, and
//!   operators' `saga_commands` with the same window, from when they were sent;
//! - `log_incidents` once resolved, with the quarantine's window;
//! - `audit_log`, which refuses deletes except inside a transaction that names the window
//!   (`switchyard.audit_retention_before`), and never for a window under a day.

use sqlx::PgPool;
use std::time::Duration;

/// Rows per `DELETE`.
pub const BATCH: i64 = 5_000;

/// The windows, one per rule.
#[derive(Clone, Debug)]
pub struct Windows {
    pub breaker_history: Duration,
    pub rollups: Duration,
    pub quarantine: Duration,
    pub resolved_dead_letters: Duration,
    pub replay_jobs: Duration,
    pub conversations: Duration,
    pub orders: Duration,
    pub audit: Duration,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Deletes in batches with `sql` (which takes the window in seconds as `$1` and the batch
/// size as `$2`, and deletes at most `$2` rows) until a batch comes back short.
async fn in_batches(pool: &PgPool, sql: &str, window: Duration) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let n = sqlx::query(sql)
            .bind(secs(window))
            .bind(BATCH)
            .execute(pool)
            .await?
            .rows_affected();
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// The rows `sql` (ids of at most `$2` rows older than `$1` seconds) names, then `steps`
/// over those ids (`$1`, an array), all in one transaction per batch.
async fn by_ids(
    pool: &PgPool,
    select: &str,
    window: Duration,
    steps: &[&str],
    prelude: Option<&str>,
) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        if let Some(p) = prelude {
            sqlx::query(p).bind(secs(window)).execute(&mut *tx).await?;
        }
        let ids: Vec<String> = sqlx::query_scalar(select)
            .bind(secs(window))
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
        if ids.is_empty() {
            return Ok(total);
        }
        for step in steps {
            sqlx::query(step).bind(&ids).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        total += ids.len() as u64;
        if (ids.len() as i64) < BATCH {
            return Ok(total);
        }
    }
}

const OLDER: &str = "now() - make_interval(secs => $1)";

/// Applies every rule once; returns the rows removed per table (tables with none left out).
pub async fn trim(pool: &PgPool, w: &Windows) -> sqlx::Result<Vec<(&'static str, u64)>> {
    let mut out = Vec::new();
    fn note(out: &mut Vec<(&'static str, u64)>, table: &'static str, n: u64) {
        if n > 0 {
            out.push((table, n));
        }
    }
    // Tables trimmed by age alone: (table, time column, further condition, window, the
    // horizon recorded for `verify` when rows a rebuild would find are removed).
    let by_age: [(&'static str, &str, &str, Duration, Option<&str>); 7] = [
        ("breaker_transitions", "at", "", w.breaker_history, None),
        (
            "minute_rollups",
            "minute",
            "",
            w.rollups,
            Some("rollups_trimmed_before"),
        ),
        ("quarantine", "quarantined_at", "", w.quarantine, None),
        (
            "assistant_conversations",
            "updated_at",
            "",
            w.conversations,
            None,
        ),
        (
            "orders",
            "updated_at",
            "AND status IN ('completed', 'failed', 'cancelled')",
            w.orders,
            Some("orders_trimmed_before"),
        ),
        ("log_incidents", "resolved_at", "", w.quarantine, None),
        ("saga_commands", "requested_at", "", w.orders, None),
    ];
    for (table, column, and, window, horizon) in by_age {
        let sql = format!(
            "DELETE FROM {table} WHERE ctid IN
               (SELECT ctid FROM {table} WHERE {column} < {OLDER} {and} LIMIT $2)"
        );
        let n = in_batches(pool, &sql, window).await?;
        if let Some(key) = horizon.filter(|_| n > 0) {
            record_horizon(pool, key, window).await?;
        }
        note(&mut out, table, n);
    }
    note(
        &mut out,
        "replay_jobs",
        by_ids(
            pool,
            &format!(
                "SELECT id::text FROM replay_jobs WHERE status <> 'running' AND finished_at < {OLDER}
                  ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED"
            ),
            w.replay_jobs,
            &[
                "UPDATE replays SET job_id = NULL WHERE job_id = ANY($1::uuid[])",
                "DELETE FROM replay_job_items WHERE job_id = ANY($1::uuid[])",
                "DELETE FROM replay_job_topics WHERE job_id = ANY($1::uuid[])",
                "DELETE FROM replay_jobs WHERE id = ANY($1::uuid[])",
            ],
            None,
        )
        .await?,
    );
    note(
        &mut out,
        "saga_command_batches",
        by_ids(
            pool,
            &format!(
                "SELECT id::text FROM saga_command_batches WHERE status <> 'running' AND finished_at < {OLDER}
                  ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED"
            ),
            w.replay_jobs,
            &[
                "UPDATE saga_commands SET batch_id = NULL WHERE batch_id = ANY($1::uuid[])",
                "DELETE FROM saga_command_batches WHERE id = ANY($1::uuid[])",
            ],
            None,
        )
        .await?,
    );
    note(
        &mut out,
        "dead_letters",
        by_ids(
            pool,
            &format!(
                "SELECT d.id::text FROM dead_letters d
                  WHERE d.status IN ('replayed', 'discarded', 'failed_again')
                    AND COALESCE(d.discarded_at,
                                 (SELECT max(r.finished_at) FROM replays r WHERE r.dead_letter_id = d.id),
                                 d.ingested_at) < {OLDER}
                  LIMIT $2 FOR UPDATE SKIP LOCKED"
            ),
            w.resolved_dead_letters,
            &[
                "DELETE FROM replay_job_items WHERE dead_letter_id = ANY($1::int8[])",
                "DELETE FROM replays WHERE dead_letter_id = ANY($1::int8[])",
                "DELETE FROM dead_letters WHERE id = ANY($1::int8[])",
            ],
            None,
        )
        .await?,
    );
    if out.iter().any(|(t, _)| *t == "dead_letters") {
        record_horizon(pool, "dead_letters_trimmed_before", w.resolved_dead_letters).await?;
    }
    // The audit log: the transaction names its window, or the table refuses.
    note(
        &mut out,
        "audit_log",
        by_ids(
            pool,
            &format!("SELECT id::text FROM audit_log WHERE at < {OLDER} ORDER BY at LIMIT $2"),
            w.audit.max(Duration::from_secs(86_400 + 60)),
            &["DELETE FROM audit_log WHERE id = ANY($1::int8[])"],
            Some(&format!(
                "SELECT set_config('switchyard.audit_retention_before', ({OLDER})::text, true)"
            )),
        )
        .await?,
    );
    Ok(out)
}

/// Remembers the cut-off of a trim that removed rows a rebuild from the event store would
/// still find (`verify` then leaves them out; [`horizon`] reads it).
async fn record_horizon(pool: &PgPool, key: &str, window: Duration) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO settings (key, value) VALUES ($2, to_jsonb({OLDER}))
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
    ))
    .bind(secs(window))
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}

/// The cut-off a trim recorded under `key` (None: that rule never removed anything).
pub async fn horizon(
    pool: &PgPool,
    key: &str,
) -> sqlx::Result<Option<chrono::DateTime<chrono::Utc>>> {
    Ok(
        sqlx::query_scalar("SELECT (value #>> '{}')::timestamptz FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?
            .flatten(),
    )
}
