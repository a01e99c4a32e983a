//! A stop signal stops the console: `switchyard serve` on the embedded broker (what
//! `make demo` runs when no broker is configured) and on a real one exits within a bound
//! after SIGINT and after SIGTERM — also when its broker is gone —, without a flood of Kafka errors on the way out (the
//! clients close before the broker they talk to).

mod common;

use common::{eventually, free_port, switchyard, Broker, TestDb};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `serve`, waits until it is ready and ingest has its partitions, sends `signal`,
/// and returns how long it took to exit and what it logged.
async fn stop_with(
    signal: &str,
    brokers: Option<&str>,
    before_signal: impl FnOnce(),
) -> (Duration, String) {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("sy-stop-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("console.log");
    let port = free_port();
    let mut cmd = switchyard();
    cmd.arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("SWITCHYARD_ADDR", format!("127.0.0.1:{port}"))
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null());
    match brokers {
        Some(b) => cmd.env("KAFKA_BROKERS", b),
        None => cmd.env_remove("KAFKA_BROKERS"),
    };
    let mut child = cmd.spawn().unwrap();
    let http = reqwest::Client::new();
    eventually(Duration::from_secs(60), "console ready", || async {
        http.get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    eventually(Duration::from_secs(60), "partitions assigned", || async {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("partitions assigned"))
    })
    .await;
    before_signal();
    let sent = Instant::now();
    assert!(Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let took = loop {
        if child.try_wait().unwrap().is_some() {
            break sent.elapsed();
        }
        if sent.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!(
                "still running 30 s after {signal}:\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (took, text)
}

fn check(signal: &str, took: Duration, text: &str) {
    assert!(
        took < Duration::from_secs(15),
        "{signal}: stopped after {took:?}"
    );
    let errors = text.lines().filter(|l| l.contains("ERROR")).count();
    assert!(
        errors <= 1,
        "{signal}: {errors} error lines on the way out:\n{text}"
    );
    assert!(text.contains("ingest stopped"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_the_console_on_the_embedded_broker() {
    let (took, text) = stop_with("-INT", None, || ()).await;
    check("SIGINT", took, &text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_console_on_the_embedded_broker() {
    let (took, text) = stop_with("-TERM", None, || ()).await;
    check("SIGTERM", took, &text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_console_on_a_real_broker() {
    let broker = Broker::start().await;
    let (took, text) = stop_with("-TERM", Some(&broker.bootstrap), || ()).await;
    check("SIGTERM", took, &text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_console_whose_broker_is_gone() {
    let broker = Broker::start().await;
    let bootstrap = broker.bootstrap.clone();
    let (took, text) = stop_with("-TERM", Some(&bootstrap), move || drop(broker)).await;
    assert!(took < Duration::from_secs(15), "stopped after {took:?}");
    assert!(text.contains("ingest stopped"), "{text}");
}
