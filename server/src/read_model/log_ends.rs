//! The ends of the logs (high watermarks) that ingest lag is measured against, asked of the
//! broker in one request and shared by every page and scrape.
//!
//! Why a module of its own: lag was read partition by partition (librdkafka's
//! `query_watermark_offsets`, two round trips each) on every overview load and every
//! `/metrics` scrape, inside the request. On a cluster of hundreds of partitions, or a
//! broker slowed by its load, the overview waited up to its half-second cap and showed `?`
//! for the partitions it had no time for; the soak saw the overview's p95 go from 77 to
//! 630 ms while every other page stayed flat. Here the ends are asked for in one
//! ListOffsets request (`offsets_for_times` at Kafka's "latest" timestamp, -1) for every
//! partition asked about lately, and a reader gets the last answer at once: if it is older
//! than [`FRESH`] a refresh starts behind it (one at a time), and only a partition never
//! asked about before waits — at most [`ASK_WITHIN`] — for the broker.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An answer younger than this is served without asking again.
pub const FRESH: Duration = Duration::from_secs(2);
/// How long one request to the broker may take.
pub const ASK_WITHIN: Duration = Duration::from_millis(1500);
/// A partition nobody has asked about for this long is no longer refreshed.
const FORGET_AFTER: Duration = Duration::from_secs(600);

type Key = (String, i32);

/// Shared handle (cheap to clone); `None` broker: every end is unknown.
#[derive(Clone)]
pub struct LogEnds {
    inner: Arc<Inner>,
}

struct Inner {
    broker: Option<BaseConsumer>,
    known: Mutex<Known>,
    /// Held by the one refresh under way.
    refreshing: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
struct Known {
    /// The last answer per partition: `None` when the broker gave none for it.
    ends: HashMap<Key, Option<i64>>,
    answered_at: Option<Instant>,
    /// When each partition was last asked about.
    asked: HashMap<Key, Instant>,
}

impl LogEnds {
    /// Ends read from the cluster at `brokers`, with the console's client properties.
    pub fn connect(brokers: &str) -> anyhow::Result<Self> {
        let broker: BaseConsumer = switchyard_contract::kafka::client_config(brokers)
            // No group: this client only asks for offsets, it never joins or commits.
            .set("enable.auto.commit", "false")
            .create()?;
        Ok(Self::with(Some(broker)))
    }

    /// No broker: every end is unknown (tests, tools without Kafka).
    pub fn none() -> Self {
        Self::with(None)
    }

    fn with(broker: Option<BaseConsumer>) -> Self {
        LogEnds {
            inner: Arc::new(Inner {
                broker,
                known: Mutex::new(Known::default()),
                refreshing: Arc::default(),
            }),
        }
    }

    /// The end of each of `wanted`'s logs, in order (`None`: unknown).
    pub async fn of(&self, wanted: &[Key]) -> Vec<Option<i64>> {
        if self.inner.broker.is_none() || wanted.is_empty() {
            return vec![None; wanted.len()];
        }
        let (covered, fresh) = self.note_asked(wanted);
        if !covered {
            // Never asked about: wait for an answer (after one already under way).
            let _one_at_a_time = self.inner.refreshing.lock().await;
            if !self.note_asked(wanted).0 {
                self.refresh().await;
            }
        } else if !fresh {
            // Answer with what is known; refresh behind, unless a refresh is under way.
            if let Ok(one_at_a_time) = self.inner.refreshing.clone().try_lock_owned() {
                let this = self.clone();
                tokio::spawn(async move {
                    this.refresh().await;
                    drop(one_at_a_time);
                });
            }
        }
        let known = self.inner.known.lock().expect("log ends lock");
        wanted
            .iter()
            .map(|k| known.ends.get(k).copied().flatten())
            .collect()
    }

    /// Records that `wanted` was asked about; (every one of them has an answer, the
    /// answer is fresh).
    fn note_asked(&self, wanted: &[Key]) -> (bool, bool) {
        let mut known = self.inner.known.lock().expect("log ends lock");
        let now = Instant::now();
        for key in wanted {
            known.asked.insert(key.clone(), now);
        }
        let covered = wanted.iter().all(|k| known.ends.contains_key(k));
        let fresh = known.answered_at.is_some_and(|at| at.elapsed() < FRESH);
        (covered, fresh)
    }

    /// One request for every partition asked about lately. The caller holds `refreshing`.
    async fn refresh(&self) {
        let keys: Vec<Key> = {
            let mut known = self.inner.known.lock().expect("log ends lock");
            known.asked.retain(|_, at| at.elapsed() < FORGET_AFTER);
            known.asked.keys().cloned().collect()
        };
        let inner = self.inner.clone();
        let asked = keys.clone();
        let answer = tokio::task::spawn_blocking(move || ask(&inner, &asked))
            .await
            .unwrap_or_default();
        let mut known = self.inner.known.lock().expect("log ends lock");
        known.ends = keys
            .into_iter()
            .map(|k| {
                let end = answer.get(&k).copied();
                (k, end)
            })
            .collect();
        known.answered_at = Some(Instant::now());
    }
}

/// The broker's latest offsets for `keys` (absent: no answer for that partition).
fn ask(inner: &Inner, keys: &[Key]) -> HashMap<Key, i64> {
    let Some(broker) = &inner.broker else {
        return HashMap::new();
    };
    let mut list = TopicPartitionList::new();
    for (topic, partition) in keys {
        // Kafka's ListOffsets reads the timestamp -1 as "the latest offset".
        if list
            .add_partition_offset(topic, *partition, Offset::End)
            .is_err()
        {
            return HashMap::new();
        }
    }
    match broker.offsets_for_times(list, ASK_WITHIN) {
        Ok(answer) => answer
            .elements()
            .iter()
            .filter(|e| e.error().is_ok())
            .filter_map(|e| match e.offset() {
                Offset::Offset(end) => Some(((e.topic().to_string(), e.partition()), end)),
                _ => None,
            })
            .collect(),
        Err(e) => {
            tracing::debug!(error = %e, "log ends: the broker did not answer");
            HashMap::new()
        }
    }
}
