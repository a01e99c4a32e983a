//! The assistant over HTTP in the real server, behind the real perimeter: the sidebar is on
//! every page, and the ask endpoint (a POST at a fixed path) answers a signed-in viewer with
//! a valid CSRF token as a stream of event lines, refusing anyone else.

mod common;

use common::{add_user, Console, TestDb};
use switchyard_app::assistant::{AssistantEvent, LineBuffer};

/// A fresh database holding one failed order, ORD-1042.
async fn db_with_failed_order() -> TestDb {
    let db = TestDb::new().await;
    sqlx::query(
        "INSERT INTO orders (order_id, status, status_at, updated_at, failure_reason)
         VALUES ('ORD-1042', 'failed', now(), now(), 'payment declined')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidebar_on_every_page_and_ask_streams_for_a_signed_in_viewer_with_csrf() {
    let db = db_with_failed_order().await;
    let server = Console::start(
        &db.url,
        None,
        &[
            ("SWITCHYARD_ASSISTANT_BACKEND", "offline"),
            ("SWITCHYARD_EMBEDDING_MODEL", "/nonexistent"),
        ],
    )
    .await;
    add_user(&db.url, "vera", "viewer", "viewer-password-1");

    // Without a session: refused by the perimeter before the server function runs.
    let anon = Console::client();
    let r = anon
        .post(server.url("/api/assistant/ask"))
        .form(&[("csrf", "x"), ("question", "which breakers are open?")])
        .send()
        .await
        .unwrap();
    assert!(!r.status().is_success(), "no session, no answer");

    let (http, csrf) = server.login("vera", "viewer-password-1").await;
    for page in ["/orders", "/quarantine", "/orders/ORD-1042"] {
        let html = http
            .get(server.url(page))
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
        assert!(!html.contains(" style="), "{page}: no inline styles (CSP)");
    }
    // A wrong CSRF token is refused.
    let r = http
        .post(server.url("/api/assistant/ask"))
        .form(&[("csrf", "wrong"), ("question", "why did ORD-1042 fail?")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(server.url("/api/assistant/ask"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("question", "why did ORD-1042 fail?"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let events = LineBuffer::default().push(&body);
    let AssistantEvent::Started {
        conversation,
        rule_based: true,
        ..
    } = &events[0]
    else {
        panic!("starts with Started: {body}")
    };
    assert!(events
        .iter()
        .any(|e| matches!(e, AssistantEvent::Citation(c) if c.href == "/orders/ORD-1042")));
    assert!(events
        .iter()
        .any(|e| matches!(e, AssistantEvent::Note { text } if text.starts_with("Rules only"))));
    assert_eq!(events.last(), Some(&AssistantEvent::Done));
    let audited: i64 = db
        .count("SELECT count(*) FROM audit_log WHERE action = 'assistant_tool' AND actor = 'vera'")
        .await;
    assert_eq!(audited, 1);
    let history = http
        .get(server.url(&format!(
            "/api/assistant/history?conversation={conversation}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), 200);
    assert!(history.text().await.unwrap().contains("payment declined"));
    drop(server);
    db.drop_db().await;
}

/// The real `ask` server function, called over HTTP as the sidebar calls it, with a signed-in
/// viewer in context (as the auth layer provides): the answer streams back as event lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_streams_event_lines_for_a_signed_in_viewer() {
    use axum::body::Body;
    use axum::extract::Request;
    use leptos::prelude::provide_context;
    use std::sync::Arc;
    use switchyard::assistant::{agent::Limits, offline::OfflineBackend, Assistant};
    use switchyard_app::assistant::SharedAssistant;
    use switchyard_app::auth::{Principal, Role};

    let db = db_with_failed_order().await;
    let assistant: SharedAssistant = Arc::new(Assistant::new(
        db.pool.clone(),
        Arc::new(OfflineBackend::rules_only("test")),
        Limits::default(),
    ));
    let principal = Principal {
        name: "vera".into(),
        role: Role::Viewer,
        source: "127.0.0.1".into(),
    };
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let (assistant, principal) = (assistant.clone(), principal.clone());
        async move {
            leptos_axum::handle_server_fns_with_context(
                move || {
                    provide_context(assistant.clone());
                    provide_context(principal.clone());
                },
                req,
            )
            .await
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let r = reqwest::Client::new()
        .post(format!("{base}/api/assistant/ask"))
        .form(&[("csrf", "t"), ("question", "why did ORD-1042 fail?")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let events = LineBuffer::default().push(&body);
    assert!(
        matches!(
            &events[0],
            AssistantEvent::Started {
                rule_based: true,
                ..
            }
        ),
        "{body}"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, AssistantEvent::Delta { text } if text.contains("payment declined"))));
    assert!(events
        .iter()
        .any(|e| matches!(e, AssistantEvent::Citation(c) if c.href == "/orders/ORD-1042")));
    assert_eq!(events.last(), Some(&AssistantEvent::Done));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'assistant_tool' AND actor = 'vera'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    db.drop_db().await;
}
