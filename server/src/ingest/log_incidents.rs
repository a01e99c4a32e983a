//! When the log under a stored position changed: the broker no longer agrees with what
//! ingest stored, and saying nothing would drop records in silence.
//!
//! Each partition's stored position is compared with the broker's log start and end
//! offsets ([`check`], pure):
//! - **log replaced** — the stored position is past the log's end: the log was truncated,
//!   the topic deleted and recreated, the cluster rebuilt, or offsets reset. The records
//!   now at offsets below the stored position are new, and would be taken for ones
//!   already stored;
//! - **records expired** — the stored position is below the log's start: retention
//!   deleted records ingest never read (a gap from the stored position to the log start);
//! - **topic recreated** — the topic's id (KIP-516) is not the one the stored position
//!   was read under: the topic was deleted and created again, and its new log may already
//!   have grown past the stored position, where offsets alone see nothing wrong. Judged
//!   like a replaced log.
//!
//! It runs at every assignment (the rebalance callback), every `SWITCHYARD_LOG_CHECK_SECS`
//! while ingest runs, and at once when a fetch finds its position out of the log's range
//! (ingest sets `auto.offset.reset=error`: librdkafka never jumps over a gap or onto a new
//! log by itself) — see [`watch`].
//!
//! Each is recorded once in `log_incidents` ([`record`]): an open incident's key is the
//! group, partition, kind and stored position, so a second console in the group, or the
//! same console after a restart, finds it recorded and does not report it again. Whoever
//! records it logs it as an error naming the topic, partition and offsets, and counts it in
//! `/metrics`; the overview shows open incidents as a banner until resolved.
//!
//! Then the configured [`Policy`] acts ([`act`]), in PostgreSQL, guarded by the position
//! seen, so of two consoles or two checks exactly one acts: a new incarnation of a replaced
//! log, read from its start; a gap read past; or the partition paused (nothing stored, the
//! position held) until an admin decides. The consumer then follows what is stored
//! ([`Holder::follow`]).

use super::writer::{load_stored, Stored};
use rdkafka::consumer::Consumer;
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// What changed under a stored position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    LogReplaced,
    RecordsExpired,
    TopicRecreated,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LogReplaced => "log_replaced",
            Kind::RecordsExpired => "records_expired",
            Kind::TopicRecreated => "topic_recreated",
        }
    }

    /// The kind stored as `s`.
    pub fn parse(s: &str) -> Option<Kind> {
        [
            Kind::LogReplaced,
            Kind::RecordsExpired,
            Kind::TopicRecreated,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether the stored position is in another log than the one the broker has now.
    fn new_log(self) -> bool {
        self != Kind::RecordsExpired
    }
}

/// What ingest does about a replaced log (`SWITCHYARD_ON_LOG_REPLACED`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnReplaced {
    /// Keep everything stored and read the new log from its start as a new incarnation.
    #[default]
    NewIncarnation,
    /// Hold the partition until an admin decides.
    Pause,
}

/// What ingest does about expired records (`SWITCHYARD_ON_RECORDS_EXPIRED`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnExpired {
    /// Record the gap and read on from the log's start.
    #[default]
    Continue,
    /// Hold the partition until an admin decides.
    Pause,
}

/// The policy for each kind of incident.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub on_replaced: OnReplaced,
    pub on_expired: OnExpired,
}

impl Policy {
    fn pauses(self, kind: Kind) -> bool {
        if kind.new_log() {
            self.on_replaced == OnReplaced::Pause
        } else {
            self.on_expired == OnExpired::Pause
        }
    }
}

