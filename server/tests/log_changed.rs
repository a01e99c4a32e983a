//! The log under the stored positions changes (issue 24's reproduction): ingest stores
//! 200 orders from an in-memory Nisshi, the broker loses everything (restarted), and
//! ingest starts again while 100 new orders arrive. Each partition whose stored position
//! is now past its log's end is recorded once as a `log_replaced` incident — not again
//! on the next restart —, the overview carries it for its banner, and the new log is read
//! as a new incarnation: 300 orders, nothing stored twice. The same when a topic is
//! deleted and recreated while ingest runs. Under the `pause` policy the partitions wait
//! for an admin's decision (resume from the log's start or end, or keep paused), audited.
//! Records deleted before ingest read them (DeleteRecords, as retention does) are a gap,
//! recorded and read past, and shown in the history of the orders it may have touched. A
//! normal restart (the fault suites) records none.

mod common;

use common::{eventually, ingest_settings, Broker, TestDb};
use rdkafka::producer::FutureRecord;
use std::time::Duration;
use switchyard::ingest::consumer::{run, IngestSettings};
use switchyard::ingest::log_incidents::{OnReplaced, Policy};
use switchyard::read_model::PgConsole;
use switchyard_app::console::{ConsoleApi, Range};
use switchyard_contract::Envelope;
use tokio::sync::watch;

