//! The fleet as separate processes, one per service or group of services
//! (`switchyard-fleet run --service …`), talking only through Kafka. Orders complete end to end;
//! the payment service runs as two processes sharing its consumer group, one of which is
//! killed (-9) mid-run and restarted: every order still ends completed or compensated
//! exactly once, and nobody is charged twice — neither in the payment service's records
//! (`fleet.payments`) nor in the `payment.completed` events the console ingested.

mod common;

use common::saga::{kill, spawn_fleet, FleetProcess};
use common::{eventually, ingest_settings, Broker, TestDb};
use std::time::Duration;
use switchyard::ingest::consumer::run;
use tokio::sync::watch;

fn spawn(db: &TestDb, broker: &Broker, services: &str, rate: &str) -> FleetProcess {
    spawn_fleet(db, broker, services, rate, "orchestrated")
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&db.pool)
        .await
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_in_separate_processes_survive_a_killed_payment_service() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let ingest = tokio::spawn(run(
        db.pool.clone(),
        ingest_settings(&broker, &db, "console"),
        stop_rx.clone(),
    ));
    let completed = "SELECT count(*) FROM fleet.sagas WHERE state = 'completed'";

    let mut order = spawn(&db, &broker, "order", "6");
    let mut others = spawn(&db, &broker, "inventory,shipment", "0");
    let mut notification = spawn(&db, &broker, "notification", "0");
    let mut payment_a = spawn(&db, &broker, "payment", "0");
    let mut payment_b = spawn(&db, &broker, "payment", "0");
    // All five connected and migrated on the new database together, and are running.
    tokio::time::sleep(Duration::from_secs(2)).await;
    order.assert_running("order");
    others.assert_running("inventory,shipment");
    notification.assert_running("notification");
    payment_a.assert_running("payment (a)");
    payment_b.assert_running("payment (b)");
    eventually(
        Duration::from_secs(90),
        "orders complete end to end",
        || async { count(&db, completed).await >= 10 },
    )
    .await;

    // One payment process dies mid-run; orders keep coming; it comes back.
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill(payment_a);
    let before = count(&db, completed).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let payment_a = spawn(&db, &broker, "payment", "0");
    eventually(
        Duration::from_secs(90),
        "orders complete after the restart",
        || async { count(&db, completed).await >= before + 15 },
    )
    .await;

    // No new orders: what is in flight must end.
    kill(order);
    let order = spawn(&db, &broker, "order", "0");
    eventually(Duration::from_secs(90), "no saga left running", || async {
        count(
            &db,
            "SELECT count(*) FROM fleet.sagas WHERE state = 'running'",
        )
        .await
            == 0
    })
    .await;
    let total = count(&db, "SELECT count(*) FROM fleet.sagas").await;
    assert!(total >= 25, "only {total} sagas");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM fleet.sagas WHERE state NOT IN ('completed', 'compensated')"
        )
        .await,
        0
    );
    // The saga log: no step done (or undone) twice.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM (SELECT saga_id, step, phase FROM fleet.saga_log
            WHERE outcome = 'succeeded' GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
        )
        .await,
        0
    );
    // The payment service's records: one charge per completed order, none on a failed one.
    assert_eq!(
        count(&db, "SELECT count(*) FROM fleet.sagas s WHERE state = 'completed' AND NOT EXISTS
            (SELECT 1 FROM fleet.payments p WHERE p.order_id = s.order_id AND p.status = 'charged')").await,
        0
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM fleet.sagas s WHERE state = 'compensated' AND EXISTS
            (SELECT 1 FROM fleet.payments p WHERE p.order_id = s.order_id AND p.status = 'charged')").await,
        0
    );
    // The events: once the console has every order's end, each charged order has one
    // `payment.completed` (re-announcements repeat its id), and no other order has one.
    eventually(
        Duration::from_secs(60),
        "the console has ingested every order's end",
        || async {
            count(&db, "SELECT count(DISTINCT aggregate_id) FROM events WHERE event_type IN ('order.completed', 'order.failed')").await
                == total
        },
    )
    .await;
    assert_eq!(
        count(&db, "SELECT count(*) FROM (SELECT aggregate_id FROM events WHERE event_type = 'payment.completed'
            GROUP BY 1 HAVING count(DISTINCT event_id) > 1) d").await,
        0,
        "an order charged twice"
    );
    assert_eq!(
        count(&db, "SELECT count(DISTINCT aggregate_id) FROM events WHERE event_type = 'payment.completed'").await,
        count(&db, "SELECT count(*) FROM fleet.payments WHERE status IN ('charged', 'refunded')").await,
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(DISTINCT aggregate_id) FROM events WHERE event_type = 'order.completed'"
        )
        .await,
        count(&db, completed).await,
    );

    for child in [order, others, notification, payment_a, payment_b] {
        kill(child);
    }
    stop_tx.send(true).unwrap();
    ingest.await.unwrap().unwrap();
    db.drop_db().await;
}
