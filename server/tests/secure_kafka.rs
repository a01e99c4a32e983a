//! The console against secured brokers, configured the way a team would configure it:
//! librdkafka properties from a file and `KAFKA_PROPERTY_*` variables (the password from a
//! file). Nisshi serves TLS (certificates made here with `openssl`), SASL SCRAM-SHA-256/512,
//! and both. For each, `switchyard ingest` stores an event and a dead letter and
//! `switchyard replay` puts the dead letter back on its original topic; and a wrong
//! password, an untrusted certificate and an unreachable broker each give one line naming
//! the cause, `/readyz` says not ready with it, and the console keeps serving pages.

mod common;

use common::{add_user, eventually, free_port, nisshi_bin, switchyard, TestDb};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use switchyard_contract::Envelope;

const USER: &str = "switchyard";
const PASSWORD: &str = "s3cret-Passw0rd";

/// A certificate authority, a server certificate for 127.0.0.1 signed by it, and a second
/// authority that signed nothing the broker presents.
struct Pki {
    ca: PathBuf,
    other_ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pki(dir: &Path) -> Pki {
    std::fs::create_dir_all(dir).unwrap();
    for (name, cn) in [("ca", "switchyard-test-ca"), ("other-ca", "somebody-else")] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-subj",
                &format!("/CN={cn}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-sha256",
            "-extfile",
            "server.ext",
        ],
    );
    Pki {
        ca: dir.join("ca.pem"),
        other_ca: dir.join("other-ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

/// A Nisshi broker with TLS and/or SCRAM, killed on drop.
struct SecureBroker {
    bootstrap: String,
    child: Child,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(what: &str) -> Dir {
            let d = std::env::temp_dir().join(format!("sy-{what}-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&d).unwrap();
            Dir(d)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn nisshi(dir: &Path, url: &str, extra: &[&str]) -> Child {
    Command::new(nisshi_bin())
        .current_dir(dir)
        .args([
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
        ])
        .args([
            "--cluster-id",
            "switchyard-test",
            "--group-initial-rebalance-delay",
            "0s",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nisshi (scripts/setup.sh test installs it)")
}

async fn wait_port(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nisshi did not start on {addr}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl SecureBroker {
    /// With `tls`, the listener takes TLS only; with `scram`, SQLite storage and
    /// `--authentication`, the user created (for both SCRAM mechanisms) by a plaintext,
    /// unauthenticated run on the same storage first (Nisshi's `user create` speaks only
    /// plaintext and is refused once authentication is on).
    async fn start(tls: Option<&Pki>, scram: bool) -> SecureBroker {
        let dir = tempdir::Dir::new("nisshi");
        let port = free_port();
        let bootstrap = format!("127.0.0.1:{port}");
        let url = format!("tcp://{bootstrap}");
        let storage = if scram {
            "sqlite://nisshi.db"
        } else {
            "memory://nisshi/"
        };
        if scram {
            let mut setup = nisshi(&dir.0, &url, &["--storage-engine", storage]);
            wait_port(&bootstrap).await;
            for mechanism in ["scram256", "scram512"] {
                let out = Command::new(nisshi_bin())
                    .args([
                        "user",
                        "create",
                        "--broker",
                        &url,
                        "--mechanism",
                        mechanism,
                        USER,
                        PASSWORD,
                    ])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "nisshi user create: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            setup.kill().unwrap();
            setup.wait().unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(&bootstrap).is_ok() {
                assert!(Instant::now() < deadline, "setup broker still listening");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let mut args: Vec<String> = vec!["--storage-engine".into(), storage.into()];
        if let Some(p) = tls {
            args.extend([
                "--cert".into(),
                p.cert.display().to_string(),
                "--key".into(),
                p.key.display().to_string(),
            ]);
        }
        if scram {
            args.push("--authentication".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = nisshi(&dir.0, &url, &args);
        wait_port(&bootstrap).await;
        SecureBroker {
            bootstrap,
            child,
            _dir: dir,
        }
    }
}

impl Drop for SecureBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The client properties for a broker, as (name, value).
fn properties(tls: Option<&Path>, scram: Option<(&str, &str)>) -> Vec<(String, String)> {
    let protocol = match (tls.is_some(), scram.is_some()) {
        (false, false) => "PLAINTEXT",
        (true, false) => "SSL",
        (false, true) => "SASL_PLAINTEXT",
        (true, true) => "SASL_SSL",
    };
    let mut p = vec![("security.protocol".to_string(), protocol.to_string())];
    if let Some(ca) = tls {
        p.push(("ssl.ca.location".into(), ca.display().to_string()));
    }
    if let Some((mechanism, password)) = scram {
        p.push(("sasl.mechanisms".into(), mechanism.into()));
        p.push(("sasl.username".into(), USER.into()));
        p.push(("sasl.password".into(), password.into()));
    }
    p
}

/// A client of the test's own (the test process reads no properties from its environment).
fn client(bootstrap: &str, props: &[(String, String)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    for (k, v) in props {
        c.set(k, v);
    }
    c
}

/// How the console is given the properties: the non-secret ones in a properties file,
/// the password through `KAFKA_PROPERTY_SASL_PASSWORD_FILE`.
fn console_env(dir: &Path, props: &[(String, String)]) -> Vec<(String, String)> {
    let mut file = String::from("# written by the test, as a team would\n");
    let mut env = Vec::new();
    for (k, v) in props {
        if k == "sasl.password" {
            let secret = dir.join("kafka-password");
            std::fs::write(&secret, format!("{v}\n")).unwrap();
            env.push((
                "KAFKA_PROPERTY_SASL_PASSWORD_FILE".to_string(),
                secret.display().to_string(),
            ));
        } else {
            file.push_str(&format!("{k}={v}\n"));
        }
    }
    let path = dir.join("client.properties");
    std::fs::write(&path, file).unwrap();
    env.push(("KAFKA_PROPERTIES_FILE".into(), path.display().to_string()));
    env
}

async fn create_topics(bootstrap: &str, props: &[(String, String)], topics: &[&str]) {
    let admin: AdminClient<DefaultClientContext> = client(bootstrap, props).create().unwrap();
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(1)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for r in admin
        .create_topics(&new, &opts)
        .await
        .expect("create topics")
    {
        r.expect("topic created");
    }
}

/// Every value on `topic` (one partition), from the beginning to its end.
fn values_on(bootstrap: &str, props: &[(String, String)], topic: &str) -> Vec<String> {
    let c: BaseConsumer = client(bootstrap, props)
        .set("group.id", format!("check-{}", uuid::Uuid::now_v7()))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let (low, high) = c
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while (out.len() as i64) < high - low {
        assert!(Instant::now() < deadline, "could not read {topic}");
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.unwrap();
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    out
}

const DEAD_VALUE: &str = r#"{"orderId":"SEC-1","amount":42}"#;

/// Ingest and a replay over the secured connection.
async fn ingest_and_replay(tls: bool, scram: Option<&str>) {
    let dir = tempdir::Dir::new("secure");
    let pki = tls.then(|| pki(&dir.0.join("pki")));
    let broker = SecureBroker::start(pki.as_ref(), scram.is_some()).await;
    let props = properties(
        pki.as_ref().map(|p| p.ca.as_path()),
        scram.map(|m| (m, PASSWORD)),
    );
    create_topics(
        &broker.bootstrap,
        &props,
        &["order.created", "orders.DLT", "orders"],
    )
    .await;

    let producer: FutureProducer = client(&broker.bootstrap, &props).create().unwrap();
    let env = Envelope::new(
        "order.created",
        "SEC-1",
        "test",
        serde_json::json!({"amount": 42}),
    );
    let body = serde_json::to_vec(&env).unwrap();
    producer
        .send(
            FutureRecord::to("order.created")
                .key("SEC-1")
                .payload(&body),
            Duration::from_secs(10),
        )
        .await
        .expect("produce the event over the secured connection");
    producer
        .send(
            FutureRecord::to("orders.DLT")
                .key("SEC-1")
                .payload(DEAD_VALUE)
                .headers(OwnedHeaders::new().insert(Header {
                    key: "kafka_dlt-original-topic",
                    value: Some("orders"),
                })),
            Duration::from_secs(10),
        )
        .await
        .expect("produce the dead letter");

    let db = TestDb::new().await;
    let mut ingest = switchyard()
        .arg("ingest")
        .env("DATABASE_URL", &db.url)
        .env("KAFKA_BROKERS", &broker.bootstrap)
        .env("KAFKA_SESSION_TIMEOUT_MS", "6000")
        .envs(console_env(&dir.0, &props))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    eventually(
        Duration::from_secs(60),
        "event and dead letter ingested",
        || async {
            db.count("SELECT count(*) FROM events").await == 1
                && db.count("SELECT count(*) FROM dead_letters").await == 1
        },
    )
    .await;
    let _ = ingest.kill();
    let _ = ingest.wait();
    let id = db.count("SELECT id FROM dead_letters").await;
    let out = switchyard()
        .args(["replay", &id.to_string()])
        .env("DATABASE_URL", &db.url)
        .env("KAFKA_BROKERS", &broker.bootstrap)
        .envs(console_env(&dir.0, &props))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(values_on(&broker.bootstrap, &props, "orders"), [DEAD_VALUE]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls() {
    ingest_and_replay(true, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_scram_sha_256() {
    ingest_and_replay(false, Some("SCRAM-SHA-256")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_scram_sha_512_and_tls() {
    ingest_and_replay(true, Some("SCRAM-SHA-512")).await;
}

/// `switchyard serve` with the given Kafka settings: after a while, its log says the cause
/// once (and nothing of librdkafka's own), `/readyz` is 503 naming it, a page still serves.
async fn fails_clearly(bootstrap: &str, props: &[(String, String)], cause: &str) {
    let dir = tempdir::Dir::new("fails");
    let db = TestDb::new().await;
    let port = free_port();
    let log = dir.0.join("console.log");
    let mut console = switchyard()
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("SWITCHYARD_ADDR", format!("127.0.0.1:{port}"))
        .env("KAFKA_BROKERS", bootstrap)
        .envs(console_env(&dir.0, props))
        .stdout(std::fs::File::create(&log).unwrap()) // where the logs go
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually(Duration::from_secs(60), "console up", || async {
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    // librdkafka retries for a while: long enough for many attempts (and floods).
    eventually(
        Duration::from_secs(30),
        "readyz names the cause",
        || async {
            let r = http.get(format!("{base}/readyz")).send().await.unwrap();
            let code = r.status();
            let body: serde_json::Value = r.json().await.unwrap();
            code == 503 && body["kafka"].as_str().is_some_and(|k| k.contains(cause))
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let login = http.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(login.status(), 200, "pages keep serving");
    // The admin page shows the connection, the properties with secrets masked, and the
    // problem in the same words.
    add_user(&db.url, "root", "admin", "admin-password-1");
    let (admin, _) = common::Console::at(&base)
        .login("root", "admin-password-1")
        .await;
    let page = admin
        .get(format!("{base}/admin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-testid=\"kafka\""), "{page}");
    assert!(page.contains(cause), "the admin page names the problem");
    let protocol = &props[0].1;
    assert!(page.contains(protocol.as_str()), "{protocol} shown");
    let _ = console.kill();
    let _ = console.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    let naming: Vec<&str> = text.lines().filter(|l| l.contains(cause)).collect();
    assert_eq!(naming.len(), 1, "one line naming {cause:?}:\n{text}");
    // No flood: librdkafka tried many times over these seconds; at most a couple of
    // other distinct lines about the Kafka client beside the cause.
    let kafka_lines = text
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("kafka"))
        .count();
    assert!(kafka_lines <= 3, "{kafka_lines} lines about Kafka:\n{text}");
    assert!(
        !text.contains("librdkafka:"),
        "librdkafka's raw lines are not shown:\n{text}"
    );
    for (k, v) in props {
        if k == "sasl.password" {
            assert!(
                !text.contains(v.as_str()),
                "the password never reaches the log"
            );
            assert!(!page.contains(v.as_str()), "nor a page");
            assert!(page.contains("******"), "it is shown masked");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_named() {
    let broker = SecureBroker::start(None, true).await;
    let props = properties(None, Some(("SCRAM-SHA-256", "not-the-password")));
    fails_clearly(&broker.bootstrap, &props, "SASL authentication failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_named() {
    let dir = tempdir::Dir::new("pki");
    let pki = pki(&dir.0);
    let broker = SecureBroker::start(Some(&pki), false).await;
    let props = properties(Some(&pki.other_ca), None);
    fails_clearly(&broker.bootstrap, &props, "certificate is not trusted").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_named() {
    let nobody = format!("127.0.0.1:{}", free_port());
    fails_clearly(&nobody, &properties(None, None), "cannot reach the broker").await;
}
