//! Dead letters written by other ecosystems, under their default topic names and headers,
//! to a broker on which the console created no topic: each is found by the default
//! dead-letter patterns, read with the right dialect and original topic, and one replay
//! puts exactly one copy of the original value on the original topic. Also: a dead letter
//! without headers goes back by its topic's naming convention (and says so), one whose
//! name implies nothing is kept but not replayed, and a dead-letter topic created while
//! ingest runs is read without a restart.

mod common;

use common::dlq::*;
use common::{eventually, ingest_settings, Broker, TestDb};
use std::time::Duration;
use switchyard::ingest::consumer::{run, IngestSettings, Topics};
use switchyard::read_model::sources::Sources;
use switchyard::read_model::LogEnds;
use switchyard::replay::query;
use switchyard_app::states::JobStatus;
use switchyard_contract::topic_selection::TopicSelection;
use tokio::sync::watch;

/// One ecosystem's dead letter.
struct Convention {
    dlq_topic: &'static str,
    original: &'static str,
    dialect: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
}

const VALUE: &str = r#"{"orderId":"A-1001","amount":129.5,"currency":"EUR"}"#;

async fn produce(
    broker: &Broker,
    topic: &str,
    key: &str,
    value: &[u8],
    headers: &[(&str, Vec<u8>)],
) {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    produce_with_headers(broker, topic, key, value, &headers).await;
}

