//! The assistant over HTTP in the real server: the sidebar is on every page, and the ask
//! endpoint (a POST at a fixed path) refuses a caller without a session.

mod common;

use common::{eventually, free_port, switchyard, Broker, TestDb};
use std::process::Stdio;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidebar_on_every_page_and_ask_needs_a_session() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = switchyard()
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("KAFKA_BROKERS", &broker.bootstrap)
        .env("SWITCHYARD_ADDR", format!("127.0.0.1:{port}"))
        .env("SWITCHYARD_ASSISTANT_BACKEND", "offline")
        .env("SWITCHYARD_EMBEDDING_MODEL", "/nonexistent")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    eventually(Duration::from_secs(30), "server up", || async {
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    for page in ["/orders", "/quarantine", "/orders/ORD-NONE"] {
        let html = http
            .get(format!("{base}{page}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(r#"data-testid="assistant""#),
            "{page} lacks the sidebar"
        );
        assert!(html.contains(r#"data-testid="assistant-question""#));
        assert!(!html.contains("style="), "{page}: no inline styles (CSP)");
    }
    let r = http
        .post(format!("{base}/api/assistant/ask"))
        .form(&[("csrf", "x"), ("question", "which breakers are open?")])
        .send()
        .await
        .unwrap();
    assert!(!r.status().is_success(), "no session, no answer");
    let body = r.text().await.unwrap();
    assert!(body.contains("not signed in"), "{body}");
    let r = http
        .get(format!("{base}/api/assistant/history?conversation=x"))
        .send()
        .await
        .unwrap();
    assert!(!r.status().is_success());
    let _ = server.kill();
    let _ = server.wait();
    db.drop_db().await;
}
