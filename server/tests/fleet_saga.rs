//! The orchestrated saga end to end (order service → `saga.step` requests → step services
//! → outcomes → order service, all over Kafka; then console ingest → read model): healthy
//! orders complete; a payment-gateway outage fails orders, compensates their inventory and
//! opens the payment breaker; when the outage ends the breaker closes through half-open and
//! orders complete again.

mod common;

use common::{eventually, ingest_settings, Broker, TestDb};
use std::sync::Arc;
use std::time::Duration;
use switchyard::ingest::consumer::run;
use switchyard_fleet::breaker::Config;
use switchyard_fleet::runtime::{Fleet, Mode, Service};
use tokio::sync::watch;

async fn sagas(pool: &sqlx::PgPool, state: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sagas WHERE state = $1")
        .bind(state)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn set_fault(pool: &sqlx::PgPool, name: &str, value: f64) {
    sqlx::query("INSERT INTO faults (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2")
        .bind(name)
        .bind(value)
        .execute(pool)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await; // the fleet refreshes every 500 ms
}

async fn breaker_state(db: &TestDb) -> Option<String> {
    sqlx::query_scalar("SELECT state FROM breakers WHERE service = 'payment'")
        .fetch_optional(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_opens_the_breaker_compensates_and_recovers() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let fleet_pool = switchyard_fleet::store::connect(&db.url).await.unwrap();
    let breaker = Config {
        window_size: 10,
        minimum_calls: 5,
        wait_in_open_ms: 1000,
        permitted_in_half_open: 3,
        ..Config::default()
    };
    let fleet = Arc::new(Fleet::new(
        fleet_pool.clone(),
        broker.renewing_producer(),
        &broker.bootstrap,
        breaker,
        Mode::Orchestrated,
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

    // Healthy.
    for _ in 0..8 {
        fleet.start_order().await.unwrap();
    }
    eventually(Duration::from_secs(30), "8 sagas completed", || async {
        sagas(&fleet_pool, "completed").await == 8
    })
    .await;

    // Payment gateway down.
    set_fault(&fleet_pool, "payment_outage", 1.0).await;
    for _ in 0..12 {
        fleet.start_order().await.unwrap();
    }
    eventually(Duration::from_secs(30), "12 sagas compensated", || async {
        sagas(&fleet_pool, "compensated").await == 12
    })
    .await;
    eventually(
        Duration::from_secs(30),
        "console sees the payment breaker open",
        || async { breaker_state(&db).await.as_deref() == Some("OPEN") },
    )
    .await;
    eventually(Duration::from_secs(30), "console sees failed orders with released inventory", || async {
        db.count("SELECT count(*) FROM orders WHERE status = 'failed'").await == 12
            && db.count("SELECT count(DISTINCT order_id) FROM saga_steps WHERE step = 'inventory' AND action = 'compensate' AND status = 'succeeded'").await == 12
    })
    .await;

    // Outage over: after the wait, half-open lets three trial calls through (concurrent
    // extras are refused, as in Resilience4j); their success closes the breaker.
    set_fault(&fleet_pool, "payment_outage", 0.0).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..3 {
        fleet.start_order().await.unwrap();
    }
    eventually(
        Duration::from_secs(30),
        "console sees the breaker closed",
        || async { breaker_state(&db).await.as_deref() == Some("CLOSED") },
    )
    .await;
    let mut after = Vec::new();
    for _ in 0..3 {
        after.push(fleet.start_order().await.unwrap());
    }
    eventually(
        Duration::from_secs(30),
        "orders after recovery complete",
        || async {
            let done: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM sagas WHERE order_id = ANY($1) AND state = 'completed'",
            )
            .bind(&after)
            .fetch_one(&fleet_pool)
            .await
            .unwrap();
            done == 3
        },
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "console sees them completed",
        || async {
            let done: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM orders WHERE order_id = ANY($1) AND status = 'completed'",
            )
            .bind(&after)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            done == 3
        },
    )
    .await;
    let path: Vec<(String, String)> = sqlx::query_as(
        "SELECT from_state, to_state FROM breaker_transitions WHERE service = 'payment' ORDER BY at, id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let path: Vec<(&str, &str)> = path.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(
        path,
        vec![
            ("CLOSED", "OPEN"),
            ("OPEN", "HALF_OPEN"),
            ("HALF_OPEN", "CLOSED")
        ]
    );

    stop_tx.send(true).unwrap();
    runner.await.unwrap();
    ingest.await.unwrap().unwrap();
    fleet_pool.close().await;
    db.drop_db().await;
}
