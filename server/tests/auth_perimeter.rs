//! The security perimeter, attacked from outside over HTTP against a real console process
//! and PostgreSQL: every route denies the unauthenticated, every write denies a viewer,
//! CSRF, session fixation, expiry, login rate limits, the kill-switch, security headers,
//! generic login errors, SQL injection through filters, and the append-only audit log.

mod common;

use common::{add_user, csrf_in, Console, TestDb};
use leptos::server_fn::ServerFn;
use reqwest::{Method, StatusCode};
use std::time::Duration;
use switchyard::auth::policy::{access, Access};
use switchyard_app::admin::{AuditLog, SetFault, SetWritesEnabled};
use switchyard_app::auth::Role;

const PW: &str = "correct-horse-battery";

/// A concrete path for a route pattern (`:id` → `x`, `*rest` → `x`).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with(':') || seg.starts_with('*') {
                "x"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn send(
    http: &reqwest::Client,
    c: &Console,
    m: &Method,
    path: &str,
    csrf: Option<&str>,
) -> reqwest::Response {
    let mut req = http.request(m.clone(), c.url(path));
    if *m != Method::GET && *m != Method::HEAD {
        let mut form = vec![("x", "1".to_string())];
        if let Some(t) = csrf {
            form.push(("csrf", t.to_string()));
        }
        req = req.form(&form);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_denies_strangers_and_every_write_denies_viewers() {
    let db = TestDb::new().await;
    let console = Console::start(&db.url, None, &[]).await;
    add_user(&db.url, "vera", "viewer", PW);
    let (viewer, viewer_csrf) = console.login("vera", PW).await;
    let stranger = Console::client();

    let routes = switchyard::http::inventory();
    let writes: Vec<_> = routes.iter().filter(|(m, _)| *m != Method::GET).collect();
    assert!(
        routes.iter().any(|(_, p)| p == "/admin"),
        "pages listed: {routes:?}"
    );
    assert!(routes.iter().any(|(_, p)| p == "/api/live"));
    assert!(
        writes.iter().any(|(_, p)| p == SetWritesEnabled::PATH),
        "server functions listed: {routes:?}"
    );

    let mut checked = 0;
    for (method, pattern) in &routes {
        let path = concrete(pattern);
        let rule = access(method, &path);
        if rule == Access::Public {
            continue;
        }
        let resp = send(&stranger, &console, method, &path, None).await;
        assert!(
            resp.status() == StatusCode::UNAUTHORIZED
                || (resp.status() == StatusCode::SEE_OTHER
                    && resp.headers()["location"]
                        .to_str()
                        .unwrap()
                        .starts_with("/login")),
            "{method} {path} let a stranger through: {}",
            resp.status()
        );
        let viewer_may = matches!(
            rule,
            Access::Write {
                role: Role::Viewer,
                ..
            }
        );
        if *method != Method::GET && !viewer_may {
            let resp = send(&viewer, &console, method, &path, Some(&viewer_csrf)).await;
            assert_eq!(
                resp.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} let a viewer write"
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} routes checked");

    // The forged login form (no token) is refused too.
    let resp = stranger
        .post(console.url("/auth/login"))
        .form(&[("name", "vera"), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    drop(console);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_fixation_kill_switch_headers_and_injection() {
    let db = TestDb::new().await;
    let console = Console::start(&db.url, None, &[]).await;
    add_user(&db.url, "ada", "admin", PW);
    add_user(&db.url, "otto", "operator", PW);

    // Session fixation: no session exists before sign-in (the form's token is a cookie of
    // its own), and an id planted in the browser is replaced at sign-in and worthless.
    let http = Console::client();
    let before = http.get(console.url("/login")).send().await.unwrap();
    assert!(cookie(&before).is_none(), "no session before sign-in");
    let login_cookie = before
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| {
            v.to_str()
                .ok()?
                .strip_prefix("switchyard_login_csrf=")
                .map(|r| r.split(';').next().unwrap().to_string())
        })
        .expect("the form's token cookie");
    let html = before.text().await.unwrap();
    let token = csrf_in(&html).unwrap();
    let planted = "AAAAAAAAAAAAAAAAAAAAAA".to_string();
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(console.url("/auth/login"))
        .header(
            "cookie",
            format!("switchyard_session={planted}; switchyard_login_csrf={login_cookie}"),
        )
        .form(&[
            ("csrf", token.as_str()),
            ("name", "ada"),
            ("password", PW),
            ("next", "/admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/admin");
    let rotated = cookie(&resp).expect("login sets a new session cookie");
    assert_ne!(planted, rotated, "session id must rotate at login");
    let set_cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        set_cookie.contains("httponly") && set_cookie.contains("samesite=strict"),
        "{set_cookie}"
    );
    let with_planted = reqwest::Client::new()
        .get(console.url("/orders"))
        .header("cookie", format!("switchyard_session={planted}"))
        .send()
        .await
        .unwrap();
    assert_eq!(with_planted.status(), StatusCode::UNAUTHORIZED);
    let (http, admin_csrf) = console.login("ada", PW).await;

    // CSRF: missing or wrong token → refused, right token → accepted.
    let path = SetWritesEnabled::PATH;
    let post = |form: Vec<(&'static str, String)>| http.post(console.url(path)).form(&form).send();
    let r = post(vec![("enabled", "false".into())]).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "missing token");
    let r = post(vec![("enabled", "false".into()), ("csrf", "0".repeat(64))])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "wrong token");
    let r = http
        .post(console.url(path))
        .header("x-csrf-token", "nope")
        .form(&[("enabled", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "wrong header token");
    assert_eq!(
        db.count("SELECT count(*) FROM settings WHERE value = 'false'::jsonb")
            .await,
        0
    );

    // Kill-switch: off → an operator's write is refused; the admin turns it back on.
    let r = post(vec![
        ("enabled", "false".into()),
        ("csrf", admin_csrf.clone()),
    ])
    .await
    .unwrap();
    assert!(r.status().is_success(), "kill-switch: {}", r.status());
    let (op, op_csrf) = console.login("otto", PW).await;
    let page = op
        .get(console.url("/orders"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Writes are switched off"), "the banner shows");
    let r = op
        .post(console.url("/api/ops/dlq/replay"))
        .form(&[("csrf", op_csrf.as_str()), ("id", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "replay while writes are off"
    );
    let r = http
        .post(console.url(SetFault::PATH))
        .form(&[
            ("csrf", admin_csrf.as_str()),
            ("name", "latency_ms"),
            ("value", "5"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "admin writes stop too"
    );
    let r = post(vec![
        ("enabled", "true".into()),
        ("csrf", admin_csrf.clone()),
    ])
    .await
    .unwrap();
    assert!(r.status().is_success());
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        actions.iter().filter(|a| *a == "kill_switch").count(),
        2,
        "{actions:?}"
    );
    assert!(actions.contains(&"login".to_string()));

    // Security headers, and a CSP nonce that matches the page's scripts.
    let page = http.get(console.url("/orders")).send().await.unwrap();
    let h = page.headers().clone();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h.contains_key("referrer-policy"));
    let csp = h["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_string();
    let body = page.text().await.unwrap();
    assert!(
        body.contains(&format!("nonce=\"{nonce}\"")),
        "scripts carry the CSP nonce"
    );

    // SQL injection through the audit filters is inert.
    for evil in [
        "'; DROP TABLE users; --",
        "%' OR '1'='1",
        "\\",
        "ada' UNION SELECT 1--",
    ] {
        let r = http
            .get(console.url(AuditLog::PATH))
            .query(&[("filter[actor]", evil), ("filter[action]", evil)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{evil}");
        assert_eq!(r.text().await.unwrap(), "[]", "{evil} matched rows");
    }
    assert_eq!(db.count("SELECT count(*) FROM users").await, 2);

    // A viewer's GET of an admin server function is refused by the function itself.
    add_user(&db.url, "vera", "viewer", PW);
    let (viewer, _) = console.login("vera", PW).await;
    let r = viewer
        .get(console.url(AuditLog::PATH))
        .query(&[("filter[actor]", "ada")])
        .send()
        .await
        .unwrap();
    assert!(!r.status().is_success());
    let body = r.text().await.unwrap();
    assert!(body.contains("forbidden"), "{body}");

    // The audit log is append-only.
    assert!(sqlx::query("UPDATE audit_log SET actor = 'x'")
        .execute(&db.pool)
        .await
        .is_err());
    assert!(sqlx::query("DELETE FROM audit_log")
        .execute(&db.pool)
        .await
        .is_err());
    assert!(sqlx::query("TRUNCATE audit_log")
        .execute(&db.pool)
        .await
        .is_err());
    drop(console);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_errors_are_generic_rate_limited_and_sessions_expire() {
    let db = TestDb::new().await;
    let console = Console::start(
        &db.url,
        None,
        &[
            ("SWITCHYARD_LOGIN_ATTEMPTS", "3"),
            ("SWITCHYARD_LOGIN_WINDOW_SECS", "6"),
            ("SWITCHYARD_SESSION_IDLE_SECS", "2"),
        ],
    )
    .await;
    add_user(&db.url, "ada", "admin", PW);

    // Unknown account and wrong password read the same.
    let strip = |s: String| {
        s.lines()
            .filter(|l| !l.contains("name=\"csrf\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let http = Console::client();
    let unknown = console.submit_login(&http, "nobody", PW).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown = strip(unknown.text().await.unwrap());
    let http2 = Console::client();
    let wrong = console
        .submit_login(&http2, "ada", "wrong-password-x")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown, strip(wrong.text().await.unwrap()));

    // Two more attempts on "ada" use up the quota; then even the right password waits.
    for _ in 0..2 {
        let r = console
            .submit_login(&Console::client(), "ada", "wrong-password-x")
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = console.submit_login(&Console::client(), "ada", PW).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    // One attempt comes back every window / attempts = 2 s.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (http, _) = console.login("ada", PW).await;

    // Idle past the expiry → back to the login page.
    assert_eq!(
        http.get(console.url("/orders"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = http
        .get(console.url("/orders"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?next=%2Forders"));
    let failed = db
        .count("SELECT count(*) FROM audit_log WHERE action = 'login_failed'")
        .await;
    assert_eq!(failed, 4);
    drop(console);
    db.drop_db().await;
}

fn cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get_all("set-cookie").iter().find_map(|v| {
        let v = v.to_str().ok()?;
        v.strip_prefix("switchyard_session=")
            .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
    })
}
