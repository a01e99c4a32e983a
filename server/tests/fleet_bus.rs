//! The fleet's event bus against a real broker and PostgreSQL: retries with backoff,
//! dead letters with the original bytes and `x-original-*` / `x-exception-*` headers (read
//! back by the console's ingest), idempotent handling of redeliveries, and a replayed dead
//! letter handled exactly once once the cause is fixed.

mod common;

use common::{eventually, ingest_settings, Broker, TestDb};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard::ingest::consumer::run;
use switchyard_contract::Envelope;
use switchyard_contract::{publish, publish_raw};
use switchyard_fleet::bus::{HandlerError, RetryPolicy, Subscription};
use tokio::sync::watch;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_dead_letters_idempotency_and_replay() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let fleet_pool = switchyard_fleet::store::connect(&db.url).await.unwrap();
    let producer = broker.producer();

    let calls: Arc<Mutex<HashMap<Uuid, u32>>> = Arc::default();
    let fixed = Arc::new(AtomicBool::new(false));
    let handler = {
        let (calls, fixed) = (calls.clone(), fixed.clone());
        move |env: Envelope| {
            let (calls, fixed) = (calls.clone(), fixed.clone());
            async move {
                let n = {
                    let mut c = calls.lock().unwrap();
                    let n = c.entry(env.id).or_default();
                    *n += 1;
                    *n
                };
                if env.data["poison"] == true && !fixed.load(Ordering::SeqCst) {
                    return Err(HandlerError::new("Poison", "cannot charge this card"));
                }
                if env.data["flaky"] == true && n < 3 {
                    return Err(HandlerError::new("Timeout", "gateway timeout"));
                }
                Ok(())
            }
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let sub = Subscription {
        brokers: broker.bootstrap.clone(),
        group: "payment-service".into(),
        topics: vec!["order.created".into()],
        retry: RetryPolicy {
            max_attempts: 3,
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
        accept: None,
    };
    let service = tokio::spawn(sub.run(
        fleet_pool.clone(),
        broker.renewing_producer(),
        handler,
        stop_rx.clone(),
    ));

    let ok = Envelope::new("order.created", "ORD-B1", "order-service", json!({}));
    let flaky = Envelope::new(
        "order.created",
        "ORD-B2",
        "order-service",
        json!({"flaky": true}),
    );
    let poison = Envelope::new(
        "order.created",
        "ORD-B3",
        "order-service",
        json!({"poison": true}),
    );
    publish(&producer, &ok).await.unwrap();
    publish(&producer, &flaky).await.unwrap();
    let (poison_partition, poison_offset) = publish(&producer, &poison).await.unwrap();
    publish_raw(
        &producer,
        "order.created",
        Some(b"ORD-B4"),
        b"\x00not an envelope",
    )
    .await
    .unwrap();

    // The console's ingest reads the dead letters the bus writes.
    let ingest = tokio::spawn(run(
        db.pool.clone(),
        ingest_settings(&broker, &db, "console"),
        stop_rx.clone(),
    ));
    eventually(
        Duration::from_secs(60),
        "two dead letters ingested",
        || async { db.count("SELECT count(*) FROM dead_letters").await == 2 },
    )
    .await;
    {
        let c = calls.lock().unwrap();
        assert_eq!(c[&ok.id], 1);
        assert_eq!(c[&flaky.id], 3, "two retries, then success");
        assert_eq!(c[&poison.id], 3, "three attempts, then the dead letter");
    }
    type DeadLetter = (
        String,
        String,
        Option<i32>,
        Option<i64>,
        Option<String>,
        Option<i32>,
        Option<Vec<u8>>,
    );
    let row: DeadLetter = sqlx::query_as(
        "SELECT dialect, original_topic, original_partition, original_offset, exception_type, attempts, raw_value
         FROM dead_letters WHERE order_id = 'ORD-B3'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(row.0, "spring-cloud-stream");
    assert_eq!(row.1, "order.created");
    assert_eq!(
        (row.2, row.3),
        (Some(poison_partition), Some(poison_offset))
    );
    assert_eq!((row.4.as_deref(), row.5), (Some("Poison"), Some(3)));
    assert_eq!(
        row.6.unwrap(),
        serde_json::to_vec(&poison).unwrap(),
        "value bytes unchanged"
    );
    let kind: Option<String> =
        sqlx::query_scalar("SELECT exception_type FROM dead_letters WHERE order_id = 'ORD-B4'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(kind.as_deref(), Some("Deserialization"));

    // A redelivered copy of a handled event is skipped.
    publish(&producer, &ok).await.unwrap();
    // The cause is fixed; an operator replays the dead letter to its original topic.
    fixed.store(true, Ordering::SeqCst);
    let value = serde_json::to_vec(&poison).unwrap();
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "x-replay-id",
            value: Some("replay-1"),
        })
        .insert(Header {
            key: "x-replay-count",
            value: Some("1"),
        });
    producer
        .send(
            FutureRecord::to("order.created")
                .key("ORD-B3")
                .payload(&value)
                .headers(headers),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    eventually(Duration::from_secs(30), "replay handled", || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM processed WHERE event_id = $1")
            .bind(poison.id)
            .fetch_one(&fleet_pool)
            .await
            .unwrap()
            == 1
    })
    .await;
    // And a second replay of the same message does nothing more.
    publish(&producer, &poison).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    {
        let c = calls.lock().unwrap();
        assert_eq!(c[&ok.id], 1, "redelivery skipped");
        assert_eq!(c[&poison.id], 4, "replay handled once");
    }
    stop_tx.send(true).unwrap();
    service.await.unwrap().unwrap();
    ingest.await.unwrap().unwrap();
    fleet_pool.close().await;
    db.drop_db().await;
}
