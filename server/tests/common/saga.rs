//! Helpers for the saga tests that run the fleet as separate processes: a service started
//! and killed (-9), an operator's command posted to the console like the order page's
//! form, and counts in the fleet's and the console's tables.

use super::{switchyard_fleet, Broker, Console, TestDb};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A fleet process, killed (-9) when dropped: a test that fails leaves none behind.
pub struct FleetProcess(Option<Child>);

impl FleetProcess {
    /// Panics if the process has exited (a service that died at start-up would leave its
    /// sagas waiting, and the test would time out far from the cause).
    pub fn assert_running(&mut self, what: &str) {
        if let Some(status) = self.0.as_mut().and_then(|c| c.try_wait().unwrap()) {
            panic!("fleet process {what} exited: {status}");
        }
    }
}

impl Drop for FleetProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `switchyard-fleet run --service <services>` in `mode`, with a 3-second saga lease.
pub fn spawn_fleet(
    db: &TestDb,
    broker: &Broker,
    services: &str,
    rate: &str,
    mode: &str,
) -> FleetProcess {
    spawn_fleet_leased(db, broker, services, rate, mode, "3")
}

/// [`spawn_fleet`] with a saga lease of `lease_secs` (how long a saga waits before the
/// order service asks again).
pub fn spawn_fleet_leased(
    db: &TestDb,
    broker: &Broker,
    services: &str,
    rate: &str,
    mode: &str,
    lease_secs: &str,
) -> FleetProcess {
    let child = switchyard_fleet()
        .args(["run", "--service", services, "--rate", rate, "--mode", mode])
        .env("DATABASE_URL", &db.url)
        .env("KAFKA_BROKERS", &broker.bootstrap)
        .env("SWITCHYARD_SAGA_LEASE_SECS", lease_secs)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn fleet service");
    FleetProcess(Some(child))
}

/// kill -9, and the process reaped.
pub fn kill(process: FleetProcess) {
    drop(process);
}

/// Polls the page at `path` until it holds every one of `wanted`; the timeline part of the
/// page in the panic message if it never does.
pub async fn page_shows(
    console: &Console,
    http: &reqwest::Client,
    path: &str,
    wanted: &[&str],
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let html = console.page(http, path).await;
        let missing: Vec<&&str> = wanted.iter().filter(|w| !html.contains(**w)).collect();
        if missing.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let at = html.find("Saga timeline").unwrap_or(0);
            let part: String = html[at..].chars().take(6000).collect();
            panic!("{path} never showed {missing:?}; its timeline:\n{part}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// An operator's command, posted as the order page's form posts it; the status and body.
pub async fn command(
    console: &Console,
    http: &reqwest::Client,
    csrf: &str,
    order_id: &str,
    action: &str,
    step: Option<(&str, &str)>,
    reason: &str,
) -> (u16, String) {
    let mut form = vec![
        ("order_id", order_id),
        ("action", action),
        ("reason", reason),
        ("csrf", csrf),
    ];
    if let Some((step, phase)) = step {
        form.push(("step", step));
        form.push(("phase", phase));
    }
    let resp = http
        .post(console.url("/api/ops/orders/command"))
        .header("accept", "application/json")
        .form(&form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// One scalar from `sql` with `$1` bound to `arg`.
pub async fn scalar(db: &TestDb, sql: &str, arg: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .bind(arg)
        .fetch_one(&db.pool)
        .await
        .unwrap_or(0)
}

/// The fleet's state of an order's saga.
pub async fn saga_state(db: &TestDb, order_id: &str) -> String {
    sqlx::query_scalar("SELECT state FROM fleet.sagas WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(&db.pool)
        .await
        .unwrap()
        .unwrap_or_default()
}

/// The fleet's answer to a command as ingested by the console: (status, detail), once the
/// answer event is stored.
pub async fn answer(db: &TestDb, command_id: &str) -> Option<(String, String)> {
    sqlx::query_as(
        "SELECT payload->>'status', payload->>'detail' FROM events
         WHERE event_type = 'saga.command' AND payload->>'command_id' = $1
           AND payload->>'status' IN ('applied', 'rejected') LIMIT 1",
    )
    .bind(command_id)
    .fetch_optional(&db.pool)
    .await
    .unwrap()
}

/// Every command was answered once: one row in the fleet's `saga_commands` per command,
/// and one answer event id per command among the events the console stored (an answer
/// given again after a crash is the same event).
pub async fn answered_once(db: &TestDb, command_ids: &[String]) {
    for id in command_ids {
        assert_eq!(
            scalar(
                db,
                "SELECT count(*) FROM fleet.saga_commands WHERE command_id = $1::uuid",
                id
            )
            .await,
            1,
            "command {id} recorded once by the order service"
        );
        assert_eq!(
            scalar(
                db,
                "SELECT count(DISTINCT event_id) FROM events WHERE event_type = 'saga.command'
                   AND payload->>'command_id' = $1 AND payload->>'status' IN ('applied', 'rejected')",
                id
            )
            .await,
            1,
            "command {id} answered once"
        );
    }
}

/// The command id in a command's JSON answer from the console.
pub fn command_id(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{body}"));
    v["command_id"].as_str().expect("a command id").to_string()
}

/// Orders started from the test, as the order service starts them (stored with their saga,
/// announced; orchestrated: the first step asked), in `mode`; the order ids.
pub async fn start_orders(
    pool: &sqlx::PgPool,
    broker: &Broker,
    mode: switchyard_fleet::runtime::Mode,
    n: usize,
) -> Vec<String> {
    let fleet = switchyard_fleet::runtime::Fleet::new(
        pool.clone(),
        broker.renewing_producer(),
        &broker.bootstrap,
        switchyard_fleet::breaker::Config::default(),
        mode,
    );
    let mut orders = Vec::with_capacity(n);
    for _ in 0..n {
        orders.push(fleet.start_order().await.unwrap());
    }
    orders
}
