//! The consumer's rebalance callback: a newly assigned partition starts at the position
//! stored in PostgreSQL (ARCHITECTURE.md, invariant 1), and the fetch stage learns of every
//! change of assignment. Before seeking, each stored position is compared with the
//! broker's log ([`super::log_incidents`]): a log replaced or expired under it is said.

use super::log_incidents;
use super::writer::load_positions;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Consumer context whose rebalance callback seeks to the positions stored in PostgreSQL.
pub(crate) struct PositionsContext {
    database_url: String,
    group_id: String,
    /// The partitions assigned now, and how many times the assignment changed: the fetch
    /// stage gives each its own queue after every change.
    assignment: Mutex<(u64, Vec<(String, i32)>)>,
}

impl ClientContext for PositionsContext {}

impl PositionsContext {
    pub(crate) fn new(database_url: String, group_id: String) -> Self {
        PositionsContext {
            database_url,
            group_id,
            assignment: Mutex::new((0, Vec::new())),
        }
    }

    /// The assignment and its generation, if it changed since generation `seen`.
    pub(crate) fn assignment_since(&self, seen: u64) -> Option<(u64, Vec<(String, i32)>)> {
        let a = self.assignment.lock().unwrap_or_else(|e| e.into_inner());
        (a.0 != seen).then(|| a.clone())
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

    fn stored_positions(&self) -> anyhow::Result<BTreeMap<(String, i32), i64>> {
        self.with_db(|pool, group| async move { load_positions(&pool, &group).await })
    }

    /// Compares the stored positions of the assigned partitions with the broker's logs and
    /// reports each disagreement once (whichever console records it first says it).
    fn check_logs(
        &self,
        consumer: &BaseConsumer<Self>,
        parts: &[(String, i32)],
        positions: &BTreeMap<(String, i32), i64>,
    ) {
        let stored: Vec<(String, i32)> = parts
            .iter()
            .filter(|p| positions.contains_key(*p))
            .cloned()
            .collect();
        let marks = log_incidents::watermarks(consumer, &stored);
        let found = log_incidents::check(positions, &marks);
        if found.is_empty() {
            return;
        }
        let recorded = self.with_db(|pool, group| async move {
            log_incidents::record(&pool, &group, &found).await
        });
        match recorded {
            Ok(fresh) => fresh.iter().for_each(log_incidents::report),
            Err(e) => tracing::error!(error = %e, "cannot record log incidents"),
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
                self.check_logs(consumer, &parts, &positions);
                for (topic, partition) in &parts {
                    let offset = match positions.get(&(topic.clone(), *partition)) {
                        Some(next) => Offset::Offset(*next),
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
