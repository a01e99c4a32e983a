//! The consumer's rebalance callback: a newly assigned partition starts at the position
//! stored in PostgreSQL (ARCHITECTURE.md, invariant 1), and the fetch stage learns of every
//! change of assignment. Before seeking, each stored position is compared with the
//! broker's log ([`super::log_incidents`]): a log replaced or expired under it is said and
//! acted on, and a paused partition stays paused. Also how the consumer follows a stored
//! position that changed while it runs ([`log_incidents::Holder`]).

use super::log_incidents::{self, LogState, Policy};
use super::writer::{load_stored, Stored};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Consumer context whose rebalance callback seeks to the positions stored in PostgreSQL.
pub(crate) struct PositionsContext {
    database_url: String,
    group_id: String,
    /// The partitions assigned now, and how many times the assignment changed: the fetch
    /// stage gives each its own queue after every change.
    assignment: Mutex<(u64, Vec<(String, i32)>)>,
    /// The incarnation of each assigned partition's log (what the fetch stage tags its
    /// batches with; see `log_incidents`).
    incarnations: Mutex<HashMap<(String, i32), i32>>,
    /// The partitions this consumer holds paused (an incident waits for an admin).
    paused: Mutex<HashSet<(String, i32)>>,
    policy: Policy,
    /// Told when a fetch finds its position out of the log's range: check the logs now.
    soon: Arc<Notify>,
    /// The partitions whose fetch stopped out of range since the last check (`None`: one
    /// on the main queue, which does not say which).
    stopped: Mutex<Vec<Option<(String, i32)>>>,
}

impl ClientContext for PositionsContext {}

impl PositionsContext {
    pub(crate) fn new(
        database_url: String,
        group_id: String,
        policy: Policy,
        soon: Arc<Notify>,
    ) -> Self {
        PositionsContext {
            database_url,
            group_id,
            assignment: Mutex::new((0, Vec::new())),
            incarnations: Mutex::new(HashMap::new()),
            paused: Mutex::new(HashSet::new()),
            policy,
            soon,
            stopped: Mutex::new(Vec::new()),
        }
    }

    /// A fetch found its position out of the log's range (`auto.offset.reset=error`) and
    /// librdkafka stopped that partition (`None`: which one is not known): the log watch
    /// checks at once, then has it read from its stored position again.
    pub(crate) fn out_of_range(&self, partition: Option<(String, i32)>) {
        self.stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(partition);
        self.soon.notify_one();
    }

    fn set_paused(&self, topic: &str, partition: i32, paused: bool) {
        let mut p = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        let key = (topic.to_string(), partition);
        if paused {
            p.insert(key);
        } else {
            p.remove(&key);
        }
    }

    fn is_paused(&self, topic: &str, partition: i32) -> bool {
        let p = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        p.contains(&(topic.to_string(), partition))
    }

    /// The assignment and its generation, if it changed since generation `seen`.
    pub(crate) fn assignment_since(&self, seen: u64) -> Option<(u64, Vec<(String, i32)>)> {
        let a = self.assignment.lock().unwrap_or_else(|e| e.into_inner());
        (a.0 != seen).then(|| a.clone())
    }

    /// The incarnation of a partition's log being read now.
    pub(crate) fn incarnation(&self, topic: &str, partition: i32) -> i32 {
        let m = self.incarnations.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&(topic.to_string(), partition)).copied().unwrap_or(0)
    }

    /// Sets the incarnation a partition's log is read in from now on.
    pub(crate) fn set_incarnation(&self, topic: &str, partition: i32, incarnation: i32) {
        let mut m = self.incarnations.lock().unwrap_or_else(|e| e.into_inner());
        m.insert((topic.to_string(), partition), incarnation);
    }

    /// The partitions assigned now.
    pub(crate) fn current_assignment(&self) -> Vec<(String, i32)> {
        let a = self.assignment.lock().unwrap_or_else(|e| e.into_inner());
        a.1.clone()
    }

    /// Called by the rebalance callback, which runs inside the fetch stage's poll of the
    /// main queue: the stage reads the change right after that poll.
    fn set_assignment(&self, partitions: Vec<(String, i32)>) {
        let mut a = self.assignment.lock().unwrap_or_else(|e| e.into_inner());
        *a = (a.0 + 1, partitions);
    }

    /// Runs `f` over a short-lived connection on a thread of its own: the callback runs
    /// inside librdkafka's poll and must not depend on the caller's runtime.
    fn with_db<T, F, Fut>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send,
        F: FnOnce(sqlx::PgPool, String) -> Fut + Send,
        Fut: std::future::Future<Output = sqlx::Result<T>>,
    {
        let url = self.database_url.clone();
        let group = self.group_id.clone();
        std::thread::scope(|s| {
            s.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    let pool = sqlx::postgres::PgPoolOptions::new()
                        .max_connections(1)
                        .connect(&url)
                        .await?;
                    let out = f(pool.clone(), group).await;
                    pool.close().await;
                    Ok(out?)
                })
            })
            .join()
            .map_err(|_| anyhow::anyhow!("database helper panicked"))?
        })
    }

    /// Stored positions per partition.
    fn stored_positions(&self) -> anyhow::Result<BTreeMap<(String, i32), Stored>> {
        self.with_db(|pool, group| async move { load_stored(&pool, &group).await })
    }

    /// Compares the stored positions of the assigned partitions with the broker's logs,
    /// reports each disagreement once (whichever console records it first says it), and
    /// acts on it by the policy. True if a stored position moved (the caller loads them
    /// again).
    fn check_logs(
        &self,
        consumer: &BaseConsumer<Self>,
        parts: &[(String, i32)],
        stored: &BTreeMap<(String, i32), Stored>,
    ) -> bool {
        let held: Vec<(String, i32)> = parts
            .iter()
            .filter(|p| stored.contains_key(*p))
            .cloned()
            .collect();
        // Ids of every assigned topic (a partition's first position takes its topic's);
        // offsets of the partitions with a position to compare.
        let log = LogState {
            watermarks: log_incidents::watermarks(consumer, &held),
            topic_ids: log_incidents::topic_ids_of(consumer, parts),
        };
        let found = log_incidents::check(stored, &log);
        let policy = self.policy;
        let acted = self.with_db(|pool, group| async move {
            log_incidents::handle(&pool, &group, &found, &log, policy).await
        });
        match acted {
            Ok(moved) => !moved.is_empty(),
            Err(e) => {
                tracing::error!(error = %e, "cannot record log incidents");
                false
            }
        }
    }
}

