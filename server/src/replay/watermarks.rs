//! The Kafka reads behind "never send twice": the high watermarks a replay records before
//! it is marked `sending`, and the scan that later looks, from those marks, for messages
//! carrying a given `x-replay-id`.
//!
//! rdkafka's metadata and offset calls block, so they run on the blocking pool.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_contract::kafka::client_config;
use uuid::Uuid;

const TIMEOUT: Duration = Duration::from_secs(10);

/// High watermark per partition of one topic.
pub type Marks = BTreeMap<i32, i64>;

/// Marks as stored in `replays.marks`: `{"0": 17, "1": 4}`.
pub fn marks_json(m: &Marks) -> Value {
    Value::Object(
        m.iter()
            .map(|(p, o)| (p.to_string(), Value::from(*o)))
            .collect(),
    )
}

pub fn marks_from_json(v: &Value) -> Marks {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(p, o)| Some((p.parse().ok()?, o.as_i64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// A replay whose fate is unknown: where to look and from where.
#[derive(Clone, Debug)]
pub struct Lookup {
    pub replay_id: Uuid,
    pub topic: String,
    pub marks: Marks,
}

#[derive(Clone)]
pub struct Watermarks {
    brokers: String,
    client: Arc<BaseConsumer>,
}

impl Watermarks {
    pub fn new(brokers: &str) -> anyhow::Result<Self> {
        Ok(Watermarks {
            brokers: brokers.to_string(),
            client: Arc::new(client_config(brokers).create()?),
        })
    }

    /// The high watermark of every partition of each topic; topics the broker does not
    /// have are left out.
    pub async fn high(&self, topics: Vec<String>) -> anyhow::Result<HashMap<String, Marks>> {
        let client = self.client.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = HashMap::new();
            for topic in topics {
                let md = client.fetch_metadata(Some(&topic), TIMEOUT)?;
                let Some(t) = md
                    .topics()
                    .first()
                    .filter(|t| t.error().is_none() && !t.partitions().is_empty())
                else {
                    continue;
                };
                let mut marks = Marks::new();
                for p in t.partitions() {
                    let (_, high) = client.fetch_watermarks(&topic, p.id(), TIMEOUT)?;
                    marks.insert(p.id(), high);
                }
                out.insert(topic, marks);
            }
            Ok(out)
        })
        .await?
    }

    /// Reads every partition of `lookups` from its mark to its current end and returns
    /// where each replay id was found. Ids not found were not sent.
    pub async fn find(&self, lookups: Vec<Lookup>) -> anyhow::Result<HashMap<Uuid, (i32, i64)>> {
        if lookups.is_empty() {
            return Ok(HashMap::new());
        }
        let brokers = self.brokers.clone();
        let client = self.client.clone();
        tokio::task::spawn_blocking(move || scan(&brokers, &client, &lookups)).await?
    }
}

fn scan(
    brokers: &str,
    client: &BaseConsumer,
    lookups: &[Lookup],
) -> anyhow::Result<HashMap<Uuid, (i32, i64)>> {
    let wanted: HashSet<String> = lookups.iter().map(|l| l.replay_id.to_string()).collect();
    // Per (topic, partition): the lowest mark of any lookup, and the end to read to.
    let mut from: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for l in lookups {
        for (p, o) in &l.marks {
            let e = from.entry((l.topic.clone(), *p)).or_insert(*o);
            *e = (*e).min(*o);
        }
    }
    let mut list = TopicPartitionList::new();
    let mut end: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for ((t, p), o) in &from {
        let (_, high) = client.fetch_watermarks(t, *p, TIMEOUT)?;
        if high > *o {
            list.add_partition_offset(t, *p, Offset::Offset(*o))?;
            end.insert((t.clone(), *p), high);
        }
    }
    let mut found = HashMap::new();
    if end.is_empty() {
        return Ok(found);
    }
    let consumer: BaseConsumer = client_config(brokers)
        .set(
            "group.id",
            format!("switchyard-replay-recover-{}", Uuid::now_v7()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()?;
    consumer.assign(&list)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !end.is_empty() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "recovery scan did not reach the end of {:?}",
            end.keys().collect::<Vec<_>>()
        );
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            // Nothing more arrives: partitions whose position passed their end (control
            // records of transactions, compaction) are done too.
            for e in consumer.position()?.elements() {
                if let Offset::Offset(pos) = e.offset() {
                    let key = (e.topic().to_string(), e.partition());
                    if end.get(&key).is_some_and(|high| pos >= *high) {
                        end.remove(&key);
                    }
                }
            }
            continue;
        };
        let m = m?;
        let key = (m.topic().to_string(), m.partition());
        if let Some(id) = m.headers().and_then(|hs| {
            hs.iter()
                .find(|h| h.key == "x-replay-id")
                .and_then(|h| std::str::from_utf8(h.value?).ok().map(str::to_string))
        }) {
            if wanted.contains(&id) {
                if let Ok(u) = Uuid::parse_str(&id) {
                    found.entry(u).or_insert((m.partition(), m.offset()));
                }
            }
        }
        if end.get(&key).is_some_and(|high| m.offset() + 1 >= *high) {
            end.remove(&key);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip_through_json() {
        let m: Marks = [(0, 17), (2, 4)].into_iter().collect();
        let j = marks_json(&m);
        assert_eq!(j.to_string(), r#"{"0":17,"2":4}"#);
        assert_eq!(marks_from_json(&j), m);
        assert!(marks_from_json(&Value::Null).is_empty());
    }
}
