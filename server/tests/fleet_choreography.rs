//! The choreographed saga (`--mode choreographed`): no conductor, each service reacts to
//! the previous one's domain events. Healthy orders complete; declined payments fail their
//! orders and release the inventory — compensation by events — and the console's saga
//! timeline shows the steps as in the orchestrated mode. With the payment gateway down,
//! the payment service dead-letters what it cannot do, the orders wait, and replaying the
//! dead letters through the console once the gateway is back completes them, each charged
//! once.

mod common;

use common::{eventually, ingest_settings, Broker, TestDb};
use std::sync::Arc;
use std::time::Duration;
use switchyard::ingest::consumer::run;
use switchyard_fleet::breaker::Config;
use switchyard_fleet::runtime::{Fleet, Mode, Service};
use tokio::sync::watch;

async fn fleet_count(pool: &sqlx::PgPool, sql: &str, orders: &[String]) -> i64 {
    sqlx::query_scalar(sql)
        .bind(orders)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_drive_the_saga_and_its_compensation() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let fleet_pool = switchyard_fleet::store::connect(&db.url).await.unwrap();
    let fleet = Arc::new(Fleet::new(
        fleet_pool.clone(),
        broker.renewing_producer(),
        &broker.bootstrap,
        Config::default(),
        Mode::Choreographed,
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let runner = {
        let (fleet, stop) = (fleet.clone(), stop_rx.clone());
        tokio::spawn(async move { fleet.run(&Service::ALL, 0.0, stop).await })
    };
    let ingest = tokio::spawn(run(
        db.pool.clone(),
        ingest_settings(&broker, &db, "console"),
        stop_rx.clone(),
    ));

    // Happy path.
    let mut good = Vec::new();
    for _ in 0..5 {
        good.push(fleet.start_order().await.unwrap());
    }
    eventually(Duration::from_secs(60), "5 orders completed", || async {
        fleet_count(
            &fleet_pool,
            "SELECT count(*) FROM sagas WHERE order_id = ANY($1) AND state = 'completed'",
            &good,
        )
        .await
            == 5
    })
    .await;
    assert_eq!(
        fleet_count(
            &fleet_pool,
            "SELECT count(*) FROM payments WHERE order_id = ANY($1) AND status = 'charged'",
            &good
        )
        .await,
        5
    );
    assert_eq!(
        fleet_count(
            &fleet_pool,
            "SELECT count(*) FROM shipments WHERE order_id = ANY($1) AND status = 'created'",
            &good
        )
        .await,
        5
    );

    // Every card declined: payment.failed → inventory releases → order.failed.
    sqlx::query("INSERT INTO faults (name, value) VALUES ('payment_decline_rate', 1)")
        .execute(&fleet_pool)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await; // faults are read every 500 ms
    let mut bad = Vec::new();
    for _ in 0..5 {
        bad.push(fleet.start_order().await.unwrap());
    }
    eventually(Duration::from_secs(60), "5 orders compensated", || async {
        fleet_count(
            &fleet_pool,
            "SELECT count(*) FROM sagas WHERE order_id = ANY($1) AND state = 'compensated'",
            &bad,
        )
        .await
            == 5
    })
    .await;
    assert_eq!(
        fleet_count(&fleet_pool, "SELECT count(*) FROM inventory_reservations WHERE order_id = ANY($1) AND status = 'released'", &bad).await,
        5
    );
    assert_eq!(
        fleet_count(
            &fleet_pool,
            "SELECT count(*) FROM payments WHERE order_id = ANY($1) AND status = 'charged'",
            &bad
        )
        .await,
        0
    );
    assert_eq!(
        fleet_count(
            &fleet_pool,
            "SELECT count(*) FROM shipments WHERE order_id = ANY($1)",
            &bad
        )
        .await,
        0
    );
    let reason: Option<String> = sqlx::query_scalar(
        "SELECT data->>'reason' FROM order_events WHERE order_id = $1 AND event_type = 'order.failed'",
    )
    .bind(&bad[0])
    .fetch_one(&fleet_pool)
    .await
    .unwrap();
    assert!(
        reason.as_deref().is_some_and(|r| r.contains("payment")),
        "failure reason: {reason:?}"
    );

    sqlx::query("UPDATE faults SET value = 0 WHERE name = 'payment_decline_rate'")
        .execute(&fleet_pool)
        .await
        .unwrap();

    // Payment gateway down: the payment service cannot act, retries, then dead-letters the
    // message that asked it (inventory.reserved); the orders wait.
    sqlx::query("INSERT INTO faults (name, value) VALUES ('payment_outage', 1)")
        .execute(&fleet_pool)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut waiting = Vec::new();
    for _ in 0..3 {
        waiting.push(fleet.start_order().await.unwrap());
    }
    eventually(
        Duration::from_secs(60),
        "3 dead letters in the console",
        || async {
            fleet_count(
                &db.pool,
                "SELECT count(*) FROM dead_letters WHERE order_id = ANY($1)
             AND original_topic = 'inventory.reserved' AND status = 'pending'",
                &waiting,
            )
            .await
                == 3
        },
    )
    .await;
    assert_eq!(
        fleet_count(
            &fleet_pool,
            "SELECT count(*) FROM sagas WHERE order_id = ANY($1) AND state = 'running'",
            &waiting
        )
        .await,
        3,
        "the orders wait for the gateway"
    );
    assert_eq!(
        fleet_count(
            &fleet_pool,
            "SELECT count(*) FROM payments WHERE order_id = ANY($1)",
            &waiting
        )
        .await,
        0
    );

    // The gateway is back; an operator replays the dead letters (twice, by mistake).
    sqlx::query("UPDATE faults SET value = 0 WHERE name = 'payment_outage'")
        .execute(&fleet_pool)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let dead: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM dead_letters WHERE order_id = ANY($1) AND original_topic = 'inventory.reserved'",
    )
    .bind(&waiting)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let marks = switchyard::replay::watermarks::Watermarks::new(&broker.bootstrap).unwrap();
    let operator = switchyard::audit::Actor::new("olga", "127.0.0.1");
    for id in dead.iter().chain(dead.iter()) {
        let _ = switchyard::replay::one::replay_one(
            &db.pool,
            &broker.producer(),
            &marks,
            *id,
            &operator,
            3,
        )
        .await
        .unwrap();
    }
    eventually(
        Duration::from_secs(60),
        "the waiting orders complete",
        || async {
            fleet_count(
                &fleet_pool,
                "SELECT count(*) FROM sagas WHERE order_id = ANY($1) AND state = 'completed'",
                &waiting,
            )
            .await
                == 3
        },
    )
    .await;
    assert_eq!(
        fleet_count(
            &fleet_pool,
            "SELECT count(*) FROM payments WHERE order_id = ANY($1) AND status = 'charged'",
            &waiting
        )
        .await,
        3,
        "each charged once"
    );
    assert_eq!(
        fleet_count(
            &db.pool,
            "SELECT count(*) FROM replays r JOIN dead_letters d ON d.id = r.dead_letter_id
             WHERE d.order_id = ANY($1) AND r.status = 'sent'",
            &waiting
        )
        .await as usize,
        dead.len(),
        "the second replay of each was refused"
    );

    // The console sees the same story, saga timeline included.
    eventually(
        Duration::from_secs(30),
        "console sees completed and failed orders",
        || async {
            fleet_count(
                &db.pool,
                "SELECT count(*) FROM orders WHERE order_id = ANY($1) AND status = 'completed'",
                &good,
            )
            .await
                == 5
                && fleet_count(
                    &db.pool,
                    "SELECT count(*) FROM orders WHERE order_id = ANY($1) AND status = 'failed'",
                    &bad,
                )
                .await
                    == 5
                && fleet_count(
                    &db.pool,
                    "SELECT count(DISTINCT order_id) FROM saga_steps WHERE order_id = ANY($1)
                AND step = 'inventory' AND action = 'compensate' AND status = 'succeeded'",
                    &bad,
                )
                .await
                    == 5
                && fleet_count(
                    &db.pool,
                    "SELECT count(DISTINCT order_id) FROM saga_steps WHERE order_id = ANY($1)
                AND step = 'shipment' AND action = 'execute' AND status = 'succeeded'",
                    &good,
                )
                .await
                    == 5
        },
    )
    .await;

    stop_tx.send(true).unwrap();
    runner.await.unwrap();
    ingest.await.unwrap().unwrap();
    fleet_pool.close().await;
    db.drop_db().await;
}
