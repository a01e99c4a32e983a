//! The event store's partitions: `events` is range-partitioned by `ingested_at` (migration
//! `20261206000010`), and so is `saga_steps_stored`, the saga steps ingest wrote as rows of
//! their own before `saga_steps` became a view over `events` (migration `20261211000010`):
//! it gets no new partitions, and its old ones go as they age out. This module keeps
//! partitions ready ahead of the clock and drops whole partitions behind the retention
//! window — a metadata operation, not a `DELETE`.
//!
//! - **Ahead**: three partition widths past now, so ingest never meets a row with no
//!   partition (should it ever, the writer calls [`ensure`] and retries: never quarantines).
//!   A partition is made as a table of its own and then attached, which locks the parent
//!   only in `SHARE UPDATE EXCLUSIVE` mode: ingest and pages go on.
//! - **Behind**: a partition whose upper bound is older than the window is detached
//!   `CONCURRENTLY` (no lock that stops ingest) and dropped. Its upper bound becomes the
//!   horizon recorded in `settings` (`events_dropped_before`), which `verify` and the order
//!   page read: before it, history may be gone.
//! - The width in force is kept in `settings` (`events_partition_secs`), so every process
//!   writing events (ingest, the seeder, tests) makes partitions of the same shape.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use std::time::Duration;

/// The partitioned tables kept ready ahead of now, parent names.
pub const TABLES: [&str; 1] = ["events"];

/// The partitioned tables dropped behind the window: these and the one written no more.
/// Its partitions share their bounds with the events': a saga step stored there lives and
/// dies with its event.
pub const AGED: [&str; 2] = ["events", "saga_steps_stored"];

/// Partitions kept ready ahead of now, in widths.
const AHEAD: i32 = 3;

/// One partition: its name and the upper bound of its range (exclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub to: DateTime<Utc>,
}

/// `t` rounded down to a multiple of `width` since the Unix epoch (days start at 00:00 UTC).
pub fn floor(t: DateTime<Utc>, width: TimeDelta) -> DateTime<Utc> {
    let w = width.num_seconds().max(1);
    let s = t.timestamp().div_euclid(w) * w;
    DateTime::from_timestamp(s, 0).unwrap_or(t)
}

/// The ranges to create so that partitions reach `AHEAD` widths past `now`, starting
/// where the newest existing one ends (or at `now`'s width when none is recent). The first
/// range may be short, to line the rest up with the width.
pub fn ranges_ahead(
    newest_upper: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    width: TimeDelta,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let width = width.max(TimeDelta::seconds(1));
    let mut from = match newest_upper {
        Some(u) => u.max(floor(now, width)),
        None => floor(now, width),
    };
    let until = now + width * AHEAD;
    let mut out = Vec::new();
    while from < until {
        let to = floor(from, width) + width;
        out.push((from, to));
        from = to;
    }
    out
}

/// The partitions wholly older than `horizon` (their upper bound is at or before it).
pub fn expired(parts: &[Partition], horizon: DateTime<Utc>) -> Vec<Partition> {
    parts.iter().filter(|p| p.to <= horizon).cloned().collect()
}

fn name_of(table: &str, from: DateTime<Utc>) -> String {
    format!("{table}_p{}", from.format("%Y%m%dt%H%M%S"))
}

/// The partition width in force (stored; one day unless configured).
pub async fn width(pool: &PgPool) -> sqlx::Result<TimeDelta> {
    let secs: Option<i64> = sqlx::query_scalar(
        "SELECT (value #>> '{}')::int8 FROM settings WHERE key = 'events_partition_secs'",
    )
    .fetch_optional(pool)
    .await?
    .flatten();
    Ok(TimeDelta::seconds(secs.unwrap_or(86_400).max(1)))
}

/// Stores the configured width: partitions made from now on have it.
pub async fn configure(pool: &PgPool, width: Duration) -> sqlx::Result<()> {
    let secs = width.as_secs().max(1) as i64;
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ('events_partition_secs', to_jsonb($1::int8))
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
         WHERE settings.value IS DISTINCT FROM EXCLUDED.value",
    )
    .bind(secs)
    .execute(pool)
    .await?;
    Ok(())
}

