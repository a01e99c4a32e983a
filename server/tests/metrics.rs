//! `/metrics` on a real console process: a scraper gets in only with the configured bearer
//! token (or a signed-in person with a session); the series count what really happened —
//! ingested and quarantined records, HTTP requests by route template, open push
//! connections, breaker states, lag — and a hostile URL never becomes a label.

mod common;

use common::{add_user, eventually, Broker, Console, TestDb};
use reqwest::StatusCode;
use std::time::Duration;
use {
    switchyard_contract::{publish, publish_raw},
    switchyard_fleet::orders::new_order,
};

const TOKEN: &str = "scrape-token-for-tests-0123456789";

async fn scrape(
    http: &reqwest::Client,
    console: &Console,
    auth: Option<&str>,
) -> reqwest::Response {
    let mut req = http.get(console.url("/metrics"));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    req.send().await.unwrap()
}

/// The value of one series line (`name{labels} value`), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_and_count_what_happened() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let console = Console::start(
        &db.url,
        Some(&broker.bootstrap),
        &[("SWITCHYARD_METRICS_TOKEN", TOKEN)],
    )
    .await;
    let anon = Console::client();

    // Who may scrape.
    assert_eq!(
        scrape(&anon, &console, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for wrong in [
        "Bearer wrong".to_string(),
        format!("Bearer {TOKEN}x"),
        format!("Basic {TOKEN}"),
        format!("bearer{TOKEN}"),
        TOKEN.to_string(),
    ] {
        assert_eq!(
            scrape(&anon, &console, Some(&wrong)).await.status(),
            StatusCode::UNAUTHORIZED,
            "{wrong}"
        );
    }
    let refused = anon
        .post(console.url("/metrics"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error(), "{:?}", refused.status());
    add_user(&db.url, "vera", "viewer", "viewer-password-1");
    let (person, _) = console.login("vera", "viewer-password-1").await;
    assert_eq!(
        scrape(&person, &console, None).await.status(),
        StatusCode::OK
    );

    // Something to count: two orders, one malformed record, a breaker, a hostile URL, an
    // open push connection.
    let producer = broker.producer();
    for id in ["ORD-M1", "ORD-M2"] {
        publish(&producer, &new_order(id, &mut rand::rng()))
            .await
            .unwrap();
    }
    publish_raw(&producer, "order.created", Some(b"ORD-M3"), b"{not json")
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO breakers (service, breaker, state, state_at)
         VALUES ('payment', 'payment-gateway', 'OPEN', now())",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let _ = person
        .get(console.url("/no/such/page/%3Cscript%3E-12345"))
        .send()
        .await
        .unwrap();
    let _ = person.get(console.url("/orders")).send().await.unwrap();
    let mut live = person.get(console.url("/api/live")).send().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(200), live.chunk()).await;

    let bearer = format!("Bearer {TOKEN}");
    eventually(Duration::from_secs(30), "ingest counted", || async {
        let resp = scrape(&anon, &console, Some(&bearer)).await;
        let text = resp.text().await.unwrap();
        value(
            &text,
            r#"switchyard_ingest_records_total{topic="order.created",kind="event"}"#,
        ) == Some(2.0)
            && value(
                &text,
                r#"switchyard_ingest_quarantined_total{reason="bad_json"}"#,
            ) == Some(1.0)
    })
    .await;
    let resp = scrape(&anon, &console, Some(&bearer)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = resp.text().await.unwrap();
    assert!(
        value(
            &text,
            r#"switchyard_ingest_records_total{topic="order.created",kind="quarantined"}"#
        ) == Some(1.0),
        "{text}"
    );
    assert!(text.contains("switchyard_ingest_batch_seconds_count"));
    assert_eq!(
        value(
            &text,
            r#"switchyard_breaker_state{service="payment",breaker="payment-gateway",state="OPEN"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"switchyard_breaker_state{service="payment",breaker="payment-gateway",state="CLOSED"}"#
        ),
        Some(0.0)
    );
    assert_eq!(
        value(&text, "switchyard_push_connections"),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/orders",status="200""#),
        "HTTP latency by route template: {text}"
    );
    assert!(
        text.contains(r#"switchyard_ingest_lag{group="switchyard-console",topic="order.created""#),
        "{text}"
    );
    assert!(!text.contains("no/such"), "a raw path became a label");
    assert!(!text.contains("<script>") && !text.contains("%3C"));
    assert!(text.contains(r#"switchyard_replay_jobs{status="running"} 0"#));

    // The push connection closes: the gauge follows.
    drop(live);
    eventually(
        Duration::from_secs(10),
        "push connection closed",
        || async {
            let t = scrape(&anon, &console, Some(&bearer))
                .await
                .text()
                .await
                .unwrap();
            value(&t, "switchyard_push_connections") == Some(0.0)
        },
    )
    .await;
    db.drop_db().await;
}