/// One partition whose log disagrees with the stored position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    pub topic: String,
    pub partition: i32,
    pub kind: Kind,
    /// The incarnation of the partition's log the stored position is in.
    pub incarnation: i32,
    /// The next offset ingest had stored.
    pub stored: i64,
    /// The broker's log start and end (high watermark) offsets.
    pub log_start: i64,
    pub log_end: i64,
    /// The topic's id now, and the one the stored position was read under (KIP-516).
    pub topic_id: Option<String>,
    pub stored_topic_id: Option<String>,
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
            Kind::TopicRecreated => format!(
                "topic recreated under {}/{}: its id is {} where the stored position {} was read under {}; the new log (offsets {}..{}) is not the one stored",
                self.topic,
                self.partition,
                self.topic_id.as_deref().unwrap_or("?"),
                self.stored,
                self.stored_topic_id.as_deref().unwrap_or("?"),
                self.log_start,
                self.log_end
            ),
        }
    }
}

/// A partition and its log's (start, end) offsets, as the broker says.
pub type Watermarks = ((String, i32), (i64, i64));

/// What the broker says of the assigned partitions' logs.
#[derive(Clone, Debug, Default)]
pub struct LogState {
    pub watermarks: Vec<Watermarks>,
    /// Each topic's id (KIP-516), where the broker has one.
    pub topic_ids: HashMap<String, String>,
}

