//! The console process end to end over HTTP: health probes, a server-rendered orders page
//! showing an ingested order, and the live push stream delivering a new one.

mod common;

use common::{add_user, eventually, Broker, Console, TestDb};
use futures::StreamExt;
use std::time::Duration;
use {switchyard_contract::publish, switchyard_fleet::orders::new_order};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_serves_pages_probes_and_live_push() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let producer = broker.producer();
    let server = Console::start(&db.url, Some(&broker.bootstrap), &[]).await;
    add_user(&db.url, "vera", "viewer", "viewer-password-1");
    let (http, _) = server.login("vera", "viewer-password-1").await;
    let base = server.base.clone();
    let ready: serde_json::Value = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["ready"], true, "{ready}");

    publish(&producer, &new_order("ORD-HTTP-1", &mut rand::rng()))
        .await
        .unwrap();
    eventually(Duration::from_secs(30), "order ingested", || async {
        db.count("SELECT count(*) FROM orders").await == 1
    })
    .await;
    let page = http.get(format!("{base}/orders")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("ORD-HTTP-1"), "orders page lacks the order");
    assert!(
        html.contains("/pkg/switchyard.js"),
        "page lacks the hydration script"
    );

    let mut live = http
        .get(format!("{base}/api/live"))
        .send()
        .await
        .unwrap()
        .bytes_stream();
    // The stream is open once the response headers arrived; publish after that.
    publish(&producer, &new_order("ORD-HTTP-2", &mut rand::rng()))
        .await
        .unwrap();
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(chunk) = live.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("ORD-HTTP-2") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "live stream said: {seen}");
    assert!(seen.contains("event: order"), "{seen}");

    drop(server);
    db.drop_db().await;
}

/// The same event delivered twice (a producer's retry against a broker without
/// idempotence, a replay) is stored at both positions — that is what Kafka holds — and the
/// order's event history marks the second as the first one again, not a new event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_delivered_twice_is_marked_in_the_history() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let producer = broker.producer();
    let server = Console::start(&db.url, Some(&broker.bootstrap), &[]).await;
    add_user(&db.url, "vera", "viewer", "viewer-password-1");
    let (http, _) = server.login("vera", "viewer-password-1").await;
    let created = new_order("ORD-TWICE", &mut rand::rng());
    publish(&producer, &created).await.unwrap();
    publish(&producer, &created).await.unwrap();
    eventually(
        Duration::from_secs(30),
        "both deliveries stored",
        || async {
            db.count("SELECT count(*) FROM events WHERE aggregate_id = 'ORD-TWICE'")
                .await
                == 2
        },
    )
    .await;
    let html = http
        .get(format!("{}/orders/ORD-TWICE", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        html.matches(r#"data-testid="redelivered""#).count(),
        1,
        "{html}"
    );
    assert!(html.contains("again (#1)"), "{html}");
    drop(server);
    db.drop_db().await;
}
