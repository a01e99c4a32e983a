//! Test harness: a fresh PostgreSQL database per test and a real Kafka-protocol broker per
//! test (Nisshi, started from the project's tool cache), plus helpers to run the real
//! `switchyard` binary as a child process.
//!
//! `DATABASE_URL` must point at a server where the user may create databases (`make test`
//! starts one). `NISSHI_BIN` overrides where the broker binary is found.
#![allow(dead_code)]

pub mod dlq;
pub mod saga;

use rdkafka::producer::FutureProducer;
use sqlx::PgPool;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestDb {
    pub url: String,
    pub pool: PgPool,
    name: String,
    admin_url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let admin_url = std::env::var("DATABASE_URL")
            .expect("DATABASE_URL must be set for integration tests (make test sets it)");
        TestDb::on(&admin_url).await
    }

    /// A fresh database on the server at `admin_url`.
    pub async fn on(admin_url: &str) -> TestDb {
        switchyard_contract::process::init_logging(switchyard_contract::process::LogFormat::Pretty);
        let admin_url = admin_url.to_string();
        let (url, name, pool) = switchyard::db::create_scratch(&admin_url, "sy_test")
            .await
            .expect("create test database");
        TestDb {
            url,
            pool,
            name,
            admin_url,
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Drops the database (call at the end of a passing test; failed ones keep theirs).
    pub async fn drop_db(self) {
        self.pool.close().await;
        let _ = switchyard::db::drop_scratch(&self.admin_url, &self.name).await;
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where `scripts/setup.sh test` put Nisshi (or `NISSHI_BIN`).
pub fn nisshi_bin() -> PathBuf {
    if let Ok(p) = std::env::var("NISSHI_BIN") {
        return p.into();
    }
    let cache = std::env::var("SWITCHYARD_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let home = std::env::var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache"));
            home.join("switchyard")
        });
    cache.join("tools/bin/nisshi")
}

/// A Nisshi broker (in-memory storage) on a free loopback port, killed on drop.
/// With `SWITCHYARD_TEST_BROKER=embedded`, librdkafka's in-process mock cluster instead
/// (quicker to have on a machine without Nisshi; `make test` always uses Nisshi).
/// [`Broker::start_persistent`] keeps the log in SQLite so [`Broker::restart`] loses nothing.
pub struct Broker {
    pub bootstrap: String,
    child: Option<Child>,
    /// Where a persistent broker keeps its SQLite file (its working directory).
    dir: Option<PathBuf>,
    _embedded: Option<switchyard_contract::kafka::embedded::EmbeddedBroker>,
}

