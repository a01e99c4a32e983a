//! When the log under a stored position changed: the broker no longer agrees with what
//! ingest stored, and saying nothing would drop records in silence.
//!
//! On every assignment each partition's stored position is compared with the broker's
//! log start and end offsets ([`check`], pure):
//! - **log replaced** — the stored position is past the log's end: the log was truncated,
//!   the topic deleted and recreated, the cluster rebuilt, or offsets reset. The records
//!   now at offsets below the stored position are new, and would be taken for ones
//!   already stored;
//! - **records expired** — the stored position is below the log's start: retention
//!   deleted records ingest never read (a gap from the stored position to the log start).
//!
//! The same comparison runs every `SWITCHYARD_LOG_CHECK_SECS` while ingest runs
//! ([`watch`]), for a log replaced after the assignment.
//!
//! Each is recorded once in `log_incidents` ([`record`]): an open incident's key is the
//! group, partition, kind and stored position, so a second console in the group, or the
//! same console after a restart, finds it recorded and does not report it again. Whoever
//! records it logs it as an error naming the topic, partition and offsets, and counts it in
//! `/metrics`; the overview shows open incidents as a banner until resolved.

use rdkafka::consumer::Consumer;
use sqlx::PgPool;
use std::collections::BTreeMap;

/// What changed under a stored position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    LogReplaced,
    RecordsExpired,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LogReplaced => "log_replaced",
            Kind::RecordsExpired => "records_expired",
        }
    }
}

/// One partition whose log disagrees with the stored position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    pub topic: String,
    pub partition: i32,
    pub kind: Kind,
    /// The next offset ingest had stored.
    pub stored: i64,
    /// The broker's log start and end (high watermark) offsets.
    pub log_start: i64,
    pub log_end: i64,
}

impl Incident {
    /// The error line: what happened, where, and both offsets.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::LogReplaced => format!(
                "log replaced under {}/{}: stored position {} is past the log's end {} (topic recreated, truncated or offsets reset); records below {} on the new log are not ingested",
                self.topic, self.partition, self.stored, self.log_end, self.stored
            ),
            Kind::RecordsExpired => format!(
                "records expired before ingest read them on {}/{}: offsets {}..{} are gone (stored position {}, log start {})",
                self.topic, self.partition, self.stored, self.log_start, self.stored, self.log_start
            ),
        }
    }
}

/// A partition and its log's (start, end) offsets, as the broker says.
pub type Watermarks = ((String, i32), (i64, i64));

/// The partitions of `watermarks` whose stored position the log no longer agrees with. A
/// partition without a stored position has nothing to disagree with.
pub fn check(stored: &BTreeMap<(String, i32), i64>, watermarks: &[Watermarks]) -> Vec<Incident> {
    watermarks
        .iter()
        .filter_map(|((topic, partition), (low, high))| {
            let next = *stored.get(&(topic.clone(), *partition))?;
            let kind = if next > *high {
                Kind::LogReplaced
            } else if next < *low {
                Kind::RecordsExpired
            } else {
                return None;
            };
            Some(Incident {
                topic: topic.clone(),
                partition: *partition,
                kind,
                stored: next,
                log_start: *low,
                log_end: *high,
            })
        })
        .collect()
}

/// Records incidents not recorded yet (still open with the same stored position); returns
/// the ones recorded now — the ones this process reports.
pub async fn record(
    pool: &PgPool,
    group: &str,
    incidents: &[Incident],
) -> sqlx::Result<Vec<Incident>> {
    let mut fresh = Vec::new();
    for i in incidents {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO log_incidents (group_id, topic, kafka_partition, kind, stored_offset,
                 log_start, log_end)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (group_id, topic, kafka_partition, kind, stored_offset)
                 WHERE resolved_at IS NULL DO NOTHING
             RETURNING id",
        )
        .bind(group)
        .bind(&i.topic)
        .bind(i.partition)
        .bind(i.kind.as_str())
        .bind(i.stored)
        .bind(i.log_start)
        .bind(i.log_end)
        .fetch_optional(pool)
        .await?;
        if inserted.is_some() {
            fresh.push(i.clone());
        }
    }
    Ok(fresh)
}

/// The policy for a replaced log: a new incarnation of the partition. Everything stored
/// stays (history is not rewritten); the stored position moves to the new log's start
/// under the next incarnation, so the new log's records are read and stored as new, their
/// offsets never colliding with the old log's. Guarded by the position seen, so of two
/// consoles, or two checks, one moves it; returns the new incarnation if this one did.
pub async fn start_new_incarnation(
    pool: &PgPool,
    group: &str,
    i: &Incident,
    seen: i32,
) -> sqlx::Result<Option<i32>> {
    let mut tx = pool.begin().await?;
    let bumped: Option<i32> = sqlx::query_scalar(
        "UPDATE consumer_positions
            SET incarnation = incarnation + 1, next_offset = $5, updated_at = now()
          WHERE group_id = $1 AND topic = $2 AND kafka_partition = $3
            AND incarnation = $4 AND next_offset = $6
          RETURNING incarnation",
    )
    .bind(group)
    .bind(&i.topic)
    .bind(i.partition)
    .bind(seen)
    .bind(i.log_start)
    .bind(i.stored)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(n) = bumped {
        sqlx::query(
            "UPDATE log_incidents SET action = $6
              WHERE group_id = $1 AND topic = $2 AND kafka_partition = $3 AND kind = $4
                AND stored_offset = $5 AND resolved_at IS NULL",
        )
        .bind(group)
        .bind(&i.topic)
        .bind(i.partition)
        .bind(i.kind.as_str())
        .bind(i.stored)
        .bind(format!(
            "new incarnation {n}: the new log is read from offset {}",
            i.log_start
        ))
        .execute(&mut *tx)
        .await?;
        tracing::warn!(topic = %i.topic, partition = i.partition, incarnation = n,
            from = i.log_start, "reading the replaced log as a new incarnation of the partition");
    }
    tx.commit().await?;
    Ok(bumped)
}

