//! Saga actions in batch (issue 23), against Nisshi and PostgreSQL with the fleet's order
//! service as its own process: 1,000 orders wait on inventory (no inventory service runs).
//! A batch terminates the orders the list's filter shows, throttled, and is cancelled
//! midway: what was sent is applied, the rest never sent, and sent + cancelled = 1,000. A
//! second batch over the same filter takes the rest; the console is killed -9 mid-batch
//! and started again, and its runner takes the batch over and finishes it. Every order
//! ends terminated exactly once — one command applied per order, each answered once even
//! where the takeover sent a command again — and the counts add up.

mod common;

use common::saga::{kill, spawn_fleet_leased, start_orders};
use common::{add_user, eventually, Broker, Console, TestDb};
use serde_json::Value;
use std::time::Duration;
use switchyard_fleet::runtime::Mode;

const ORDERS: i64 = 1_000;
const FILTER: [(&str, &str); 2] = [
    ("filter[status]", "created"),
    ("filter[step]", "inventory:execute"),
];

async fn batch(db: &TestDb, id: &str) -> (String, i64, i64, i64) {
    sqlx::query_as(
        "SELECT b.status, b.total::int8,
                (SELECT count(*) FROM saga_commands WHERE batch_id = b.id AND sent_at IS NOT NULL),
                (SELECT count(*) FROM saga_commands WHERE batch_id = b.id AND cancelled_at IS NOT NULL AND sent_at IS NULL)
         FROM saga_command_batches b WHERE b.id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

async fn start(console: &Console, http: &reqwest::Client, csrf: &str, expect: i64) -> String {
    let expect = expect.to_string();
    let mut form = vec![
        ("action", "terminate"),
        ("reason", "cleanup after the warehouse migration"),
        ("throttle", "100"),
        ("expect", expect.as_str()),
        ("csrf", csrf),
    ];
    form.extend(FILTER);
    let resp = http
        .post(console.url("/api/ops/orders/batch"))
        .header("accept", "application/json")
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert!(status.is_success(), "{status} {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["id"].as_str().unwrap().to_string()
}

async fn preview(console: &Console, http: &reqwest::Client) -> Value {
    let resp = http
        .get(console.url("/api/saga/batch-preview"))
        .query(&[("action", "terminate")])
        .query(&FILTER)
        .send()
        .await
        .unwrap();
    let (status, body) = (resp.status(), resp.text().await.unwrap());
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{status} {body}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_a_thousand_orders_is_cancelled_and_another_resumes_after_a_restart() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let env = [("SWITCHYARD_REPLAY_LEASE_SECS", "3")];
    let mut console = Console::start(&db.url, Some(&broker.bootstrap), &env).await;
    add_user(&db.url, "ada", "operator", "correct horse battery");
    let (op, csrf) = console.login("ada", "correct horse battery").await;

    let fleet_pool = switchyard_fleet::store::connect(&db.url).await.unwrap();
    // A long lease: the waiting sagas are not asked again while the test runs.
    let order_service = spawn_fleet_leased(&db, &broker, "order", "0", "orchestrated", "600");
    start_orders(&fleet_pool, &broker, Mode::Orchestrated, ORDERS as usize).await;
    eventually(
        Duration::from_secs(120),
        "the console shows every order waiting on inventory",
        || async {
            db.count(
                "SELECT count(*) FROM orders WHERE status = 'created'
                   AND current_step = 'inventory:execute' AND step_status = 'started'",
            )
            .await
                == ORDERS
        },
    )
    .await;
    let p = preview(&console, &op).await;
    assert_eq!(p["actionable"], ORDERS, "{p}");
    assert_eq!(p["matched"], ORDERS, "{p}");

    // A confirm whose count is not the preview's is refused, and nothing is queued.
    let resp = op
        .post(console.url("/api/ops/orders/batch"))
        .header("accept", "application/json")
        .form(&[
            ("action", "terminate"),
            ("reason", "x"),
            ("expect", "7"),
            ("filter[status]", "created"),
            ("filter[step]", "inventory:execute"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(!resp.status().is_success());
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("changed since the preview"));
    assert_eq!(db.count("SELECT count(*) FROM saga_commands").await, 0);

    // Batch one, cancelled midway.
    let first = start(&console, &op, &csrf, ORDERS).await;
    eventually(Duration::from_secs(60), "200 commands sent", || async {
        batch(&db, &first).await.2 >= 200
    })
    .await;
    let resp = op
        .post(console.url("/api/ops/orders/cancel-batch"))
        .header("accept", "application/json")
        .form(&[("batch", first.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let (status, total, sent1, cancelled) = batch(&db, &first).await;
    assert_eq!(status, "cancelled");
    assert_eq!(total, ORDERS);
    assert!(sent1 < ORDERS, "cancelled before the end: {sent1} sent");
    assert_eq!(sent1 + cancelled, ORDERS, "sent + cancelled = total");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        batch(&db, &first).await.2,
        sent1,
        "nothing sent after the cancel"
    );
    eventually(
        Duration::from_secs(60),
        "every sent command applied",
        || async {
            db.count("SELECT count(*) FROM fleet.sagas WHERE state = 'terminated'")
                .await
                == sent1
        },
    )
    .await;

    // Batch two over the same filter: the rest. The console dies mid-batch.
    eventually(
        Duration::from_secs(60),
        "the list no longer shows the terminated orders",
        || async { preview(&console, &op).await["actionable"] == ORDERS - sent1 },
    )
    .await;
    let second = start(&console, &op, &csrf, ORDERS - sent1).await;
    eventually(Duration::from_secs(60), "100 commands sent", || async {
        batch(&db, &second).await.2 >= 100
    })
    .await;
    if let Some(child) = console.child.as_mut() {
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    console.child = None;
    let at_kill = batch(&db, &second).await.2;
    assert!(at_kill < ORDERS - sent1, "killed midway: {at_kill} sent");
    console = Console::start(&db.url, Some(&broker.bootstrap), &env).await;
    eventually(
        Duration::from_secs(120),
        "the restarted console finishes the batch",
        || async { batch(&db, &second).await.0 == "completed" },
    )
    .await;
    let (_, total2, sent2, cancelled2) = batch(&db, &second).await;
    assert_eq!(
        (total2, sent2, cancelled2),
        (ORDERS - sent1, ORDERS - sent1, 0)
    );

    // Every order terminated once; every command applied once and answered once.
    eventually(
        Duration::from_secs(120),
        "every saga terminated",
        || async {
            db.count("SELECT count(*) FROM fleet.sagas WHERE state = 'terminated'")
                .await
                == ORDERS
        },
    )
    .await;
    assert_eq!(
        db.count("SELECT count(*) FROM fleet.saga_commands WHERE status = 'applied'")
            .await,
        ORDERS,
        "one command applied per order"
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM (SELECT order_id FROM fleet.saga_commands
              GROUP BY 1 HAVING count(*) > 1) d"
        )
        .await,
        0
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM saga_commands s
              WHERE s.sent_at IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM fleet.saga_commands f WHERE f.command_id = s.command_id)"
        )
        .await,
        0,
        "every sent command reached the order service"
    );
    eventually(
        Duration::from_secs(60),
        "the console has every answer",
        || async {
            db.count(
                "SELECT count(DISTINCT payload->>'command_id') FROM events
                  WHERE event_type = 'saga.command' AND payload->>'status' = 'applied'",
            )
            .await
                == ORDERS
        },
    )
    .await;
    assert_eq!(
        db.count(
            "SELECT count(*) FROM (SELECT payload->>'command_id' FROM events
              WHERE event_type = 'saga.command' AND payload->>'status' IN ('applied', 'rejected')
              GROUP BY 1 HAVING count(DISTINCT event_id) > 1) d"
        )
        .await,
        0,
        "an answer given again is the same answer"
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM audit_log WHERE action IN
               ('saga_command_batch', 'saga_command_batch_cancel', 'saga_command_batch_completed')"
        )
        .await,
        4
    );
    // The batches as the page shows them: the counts add up there too.
    let (op, _) = console.login("ada", "correct horse battery").await;
    let listed: Value = serde_json::from_str(
        &op.get(console.url("/api/saga/batches"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    for b in listed.as_array().unwrap() {
        let n = |k: &str| b[k].as_i64().unwrap();
        assert_eq!(n("sent") + n("cancelled") + n("queued"), n("total"), "{b}");
        assert_eq!(n("applied"), n("sent"), "{b}");
    }

    kill(order_service);
    drop(console);
    db.drop_db().await;
}
