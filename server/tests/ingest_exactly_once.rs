//! Fault tests of ingest against a real broker and PostgreSQL:
//! - kill -9 of the ingest process at random moments, ten times, while 100k records of the
//!   realistic mix flow: afterwards every record is stored exactly once and the
//!   projections equal a rebuild from the event store;
//! - two ingest instances in one group, one stopped midway: no loss, no duplicates.

mod common;

use common::{assert_exactly_once, consumed, eventually, switchyard, Broker, TestDb};
use rand::Rng;
use std::process::{Child, Stdio};
use std::time::Duration;
use switchyard_tools::synthetic::{produce, Synthetic};

fn spawn_ingest(db: &TestDb, broker: &Broker) -> Child {
    switchyard()
        .arg("ingest")
        .env("DATABASE_URL", &db.url)
        .env("KAFKA_BROKERS", &broker.bootstrap)
        .env("KAFKA_SESSION_TIMEOUT_MS", "6000")
        .env("SWITCHYARD_BATCH_MAX", "500")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn ingest")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_ingest_resumes_without_loss_or_duplicates() {
    const RECORDS: usize = 100_000;
    // Ten in `make test`; the fault suite's long form (`make suite-faults`) asks for 20.
    let kills: usize = std::env::var("SWITCHYARD_SUITE_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let records = Synthetic::new(1, "K").records(RECORDS);
    let total = records.len();
    let producer = broker.producer();
    let producing = tokio::spawn(async move {
        // Spread over the kills so records keep flowing while ingest dies and restarts.
        for chunk in records.chunks(2000) {
            produce(&producer, chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    });

    for kill in 0..kills {
        let before = consumed(&db).await;
        let mut child = spawn_ingest(&db, &broker);
        // Progress, or nothing left to take (on a fast machine ingest can catch up with
        // the producer before the last kills; those then hit an idle consumer).
        eventually(Duration::from_secs(60), "ingest makes progress", || async {
            let now = consumed(&db).await;
            now > before || now as usize >= total
        })
        .await;
        let pause = rand::rng().random_range(0..800);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        child.kill().unwrap(); // SIGKILL: mid-batch, mid-transaction, anywhere.
        child.wait().unwrap();
        eprintln!("kill {} after {} records", kill + 1, consumed(&db).await);
    }
    producing.await.unwrap();

    let mut child = spawn_ingest(&db, &broker);
    eventually(Duration::from_secs(180), "every record stored", || async {
        consumed(&db).await as usize >= total
    })
    .await;
    // A redelivery would show up now as a duplicate, if the design allowed one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_exactly_once(&db, total).await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_work_and_one_leaves() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let records = Synthetic::new(2, "T").records(30_000);
    let total = records.len();
    let producer = broker.producer();
    let producing = tokio::spawn(async move {
        for chunk in records.chunks(1000) {
            produce(&producer, chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut a = spawn_ingest(&db, &broker);
    let mut b = spawn_ingest(&db, &broker);
    eventually(
        Duration::from_secs(60),
        "a third of the records",
        || async { consumed(&db).await as usize > total / 3 },
    )
    .await;
    // B leaves politely (SIGTERM): its partitions move to A mid-stream.
    let pid = b.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    b.wait().unwrap();
    producing.await.unwrap();
    eventually(Duration::from_secs(120), "every record stored", || async {
        consumed(&db).await as usize >= total
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    a.kill().unwrap();
    a.wait().unwrap();
    assert_exactly_once(&db, total).await;
    db.drop_db().await;
}
