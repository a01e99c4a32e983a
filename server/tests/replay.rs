//! Replaying a dead letter against a real broker: it lands once on its original topic with
//! its key, value and carried headers, stamped with the replay headers — even when two
//! requests race — and a message replayed too often is parked, not sent.

mod common;

use common::{eventually, ingest_settings, Broker, TestDb};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use std::time::Duration;
use switchyard::audit::Actor;
use switchyard::ingest::consumer::run;
use switchyard::replay::watermarks::Watermarks;
use switchyard::replay::{replay_one, Replayed};
use tokio::sync::watch;

async fn dead_letter(broker: &Broker, key: &str, replay_count: &str) {
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "x-event-id",
            value: Some("e-1"),
        })
        .insert(Header {
            key: "traceparent",
            value: Some("00-stale-trace-01"),
        })
        .insert(Header {
            key: "x-original-topic",
            value: Some("payment.completed"),
        })
        .insert(Header {
            key: "x-original-partition",
            value: Some("0"),
        })
        .insert(Header {
            key: "x-original-offset",
            value: Some("5"),
        })
        .insert(Header {
            key: "x-exception-message",
            value: Some("gateway timeout"),
        })
        .insert(Header {
            key: "x-replay-count",
            value: Some(replay_count),
        });
    let value = format!(r#"{{"aggregate_id":"{key}"}}"#);
    broker
        .producer()
        .send(
            FutureRecord::to("payment.completed.dlq")
                .key(key)
                .payload(&value)
                .headers(headers),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_land_once_with_the_right_headers_and_too_many_park() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let ingest = tokio::spawn(run(
        db.pool.clone(),
        ingest_settings(&broker, &db, "console"),
        stop_rx,
    ));
    dead_letter(&broker, "ORD-R1", "0").await;
    dead_letter(&broker, "ORD-R2", "3").await;
    eventually(Duration::from_secs(30), "dead letters ingested", || async {
        db.count("SELECT count(*) FROM dead_letters").await == 2
    })
    .await;
    let id = |order: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM dead_letters WHERE order_id = $1")
                .bind(order)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (r1, r2) = (id("ORD-R1").await, id("ORD-R2").await);
    let producer = broker.producer();
    let marks = Watermarks::new(&broker.bootstrap).unwrap();
    let (alice, bob, carol) = (Actor::cli("alice"), Actor::cli("bob"), Actor::cli("carol"));

    // Two operators press Replay at once.
    let (a, b) = tokio::join!(
        replay_one(&db.pool, &producer, &marks, r1, &alice, 3),
        replay_one(&db.pool, &producer, &marks, r1, &bob, 3)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let sent = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Replayed::Sent { .. }))
        .count();
    assert_eq!(sent, 1, "{a:?} {b:?}");
    assert!(matches!(a, Replayed::AlreadyReplayed) || matches!(b, Replayed::AlreadyReplayed));
    assert_eq!(
        replay_one(&db.pool, &producer, &marks, r1, &carol, 3)
            .await
            .unwrap(),
        Replayed::AlreadyReplayed
    );
    assert_eq!(
        replay_one(&db.pool, &producer, &marks, r2, &alice, 3)
            .await
            .unwrap(),
        Replayed::Parked
    );
    let status: String = sqlx::query_scalar("SELECT status FROM dead_letters WHERE id = $1")
        .bind(r2)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(status, "parked");

    // Exactly one replayed message on the original topic, with the expected headers.
    let consumer: StreamConsumer = switchyard_contract::kafka::client_config(&broker.bootstrap)
        .set("group.id", "replay-check")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["payment.completed"]).unwrap();
    let mut replayed = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while let Ok(Ok(m)) = tokio::time::timeout_at(deadline, consumer.recv()).await {
        let headers: Vec<(String, String)> = m
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        (
                            h.key.to_string(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        replayed.push((
            m.key().map(<[u8]>::to_vec),
            m.payload().map(<[u8]>::to_vec),
            headers,
        ));
    }
    assert_eq!(replayed.len(), 1, "exactly one replay sent");
    let (key, value, headers) = &replayed[0];
    assert_eq!(key.as_deref(), Some(&b"ORD-R1"[..]));
    assert_eq!(value.as_deref(), Some(&br#"{"aggregate_id":"ORD-R1"}"#[..]));
    let get = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("x-event-id"), Some("e-1"));
    assert_eq!(get("x-replay-count"), Some("1"));
    assert!(get("x-replayed-by") == Some("alice") || get("x-replayed-by") == Some("bob"));
    assert!(get("x-replay-id").is_some());
    assert_eq!(get("traceparent"), None, "stale trace context stripped");
    assert_eq!(
        get("x-original-topic"),
        None,
        "dead-letter bookkeeping not carried"
    );
    assert_eq!(get("x-exception-message"), None);

    // The replay and the parking are in the audit log, the replay with its offset.
    let audited: Vec<(String, String, serde_json::Value)> =
        sqlx::query_as("SELECT actor, action, detail FROM audit_log ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let actions: Vec<&str> = audited.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(actions, ["replay", "park"]);
    assert!(audited[0].2.get("offset").is_some_and(|o| o.is_i64()));
    assert!(["alice", "bob"].contains(&audited[0].0.as_str()));

    stop_tx.send(true).unwrap();
    ingest.await.unwrap().unwrap();
    db.drop_db().await;
}
