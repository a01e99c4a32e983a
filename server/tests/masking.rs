//! Masking, end to end: `switchyard serve` (the real binary) with a team's masking file,
//! on a broker where the team created its topics. An event, a Spring dead letter and an
//! unreadable record carrying a name, e-mail addresses, a card number, a phone number, a
//! password and credentials in headers reach the database masked wherever they are
//! readable; a viewer sees them masked on every page, in the assistant's answers and in
//! the live stream; searching for a masked value is refused; a replay still sends the
//! original bytes; only an admin with a reason sees the original, and the audit log says so.

mod common;

use common::dlq::{produce_with_headers, replays_on};
use common::{add_user, eventually, Broker, Console, TestDb};
use leptos::server_fn::ServerFn;
use serde_json::json;
use std::time::Duration;
use switchyard_app::dlq::server_fns::LoadDeadLetterPage;

/// What no viewer may ever see.
const SECRETS: &[&str] = &[
    "Jane Roe",
    "jane.roe@example.com",
    "4111 1111 1111 1111",
    "4111111111111111",
    "5555 5555 5555 4444",
    "10.0.0.7",
    "abcdefghij",
    "ann@example.org",
    "hunter2",
    "7946 0958",
];

fn assert_masked(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows {s:?}: {text}");
    }
}

