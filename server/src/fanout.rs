//! Live fan-out: one PostgreSQL `LISTEN` per console instance turns the ingest's and the
//! replay jobs' NOTIFYs into [`LiveMessage`]s on a broadcast channel, which every open push stream reads.
//! Because the NOTIFY comes from the database, every instance sees every batch, whichever
//! instance ingested it.

use crate::ingest::LIVE_CHANNEL;
use crate::read_model::orders::orders_by_id;
use crate::replay::REPLAY_CHANNEL;
use serde::Deserialize;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_app::ops::LiveMessage;
use tokio::sync::broadcast;

/// How many messages a slow browser may fall behind before it skips ahead.
const CHANNEL_CAPACITY: usize = 1024;

#[derive(Deserialize)]
struct Notice {
    #[serde(default)]
    orders: Vec<String>,
    /// Kafka timestamp of the batch's oldest record (ms since the epoch).
    #[serde(default)]
    oldest_ms: Option<i64>,
}

/// How many recent batch latencies are kept for the overview.
const LATENCY_WINDOW: usize = 200;

#[derive(Clone)]
pub struct LiveHub {
    tx: broadcast::Sender<LiveMessage>,
    /// Oldest record's Kafka timestamp → NOTIFY received here, per batch (ms), newest last.
    latencies: Arc<Mutex<VecDeque<f64>>>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveHub {
    pub fn new() -> Self {
        LiveHub {
            tx: broadcast::channel(CHANNEL_CAPACITY).0,
            latencies: Arc::default(),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveMessage> {
        self.tx.subscribe()
    }

    /// Latencies of the most recent batches (ms): Kafka timestamp of each batch's oldest
    /// record to its NOTIFY arriving at this instance.
    pub fn batch_latencies(&self) -> Vec<f64> {
        self.latencies
            .lock()
            .map(|l| l.iter().copied().collect())
            .unwrap_or_default()
    }

    fn record_latency(&self, oldest_ms: i64) {
        let ms = (chrono::Utc::now().timestamp_millis() - oldest_ms).max(0) as f64;
        if let Ok(mut l) = self.latencies.lock() {
            if l.len() == LATENCY_WINDOW {
                l.pop_front();
            }
            l.push_back(ms);
        }
    }

    pub fn publish(&self, msg: LiveMessage) {
        // No receivers is normal (no browser open).
        let _ = self.tx.send(msg);
    }

    /// Listens for ingest notices until the process ends, reconnecting after database
    /// restarts.
    pub async fn run(self, pool: PgPool) {
        loop {
            if let Err(e) = self.listen(&pool).await {
                tracing::warn!(error = %e, "live listener lost its connection; reconnecting");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn listen(&self, pool: &PgPool) -> sqlx::Result<()> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen_all([LIVE_CHANNEL, REPLAY_CHANNEL]).await?;
        loop {
            let n = listener.recv().await?;
            if n.channel() == REPLAY_CHANNEL {
                // Progress of a replay job: its id, read back as the page shows it.
                if let Ok(job) = n.payload().parse() {
                    if let Some(view) = crate::replay::job::job_view(pool, job).await? {
                        self.publish(LiveMessage::ReplayJob(view));
                    }
                }
                continue;
            }
            let Ok(notice) = serde_json::from_str::<Notice>(n.payload()) else {
                tracing::warn!(payload = n.payload(), "unreadable live notice");
                continue;
            };
            if let Some(ms) = notice.oldest_ms {
                self.record_latency(ms);
            }
            if notice.orders.is_empty() {
                continue;
            }
            let mut rows = orders_by_id(pool, &notice.orders).await?;
            rows.sort_by_key(|r| r.updated_at);
            for row in rows {
                self.publish(LiveMessage::Order(row));
            }
        }
    }
}
