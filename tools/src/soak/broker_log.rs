//! The broker's retention, applied by the soak. A real cluster keeps a window of each
//! topic (`retention.ms`); the soak's broker does not: Nisshi's memory storage keeps every
//! record and lists all of a partition's batches on every fetch, so over a long run its
//! fetches slow in proportion to the run and the soak would measure the broker, not the
//! console (seen: push p99 46 → 369 ms in 15 minutes, the broker's memory 36 → 118 MiB).
//! Its SQLite storage applies `retention.ms`, but at the soak's load it takes a whole core
//! from the start (push p99 ~700 ms). So every [`EVERY`], each contract topic is cut
//! (Kafka's DeleteRecords, as retention does) at its first record younger than the window.
//!
//! A partition's newest record is never cut, as Kafka's retention never deletes a
//! partition's active segment (on a quiet partition, the last records stay).

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switchyard_contract::kafka;
use tokio::sync::watch;

/// How often the log is cut.
pub const EVERY: Duration = Duration::from_secs(60);

/// Cuts the contract topics' logs at `window` until `stop`.
pub async fn trim(brokers: String, window: Duration, mut stop: watch::Receiver<bool>) {
    let clients = match Clients::connect(&brokers) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("soak: the broker's log will not be cut: {e:#}");
            return;
        }
    };
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut said = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {},
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(e) = cut(&clients, window).await {
            if !said {
                eprintln!("soak: the broker's log not cut (said once): {e:#}");
                said = true;
            }
        }
    }
}

/// The two clients a cut needs, made once for the whole soak.
struct Clients {
    /// Metadata and ListOffsets.
    lookup: BaseConsumer,
    admin: AdminClient<DefaultClientContext>,
}

impl Clients {
    fn connect(brokers: &str) -> anyhow::Result<Self> {
        Ok(Clients {
            lookup: kafka::client_config(brokers).create()?,
            admin: kafka::client_config(brokers).create()?,
        })
    }
}

/// One cut: the offset of the first record younger than `window` in every partition
/// (ListOffsets by timestamp), then DeleteRecords below it.
async fn cut(clients: &Arc<Clients>, window: Duration) -> anyhow::Result<()> {
    let since = SystemTime::now()
        .checked_sub(window)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    let cuts = {
        let clients = clients.clone();
        tokio::task::spawn_blocking(move || cut_points(&clients.lookup, since)).await??
    };
    if cuts.count() == 0 {
        return Ok(());
    }
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    clients.admin.delete_records(&cuts, &opts).await?;
    Ok(())
}

/// Per contract-topic partition, the first offset at or after `since_ms`, but never past
/// the newest record (partitions with nothing that old to cut are left out).
fn cut_points(client: &BaseConsumer, since_ms: i64) -> anyhow::Result<TopicPartitionList> {
    let metadata = client.fetch_metadata(None, Duration::from_secs(10))?;
    let wanted = switchyard_contract::all_topics();
    let mut times = TopicPartitionList::new();
    for topic in metadata
        .topics()
        .iter()
        .filter(|t| wanted.iter().any(|w| w == t.name()))
    {
        for p in topic.partitions() {
            times.add_partition_offset(topic.name(), p.id(), Offset::Offset(since_ms))?;
        }
    }
    let mut cuts = TopicPartitionList::new();
    if times.count() == 0 {
        return Ok(cuts);
    }
    for e in client
        .offsets_for_times(times, Duration::from_secs(10))?
        .elements()
    {
        if let (Ok(()), Offset::Offset(at)) = (e.error(), e.offset()) {
            if at <= 0 {
                continue;
            }
            let (low, high) =
                client.fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(10))?;
            let at = at.min(high - 1);
            if at > low {
                cuts.add_partition_offset(e.topic(), e.partition(), Offset::Offset(at))?;
            }
        }
    }
    Ok(cuts)
}
