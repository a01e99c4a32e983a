//! The consumer's rebalance callback: a newly assigned partition starts at the position
//! stored in PostgreSQL (ARCHITECTURE.md, invariant 1), and the fetch stage learns of every
//! change of assignment.

use super::writer::load_positions;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
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

    /// Called by the rebalance callback, which runs inside the fetch stage's poll of the
    /// main queue: the stage reads the change right after that poll.
    fn set_assignment(&self, partitions: Vec<(String, i32)>) {
        let mut a = self.assignment.lock().unwrap_or_else(|e| e.into_inner());
        *a = (a.0 + 1, partitions);
    }

    /// Loads stored positions over a short-lived connection on a thread of its own: the
    /// callback runs inside librdkafka's poll and must not depend on the caller's runtime.
    fn stored_positions(&self) -> anyhow::Result<std::collections::BTreeMap<(String, i32), i64>> {
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
                    let positions = load_positions(&pool, &group).await?;
                    pool.close().await;
                    Ok(positions)
                })
            })
            .join()
            .map_err(|_| anyhow::anyhow!("position loader panicked"))?
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