/// The partitions of `log` whose stored position the log no longer agrees with. A
/// partition without a stored position has nothing to disagree with; a paused one waits
/// for an admin's decision on the incident that paused it.
pub fn check(stored: &BTreeMap<(String, i32), Stored>, log: &LogState) -> Vec<Incident> {
    log.watermarks
        .iter()
        .filter_map(|((topic, partition), (low, high))| {
            let s = stored.get(&(topic.clone(), *partition))?;
            let id_now = log.topic_ids.get(topic);
            let recreated = matches!((&s.topic_id, id_now), (Some(was), Some(now)) if was != now);
            let kind = if s.paused {
                return None;
            } else if s.next > *high {
                Kind::LogReplaced
            } else if recreated {
                Kind::TopicRecreated
            } else if s.next < *low {
                Kind::RecordsExpired
            } else {
                return None;
            };
            Some(Incident {
                topic: topic.clone(),
                partition: *partition,
                kind,
                incarnation: s.incarnation,
                stored: s.next,
                log_start: *low,
                log_end: *high,
                topic_id: id_now.cloned(),
                stored_topic_id: s.topic_id.clone(),
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
                 log_start, log_end, incarnation, topic_id, stored_topic_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
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
        .bind(i.incarnation)
        .bind(&i.topic_id)
        .bind(&i.stored_topic_id)
        .fetch_optional(pool)
        .await?;
        if inserted.is_some() {
            fresh.push(i.clone());
        }
    }
    Ok(fresh)
}

/// Applies `policy` to an open incident, in one transaction guarded by the stored position
/// the incident was found at: of two consoles, or two checks, one acts (true), the other
/// finds the position moved (false). Everything stored stays: history is not rewritten.
pub async fn act(pool: &PgPool, group: &str, i: &Incident, policy: Policy) -> sqlx::Result<bool> {
    let paused = policy.pauses(i.kind);
    // Moved on, the position is in the log the topic has now: its id goes with it (a
    // paused one takes it when an admin resumes it, see [`resume`]).
    let (set, note) = if paused {
        (
            "paused = true",
            "partition paused until an admin decides".to_string(),
        )
    } else if i.kind.new_log() {
        (
            "incarnation = incarnation + 1, next_offset = $5, topic_id = COALESCE($7, topic_id)",
            format!(
                "new incarnation {}: the new log is read from offset {}",
                i.incarnation + 1,
                i.log_start
            ),
        )
    } else {
        (
            "next_offset = $5, topic_id = COALESCE($7, topic_id)",
            format!("gap recorded; read on from offset {}", i.log_start),
        )
    };
    let mut tx = pool.begin().await?;
    let moved = sqlx::query(&format!(
        "UPDATE consumer_positions SET {set}, updated_at = now()
          WHERE group_id = $1 AND topic = $2 AND kafka_partition = $3
            AND incarnation = $4 AND next_offset = $6 AND NOT paused"
    ))
    .bind(group)
    .bind(&i.topic)
    .bind(i.partition)
    .bind(i.incarnation)
    .bind(i.log_start)
    .bind(i.stored)
    .bind(&i.topic_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(false);
    }
    mark(&mut tx, group, i, &note, paused).await?;
    tx.commit().await?;
    tracing::warn!(topic = %i.topic, partition = i.partition, "{note}");
    Ok(true)
}

/// An admin's decision on a paused partition: read on from offset `from`, as the next
/// incarnation when the incident's `kind` is a new log, under the topic's id when the
/// incident was found. In the caller's transaction; the incarnation now, or `None` if the
/// partition is no longer paused.
pub async fn resume(
    tx: &mut Transaction<'_, Postgres>,
    group: &str,
    topic: &str,
    partition: i32,
    kind: &str,
    from: i64,
    topic_id: Option<&str>,
) -> sqlx::Result<Option<i32>> {
    let renew = i32::from(Kind::parse(kind).is_some_and(Kind::new_log));
    sqlx::query_scalar(
        "UPDATE consumer_positions
            SET paused = false, next_offset = $4, incarnation = incarnation + $5,
                topic_id = COALESCE($6, topic_id), updated_at = now()
          WHERE group_id = $1 AND topic = $2 AND kafka_partition = $3 AND paused
          RETURNING incarnation",
    )
    .bind(group)
    .bind(topic)
    .bind(partition)
    .bind(from)
    .bind(renew)
    .bind(topic_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Notes on the open incident what was done, and whether it holds its partition paused.
async fn mark(
    tx: &mut Transaction<'_, Postgres>,
    group: &str,
    i: &Incident,
    note: &str,
    paused: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE log_incidents SET action = $6, paused = $7
          WHERE group_id = $1 AND topic = $2 AND kafka_partition = $3 AND kind = $4
            AND stored_offset = $5 AND resolved_at IS NULL",
    )
    .bind(group)
    .bind(&i.topic)
    .bind(i.partition)
    .bind(i.kind.as_str())
    .bind(i.stored)
    .bind(note)
    .bind(paused)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records, reports and acts on `found`: the one sequence every check runs; then stamps
/// the topic id on the positions of `log` that have none yet. Returns the partitions whose
/// stored position this process moved or paused.
pub async fn handle(
    pool: &PgPool,
    group: &str,
    found: &[Incident],
    log: &LogState,
    policy: Policy,
) -> sqlx::Result<Vec<(String, i32)>> {
    for i in record(pool, group, found).await? {
        report(&i);
    }
    let mut acted = Vec::new();
    for i in found {
        if act(pool, group, i, policy).await? {
            acted.push((i.topic.clone(), i.partition));
        }
    }
    remember_topic_ids(pool, group, log).await?;
    Ok(acted)
}

/// Each topic's id as seen now: a partition's first stored position takes it
/// (`claim_positions`).
async fn note_topic_ids(pool: &PgPool, group: &str, log: &LogState) -> sqlx::Result<()> {
    if log.topic_ids.is_empty() {
        return Ok(());
    }
    let (topics, ids): (Vec<&str>, Vec<&str>) = log
        .topic_ids
        .iter()
        .map(|(t, id)| (t.as_str(), id.as_str()))
        .unzip();
    sqlx::query(
        "INSERT INTO ingest_topic_ids (group_id, topic, topic_id)
         SELECT $1, * FROM UNNEST($2::text[], $3::text[])
         ON CONFLICT (group_id, topic) DO UPDATE
            SET topic_id = EXCLUDED.topic_id, seen_at = now()
          WHERE ingest_topic_ids.topic_id <> EXCLUDED.topic_id",
    )
    .bind(group)
    .bind(&topics)
    .bind(&ids)
    .execute(pool)
    .await?;
    Ok(())
}

/// The first time a partition's topic id is seen, it is stored with its position: the log
/// the position is in from then on. And each topic's id as seen now.
async fn remember_topic_ids(pool: &PgPool, group: &str, log: &LogState) -> sqlx::Result<()> {
    note_topic_ids(pool, group, log).await?;
    let (mut topics, mut partitions, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for ((topic, partition), _) in &log.watermarks {
        if let Some(id) = log.topic_ids.get(topic) {
            topics.push(topic.as_str());
            partitions.push(*partition);
            ids.push(id.as_str());
        }
    }
    if topics.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE consumer_positions p SET topic_id = u.id
           FROM UNNEST($2::text[], $3::int4[], $4::text[]) AS u(topic, kafka_partition, id)
          WHERE p.group_id = $1 AND p.topic = u.topic AND p.kafka_partition = u.kafka_partition
            AND p.topic_id IS NULL",
    )
    .bind(group)
    .bind(&topics)
    .bind(&partitions)
    .bind(&ids)
    .execute(pool)
    .await?;
    Ok(())
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

/// What the broker says of the logs of `parts`: their (start, end) offsets and their
/// topics' ids (blocking; a partition whose watermarks cannot be had is left out, and so
/// not checked; without ids, offsets alone are compared).
pub(crate) fn log_state<C: rdkafka::consumer::ConsumerContext>(
    consumer: &rdkafka::consumer::BaseConsumer<C>,
    parts: &[(String, i32)],
) -> LogState {
    LogState {
        watermarks: watermarks(consumer, parts),
        topic_ids: topic_ids_of(consumer, parts),
    }
}

/// The ids of the topics of `parts` (blocking; none where the broker has none).
pub(crate) fn topic_ids_of<C: rdkafka::consumer::ConsumerContext>(
    consumer: &rdkafka::consumer::BaseConsumer<C>,
    parts: &[(String, i32)],
) -> HashMap<String, String> {
    let mut topics: Vec<&str> = parts.iter().map(|(t, _)| t.as_str()).collect();
    topics.sort_unstable();
    topics.dedup();
    switchyard_contract::kafka::topic_ids::topic_ids(
        consumer.client(),
        &topics,
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| {
        tracing::debug!(error = %e, "no topic ids: logs compared by offsets alone");
        HashMap::new()
    })
}

/// The logs' (start, end) offsets of `parts`, as the broker says (blocking).
pub(crate) fn watermarks<C: rdkafka::consumer::ConsumerContext>(
    consumer: &rdkafka::consumer::BaseConsumer<C>,
    parts: &[(String, i32)],
) -> Vec<Watermarks> {
    parts
        .iter()
        .filter_map(|(topic, partition)| {
            match consumer.fetch_watermarks(topic, *partition, Duration::from_secs(5)) {
                Ok(m) => Some(((topic.clone(), *partition), m)),
                Err(e) => {
                    tracing::debug!(%topic, partition, error = %e, "no watermarks: log not checked");
                    None
                }
            }
        })
        .collect()
}

/// What the watch needs of the consumer that holds the partitions.
pub(crate) trait Holder: Send + Sync + 'static {
    /// The partitions assigned now.
    fn assigned(&self) -> Vec<(String, i32)>;
    /// What the broker says of their logs (blocking).
    fn log_state(&self, parts: &[(String, i32)]) -> LogState;
    /// The partitions whose fetch stopped out of the log's range since last asked.
    fn stopped(&self) -> Vec<(String, i32)>;
    /// The incarnation read and whether the partition is paused, in this consumer.
    fn reading(&self, topic: &str, partition: i32) -> (i32, bool);
    /// Reads the partition as `stored` says: in its incarnation, from its next offset, or
    /// not at all while paused.
    fn follow(&self, topic: &str, partition: i32, stored: Stored);
}

/// While ingest runs: every `every`, or at once when `soon` is notified (a fetch found its
/// position out of the log's range), the assigned partitions' stored positions against
/// their logs; and the consumer follows what is stored (an admin's decision on a paused
/// partition, a position an incident moved). Stops with `shutdown`.
pub(crate) async fn watch(
    pool: PgPool,
    group: String,
    holder: Arc<impl Holder>,
    policy: Policy,
    every: Duration,
    soon: Arc<tokio::sync::Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = soon.notified() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        if let Err(e) = check_running(&pool, &group, holder.clone(), policy).await {
            tracing::warn!(error = %e, "log check skipped: database unavailable");
        }
    }
}

/// One check while running (see [`watch`]).
async fn check_running(
    pool: &PgPool,
    group: &str,
    holder: Arc<impl Holder>,
    policy: Policy,
) -> sqlx::Result<()> {
    let parts = holder.assigned();
    if parts.is_empty() {
        return Ok(());
    }
    // Taken before the check: a partition stopped after it is followed at the next one.
    let stopped = holder.stopped();
    let mut acted = Vec::new();
    for _ in 0..5 {
        // Positions first, then the broker: a live log's end has only grown since, so a
        // position past it is not one that merely ran ahead of an older answer.
        let before = load_stored(pool, group).await?;
        let h = holder.clone();
        let asked = parts.clone();
        let log = tokio::task::spawn_blocking(move || h.log_state(&asked))
            .await
            .unwrap_or_default();
        let found = check(&before, &log);
        if found.is_empty() {
            remember_topic_ids(pool, group, &log).await?;
            break;
        }
        // Records fetched before the log changed may still be on their way into
        // PostgreSQL: judged only where the position stood still meanwhile.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (sure, moving) = stood_still(found, &load_stored(pool, group).await?);
        acted.extend(handle(pool, group, &sure, &log, policy).await?);
        if moving == 0 {
            break;
        }
    }
    // The consumer follows the stored positions it differs from, and those just moved.
    let stored = load_stored(pool, group).await?;
    let follow: Vec<((String, i32), Stored)> = parts
        .into_iter()
        .filter_map(|(topic, partition)| {
            let s = stored.get(&(topic.clone(), partition))?;
            let key = (topic.clone(), partition);
            let moved = acted.contains(&key) || stopped.contains(&key);
            (moved || holder.reading(&topic, partition) != (s.incarnation, s.paused))
                .then(|| ((topic, partition), s.clone()))
        })
        .collect();
    if !follow.is_empty() {
        // Seeking waits on librdkafka: not on the runtime's threads.
        let _ = tokio::task::spawn_blocking(move || {
            for ((topic, partition), s) in follow {
                holder.follow(&topic, partition, s);
            }
        })
        .await;
    }
    Ok(())
}

/// The incidents whose partition's stored position has not moved since they were found
/// (in-flight batches landed or none were left), and how many others moved: those are
/// judged again on fresh answers.
fn stood_still(
    found: Vec<Incident>,
    now: &BTreeMap<(String, i32), Stored>,
) -> (Vec<Incident>, usize) {
    let total = found.len();
    let sure: Vec<Incident> = found
        .into_iter()
        .filter(|i| {
            now.get(&(i.topic.clone(), i.partition))
                .is_some_and(|s| s.next == i.stored && s.incarnation == i.incarnation && !s.paused)
        })
        .collect();
    let moving = total - sure.len();
    (sure, moving)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str, p: i32) -> (String, i32) {
        (t.to_string(), p)
    }

    fn next(n: i64) -> Stored {
        Stored {
            incarnation: 0,
            next: n,
            paused: false,
            topic_id: None,
        }
    }

    fn offsets(marks: &[Watermarks]) -> LogState {
        LogState {
            watermarks: marks.to_vec(),
            topic_ids: HashMap::new(),
        }
    }

    #[test]
    fn a_normal_restart_is_no_incident() {
        let stored = BTreeMap::from([
            (at("a", 0), next(200)),
            (at("a", 1), next(0)),
            (at("b", 0), next(5)),
        ]);
        // At the end, at the start, in between, and a partition never stored.
        let marks = [
            (at("a", 0), (0, 200)),
            (at("a", 1), (0, 0)),
            (at("b", 0), (5, 9)),
            (at("c", 0), (100, 300)),
        ];
        assert!(check(&stored, &offsets(&marks)).is_empty());
    }

    #[test]
    fn replaced_and_expired_logs_are_told_apart() {
        let stored = BTreeMap::from([(at("orders", 0), next(200)), (at("payments", 3), next(10))]);
        let marks = [(at("orders", 0), (0, 100)), (at("payments", 3), (50, 80))];
        let found = check(&stored, &offsets(&marks));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].kind, Kind::LogReplaced);
        assert!(found[0].describe().contains("orders/0"));
        assert!(found[0].describe().contains("200"));
        assert!(found[0].describe().contains("100"));
        assert_eq!(found[1].kind, Kind::RecordsExpired);
        assert!(found[1].describe().contains("offsets 10..50"));
    }

    #[test]
    fn a_paused_partition_waits_for_its_decision() {
        let paused = Stored {
            paused: true,
            ..next(200)
        };
        let stored = BTreeMap::from([(at("orders", 0), paused)]);
        assert!(check(&stored, &offsets(&[(at("orders", 0), (0, 100))])).is_empty());
    }

    #[test]
    fn each_policy_pauses_only_its_own_kind() {
        let p = Policy {
            on_replaced: OnReplaced::Pause,
            on_expired: OnExpired::Continue,
        };
        assert!(p.pauses(Kind::LogReplaced));
        assert!(!p.pauses(Kind::RecordsExpired));
        assert!(!Policy::default().pauses(Kind::LogReplaced));
        assert!(!Policy::default().pauses(Kind::RecordsExpired));
    }

    #[test]
    fn a_recreated_topic_is_told_by_its_id_even_when_its_offsets_fit() {
        let was = Stored {
            topic_id: Some("old-id".into()),
            ..next(50)
        };
        let unseen = next(50);
        let stored = BTreeMap::from([(at("orders", 0), was), (at("payments", 0), unseen)]);
        let log = |id: &str| LogState {
            watermarks: vec![(at("orders", 0), (0, 300)), (at("payments", 0), (0, 300))],
            topic_ids: HashMap::from([
                ("orders".to_string(), id.to_string()),
                ("payments".to_string(), "p-id".to_string()),
            ]),
        };
        // The same id: the log grew. An id never stored: nothing to compare yet.
        assert!(check(&stored, &log("old-id")).is_empty());
        let found = check(&stored, &log("new-id"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, Kind::TopicRecreated);
        assert_eq!(found[0].topic_id.as_deref(), Some("new-id"));
        assert!(
            found[0].describe().contains("old-id"),
            "{}",
            found[0].describe()
        );
        // Without ids (an older broker), offsets alone: nothing wrong seen.
        assert!(check(&stored, &offsets(&log("x").watermarks)).is_empty());
    }

    #[test]
    fn a_position_still_moving_is_not_judged_yet() {
        let stored = BTreeMap::from([(at("orders", 0), next(250)), (at("orders", 1), next(90))]);
        let log = offsets(&[(at("orders", 0), (0, 200)), (at("orders", 1), (100, 300))]);
        let found = check(&stored, &log);
        assert_eq!(found.len(), 2);
        // Partition 0 stood still (a replaced log); partition 1 moved on (in flight).
        let now = BTreeMap::from([(at("orders", 0), next(250)), (at("orders", 1), next(140))]);
        let (sure, moving) = stood_still(found, &now);
        assert_eq!(moving, 1);
        assert_eq!(sure.len(), 1);
        assert_eq!((sure[0].partition, sure[0].kind), (0, Kind::LogReplaced));
    }

    #[test]
    fn a_kind_reads_back_as_stored() {
        for k in [
            Kind::LogReplaced,
            Kind::RecordsExpired,
            Kind::TopicRecreated,
        ] {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("other"), None);
    }
}
