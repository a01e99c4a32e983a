//! `switchyard-tools ingest-bench`: how fast the whole ingest pipeline runs here, next to the
//! physical limit measured in the same run.
//!
//! 1. Produces N records of the synthetic mix ([`crate::synthetic`]) to the broker.
//! 2. Times the real pipeline (consume → decode → one transaction per batch with all
//!    projections) draining that backlog into a fresh database.
//! 3. Times a raw binary `COPY` of the same rows into the same tables of a fresh database
//!    (no projections, no Kafka), over one connection and over as many as ingest has
//!    lanes: the most PostgreSQL can take here.
//! 4. Produces at a fixed rate while ingest runs live and reports, per committed batch,
//!    the time from the oldest record's Kafka timestamp to the NOTIFY arriving.
//!
//! Each timed phase of 2 and 3 starts after a `CHECKPOINT`, from a clean buffer pool, with
//! the databases of the phases before it dropped.

use crate::synthetic::{produce, Record, Synthetic};
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use switchyard::db;
use switchyard::ingest::batch::{batch_of, lane_of};
use switchyard::ingest::consumer::{self, IngestSettings, Topics};
use switchyard::ingest::copy_binary::CopyRows;
use switchyard::ingest::decode::{EventRow, RawRecord};
use switchyard::ingest::writer::{copy_in, events_copy, EVENTS_COPY};
use switchyard::ingest::LIVE_CHANNEL;
use switchyard_contract::{self as contract, kafka};
use tokio::sync::watch;

pub struct BenchArgs {
    pub admin_url: String,
    pub brokers: String,
    pub records: usize,
    pub batch_max: usize,
    pub batch_wait: Duration,
    pub lanes: usize,
    pub latency_rate: u32,
    pub latency_secs: u32,
    pub log_check_secs: u32,
}

/// High watermarks of every contract topic: where a fresh consumer group should start so
/// that it reads only what this run produces.
fn high_watermarks(brokers: &str) -> anyhow::Result<Vec<(String, i32, i64)>> {
    let c: BaseConsumer = kafka::client_config(brokers).create()?;
    let md = c.fetch_metadata(None, Duration::from_secs(10))?;
    let mut out = Vec::new();
    for t in md
        .topics()
        .iter()
        .filter(|t| contract::all_topics().iter().any(|n| n == t.name()))
    {
        for p in t.partitions() {
            let (_, high) = c.fetch_watermarks(t.name(), p.id(), Duration::from_secs(10))?;
            out.push((t.name().to_string(), p.id(), high));
        }
    }
    Ok(out)
}

async fn start_positions(pool: &PgPool, group: &str, brokers: &str) -> anyhow::Result<i64> {
    let b = brokers.to_string();
    let marks = tokio::task::spawn_blocking(move || high_watermarks(&b)).await??;
    let mut sum = 0;
    for (t, p, o) in marks {
        sum += o;
        sqlx::query("INSERT INTO consumer_positions (group_id, topic, kafka_partition, next_offset) VALUES ($1,$2,$3,$4)")
            .bind(group)
            .bind(t)
            .bind(p)
            .bind(o)
            .execute(pool)
            .await?;
    }
    Ok(sum)
}

async fn consumed(pool: &PgPool, group: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(sum(next_offset), 0)::int8 FROM consumer_positions WHERE group_id = $1",
    )
    .bind(group)
    .fetch_one(pool)
    .await?)
}

