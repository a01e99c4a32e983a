//! The dead-letter console over HTTP, signed in, against a real console process: the pages
//! render (groups, list, dry-run preview, detail) with hostile payloads as inert text; the
//! write endpoints run for an operator with the session's CSRF token (form posts, as a
//! browser without JavaScript sends them), refuse a viewer, require a discard reason, and
//! audit who did it.

mod common;

use common::dlq::*;
use common::{add_user, Broker, Console, TestDb};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use std::time::Duration;
use switchyard_app::dlq::server_fns::{LoadDeadLetterGroups, LoadDeadLetterPage, LoadReplayJobs};
use switchyard_app::states::JobStatus;

const PW: &str = "correct-horse-battery";
const HOSTILE: &str = r#"{"aggregate_id":"ORD-XSS-1","note":"<script>alert(1)</script><img src=x onerror=alert(2)>"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_inert_and_writes_need_an_operator_with_csrf() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let ids = seed(&db, "payment.completed", "PAY", 3, "gateway <b>timeout</b>").await;
    let hostile: i64 = sqlx::query_scalar(
        "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, kafka_key, raw_value,
            headers, dialect, original_topic, failed_at, replay_value, order_id, exception_message)
         VALUES ('payment.completed.dlq', 1, 1, 'ORD-XSS-1', convert_to($1, 'UTF8'),
            '[{\"key\": \"<x-evil>\", \"text\": \"<script>alert(3)</script>\"}]',
            'bare', 'payment.completed', now(), convert_to($1, 'UTF8'), 'ORD-XSS-1', '<i>boom</i>')
         RETURNING id",
    )
    .bind(HOSTILE)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let console = Console::start(&db.url, Some(&broker.bootstrap), &[]).await;
    add_user(&db.url, "olga", "operator", PW);
    add_user(&db.url, "vera", "viewer", PW);
    let (op, op_csrf) = console.login("olga", PW).await;
    let (viewer, viewer_csrf) = console.login("vera", PW).await;

    // The list: groups by topic and error, the rows, the filter form.
    let html = op
        .get(console.url("/dead-letters?topic=payment.completed"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"data-testid="groups-topic""#), "{html}");
    assert!(html.contains(&format!(r#"data-dead-letter-id="{}""#, ids[0])));
    assert!(html.contains("gateway &lt;b&gt;timeout&lt;/b&gt;"));
    assert!(!html.contains("<b>timeout"));

    // The list's reads as the browser calls them after a client-side navigation (a job
    // started redirects to `/dead-letters?job=…`): an empty filter is encoded as no query
    // parameters at all, and must read as "any", not fail.
    for path in [
        <LoadDeadLetterGroups as ServerFn>::PATH,
        <LoadDeadLetterPage as ServerFn>::PATH,
        <LoadReplayJobs as ServerFn>::PATH,
    ] {
        let resp = op.get(console.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let body = resp.text().await.unwrap();
        assert!(
            body.starts_with('{') || body.starts_with('['),
            "{path}: {body}"
        );
    }
    let groups = op
        .get(console.url(<LoadDeadLetterGroups as ServerFn>::PATH))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(groups.contains("payment.completed"), "{groups}");

    // The preview of replaying two selected: a dry run, nothing sent.
    let html = op
        .get(console.url(&format!(
            "/dead-letters?preview=selected&ids%5B%5D={}&ids%5B%5D={}",
            ids[0], ids[1]
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("would be sent"), "{html}");
    assert!(html.contains(r#"data-testid="confirm-replay""#));
    assert_eq!(
        db.count("SELECT count(*) FROM replays").await,
        0,
        "a preview sends nothing"
    );

    // The detail: everything hostile is text.
    let resp = op
        .get(console.url(&format!("/dead-letters/{hostile}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("<x-evil>"));
    assert!(!html.contains("<i>boom"));
    assert!(html.contains("&lt;x-evil&gt;"));

    // A viewer may look but not replay or discard.
    let refused = viewer
        .post(console.url("/api/ops/dlq/replay"))
        .form(&[("id", ids[0].to_string()), ("csrf", viewer_csrf.clone())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // An operator without the token is refused too.
    let no_token = op
        .post(console.url("/api/ops/dlq/replay"))
        .form(&[("id", ids[0].to_string()), ("csrf", "forged".to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    assert_eq!(db.count("SELECT count(*) FROM replays").await, 0);

    // Replay selected as a job, posted like a form without JavaScript.
    let started = op
        .post(console.url("/api/ops/dlq/replay-job"))
        .header("referer", console.url("/dead-letters"))
        .form(&[
            ("csrf", op_csrf.clone()),
            ("scope", "selected".into()),
            ("ids[]", ids[0].to_string()),
            ("ids[]", ids[1].to_string()),
            ("throttle", "0".into()),
            ("strip_headers", "traceparent, b3".into()),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        started.status().is_redirection() || started.status().is_success(),
        "{:?}",
        started.status()
    );
    let job: uuid::Uuid = sqlx::query_scalar("SELECT id FROM replay_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    if started.status().is_redirection() {
        let to = started.headers()["location"].to_str().unwrap();
        assert!(to.contains(&job.to_string()), "{to}");
    }
    assert_eq!(
        finished(&db, job, Duration::from_secs(30)).await,
        JobStatus::Completed
    );
    let landed = replays_on(&broker, "payment.completed");
    assert_eq!(landed.len(), 2);
    assert!(landed
        .iter()
        .all(|m| m.header("x-replayed-by") == Some("olga")));

    // Replay one by the detail page's button.
    let one = op
        .post(console.url("/api/ops/dlq/replay"))
        .header("accept", "application/json")
        .form(&[("id", ids[2].to_string()), ("csrf", op_csrf.clone())])
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), StatusCode::OK);
    assert!(one.text().await.unwrap().contains("sent"));
    assert_eq!(replays_on(&broker, "payment.completed").len(), 3);

    // Discard: the reason is required.
    let blank = op
        .post(console.url("/api/ops/dlq/discard"))
        .header("accept", "application/json")
        .form(&[
            ("ids[]", hostile.to_string()),
            ("reason", "  ".into()),
            ("csrf", op_csrf.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert!(!blank.status().is_success());
    assert_eq!(dead_letter_status(&db, hostile).await, "pending");
    let ok = op
        .post(console.url("/api/ops/dlq/discard"))
        .header("accept", "application/json")
        .form(&[
            ("ids[]", hostile.to_string()),
            ("reason", "test payload".into()),
            ("csrf", op_csrf.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(dead_letter_status(&db, hostile).await, "discarded");

    // Who did what, from where.
    let audit: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT actor, action, source FROM audit_log
         WHERE action IN ('replay_job_start', 'replay', 'discard') ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let olga: Vec<&str> = audit
        .iter()
        .filter(|a| a.0 == "olga")
        .map(|a| a.1.as_str())
        .collect();
    assert_eq!(olga, ["replay_job_start", "replay", "replay", "discard"]);
    assert!(audit
        .iter()
        .all(|a| a.2.as_deref().is_some_and(|s| s.starts_with("127.0.0.1"))));

    db.drop_db().await;
}
