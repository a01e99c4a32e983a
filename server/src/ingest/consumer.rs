//! The ingest loop: one member of the console's Kafka consumer group.
//!
//! Exactly-once into PostgreSQL rests on three rules:
//! 1. a batch's rows and the group's next offsets are written in one transaction;
//! 2. a newly assigned partition starts at the offset stored in PostgreSQL (the rebalance
//!    callback below), not at Kafka's committed offset;
//! 3. Kafka offsets are committed only after the database commit, so they never run ahead.
//!
//! Redelivery (after a crash, or two members briefly owning one partition during a
//! rebalance) is then harmless: each batch transaction locks its partitions' stored
//! positions and drops the records below them, so only rows inserted now feed the
//! projections.
//!
//! One fetch stage reads every assigned partition, splits what it read by lane
//! ([`lane_of`]) and decodes it; each lane's write stage writes its batches in order, in
//! transactions of its own, so PostgreSQL works on several batches at once.

use super::batch::{batch_of, Batch};
use super::fetch::{self, Signal};
use super::positions::PositionsContext;
use super::record::{QuarantineRow, RawRecord};
pub use super::topics::Topics;
use super::writer::{write_batch, Outcome};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_contract::kafka::client_config;
use tokio::sync::{mpsc, watch};

#[derive(Clone, Debug)]
pub struct IngestSettings {
    pub brokers: String,
    pub database_url: String,
    pub group_id: String,
    /// Topics holding events, and topics holding dead letters (names and `^patterns`).
    pub topics: Topics,
    /// How often the topic list is refreshed: a new topic matching a pattern is read
    /// within this many milliseconds.
    pub metadata_refresh_ms: u32,
    /// How often, in seconds, the assigned partitions' logs are compared with the stored
    /// positions while running (they always are at assignment, and when a fetch finds its
    /// position out of the log's range).
    pub log_check_secs: u32,
    /// What is done when a log was replaced or records expired under a stored position.
    pub log_policy: super::log_incidents::Policy,
    pub batch_max: usize,
    pub batch_wait: Duration,
    pub session_timeout_ms: u32,
    /// Write stages running side by side, each with its own transaction and its own share
    /// of the partitions (see [`lane_of`]).
    pub lanes: usize,
}

/// Whether PostgreSQL refused the data itself (retrying the same rows cannot help):
/// data exceptions (22), integrity violations (23), program limits such as an index row
/// too large (54).
fn is_data_error(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().is_some_and(|c| c.starts_with("22") || c.starts_with("23") || c.starts_with("54")))
}