async fn produce_orders(broker: &Broker, prefix: &str, n: usize) {
    let producer = broker.producer();
    for i in 0..n {
        let id = format!("{prefix}-{i:04}");
        let env = Envelope::new("order.created", &id, "test", serde_json::json!({"n": i}));
        producer
            .send(
                FutureRecord::to("order.created")
                    .key(&id)
                    .payload(&serde_json::to_vec(&env).unwrap()),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
}

/// 60 orders stored, then the broker loses its log (in-memory storage, restarted) and
/// `order.created` comes back empty.
async fn sixty_orders_then_the_log_lost(broker: &mut Broker, db: &TestDb) {
    produce_orders(broker, "OLD", 60).await;
    ingest_until(broker, db, "60 orders stored", || async {
        db.count("SELECT count(*) FROM orders").await == 60
    })
    .await;
    broker.restart(Duration::from_millis(500)).await;
    broker.create_topics(&["order.created"], 3).await;
}

/// Runs ingest until `done` holds, then stops it.
async fn ingest_until<F, Fut>(broker: &Broker, db: &TestDb, what: &str, done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    ingest_with(ingest_settings(broker, db, "console"), db, what, done).await
}

/// Runs ingest with `settings` until `done` holds, then stops it.
async fn ingest_with<F, Fut>(settings: IngestSettings, db: &TestDb, what: &str, done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(run(db.pool.clone(), settings, stopped));
    eventually(Duration::from_secs(60), what, done).await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_log_is_recorded_once_and_shown() {
    let db = TestDb::new().await;
    let mut broker = Broker::start().await;
    produce_orders(&broker, "OLD", 200).await;
    ingest_until(&broker, &db, "200 orders stored", || async {
        db.count("SELECT count(*) FROM orders").await == 200
    })
    .await;
    assert_eq!(db.count("SELECT count(*) FROM log_incidents").await, 0);

    // The broker loses its log (in-memory storage, restarted); its topics come back empty.
    broker.restart(Duration::from_millis(500)).await;
    broker
        .create_topics(
            &switchyard_contract::all_topics()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            3,
        )
        .await;
    produce_orders(&broker, "NEW", 100).await;
    let partitions_with_old_positions = db
        .count(
            "SELECT count(*) FROM consumer_positions
             WHERE topic = 'order.created' AND next_offset > 0",
        )
        .await;
    assert!(partitions_with_old_positions > 0);
    ingest_until(
        &broker,
        &db,
        "the replaced logs recorded and the new orders read",
        || async {
            db.count("SELECT count(*) FROM log_incidents WHERE kind = 'log_replaced'")
                .await
                == partitions_with_old_positions
                && db.count("SELECT count(*) FROM orders").await == 300
        },
    )
    .await;
    // Both logs' records are kept, each under its incarnation.
    assert_eq!(
        db.count("SELECT count(*) FROM events WHERE incarnation = 0")
            .await,
        200
    );
    assert_eq!(
        db.count("SELECT count(*) FROM events WHERE incarnation = 1")
            .await,
        100
    );
    assert_eq!(
        db.count("SELECT count(*) FROM log_incidents WHERE action LIKE 'new incarnation 1%'")
            .await,
        partitions_with_old_positions
    );

    // Restarted again: the same incidents, not new ones. (A record on a partition with no
    // incident shows the assignment, and with it the check, has happened.)
    let events = db.count("SELECT count(*) FROM events").await;
    let env = Envelope::new(
        "payment.completed",
        "NEW-0000",
        "test",
        serde_json::json!({}),
    );
    broker
        .producer()
        .send(
            FutureRecord::to("payment.completed")
                .key("NEW-0000")
                .payload(&serde_json::to_vec(&env).unwrap()),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    ingest_until(&broker, &db, "assigned again after a restart", || async {
        db.count("SELECT count(*) FROM events").await == events + 1
    })
    .await;
    assert_eq!(
        db.count("SELECT count(*) FROM log_incidents").await,
        partitions_with_old_positions
    );
    assert_eq!(db.count("SELECT count(*) FROM orders").await, 300);
    assert_eq!(db.count("SELECT count(*) FROM events").await, 301);
    let problems = switchyard::ingest::verify::verify(&db.pool).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");

    let overview = PgConsole::new(db.pool.clone())
        .overview(Range::parse("15m"))
        .await
        .unwrap();
    assert_eq!(
        overview.log_incidents.len() as i64,
        partitions_with_old_positions
    );
    let i = &overview.log_incidents[0];
    assert_eq!(
        (i.kind.as_str(), i.topic.as_str()),
        ("log_replaced", "order.created")
    );
    assert!(i.stored > i.log_end, "{i:?}");
    assert!(i.describe().contains("the log was replaced"));

    // An admin resolves one with a note: audited, and gone from the banner.
    use switchyard_app::admin::AdminApi;
    let admin = switchyard::admin::PgAdmin::new(db.pool.clone());
    let root = common::dlq::operator("root");
    admin
        .resolve_log_incident(
            &root,
            i.id,
            "topic recreated by the platform team; re-fed",
            None,
        )
        .await
        .unwrap();
    let again = admin.resolve_log_incident(&root, i.id, "twice", None).await;
    assert!(again.is_err(), "an incident is resolved once");
    assert_eq!(
        db.count(
            "SELECT count(*) FROM audit_log WHERE action = 'log_incident_resolved'
             AND detail->>'note' LIKE 'topic recreated%'"
        )
        .await,
        1
    );
    let overview = PgConsole::new(db.pool.clone())
        .overview(Range::parse("15m"))
        .await
        .unwrap();
    assert_eq!(
        overview.log_incidents.len() as i64,
        partitions_with_old_positions - 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_deleted_and_recreated_while_running_is_recorded() {
    use rdkafka::admin::{AdminClient, AdminOptions};
    use rdkafka::client::DefaultClientContext;
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let (stop, stopped) = watch::channel(false);
    let ingest = tokio::spawn(run(
        db.pool.clone(),
        ingest_settings(&broker, &db, "console"),
        stopped,
    ));
    produce_orders(&broker, "OLD", 60).await;
    eventually(Duration::from_secs(60), "60 orders stored", || async {
        db.count("SELECT count(*) FROM orders").await == 60
    })
    .await;

    // The team's admin deletes the topic and creates it again, empty.
    let admin: AdminClient<DefaultClientContext> =
        switchyard_contract::kafka::client_config(&broker.bootstrap)
            .create()
            .unwrap();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for r in admin
        .delete_topics(&["order.created"], &opts)
        .await
        .unwrap()
    {
        r.expect("topic deleted");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.create_topics(&["order.created"], 3).await;
    produce_orders(&broker, "NEW", 6).await;

    eventually(
        Duration::from_secs(60),
        "the recreated topic's partitions recorded and its new orders read",
        || async {
            db.count(
                "SELECT count(*) FROM log_incidents
                 WHERE kind = 'log_replaced' AND topic = 'order.created'",
            )
            .await
                > 0
                && db.count("SELECT count(*) FROM orders").await == 66
        },
    )
    .await;
    stop.send(true).unwrap();
    ingest.await.unwrap().unwrap();
    // Each partition once, however many checks ran since.
    assert_eq!(
        db.count("SELECT count(*) - count(DISTINCT (topic, kafka_partition)) FROM log_incidents")
            .await,
        0
    );
}

/// The broker loses its log, as in the reproduction, under the `pause` policy: nothing is
/// read from the replaced partitions until an admin decides, and each decision is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pause_policy_holds_a_replaced_log_until_an_admin_decides() {
    use switchyard_app::admin::{AdminApi, Resume};
    let db = TestDb::new().await;
    let mut broker = Broker::start().await;
    sixty_orders_then_the_log_lost(&mut broker, &db).await;
    produce_orders(&broker, "NEW", 30).await;
    let held = db
        .count(
            "SELECT count(*) FROM consumer_positions
             WHERE topic = 'order.created' AND next_offset > 0",
        )
        .await;

    let mut settings = ingest_settings(&broker, &db, "console");
    settings.log_policy = Policy {
        on_replaced: OnReplaced::Pause,
        ..Policy::default()
    };
    let (stop, stopped) = watch::channel(false);
    let ingest = tokio::spawn(run(db.pool.clone(), settings, stopped));
    eventually(
        Duration::from_secs(60),
        "the replaced partitions paused",
        || async {
            db.count("SELECT count(*) FROM log_incidents WHERE paused")
                .await
                == held
                && db
                    .count("SELECT count(*) FROM consumer_positions WHERE paused")
                    .await
                    == held
        },
    )
    .await;
    // Held: several checks pass, nothing of the new log is stored.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        db.count(
            "SELECT count(*) FROM events e JOIN consumer_positions p
                 ON p.topic = e.topic AND p.kafka_partition = e.kafka_partition
              WHERE p.paused AND e.kafka_offset >= 0 AND e.incarnation > 0"
        )
        .await,
        0,
        "nothing stored from a paused partition"
    );

    let admin = switchyard::admin::PgAdmin::new(db.pool.clone());
    let root = common::dlq::operator("root");
    let incidents: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT id, log_start, log_end FROM log_incidents WHERE paused ORDER BY kafka_partition",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let (first, start, end) = incidents[0];
    // A paused incident needs a decision; a note alone is refused.
    let refused = admin
        .resolve_log_incident(&root, first, "looked at it", None)
        .await;
    assert!(format!("{:?}", refused.unwrap_err()).contains("paused"));
    admin
        .resolve_log_incident(
            &root,
            first,
            "waiting for the platform team",
            Some(Resume::KeepPaused),
        )
        .await
        .unwrap();
    assert_eq!(
        db.count("SELECT count(*) FROM consumer_positions WHERE paused")
            .await,
        held
    );
    // The first from the end (what was there when found is skipped), the rest from the
    // start.
    admin
        .resolve_log_incident(
            &root,
            first,
            "old orders re-fed elsewhere",
            Some(Resume::FromEnd),
        )
        .await
        .unwrap();
    for (id, _, _) in &incidents[1..] {
        admin
            .resolve_log_incident(&root, *id, "read the new log", Some(Resume::FromStart))
            .await
            .unwrap();
    }
    let again = admin
        .resolve_log_incident(&root, first, "twice", Some(Resume::FromStart))
        .await;
    assert!(again.is_err(), "decided once");
    let expected = 60 + 30 - (end - start);
    eventually(
        Duration::from_secs(60),
        "the resumed partitions read",
        || async { db.count("SELECT count(*) FROM orders").await == expected },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(db.count("SELECT count(*) FROM orders").await, expected);
    stop.send(true).unwrap();
    ingest.await.unwrap().unwrap();
    assert_eq!(
        db.count("SELECT count(*) FROM consumer_positions WHERE paused")
            .await,
        0
    );
    assert_eq!(
        db.count("SELECT count(*) FROM audit_log WHERE action = 'log_incident_kept_paused'")
            .await,
        1
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM audit_log WHERE action = 'log_incident_resolved'
               AND detail->>'resume' IN ('from_start', 'from_end')"
        )
        .await,
        held
    );
    let skipped = db
        .count("SELECT count(*) FROM log_incidents WHERE resolution LIKE '%skipped)'")
        .await;
    assert_eq!(skipped, i64::from(end > start));
}

/// Records deleted from the log before ingest read them (DeleteRecords moves the log start
/// as retention does): each partition's gap is recorded once, with its offsets, ingest
/// reads on from the log's start, and an order still open before the gap shows it in its
/// history; an order wholly after the gap does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_expired_before_ingest_read_them_are_a_recorded_gap() {
    use rdkafka::admin::{AdminClient, AdminOptions};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    produce_orders(&broker, "A", 30).await;
    ingest_until(&broker, &db, "30 orders stored", || async {
        db.count("SELECT count(*) FROM orders").await == 30
    })
    .await;
    produce_orders(&broker, "B", 30).await;
    // Everything not read yet is deleted: the log starts at its end.
    let admin: AdminClient<DefaultClientContext> =
        switchyard_contract::kafka::client_config(&broker.bootstrap)
            .create()
            .unwrap();
    let mut all = TopicPartitionList::new();
    for p in 0..3 {
        all.add_partition_offset("order.created", p, Offset::End)
            .unwrap();
    }
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let done = admin.delete_records(&all, &opts).await.unwrap();
    for e in done.elements() {
        e.error().expect("records deleted");
    }
    let probe: BaseConsumer = switchyard_contract::kafka::client_config(&broker.bootstrap)
        .create()
        .unwrap();
    let lost: i64 = (0..3)
        .map(|p| {
            let (low, high) = probe
                .fetch_watermarks("order.created", p, Duration::from_secs(5))
                .unwrap();
            assert_eq!(low, high, "partition {p} starts at its end");
            high
        })
        .sum::<i64>()
        - 30;
    assert_eq!(lost, 30);
    produce_orders(&broker, "C", 12).await;

    ingest_until(
        &broker,
        &db,
        "the gaps recorded and the orders after them read",
        || async {
            db.count("SELECT count(*) FROM orders").await == 42
                && db
                    .count("SELECT count(*) FROM log_incidents WHERE kind = 'records_expired'")
                    .await
                    > 0
        },
    )
    .await;
    // One incident per partition that lost records, its offsets those never read.
    let gaps: Vec<(i32, i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT kafka_partition, stored_offset, log_start, action FROM log_incidents
          WHERE kind = 'records_expired' ORDER BY kafka_partition",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        gaps.iter().map(|(_, from, to, _)| to - from).sum::<i64>(),
        30
    );
    for (p, _, to, action) in &gaps {
        assert_eq!(
            action.as_deref(),
            Some(format!("gap recorded; read on from offset {to}").as_str()),
            "partition {p}"
        );
    }
    assert_eq!(
        db.count("SELECT count(*) FROM log_incidents WHERE kind <> 'records_expired'")
            .await,
        0
    );
    let problems = switchyard::ingest::verify::verify(&db.pool).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");

    // An A order (created, still open, before the gap on its partition) shows it; a C
    // order (after it) does not.
    let console = PgConsole::new(db.pool.clone());
    let gapped: Vec<i32> = gaps.iter().map(|g| g.0).collect();
    let a_on_gap: String = sqlx::query_scalar(
        "SELECT aggregate_id FROM events WHERE aggregate_id LIKE 'A-%'
            AND topic = 'order.created' AND kafka_partition = ANY($1) LIMIT 1",
    )
    .bind(&gapped)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let shown = console.order_gaps(&a_on_gap).await.unwrap();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].to > shown[0].from);
    assert!(console.order_gaps("C-0000").await.unwrap().is_empty());

    // Restarted: the gap is behind the stored position now; nothing new is recorded.
    let incidents = db.count("SELECT count(*) FROM log_incidents").await;
    produce_orders(&broker, "D", 3).await;
    ingest_until(
        &broker,
        &db,
        "the next orders read after a restart",
        || async { db.count("SELECT count(*) FROM orders").await == 45 },
    )
    .await;
    assert_eq!(
        db.count("SELECT count(*) FROM log_incidents").await,
        incidents
    );
}

/// The reproduction once more, but the new log outgrows the stored positions before the
/// console looks again: offsets alone see a log that grew. The topic's id (KIP-516) does
/// not match the one the positions were read under, so each partition is a
/// `topic_recreated` incident and its new log is read from its start: nothing dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_topic_grown_past_the_stored_positions_is_told_by_its_id() {
    let db = TestDb::new().await;
    let mut broker = Broker::start().await;
    produce_orders(&broker, "OLD", 30).await;
    ingest_until(
        &broker,
        &db,
        "30 orders stored, each position under its topic's id",
        || async {
            db.count("SELECT count(*) FROM orders").await == 30
                && db
                    .count(
                        "SELECT count(*) FROM consumer_positions
                      WHERE topic = 'order.created' AND topic_id IS NULL",
                    )
                    .await
                    == 0
        },
    )
    .await;
    broker.restart(Duration::from_millis(500)).await;
    broker.create_topics(&["order.created"], 3).await;
    produce_orders(&broker, "NEW", 150).await;
    let held = db
        .count("SELECT count(*) FROM consumer_positions WHERE topic = 'order.created'")
        .await;
    ingest_until(
        &broker,
        &db,
        "the recreated topic's new log read whole",
        || async { db.count("SELECT count(*) FROM orders").await == 180 },
    )
    .await;
    // Offsets alone saw nothing wrong: every partition's new log outgrew its position.
    assert_eq!(
        db.count("SELECT count(*) FROM log_incidents WHERE kind = 'topic_recreated'")
            .await,
        held
    );
    assert_eq!(
        db.count("SELECT count(*) FROM log_incidents WHERE kind <> 'topic_recreated'")
            .await,
        0
    );
    assert_eq!(
        db.count("SELECT count(*) FROM events WHERE incarnation = 1")
            .await,
        150
    );
    let problems = switchyard::ingest::verify::verify(&db.pool).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

/// Two consoles in one group when the log is replaced: whichever holds a partition acts,
/// each partition is recorded and moved to a new incarnation once, and nothing is stored
/// twice, however the partitions move between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consoles_in_one_group_act_once_per_partition() {
    let db = TestDb::new().await;
    let mut broker = Broker::start().await;
    sixty_orders_then_the_log_lost(&mut broker, &db).await;
    let held = db
        .count("SELECT count(*) FROM consumer_positions WHERE topic = 'order.created'")
        .await;
    let (stop, stopped) = watch::channel(false);
    let consoles: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(run(
                db.pool.clone(),
                ingest_settings(&broker, &db, "console"),
                stopped.clone(),
            ))
        })
        .collect();
    produce_orders(&broker, "NEW", 45).await;
    eventually(
        Duration::from_secs(90),
        "both consoles read the new logs",
        || async { db.count("SELECT count(*) FROM orders").await == 105 },
    )
    .await;
    // A third joins and leaves: the partitions move, and are checked again on arrival.
    let (stop3, stopped3) = watch::channel(false);
    let third = tokio::spawn(run(
        db.pool.clone(),
        ingest_settings(&broker, &db, "console"),
        stopped3,
    ));
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop3.send(true).unwrap();
    third.await.unwrap().unwrap();
    produce_orders(&broker, "LATE", 6).await;
    eventually(Duration::from_secs(90), "the late orders read", || async {
        db.count("SELECT count(*) FROM orders").await == 111
    })
    .await;
    stop.send(true).unwrap();
    for c in consoles {
        c.await.unwrap().unwrap();
    }
    // A partition whose new log had already grown past its stored position when a console
    // first checked it is told apart by its topic id alone (the restarted broker gave the
    // topic a new one): `topic_recreated`. Which of the two a partition gets depends on
    // when the group settles; each partition gets exactly one.
    assert_eq!(
        db.count(
            "SELECT count(*) FROM log_incidents WHERE kind IN ('log_replaced', 'topic_recreated')"
        )
        .await,
        held
    );
    assert_eq!(
        db.count("SELECT count(DISTINCT kafka_partition) FROM log_incidents")
            .await,
        held
    );
    assert_eq!(
        db.count("SELECT count(*) FROM consumer_positions WHERE topic = 'order.created' AND incarnation = 1")
            .await,
        held,
        "each partition moved to a new incarnation once"
    );
    assert_eq!(db.count("SELECT count(*) FROM events").await, 111);
    let problems = switchyard::ingest::verify::verify(&db.pool).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

