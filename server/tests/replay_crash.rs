//! `kill -9` of the real `switchyard serve` in the middle of a replay job, three times
//! (`SWITCHYARD_SUITE_KILLS`; the fault suite's long form, `make suite-faults`, asks 20):
//! after the last restart the job completes, every dead letter is on the target topic
//! exactly once, and every replay the database calls sent is the one on the broker.

mod common;

use common::dlq::*;
use common::{free_port, switchyard, Broker, TestDb};
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::process::{Child, Stdio};
use std::time::Duration;
use switchyard::replay::job;
use switchyard_app::dlq::ReplayScope;
use switchyard_app::states::JobStatus;
use uuid::Uuid;

fn spawn_serve(db: &TestDb, broker: &Broker) -> Child {
    switchyard()
        .args(["serve", "--no-ingest"])
        .env("DATABASE_URL", &db.url)
        .env("KAFKA_BROKERS", &broker.bootstrap)
        .env("SWITCHYARD_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("SWITCHYARD_REPLAY_LEASE_SECS", "1")
        .env("RUST_LOG", "warn,switchyard::replay=info")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn switchyard serve")
}

async fn sent(db: &TestDb, j: Uuid) -> i64 {
    job::job_view(&db.pool, j).await.unwrap().unwrap().sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_resumes_the_job_without_sending_twice() {
    let kills: i64 = std::env::var("SWITCHYARD_SUITE_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    // Enough that every kill lands mid-job (each run sends a few hundred before its kill).
    let n: i64 = 1500.max(kills * 700);
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    seed(&db, "payment.completed", "PAY", n, "gateway timeout").await;
    // 300 msgs/s: batches of 300 a second, so a kill nearly always lands mid-batch.
    let j = job::start(
        &db.pool,
        &actor("alice"),
        &request(
            ReplayScope::Filter {
                filter: switchyard_app::ops::DeadLetterFilter {
                    topic: Some("payment.completed".into()),
                    ..Default::default()
                },
            },
            300,
        ),
        3,
    )
    .await
    .unwrap();

    for kill in 1..=kills {
        let before = sent(&db, j).await;
        let mut child = spawn_serve(&db, &broker);
        common::eventually(
            Duration::from_secs(60),
            "the job makes progress",
            || async { sent(&db, j).await > before + 50 },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(rand::rng().random_range(0..800))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let sending = db
            .count("SELECT count(*) FROM replay_job_items WHERE status = 'sending'")
            .await;
        eprintln!(
            "kill {kill}: {} sent, {sending} left sending",
            sent(&db, j).await
        );
    }
    let mut child = spawn_serve(&db, &broker);
    assert_eq!(
        finished(&db, j, Duration::from_secs(90)).await,
        JobStatus::Completed
    );
    child.kill().unwrap();
    child.wait().unwrap();

    let v = job::job_view(&db.pool, j).await.unwrap().unwrap();
    assert_eq!((v.sent, v.total), (n, n), "{v:?}");
    let landed = replays_on(&broker, "payment.completed");
    let keys: HashSet<_> = landed.iter().filter_map(|m| m.key.clone()).collect();
    assert_eq!(keys.len() as i64, n, "every dead letter replayed");
    assert_eq!(landed.len() as i64, n, "none replayed twice");
    // The database's positions are the broker's.
    let db_sent: HashMap<String, (i32, i64)> = sqlx::query_as::<_, (Uuid, i32, i64)>(
        "SELECT replay_id, target_partition, target_offset FROM replays WHERE status = 'sent'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(id, p, o)| (id.to_string(), (p, o)))
    .collect();
    assert_eq!(db_sent.len() as i64, n);
    for m in &landed {
        let id = m.header("x-replay-id").unwrap();
        assert_eq!(db_sent.get(id), Some(&(m.partition, m.offset)), "{id}");
    }
    assert_eq!(
        db.count("SELECT count(*) FROM dead_letters WHERE status <> 'replayed'")
            .await,
        0
    );
    db.drop_db().await;
}
