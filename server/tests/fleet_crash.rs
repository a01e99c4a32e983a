//! Kill -9 of the whole fleet (every service in one process) mid-saga, several times: after
//! a restart every saga ends completed or compensated — none stuck or forgotten — the
//! durable log shows no step done twice and every completed step of a failed saga undone
//! exactly once, and the services' own records agree (one charge per completed order,
//! none left on a failed one). The same for the choreographed saga, which has no conductor
//! and no saga log: there Kafka redelivery and the services' idempotent records carry
//! every saga to its end.

mod common;

use common::{eventually, switchyard_fleet, Broker, TestDb};
use rand::Rng;
use std::process::{Child, Stdio};
use std::time::Duration;

fn spawn_fleet(db: &TestDb, broker: &Broker, rate: &str, mode: &str) -> Child {
    switchyard_fleet()
        .args(["run", "--rate", rate, "--mode", mode])
        .env("DATABASE_URL", &db.url)
        .env("KAFKA_BROKERS", &broker.bootstrap)
        .env("SWITCHYARD_SAGA_LEASE_SECS", "2")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn fleet")
}

async fn fleet_count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&db.pool)
        .await
        .unwrap_or(0)
}

/// Progress: saga log entries (orchestrated) or finished sagas (choreographed).
const PROGRESS: &str = "SELECT (SELECT count(*) FROM fleet.saga_log)
    + (SELECT count(*) FROM fleet.sagas WHERE state <> 'running')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_fleet_resumes_every_saga_to_a_clean_end() {
    crash_and_resume("orchestrated").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_choreographed_fleet_resumes_every_saga_to_a_clean_end() {
    crash_and_resume("choreographed").await;
}

async fn crash_and_resume(mode: &str) {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    for kill in 0..5 {
        let before = fleet_count(&db, PROGRESS).await;
        let mut child = spawn_fleet(&db, &broker, "15", mode);
        eventually(
            Duration::from_secs(60),
            "the fleet makes progress",
            || async { fleet_count(&db, PROGRESS).await > before + 10 },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(rand::rng().random_range(0..500))).await;
        child.kill().unwrap(); // SIGKILL, mid-saga
        child.wait().unwrap();
        eprintln!(
            "kill {}: {} sagas",
            kill + 1,
            fleet_count(&db, "SELECT count(*) FROM fleet.sagas").await
        );
    }
    // Restart without new orders: the leftovers must be driven to their end.
    let mut child = spawn_fleet(&db, &broker, "0", mode);
    eventually(Duration::from_secs(90), "no saga left running", || async {
        fleet_count(
            &db,
            "SELECT count(*) FROM fleet.sagas WHERE state = 'running'",
        )
        .await
            == 0
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();

    let total = fleet_count(&db, "SELECT count(*) FROM fleet.sagas").await;
    assert!(total > 30, "only {total} sagas");
    assert_eq!(
        fleet_count(
            &db,
            "SELECT count(*) FROM fleet.sagas WHERE state NOT IN ('completed', 'compensated')"
        )
        .await,
        0
    );
    // The saga log (orchestrated only; the choreographed saga has none).
    if mode == "orchestrated" {
        // No step succeeded twice (no double charge), in either direction.
        assert_eq!(
            fleet_count(
                &db,
                "SELECT count(*) FROM (SELECT saga_id, step, phase FROM fleet.saga_log
                WHERE outcome = 'succeeded' GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
            )
            .await,
            0
        );
        // Completed sagas executed all three steps; compensated ones undid exactly what they did.
        assert_eq!(
            fleet_count(&db, "SELECT count(*) FROM fleet.sagas s WHERE state = 'completed' AND
                (SELECT count(*) FROM fleet.saga_log l WHERE l.saga_id = s.saga_id AND phase = 'execute' AND outcome = 'succeeded') <> 3").await,
            0
        );
        assert_eq!(
            fleet_count(&db, "SELECT count(*) FROM fleet.sagas s WHERE state = 'compensated' AND
                (SELECT count(*) FROM fleet.saga_log l WHERE l.saga_id = s.saga_id AND phase = 'execute' AND outcome = 'succeeded')
                <> (SELECT count(*) FROM fleet.saga_log l WHERE l.saga_id = s.saga_id AND phase = 'compensate' AND outcome = 'succeeded')").await,
            0
        );
    }
    // Every order has its created event and exactly one terminal event.
    assert_eq!(
        fleet_count(&db, "SELECT count(*) FROM fleet.sagas s WHERE
            (SELECT count(*) FROM fleet.order_events e WHERE e.order_id = s.order_id AND event_type = 'order.created') <> 1
            OR (SELECT count(*) FROM fleet.order_events e WHERE e.order_id = s.order_id
                AND event_type IN ('order.completed', 'order.failed')) <> 1").await,
        0
    );
    // The services' records: every completed order reserved, charged and shipped once;
    // no failed order left charged or reserved.
    assert_eq!(
        fleet_count(&db, "SELECT count(*) FROM fleet.sagas s WHERE state = 'completed' AND NOT (
            EXISTS (SELECT 1 FROM fleet.inventory_reservations r WHERE r.order_id = s.order_id AND r.status = 'reserved')
            AND EXISTS (SELECT 1 FROM fleet.payments p WHERE p.order_id = s.order_id AND p.status = 'charged')
            AND EXISTS (SELECT 1 FROM fleet.shipments h WHERE h.order_id = s.order_id AND h.status = 'created'))").await,
        0
    );
    assert_eq!(
        fleet_count(&db, "SELECT count(*) FROM fleet.sagas s WHERE state = 'compensated' AND (
            EXISTS (SELECT 1 FROM fleet.inventory_reservations r WHERE r.order_id = s.order_id AND r.status = 'reserved')
            OR EXISTS (SELECT 1 FROM fleet.payments p WHERE p.order_id = s.order_id AND p.status = 'charged'))").await,
        0
    );
    db.drop_db().await;
}