/// The decision through the admin page and its server function, as a browser without
/// JavaScript posts it: a paused incident offers the three choices; a note alone is
/// refused; an operator is refused; the admin's choice moves the position and is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_decides_on_a_paused_partition_through_the_page() {
    use common::{add_user, Console};
    use reqwest::StatusCode;
    const PW: &str = "correct horse battery";
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    // Another console's group, so this one's own ingest leaves the rows alone.
    sqlx::query(
        "INSERT INTO consumer_positions (group_id, topic, kafka_partition, next_offset, paused)
         VALUES ('elsewhere', 'order.created', 0, 20, true)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO log_incidents (group_id, topic, kafka_partition, kind, stored_offset,
             log_start, log_end, paused, action)
         VALUES ('elsewhere', 'order.created', 0, 'log_replaced', 20, 0, 5, true,
             'partition paused until an admin decides')
         RETURNING id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let console = Console::start(&db.url, Some(&broker.bootstrap), &[]).await;
    add_user(&db.url, "ada", "admin", PW);
    add_user(&db.url, "olga", "operator", PW);
    let (admin, csrf) = console.login("ada", PW).await;
    let (op, op_csrf) = console.login("olga", PW).await;

    let html = admin
        .get(console.url("/admin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-testid=\"incident-paused\""), "{html}");
    for choice in ["from_start", "from_end", "keep_paused"] {
        assert!(html.contains(&format!("value=\"{choice}\"")), "{choice}");
    }
    let overview = admin
        .get(console.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(overview.contains("nothing is read from it until an admin decides"));
    assert!(overview.contains("data-testid=\"lag-incident\""));

    let post = |http: &reqwest::Client, form: Vec<(&str, String)>| {
        http.post(console.url("/api/admin/log-incidents/resolve"))
            .header("accept", "application/json")
            .form(&form)
            .send()
    };
    let base = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("id", id.to_string()),
            ("note", "the platform team rebuilt the cluster".to_string()),
        ]
    };
    let refused = post(&op, {
        let mut f = base(&op_csrf);
        f.push(("resume", "from_start".into()));
        f
    })
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let no_choice = post(&admin, base(&csrf)).await.unwrap();
    assert!(!no_choice.status().is_success());
    assert!(no_choice.text().await.unwrap().contains("paused"));
    let decided = post(&admin, {
        let mut f = base(&csrf);
        f.push(("resume", "from_start".into()));
        f
    })
    .await
    .unwrap();
    assert!(
        decided.status().is_success(),
        "{}",
        decided.text().await.unwrap()
    );

    let (paused, incarnation, next): (bool, i32, i64) = sqlx::query_as(
        "SELECT paused, incarnation, next_offset FROM consumer_positions WHERE group_id = 'elsewhere'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((paused, incarnation, next), (false, 1, 0));
    assert_eq!(
        db.count(
            "SELECT count(*) FROM audit_log WHERE action = 'log_incident_resolved'
               AND actor = 'ada' AND detail->>'resume' = 'from_start'"
        )
        .await,
        1
    );
    assert_eq!(
        db.count("SELECT count(*) FROM log_incidents WHERE resolved_at IS NULL")
            .await,
        0
    );
}
