//! Breaker-aware replay against a real broker and PostgreSQL: the breaker's state reaches
//! the console the way it does in production (its transitions published to Kafka, read by
//! ingest into the read model). A job whose target topic's consumer calls the payment
//! gateway holds while that breaker is OPEN or HALF_OPEN — says so, sends nothing — and
//! finishes by itself once it closes; a job told not to wait, or released by an operator,
//! sends at once; a bad list is refused.

mod common;

use chrono::Utc;
use common::dlq::*;
use common::{eventually, ingest_settings, Broker, TestDb};
use serde_json::json;
use std::time::Duration;
use switchyard::replay::job::{self, JobError};
use switchyard::replay::query;
use switchyard_app::dlq::ReplayScope;
use switchyard_app::states::JobStatus;
use switchyard_contract::{publish, Envelope};
use tokio::sync::watch;
use uuid::Uuid;

async fn transition(broker: &Broker, from: &str, to: &str) {
    let env = Envelope::new(
        "breaker.transition",
        "payment",
        "payment",
        json!({"service": "payment", "breaker": "payment-gateway", "from": from, "to": to,
               "failure_rate": 0.8, "at": Utc::now().to_rfc3339()}),
    );
    publish(&broker.producer(), &env).await.unwrap();
}

async fn breaker_is(db: &TestDb, state: &str) {
    let sql = format!(
        "SELECT count(*) FROM breakers WHERE breaker = 'payment-gateway' AND state = '{state}'"
    );
    eventually(
        Duration::from_secs(30),
        &format!("the breaker {state}"),
        || async { db.count(&sql).await == 1 },
    )
    .await;
}

async fn waiting(db: &TestDb, job: Uuid) -> Option<String> {
    job::job_view(&db.pool, job).await.unwrap().unwrap().waiting
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_holds_while_its_breaker_is_not_closed() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let (stop_ingest, ingest_rx) = watch::channel(false);
    let ingest = tokio::spawn(switchyard::ingest::consumer::run(
        db.pool.clone(),
        ingest_settings(&broker, &db, "hold"),
        ingest_rx,
    ));
    let (stop, stop_rx) = watch::channel(false);
    let running = spawn_runner(&db, &broker, 1000, stop_rx);

    transition(&broker, "CLOSED", "OPEN").await;
    breaker_is(&db, "OPEN").await;
    // inventory.reserved is what the payment service consumes: the gateway is behind it.
    let ids = seed(&db, "inventory.reserved", "INV", 4, "gateway timeout").await;
    let scope = ReplayScope::Ids { ids: ids.clone() };
    let dry = query::dry_run(&db.pool, &scope, 3).await.unwrap();
    assert_eq!(dry.hold_on, ["payment-gateway"]);
    let now = dry.holding_now.expect("the dry run says the breaker holds");
    assert!(
        now.starts_with("waiting: payment-gateway OPEN since "),
        "{now}"
    );

    let held = job::start(&db.pool, &actor("alice"), &request(scope, 0), 3)
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "the job says it waits", || async {
        waiting(&db, held)
            .await
            .is_some_and(|w| w.starts_with("waiting: payment-gateway OPEN"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let view = job::job_view(&db.pool, held).await.unwrap().unwrap();
    assert_eq!((view.status, view.sent), (JobStatus::Running, 0));
    assert_eq!(view.hold_on, ["payment-gateway"]);
    assert_eq!(view.eta_secs, None, "no ETA while waiting");
    assert!(replays_on(&broker, "inventory.reserved").is_empty());

    // Half open still holds: only the breaker's own trial calls should go through.
    transition(&broker, "OPEN", "HALF_OPEN").await;
    eventually(
        Duration::from_secs(30),
        "the job waits on HALF_OPEN",
        || async {
            waiting(&db, held)
                .await
                .is_some_and(|w| w.contains("payment-gateway HALF_OPEN"))
        },
    )
    .await;
    assert!(replays_on(&broker, "inventory.reserved").is_empty());

    // Closed: the job finishes by itself, each message once.
    transition(&broker, "HALF_OPEN", "CLOSED").await;
    assert_eq!(
        finished(&db, held, Duration::from_secs(30)).await,
        JobStatus::Completed
    );
    assert_eq!(replays_on(&broker, "inventory.reserved").len(), 4);
    assert_eq!(waiting(&db, held).await, None);

    // Open again. A job told not to wait sends at once; so does one an operator releases.
    transition(&broker, "CLOSED", "OPEN").await;
    breaker_is(&db, "OPEN").await;
    let more = seed(&db, "inventory.reserved", "INW", 2, "gateway timeout").await;
    let mut eager = request(ReplayScope::Ids { ids: more }, 0);
    eager.hold_on = Some(vec![]);
    let j = job::start(&db.pool, &actor("bob"), &eager, 3)
        .await
        .unwrap();
    assert_eq!(
        finished(&db, j, Duration::from_secs(30)).await,
        JobStatus::Completed
    );
    assert_eq!(replays_on(&broker, "inventory.reserved").len(), 6);

    let last = seed(&db, "inventory.reserved", "INX", 3, "gateway timeout").await;
    let j = job::start(
        &db.pool,
        &actor("carol"),
        &request(ReplayScope::Ids { ids: last }, 0),
        3,
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(10), "the third job waits", || async {
        waiting(&db, j).await.is_some()
    })
    .await;
    job::stop_waiting(&db.pool, &actor("dave"), j)
        .await
        .unwrap();
    assert_eq!(
        finished(&db, j, Duration::from_secs(30)).await,
        JobStatus::Completed
    );
    assert_eq!(replays_on(&broker, "inventory.reserved").len(), 9);
    let again = job::stop_waiting(&db.pool, &actor("dave"), j).await;
    assert!(matches!(again, Err(JobError::Refused(_))), "{again:?}");
    let audited: (String, serde_json::Value) = sqlx::query_as(
        "SELECT actor, detail FROM audit_log WHERE action = 'replay_job_stop_waiting'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(audited.0, "dave");
    assert_eq!(audited.1["breakers"], json!(["payment-gateway"]));
    assert!(audited.1["was"]
        .as_str()
        .is_some_and(|w| w.contains("payment-gateway OPEN")));
    let started: serde_json::Value = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'replay_job_start' AND actor = 'alice'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(started["hold_on"], json!(["payment-gateway"]));

    // A list no job should carry is refused before anything starts.
    let rest = seed(&db, "inventory.reserved", "INY", 1, "gateway timeout").await;
    let mut bad = request(ReplayScope::Ids { ids: rest }, 0);
    bad.hold_on = Some(vec!["pay\u{7}ment".into()]);
    let refused = job::start(&db.pool, &actor("erin"), &bad, 3).await;
    assert!(matches!(refused, Err(JobError::Refused(_))), "{refused:?}");

    stop.send(true).unwrap();
    running.await.unwrap();
    stop_ingest.send(true).unwrap();
    ingest.await.unwrap().unwrap();
    db.drop_db().await;
}