/// The partitions of `table` with their upper bounds, oldest first.
pub async fn list<'e>(db: impl sqlx::PgExecutor<'e>, table: &str) -> sqlx::Result<Vec<Partition>> {
    let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT c.relname::text,
                substring(pg_get_expr(c.relpartbound, c.oid) from 'TO \\(''([^'']*)''\\)')::timestamptz
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = $1::regclass
          ORDER BY 2",
    )
    .bind(table)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, to)| Partition { name, to })
        .collect())
}

/// Makes sure the event store has partitions from now to three widths ahead; returns how
/// many were created. Safe to call from several processes at once (a creation that lost
/// the race is a no-op).
pub async fn ensure(pool: &PgPool) -> sqlx::Result<usize> {
    let width = width(pool).await?;
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()").fetch_one(pool).await?;
    let mut created = 0;
    for table in TABLES {
        let newest = list(pool, table).await?.last().map(|p| p.to);
        for (from, to) in ranges_ahead(newest, now, width) {
            if create(pool, table, from, to).await? {
                created += 1;
            }
        }
    }
    Ok(created)
}

/// One partition: a table of its own, then attached (an empty table's check is instant,
/// and attaching does not stop writers as `CREATE … PARTITION OF` would).
async fn create(
    pool: &PgPool,
    table: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let name = name_of(table, from);
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL lock_timeout = '5s'")
        .execute(&mut *tx)
        .await?;
    // Serialises makers of the same table's partitions across processes.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('switchyard.partitions.' || $1))")
        .bind(table)
        .execute(&mut *tx)
        .await?;
    let exists = list(&mut *tx, table).await?.iter().any(|p| p.to > from);
    if exists {
        return Ok(false);
    }
    sqlx::query(&format!(
        "CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    ))
    .persistent(false)
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{}') TO ('{}')",
        from.to_rfc3339(),
        to.to_rfc3339()
    ))
    .persistent(false)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Detaches and drops every partition of the [`AGED`] tables wholly older than `retain`;
/// records the horizon. Returns the dropped partitions' names.
pub async fn drop_expired(pool: &PgPool, retain: Duration) -> sqlx::Result<Vec<String>> {
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()").fetch_one(pool).await?;
    let horizon = now - TimeDelta::from_std(retain).unwrap_or(TimeDelta::MAX);
    let mut dropped = Vec::new();
    for table in AGED {
        // One maintainer at a time per table (session lock: `DETACH … CONCURRENTLY`
        // cannot run inside a transaction).
        let mut conn = pool.acquire().await?;
        let mine: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_lock(hashtext('switchyard.partitions.drop.' || $1))",
        )
        .bind(table)
        .fetch_one(&mut *conn)
        .await?;
        if !mine {
            continue;
        }
        let result = drop_table_partitions(&mut conn, table, horizon, &mut dropped).await;
        let _ =
            sqlx::query("SELECT pg_advisory_unlock(hashtext('switchyard.partitions.drop.' || $1))")
                .bind(table)
                .execute(&mut *conn)
                .await;
        result?;
    }
    Ok(dropped)
}