fn settings(args: &BenchArgs, url: &str, group: &str) -> IngestSettings {
    IngestSettings {
        brokers: args.brokers.clone(),
        database_url: url.to_string(),
        group_id: group.to_string(),
        topics: Topics::contract(),
        metadata_refresh_ms: 10_000,
        log_check_secs: args.log_check_secs,
        log_policy: Default::default(),
        batch_max: args.batch_max,
        batch_wait: args.batch_wait,
        session_timeout_ms: 6000,
        lanes: args.lanes,
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let topics = contract::all_topics();
    kafka::topics::ensure(&args.brokers, &topics, kafka::topics::Creation::default()).await?;
    let producer = kafka::producer(&args.brokers)?;
    let (url, name, pool) = db::create_scratch(&args.admin_url, "sy_bench").await?;
    let group = format!("bench-{name}");
    let start = start_positions(&pool, &group, &args.brokers).await?;

    let records = Synthetic::new(42, &name[name.len() - 6..].to_uppercase()).records(args.records);
    let n = records.len();
    let t = Instant::now();
    produce(&producer, &records).await?;
    let produce_rate = n as f64 / t.elapsed().as_secs_f64();

    // The pipeline, draining the backlog.
    let checkpointed = checkpoint(&pool).await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let t = Instant::now();
    let ingest = tokio::spawn(consumer::run(
        pool.clone(),
        settings(&args, &url, &group),
        stop_rx,
    ));
    let mut last = (0, Instant::now());
    loop {
        let done = consumed(&pool, &group).await? - start;
        if done >= n as i64 {
            break;
        }
        if done > last.0 {
            last = (done, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(60) {
            anyhow::bail!("ingest made no progress for 60 s at {done} of {n} records");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pipeline_secs = t.elapsed().as_secs_f64();
    let counts: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM dead_letters),
                (SELECT count(*) FROM quarantine), (SELECT count(*) FROM orders)",
    )
    .fetch_one(&pool)
    .await?;

    // Latency at a steady rate, with ingest live.
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(LIVE_CHANNEL).await?;
    let mut gen = Synthetic::new(43, "LAT");
    let rate = args.latency_rate.max(1) as usize;
    let ticks = args.latency_secs.max(1) as usize * 20;
    let per_tick = (rate / 20).max(1);
    let batches: Vec<Vec<Record>> = (0..ticks).map(|_| gen.records(per_tick)).collect();
    let producing = async {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        for b in &batches {
            tick.tick().await;
            produce(&producer, b).await?;
        }
        anyhow::Ok(())
    };
    let listening = async {
        let mut latencies: Vec<i64> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(args.latency_secs as u64 + 5);
        while Instant::now() < deadline {
            let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(500), listener.recv()).await
            else {
                continue;
            };
            let now = chrono::Utc::now().timestamp_millis();
            let payload: Value = serde_json::from_str(n.payload())?;
            if let Some(oldest) = payload.get("oldest_ms").and_then(Value::as_i64) {
                latencies.push(now - oldest);
            }
        }
        anyhow::Ok(latencies)
    };
    let (produced, latencies) = tokio::join!(producing, listening);
    produced?;
    let mut latencies = latencies?;
    stop_tx.send(true)?;
    ingest.await??;
    let incidents: i64 = sqlx::query_scalar("SELECT count(*) FROM log_incidents")
        .fetch_one(&pool)
        .await?;
    anyhow::ensure!(
        incidents == 0,
        "{incidents} log incident(s) recorded on a healthy log: a live log was taken for a changed one"
    );

    pool.close().await;
    db::drop_scratch(&args.admin_url, &name).await?;

    // The physical limit: COPY the same rows into the same tables, nothing else; once over
    // one connection and once over as many as ingest has lanes, in fresh databases.
    let copy_secs = copy_alone(&args.admin_url, &records, 1).await?;
    let copy_par_secs = copy_alone(&args.admin_url, &records, args.lanes).await?;

    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(-1)
    };
    let pipeline = n as f64 / pipeline_secs;
    let copy_one = n as f64 / copy_secs;
    let copy_par = n as f64 / copy_par_secs;
    // The ratio is taken against the faster of the two: the limit is whichever is higher.
    let copy = copy_one.max(copy_par);
    println!("ingest-bench: {n} records ({} events, {} dead letters, {} quarantined; {} orders), batch {} (wait {} ms), lanes {}",
        counts.0, counts.1, counts.2, counts.3, args.batch_max, args.batch_wait.as_millis(), args.lanes);
    println!("produce      {produce_rate:>10.0} records/s");
    if !checkpointed {
        println!("(no CHECKPOINT before each phase: the role may not run it; figures vary more)");
    }
    println!("pipeline     {pipeline:>10.0} records/s  ({pipeline_secs:.2} s: Kafka -> decode -> PostgreSQL with projections)");
    println!("raw COPY     {copy_one:>10.0} records/s  ({copy_secs:.2} s: same rows, same tables, no projections, 1 connection)");
    println!("raw COPY x{:<2} {copy_par:>10.0} records/s  ({copy_par_secs:.2} s: the same over {} connections at once)", args.lanes, args.lanes);
    println!(
        "ratio        {:>10.2} of the faster raw COPY",
        pipeline / copy
    );
    println!("notify latency at {} records/s for {} s ({} batches): p50 {} ms, p95 {} ms, p99 {} ms, max {} ms",
        args.latency_rate, args.latency_secs, latencies.len(), pct(0.50), pct(0.95), pct(0.99), latencies.last().copied().unwrap_or(-1));

    Ok(())
}

/// [`copy_rows`] into a database of its own, dropped before the next phase: each phase
/// has the cluster to itself (no autovacuum of an earlier phase's million rows running
/// beside it, which moved the raw COPY's figure by a fifth between runs).
async fn copy_alone(admin_url: &str, records: &[Record], streams: usize) -> anyhow::Result<f64> {
    let (_, name, pool) = db::create_scratch(admin_url, "sy_bench_copy").await?;
    checkpoint(&pool).await;
    let secs = copy_rows(&pool, records, streams).await;
    pool.close().await;
    db::drop_scratch(admin_url, &name).await?;
    secs
}

/// Flushes every dirty buffer before a timed phase, so no phase pays for writing out the
/// pages an earlier one left behind (with a large `shared_buffers`, whichever phase came
/// next). False if the role may not run `CHECKPOINT`.
async fn checkpoint(pool: &PgPool) -> bool {
    match sqlx::query("CHECKPOINT").execute(pool).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "CHECKPOINT refused; phases start with dirty buffers");
            false
        }
    }
}

