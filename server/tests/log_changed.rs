//! The log under the stored positions changes (issue 24's reproduction): ingest stores
//! 200 orders from an in-memory Nisshi, the broker loses everything (restarted), and
//! ingest starts again while 100 new orders arrive. Each partition whose stored position
//! is now past its log's end is recorded once as a `log_replaced` incident — not again
//! on the next restart —, the overview carries it for its banner, and the new log is read
//! as a new incarnation: 300 orders, nothing stored twice. The same when a topic is
//! deleted and recreated while ingest runs. A normal restart (the fault suites) records
//! none.

mod common;

use common::{eventually, ingest_settings, Broker, TestDb};
use rdkafka::producer::FutureRecord;
use std::time::Duration;
use switchyard::ingest::consumer::run;
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

/// Runs ingest until `done` holds, then stops it.
async fn ingest_until<F, Fut>(broker: &Broker, db: &TestDb, what: &str, done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(run(
        db.pool.clone(),
        ingest_settings(broker, db, "console"),
        stopped,
    ));
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
        .resolve_log_incident(&root, i.id, "topic recreated by the platform team; re-fed")
        .await
        .unwrap();
    let again = admin.resolve_log_incident(&root, i.id, "twice").await;
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
