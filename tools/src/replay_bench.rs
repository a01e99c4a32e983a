//! `switchyard-tools replay-bench`: how fast a replay job sends, and proof that it sent each
//! dead letter exactly once.
//!
//! 1. Stores N dead letters for a fresh topic in a fresh database.
//! 2. Starts one unthrottled job over all of them and runs a job runner in-process, timing
//!    job start → job completed (claim, produce, settle, audit: the whole path).
//! 3. Consumes the target topic from the beginning and counts `x-replay-id`s: every one
//!    must belong to the job, none twice, none missing.
//! 4. Produces the same N messages straight to a second topic: the broker's own ceiling
//!    for this producer, measured in the same run.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::FutureRecord;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use switchyard::audit::Actor;
use switchyard::db;
use switchyard::replay::job;
use switchyard::replay::runner::Runner;
use switchyard_app::dlq::{JobRequest, ReplayScope};
use switchyard_app::ops::DeadLetterFilter;
use switchyard_contract::kafka;
use tokio::sync::watch;
use uuid::Uuid;

pub async fn run(
    admin_url: &str,
    brokers: &str,
    records: usize,
    batch: usize,
    topic: Option<String>,
) -> anyhow::Result<()> {
    let (_, name, pool) = db::create_scratch(admin_url, "sy_replay_bench").await?;
    let suffix = &name[name.len() - 8..];
    let (target, baseline) = match topic {
        Some(t) => (t.clone(), t),
        None => {
            let t = format!("bench.replay.{suffix}");
            let b = format!("bench.produce.{suffix}");
            kafka::topics::ensure(
                brokers,
                &[t.clone(), b.clone()],
                kafka::topics::Creation::with_partitions(3),
            )
            .await?;
            (t, b)
        }
    };

    sqlx::query(
        "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, kafka_key, raw_value,
            headers, dialect, original_topic, failed_at, replay_value, order_id,
            exception_message)
         SELECT $1 || '.dlq', 0, n, convert_to('ORD-' || lpad(n::text, 7, '0'), 'UTF8'), v, h,
                'spring-cloud-stream', $1, now(), v, 'ORD-' || lpad(n::text, 7, '0'),
                'bench: gateway timeout'
         FROM generate_series(1, $2) AS n,
              LATERAL (SELECT convert_to(json_build_object('aggregate_id', 'ORD-' || lpad(n::text, 7, '0'),
                        'type', 'payment.completed', 'amount', n)::text, 'UTF8') AS v,
                       jsonb_build_array(jsonb_build_object('key', 'x-event-id', 'text', gen_random_uuid()::text),
                                         jsonb_build_object('key', 'traceparent', 'text', '00-stale-01'),
                                         jsonb_build_object('key', 'x-original-topic', 'text', $1)) AS h) AS x",
    )
    .bind(&target)
    .bind(records as i64)
    .execute(&pool)
    .await?;

    let actor = Actor::cli("replay-bench");
    let request = JobRequest {
        scope: ReplayScope::Filter {
            filter: DeadLetterFilter {
                topic: Some(target.clone()),
                ..Default::default()
            },
        },
        throttle: 0,
        strip_headers: None,
        hold_on: None,
    };
    let runner = Runner::new(pool.clone(), brokers, Duration::from_secs(5), batch)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let t = Instant::now();
    let id = job::start(&pool, &actor, &request, 3)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let running = tokio::spawn(runner.run(stop_rx));
    loop {
        let status: String = sqlx::query_scalar("SELECT status FROM replay_jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await?;
        if status != "running" {
            anyhow::ensure!(status == "completed", "job ended {status}");
            break;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(600),
            "job did not finish in 10 min"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let job_secs = t.elapsed().as_secs_f64();
    stop_tx.send(true)?;
    running.await?;
    let view = job::job_view(&pool, id).await?.expect("job");

    // Verify on the broker: every replay id of the job exactly once, nothing else.
    let expected: HashSet<String> = sqlx::query_scalar::<_, Uuid>(
        "SELECT replay_id FROM replays WHERE job_id = $1 AND status = 'sent'",
    )
    .bind(id)
    .fetch_all(&pool)
    .await?
    .into_iter()
    .map(|u| u.to_string())
    .collect();
    let (b, t2) = (brokers.to_string(), target.clone());
    let seen = tokio::task::spawn_blocking(move || read_replay_ids(&b, &t2)).await??;
    let distinct: HashSet<&String> = seen.iter().collect();
    let duplicates = seen.len() - distinct.len();
    let lost = expected.iter().filter(|e| !distinct.contains(e)).count();
    let strangers = distinct.iter().filter(|d| !expected.contains(**d)).count();

    // The ceiling: the same number of messages, produced directly.
    let producer = kafka::producer(brokers)?;
    let t = Instant::now();
    let payload = vec![b'x'; 90];
    let mut flights = Vec::with_capacity(records);
    for i in 0..records {
        let key = format!("ORD-{i:07}");
        loop {
            match producer.send_result(FutureRecord::to(&baseline).key(&key).payload(&payload)) {
                Ok(f) => {
                    flights.push(f);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }
    for f in flights {
        f.await?.map_err(|(e, _)| e)?;
    }
    let produce_rate = records as f64 / t.elapsed().as_secs_f64();

    println!("replay-bench: {records} dead letters, one unthrottled job, batch {batch}");
    println!(
        "job          {:>10.0} msg/s  ({job_secs:.2} s from job start to completed; {} sent, {} skipped, {} failed)",
        view.sent as f64 / job_secs,
        view.sent,
        view.skipped,
        view.failed
    );
    println!(
        "verified     {} messages on {target}: {} distinct replay ids, {duplicates} duplicates, {lost} lost, {strangers} unknown",
        seen.len(),
        distinct.len()
    );
    println!("raw produce  {produce_rate:>10.0} msg/s  (same count, same producer settings, no database)");
    pool.close().await;
    db::drop_scratch(admin_url, &name).await?;
    anyhow::ensure!(
        duplicates == 0 && lost == 0 && strangers == 0 && view.sent as usize == records,
        "replay was not exactly once"
    );
    Ok(())
}

/// Every `x-replay-id` on `topic`, from the beginning to the current end.
fn read_replay_ids(brokers: &str, topic: &str) -> anyhow::Result<Vec<String>> {
    let c: BaseConsumer = kafka::client_config(brokers)
        .set("group.id", format!("replay-bench-{}", Uuid::now_v7()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut list = rdkafka::TopicPartitionList::new();
    let mut left = 0i64;
    for p in md.topics()[0].partitions() {
        let (low, high) = c.fetch_watermarks(topic, p.id(), Duration::from_secs(10))?;
        left += high - low;
        list.add_partition_offset(topic, p.id(), rdkafka::Offset::Beginning)?;
    }
    c.assign(&list)?;
    let mut ids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while left > 0 && Instant::now() < deadline {
        let Some(m) = c.poll(Duration::from_millis(500)) else {
            continue;
        };
        let m = m?;
        left -= 1;
        if let Some(id) = m.headers().and_then(|hs| {
            hs.iter()
                .find(|h| h.key == "x-replay-id")
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        }) {
            ids.push(id);
        }
    }
    Ok(ids)
}