const MASKING: &str = r#"
[[rule]]
topics = ["^shop\\..*"]
fields = ["/customer/name"]
headers = ["x-customer-ip"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masked_at_rest_masked_on_every_page_revealed_only_to_an_audited_admin() {
    let db = TestDb::new().await;
    let broker = Broker::start_bare().await;
    broker
        .create_topics(&["shop.orders", "shop.orders.DLT"], 1)
        .await;
    let dir = std::env::temp_dir().join(format!("switchyard-masking-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("masking.toml");
    std::fs::write(&rules, MASKING).unwrap();
    let console = Console::start(
        &db.url,
        Some(&broker.bootstrap),
        &[
            ("SWITCHYARD_MASKING", rules.to_str().unwrap()),
            ("SWITCHYARD_TOPICS", "contract,shop.orders"),
            ("SWITCHYARD_TOPIC_REFRESH_MS", "1000"),
            ("SWITCHYARD_ASSISTANT_BACKEND", "offline"),
            ("SWITCHYARD_EMBEDDING_MODEL", "/nonexistent"),
        ],
    )
    .await;

    // An order event in the contract's envelope on the team's topic.
    let event = json!({
        "id": "6f1c1c2e-4b7a-4f0e-9a51-3d3f4c1e2a10", "type": "order.created",
        "aggregate_id": "ORD-M1", "occurred_at": "2026-12-05T10:00:00Z",
        "source": "shop", "correlation_id": "corr-M1",
        "data": {"order_id": "ORD-M1", "customer_id": "globex", "total_cents": 1999, "currency": "USD",
                 "customer": {"name": "Jane Roe", "email": "jane.roe@example.com"},
                 "payment": {"card": "4111 1111 1111 1111"}}
    });
    produce_with_headers(
        &broker,
        "shop.orders",
        "ORD-M1",
        &serde_json::to_vec(&event).unwrap(),
        &[
            ("x-customer-ip", b"10.0.0.7"),
            ("authorization", b"Bearer abcdefghij"),
        ],
    )
    .await;
    // A Spring dead letter keyed by an e-mail address, with secrets in value and headers.
    let dead = br#"{"order_id":"ORD-M2","email":"ann@example.org","password":"hunter2","note":"call +44 20 7946 0958"}"#;
    produce_with_headers(
        &broker,
        "shop.orders.DLT",
        "ann@example.org",
        dead,
        &[
            ("kafka_dlt-original-topic", b"shop.orders"),
            (
                "kafka_dlt-exception-message",
                b"declined card 4111111111111111 for ann@example.org",
            ),
            ("x-customer-ip", b"10.0.0.7"),
        ],
    )
    .await;
    // A record nobody can read, holding a card number.
    produce_with_headers(
        &broker,
        "shop.orders",
        "x",
        b"not json: card 5555 5555 5555 4444",
        &[],
    )
    .await;
    eventually(Duration::from_secs(60), "every record stored", || async {
        db.count("SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM dead_letters) + (SELECT count(*) FROM quarantine)").await == 3
    })
    .await;

    // At rest: what is readable is masked; what a replay needs is kept.
    let (payload, headers): (String, String) =
        sqlx::query_as("SELECT payload::text, headers::text FROM events")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_masked("events.payload", &payload);
    assert_masked("events.headers", &headers);
    assert!(
        payload.contains(r#""email": "****""#) && payload.contains("****1111"),
        "{payload}"
    );
    let customer: Option<String> = sqlx::query_scalar("SELECT customer_id FROM orders")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        customer.as_deref(),
        Some("globex"),
        "projections still work"
    );
    let (message, raw): (Option<String>, Vec<u8>) =
        sqlx::query_as("SELECT exception_message, raw_value FROM dead_letters")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        message.as_deref(),
        Some("declined card ****1111 for ****@example.org")
    );
    assert_eq!(raw, dead, "the original bytes are kept for replay");

    let dl_id: i64 = sqlx::query_scalar("SELECT id FROM dead_letters")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    add_user(&db.url, "vera", "viewer", "viewer-password-1");
    add_user(&db.url, "olga", "operator", "operator-password-1");
    add_user(&db.url, "ada", "admin", "admin-password-1");
    let (viewer, viewer_csrf) = console.login("vera", "viewer-password-1").await;
    let get = |path: String| {
        let (http, url) = (viewer.clone(), console.url(&path));
        async move {
            let r = http.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            r.text().await.unwrap()
        }
    };
    // Every page a viewer has.
    for path in [
        "/".to_string(),
        "/orders".into(),
        "/orders/ORD-M1".into(),
        "/orders/ORD-M2".into(),
        "/dead-letters".into(),
        format!("/dead-letters/{dl_id}"),
        "/quarantine".into(),
    ] {
        assert_masked(&path, &get(path.clone()).await);
    }
    let detail = get(format!("/dead-letters/{dl_id}")).await;
    assert!(
        detail.contains("****@example.org"),
        "the domain stays: {detail}"
    );
    assert!(detail.contains("+****58"));
    assert!(get("/quarantine".into()).await.contains("****4444"));
    // Server functions answer the same.
    let list = get(LoadDeadLetterPage::PATH.into()).await;
    assert_masked("the list's server function", &list);
    assert!(list.contains("****@example.org"), "the key, masked: {list}");

    // The payload as search and the tools read it: decoded and masked, behind ingest.
    eventually(Duration::from_secs(30), "the dead letter read", || async {
        db.count("SELECT count(*) FROM dead_letters WHERE readable IS NOT NULL")
            .await
            == 1
    })
    .await;
    let readable: String = sqlx::query_scalar("SELECT readable FROM dead_letters")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_masked("dead_letters.readable", &readable);
    assert!(readable.contains("call +****58"), "{readable}");
    let search = |text: &'static str| {
        let (http, url) = (viewer.clone(), console.url(LoadDeadLetterPage::PATH));
        async move {
            http.get(url)
                .query(&[("filter[payload]", text)])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert!(
        search("+****58").await.contains("\"id\":"),
        "what is shown is found"
    );
    for hidden in ["hunter2", "7946 0958", "ann@"] {
        let found = search(hidden).await;
        assert!(
            found.contains("\"rows\":[]") || found.contains("masked values cannot be searched"),
            "{hidden} found: {found}"
        );
    }

    // Searching for a masked value is refused, not answered with nothing.
    for q in [
        ("filter[key]", "ann@example.org"),
        ("filter[error]", "4111111111111111"),
        ("filter[error]", "jane.roe@example.com"),
    ] {
        let r = viewer
            .get(console.url(LoadDeadLetterPage::PATH))
            .query(&[q])
            .send()
            .await
            .unwrap();
        let body = r.text().await.unwrap();
        assert!(
            body.contains("masked values cannot be searched"),
            "{q:?}: {body}"
        );
    }
    let searched = get("/dead-letters?key=ann%40example.org".into()).await;
    assert!(searched.contains("masked values cannot be searched"));

    // The assistant's tools read the masked store.
    for question in [
        "which dead letters are pending on shop.orders?",
        "show me the events of ORD-M1",
    ] {
        let r = viewer
            .post(console.url("/api/assistant/ask"))
            .form(&[("csrf", viewer_csrf.as_str()), ("question", question)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body = r.text().await.unwrap();
        assert_masked(question, &body);
        assert!(
            body.contains(r#""kind":"tool""#),
            "{question}: a tool ran: {body}"
        );
    }
    // What those tools hand a hosted model: the masked store, previews included.
    for (tool, args) in [
        ("event_lookup", json!({"order_id": "ORD-M1"})),
        ("dlq_summary", json!({})),
    ] {
        let out = switchyard::assistant::tools::run(&db.pool, tool, &args, chrono::Utc::now())
            .await
            .unwrap();
        let content = out.content.to_string();
        assert_masked(tool, &content);
        assert!(content.contains("****1111"), "{tool}: {content}");
    }

    // A replay sends the original bytes, byte for byte.
    let (operator, operator_csrf) = console.login("olga", "operator-password-1").await;
    let sent = operator
        .post(console.url("/api/ops/dlq/replay"))
        .header("accept", "application/json")
        .form(&[("id", dl_id.to_string()), ("csrf", operator_csrf.clone())])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let landed = replays_on(&broker, "shop.orders");
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].raw.as_deref(), Some(dead.as_slice()));

    // Reveal: not for a viewer or an operator, not without a reason; an admin with one
    // sees the original, and the audit log keeps who, which and why.
    let reveal = |http: reqwest::Client, csrf: String, reason: &'static str| {
        let url = console.url("/api/admin/reveal/dead-letter");
        async move {
            let r = http
                .post(url)
                .header("accept", "application/json")
                .form(&[
                    ("id", dl_id.to_string()),
                    ("reason", reason.to_string()),
                    ("csrf", csrf),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    for (who, http, csrf) in [
        ("viewer", viewer.clone(), viewer_csrf.clone()),
        ("operator", operator.clone(), operator_csrf.clone()),
    ] {
        let (status, body) = reveal(http, csrf, "curious").await;
        assert_eq!(status, 403, "{who}: {body}");
        assert_masked(who, &body);
    }
    let (admin, admin_csrf) = console.login("ada", "admin-password-1").await;
    let (status, body) = reveal(admin.clone(), admin_csrf.clone(), "  ").await;
    assert_ne!(status, 200);
    assert!(body.contains("a reveal needs a reason"), "{body}");
    assert_masked("a refused reveal", &body);
    let (status, body) = reveal(admin.clone(), admin_csrf.clone(), "GDPR request #12").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("hunter2") && body.contains("ann@example.org"),
        "{body}"
    );
    let audited: (String, String, serde_json::Value) = sqlx::query_as(
        "SELECT actor, target, detail FROM audit_log WHERE action = 'dead_letter.reveal'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (audited.0.as_str(), audited.1.as_str(), &audited.2["reason"]),
        (
            "ada",
            dl_id.to_string().as_str(),
            &json!("GDPR request #12")
        )
    );
    // The admin's pages are masked like everyone's: the original only through a reveal.
    let page = admin
        .get(console.url(&format!("/dead-letters/{dl_id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_masked("the admin's page", &page);
    assert!(
        page.contains("data-testid=\"reveal\""),
        "the admin has the reveal form"
    );

    drop(console);
    db.drop_db().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A masking file with a mistake stops the console before it connects anywhere, with one
/// line naming the file and the rule.
#[test]
fn a_broken_masking_file_is_refused_at_start_naming_the_rule() {
    let dir = std::env::temp_dir().join(format!("switchyard-masking-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("masking.toml");
    std::fs::write(&path, "[[rule]]\nfields = [\"customer.name\"]\n").unwrap();
    let err = common::serve_refuses_with("SWITCHYARD_MASKING", &path);
    assert!(
        err.contains("masking.toml") && err.contains("rule 1") && err.contains("JSON pointer"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
