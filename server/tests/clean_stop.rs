//! A stop signal stops every long-running command — `switchyard serve`, `switchyard
//! ingest`, `switchyard-fleet run` — within the bound (10 s, `process::STOP_WITHIN`) and
//! by itself (exit status 0, not the bound's forced exit), after SIGINT and after SIGTERM,
//! in the three broker situations: the embedded broker (what `make demo` runs when no
//! broker is configured), a real broker, and a broker already gone. On the way out a few
//! lines, not a flood of Kafka errors. A second signal exits at once.

mod common;

use common::{eventually, free_port, switchyard, switchyard_fleet, Broker, Console, TestDb};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The bound every stop must keep (the processes' own default).
const BOUND: Duration = Duration::from_secs(10);

#[derive(Clone, Copy)]
enum Cmd {
    Serve,
    Ingest,
    Fleet,
}

/// Starts `cmd` logging to `log`, waits until it is at work (its consumers have their
/// partitions), and returns it.
async fn start(cmd: Cmd, db: &TestDb, brokers: Option<&str>, log: &Path) -> Child {
    let port = free_port();
    let mut c = match cmd {
        Cmd::Serve => {
            let mut c = switchyard();
            c.arg("serve")
                .env("SWITCHYARD_ADDR", format!("127.0.0.1:{port}"));
            c
        }
        Cmd::Ingest => {
            let mut c = switchyard();
            c.arg("ingest");
            c
        }
        Cmd::Fleet => {
            let mut c = switchyard_fleet();
            c.args(["run", "--rate", "5"]).env(
                "RUST_LOG",
                "warn,switchyard_fleet=info,switchyard_contract=info",
            );
            c
        }
    };
    c.env("DATABASE_URL", &db.url)
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap());
    match brokers {
        Some(b) => c.env("KAFKA_BROKERS", b),
        None => c.env_remove("KAFKA_BROKERS"),
    };
    let child = c.spawn().unwrap();
    let marker = match cmd {
        Cmd::Serve | Cmd::Ingest => "partitions assigned",
        Cmd::Fleet => "fleet running",
    };
    eventually(Duration::from_secs(60), marker, || async {
        std::fs::read_to_string(log).is_ok_and(|t| t.contains(marker))
    })
    .await;
    if matches!(cmd, Cmd::Fleet) {
        // Its services' consumers join their groups and orders start flowing.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    child
}

fn kill(signal: &str, child: &Child) {
    assert!(Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

/// Waits for `child` to exit (at most 30 s); its exit code and how long it took.
async fn exited(child: &mut Child, since: Instant, log: &Path) -> (Option<i32>, Duration) {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), since.elapsed());
        }
        if since.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!(
                "still running 30 s after the signal:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Runs `cmd`, does `before_signal` (say, stops the broker), sends `signal`, and checks
/// the stop: within the bound, by itself, quietly.
async fn stop(cmd: Cmd, signal: &str, broker: Option<Broker>, gone: bool) {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("sy-stop-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("out.log");
    let bootstrap = broker.as_ref().map(|b| b.bootstrap.clone());
    let mut child = start(cmd, &db, bootstrap.as_deref(), &log).await;
    let mut broker = broker;
    if gone {
        drop(broker.take());
        // Long enough for the clients to notice.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let before = std::fs::read_to_string(&log).unwrap().lines().count();
    let sent = Instant::now();
    kill(signal, &child);
    let (code, took) = exited(&mut child, sent, &log).await;
    let text = std::fs::read_to_string(&log).unwrap();
    let after: Vec<&str> = text.lines().skip(before).collect();
    let situation = match (&bootstrap, gone) {
        (None, _) => "embedded broker",
        (Some(_), false) => "real broker",
        (Some(_), true) => "broker gone",
    };
    let what = format!("{signal} on {situation}");
    assert!(
        took < BOUND,
        "{what}: stopped after {took:?}:\n{}",
        after.join("\n")
    );
    assert_eq!(
        code,
        Some(0),
        "{what}: exit {code:?} (1 is the bound's forced exit):\n{text}"
    );
    let errors = after.iter().filter(|l| l.contains("ERROR")).count();
    assert!(
        errors <= 1,
        "{what}: {errors} error lines on the way out:\n{}",
        after.join("\n")
    );
    assert!(
        after.len() <= 20,
        "{what}: {} lines on the way out:\n{}",
        after.len(),
        after.join("\n")
    );
    assert!(
        text.contains("stopping"),
        "{what}: the stop is said:\n{text}"
    );
    eprintln!("{what}: stopped in {took:?}, {} lines", after.len());
    let _ = std::fs::remove_dir_all(&dir);
    drop(broker);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_on_the_embedded_broker() {
    stop(Cmd::Serve, "-INT", None, false).await;
    stop(Cmd::Serve, "-TERM", None, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_on_a_real_broker() {
    stop(Cmd::Serve, "-TERM", Some(Broker::start().await), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_when_its_broker_is_gone() {
    stop(Cmd::Serve, "-INT", Some(Broker::start().await), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_stops_in_each_broker_situation() {
    stop(Cmd::Ingest, "-INT", None, false).await;
    stop(Cmd::Ingest, "-TERM", Some(Broker::start().await), false).await;
    stop(Cmd::Ingest, "-TERM", Some(Broker::start().await), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_stops_in_each_broker_situation() {
    stop(Cmd::Fleet, "-TERM", None, false).await;
    stop(Cmd::Fleet, "-INT", Some(Broker::start().await), false).await;
    stop(Cmd::Fleet, "-TERM", Some(Broker::start().await), true).await;
}

/// A second signal does not wait for anything: the process exits at once (130). The
/// first stop is made slow on purpose: an open push stream holds the console for its
/// grace (2 s) before it is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once() {
    let db = TestDb::new().await;
    common::add_user(&db.url, "ops", "viewer", "correct horse battery");
    let mut console = Console::start(&db.url, None, &[]).await;
    let (http, _) = console.login("ops", "correct horse battery").await;
    let stream = http.get(console.url("/api/live")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let child = console.child.as_mut().unwrap();
    kill("-TERM", child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = Instant::now();
    kill("-INT", child);
    let (code, took) = exited(child, second, Path::new("/dev/null")).await;
    assert_eq!(code, Some(130), "exit status after the second signal");
    assert!(
        took < Duration::from_secs(1),
        "exited {took:?} after the second signal"
    );
    drop(stream);
    db.drop_db().await;
}

/// A signal during start-up (migrations, connecting to the broker) is a stop like any
/// other, not the default action that kills the process: the handlers are installed first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_start_up_stops_cleanly() {
    let db = TestDb::new().await;
    let mut child = switchyard()
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("SWITCHYARD_ADDR", format!("127.0.0.1:{}", free_port()))
        .env_remove("KAFKA_BROKERS")
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let sent = Instant::now();
    kill("-TERM", &child);
    let (code, took) = exited(&mut child, sent, Path::new("/dev/null")).await;
    assert_eq!(code, Some(0), "exit status after a signal during start-up");
    assert!(took < BOUND, "stopped after {took:?}");
    db.drop_db().await;
}
