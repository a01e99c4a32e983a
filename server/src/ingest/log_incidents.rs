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
//! Each is recorded once in `log_incidents` ([`record`]): an open incident's key is the
//! group, partition, kind and stored position, so a second console in the group, or the
//! same console after a restart, finds it recorded and does not report it again. Whoever
//! records it logs it as an error naming the topic, partition and offsets, and counts it in
//! `/metrics`; the overview shows open incidents as a banner until resolved.

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
