//! Helpers for the dead-letter replay tests: dead letters stored directly (when the test
//! is about replaying, not ingesting), jobs waited for, and topics read back from the
//! broker with their headers.

use super::{Broker, TestDb};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use std::time::{Duration, Instant};
use switchyard::audit::Actor;
use switchyard::replay::job;
use switchyard_app::auth::{Principal, Role};
use switchyard_app::dlq::{JobRequest, ReplayScope};
use switchyard_app::states::JobStatus;
use uuid::Uuid;

/// A replay job runner on `db` and `broker` (2 s lease, `batch` messages a batch) until
/// `stop` turns true.
pub fn spawn_runner(
    db: &TestDb,
    broker: &Broker,
    batch: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let runner = switchyard::replay::runner::Runner::new(
        db.pool.clone(),
        &broker.bootstrap,
        Duration::from_secs(2),
        batch,
    )
    .unwrap();
    tokio::spawn(runner.run(stop))
}

/// One message read back from a topic.
#[derive(Debug, Clone)]
pub struct Landed {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub value: Option<String>,
    /// The value's bytes, exactly.
    pub raw: Option<Vec<u8>>,
    pub headers: Vec<(String, String)>,
}

impl Landed {
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Every message on `topic`, from the beginning to its current end.
pub fn read_topic(broker: &Broker, topic: &str) -> Vec<Landed> {
    let c: BaseConsumer = switchyard_contract::kafka::client_config(&broker.bootstrap)
        .set("group.id", format!("check-{}", Uuid::now_v7()))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut list = rdkafka::TopicPartitionList::new();
    let mut left = 0;
    for p in md.topics()[0].partitions() {
        let (low, high) = c
            .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
            .unwrap();
        left += high - low;
        list.add_partition_offset(topic, p.id(), rdkafka::Offset::Beginning)
            .unwrap();
    }
    c.assign(&list).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while left > 0 {
        assert!(
            Instant::now() < deadline,
            "could not read {topic} to its end"
        );
        let Some(m) = c.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.unwrap();
        left -= 1;
        let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
        out.push(Landed {
            partition: m.partition(),
            offset: m.offset(),
            key: text(m.key()),
            value: text(m.payload()),
            raw: m.payload().map(<[u8]>::to_vec),
            headers: m
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| (h.key.to_string(), text(h.value).unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    out
}

/// One record with headers, as another ecosystem's producer writes it.
pub async fn produce_with_headers(
    broker: &Broker,
    topic: &str,
    key: &str,
    value: &[u8],
    headers: &[(&str, &[u8])],
) {
    use rdkafka::message::{Header, OwnedHeaders};
    let hs = headers.iter().fold(OwnedHeaders::new(), |h, (k, v)| {
        h.insert(Header {
            key: k,
            value: Some(*v),
        })
    });
    broker
        .producer()
        .send(
            rdkafka::producer::FutureRecord::to(topic)
                .key(key)
                .payload(value)
                .headers(hs),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
}

/// Messages of `topic` that are replays (carry `x-replay-id`).
pub fn replays_on(broker: &Broker, topic: &str) -> Vec<Landed> {
    read_topic(broker, topic)
        .into_iter()
        .filter(|m| m.header("x-replay-id").is_some())
        .collect()
}

/// Stores `n` pending dead letters of `original_topic` (on `<original_topic>.dlq`) the
/// way ingest would, keys `<prefix>-0001`… (more digits past 9999: `lpad` would truncate);
/// returns their ids in key order.
pub async fn seed(
    db: &TestDb,
    original_topic: &str,
    prefix: &str,
    n: i64,
    error: &str,
) -> Vec<i64> {
    sqlx::query_scalar(
        "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, kafka_key, raw_value,
            headers, dialect, original_topic, failed_at, replay_value, order_id, exception_message)
         SELECT $1 || '.dlq', 0, (SELECT COALESCE(max(kafka_offset), 0) FROM dead_letters) + n,
                convert_to(k, 'UTF8'), v,
                jsonb_build_array(jsonb_build_object('key', 'x-event-id', 'text', 'e-' || k),
                                  jsonb_build_object('key', 'traceparent', 'text', '00-stale-01'),
                                  jsonb_build_object('key', 'x-original-topic', 'text', $1)),
                'spring-cloud-stream', $1, now() - make_interval(secs => $3 - n), v, k, $4
         FROM generate_series(1, $3) AS n,
              LATERAL (SELECT $2 || '-' || lpad(n::text, greatest(4, length(n::text)), '0') AS k) AS kk,
              LATERAL (SELECT convert_to(json_build_object('aggregate_id', k)::text, 'UTF8') AS v) AS vv
         RETURNING id",
    )
    .bind(original_topic)
    .bind(prefix)
    .bind(n as i32)
    .bind(error)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

pub fn operator(name: &str) -> Principal {
    Principal {
        name: name.into(),
        role: Role::Operator,
        source: "127.0.0.1".into(),
    }
}

pub fn actor(name: &str) -> Actor {
    Actor::new(name, "127.0.0.1")
}

pub fn request(scope: ReplayScope, throttle: u32) -> JobRequest {
    JobRequest {
        scope,
        throttle,
        strip_headers: None,
        hold_on: None,
    }
}

/// Waits until the job is no longer running; returns its final status.
/// Starts one job replaying every pending dead letter (as alice) and waits for its end.
pub async fn replay_everything(db: &TestDb) -> JobStatus {
    let j = job::start(
        &db.pool,
        &actor("alice"),
        &request(
            ReplayScope::Filter {
                filter: switchyard_app::ops::DeadLetterFilter::default(),
            },
            0,
        ),
        3,
    )
    .await
    .unwrap();
    finished(db, j, Duration::from_secs(30)).await
}

pub async fn finished(db: &TestDb, job: Uuid, timeout: Duration) -> JobStatus {
    let deadline = Instant::now() + timeout;
    loop {
        let v = job::job_view(&db.pool, job).await.unwrap().unwrap();
        if !v.running() {
            return v.status;
        }
        assert!(
            Instant::now() < deadline,
            "job still running: {}/{} done",
            v.done(),
            v.total
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn dead_letter_status(db: &TestDb, id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM dead_letters WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}
