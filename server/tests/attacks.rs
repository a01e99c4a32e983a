//! Issue 20's attack suite: each finding, as the request an attacker would make against a
//! real console process and PostgreSQL, and what holds. `SWITCHYARD_ATTACK_VOLUME` (the
//! long form, `make suite-attacks`) multiplies the volumes and prints what was tried.

mod assistant_support;
mod common;

use common::{add_user, csrf_in, switchyard, Console, TestDb};
use reqwest::StatusCode;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

const PW: &str = "correct-horse-battery";

/// How many times the suite's volumes are multiplied (1 in `make test`).
fn volume() -> usize {
    std::env::var("SWITCHYARD_ATTACK_VOLUME")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// A client with a cookie jar whose connections come from `ip` (any 127.x works on Linux).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// Posts the sign-in form (after fetching the page for its token) with `http`.
async fn sign_in(c: &Console, http: &reqwest::Client, name: &str, pw: &str) -> reqwest::Response {
    c.submit_login(http, name, pw).await
}

/// Sends raw bytes and returns what the server answered before closing (or `timeout`).
fn raw(c: &Console, bytes: &[u8], timeout: Duration) -> String {
    let addr = c.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Whether the server ends the streamed response `r` within `secs`.
async fn ends_within(r: reqwest::Response, secs: u64) -> bool {
    use futures::StreamExt;
    let mut body = r.bytes_stream();
    let drained = async {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(secs), drained)
        .await
        .is_ok()
}

async fn set_password(db_url: &str, name: &str, pw: &str) {
    let mut child = switchyard()
        .args(["user", "set", name, "--password-stdin"])
        .env("DATABASE_URL", db_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{pw}").unwrap();
    assert!(child.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_hammering_admin_does_not_lock_the_owner_out() {
    let db = TestDb::new().await;
    let c = Console::start(&db.url, None, &[("SWITCHYARD_LOGIN_ATTEMPTS", "3")]).await;
    add_user(&db.url, "admin", "admin", PW);
    let attacker = client_from("127.0.0.1");
    let tries = 40 * volume();
    let mut throttled = 0;
    for i in 0..tries {
        let r = sign_in(&c, &attacker, "admin", &format!("guess-{i}")).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().contains_key("retry-after"));
            throttled += 1;
        }
    }
    assert!(
        throttled >= tries - 12,
        "the attacker is slowed: {throttled} of {tries} refused"
    );
    // The attacker's own address is throttled even with the right password...
    let r = sign_in(&c, &attacker, "admin", PW).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...but the owner, from their own address, signs in at once.
    let owner = client_from("127.0.0.2");
    let r = sign_in(&c, &owner, "admin", PW).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the owner is not locked out"
    );
    println!("lockout: {tries} wrong passwords for admin from one address, {throttled} refused with 429; the owner signed in from another address");
    db.drop_db().await;
}

/// Behind a TLS proxy every client arrives from the proxy's address: with the proxy
/// trusted, limits key on the address it forwards, so one attacker behind it does not
/// throttle everyone else behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_limits_follow_the_forwarded_address() {
    let db = TestDb::new().await;
    let c = Console::start(
        &db.url,
        None,
        &[
            ("SWITCHYARD_LOGIN_ATTEMPTS", "3"),
            ("SWITCHYARD_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    add_user(&db.url, "admin", "admin", PW);
    let via_proxy = |client: &str| {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address("127.0.0.1".parse::<IpAddr>().unwrap())
            .default_headers(
                [(
                    reqwest::header::HeaderName::from_static("x-forwarded-for"),
                    client.parse().unwrap(),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .unwrap()
    };
    let attacker = via_proxy("203.0.113.5");
    let mut throttled = 0;
    for i in 0..20 {
        let r = sign_in(&c, &attacker, "admin", &format!("guess-{i}")).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
        }
    }
    assert!(
        throttled >= 15,
        "the attacker behind the proxy is slowed: {throttled}"
    );
    let owner = via_proxy("198.51.100.7");
    let r = sign_in(&c, &owner, "admin", PW).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the owner behind the same proxy gets in"
    );
    let source: String = sqlx::query_scalar(
        "SELECT source FROM audit_log WHERE action = 'login' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        source, "198.51.100.7",
        "audited under the forwarded address"
    );
    db.drop_db().await;
}

/// Many addresses, one wrong password each, drain the account's backstop: a fresh address
/// then waits even with the right password, while the owner's usual address still gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_guess_stops_at_the_backstop_but_not_the_owner() {
    let db = TestDb::new().await;
    let c = Console::start(&db.url, None, &[("SWITCHYARD_LOGIN_ATTEMPTS", "2")]).await;
    add_user(&db.url, "admin", "admin", PW);
    let owner = client_from("127.0.0.2");
    assert_eq!(
        sign_in(&c, &owner, "admin", PW).await.status(),
        StatusCode::SEE_OTHER
    );
    // The backstop is twenty attempts per account per window; the owner's sign-in took one.
    let mut refused = 0;
    for i in 10..35 {
        let bot = client_from(&format!("127.0.0.{i}"));
        if sign_in(&c, &bot, "admin", "guess").await.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused >= 5, "the backstop held the bots back: {refused}");
    let fresh = client_from("127.0.0.99");
    let r = sign_in(&c, &fresh, "admin", PW).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a new address waits"
    );
    assert!(r.headers().contains_key("retry-after"));
    let owner = client_from("127.0.0.2");
    let r = sign_in(&c, &owner, "admin", PW).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the owner's usual address gets in"
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_store_nothing_unbounded() {
    let db = TestDb::new().await;
    let c = Console::start(
        &db.url,
        None,
        &[
            ("SWITCHYARD_LOGIN_AUDIT_PER_MIN", "5"),
            ("SWITCHYARD_LOGIN_ATTEMPTS", "1000"),
        ],
    )
    .await;
    add_user(&db.url, "vera", "viewer", PW);
    let sessions = || db.count("SELECT count(*) FROM tower_sessions.session");
    let audits = || db.count("SELECT count(*) FROM audit_log WHERE action LIKE 'login%'");
    let (s0, a0) = (sessions().await, audits().await);

    let n = 200 * volume();
    let stranger = Console::client();
    for i in 0..n {
        let r = stranger.get(c.url("/login")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        // A made-up session cookie on a protected page: refused, and nothing stored.
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(c.url("/orders"))
            .header("cookie", format!("switchyard_session=forged{i}"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection() || r.status() == 401);
    }
    // A name of 15,000 characters is not even read (the form is capped); 5,000 are,
    // and the audit log keeps a capped copy within its budget.
    let r = sign_in(&c, &stranger, &"x".repeat(15_000), "nope").await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let long_name = "x".repeat(5_000);
    for _ in 0..20 * volume() {
        let r = sign_in(&c, &stranger, &long_name, "nope").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        sessions().await,
        s0,
        "no session row for anonymous requests"
    );
    let written = audits().await - a0;
    assert!(
        (1..=5 + 1).contains(&written),
        "failed sign-ins are audited within the budget: {written}"
    );
    let longest: i32 = sqlx::query_scalar(
        "SELECT max(greatest(length(actor), length(coalesce(target, '')))) FROM audit_log",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(longest <= 128, "audit fields are capped: {longest}");
    // A real sign-in creates exactly one session.
    let (_vera, _) = c.login("vera", PW).await;
    assert_eq!(sessions().await, s0 + 1);
    println!("storage: {n} anonymous page views and forged cookies, {} failed sign-ins with 5,000-character names (15,000: 413): 0 session rows, {written} audit rows (budget 5/min), longest field {longest}", 20 * volume());
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_greedy_clients_are_cut_off() {
    let db = TestDb::new().await;
    let c = Console::start(
        &db.url,
        None,
        &[
            ("SWITCHYARD_HEADER_READ_TIMEOUT_SECS", "2"),
            ("SWITCHYARD_MAX_HEADER_BYTES", "16384"),
            ("SWITCHYARD_MAX_BODY_BYTES", "65536"),
        ],
    )
    .await;
    // A head sent too slowly: the connection is closed after the timeout.
    let started = Instant::now();
    let answer = raw(
        &c,
        b"GET /login HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        Duration::from_secs(20),
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "closed after {took:?}: {answer:?}"
    );
    // A head too large: 431.
    let big = format!(
        "GET /login HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40_000)
    );
    let answer = raw(&c, big.as_bytes(), Duration::from_secs(10));
    assert_eq!(
        status_of(&answer),
        431,
        "{}",
        &answer[..answer.len().min(200)]
    );
    // A body too large: 413, before anything reads it.
    let http = reqwest::Client::new();
    let r = http
        .post(c.url("/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 200_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // 200 concurrent readiness probes (per round) all answer, and a signed-in page keeps
    // its usual time meanwhile.
    add_user(&db.url, "vera", "viewer", PW);
    let (vera, _) = c.login("vera", PW).await;
    let page_p95 = |n: usize| {
        let (vera, url) = (vera.clone(), c.url("/orders"));
        async move {
            let mut times = Vec::new();
            for _ in 0..n {
                let t = Instant::now();
                let r = vera.get(&url).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await;
                times.push(t.elapsed());
            }
            times.sort();
            times[(n * 95 / 100).min(n - 1)]
        }
    };
    let quiet = page_p95(20).await;
    // The same flood on `/healthz` (which does nothing) is the yardstick: what 200
    // connections cost this machine whatever they ask for.
    let mut flooded = [Duration::ZERO; 2];
    for _ in 0..volume() {
        for (i, path) in ["/healthz", "/readyz"].into_iter().enumerate() {
            // The flood runs on a runtime of its own (its own thread), so the page's timing
            // is the server's, not the test client's queue.
            let url = c.url(path);
            let flood = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let http = reqwest::Client::new();
                    let probes = (0..200).map(|_| async {
                        http.get(&url)
                            .send()
                            .await
                            .map(|r| r.status().as_u16())
                            .unwrap()
                    });
                    futures::future::join_all(probes).await
                })
            });
            flooded[i] = flooded[i].max(page_p95(20).await);
            for code in flood.join().unwrap() {
                assert!(code == 200 || code == 503, "{path}: {code}");
            }
        }
    }
    println!(
        "readyz: {n} probes in rounds of 200 concurrent; signed-in page p95 {quiet:?} quiet, {:?} during 200 concurrent /healthz (the yardstick), {:?} during 200 concurrent /readyz",
        flooded[0],
        flooded[1],
        n = 200 * volume()
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_statement_is_cancelled_by_the_pool_timeout() {
    let db = TestDb::new().await;
    let pool = switchyard::db::connect_with(&db.url, 2, 300).await.unwrap();
    let e = sqlx::query("SELECT pg_sleep(3)")
        .execute(&pool)
        .await
        .expect_err("cancelled");
    assert!(e.to_string().contains("statement timeout"), "{e}");
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_mean_one_thing_to_the_auth_layer_and_the_router() {
    let db = TestDb::new().await;
    let c = Console::start(&db.url, None, &[]).await;
    for path in [
        "/pkg/%2e%2e/admin",
        "/pkg/%2E%2E/admin",
        "/pkg/../admin",
        "/pkg/.%2e/dead-letters",
        "/pkg//admin",
    ] {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
        );
        let answer = raw(&c, req.as_bytes(), Duration::from_secs(10));
        assert_eq!(
            status_of(&answer),
            400,
            "{path}: {}",
            &answer[..answer.len().min(300)]
        );
        assert!(!answer.contains("<html"), "{path}: no page shell");
    }
    // Under the public prefixes only files answer: a missing one, or an encoded separator
    // reaching for a page, is a plain 404, never the application's shell.
    for path in [
        "/pkg/missing-admin.js",
        "/style/..%2fadmin",
        "/pkg/%2e%2e%2fadmin",
    ] {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
        );
        let answer = raw(&c, req.as_bytes(), Duration::from_secs(10));
        assert_eq!(status_of(&answer), 404, "{path}");
        assert!(!answer.contains("<html"), "{path}: no page shell");
    }
    // An order id holding a slash still opens its page (one segment, encoded).
    add_user(&db.url, "vera", "viewer", PW);
    let (vera, _) = c.login("vera", PW).await;
    let r = vera.get(c.url("/orders/ORD-a%2Fb")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_by_lifetime_and_password_change() {
    let db = TestDb::new().await;
    let c = Console::start(&db.url, None, &[("SWITCHYARD_SESSION_MAX_SECS", "3")]).await;
    add_user(&db.url, "vera", "viewer", PW);
    add_user(&db.url, "paul", "viewer", PW);
    let signed_out = |r: &reqwest::Response| r.status().is_redirection();
    // Absolute lifetime: busy or not, the session ends.
    let (vera, _) = c.login("vera", PW).await;
    for _ in 0..4 {
        let r = vera.get(c.url("/orders")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = vera
        .get(c.url("/orders"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(signed_out(&r), "ended after its lifetime: {}", r.status());
    // A password change ends the user's other sessions.
    let (paul1, _) = c.login("paul", PW).await;
    let (paul2, _) = c.login("paul", PW).await;
    set_password(&db.url, "paul", "another-horse-battery").await;
    for p in [&paul1, &paul2] {
        let r = p
            .get(c.url("/orders"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert!(
            signed_out(&r),
            "ended by the password change: {}",
            r.status()
        );
    }
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_streams_are_capped_and_end_with_the_session() {
    let db = TestDb::new().await;
    let c = Console::start(
        &db.url,
        None,
        &[
            ("SWITCHYARD_PUSH_STREAMS_PER_USER", "2"),
            ("SWITCHYARD_PUSH_SESSION_CHECK_SECS", "1"),
        ],
    )
    .await;
    add_user(&db.url, "vera", "viewer", PW);
    let (vera, csrf) = c.login("vera", PW).await;
    let open = || async { vera.get(c.url("/api/live")).send().await.unwrap() };
    let s1 = open().await;
    let s2 = open().await;
    assert_eq!((s1.status(), s2.status()), (StatusCode::OK, StatusCode::OK));
    let s3 = open().await;
    assert_eq!(s3.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(s3.headers().contains_key("retry-after"));
    // Sign out: both open streams end within a few seconds.
    let r = vera
        .post(c.url("/auth/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    for s in [s1, s2] {
        assert!(ends_within(s, 10).await, "the stream ended after sign-out");
    }
    // A disabled user's stream ends too.
    add_user(&db.url, "dora", "viewer", PW);
    let (dora, _) = c.login("dora", PW).await;
    let s = dora.get(c.url("/api/live")).send().await.unwrap();
    assert_eq!(s.status(), 200);
    let out = switchyard()
        .args(["user", "set", "dora", "--disable"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        ends_within(s, 10).await,
        "the stream ended after the disable"
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assistant_is_rate_limited_per_user() {
    let db = TestDb::new().await;
    let c = Console::start(&db.url, None, &[("SWITCHYARD_ASSISTANT_PER_MIN", "2")]).await;
    add_user(&db.url, "vera", "viewer", PW);
    add_user(&db.url, "paul", "viewer", PW);
    let (vera, csrf) = c.login("vera", PW).await;
    let ask = |http: &reqwest::Client, csrf: &str| {
        http.post(c.url("/api/assistant/ask"))
            .form(&[
                ("csrf", csrf),
                ("question", "how many orders failed today?"),
            ])
            .send()
    };
    for _ in 0..2 {
        let r = ask(&vera, &csrf).await.unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.text().await;
    }
    let r = ask(&vera, &csrf).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    // Another user is not affected.
    let (paul, paul_csrf) = c.login("paul", PW).await;
    assert_eq!(ask(&paul, &paul_csrf).await.unwrap().status(), 200);
    db.drop_db().await;
}

/// One user cannot keep more questions running than the in-flight limit (a hosted model
/// that takes its time); the next waits with 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assistant_limits_questions_in_flight() {
    use assistant_support::{anthropic_stream, FakeModel, Reply};
    let db = TestDb::new().await;
    let slow = Reply::sse(anthropic_stream("slowly", &[], 8)).after(Duration::from_secs(4));
    let fake = FakeModel::start(vec![slow.clone(), slow]).await;
    let c = Console::start(
        &db.url,
        None,
        &[
            ("SWITCHYARD_ASSISTANT_IN_FLIGHT", "1"),
            ("SWITCHYARD_ASSISTANT_BACKEND", "anthropic"),
            ("SWITCHYARD_ASSISTANT_URL", fake.url.as_str()),
            ("ANTHROPIC_API_KEY", "sk-test"),
        ],
    )
    .await;
    add_user(&db.url, "vera", "viewer", PW);
    let (vera, csrf) = c.login("vera", PW).await;
    let ask = || {
        vera.post(c.url("/api/assistant/ask"))
            .form(&[("csrf", csrf.as_str()), ("question", "why did ORD-1 fail?")])
            .send()
    };
    let first = ask().await.unwrap();
    assert_eq!(first.status(), 200);
    let second = ask().await.unwrap();
    assert_eq!(
        second.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "one in flight"
    );
    assert!(second.headers().contains_key("retry-after"));
    // The first answer ends; the slot is given back.
    let _ = first.text().await;
    let third = ask().await.unwrap();
    assert_eq!(third.status(), 200);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_public_url_makes_cookies_secure_and_sends_hsts() {
    let db = TestDb::new().await;
    let c = Console::start(
        &db.url,
        None,
        &[("SWITCHYARD_PUBLIC_URL", "https://console.example.com")],
    )
    .await;
    let r = reqwest::get(c.url("/login")).await.unwrap();
    assert!(r
        .headers()
        .get("strict-transport-security")
        .is_some_and(|v| v.to_str().unwrap().contains("max-age=")));
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("Secure"), "{cookie}");
    let html = r.text().await.unwrap();
    assert!(csrf_in(&html).is_some());
    // Behind a proxy that rewrites Host, the browser's Origin is the public URL: accepted;
    // any other origin is not.
    add_user(&db.url, "vera", "viewer", PW);
    for (origin, expected) in [
        ("https://console.example.com", StatusCode::SEE_OTHER),
        ("https://evil.example", StatusCode::FORBIDDEN),
    ] {
        let http = Console::client();
        let page = http.get(c.url("/login")).send().await.unwrap();
        let token = csrf_in(&page.text().await.unwrap()).unwrap();
        let r = http
            .post(c.url("/auth/login"))
            .header("origin", origin)
            .form(&[("csrf", token.as_str()), ("name", "vera"), ("password", PW)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected, "{origin}");
    }
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_error_text_does_not_reach_the_browser() {
    let db = TestDb::new().await;
    let c = Console::start(&db.url, None, &[]).await;
    add_user(&db.url, "vera", "viewer", PW);
    let (vera, _) = c.login("vera", PW).await;
    sqlx::query("ALTER TABLE orders RENAME TO orders_moved")
        .execute(&db.pool)
        .await
        .unwrap();
    let html = vera
        .get(c.url("/orders"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    if let Some(at) = html.find("does not exist") {
        panic!(
            "database text in the page: {}",
            &html[at.saturating_sub(300)..(at + 100).min(html.len())]
        );
    }
    assert!(
        !html.contains("relation \"") && !html.contains("relation &quot;"),
        "no database text in the page"
    );
    assert!(html.contains("reference"), "a reference to the log instead");
    sqlx::query("ALTER TABLE orders_moved RENAME TO orders")
        .execute(&db.pool)
        .await
        .unwrap();
    db.drop_db().await;
}
