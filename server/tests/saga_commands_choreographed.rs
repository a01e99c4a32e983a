//! Saga actions on the choreographed saga (issue 23), end to end through the console's
//! form, Kafka and the fleet as separate processes. Nobody conducts a choreographed saga:
//! with the payment gateway down, the payment service dead-letters what it cannot do and
//! three orders wait on payment. An operator terminates one, forces compensation of
//! another (the order service announces the payment's failure; the warehouse releases the
//! stock; the order fails) and, with the gateway back, retries the third (the order
//! service announces the reservation again; payment charges, shipment ships, the order
//! completes). The order service is killed -9 right after the commands: each is applied
//! once, and the retried order is charged once.

mod common;

use common::saga::{
    answered_once, command, command_id, kill, page_shows, saga_state, scalar, spawn_fleet,
    start_orders,
};
use common::{add_user, eventually, Broker, Console, TestDb};
use std::time::Duration;
use switchyard_fleet::runtime::Mode;

const MODE: &str = "choreographed";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_retry_compensate_and_terminate_choreographed_sagas() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let console = Console::start(&db.url, Some(&broker.bootstrap), &[]).await;
    add_user(&db.url, "ada", "operator", "correct horse battery");
    let (op, csrf) = console.login("ada", "correct horse battery").await;

    let fleet_pool = switchyard_fleet::store::connect(&db.url).await.unwrap();
    for (fault, value) in [("payment_decline_rate", 0.0), ("payment_outage", 1.0)] {
        switchyard_fleet::faults::set(&fleet_pool, fault, value)
            .await
            .unwrap();
    }
    let order_service = spawn_fleet(&db, &broker, "order", "0", MODE);
    let services = spawn_fleet(
        &db,
        &broker,
        "inventory,payment,shipment,notification",
        "0",
        MODE,
    );
    let orders = start_orders(&fleet_pool, &broker, Mode::Choreographed, 3).await;
    let [a, b, c] = [0, 1, 2].map(|i| orders[i].clone());
    for o in &orders {
        eventually(
            Duration::from_secs(60),
            "the payment step dead-lettered",
            || async {
                scalar(
                    &db,
                    "SELECT count(*) FROM dead_letters WHERE order_id = $1",
                    o,
                )
                .await
                    > 0
            },
        )
        .await;
        page_shows(
            &console,
            &op,
            &format!("/orders/{o}"),
            &["data-testid=\"waiting-on\">payment<"],
            Duration::from_secs(30),
        )
        .await;
    }

    let mut sent = Vec::new();
    for (order, action, reason) in [
        (&c, "terminate", "duplicate order"),
        (&b, "compensate", "customer asked to cancel"),
    ] {
        let step = Some(("payment", "execute"));
        let (status, body) = command(&console, &op, &csrf, order, action, step, reason).await;
        assert_eq!(status, 200, "{action}: {body}");
        sent.push(command_id(&body));
    }
    switchyard_fleet::faults::set(&fleet_pool, "payment_outage", 0.0)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await; // faults are read every 0.5 s
    let step = Some(("payment", "execute"));
    let (status, body) =
        command(&console, &op, &csrf, &a, "retry_step", step, "gateway back").await;
    assert_eq!(status, 200, "{body}");
    sent.push(command_id(&body));
    kill(order_service);
    let order_service = spawn_fleet(&db, &broker, "order", "0", MODE);

    for (o, state) in [(&a, "completed"), (&b, "compensated"), (&c, "terminated")] {
        eventually(
            Duration::from_secs(60),
            &format!("saga of {o} {state}"),
            || async { saga_state(&db, o).await == state },
        )
        .await;
    }
    eventually(
        Duration::from_secs(60),
        "the console has every answer",
        || async {
            db.count(
                "SELECT count(*) FROM events WHERE event_type = 'saga.command'
                   AND payload->>'status' IN ('applied', 'rejected')",
            )
            .await
                >= 3
        },
    )
    .await;
    answered_once(&db, &sent).await;

    // Money and stock: the retried order charged once, the compensated one not at all and
    // its stock released.
    let one = |sql: &'static str, o: String| {
        let db = &db;
        async move { scalar(db, sql, &o).await }
    };
    assert_eq!(
        one(
            "SELECT count(*) FROM fleet.payments WHERE order_id = $1 AND status = 'charged'",
            a.clone()
        )
        .await,
        1
    );
    eventually(Duration::from_secs(30), "a's events ingested", || async {
        scalar(
            &db,
            "SELECT count(*) FROM events WHERE aggregate_id = $1 AND event_type = 'order.completed'",
            &a,
        )
        .await
            > 0
    })
    .await;
    assert_eq!(
        one(
            "SELECT count(DISTINCT event_id) FROM events WHERE aggregate_id = $1 AND event_type = 'payment.completed'",
            a.clone()
        )
        .await,
        1,
        "charged once"
    );
    assert_eq!(
        one(
            "SELECT count(*) FROM fleet.payments WHERE order_id = $1",
            b.clone()
        )
        .await,
        0
    );
    assert_eq!(
        one(
            "SELECT count(*) FROM fleet.inventory_reservations WHERE order_id = $1 AND status = 'released'",
            b.clone()
        )
        .await,
        1
    );

    // The forced compensation on the order's timeline: the command, then the undo.
    page_shows(
        &console,
        &op,
        &format!("/orders/{b}"),
        &[
            "Force compensation by ada: customer asked to cancel",
            "class=\"tl-step compensate succeeded\"",
            "class=\"tl-command applied\"",
        ],
        Duration::from_secs(30),
    )
    .await;

    for child in [order_service, services] {
        kill(child);
    }
    drop(console);
    db.drop_db().await;
}