/// Starts Nisshi on `port` (memory storage, or SQLite in `dir`) and waits for its port.
async fn spawn_nisshi(port: u16, dir: Option<&PathBuf>) -> Child {
    let bin = nisshi_bin();
    assert!(
        bin.exists(),
        "Nisshi not found at {} — run scripts/setup.sh test",
        bin.display()
    );
    let url = format!("tcp://127.0.0.1:{port}");
    let mut cmd = Command::new(&bin);
    cmd.args([
        "broker",
        "--listener-url",
        &url,
        "--advertised-listener-url",
        &url,
    ])
    .args(["--group-initial-rebalance-delay", "0s"])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    match dir {
        // A relative SQLite path is resolved against the working directory.
        Some(d) => cmd
            .current_dir(d)
            .args(["--storage-engine", "sqlite://kafka.db"]),
        None => cmd.args(["--storage-engine", "memory://nisshi/"]),
    };
    let child = cmd.spawn().expect("start nisshi");
    let bootstrap = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&bootstrap).is_err() {
        assert!(Instant::now() < deadline, "nisshi did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

impl Broker {
    pub async fn start() -> Broker {
        if let Some(b) = Broker::embedded(&switchyard_contract::all_topics(), 3) {
            return b;
        }
        Broker::started(None).await
    }

    /// The in-process mock broker, when `SWITCHYARD_TEST_BROKER=embedded` asks for it.
    fn embedded(topics: &[String], partitions: i32) -> Option<Broker> {
        if std::env::var("SWITCHYARD_TEST_BROKER").as_deref() != Ok("embedded") {
            return None;
        }
        let e = switchyard_contract::kafka::embedded::EmbeddedBroker::start(topics, partitions)
            .expect("embedded broker");
        Some(Broker {
            bootstrap: e.bootstrap_servers().to_string(),
            child: None,
            dir: None,
            _embedded: Some(e),
        })
    }

    /// A broker with no topics at all: a cluster the console did not create topics on.
    pub async fn start_bare() -> Broker {
        if let Some(b) = Broker::embedded(&[], 1) {
            return b;
        }
        let port = free_port();
        Broker {
            bootstrap: format!("127.0.0.1:{port}"),
            child: Some(spawn_nisshi(port, None).await),
            dir: None,
            _embedded: None,
        }
    }

    /// Creates topics the way a team's own tooling would (not through the console).
    pub async fn create_topics(&self, topics: &[&str], partitions: i32) {
        let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        switchyard_contract::kafka::topics::ensure(
            &self.bootstrap,
            &topics,
            switchyard_contract::kafka::topics::Creation::with_partitions(partitions),
        )
        .await
        .expect("create topics");
    }

    /// A broker whose log survives [`Broker::restart`] (SQLite storage in `dir`).
    pub async fn start_persistent(dir: PathBuf) -> Broker {
        std::fs::create_dir_all(&dir).unwrap();
        Broker::started(Some(dir)).await
    }

    async fn started(dir: Option<PathBuf>) -> Broker {
        let port = free_port();
        let child = spawn_nisshi(port, dir.as_ref()).await;
        let bootstrap = format!("127.0.0.1:{port}");
        switchyard_contract::kafka::topics::ensure(
            &bootstrap,
            &switchyard_contract::all_topics(),
            switchyard_contract::kafka::topics::Creation::with_partitions(3),
        )
        .await
        .expect("create topics");
        Broker {
            bootstrap,
            child: Some(child),
            dir,
            _embedded: None,
        }
    }

    /// kill -9 of the broker process, then the same broker again on the same port.
    pub async fn restart(&mut self, down_for: Duration) {
        let child = self.child.as_mut().expect("a Nisshi broker");
        child.kill().unwrap();
        child.wait().unwrap();
        tokio::time::sleep(down_for).await;
        let port: u16 = self.bootstrap.rsplit(':').next().unwrap().parse().unwrap();
        self.child = Some(spawn_nisshi(port, self.dir.as_ref()).await);
    }

    pub fn producer(&self) -> FutureProducer {
        switchyard_contract::kafka::producer(&self.bootstrap).unwrap()
    }

    /// A producer that replaces itself after a fatal error, as the fleet and replays use.
    pub fn renewing_producer(&self) -> switchyard_contract::kafka::renewing::RenewingProducer {
        switchyard_contract::kafka::renewing::RenewingProducer::new(&self.bootstrap).unwrap()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Settings for an in-process ingest in tests: every contract topic, small batches, a
/// short session timeout.
pub fn ingest_settings(
    broker: &Broker,
    db: &TestDb,
    group: &str,
) -> switchyard::ingest::consumer::IngestSettings {
    switchyard::ingest::consumer::IngestSettings {
        brokers: broker.bootstrap.clone(),
        database_url: db.url.clone(),
        group_id: group.to_string(),
        topics: switchyard::ingest::consumer::Topics::contract(),
        metadata_refresh_ms: 1000,
        log_check_secs: 2,
        log_policy: Default::default(),
        batch_max: 200,
        batch_wait: Duration::from_millis(10),
        session_timeout_ms: 6000,
        lanes: 2,
    }
}

/// The `switchyard` binary built for these tests.
pub fn switchyard() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    c.env("RUST_LOG", "warn,switchyard=info");
    c
}

/// The fleet's binary, `switchyard-fleet`, from the same target directory
/// (`cargo test --workspace` builds it; `make test` runs that).
/// `switchyard serve` with one configuration variable set, expected to refuse to start
/// before it connects anywhere: its stderr.
pub fn serve_refuses_with(var: &str, value: &std::path::Path) -> String {
    let out = switchyard()
        .arg("serve")
        .env(var, value)
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env_remove("KAFKA_BROKERS")
        .output()
        .unwrap();
    assert!(!out.status.success(), "serve started with a bad {var}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn switchyard_fleet() -> Command {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_switchyard")).with_file_name("switchyard-fleet");
    assert!(
        bin.exists(),
        "{} is not built: run the tests with `cargo test --workspace`",
        bin.display()
    );
    let mut c = Command::new(bin);
    c.env("RUST_LOG", "warn,switchyard_fleet=info");
    c
}

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if f().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates a console user through the real CLI (`switchyard user add --password-stdin`).
pub fn add_user(db_url: &str, name: &str, role: &str, password: &str) {
    use std::io::Write;
    let mut child = switchyard()
        .args(["user", "add", name, "--role", role, "--password-stdin"])
        .env("DATABASE_URL", db_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run switchyard user add");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    assert!(child.wait().unwrap().success(), "user add {name} failed");
}

/// A `switchyard serve` child process on a free port; killed on drop. (Or, from
/// [`Console::at`], only an address — a proxy in front of consoles — with no process.)
pub struct Console {
    pub base: String,
    pub child: Option<Child>,
}

impl Console {
    /// Starts the console against `db_url` (and `brokers`, or the embedded mock broker),
    /// with extra environment, and waits until it answers `/healthz`.
    pub async fn start(db_url: &str, brokers: Option<&str>, env: &[(&str, &str)]) -> Console {
        Console::start_at(free_port(), db_url, brokers, env).await
    }

    /// [`Console::start`] on a port chosen beforehand (its address must be known to others
    /// first, e.g. an identity provider's redirect URI).
    pub async fn start_at(
        port: u16,
        db_url: &str,
        brokers: Option<&str>,
        env: &[(&str, &str)],
    ) -> Console {
        let mut cmd = switchyard();
        cmd.arg("serve")
            .env("DATABASE_URL", db_url)
            .env("SWITCHYARD_ADDR", format!("127.0.0.1:{port}"))
            .env("KAFKA_SESSION_TIMEOUT_MS", "6000")
            .stdout(Stdio::null());
        match brokers {
            Some(b) => cmd.env("KAFKA_BROKERS", b),
            None => cmd.env_remove("KAFKA_BROKERS"),
        };
        for (k, v) in env {
            cmd.env(k, v);
        }
        let console = Console {
            base: format!("http://127.0.0.1:{port}"),
            child: Some(cmd.spawn().expect("start switchyard serve")),
        };
        let http = reqwest::Client::new();
        let url = console.url("/healthz");
        eventually(Duration::from_secs(60), "console up", || async {
            http.get(&url).send().await.is_ok_and(|r| r.status() == 200)
        })
        .await;
        console
    }

    /// An address to sign in at and request, served by something else (a proxy).
    pub fn at(base: &str) -> Console {
        Console {
            base: base.to_string(),
            child: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client with a cookie jar that does not follow redirects (tests look at them).
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Signs in through the login form and returns the client and its CSRF token.
    pub async fn login(&self, name: &str, password: &str) -> (reqwest::Client, String) {
        let http = Console::client();
        let resp = self.submit_login(&http, name, password).await;
        assert_eq!(resp.status(), 303, "login as {name} failed");
        let token = self.csrf(&http).await;
        (http, token)
    }

    /// GETs the login page with `http` and posts the form with its token.
    pub async fn submit_login(
        &self,
        http: &reqwest::Client,
        name: &str,
        password: &str,
    ) -> reqwest::Response {
        let page = http.get(self.url("/login")).send().await.unwrap();
        let token = csrf_in(&page.text().await.unwrap()).expect("login form token");
        http.post(self.url("/auth/login"))
            .form(&[
                ("csrf", token.as_str()),
                ("name", name),
                ("password", password),
                ("next", "/orders"),
            ])
            .send()
            .await
            .unwrap()
    }

    /// The session's CSRF token, read from a page's sign-out form.
    pub async fn csrf(&self, http: &reqwest::Client) -> String {
        let html = self.page(http, "/orders").await;
        csrf_in(&html).expect("a signed-in page carries the CSRF token")
    }

    /// A page's HTML, as `http`'s session sees it.
    pub async fn page(&self, http: &reqwest::Client, path: &str) -> String {
        http.get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The value of the first `csrf` hidden input in `html`.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\"")?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_string())
}

/// Records stored so far, from the stored positions (cheap to poll).
pub async fn consumed(db: &TestDb) -> i64 {
    db.count("SELECT COALESCE(sum(next_offset), 0)::int8 FROM consumer_positions")
        .await
}

/// Rows ingest made: events, dead letters and quarantined records.
pub async fn stored(db: &TestDb) -> i64 {
    db.count(
        "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM dead_letters)
              + (SELECT count(*) FROM quarantine)",
    )
    .await
}

/// Checks that exactly `total` records are stored, each once, with consistent projections.
pub async fn assert_exactly_once(db: &TestDb, total: usize) {
    assert_eq!(stored(db).await as usize, total, "stored records");
    assert_eq!(consumed(db).await as usize, total, "positions");
    assert_eq!(
        db.count("SELECT count(*) - count(DISTINCT event_id) FROM events")
            .await,
        0,
        "duplicate event ids"
    );
    // A crash or a restart is never taken for a log replaced or expired under ingest.
    assert_eq!(
        db.count("SELECT count(*) FROM log_incidents").await,
        0,
        "log incidents after a normal restart"
    );
    let problems = switchyard::ingest::verify::verify(&db.pool).await.unwrap();
    assert!(
        problems.is_empty(),
        "projections differ from a rebuild:\n{}",
        problems.join("\n")
    );
}
