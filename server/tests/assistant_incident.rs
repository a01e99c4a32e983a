//! Issue 22: "what happened to payments in the last 10 minutes?" answers with outages
//! (from the breaker's transitions), flaps, failed orders and dead letters waiting, a
//! summary first and details after, linked; and the overview's figures are a tool.

mod assistant_support;
mod common;

use assistant_support::*;
use common::TestDb;
use std::sync::Arc;
use switchyard::assistant::agent::Limits;
use switchyard::assistant::offline::OfflineBackend;
use switchyard::assistant::Assistant;
use switchyard_app::assistant::AssistantEvent;

fn cites(events: &[AssistantEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            AssistantEvent::Citation(c) => Some(c.href.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_happened_to_payments_reads_as_outages_then_details() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    // Two outages of payment-gateway in the last ten minutes; the first flaps once.
    for (i, (secs_ago, from, to)) in [
        (540, "CLOSED", "OPEN"),
        (530, "OPEN", "HALF_OPEN"),
        (529, "HALF_OPEN", "OPEN"),
        (480, "OPEN", "HALF_OPEN"),
        (479, "HALF_OPEN", "CLOSED"),
        (300, "CLOSED", "OPEN"),
        (240, "OPEN", "HALF_OPEN"),
        (239, "HALF_OPEN", "CLOSED"),
    ]
    .into_iter()
    .enumerate()
    {
        sqlx::query(
            "INSERT INTO breaker_transitions (event_id, service, breaker, from_state, to_state, at)
             VALUES ($1, 'payment', 'payment-gateway', $2, $3, now() - make_interval(secs => $4))",
        )
        .bind(-(i as i64) - 100)
        .bind(from)
        .bind(to)
        .bind(secs_ago as f64)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let a = Assistant::new(
        db.pool.clone(),
        Arc::new(OfflineBackend::rules_only("test")),
        Limits::default(),
    );
    let events = a
        .ask_all(
            viewer(),
            None,
            "what happened to payments in the last 10 minutes?",
        )
        .await
        .unwrap();
    let text = answer_text(&events);
    let (summary, details) = text.split_once("\n\n").expect("summary, then details");
    assert!(summary.starts_with("payment, "), "{summary}");
    assert!(summary.contains(": 2 outages ("), "{summary}");
    assert!(summary.contains("the breaker flapped 1 time"), "{summary}");
    assert!(summary.contains("1 order failed"), "{summary}");
    assert!(summary.contains("waiting."), "{summary}");
    assert!(
        !summary.contains("HALF_OPEN") && !summary.contains("half_open"),
        "no transition log in the summary: {summary}"
    );
    assert!(details.lines().all(|l| l.starts_with("- ")), "{details}");
    assert!(details.contains("payment/payment-gateway"), "{details}");
    let links = cites(&events);
    assert!(links.contains(&"/breakers".to_string()), "{links:?}");
    assert!(links.contains(&"/orders/ORD-1042".to_string()), "{links:?}");

    // The overview's figures, as a tool.
    let events = a
        .ask_all(viewer(), None, "are orders completing normally?")
        .await
        .unwrap();
    let text = answer_text(&events);
    assert!(text.contains("orders/min over the last 1 h"), "{text}");
    assert!(text.contains("1 of 2 breakers open"), "{text}");
    assert!(cites(&events).contains(&"/".to_string()));
    db.drop_db().await;
}