/// Writes `records`, never giving up and never skipping: connection trouble is retried;
/// a batch the database refuses is split in halves until the refused record stands
/// alone, and that record is quarantined with the database's reason.
async fn store(
    pool: &PgPool,
    group: &str,
    topics: &Topics,
    records: &[RawRecord],
    batch: Batch,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(Batch, Outcome)> {
    loop {
        match write_batch(pool, group, &batch).await {
            Ok(o) => return Some((batch, o)),
            Err(e) if crate::retention::partitions::is_missing_partition(&e) => {
                // No partition takes the batch (a new database, or the maintenance in
                // `retention::run` fell behind the clock): make them, write again.
                tracing::info!(error = %e, "no event-store partition for the batch; making them");
                if let Err(e) = crate::retention::partitions::ensure(pool).await {
                    tracing::error!(error = %e, "cannot make partitions; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => return None,
                    }
                }
            }
            Err(e) if is_data_error(&e) && records.len() > 1 => {
                tracing::warn!(error = %e, records = records.len(), "batch refused; isolating the record");
                // In halves, first then second (each partition's records stay in order):
                // one bad record among n costs about 2·log2(n) transactions, not n.
                let mut total = Outcome::default();
                for half in records.chunks(records.len().div_ceil(2)) {
                    let (_, o) = Box::pin(store(
                        pool,
                        group,
                        topics,
                        half,
                        part_of(&batch, half, topics),
                        shutdown,
                    ))
                    .await?;
                    total.stored += o.stored;
                    total.dead_letters += o.dead_letters;
                    total.quarantined += o.quarantined;
                    total.orders_changed.extend(o.orders_changed);
                }
                return Some((batch, total));
            }
            Err(e) if is_data_error(&e) => {
                let rec = &records[0];
                tracing::warn!(error = %e, topic = %rec.topic, offset = rec.offset, "record refused by the database; quarantined");
                let mut q = batch_of(&[], topics);
                q.positions = batch.positions.clone();
                q.quarantined.push(QuarantineRow {
                    topic: rec.topic.clone(),
                    partition: rec.partition,
                    offset: rec.offset,
                    key: rec.key.clone(),
                    value: rec.value.clone(),
                    headers: headers_json_safe(&rec.headers),
                    reason: format!("refused by the database: {e}"),
                });
                loop {
                    match write_batch(pool, group, &q).await {
                        Ok(o) => return Some((q, o)),
                        Err(e) => {
                            tracing::error!(error = %e, "quarantine write failed; retrying");
                            tokio::select! {
                                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                                _ = shutdown.changed() => return None,
                            }
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, records = records.len(), "batch write failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return None,
                }
            }
        }
    }
}

/// `records`, part of `whole`, as a batch of their own read from the same incarnations.
fn part_of(whole: &Batch, records: &[RawRecord], topics: &Topics) -> Batch {
    let mut part = batch_of(records, topics);
    part.set_incarnations(|t, p| {
        whole
            .positions
            .get(&(t.to_string(), p))
            .map_or(0, |s| s.incarnation)
    });
    part
}

/// Headers for a quarantine row the database refused once: as hex only, which it always takes.
fn headers_json_safe(headers: &[(String, Option<Vec<u8>>)]) -> serde_json::Value {
    serde_json::Value::Array(
        headers
            .iter()
            .map(|(k, v)| {
                serde_json::json!({
                    "key_hex": super::record::hex(k.as_bytes()),
                    "hex": v.as_deref().map(super::record::hex),
                })
            })
            .collect(),
    )
}

/// Runs until `shutdown` turns true. Database errors are retried with the same batch, so a
/// PostgreSQL restart delays ingest but loses nothing.
pub async fn run(
    pool: PgPool,
    settings: IngestSettings,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let signal = Arc::new(Signal::default());
    let soon = Arc::new(tokio::sync::Notify::new());
    let mut consumer: BaseConsumer<PositionsContext> = client_config(&settings.brokers)
        .set("group.id", &settings.group_id)
        .set("enable.auto.commit", "false")
        // Never jump over a gap or onto a replaced log in silence: a position out of the
        // log's range stops that partition's fetch with an error, and the log watch says
        // what happened and acts by the policy (`log_incidents`).
        .set("auto.offset.reset", "error")
        .set("enable.partition.eof", "false")
        // Brokers may hold a fetch until this passes when little data waits; keep it short
        // so live events are not held back (the default 500 ms dominated push latency).
        .set("fetch.wait.max.ms", "10")
        // Prefetch per partition (each has its own queue): a partition that runs ahead in
        // time waits with this much fetched (the default, 64 MB, is meant for one queue).
        .set("queued.max.messages.kbytes", "2048")
        .set("queued.min.messages", "10000")
        .set(
            "session.timeout.ms",
            settings.session_timeout_ms.to_string(),
        )
        .set("partition.assignment.strategy", "range")
        // New topics matching a pattern are found at the next metadata refresh.
        .set(
            "topic.metadata.refresh.interval.ms",
            settings.metadata_refresh_ms.to_string(),
        )
        .create_with_context(PositionsContext::new(
            settings.database_url.clone(),
            settings.group_id.clone(),
            settings.log_policy,
            soon.clone(),
        ))?;
    {
        let signal = signal.clone();
        consumer.set_nonempty_callback(move || signal.notify());
    }
    let subscription = settings.topics.subscription();
    let topics: Vec<&str> = subscription.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    tracing::info!(group = %settings.group_id, topics = ?subscription, "ingest started");
    let consumer = Arc::new(consumer);

    // Fetching and decoding the next batch overlaps writing this one; with several lanes,
    // several batches (of disjoint partitions) are written at once. Each lane's queue holds
    // one batch: memory stays bounded and each partition's batches stay in order.
    // While running, the assigned partitions' logs are checked again now and then, and at
    // once when a fetch finds its position out of range (a topic recreated, records
    // expired, after the assignment).
    let watching = tokio::spawn(super::log_incidents::watch(
        pool.clone(),
        settings.group_id.clone(),
        consumer.clone(),
        settings.log_policy,
        Duration::from_secs(u64::from(settings.log_check_secs.max(1))),
        soon,
        shutdown.clone(),
    ));
    let lanes = settings.lanes.max(1);
    let mut queues = Vec::with_capacity(lanes);
    let mut writers = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        let (tx, rx) = mpsc::channel::<(Vec<RawRecord>, Batch)>(1);
        queues.push(tx);
        writers.push(tokio::spawn(write_stage(
            pool.clone(),
            settings.group_id.clone(),
            settings.topics.clone(),
            consumer.clone(),
            rx,
            shutdown.clone(),
        )));
    }
    let fetch_settings = fetch::Settings {
        batch_max: settings.batch_max,
        batch_wait: settings.batch_wait,
        topics: settings.topics.clone(),
    };
    // A thread of its own, not `spawn_blocking`: a runtime shutting down waits for its
    // blocking tasks, and would hang on a fetch stage whose caller never said stop.
    let fetching = consumer.clone();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("ingest-fetch".into())
        .spawn(move || {
            let _ = done_tx.send(fetch::run(
                fetching,
                signal,
                fetch_settings,
                queues,
                shutdown,
            ));
        })?;
    let t = done_rx
        .await
        .map_err(|_| anyhow::anyhow!("the fetch stage panicked"))?;
    tracing::info!(
        idle_s = t.idle,
        filling_s = t.filling,
        decoding_s = t.decoding,
        queued_s = t.queued,
        "fetch stage stopped"
    );
    for w in writers {
        w.await?;
    }
    let _ = watching.await;
    // Every batch is written and its positions committed with it; what is left is leaving
    // the group, which waits for the broker — bounded, so a stop with the broker gone ends.
    let leaving = Arc::into_inner(consumer);
    switchyard_contract::kafka::close_within(
        "ingest consumer",
        switchyard_contract::kafka::CLOSE_WITHIN,
        move || drop(leaving),
    )
    .await;
    Ok(())
}

/// A write stage (one per lane): writes its batches in order, then mirrors their positions
/// into Kafka.
async fn write_stage(
    pool: PgPool,
    group: String,
    topics: Topics,
    consumer: Arc<BaseConsumer<PositionsContext>>,
    mut rx: mpsc::Receiver<(Vec<RawRecord>, Batch)>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut total: u64 = 0;
    let mut writing = 0f64;
    let mut last_log = Instant::now();
    // What follows a written batch (metrics, trace lines, the Kafka commit, freeing its
    // records) runs beside the next batch's transaction, not before it.
    let (after_tx, after_rx) = mpsc::channel(1);
    let after = tokio::spawn(after_write(consumer, after_rx));
    while let Some((records, batch)) = rx.recv().await {
        let started = Instant::now();
        let Some((batch, outcome)) =
            store(&pool, &group, &topics, &records, batch, &mut shutdown).await
        else {
            break;
        };
        let took = started.elapsed().as_secs_f64();
        writing += took;
        total += outcome.stored as u64;
        if after_tx.send((records, batch, took)).await.is_err() {
            break;
        }
        if last_log.elapsed() > Duration::from_secs(10) {
            tracing::info!(total, "ingest progress");
            last_log = Instant::now();
        }
    }
    drop(after_tx);
    let _ = after.await;
    tracing::info!(total, writing_s = writing, "ingest stopped");
}

/// After each written batch of a lane, in order: its metrics and trace lines, and its
/// positions mirrored into Kafka.
async fn after_write(
    consumer: Arc<BaseConsumer<PositionsContext>>,
    mut rx: mpsc::Receiver<(Vec<RawRecord>, Batch, f64)>,
) {
    while let Some((records, batch, took)) = rx.recv().await {
        crate::metrics::global().ingest_batch(
            took,
            (batch.events.iter().map(|e| (e.topic.as_str(), "event")))
                .chain(
                    batch
                        .dead_letters
                        .iter()
                        .map(|d| (d.topic.as_str(), "dead_letter")),
                )
                .chain(
                    batch
                        .quarantined
                        .iter()
                        .map(|q| (q.topic.as_str(), "quarantined")),
                ),
            batch.quarantined.iter().map(|q| q.reason.as_str()),
        );
        log_traces(&batch);
        commit_to_kafka(&consumer, &batch);
        drop((records, batch));
    }
}

/// At debug level, one line per stored event with the trace id its `traceparent` header
/// carried, so an order's path through the fleet can be followed into the console.
fn log_traces(batch: &Batch) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    for e in &batch.events {
        if let Some(tp) =
            switchyard_contract::trace_context::TraceParent::from_stored_headers(&e.headers)
        {
            tracing::debug!(trace_id = %tp.trace_id(), parent_id = %tp.span_id(),
                order_id = %e.aggregate_id, event_type = %e.event_type, topic = %e.topic,
                partition = e.partition, offset = e.offset, "event stored");
        }
    }
}

/// Mirrors the stored positions into Kafka (for lag tooling). Best effort: PostgreSQL is
/// the source of truth, so a failed or lost commit only costs a harmless redelivery.
fn commit_to_kafka(consumer: &BaseConsumer<PositionsContext>, batch: &Batch) {
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), span) in &batch.positions {
        let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(span.next));
    }
    if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
        tracing::debug!(error = %e, "kafka commit failed (harmless)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_contract::topic_selection::TopicSelection;

    /// A caller that fails before saying stop drops the sender: ingest must stop then too
    /// (the fetch stage is a thread, and a thread nobody stops keeps the process alive).
    #[tokio::test]
    async fn ingest_stops_when_its_stop_sender_is_gone() {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        let settings = IngestSettings {
            brokers: "127.0.0.1:1".into(),
            database_url: "postgres://nobody@127.0.0.1:1/none".into(),
            group_id: "stop-test".into(),
            topics: Topics {
                events: TopicSelection::parse(&["order.created"]).unwrap(),
                dead_letters: TopicSelection::default_dead_letters(),
                envelopes: Default::default(),
                masker: Default::default(),
            },
            metadata_refresh_ms: 10_000,
            log_check_secs: 30,
            log_policy: Default::default(),
            batch_max: 100,
            batch_wait: Duration::from_millis(20),
            session_timeout_ms: 6000,
            lanes: 2,
        };
        let (stop, stopped) = watch::channel(false);
        let ingest = tokio::spawn(run(pool, settings, stopped));
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(stop);
        tokio::time::timeout(Duration::from_secs(20), ingest)
            .await
            .expect("ingest stopped")
            .unwrap()
            .unwrap();
    }
}
