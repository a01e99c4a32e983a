//! The consumer's rebalance callback: a newly assigned partition starts at the position
//! stored in PostgreSQL (ARCHITECTURE.md, invariant 1), and the fetch stage learns of every
//! change of assignment. Before seeking, each stored position is compared with the
//! broker's log ([`super::log_incidents`]): a log replaced or expired under it is said.

use super::log_incidents;
use super::writer::load_stored;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

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
}

impl ClientContext for PositionsContext {}

impl PositionsContext {
    pub(crate) fn new(database_url: String, group_id: String) -> Self {
        PositionsContext {
            database_url,
            group_id,
            assignment: Mutex::new((0, Vec::new())),
            incarnations: Mutex::new(HashMap::new()),
        }
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

    /// Stored (incarnation, next offset) per partition.
    fn stored_positions(&self) -> anyhow::Result<BTreeMap<(String, i32), (i32, i64)>> {
        self.with_db(|pool, group| async move { load_stored(&pool, &group).await })
    }

    /// Compares the stored positions of the assigned partitions with the broker's logs,
    /// reports each disagreement once (whichever console records it first says it), and
    /// starts a new incarnation of each partition whose log was replaced. True if a stored
    /// position moved (the caller loads them again).
    fn check_logs(
        &self,
        consumer: &BaseConsumer<Self>,
        parts: &[(String, i32)],
        stored: &BTreeMap<(String, i32), (i32, i64)>,
    ) -> bool {
        let positions: BTreeMap<(String, i32), i64> = stored
            .iter()
            .map(|(k, (_, next))| (k.clone(), *next))
            .collect();
        let held: Vec<(String, i32)> = parts
            .iter()
            .filter(|p| positions.contains_key(*p))
            .cloned()
            .collect();
        let marks = log_incidents::watermarks(consumer, &held);
        let found = log_incidents::check(&positions, &marks);
        if found.is_empty() {
            return false;
        }
        let seen: Vec<i32> = found
            .iter()
            .map(|i| {
                stored
                    .get(&(i.topic.clone(), i.partition))
                    .map_or(0, |s| s.0)
            })
            .collect();
        let acted = self.with_db(|pool, group| async move {
            for i in log_incidents::record(&pool, &group, &found).await? {
                log_incidents::report(&i);
            }
            let mut moved = false;
            for (i, seen) in found.iter().zip(seen) {
                if i.kind == log_incidents::Kind::LogReplaced {
                    log_incidents::start_new_incarnation(&pool, &group, i, seen).await?;
                    moved = true;
                }
            }
            Ok(moved)
        });
        acted.unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot record log incidents");
            false
        })
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
                for (topic, partition) in &parts {
                    let stored = positions.get(&(topic.clone(), *partition));
                    self.set_incarnation(topic, *partition, stored.map_or(0, |s| s.0));
                    let offset = match stored {
                        Some((_, next)) => Offset::Offset(*next),
                        None => Offset::Stored,
                    };
                    let _ = tpl.set_partition_offset(topic, *partition, offset);
                }
                tracing::info!(partitions = parts.len(), "partitions assigned");
                match consumer.assign(tpl) {
                    Ok(()) => self.set_assignment(parts),
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