async fn drop_table_partitions(
    conn: &mut sqlx::PgConnection,
    table: &str,
    horizon: DateTime<Utc>,
    dropped: &mut Vec<String>,
) -> sqlx::Result<()> {
    // Left detached by an earlier run stopped between its detach and its drop.
    let strays: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c
          WHERE c.relkind = 'r' AND NOT c.relispartition
            AND c.relnamespace = current_schema()::regnamespace
            AND (c.relname LIKE $1 || '\\_p%' OR c.relname = $1 || '_legacy')",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    let parts = list(&mut *conn, table).await?;
    for p in expired(&parts, horizon) {
        let detach = sqlx::query(&format!(
            "ALTER TABLE {table} DETACH PARTITION {} CONCURRENTLY",
            p.name
        ))
        .persistent(false)
        .execute(&mut *conn)
        .await;
        if let Err(e) = detach {
            // An earlier concurrent detach interrupted half-way must be finished first.
            tracing::debug!(error = %e, partition = %p.name, "detach failed; finalizing");
            sqlx::query(&format!(
                "ALTER TABLE {table} DETACH PARTITION {} FINALIZE",
                p.name
            ))
            .persistent(false)
            .execute(&mut *conn)
            .await?;
        }
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", p.name))
            .persistent(false)
            .execute(&mut *conn)
            .await?;
        record_horizon(&mut *conn, p.to).await?;
        dropped.push(p.name);
    }
    for name in strays {
        sqlx::query(&format!("DROP TABLE IF EXISTS {name}"))
            .persistent(false)
            .execute(&mut *conn)
            .await?;
        dropped.push(name);
    }
    Ok(())
}

/// Remembers that events ingested before `to` may be gone (the latest such bound wins).
async fn record_horizon(conn: &mut sqlx::PgConnection, to: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ('events_dropped_before', to_jsonb($1::timestamptz))
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
         WHERE (settings.value #>> '{}')::timestamptz < $1",
    )
    .bind(to)
    .execute(conn)
    .await?;
    Ok(())
}

/// Events ingested before this may have been dropped by retention (None: nothing ever was).
pub async fn dropped_before(pool: &PgPool) -> sqlx::Result<Option<DateTime<Utc>>> {
    super::rows::horizon(pool, "events_dropped_before").await
}

/// Whether a write failed because no partition takes the row (the maintenance fell
/// behind the clock): not the data's fault, so never a reason to quarantine.
pub fn is_missing_partition(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23514") && db.message().contains("no partition of relation"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn days_start_at_midnight_and_reach_three_ahead() {
        let r = ranges_ahead(None, t("2026-12-04T15:30:00Z"), TimeDelta::days(1));
        assert_eq!(r.first().unwrap().0, t("2026-12-04T00:00:00Z"));
        assert_eq!(r.last().unwrap().1, t("2026-12-08T00:00:00Z"));
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn an_upgraded_store_continues_from_its_legacy_bound_lined_up_with_the_width() {
        // The legacy partition ends at the next whole hour; the first range is short.
        let r = ranges_ahead(
            Some(t("2026-12-04T16:00:00Z")),
            t("2026-12-04T15:30:00Z"),
            TimeDelta::days(1),
        );
        assert_eq!(r[0], (t("2026-12-04T16:00:00Z"), t("2026-12-05T00:00:00Z")));
        assert!(r.windows(2).all(|w| w[0].1 == w[1].0), "contiguous: {r:?}");
    }

    #[test]
    fn nothing_to_make_when_far_enough_ahead_and_a_gap_after_downtime_is_not_filled() {
        let now = t("2026-12-04T15:30:00Z");
        assert!(ranges_ahead(Some(t("2026-12-08T00:00:00Z")), now, TimeDelta::days(1)).is_empty());
        // Down for a week: nothing can be ingested in the past, so start at today.
        let r = ranges_ahead(Some(t("2026-11-20T00:00:00Z")), now, TimeDelta::days(1));
        assert_eq!(r[0].0, t("2026-12-04T00:00:00Z"));
    }

    #[test]
    fn short_widths_stay_few() {
        let r = ranges_ahead(None, t("2026-12-04T15:30:07Z"), TimeDelta::seconds(20));
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].0, t("2026-12-04T15:30:00Z"));
    }

    #[test]
    fn only_wholly_older_partitions_expire() {
        let p = |n: &str, to: &str| Partition {
            name: n.into(),
            to: t(to),
        };
        let parts = [
            p("events_legacy", "2026-12-01T16:00:00Z"),
            p("events_p1", "2026-12-02T00:00:00Z"),
            p("events_p2", "2026-12-03T00:00:00Z"),
        ];
        let gone = expired(&parts, t("2026-12-02T00:00:00Z"));
        assert_eq!(
            gone.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["events_legacy", "events_p1"]
        );
    }
}
