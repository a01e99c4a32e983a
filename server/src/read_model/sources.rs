//! What the console reads, for the admin page: the cluster, the security protocol and the
//! (masked) client properties, and for each configured topic entry — a name or a
//! `^pattern` — the topics of the cluster it matched, with their partitions and lag.
//! An operator pointing the console at their own cluster sees here whether their patterns
//! match what they meant.

use super::log_ends::LogEnds;
use crate::ingest::consumer::Topics;
use rdkafka::producer::{FutureProducer, Producer};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use switchyard_app::admin::{KafkaView, TopicEntryView, TopicLagView};
use switchyard_contract::kafka::{diagnosis, properties};

/// What the view is made from.
#[derive(Clone)]
pub struct Sources {
    pub brokers: String,
    pub group: String,
    pub topics: Topics,
    pub kafka: FutureProducer,
    pub log_ends: LogEnds,
}

impl Sources {
    pub async fn view(&self, pool: &PgPool) -> sqlx::Result<KafkaView> {
        let props = properties::global().ok();
        let mut view = KafkaView {
            brokers: self.brokers.clone(),
            security_protocol: props
                .map(|p| p.security_protocol())
                .unwrap_or_else(|| "PLAINTEXT".into()),
            properties: props.map(|p| p.masked()).unwrap_or_default(),
            entries: Vec::new(),
            error: None,
        };
        let kafka = self.kafka.clone();
        let listed = tokio::task::spawn_blocking(move || cluster_topics(&kafka))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let cluster = match listed {
            Ok(c) => c,
            Err(e) => {
                view.error = Some(diagnosis::current_problem().unwrap_or(format!("Kafka: {e}")));
                BTreeMap::new()
            }
        };
        let matched: Vec<(&str, i32)> = cluster
            .iter()
            .filter(|(t, _)| self.topics.events.matches(t) || self.topics.dead_letters.matches(t))
            .map(|(t, p)| (t.as_str(), *p))
            .collect();
        let lag = self.lag(pool, &matched).await?;
        for (kind, selection) in [
            ("events", &self.topics.events),
            ("dead letters", &self.topics.dead_letters),
        ] {
            for entry in selection.entries() {
                let topics = matched
                    .iter()
                    .filter(|(t, _)| selection.matching_entries(t).any(|e| e == entry))
                    .map(|(t, p)| TopicLagView {
                        topic: t.to_string(),
                        partitions: *p,
                        lag: lag.get(*t).copied().flatten(),
                    })
                    .collect();
                view.entries.push(TopicEntryView {
                    kind: kind.into(),
                    entry: entry.clone(),
                    topics,
                });
            }
        }
        Ok(view)
    }

    /// Per topic: the records between the group's stored positions (or the log's start
    /// when none is stored) and the high watermarks, over all partitions.
    async fn lag(
        &self,
        pool: &PgPool,
        topics: &[(&str, i32)],
    ) -> sqlx::Result<HashMap<String, Option<i64>>> {
        let stored: Vec<(String, i32, i64)> = sqlx::query_as(
            "SELECT topic, kafka_partition, next_offset FROM consumer_positions WHERE group_id = $1",
        )
        .bind(&self.group)
        .fetch_all(pool)
        .await?;
        let stored: HashMap<(String, i32), i64> =
            stored.into_iter().map(|(t, p, n)| ((t, p), n)).collect();
        let wanted: Vec<(String, i32)> = topics
            .iter()
            .flat_map(|(t, n)| (0..*n).map(move |p| (t.to_string(), p)))
            .collect();
        let highs = self.log_ends.of(&wanted).await;
        let mut lag: HashMap<String, Option<i64>> = HashMap::new();
        for ((topic, partition), high) in wanted.into_iter().zip(highs) {
            let from = stored
                .get(&(topic.clone(), partition))
                .copied()
                .unwrap_or(0);
            let part = high.map(|h| (h - from).max(0));
            let total = lag.entry(topic).or_insert(Some(0));
            *total = match (*total, part) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
        }
        Ok(lag)
    }
}

/// The cluster's topics (Kafka's internal ones left out) and their partition counts.
fn cluster_topics(kafka: &FutureProducer) -> Result<BTreeMap<String, i32>, String> {
    let md = kafka
        .client()
        .fetch_metadata(None, Duration::from_secs(3))
        .map_err(|e| e.to_string())?;
    Ok(md
        .topics()
        .iter()
        .filter(|t| t.error().is_none() && !t.name().starts_with("__"))
        .map(|t| (t.name().to_string(), t.partitions().len() as i32))
        .collect())
}
