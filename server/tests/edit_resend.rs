//! Edit and resend, end to end: `switchyard serve` against a real broker and PostgreSQL,
//! a Spring-style dead letter whose JSON payload holds a masked field. Over HTTP, as the
//! page's form posts it: an operator reviews the changes (values masked; a field left
//! showing its mask keeps its original value), sends the edited copy, and it lands on the
//! original topic with the edited payload and headers, recorded beside its replay and in
//! the audit log; bad JSON, a dead-letter topic as target, an edit that changes nothing,
//! a viewer, and a second send are refused.

mod common;

use common::dlq::{produce_with_headers, replays_on};
use common::{add_user, eventually, Broker, Console, TestDb};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_edits_a_dead_letter_and_the_fixed_copy_is_sent_once() {
    let db = TestDb::new().await;
    let broker = Broker::start_bare().await;
    broker.create_topics(&["payments", "payments.DLT"], 1).await;
    let console = Console::start(&db.url, Some(&broker.bootstrap), &[]).await;
    let original = json!({"orderId": "ORD-1", "amount": 12,
        "customer": {"email": "jane@example.com"}, "note": "retry me"});
    produce_with_headers(
        &broker,
        "payments.DLT",
        "ORD-1",
        &serde_json::to_vec(&original).unwrap(),
        &[
            ("kafka_dlt-original-topic", b"payments".as_slice()),
            (
                "kafka_dlt-exception-message",
                b"amount too small".as_slice(),
            ),
            ("x-tenant", b"acme".as_slice()),
        ],
    )
    .await;
    eventually(
        Duration::from_secs(60),
        "the dead letter stored",
        || async { db.count("SELECT count(*) FROM dead_letters").await == 1 },
    )
    .await;
    let dl: i64 = sqlx::query_scalar("SELECT id FROM dead_letters")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    add_user(&db.url, "olga", "operator", "operator-password-1");
    add_user(&db.url, "vera", "viewer", "viewer-password-1");
    let (http, csrf) = console.login("olga", "operator-password-1").await;

    // The form starts with the payload as the page shows it: masked.
    let page = console.page(&http, &format!("/dead-letters/{dl}")).await;
    assert!(page.contains("data-testid=\"edit-payload\""), "the form");
    assert!(!page.contains("jane@example.com"), "masked in the form too");
    let shown = json!({"orderId": "ORD-1", "amount": 12,
        "customer": {"email": "****"}, "note": "retry me"});

    let edit = |payload: String, extra: Vec<(&'static str, &'static str)>| {
        let mut form: Vec<(&str, String)> = vec![
            ("id", dl.to_string()),
            ("payload", payload),
            ("csrf", csrf.clone()),
        ];
        form.extend(extra.into_iter().map(|(k, v)| (k, v.to_string())));
        let (http, url) = (http.clone(), console.url("/api/ops/dlq/edit"));
        async move {
            let r = http
                .post(url)
                .header("accept", "application/json")
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };

    // Refusals, each in words.
    let (status, text) = edit(shown.to_string(), vec![]).await;
    assert!(
        status >= 400 && text.contains("nothing was changed"),
        "{status} {text}"
    );
    let (_, text) = edit("{\"amount\": 15,".into(), vec![]).await;
    assert!(text.contains("not JSON: line 1, column"), "{text}");
    let (_, text) = edit(shown.to_string(), vec![("topic", "payments.DLT")]).await;
    assert!(text.contains("is a dead-letter topic"), "{text}");
    let (_, text) = edit(shown.to_string(), vec![("remove_headers", "x-nope")]).await;
    assert!(text.contains("no header \"x-nope\""), "{text}");

    // Review: what changes, values masked; the untouched masked field is not a change.
    let mut fixed = shown.clone();
    fixed["amount"] = json!(15);
    let headers = vec![
        ("set_headers", "x-fixed-by: olga"),
        ("remove_headers", "X-Tenant"),
    ];
    let (status, text) = edit(fixed.to_string(), headers.clone()).await;
    assert_eq!(status, 200, "{text}");
    let review: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(review["sent"], Value::Null);
    assert_eq!(
        review["changes"],
        json!([
            "/amount: 12 → 15",
            "header removed: X-Tenant",
            "header set: x-fixed-by: olga"
        ])
    );
    assert!(
        replays_on(&broker, "payments").is_empty(),
        "a review sends nothing"
    );

    // A viewer may not.
    let (viewer, viewer_csrf) = console.login("vera", "viewer-password-1").await;
    let denied = viewer
        .post(console.url("/api/ops/dlq/edit"))
        .form(&[
            ("id", dl.to_string()),
            ("payload", fixed.to_string()),
            ("send", "1".into()),
            ("csrf", viewer_csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);

    // Send: the fixed copy lands once, with the original's masked field intact.
    let mut send = headers.clone();
    send.push(("send", "1"));
    let (status, text) = edit(fixed.to_string(), send.clone()).await;
    assert_eq!(status, 200, "{text}");
    let sent: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(sent["sent"]["outcome"], "sent", "{sent}");
    let landed = replays_on(&broker, "payments");
    assert_eq!(landed.len(), 1);
    let value: Value = serde_json::from_slice(landed[0].raw.as_deref().unwrap()).unwrap();
    let mut expected = original.clone();
    expected["amount"] = json!(15);
    assert_eq!(value, expected);
    assert_eq!(landed[0].header("x-fixed-by"), Some("olga"));
    assert_eq!(landed[0].header("x-tenant"), None);
    assert!(landed[0].header("x-replay-id").is_some());
    assert_eq!(landed[0].key.as_deref(), Some("ORD-1"));

    // Recorded beside the replay and audited, masked; shown on the page.
    let changes: Vec<String> = sqlx::query_scalar("SELECT changes FROM replay_edits")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(changes.len(), 3);
    let audited: (String, Value) =
        sqlx::query_as("SELECT actor, detail FROM audit_log WHERE action = 'replay_edited'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(audited.0, "olga");
    assert_eq!(audited.1["changes"][0], "/amount: 12 → 15");
    assert!(!audited.1.to_string().contains("jane"));
    let page = console.page(&http, &format!("/dead-letters/{dl}")).await;
    assert!(page.contains("edited copy: 3 change(s)"), "{page}");
    assert!(!page.contains("jane@example.com"));

    // Sent once: a second send is not another copy.
    let (_, text) = edit(fixed.to_string(), send).await;
    assert!(text.contains("already replayed"), "{text}");
    assert_eq!(replays_on(&broker, "payments").len(), 1);
    drop(console);
    db.drop_db().await;
}
