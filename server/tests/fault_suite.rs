//! The fault suite of issue 9 (the parts not covered by the kill -9 tests of ingest,
//! replay and the fleet): the console process ingesting while PostgreSQL crashes and
//! restarts, and while the broker is killed and restarted with its log on disk. After
//! each, the producer's ledger is checked against the database: every acknowledged record
//! stored exactly once, positions equal to what was produced, projections equal to a
//! rebuild from the event store.
//!
//! `make test` runs one round of each; `make suite-faults` runs
//! `SWITCHYARD_SUITE_ROUNDS` (default 5 there) rounds and prints a summary.

mod common;

use common::{assert_exactly_once, consumed, eventually, free_port, Broker, Console, TestDb};
use std::process::Command;
use std::time::{Duration, Instant};
use switchyard_tools::synthetic::{produce, Synthetic};

fn rounds() -> usize {
    std::env::var("SWITCHYARD_SUITE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

fn pg(cmd: &str, name: &str, port: u16) -> String {
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg.sh"))
        .args([cmd, name, &port.to_string()])
        .output()
        .expect("scripts/pg.sh");
    assert!(
        out.status.success(),
        "pg.sh {cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

async fn wait_stored(db: &TestDb, total: usize, what: &str) {
    eventually(Duration::from_secs(180), what, || async {
        consumed(db).await as usize >= total
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crash_and_restart_during_ingest() {
    // A private cluster with default durability (synchronous commit on), so it can be
    // crashed without touching the shared test server.
    let port = free_port();
    let name = format!("faultpg{}", std::process::id());
    let admin = pg("start", &name, port);
    let db = TestDb::on(&admin).await;
    let broker = Broker::start().await;
    let console = Console::start(
        &db.url,
        Some(&broker.bootstrap),
        &[("SWITCHYARD_BATCH_MAX", "500"), ("RUST_LOG", "warn")],
    )
    .await;
    let producer = broker.producer();
    let mut gen = Synthetic::new(11, "PGF");
    let mut total = 0;
    let started = Instant::now();
    for round in 0..rounds() {
        let records = gen.records(6_000);
        total += records.len();
        let producing = {
            let producer = producer.clone();
            tokio::spawn(async move {
                for chunk in records.chunks(500) {
                    produce(&producer, chunk).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(150 + 100 * round as u64)).await;
        pg("crash", &name, port);
        tokio::time::sleep(Duration::from_secs(2)).await;
        pg("start", &name, port);
        producing.await.unwrap();
        wait_stored(&db, total, "ingest caught up after the PostgreSQL restart").await;
        assert_exactly_once(&db, total).await;
    }
    println!(
        "fault suite: PASS — {} PostgreSQL crash/restart(s) during ingest, {total} records, each stored once, projections verified ({:.1} s)",
        rounds(),
        started.elapsed().as_secs_f64()
    );
    drop(console);
    db.drop_db().await;
    pg("destroy", &name, port);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_kill_and_restart_with_its_log_on_disk() {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("sy-nisshi-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut broker = Broker::start_persistent(dir.clone()).await;
    let console = Console::start(
        &db.url,
        Some(&broker.bootstrap),
        &[("SWITCHYARD_BATCH_MAX", "500"), ("RUST_LOG", "warn")],
    )
    .await;
    let mut gen = Synthetic::new(12, "BRF");
    let mut total = 0;
    let started = Instant::now();
    for _ in 0..rounds() {
        // Acknowledged before the kill: the ledger.
        let before = gen.records(3_000);
        produce(&broker.producer(), &before).await.unwrap();
        total += before.len();
        broker.restart(Duration::from_secs(1)).await;
        let after = gen.records(3_000);
        produce(&broker.producer(), &after).await.unwrap();
        total += after.len();
        wait_stored(&db, total, "ingest caught up after the broker restart").await;
        assert_exactly_once(&db, total).await;
    }
    println!(
        "fault suite: PASS — {} broker kill -9/restart(s), {total} records, each stored once, projections verified ({:.1} s)",
        rounds(),
        started.elapsed().as_secs_f64()
    );
    drop(console);
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
    db.drop_db().await;
}