struct Console {
    db: TestDb,
    broker: Broker,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Console {
    /// A bare broker, the given topics created by "the team", and ingest plus the replay
    /// runner with the default topic settings (`extra` dead-letter entries added).
    async fn start(topics: &[&str], extra_dead_letter_entries: &[&str]) -> Console {
        let db = TestDb::new().await;
        let broker = Broker::start_bare().await;
        if !topics.is_empty() {
            broker.create_topics(topics, 2).await;
        }
        let mut settings: IngestSettings = ingest_settings(&broker, &db, "console");
        if !extra_dead_letter_entries.is_empty() {
            let mut entries: Vec<String> = settings.topics.dead_letters.entries().to_vec();
            entries.extend(extra_dead_letter_entries.iter().map(|e| e.to_string()));
            settings.topics.dead_letters = TopicSelection::parse(&entries).unwrap();
        }
        let (stop, stop_rx) = watch::channel(false);
        let ingest = tokio::spawn({
            let (pool, stop_rx) = (db.pool.clone(), stop_rx.clone());
            async move { run(pool, settings, stop_rx).await.unwrap() }
        });
        let runner = spawn_runner(&db, &broker, 100, stop_rx);
        Console {
            db,
            broker,
            stop,
            tasks: vec![ingest, runner],
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The whole round trip for one convention.
async fn round_trip(c: Convention, extra_dead_letter_entries: &[&str]) {
    let console = Console::start(&[c.dlq_topic, c.original], extra_dead_letter_entries).await;
    produce(
        &console.broker,
        c.dlq_topic,
        "A-1001",
        VALUE.as_bytes(),
        &c.headers,
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "the dead letter ingested",
        || async { console.db.count("SELECT count(*) FROM dead_letters").await == 1 },
    )
    .await;
    let (id, topic, original, dialect): (i64, String, String, String) =
        sqlx::query_as("SELECT id, topic, original_topic, dialect FROM dead_letters")
            .fetch_one(&console.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (topic.as_str(), original.as_str(), dialect.as_str()),
        (c.dlq_topic, c.original, c.dialect)
    );
    let d = query::detail(&console.db.pool, id).await.unwrap().unwrap();
    assert_eq!(d.origin_note, None, "a header names the original topic");
    assert_eq!(replay_everything(&console.db).await, JobStatus::Completed);
    let landed = replays_on(&console.broker, c.original);
    assert_eq!(landed.len(), 1, "{landed:?}");
    assert_eq!(landed[0].value.as_deref(), Some(VALUE));
    assert_eq!(landed[0].key.as_deref(), Some("A-1001"));
    assert!(
        read_topic(&console.broker, c.original).len() == 1,
        "exactly one copy on {}",
        c.original
    );
    console.stop().await;
}

fn int4(n: i32) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

fn int8(n: i64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

fn text(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spring_kafka_dlt() {
    // DeadLetterPublishingRecoverer's default: `<topic>.DLT`, positions as binary.
    round_trip(
        Convention {
            dlq_topic: "orders.DLT",
            original: "orders",
            dialect: "spring-kafka",
            headers: vec![
                ("kafka_dlt-original-topic", text("orders")),
                ("kafka_dlt-original-partition", int4(1)),
                ("kafka_dlt-original-offset", int8(4711)),
                ("kafka_dlt-original-timestamp", int8(1_764_000_000_000)),
                ("kafka_dlt-original-timestamp-type", text("CreateTime")),
                ("kafka_dlt-original-consumer-group", text("order-service")),
                (
                    "kafka_dlt-exception-fqcn",
                    text("org.springframework.kafka.listener.ListenerExecutionFailedException"),
                ),
                (
                    "kafka_dlt-exception-message",
                    text("Listener failed; amount rejected"),
                ),
            ],
        },
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spring_kafka_retry_topics_dlt() {
    // @RetryableTopic's default: `<topic>-dlt` after `<topic>-retry-N`.
    round_trip(
        Convention {
            dlq_topic: "payments-dlt",
            original: "payments",
            dialect: "spring-kafka",
            headers: vec![
                ("kafka_dlt-original-topic", text("payments")),
                ("kafka_dlt-original-partition", int4(0)),
                ("kafka_dlt-original-offset", int8(12)),
                (
                    "kafka_dlt-exception-fqcn",
                    text("java.lang.IllegalStateException"),
                ),
                ("kafka_dlt-exception-message", text("gateway timeout")),
            ],
        },
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spring_cloud_stream_error_topic() {
    // The Kafka binder's default DLQ: `error.<destination>.<group>`.
    round_trip(
        Convention {
            dlq_topic: "error.invoices.billing",
            original: "invoices",
            dialect: "spring-cloud-stream",
            headers: vec![
                ("x-original-topic", text("invoices")),
                ("x-original-partition", int4(0)),
                ("x-original-offset", int8(99)),
                ("x-original-timestamp", int8(1_764_000_000_000)),
                (
                    "x-exception-fqcn",
                    text("org.springframework.messaging.MessagingException"),
                ),
                ("x-exception-message", text("Dispatcher has no subscribers")),
                (
                    "x-exception-stacktrace",
                    text("org.springframework…\n\tat …"),
                ),
            ],
        },
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smallrye_dead_letter_topic() {
    // SmallRye Reactive Messaging's `dead-letter-queue` strategy: `dead-letter-topic-<topic>`.
    round_trip(
        Convention {
            dlq_topic: "dead-letter-topic-shipments",
            original: "shipments",
            dialect: "smallrye",
            headers: vec![
                ("dead-letter-reason", text("carrier rejected the parcel")),
                ("dead-letter-cause", text("java.io.IOException: 503")),
                (
                    "dead-letter-exception-class-name",
                    text("java.lang.RuntimeException"),
                ),
                ("dead-letter-topic", text("shipments")),
                ("dead-letter-partition", text("1")),
                ("dead-letter-offset", text("3")),
            ],
        },
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_connect_dlq_with_context_headers() {
    // A sink connector with `errors.deadletterqueue.topic.name=dlq-jdbc-sink` and
    // `errors.deadletterqueue.context.headers.enable=true`.
    round_trip(
        Convention {
            dlq_topic: "dlq-jdbc-sink",
            original: "customers",
            dialect: "kafka-connect",
            headers: vec![
                ("__connect.errors.topic", text("customers")),
                ("__connect.errors.partition", text("0")),
                ("__connect.errors.offset", text("42")),
                ("__connect.errors.connector.name", text("jdbc-sink")),
                ("__connect.errors.task.id", text("0")),
                ("__connect.errors.stage", text("VALUE_CONVERTER")),
                (
                    "__connect.errors.class.name",
                    text("org.apache.kafka.connect.json.JsonConverter"),
                ),
                (
                    "__connect.errors.exception.class.name",
                    text("org.apache.kafka.connect.errors.DataException"),
                ),
                (
                    "__connect.errors.exception.message",
                    text("Converting byte[] to Kafka Connect data failed"),
                ),
            ],
        },
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_streams_configured_dlq() {
    // KIP-1034: `errors.dead.letter.queue.topic.name` is whatever the team chose, here a
    // name no convention matches — given to the console by name.
    round_trip(
        Convention {
            dlq_topic: "order-processor.dead-letters",
            original: "orders-enriched",
            dialect: "kafka-streams",
            headers: vec![
                (
                    "__streams.errors.exception",
                    text("org.apache.kafka.common.errors.SerializationException"),
                ),
                (
                    "__streams.errors.message",
                    text("Size of data received is not 8"),
                ),
                ("__streams.errors.topic", text("orders-enriched")),
                ("__streams.errors.partition", text("1")),
                ("__streams.errors.offset", text("7")),
            ],
        },
        &["order-processor.dead-letters"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headerless_dead_letters_go_by_name_or_stay() {
    let console = Console::start(&["orders-dlq", "orders", "dlq-s3-sink"], &[]).await;
    produce(&console.broker, "orders-dlq", "A-1", VALUE.as_bytes(), &[]).await;
    produce(&console.broker, "dlq-s3-sink", "A-2", VALUE.as_bytes(), &[]).await;
    eventually(
        Duration::from_secs(30),
        "both dead letters ingested",
        || async { console.db.count("SELECT count(*) FROM dead_letters").await == 2 },
    )
    .await;
    let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, topic, original_topic, origin_note FROM dead_letters ORDER BY topic",
    )
    .fetch_all(&console.db.pool)
    .await
    .unwrap();
    // `dlq-s3-sink` names a connector: the original topic is unknown, and said so.
    assert_eq!(rows[0].1, "dlq-s3-sink");
    assert_eq!(rows[0].2, "dlq-s3-sink");
    assert!(rows[0]
        .3
        .as_deref()
        .unwrap()
        .starts_with("original topic unknown"));
    // `orders-dlq`: back to `orders` by the name, and the page says so.
    assert_eq!(
        (rows[1].1.as_str(), rows[1].2.as_str()),
        ("orders-dlq", "orders")
    );
    let d = query::detail(&console.db.pool, rows[1].0)
        .await
        .unwrap()
        .unwrap();
    assert!(d.origin_note.unwrap().contains("<topic>-dlq"));

    // Grouped, and filtered, by the dead-letter topic they sit on.
    let only = switchyard_app::ops::DeadLetterFilter {
        dlq_topic: Some("orders-dlq".into()),
        ..Default::default()
    };
    let groups = query::groups(&console.db.pool, &only).await.unwrap();
    assert_eq!(groups.by_dlq_topic.len(), 1);
    assert_eq!(
        (
            groups.by_dlq_topic[0].label.as_str(),
            groups.by_dlq_topic[0].count
        ),
        ("orders-dlq", 1)
    );
    let all = query::groups(&console.db.pool, &Default::default())
        .await
        .unwrap();
    assert_eq!(all.by_dlq_topic.len(), 2);

    // The job replays the one it can and refuses the other with its reason.
    replay_everything(&console.db).await;
    assert_eq!(replays_on(&console.broker, "orders").len(), 1);
    assert!(replays_on(&console.broker, "dlq-s3-sink").is_empty());
    assert_eq!(dead_letter_status(&console.db, rows[0].0).await, "pending");
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_topic_created_while_running_is_read_without_a_restart() {
    let console = Console::start(&["orders"], &[]).await;
    // Ingest is running (its subscription has matched nothing so far); the team's service
    // now fails for the first time and Spring creates its DLT.
    tokio::time::sleep(Duration::from_secs(2)).await;
    console.broker.create_topics(&["late-orders.DLT"], 1).await;
    produce(
        &console.broker,
        "late-orders.DLT",
        "A-9",
        VALUE.as_bytes(),
        &[("kafka_dlt-original-topic", text("orders"))],
    )
    .await;
    // The harness refreshes topic metadata every second; a rebalance follows.
    eventually(
        Duration::from_secs(30),
        "the new topic's dead letter ingested",
        || async {
            console
                .db
                .count("SELECT count(*) FROM dead_letters WHERE topic = 'late-orders.DLT'")
                .await
                == 1
        },
    )
    .await;
    // The admin page's view: the pattern that matched it, with nothing left to read.
    let sources = Sources {
        brokers: console.broker.bootstrap.clone(),
        group: "console".into(),
        topics: Topics::contract(),
        kafka: console.broker.producer(),
        log_ends: LogEnds::connect(&console.broker.bootstrap).unwrap(),
    };
    let view = sources.view(&console.db.pool).await.unwrap();
    assert_eq!(view.error, None);
    assert_eq!(view.security_protocol, "PLAINTEXT");
    let entry = view
        .entries
        .iter()
        .find(|e| e.topics.iter().any(|t| t.topic == "late-orders.DLT"))
        .expect("a dead-letter pattern matched the new topic");
    assert_eq!(entry.kind, "dead letters");
    assert!(entry.entry.starts_with('^'), "{entry:?}");
    let t = entry
        .topics
        .iter()
        .find(|t| t.topic == "late-orders.DLT")
        .unwrap();
    assert_eq!((t.partitions, t.lag), (1, Some(0)));
    // `orders` is no event topic of the contract: no entry lists it.
    assert!(view
        .entries
        .iter()
        .all(|e| e.topics.iter().all(|t| t.topic != "orders")));
    console.stop().await;
}