/// Starts a row of `dead_letters` or `quarantine` with the columns both share: the
/// record's source position, key, value bytes and headers.
fn source_columns<'r>(
    rows: &'r mut CopyRows,
    topic: &str,
    partition: i32,
    offset: i64,
    key: &Option<Vec<u8>>,
    value: &Option<Vec<u8>>,
    headers: &Value,
) -> &'r mut CopyRows {
    rows.row()
        .text(topic)
        .int4(partition)
        .int8(offset)
        .bytea(key.as_deref())
        .bytea(value.as_deref())
        .jsonb(headers)
}

/// Decodes the records (as if read from partition `i % DEFAULT_PARTITIONS` at offset `i`) and COPYs the
/// rows into `events`, `dead_letters` and `quarantine` in PostgreSQL's binary format, over
/// `streams` connections at once (the rows split as the ingest lanes split partitions).
/// Returns the seconds spent in COPY alone: the database's share, the physical limit.
async fn copy_rows(pool: &PgPool, records: &[Record], streams: usize) -> anyhow::Result<f64> {
    // The same partitioned tables as ingest writes (ingest makes its own at start).
    switchyard::retention::partitions::ensure(pool).await?;
    let raws: Vec<RawRecord> = records
        .iter()
        .enumerate()
        .map(|(i, r)| r.raw(i as i32 % kafka::topics::DEFAULT_PARTITIONS, i as i64))
        .collect();
    let batch = batch_of(&raws, &Topics::contract());
    let mut bodies: Vec<Vec<(&str, CopyRows)>> = Vec::new();
    for lane in 0..streams {
        let mine = |topic: &str, p: i32| lane_of(topic, p, streams) == lane;
        let events: Vec<&EventRow> = batch
            .events
            .iter()
            .filter(|e| mine(&e.topic, e.partition))
            .collect();
        // Ids as the sequence would give them, so the columns are the pipeline's.
        let ids: Vec<i64> = events.iter().map(|e| e.offset + 1).collect();
        let mut dead = CopyRows::new(9, 0);
        for d in batch
            .dead_letters
            .iter()
            .filter(|d| mine(&d.topic, d.partition))
        {
            source_columns(
                &mut dead,
                &d.topic,
                d.partition,
                d.offset,
                &d.key,
                &d.value,
                &d.headers,
            )
            .text(d.dialect.as_str())
            .text(&d.original_topic)
            .timestamptz(d.failed_at);
        }
        let mut quarantine = CopyRows::new(7, 0);
        for q in batch
            .quarantined
            .iter()
            .filter(|q| mine(&q.topic, q.partition))
        {
            source_columns(
                &mut quarantine,
                &q.topic,
                q.partition,
                q.offset,
                &q.key,
                &q.value,
                &q.headers,
            )
            .text(&q.reason);
        }
        bodies.push(vec![
            (EVENTS_COPY, events_copy(&ids, &events, |_, _| 0)),
            (
                "COPY dead_letters (topic, kafka_partition, kafka_offset, kafka_key, raw_value,
                    headers, dialect, original_topic, failed_at) FROM STDIN WITH (FORMAT binary)",
                dead,
            ),
            (
                "COPY quarantine (topic, kafka_partition, kafka_offset, kafka_key, raw_value,
                    headers, reason) FROM STDIN WITH (FORMAT binary)",
                quarantine,
            ),
        ]);
    }
    let mut conns = Vec::new();
    for _ in 0..streams {
        conns.push(pool.acquire().await?);
    }
    let t = Instant::now();
    let copies = conns
        .iter_mut()
        .zip(bodies)
        .map(|(conn, bodies)| async move {
            for (sql, rows) in bodies {
                copy_in(conn, sql, rows).await?;
            }
            Ok::<(), sqlx::Error>(())
        });
    futures::future::try_join_all(copies).await?;
    Ok(t.elapsed().as_secs_f64())
}
