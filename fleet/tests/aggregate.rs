//! The order aggregate's event store on PostgreSQL: state rebuilt from events, and
//! optimistic concurrency — of two writers appending at the same version, exactly one wins.

use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use switchyard_fleet::aggregate::{append, load, rebuild, AppendError};

/// A fresh database per test (sqlx's, on `DATABASE_URL`), holding only the fleet's schema.
#[sqlx::test(migrations = false)]
async fn appends_rebuild_and_concurrent_writers_conflict(_: PgPoolOptions, db: PgConnectOptions) {
    let pool = switchyard_fleet::store::connect_with(db).await.unwrap();
    let created = json!({"customer_id": "CUST-1", "total_cents": 1250});
    append(&pool, "ORD-A", 0, &[("order.created", created)])
        .await
        .unwrap();
    append(&pool, "ORD-A", 1, &[("order.confirmed", json!({}))])
        .await
        .unwrap();

    // Two writers both decided on version 2.
    let completed = [("order.completed", json!({}))];
    let failed = [("order.failed", json!({"reason": "late"}))];
    let a = append(&pool, "ORD-A", 2, &completed);
    let b = append(&pool, "ORD-A", 2, &failed);
    let (a, b) = tokio::join!(a, b);
    let wins = [a.is_ok(), b.is_ok()].iter().filter(|w| **w).count();
    assert_eq!(wins, 1, "exactly one writer wins");
    let loser = if a.is_err() { a } else { b };
    assert!(matches!(
        loser,
        Err(AppendError::Conflict { expected: 2, .. })
    ));

    let events = load(&pool, "ORD-A").await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let state = rebuild(&events);
    assert_eq!(state.version, 3);
    assert!(state.status == "completed" || state.status == "failed");
    assert_eq!(
        (state.customer_id.as_deref(), state.total_cents),
        (Some("CUST-1"), 1250)
    );
    pool.close().await;
}
