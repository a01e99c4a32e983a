//! Retention: every table that grows with traffic keeps what its setting says and no more,
//! so a console that runs for months holds a bounded database (issue 21).
//!
//! Two mechanisms, one loop ([`run`], in `serve` and in `ingest`):
//! - the event store and saga timeline are partitioned by ingestion time
//!   ([`partitions`]): partitions are made ahead and dropped whole behind the window,
//!   every half partition width (between 5 s and 10 min);
//! - every other growing table is trimmed by one batched `DELETE` rule each ([`rows`]),
//!   every `SWITCHYARD_RETENTION_CHECK`.
//!
//! Projections (orders, breakers, rollups) are not rebuilt from what is left: an order
//! whose events aged out keeps its row, and its page says its history is gone
//! (`read_model`). Whatever retention removes is counted in one log line and one audit row
//! per pass that removed something.

pub mod partitions;
pub mod rows;

use crate::audit::{self, Actor};
use crate::config::RetentionConfig;
use serde_json::json;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use tokio::sync::watch;

impl RetentionConfig {
    pub fn windows(&self) -> rows::Windows {
        rows::Windows {
            breaker_history: self.retain_breaker_history,
            rollups: self.retain_rollups,
            quarantine: self.retain_quarantine,
            resolved_dead_letters: self.retain_resolved_dead_letters,
            replay_jobs: self.retain_replay_jobs,
            conversations: self.retain_conversations,
            orders: self.retain_orders,
            audit: self.retain_audit,
        }
    }

    /// How often partitions are looked after: half a width, between 5 s and 10 min.
    pub fn partition_check(&self) -> Duration {
        (self.events_partition / 2).clamp(Duration::from_secs(5), Duration::from_secs(600))
    }
}

/// Stores the partition width and makes the partitions ahead (before ingest writes), then
/// runs retention ([`run`]) until `stop`.
pub async fn start(
    pool: &PgPool,
    cfg: RetentionConfig,
    stop: watch::Receiver<bool>,
) -> sqlx::Result<tokio::task::JoinHandle<()>> {
    partitions::configure(pool, cfg.events_partition).await?;
    partitions::ensure(pool).await?;
    Ok(tokio::spawn(run(pool.clone(), cfg, stop)))
}

/// One pass of partition maintenance: make ahead, drop behind.
pub async fn maintain_partitions(
    pool: &PgPool,
    cfg: &RetentionConfig,
) -> sqlx::Result<Vec<String>> {
    partitions::ensure(pool).await?;
    partitions::drop_expired(pool, cfg.retain_events).await
}

/// Runs retention until `stop`: partitions every [`RetentionConfig::partition_check`],
/// the row rules every `retention_check`. Failures are logged and tried again next time;
/// they never stop the console.
pub async fn run(pool: PgPool, cfg: RetentionConfig, mut stop: watch::Receiver<bool>) {
    let mut rows_due = Instant::now();
    loop {
        let mut removed: Vec<(String, u64)> = Vec::new();
        match maintain_partitions(&pool, &cfg).await {
            Ok(dropped) => {
                for name in dropped {
                    removed.push((name, 0));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "partition maintenance failed; trying again later")
            }
        }
        if Instant::now() >= rows_due {
            rows_due = Instant::now() + cfg.retention_check;
            match rows::trim(&pool, &cfg.windows()).await {
                Ok(trimmed) => removed.extend(trimmed.into_iter().map(|(t, n)| (t.to_string(), n))),
                Err(e) => tracing::warn!(error = %e, "retention trim failed; trying again later"),
            }
        }
        if !removed.is_empty() {
            report(&pool, &removed).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(cfg.partition_check()) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One log line and one audit row for a pass that removed something (a dropped partition
/// is listed by name with 0: its rows were not counted, which is the point).
async fn report(pool: &PgPool, removed: &[(String, u64)]) {
    let detail: serde_json::Map<String, serde_json::Value> =
        removed.iter().map(|(t, n)| (t.clone(), json!(n))).collect();
    tracing::info!(removed = %serde_json::Value::Object(detail.clone()), "retention");
    if let Err(e) = audit::record(
        pool,
        &Actor::system(),
        "retention",
        None,
        serde_json::Value::Object(detail),
    )
    .await
    {
        tracing::warn!(error = %e, "could not audit a retention pass");
    }
}
