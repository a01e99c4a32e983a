//! The read model built by ingest from a real broker: dead letters in every dialect,
//! saga steps, breakers and rollups — including events of one order arriving out of order
//! across topics.

mod common;

use common::{eventually, ingest_settings, Broker, TestDb};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use serde_json::json;
use std::time::Duration;
use switchyard::ingest::consumer::{run, IngestSettings};
use switchyard_contract::publish;
use switchyard_contract::Envelope;
use tokio::sync::watch;

fn settings(broker: &Broker, db: &TestDb) -> IngestSettings {
    ingest_settings(broker, db, "projections-test")
}

async fn send_dlq(
    broker: &Broker,
    topic: &str,
    key: &str,
    headers: &[(&str, &[u8])],
    value: &[u8],
) {
    let mut hs = OwnedHeaders::new();
    for (k, v) in headers {
        hs = hs.insert(Header {
            key: k,
            value: Some(*v),
        });
    }
    let rec = FutureRecord::to(topic).key(key).payload(value).headers(hs);
    broker
        .producer()
        .send(rec, Duration::from_secs(10))
        .await
        .unwrap();
}

/// (dialect, headers, value) of one dead letter.
type DlqCase = (&'static str, Vec<(&'static str, Vec<u8>)>, Vec<u8>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_in_every_dialect_are_stored_with_their_origin() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let ingest = tokio::spawn(run(db.pool.clone(), settings(&broker, &db), stop_rx));
    let body = br#"{"aggregate_id":"ORD-D","type":"payment.completed"}"#;
    let cases: Vec<DlqCase> = vec![
        (
            "spring-kafka",
            vec![
                ("kafka_dlt-original-topic", b"payment.completed".to_vec()),
                ("kafka_dlt-original-partition", 2i32.to_be_bytes().to_vec()),
                ("kafka_dlt-original-offset", 77i64.to_be_bytes().to_vec()),
                ("kafka_dlt-exception-message", b"declined".to_vec()),
            ],
            body.to_vec(),
        ),
        (
            "spring-cloud-stream",
            vec![
                ("x-original-topic", b"payment.completed".to_vec()),
                ("x-original-partition", b"1".to_vec()),
                ("x-original-offset", b"78".to_vec()),
                ("x-exception-message", b"timeout".to_vec()),
            ],
            body.to_vec(),
        ),
        (
            "kafka-connect",
            vec![
                ("__connect.errors.topic", b"payment.completed".to_vec()),
                ("__connect.errors.partition", b"0".to_vec()),
                ("__connect.errors.offset", b"79".to_vec()),
            ],
            body.to_vec(),
        ),
        (
            "kafka-streams",
            vec![
                ("__streams.errors.topic", b"payment.completed".to_vec()),
                ("__streams.errors.partition", b"0".to_vec()),
                ("__streams.errors.offset", b"80".to_vec()),
            ],
            body.to_vec(),
        ),
        (
            "smallrye",
            vec![
                ("dead-letter-topic", b"payment.completed".to_vec()),
                ("dead-letter-partition", b"0".to_vec()),
                ("dead-letter-offset", b"81".to_vec()),
                ("dead-letter-reason", b"nack".to_vec()),
            ],
            body.to_vec(),
        ),
        (
            "seed-json",
            vec![],
            br#"{"originalEvent":{"orderId":"ORD-D"},"error":"boom"}"#.to_vec(),
        ),
        ("bare", vec![], vec![0xff, 0x00, 0x01]),
    ];
    for (_, headers, value) in &cases {
        let hs: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        send_dlq(&broker, "payment.completed.dlq", "ORD-D", &hs, value).await;
    }
    eventually(
        Duration::from_secs(30),
        "all dead letters stored",
        || async { db.count("SELECT count(*) FROM dead_letters").await == cases.len() as i64 },
    )
    .await;
    for (dialect, _, _) in &cases {
        let (topic, status): (String, String) =
            sqlx::query_as("SELECT original_topic, status FROM dead_letters WHERE dialect = $1")
                .bind(dialect)
                .fetch_one(&db.pool)
                .await
                .unwrap_or_else(|e| panic!("{dialect}: {e}"));
        assert_eq!(
            (topic.as_str(), status.as_str()),
            ("payment.completed", "pending"),
            "{dialect}"
        );
    }
    let (offset,): (Option<i64>,) =
        sqlx::query_as("SELECT original_offset FROM dead_letters WHERE dialect = 'spring-kafka'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(offset, Some(77));
    let (raw, note): (Vec<u8>, Option<String>) =
        sqlx::query_as("SELECT raw_value, parse_note FROM dead_letters WHERE dialect = 'bare'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(raw, [0xff, 0x00, 0x01]);
    assert_eq!(note.as_deref(), Some("value is not JSON"));
    assert_eq!(
        db.count(
            "SELECT sum(count)::int8 FROM minute_rollups WHERE kind = 'dlq:payment.completed'"
        )
        .await,
        cases.len() as i64
    );
    assert_eq!(db.count("SELECT count(*) FROM quarantine").await, 0);
    stop_tx.send(true).unwrap();
    ingest.await.unwrap().unwrap();
    db.drop_db().await;
}

fn at(secs: u32) -> String {
    format!("2026-11-25T10:00:{secs:02}Z")
}

fn event(kind: &str, order: &str, secs: u32, data: serde_json::Value) -> Envelope {
    let mut e = Envelope::new(kind, order, "test", data);
    e.occurred_at = at(secs).parse().unwrap();
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_and_breakers_project_correctly_out_of_order() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let producer = broker.producer();
    let step = |s: &str, action: &str, status: &str, secs: u32| {
        event(
            "saga.step",
            "ORD-S",
            secs,
            json!({"saga_id": "SAGA-1", "order_id": "ORD-S", "step": s,
            "action": action, "status": status, "attempt": 1, "at": at(secs)}),
        )
    };
    // Published newest first: the projection must order by event time, not arrival.
    let events = vec![
        event(
            "order.failed",
            "ORD-S",
            9,
            json!({"reason": "payment declined"}),
        ),
        step("inventory", "compensate", "succeeded", 8),
        step("payment", "execute", "failed", 6),
        step("inventory", "execute", "succeeded", 4),
        event(
            "order.created",
            "ORD-S",
            1,
            json!({"customer_id": "CUST-1", "total_cents": 500,
            "currency": "EUR", "items": [{"quantity": 2}]}),
        ),
        event(
            "breaker.transition",
            "payment",
            7,
            json!({"service": "payment", "breaker": "gateway",
            "from": "OPEN", "to": "HALF_OPEN", "at": at(7)}),
        ),
        event(
            "breaker.transition",
            "payment",
            5,
            json!({"service": "payment", "breaker": "gateway",
            "from": "CLOSED", "to": "OPEN", "failure_count": 5, "failure_rate": 0.8, "at": at(5)}),
        ),
        event(
            "breaker.metrics",
            "payment",
            6,
            json!({"service": "payment", "breaker": "gateway",
            "calls": 20, "failures": 12, "slow": 2, "not_permitted": 4, "failure_rate": 0.6, "at": at(6)}),
        ),
    ];
    for e in &events {
        publish(&producer, e).await.unwrap();
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let ingest = tokio::spawn(run(db.pool.clone(), settings(&broker, &db), stop_rx));
    eventually(Duration::from_secs(30), "all events stored", || async {
        db.count("SELECT count(*) FROM events").await == events.len() as i64
    })
    .await;

    let order: (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        i32,
    ) = sqlx::query_as(
        "SELECT status, failure_reason, current_step, step_status, total_cents, event_count
         FROM orders WHERE order_id = 'ORD-S'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(order.0, "failed");
    assert_eq!(order.1.as_deref(), Some("payment declined"));
    assert_eq!(order.2.as_deref(), Some("inventory:compensate"));
    assert_eq!(order.3.as_deref(), Some("succeeded"));
    assert_eq!(order.4, Some(500));
    assert_eq!(order.5, 5);

    // The orders list shows where the saga is.
    let ops = switchyard::read_model::orders::PgOps::new(db.pool.clone());
    let rows = switchyard_app::ops::OpsApi::recent_orders(&ops, 10)
        .await
        .unwrap();
    assert_eq!(
        rows[0].step.as_deref(),
        Some("inventory:compensate succeeded")
    );

    let timeline: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT step, action, status FROM saga_steps WHERE order_id = 'ORD-S' ORDER BY at",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(timeline.len(), 3);
    assert_eq!(
        timeline[2],
        ("inventory".into(), "compensate".into(), "succeeded".into())
    );

    let breaker: (String, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT state, calls, not_permitted FROM breakers WHERE service = 'payment' AND breaker = 'gateway'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(breaker, ("HALF_OPEN".into(), Some(20), Some(4)));
    assert_eq!(
        db.count("SELECT count(*) FROM breaker_transitions").await,
        2
    );
    assert_eq!(
        db.count("SELECT sum(count)::int8 FROM minute_rollups WHERE kind NOT LIKE 'dlq:%'")
            .await,
        events.len() as i64
    );
    stop_tx.send(true).unwrap();
    ingest.await.unwrap().unwrap();
    db.drop_db().await;
}
