//! `saga_steps` is a view over `events` (migration 20261211000010): SQL reads a step's
//! fields from the stored payload, while ingest decides in Rust which events are steps and
//! what their orders' current step is (`ingest/project.rs::saga_step`). Two readers of one
//! rule: this test holds the view to exactly what the Rust reader reads, over payloads no
//! producer of ours writes (non-string values, repeated and escaped keys, attempts out of
//! range, times that do not parse), written by the real writer into PostgreSQL.

mod common;

use chrono::{DateTime, Utc};
use common::TestDb;
use std::collections::BTreeMap;
use switchyard::ingest::batch::batch_of;
use switchyard::ingest::consumer::Topics;
use switchyard::ingest::decode::RawRecord;
use switchyard::ingest::project::saga_step;
use switchyard::ingest::writer::write_batch;
use switchyard_contract::{Envelope, SAGA_STEP};

/// A `saga.step` record whose `data` is exactly `data` (text, as another producer wrote it).
fn record(offset: i64, data: &str) -> RawRecord {
    let mut env = Envelope::new(SAGA_STEP, &format!("AGG-{offset}"), "test", "@DATA@".into());
    env.occurred_at = "2026-11-25T10:00:00Z".parse().unwrap();
    let text = serde_json::to_string(&env)
        .unwrap()
        .replace("\"@DATA@\"", data);
    RawRecord {
        topic: SAGA_STEP.into(),
        partition: 0,
        offset,
        key: None,
        value: Some(text.into_bytes()),
        headers: Vec::new(),
        timestamp_ms: None,
    }
}

/// A row of the view, and what the Rust reader makes of the same event.
#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Step {
    saga_id: String,
    order_id: String,
    step: String,
    action: String,
    status: String,
    error: Option<String>,
    attempt: i32,
    at: DateTime<Utc>,
}

/// A view row with the offset of its event.
#[derive(sqlx::FromRow)]
struct Stored {
    kafka_offset: i64,
    #[sqlx(flatten)]
    step: Step,
}

#[tokio::test]
async fn the_view_reads_what_the_projection_reads() {
    let cases = [
        r#"{"saga_id":"S1","order_id":"O1","step":"payment","action":"compensate","status":"failed","error":"declined","attempt":2,"at":"2026-11-25T10:00:05.123Z"}"#,
        r#"{"step":"inventory","status":"succeeded"}"#,
        r#"{"step":"x","status":"started","saga_id":5,"order_id":null,"action":true,"error":{"a":1},"attempt":"3"}"#,
        r#"{"step":"a","status":"s","attempt":-5}"#,
        r#"{"step":"a","status":"s","attempt":4294967296}"#,
        r#"{"step":"a","status":"s","attempt":99999999999999999999}"#,
        r#"{"step":"a","status":"s","attempt":2.0}"#,
        r#"{"step":"a","status":"s","attempt":1.5}"#,
        r#"{"step":"a","status":"s","step":"b","order_id":"first","order_id":"second"}"#,
        r#"{"st\u0065p":"pay\u006dent","status":"ok \"quoted\"","error":"emoji \ud83d\ude00"}"#,
        r#"{"step":"a","status":"s","at":"yesterday"}"#,
        r#"{"step":"a","status":"s","at":"2026-11-25T11:00:05.123456+01:00"}"#,
        r#"{"step":"a","status":"s","at":"2026-02-30T10:00:00Z"}"#,
        r#"{"status":"failed"}"#,
        r#"{"step":7,"status":"failed"}"#,
        r#"[1,2]"#,
        r#""a step""#,
        r#"null"#,
    ];
    let db = TestDb::new().await;
    switchyard::retention::partitions::ensure(&db.pool)
        .await
        .unwrap();
    let raws: Vec<RawRecord> = cases
        .iter()
        .enumerate()
        .map(|(i, d)| record(i as i64, d))
        .collect();
    let batch = batch_of(&raws, &Topics::contract());
    assert_eq!(batch.events.len(), cases.len(), "every case is an event");
    let out = write_batch(&db.pool, "view-test", &batch).await.unwrap();
    assert_eq!(out.stored, cases.len());

    let want: BTreeMap<i64, Step> = batch
        .events
        .iter()
        .filter_map(|e| {
            let s = saga_step(e)?;
            let step = Step {
                saga_id: s.saga_id,
                order_id: s.order_id,
                step: s.step,
                action: s.action,
                status: s.status,
                error: s.error,
                attempt: s.attempt,
                at: s.at,
            };
            Some((e.offset, step))
        })
        .collect();
    let got: BTreeMap<i64, Step> = sqlx::query_as::<_, Stored>(
        "SELECT e.kafka_offset, s.saga_id, s.order_id, s.step, s.action, s.status, s.error,
                s.attempt, s.at
           FROM saga_steps s JOIN events e ON e.id = s.event_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.kafka_offset, r.step))
    .collect();
    assert_eq!(want.len(), 13, "the cases that are steps");
    assert_eq!(got, want);
    // And the reads are the expected ones, not merely the same.
    assert_eq!(
        got[&2].saga_id, "AGG-2",
        "a saga id that is not text falls back"
    );
    assert_eq!(got[&2].action, "execute");
    assert_eq!(
        (got[&3].attempt, got[&4].attempt, got[&5].attempt),
        (0, i32::MAX, 1)
    );
    assert_eq!(got[&8].step, "b");
    assert_eq!(got[&8].order_id, "second");
    assert_eq!(
        db.count("SELECT count(*) FROM events WHERE step_order IS NOT NULL")
            .await,
        2,
        "only the steps keyed by something else than their order carry it"
    );
    assert_eq!(got[&9].step, "payment");

    // The timeline (of an order keyed by itself, and of one keyed by its saga) and the
    // failure summary read through indexes, never a whole partition.
    for query in [
        "SELECT step FROM saga_steps WHERE order_id = 'O1' ORDER BY at, event_id",
        "SELECT step FROM saga_steps WHERE order_id = 'AGG-1' ORDER BY at, event_id",
        "SELECT step, count(*) FROM saga_steps WHERE status = 'failed' AND at >= now() - interval '1 day' GROUP BY 1",
    ] {
        let mut conn = db.pool.acquire().await.unwrap();
        sqlx::query("SET enable_seqscan = off")
            .execute(&mut *conn)
            .await
            .unwrap();
        let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {query}"))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("Index Scan") && !plan.contains("Seq Scan"),
            "{query}:\n{plan}"
        );
    }
    db.drop_db().await;
}