/// The one error line and count of a newly recorded incident.
pub(crate) fn report(i: &Incident) {
    tracing::error!(topic = %i.topic, partition = i.partition, stored = i.stored,
        log_start = i.log_start, log_end = i.log_end, "{}", i.describe());
    crate::metrics::global()
        .ingest_log_incidents
        .get_or_create(&crate::metrics::KindLabels {
            kind: i.kind.as_str().into(),
        })
        .inc();
}

/// The logs' (start, end) offsets of `parts`, as the broker says (blocking; a partition
/// whose watermarks cannot be had is left out, and so not checked).
pub(crate) fn watermarks<C: rdkafka::consumer::ConsumerContext>(
    consumer: &rdkafka::consumer::BaseConsumer<C>,
    parts: &[(String, i32)],
) -> Vec<Watermarks> {
    parts
        .iter()
        .filter_map(|(topic, partition)| {
            match consumer.fetch_watermarks(topic, *partition, std::time::Duration::from_secs(5)) {
                Ok(m) => Some(((topic.clone(), *partition), m)),
                Err(e) => {
                    tracing::debug!(%topic, partition, error = %e, "no watermarks: log not checked");
                    None
                }
            }
        })
        .collect()
}

/// While ingest runs: every `every`, the assigned partitions' stored positions against
/// their logs (a log replaced or expired after the assignment). Stops with `shutdown`.
/// `assigned` says which partitions the consumer holds now; `renewed` is told of each
/// partition this check moved to a new incarnation (to read the new log from its start).
pub(crate) async fn watch<C: rdkafka::consumer::ConsumerContext + 'static>(
    pool: PgPool,
    group: String,
    consumer: std::sync::Arc<rdkafka::consumer::BaseConsumer<C>>,
    assigned: impl Fn() -> Vec<(String, i32)>,
    renewed: impl Fn(&Incident, i32),
    every: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let parts = assigned();
        if parts.is_empty() {
            continue;
        }
        let stored = match super::writer::load_stored(&pool, &group).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "log check skipped: positions not loaded");
                continue;
            }
        };
        let positions: BTreeMap<(String, i32), i64> = stored
            .iter()
            .map(|(k, (_, next))| (k.clone(), *next))
            .collect();
        let (c, asked) = (consumer.clone(), parts.clone());
        let marks = tokio::task::spawn_blocking(move || watermarks(&c, &asked))
            .await
            .unwrap_or_default();
        let found = check(&positions, &marks);
        if found.is_empty() {
            continue;
        }
        match record(&pool, &group, &found).await {
            Ok(fresh) => fresh.iter().for_each(report),
            Err(e) => tracing::error!(error = %e, "cannot record log incidents"),
        }
        for i in found.iter().filter(|i| i.kind == Kind::LogReplaced) {
            let seen = stored
                .get(&(i.topic.clone(), i.partition))
                .map_or(0, |s| s.0);
            match start_new_incarnation(&pool, &group, i, seen).await {
                Ok(Some(n)) => renewed(i, n),
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "cannot start a new incarnation"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str, p: i32) -> (String, i32) {
        (t.to_string(), p)
    }

    #[test]
    fn a_normal_restart_is_no_incident() {
        let stored = BTreeMap::from([(at("a", 0), 200), (at("a", 1), 0), (at("b", 0), 5)]);
        // At the end, at the start, in between, and a partition never stored.
        let marks = [
            (at("a", 0), (0, 200)),
            (at("a", 1), (0, 0)),
            (at("b", 0), (5, 9)),
            (at("c", 0), (100, 300)),
        ];
        assert!(check(&stored, &marks).is_empty());
    }

    #[test]
    fn replaced_and_expired_logs_are_told_apart() {
        let stored = BTreeMap::from([(at("orders", 0), 200), (at("payments", 3), 10)]);
        let marks = [(at("orders", 0), (0, 100)), (at("payments", 3), (50, 80))];
        let found = check(&stored, &marks);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].kind, Kind::LogReplaced);
        assert!(found[0].describe().contains("orders/0"));
        assert!(found[0].describe().contains("200"));
        assert!(found[0].describe().contains("100"));
        assert_eq!(found[1].kind, Kind::RecordsExpired);
        assert!(found[1].describe().contains("offsets 10..50"));
    }
}
