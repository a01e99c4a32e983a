//! Single sign-on against a real OpenID Connect provider (panva's `oidc-provider`, run by
//! the test from `end2end/oidc-provider/`): the whole code + PKCE flow through the real
//! console, the role mapped from the provider's groups, and the failures a relying party
//! must catch — a wrong state, a token for another audience, an expired token — each
//! refused with one line naming it.

mod common;

use common::{add_user, free_port, Console, TestDb};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use switchyard_app::admin::AuditLog;

const SECRET: &str = "console-client-secret";

/// The provider, killed on drop.
struct Provider {
    issuer: String,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn provider_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end/oidc-provider")
}

/// Starts the provider for a console on `console_port`, with `extra` environment.
fn provider(console_port: u16, extra: &[(&str, &str)]) -> Provider {
    let clients = json!([{
        "client_id": "switchyard",
        "client_secret": SECRET,
        "redirect_uris": [format!("http://127.0.0.1:{console_port}/auth/oidc/callback")],
    }]);
    let users = json!({
        "alice": { "password": "alice-pw", "email": "alice@example.com", "groups": ["ops-admins", "staff"] },
        "bob": { "password": "bob-pw", "email": "bob@example.com", "groups": ["staff"] },
        "carol": { "password": "carol-pw", "email": "carol@example.com", "groups": ["contractors"] },
        "ada": { "password": "ada-pw", "email": "ada@example.com", "groups": ["ops-admins"] },
    });
    let mut cmd = Command::new("node");
    cmd.arg("provider.mjs")
        .current_dir(provider_dir())
        .env("OIDC_PORT", "0")
        .env("OIDC_CLIENTS", clients.to_string())
        .env("OIDC_USERS", users.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .expect("node runs the OIDC provider (make test installs it)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let issuer = line
        .trim()
        .strip_prefix("OIDC provider ready: ")
        .unwrap_or_else(|| panic!("provider did not start: {line:?}"))
        .to_string();
    Provider { issuer, child }
}

/// A console using `p` for single sign-on on `port`.
async fn console(db: &TestDb, port: u16, p: &Provider, extra: &[(&str, &str)]) -> Console {
    let public = format!("http://127.0.0.1:{port}");
    let mut env = vec![
        ("SWITCHYARD_PUBLIC_URL", public.as_str()),
        ("SWITCHYARD_OIDC_ISSUER", p.issuer.as_str()),
        ("SWITCHYARD_OIDC_CLIENT_ID", "switchyard"),
        ("SWITCHYARD_OIDC_CLIENT_SECRET", SECRET),
        ("SWITCHYARD_OIDC_ADMIN_GROUPS", "ops-admins"),
        ("SWITCHYARD_OIDC_VIEWER_GROUPS", "staff"),
        ("SWITCHYARD_OIDC_NAME_CLAIMS", "preferred_username,sub"),
    ];
    env.extend_from_slice(extra);
    Console::start_at(port, &db.url, None, &env).await
}

/// A provider (with `provider_env`) and a console using it (with `console_env`).
async fn pair(
    db: &TestDb,
    provider_env: &[(&str, &str)],
    console_env: &[(&str, &str)],
) -> (Provider, Console) {
    let port = free_port();
    let p = provider(port, provider_env);
    let c = console(db, port, &p, console_env).await;
    (p, c)
}

/// Goes from the console's start URL through the provider's login form with `user` and
/// `password`, up to (not into) the console's callback; returns the callback URL.
async fn to_callback(c: &Console, http: &reqwest::Client, user: &str, password: &str) -> String {
    let mut url = c.url("/auth/oidc/start?next=/orders");
    for _ in 0..20 {
        if url.contains("/auth/oidc/callback") {
            return url;
        }
        let resp = http.get(&url).send().await.unwrap();
        let resp = if resp.status() == 200 {
            let page_url = resp.url().clone();
            let html = resp.text().await.unwrap();
            let action = html
                .split("action=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_else(|| panic!("a login form at {page_url}: {html}"));
            let action = page_url.join(&action.replace("&amp;", "&")).unwrap();
            http.post(action)
                .form(&[("login", user), ("password", password)])
                .send()
                .await
                .unwrap()
        } else {
            resp
        };
        assert!(
            resp.status().is_redirection(),
            "{} at {}",
            resp.status(),
            resp.url()
        );
        let location = resp.headers()["location"].to_str().unwrap();
        url = resp.url().join(location).unwrap().to_string();
    }
    panic!("no callback after 20 steps");
}

async fn finish(http: &reqwest::Client, callback: &str) -> reqwest::Response {
    http.get(callback).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_through_the_provider_with_the_mapped_role() {
    let db = TestDb::new().await;
    let (_p, c) = pair(&db, &[], &[]).await;
    // The login page offers single sign-on.
    let page = reqwest::get(c.url("/login"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-testid=\"sso\""), "{page}");

    let alice = Console::client();
    let cb = to_callback(&c, &alice, "alice", "alice-pw").await;
    let r = finish(&alice, &cb).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(r.headers()["location"], "/orders");
    let audit = |http: &reqwest::Client| {
        http.get(c.url(AuditLog::PATH))
            .query(&[("filter[actor]", "alice")])
            .send()
    };
    assert_eq!(audit(&alice).await.unwrap().status(), 200, "admin by group");
    let (role, origin): (String, String) =
        sqlx::query_as("SELECT role, origin FROM users WHERE name = 'alice'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((role.as_str(), origin.as_str()), ("admin", "oidc"));

    let bob = Console::client();
    let cb = to_callback(&c, &bob, "bob", "bob-pw").await;
    assert_eq!(finish(&bob, &cb).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        bob.get(c.url("/orders")).send().await.unwrap().status(),
        200
    );
    let r = audit(&bob).await.unwrap();
    assert!(!r.status().is_success(), "viewer by group");
    assert!(r.text().await.unwrap().contains("forbidden"));

    // Unmapped groups: refused, one line naming why; no user created.
    let carol = Console::client();
    let cb = to_callback(&c, &carol, "carol", "carol-pw").await;
    let r = finish(&carol, &cb).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("carol has no groups mapped"));
    assert_eq!(
        db.count("SELECT count(*) FROM users WHERE name = 'carol'")
            .await,
        0
    );

    // Sign-out ends the local session.
    let csrf = c.csrf(&alice).await;
    alice
        .post(c.url("/auth/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let r = alice.get(c.url("/orders")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_state_and_a_local_name_are_refused() {
    let db = TestDb::new().await;
    let (_p, c) = pair(&db, &[], &[]).await;
    let http = Console::client();
    let cb = to_callback(&c, &http, "bob", "bob-pw").await;
    let forged = cb.replace("state=", "state=x");
    let r = finish(&http, &forged).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("state does not match"));
    // A callback in a browser that never started a sign-in.
    let r = finish(&Console::client(), &cb).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("started in another browser"));

    // The provider's "ada" cannot take over the local admin "ada".
    add_user(&db.url, "ada", "viewer", "a-local-password-1");
    let http = Console::client();
    let cb = to_callback(&c, &http, "ada", "ada-pw").await;
    let r = finish(&http, &cb).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("ada is a local user here"));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_audience_or_expired_is_refused() {
    let db = TestDb::new().await;
    for (knob, value, said) in [
        ("OIDC_WRONG_AUDIENCE", "1", "audience"),
        ("OIDC_ID_TOKEN_TTL", "-60", "expired"),
    ] {
        let (_p, c) = pair(&db, &[(knob, value)], &[]).await;
        let http = Console::client();
        let cb = to_callback(&c, &http, "alice", "alice-pw").await;
        let r = finish(&http, &cb).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{knob}");
        let text = r.text().await.unwrap().to_lowercase();
        assert!(
            text.contains("id token was refused") && text.contains(said),
            "{knob}: {text}"
        );
        assert_eq!(
            http.get(c.url("/orders")).send().await.unwrap().status(),
            401
        );
    }
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_passwords_can_be_switched_off() {
    let db = TestDb::new().await;
    let (_p, c) = pair(&db, &[], &[("SWITCHYARD_LOCAL_PASSWORDS", "false")]).await;
    add_user(&db.url, "vera", "admin", "correct-horse-battery");
    let page = reqwest::get(c.url("/login"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("name=\"password\""), "no password form");
    assert!(page.contains("data-testid=\"sso\""));
    // Even the right password, posted by hand, does not sign in.
    let http = Console::client();
    let page = http.get(c.url("/login")).send().await.unwrap();
    let _ = page.text().await;
    let cookie_token = "0".repeat(64);
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(c.url("/auth/login"))
        .header("cookie", format!("switchyard_login_csrf={cookie_token}"))
        .form(&[
            ("csrf", cookie_token.as_str()),
            ("name", "vera"),
            ("password", "correct-horse-battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    db.drop_db().await;
}
