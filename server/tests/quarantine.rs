//! A malformed record does not stop ingest: it is quarantined with its bytes and reason,
//! and the records after it are stored as usual.

mod common;

use common::{eventually, ingest_settings, Broker, TestDb};
use std::time::Duration;
use switchyard::ingest::consumer::run;
use tokio::sync::watch;
use {
    switchyard_contract::{publish, publish_raw},
    switchyard_fleet::orders::new_order,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_records_are_quarantined_and_ingest_goes_on() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let producer = broker.producer();
    let settings = ingest_settings(&broker, &db, "quarantine-test");
    let (stop_tx, stop_rx) = watch::channel(false);
    let ingest = tokio::spawn(run(db.pool.clone(), settings, stop_rx));

    publish(&producer, &new_order("ORD-Q1", &mut rand::rng()))
        .await
        .unwrap();
    publish_raw(
        &producer,
        "order.created",
        Some(b"ORD-Q2"),
        b"this is not json",
    )
    .await
    .unwrap();
    publish_raw(
        &producer,
        "payment.completed",
        None,
        &[0xde, 0xad, 0xbe, 0xef],
    )
    .await
    .unwrap();
    publish(&producer, &new_order("ORD-Q3", &mut rand::rng()))
        .await
        .unwrap();

    eventually(
        Duration::from_secs(30),
        "two orders and two quarantined",
        || async {
            db.count("SELECT count(*) FROM orders").await == 2
                && db.count("SELECT count(*) FROM quarantine").await == 2
        },
    )
    .await;

    let (key, value, reason): (Option<Vec<u8>>, Vec<u8>, String) = sqlx::query_as(
        "SELECT kafka_key, raw_value, reason FROM quarantine WHERE topic = 'order.created'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(key.as_deref(), Some(&b"ORD-Q2"[..]));
    assert_eq!(value, b"this is not json");
    assert!(reason.starts_with("invalid JSON"), "{reason}");
    let (value, reason): (Vec<u8>, String) = sqlx::query_as(
        "SELECT raw_value, reason FROM quarantine WHERE topic = 'payment.completed'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(value, [0xde, 0xad, 0xbe, 0xef]);
    assert!(reason.starts_with("invalid UTF-8"), "{reason}");

    // Still consuming after the bad records.
    publish(&producer, &new_order("ORD-Q4", &mut rand::rng()))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(30),
        "order after the bad records",
        || async {
            db.count("SELECT count(*) FROM orders WHERE order_id = 'ORD-Q4'")
                .await
                == 1
        },
    )
    .await;

    stop_tx.send(true).unwrap();
    ingest.await.unwrap().unwrap();
    db.drop_db().await;
}

/// A record the decoder takes but PostgreSQL refuses (an aggregate id too long for the
/// event store's index) is found by splitting its batch and quarantined with the
/// database's reason; every record around it is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_database_refuses_is_quarantined_and_its_neighbours_stored() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let producer = broker.producer();
    // Published before ingest starts, so they arrive together in one batch.
    let mut rng = rand::rng();
    for i in 0..120 {
        let mut env = new_order(&format!("ORD-R{i:03}"), &mut rng);
        if i == 57 {
            // Random hex does not compress: the index row stays over btree's 2704 bytes.
            env.aggregate_id = (0..4000)
                .map(|_| format!("{:02x}", rand::random::<u8>()))
                .collect();
        }
        publish(&producer, &env).await.unwrap();
    }
    let mut settings = ingest_settings(&broker, &db, "refused-test");
    settings.batch_max = 500;
    settings.batch_wait = Duration::from_millis(500);
    let (stop_tx, stop_rx) = watch::channel(false);
    let ingest = tokio::spawn(run(db.pool.clone(), settings, stop_rx));

    eventually(
        Duration::from_secs(60),
        "119 orders and one quarantined",
        || async {
            db.count("SELECT count(*) FROM events").await == 119
                && db.count("SELECT count(*) FROM quarantine").await == 1
        },
    )
    .await;
    let reason: String = sqlx::query_scalar("SELECT reason FROM quarantine")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(reason.starts_with("refused by the database"), "{reason}");
    assert!(reason.contains("index row size"), "{reason}");
    assert_eq!(db.count("SELECT count(*) FROM orders").await, 119);
    assert_eq!(
        db.count("SELECT count(DISTINCT (topic, kafka_partition, kafka_offset)) FROM events")
            .await,
        119
    );

    stop_tx.send(true).unwrap();
    ingest.await.unwrap().unwrap();
    db.drop_db().await;
}
