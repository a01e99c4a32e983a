//! Kill -9 the ingest process mid-stream, again and again: afterwards every produced order
//! is stored exactly once, and the stored positions account for every record.

mod common;

use common::{eventually, switchyard, Broker, TestDb};
use futures::future::join_all;
use rand::Rng;
use std::process::Stdio;
use std::time::Duration;
use switchyard::fleet::{orders::new_order, publish};

const ORDERS: usize = 6000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_ingest_resumes_without_loss_or_duplicates() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let producer = broker.producer();
    let producing = tokio::spawn(async move {
        for chunk in (0..ORDERS).collect::<Vec<_>>().chunks(250) {
            let sends = chunk.iter().map(|i| {
                let env = new_order(&format!("ORD-K{i:06}"), &mut rand::rng());
                let producer = producer.clone();
                async move { publish(&producer, &env).await.unwrap() }
            });
            join_all(sends).await;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    });
    let spawn_ingest = || {
        switchyard()
            .arg("ingest")
            .env("DATABASE_URL", &db.url)
            .env("KAFKA_BROKERS", &broker.bootstrap)
            .env("KAFKA_SESSION_TIMEOUT_MS", "6000")
            .env("SWITCHYARD_BATCH_MAX", "150")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn ingest")
    };

    let mut kills = 0;
    for _ in 0..5 {
        let before = db.count("SELECT count(*) FROM events").await;
        if before as usize >= ORDERS {
            break;
        }
        let mut child = spawn_ingest();
        eventually(Duration::from_secs(60), "ingest makes progress", || async {
            db.count("SELECT count(*) FROM events").await > before
        })
        .await;
        let pause = rand::rng().random_range(0..400);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        child.kill().unwrap(); // SIGKILL: no chance to finish a batch or commit.
        child.wait().unwrap();
        kills += 1;
    }
    assert!(
        kills >= 3,
        "only {kills} kills happened before all rows were in"
    );
    producing.await.unwrap();

    let mut child = spawn_ingest();
    eventually(Duration::from_secs(120), "all orders stored", || async {
        db.count("SELECT count(*) FROM events").await as usize >= ORDERS
    })
    .await;
    // Give a redelivery the chance to show up as a duplicate, if the design were wrong.
    tokio::time::sleep(Duration::from_secs(2)).await;
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!(
        db.count("SELECT count(*) FROM events").await as usize,
        ORDERS
    );
    assert_eq!(
        db.count("SELECT count(DISTINCT event_id) FROM events")
            .await as usize,
        ORDERS
    );
    assert_eq!(
        db.count("SELECT count(*) FROM orders").await as usize,
        ORDERS
    );
    assert_eq!(
        db.count("SELECT count(*) FROM orders WHERE event_count <> 1")
            .await,
        0
    );
    assert_eq!(db.count("SELECT count(*) FROM quarantine").await, 0);
    // Offsets start at 0 on every partition, so the positions must add up to the count.
    let next_sum = db
        .count(
            "SELECT sum(next_offset)::int8 FROM consumer_positions WHERE topic = 'order.created'",
        )
        .await;
    assert_eq!(next_sum as usize, ORDERS);
    db.drop_db().await;
}
