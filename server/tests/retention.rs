//! Retention against a real broker and PostgreSQL (issue 21): while ingest runs, the event
//! store's old partitions are dropped whole and every other growing table loses its old
//! rows, nothing inside a window is lost, the projections still equal a rebuild from what
//! is kept (`verify`), and an order whose first events aged out says so on its page.
//! Also the in-place upgrade: a store written by the schema before partitioning keeps
//! every event when migrated, and its old table is dropped whole once its time is past.

mod common;

use common::{eventually, ingest_settings, Broker, TestDb};
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;
use switchyard::ingest::consumer::run;
use switchyard::retention::{partitions, rows};
use switchyard_app::ops::OpsApi;
use switchyard_contract::{publish, Envelope};
use tokio::sync::watch;

/// Publishes one whole order: created, one saga step, completed.
async fn order(producer: &rdkafka::producer::FutureProducer, id: &str) {
    let now = chrono::Utc::now();
    let events = [
        Envelope::new(
            "order.created",
            id,
            "test",
            json!({"customer_id": "CUST-R", "total_cents": 700, "currency": "EUR", "items": [{"quantity": 1}]}),
        ),
        Envelope::new(
            "saga.step",
            id,
            "test",
            json!({"saga_id": format!("SAGA-{id}"), "order_id": id, "step": "payment",
                   "action": "execute", "status": "succeeded", "attempt": 1, "at": now.to_rfc3339()}),
        ),
        Envelope::new("order.completed", id, "test", json!({})),
    ];
    for mut e in events {
        e.occurred_at = chrono::Utc::now();
        publish::publish(producer, &e).await.unwrap();
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Rows for every trimmed table: one older than its window (`old`), one inside (`new`).
async fn seed_other_tables(pool: &PgPool) {
    for (age, tag) in [("2 hours", "old"), ("1 minute", "new")] {
        let at = format!("now() - interval '{age}'");
        let stmts = [
            format!("INSERT INTO breaker_transitions (event_id, service, breaker, from_state, to_state, at)
                     VALUES (-{n}, 'svc-{tag}', 'b', 'CLOSED', 'OPEN', {at})", n = if tag == "old" { 1 } else { 2 }),
            format!("INSERT INTO minute_rollups (minute, kind, count) VALUES (date_trunc('minute', {at}), 'quarantine', 1)"),
            format!("INSERT INTO quarantine (topic, kafka_partition, kafka_offset, reason, quarantined_at)
                     VALUES ('q-{tag}', 0, 0, 'test', {at})"),
            format!("INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, dialect, original_topic, failed_at,
                                               status, discarded_at, discarded_by, discard_reason)
                     VALUES ('dl-{tag}', 0, 0, 'bare', 'payment.completed', {at}, 'discarded', {at}, 'ops', 'test')"),
            format!("INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, dialect, original_topic, failed_at)
                     VALUES ('dl-pending-{tag}', 0, 0, 'bare', 'payment.completed', {at})"),
            // Replayed and back as a newer dead letter: superseded, aged from then.
            format!("INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, dialect, original_topic, failed_at,
                                               status, ingested_at)
                     VALUES ('dl-again-{tag}', 0, 0, 'bare', 'payment.completed', {at}, 'failed_again', {at})"),
            // Too many replays: waits for a person however old.
            format!("INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, dialect, original_topic, failed_at,
                                               status, ingested_at)
                     VALUES ('dl-parked-{tag}', 0, 0, 'bare', 'payment.completed', {at}, 'parked', {at})"),
            format!("INSERT INTO replay_jobs (id, kind, status, strip_headers, max_replays, created_by, created_at, finished_at)
                     VALUES (gen_random_uuid(), 'selected', 'completed', '{{}}', 3, 'job-{tag}', {at}, {at})"),
            format!("INSERT INTO assistant_conversations (id, owner, backend, created_at, updated_at)
                     VALUES (gen_random_uuid(), 'owner-{tag}', 'offline', {at}, {at})"),
            format!("INSERT INTO orders (order_id, status, status_at, updated_at) VALUES ('DONE-{tag}', 'completed', {at}, {at})"),
            format!("INSERT INTO orders (order_id, status, status_at, updated_at) VALUES ('RUNNING-{tag}', 'confirmed', {at}, {at})"),
            format!("INSERT INTO log_incidents (group_id, topic, kafka_partition, kind, stored_offset, log_start, log_end, resolved_at)
                     VALUES ('g', 'li-{tag}', 0, 'records_expired', 0, 1, 2, {at})"),
            format!("INSERT INTO saga_command_batches (id, action, reason, filter, status, total, created_by, created_at, finished_at)
                     VALUES (gen_random_uuid(), 'terminate', 'r', 'every order', 'completed', 1, 'batch-{tag}', {at}, {at})"),
            format!("INSERT INTO saga_commands (command_id, order_id, action, reason, requested_by, requested_at, sent_at)
                     VALUES (gen_random_uuid(), 'CMD-{tag}', 'terminate', 'r', 'ada', {at}, {at})"),
        ];
        for s in stmts {
            sqlx::query(&s).execute(pool).await.unwrap();
        }
    }
    // The dead letter resolved long ago was replayed by the old job (items and replays go
    // with it); the audit log holds a row two years old and one of today.
    sqlx::query(
        "INSERT INTO replays (replay_id, dead_letter_id, requested_by, status, target_topic, created_at, finished_at, job_id)
         SELECT gen_random_uuid(), d.id, 'ops', 'sent', 'payment.completed', now() - interval '3 hours', now() - interval '3 hours', j.id
           FROM dead_letters d, replay_jobs j WHERE d.topic = 'dl-old' AND j.created_by = 'job-old'",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO replay_job_items (job_id, seq, dead_letter_id, status)
         SELECT j.id, 1, d.id, 'sent' FROM dead_letters d, replay_jobs j
          WHERE d.topic = 'dl-pending-new' AND j.created_by = 'job-old'",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO audit_log (actor, action, at) VALUES ('old', 'login', now() - interval '2 years'),
                                                         ('new', 'login', now())",
    )
    .execute(pool)
    .await
    .unwrap();
}

fn windows() -> rows::Windows {
    let hour = Duration::from_secs(3600);
    rows::Windows {
        breaker_history: hour,
        rollups: hour,
        quarantine: hour,
        resolved_dead_letters: hour,
        replay_jobs: hour,
        conversations: hour,
        orders: hour,
        audit: Duration::from_secs(400 * 86_400),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_old_partitions_and_rows_while_ingest_runs() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    // Partitions two seconds wide, events kept four seconds.
    partitions::configure(&pool, Duration::from_secs(2))
        .await
        .unwrap();
    let broker = Broker::start().await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let ingest = tokio::spawn(run(
        pool.clone(),
        ingest_settings(&broker, &db, "retention"),
        stop_rx,
    ));
    let producer = broker.producer();

    // Early orders: their partitions will age out.
    for i in 0..20 {
        order(&producer, &format!("EARLY-{i}")).await;
    }
    eventually(Duration::from_secs(60), "early orders ingested", || async {
        count(
            &pool,
            "SELECT count(*) FROM orders WHERE status = 'completed'",
        )
        .await
            == 20
    })
    .await;
    seed_other_tables(&pool).await;
    let before = partitions::list(&pool, "events").await.unwrap();

    // Later orders flow while retention runs, several passes.
    let flowing = {
        let producer = broker.producer();
        tokio::spawn(async move {
            for i in 0..60 {
                order(&producer, &format!("LATE-{i}")).await;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        })
    };
    let retain = Duration::from_secs(4);
    let mut dropped = Vec::new();
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        partitions::ensure(&pool).await.unwrap();
        dropped.extend(partitions::drop_expired(&pool, retain).await.unwrap());
    }
    let trimmed = rows::trim(&pool, &windows()).await.unwrap();
    flowing.await.unwrap();
    eventually(Duration::from_secs(60), "late orders ingested", || async {
        count(
            &pool,
            "SELECT count(*) FROM orders WHERE order_id LIKE 'LATE-%' AND status = 'completed'",
        )
        .await
            == 60
    })
    .await;

    // Partitions: the early ones are gone, whole; the ones left are all inside the window
    // (or ahead of it).
    assert!(
        dropped.iter().any(|d| before.iter().any(|p| &p.name == d)),
        "an early partition was dropped: {dropped:?} of {before:?}"
    );
    let horizon = partitions::dropped_before(&pool)
        .await
        .unwrap()
        .expect("a horizon");
    for table in partitions::AGED {
        let left = partitions::list(&pool, table).await.unwrap();
        assert!(
            left.iter().all(|p| p.to > horizon),
            "{table}: {left:?} vs {horizon}"
        );
    }
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM events WHERE aggregate_id LIKE 'EARLY-%'"
        )
        .await,
        0,
        "the early orders' events are gone"
    );
    // Nothing inside the window is lost: every event topic's kept offsets run without a
    // hole from the oldest kept to the newest, and every late order has all its events.
    let holes = count(
        &pool,
        "SELECT count(*) FROM (SELECT topic, kafka_partition FROM events GROUP BY 1, 2
                                HAVING max(kafka_offset) - min(kafka_offset) + 1 <> count(*)) h",
    )
    .await;
    assert_eq!(
        holes, 0,
        "a partition of a topic has a hole inside the window"
    );
    let late_events = count(
        &pool,
        "SELECT count(*) FROM events WHERE aggregate_id LIKE 'LATE-%'",
    )
    .await;
    let late_steps = count(
        &pool,
        "SELECT count(*) FROM saga_steps WHERE order_id LIKE 'LATE-%'",
    )
    .await;
    // Late orders that began before the horizon may have lost their first events too;
    // those after it are whole.
    let whole = count(
        &pool,
        "SELECT count(*) FROM (SELECT aggregate_id FROM events WHERE aggregate_id LIKE 'LATE-%'
                                GROUP BY 1 HAVING count(*) = 3) w",
    )
    .await;
    assert!(
        whole >= 30,
        "{whole} late orders kept whole ({late_events} events, {late_steps} steps)"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM saga_steps s WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = s.event_id)").await,
        0,
        "a saga step outlived its event"
    );

    // Every other table: old rows gone, new ones (and unresolved ones) kept.
    for (what, sql, want) in [
        (
            "breaker history",
            "SELECT count(*) FROM breaker_transitions WHERE service LIKE 'svc-%'",
            1,
        ),
        (
            "rollups",
            "SELECT count(*) FROM minute_rollups WHERE kind = 'quarantine'",
            1,
        ),
        (
            "quarantine",
            "SELECT count(*) FROM quarantine WHERE topic LIKE 'q-%'",
            1,
        ),
        (
            "resolved dead letters",
            "SELECT count(*) FROM dead_letters WHERE topic LIKE 'dl-%' AND status = 'discarded'",
            1,
        ),
        (
            "pending dead letters",
            "SELECT count(*) FROM dead_letters WHERE topic LIKE 'dl-pending-%'",
            2,
        ),
        (
            "dead letters that failed again",
            "SELECT count(*) FROM dead_letters WHERE topic LIKE 'dl-again-%'",
            1,
        ),
        (
            "parked dead letters",
            "SELECT count(*) FROM dead_letters WHERE topic LIKE 'dl-parked-%'",
            2,
        ),
        (
            "replay jobs",
            "SELECT count(*) FROM replay_jobs WHERE created_by LIKE 'job-%'",
            1,
        ),
        (
            "replay job items",
            "SELECT count(*) FROM replay_job_items",
            0,
        ),
        (
            "saga command batches",
            "SELECT count(*) FROM saga_command_batches WHERE created_by LIKE 'batch-%'",
            1,
        ),
        (
            "saga commands",
            "SELECT count(*) FROM saga_commands WHERE order_id LIKE 'CMD-%'",
            1,
        ),
        ("replays", "SELECT count(*) FROM replays", 0),
        (
            "conversations",
            "SELECT count(*) FROM assistant_conversations WHERE owner LIKE 'owner-%'",
            1,
        ),
        (
            "finished orders",
            "SELECT count(*) FROM orders WHERE order_id LIKE 'DONE-%'",
            1,
        ),
        (
            "running orders",
            "SELECT count(*) FROM orders WHERE order_id LIKE 'RUNNING-%'",
            2,
        ),
        (
            "log incidents",
            "SELECT count(*) FROM log_incidents WHERE topic LIKE 'li-%'",
            1,
        ),
        (
            "audit",
            "SELECT count(*) FROM audit_log WHERE actor IN ('old', 'new')",
            1,
        ),
    ] {
        assert_eq!(
            count(&pool, sql).await,
            want,
            "{what} after retention: {trimmed:?}"
        );
    }
    // The audit log still refuses a delete outside retention.
    assert!(sqlx::query("DELETE FROM audit_log WHERE actor = 'new'")
        .execute(&pool)
        .await
        .is_err());

    // The projections equal a rebuild from what is kept.
    let problems = switchyard::ingest::verify::verify(&pool).await.unwrap();
    assert!(problems.is_empty(), "verify after retention: {problems:#?}");

    // An early order keeps its projection, and its page says the history is gone; a late
    // order kept whole does not.
    let ops = switchyard::read_model::PgOps::new(pool.clone());
    let early = ops
        .order_detail("EARLY-0")
        .await
        .unwrap()
        .expect("the early order is kept");
    assert_eq!(early.order.status.as_str(), "completed");
    assert!(early.events.is_empty());
    assert_eq!(early.history_aged_out_before, Some(horizon));
    let late = ops.order_detail("LATE-59").await.unwrap().unwrap();
    assert_eq!(late.events.len(), 3);
    assert_eq!(late.history_aged_out_before, None);

    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(15), ingest).await;
    db.drop_db().await;
}

/// The schema before partitioning, with events in it, upgraded in place: every event and
/// saga step is kept (in the old table, now the first partition), new ones go to new
/// partitions, and the old table is dropped whole once the window passes its bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_is_upgraded_in_place_keeping_every_event() {
    use sqlx::Connection;
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let name = format!("sy_upgrade_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = switchyard::db::with_database(&admin, &name);
    let pool = PgPool::connect(&url).await.unwrap();
    // The schema as it was: the migrations before partitioning, from a copy of the folder.
    let old = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&old).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap();
        let file = f.file_name().into_string().unwrap();
        if file.as_str() < "20261206000010" {
            std::fs::copy(f.path(), old.join(&file)).unwrap();
        }
    }
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&old);
    // A store as the old schema kept it: 5,000 events, a saga step for each tenth.
    sqlx::query(
        "INSERT INTO events (topic, kafka_partition, kafka_offset, event_type, aggregate_id, occurred_at,
                             payload, ingested_at)
         SELECT 'order.created', 0, g, 'order.created', 'OLD-' || g, now() - interval '1 day',
                '{}'::jsonb, now() - interval '1 day'
           FROM generate_series(1, 5000) g",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO saga_steps (event_id, saga_id, order_id, step, action, status, at)
         SELECT id, 'S', aggregate_id, 'payment', 'execute', 'succeeded', occurred_at
           FROM events WHERE kafka_offset % 10 = 0",
    )
    .execute(&pool)
    .await
    .unwrap();
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM events ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();

    switchyard::db::MIGRATOR.run(&pool).await.unwrap();
    let kind: String =
        sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE relname = 'events'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(kind, "p", "events is partitioned");
    let after: Vec<i64> = sqlx::query_scalar("SELECT id FROM events ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(after, ids, "every event kept, with its id");
    assert_eq!(count(&pool, "SELECT count(*) FROM saga_steps").await, 500);
    let parts = partitions::list(&pool, "events").await.unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].name, "events_legacy");

    // New events go to new partitions, numbered on from the old ids.
    partitions::ensure(&pool).await.unwrap();
    let new_id: i64 = sqlx::query_scalar(
        "INSERT INTO events (topic, kafka_partition, kafka_offset, event_type, aggregate_id, occurred_at, payload)
         VALUES ('order.created', 0, 5001, 'order.created', 'NEW-1', now(), '{}') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(new_id > *ids.last().unwrap());
    assert!(partitions::list(&pool, "events").await.unwrap().len() > 1);

    // The saga steps stored before the upgrade stay readable, beside the ones read from
    // the events since (`saga_steps` became a view: migration 20261211000010).
    assert_eq!(
        partitions::list(&pool, "saga_steps_stored").await.unwrap()[0].name,
        "saga_steps_stored_legacy"
    );
    sqlx::query(
        "INSERT INTO events (topic, kafka_partition, kafka_offset, event_type, aggregate_id,
                             occurred_at, payload, step_at)
         VALUES ('saga.step', 0, 1, 'saga.step', 'NEW-1', now(),
                 '{\"order_id\": \"NEW-1\", \"step\": \"payment\", \"status\": \"failed\",
                   \"attempt\": 3, \"error\": \"declined\"}', now() - interval '1 minute')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (steps, new_step): (i64, (String, String, String, Option<String>, i32)) = (
        count(&pool, "SELECT count(*) FROM saga_steps").await,
        sqlx::query_as(
            "SELECT saga_id, step, action, error, attempt FROM saga_steps WHERE order_id = 'NEW-1'",
        )
        .fetch_one(&pool)
        .await
        .unwrap(),
    );
    assert_eq!(steps, 501);
    assert_eq!(
        new_step,
        (
            "NEW-1".into(),
            "payment".into(),
            "execute".into(),
            Some("declined".into()),
            3
        )
    );

    // The old table ends at the next whole hour after the upgrade: it is dropped whole by
    // the first pass after the window passes that bound (`partitions` unit tests), and
    // not before, however short the window.
    let legacy_to = parts[0].to;
    assert!(
        legacy_to > chrono::Utc::now()
            && legacy_to <= chrono::Utc::now() + chrono::TimeDelta::hours(1)
    );
    let gone = partitions::drop_expired(&pool, Duration::from_secs(0))
        .await
        .unwrap();
    assert!(
        gone.is_empty(),
        "nothing is older than its bound yet: {gone:?}"
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM events").await, 5002);
    // The projections were not written by ingest here (rows inserted by hand), so only
    // that verify reads the upgraded store is asked.
    switchyard::ingest::verify::verify(&pool).await.unwrap();

    pool.close().await;
    switchyard::db::drop_scratch(&admin, &name).await.unwrap();
}

/// The partitioned store has no unique source position any more: a second consumer group
/// over the same database (a group id changed, say) reads everything again from the start,
/// and the writer's lookup on each partition's first batch keeps what is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_group_over_the_same_store_writes_nothing_twice() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let broker = Broker::start().await;
    let producer = broker.producer();
    for i in 0..30 {
        order(&producer, &format!("TWICE-{i}")).await;
    }
    for group in ["first-group", "second-group"] {
        let (stop_tx, stop_rx) = watch::channel(false);
        let ingest = tokio::spawn(run(
            pool.clone(),
            ingest_settings(&broker, &db, group),
            stop_rx,
        ));
        eventually(Duration::from_secs(60), "every record read by the group", || async {
            count(
                &pool,
                &format!(
                    "SELECT COALESCE(sum(next_offset), 0)::int8 FROM consumer_positions
                      WHERE group_id = '{group}' AND topic IN ('order.created', 'saga.step', 'order.completed')"
                ),
            )
            .await
                == 90
        })
        .await;
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(15), ingest).await;
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM events").await, 90);
    assert_eq!(count(&pool, "SELECT count(*) FROM saga_steps").await, 30);
    let problems = switchyard::ingest::verify::verify(&pool).await.unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    db.drop_db().await;
}