impl ConsumerContext for PositionsContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let positions = loop {
                    match self.stored_positions() {
                        Ok(p) => break p,
                        Err(e) => {
                            // Assigning without positions could re-read or skip: wait instead.
                            tracing::warn!(error = %e, "cannot load stored positions; retrying");
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                };
                let parts: Vec<(String, i32)> = tpl
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect();
                let mut positions = positions;
                if self.check_logs(consumer, &parts, &positions) {
                    if let Ok(p) = self.stored_positions() {
                        positions = p;
                    }
                }
                let mut paused = TopicPartitionList::new();
                self.paused
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                for (topic, partition) in &parts {
                    let stored = positions.get(&(topic.clone(), *partition));
                    self.set_incarnation(topic, *partition, stored.map_or(0, |s| s.incarnation));
                    // A partition with nothing stored is read from its start: PostgreSQL,
                    // not the group's offsets in Kafka, says what is stored.
                    let offset = stored.map_or(Offset::Beginning, |s| Offset::Offset(s.next));
                    let _ = tpl.set_partition_offset(topic, *partition, offset);
                    if stored.is_some_and(|s| s.paused) {
                        paused.add_partition(topic, *partition);
                        self.set_paused(topic, *partition, true);
                    }
                }
                tracing::info!(
                    partitions = parts.len(),
                    paused = paused.count(),
                    "partitions assigned"
                );
                match consumer.assign(tpl) {
                    Ok(()) => {
                        if paused.count() > 0 {
                            if let Err(e) = consumer.pause(&paused) {
                                tracing::error!(error = %e, "cannot pause the paused partitions; nothing is stored from them");
                            }
                        }
                        self.set_assignment(parts)
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "assign failed");
                        self.set_assignment(Vec::new());
                    }
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(partitions = tpl.count(), "partitions revoked");
                let _ = consumer.unassign();
                self.set_assignment(Vec::new());
            }
            other => {
                tracing::error!(?other, "rebalance error");
                let _ = consumer.unassign();
                self.set_assignment(Vec::new());
            }
        }
    }
}

impl log_incidents::Holder for BaseConsumer<PositionsContext> {
    fn assigned(&self) -> Vec<(String, i32)> {
        self.context().current_assignment()
    }

    fn log_state(&self, parts: &[(String, i32)]) -> LogState {
        log_incidents::log_state(self, parts)
    }

    fn stopped(&self) -> Vec<(String, i32)> {
        let c = self.context();
        let stopped = std::mem::take(&mut *c.stopped.lock().unwrap_or_else(|e| e.into_inner()));
        if stopped.iter().any(Option::is_none) {
            return c.current_assignment();
        }
        stopped.into_iter().flatten().collect()
    }

    fn reading(&self, topic: &str, partition: i32) -> (i32, bool) {
        let c = self.context();
        (
            c.incarnation(topic, partition),
            c.is_paused(topic, partition),
        )
    }

    fn follow(&self, topic: &str, partition: i32, stored: Stored) {
        let c = self.context();
        let mut one = TopicPartitionList::new();
        one.add_partition(topic, partition);
        c.set_incarnation(topic, partition, stored.incarnation);
        if stored.paused {
            if let Err(e) = self.pause(&one) {
                tracing::warn!(%topic, partition, error = %e, "cannot pause; nothing is stored from it meanwhile");
            }
            c.set_paused(topic, partition, true);
            return;
        }
        // A seek also revives a partition whose fetch stopped out of the log's range.
        if let Err(e) = self.seek(
            topic,
            partition,
            Offset::Offset(stored.next),
            Duration::from_secs(5),
        ) {
            tracing::warn!(%topic, partition, error = %e, "cannot seek; it is read from its stored position after the next rebalance");
        }
        if c.is_paused(topic, partition) {
            if let Err(e) = self.resume(&one) {
                tracing::warn!(%topic, partition, error = %e, "cannot resume");
            }
            c.set_paused(topic, partition, false);
        }
        tracing::info!(%topic, partition, incarnation = stored.incarnation, from = stored.next,
            "reading the partition from its stored position");
    }
}
