//! Dead letters written in every dialect (Spring Kafka, Spring Cloud Stream, Kafka Connect,
//! Kafka Streams, SmallRye, the seed's JSON, bare), ingested for real, are replayed by one
//! job to the right original topic with the right value; a replay that fails again and
//! comes back marks its original `failed_again` and shows up as its outcome.

mod common;

use common::dlq::*;
use common::{eventually, ingest_settings, Broker, TestDb};
use std::time::Duration;
use switchyard::ingest::consumer::run;
use switchyard::replay::query;
use switchyard_app::states::{DeadLetterStatus, JobStatus, ReplayStatus};
use tokio::sync::watch;

/// (DLQ topic, key, headers, value, the original topic it must go back to)
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a [u8])>, Vec<u8>, &'a str);

fn body(key: &str) -> String {
    format!(r#"{{"aggregate_id":"{key}","note":"<script>alert(1)</script>"}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dialect_goes_back_to_its_original_topic() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let ingest = tokio::spawn(run(
        db.pool.clone(),
        ingest_settings(&broker, &db, "console"),
        stop_rx.clone(),
    ));
    let runner = spawn_runner(&db, &broker, 100, stop_rx);

    // (DLQ topic, key, headers, value, where it must go)
    let spring_offset = 77i64.to_be_bytes();
    let spring_partition = 1i32.to_be_bytes();
    let seed_value = br#"{"originalEvent":{"aggregate_id":"SEED-1","type":"shipment.created"},"error":"Error: boom"}"#;
    let cases: Vec<Case> = vec![
        (
            "payment.completed.dlq",
            "SPRING-1",
            vec![
                ("kafka_dlt-original-topic", b"payment.failed"),
                ("kafka_dlt-original-partition", &spring_partition),
                ("kafka_dlt-original-offset", &spring_offset),
                ("kafka_dlt-exception-message", b"Listener failed"),
            ],
            body("SPRING-1").into_bytes(),
            "payment.failed",
        ),
        (
            "inventory.reserved.dlq",
            "SCS-1",
            vec![
                ("x-original-topic", b"inventory.reserved"),
                ("x-original-offset", b"5"),
                ("x-exception-message", b"stock service down"),
            ],
            body("SCS-1").into_bytes(),
            "inventory.reserved",
        ),
        (
            "order.created.dlq",
            "CONNECT-1",
            vec![
                ("__connect.errors.topic", b"order.confirmed"),
                ("__connect.errors.exception.message", b"Converting failed"),
            ],
            body("CONNECT-1").into_bytes(),
            "order.confirmed",
        ),
        (
            "order.cancelled.dlq",
            "STREAMS-1",
            vec![
                ("__streams.errors.topic", b"order.cancelled"),
                ("__streams.errors.message", b"bad record"),
            ],
            body("STREAMS-1").into_bytes(),
            "order.cancelled",
        ),
        (
            "shipment.failed.dlq",
            "SMALLRYE-1",
            vec![
                ("dead-letter-topic", b"shipment.failed"),
                ("dead-letter-reason", b"carrier rejected"),
            ],
            body("SMALLRYE-1").into_bytes(),
            "shipment.failed",
        ),
        (
            "shipment.created.dlq",
            "SEED-1",
            vec![],
            seed_value.to_vec(),
            "shipment.created",
        ),
        (
            "notification.sent.dlq",
            "BARE-1",
            vec![("x-event-id", b"bare-event")],
            body("BARE-1").into_bytes(),
            "notification.sent",
        ),
    ];
    for (topic, key, headers, value, _) in &cases {
        produce_with_headers(&broker, topic, key, value, headers).await;
    }
    eventually(Duration::from_secs(30), "dead letters ingested", || async {
        db.count("SELECT count(*) FROM dead_letters").await == cases.len() as i64
    })
    .await;
    let dialects: Vec<String> =
        sqlx::query_scalar("SELECT dialect FROM dead_letters ORDER BY dialect")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        dialects,
        [
            "bare",
            "kafka-connect",
            "kafka-streams",
            "seed-json",
            "smallrye",
            "spring-cloud-stream",
            "spring-kafka"
        ]
    );

    // One job over everything pending.
    assert_eq!(replay_everything(&db).await, JobStatus::Completed);
    for (_, key, _, value, target) in &cases {
        let landed = replays_on(&broker, target);
        assert_eq!(landed.len(), 1, "{key} on {target}: {landed:?}");
        assert_eq!(landed[0].key.as_deref(), Some(*key));
        if *key == "SEED-1" {
            // The seed's wrapper is taken off: the original event goes back.
            assert_eq!(
                landed[0].value.as_deref(),
                Some(r#"{"aggregate_id":"SEED-1","type":"shipment.created"}"#)
            );
        } else {
            assert_eq!(
                landed[0].value.as_deref().map(str::as_bytes),
                Some(&value[..])
            );
            assert!(landed[0]
                .headers
                .iter()
                .all(|(k, _)| !k.starts_with("kafka_dlt-")
                    && !k.starts_with("__connect.")
                    && !k.starts_with("__streams.")
                    && !k.starts_with("dead-letter-")
                    && !k.starts_with("x-original-")));
        }
    }
    let bare = replays_on(&broker, "notification.sent");
    assert_eq!(bare[0].header("x-event-id"), Some("bare-event"));

    // The Spring Kafka detail shows its binary positions decoded, and the payload with
    // its <script> as plain text (the page renders text, never HTML).
    let spring_id: i64 =
        sqlx::query_scalar("SELECT id FROM dead_letters WHERE dialect = 'spring-kafka'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let d = query::detail(&db.pool, spring_id).await.unwrap().unwrap();
    assert_eq!(
        (d.original_partition, d.original_offset),
        (Some(1), Some(77))
    );
    let offset = d
        .headers
        .iter()
        .find(|h| h.key == "kafka_dlt-original-offset")
        .unwrap();
    assert!(offset.value.starts_with("77 "), "{offset:?}");
    assert!(d.payload.text().contains("<script>alert(1)</script>"));
    assert_eq!(d.payload.kind(), "json");
    assert_eq!(d.replays.len(), 1);
    assert_eq!(d.replays[0].status, ReplayStatus::Sent);

    // The replayed payment fails again and comes back to its DLQ carrying its replay id.
    let replay_id = d.replays[0].replay_id.clone();
    produce_with_headers(
        &broker,
        "payment.failed.dlq",
        "SPRING-1",
        body("SPRING-1").as_bytes(),
        &[
            ("x-original-topic", b"payment.failed"),
            ("x-exception-message", b"still declined"),
            ("x-replay-id", replay_id.as_bytes()),
            ("x-replay-count", b"1"),
        ],
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "the original marked failed again",
        || async { dead_letter_status(&db, spring_id).await == "failed_again" },
    )
    .await;
    let d = query::detail(&db.pool, spring_id).await.unwrap().unwrap();
    let back = d.replays[0]
        .outcome
        .came_back_as
        .expect("outcome links the new dead letter");
    assert!(d.replays[0].outcome.label.starts_with("failed again"));
    let n = query::detail(&db.pool, back).await.unwrap().unwrap();
    assert_eq!(n.replayed_from, Some(spring_id));
    assert_eq!(n.item.replay_count, 1);
    assert_eq!(n.item.status, DeadLetterStatus::Pending);

    stop_tx.send(true).unwrap();
    ingest.await.unwrap().unwrap();
    runner.await.unwrap();
    db.drop_db().await;
}
