//! Saga actions on the orchestrated saga (issue 23), end to end: the console's order-page
//! form (`/api/ops/orders/command`) → `saga.command` → the fleet's order service (a
//! separate process, killed -9 right after each round of commands and restarted) → its
//! answer, ingested and shown on the order page.
//!
//! Four orders wait on payment (no payment service runs yet). Terminate ends one; a forced
//! compensation undoes another; a retry that names the wrong step is refused. Then the
//! payment service starts while the carrier and the warehouse are down: shipments fail and
//! the warehouse cannot undo reservations, so the sagas get stuck. With the warehouse back,
//! a retry and a forced compensation finish their undo, and a stuck saga is terminated.
//! Each command is applied once across the kills — and across a kill -9 of the console —,
//! nothing is done twice, and the role, the reason and the admin's switch are enforced.

mod common;

use common::saga::{
    answer, answered_once, command, command_id, kill, page_shows, saga_state, spawn_fleet,
    start_orders,
};
use common::{add_user, eventually, Broker, Console, TestDb};
use std::time::Duration;
use switchyard_fleet::runtime::Mode;

const MODE: &str = "orchestrated";

async fn wait_state(db: &TestDb, order: &str, state: &str) {
    eventually(
        Duration::from_secs(60),
        &format!("saga of {order} {state}"),
        || async { saga_state(db, order).await == state },
    )
    .await;
}

async fn wait_answer(db: &TestDb, id: &str) -> (String, String) {
    eventually(Duration::from_secs(60), "the command's answer", || async {
        answer(db, id).await.is_some()
    })
    .await;
    answer(db, id).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_retry_compensate_and_terminate_orchestrated_sagas() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let mut console = Console::start(&db.url, Some(&broker.bootstrap), &[]).await;
    add_user(&db.url, "ada", "operator", "correct horse battery");
    add_user(&db.url, "vic", "viewer", "correct horse battery");
    add_user(&db.url, "root", "admin", "correct horse battery");
    let (op, csrf) = console.login("ada", "correct horse battery").await;

    let fleet_pool = switchyard_fleet::store::connect(&db.url).await.unwrap();
    // No declined cards: every failure here is one the test makes.
    switchyard_fleet::faults::set(&fleet_pool, "payment_decline_rate", 0.0)
        .await
        .unwrap();
    let mut order_service = spawn_fleet(&db, &broker, "order", "0", MODE);
    let steps = spawn_fleet(&db, &broker, "inventory,shipment,notification", "0", MODE);
    let orders = start_orders(&fleet_pool, &broker, Mode::Orchestrated, 4).await;
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| orders[i].clone());
    // Every order waits on payment, and the console shows it.
    for o in &orders {
        page_shows(
            &console,
            &op,
            &format!("/orders/{o}"),
            &["data-testid=\"waiting-on\">payment<"],
            Duration::from_secs(60),
        )
        .await;
    }

    // What is refused: a viewer, a blank reason, an unknown order, a switched-off action.
    let (viewer, viewer_csrf) = console.login("vic", "correct horse battery").await;
    let (status, _) = command(&console, &viewer, &viewer_csrf, &c, "terminate", None, "x").await;
    assert_eq!(status, 403, "a viewer may not act");
    let (status, body) = command(&console, &op, &csrf, &c, "terminate", None, "   ").await;
    assert!(
        status >= 400 && body.contains("reason is required"),
        "{status} {body}"
    );
    let (status, body) = command(&console, &op, &csrf, "ORD-NOPE", "terminate", None, "x").await;
    assert!(
        status >= 400 && body.contains("no order"),
        "{status} {body}"
    );
    let (admin, admin_csrf) = console.login("root", "correct horse battery").await;
    let switch = |enabled: &'static str| {
        let (admin, admin_csrf, url) = (
            admin.clone(),
            admin_csrf.clone(),
            console.url("/api/admin/saga-actions"),
        );
        async move {
            let r = admin
                .post(url)
                .header("accept", "application/json")
                .form(&[
                    ("action", "terminate"),
                    ("enabled", enabled),
                    ("csrf", admin_csrf.as_str()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    };
    switch("false").await;
    let (status, body) = command(&console, &op, &csrf, &c, "terminate", None, "x").await;
    assert!(
        status >= 400 && body.contains("switched off by an admin"),
        "{status} {body}"
    );
    assert!(!console
        .page(&op, &format!("/orders/{c}"))
        .await
        .contains("<option value=\"terminate\""));
    switch("true").await;
    assert_eq!(
        db.count("SELECT count(*) FROM saga_commands").await,
        0,
        "nothing refused was recorded"
    );

    // Round one, while payment is not answering.
    let mut sent = Vec::new();
    for (order, action, step, reason) in [
        (&c, "terminate", None, "customer cancelled by phone"),
        (
            &b,
            "compensate",
            Some(("payment", "execute")),
            "fraud check failed",
        ),
        (
            &d,
            "retry_step",
            Some(("shipment", "execute")),
            "wrong step on purpose",
        ),
    ] {
        let (status, body) = command(&console, &op, &csrf, order, action, step, reason).await;
        assert_eq!(status, 200, "{action}: {body}");
        sent.push(command_id(&body));
    }
    kill(order_service);
    order_service = spawn_fleet(&db, &broker, "order", "0", MODE);
    assert_eq!(wait_answer(&db, &sent[0]).await.0, "applied");
    wait_state(&db, &c, "terminated").await;
    assert_eq!(wait_answer(&db, &sent[1]).await.0, "applied");
    let refused = wait_answer(&db, &sent[2]).await;
    assert_eq!(refused.0, "rejected");
    assert!(
        refused.1.contains("waits on payment, not shipment"),
        "{refused:?}"
    );

    // The carrier and the warehouse go down, then payment answers: a, b and d get stuck.
    for fault in ["shipment_outage", "inventory_outage"] {
        switchyard_fleet::faults::set(&fleet_pool, fault, 1.0)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // the services read faults every 0.5 s
    let payment = spawn_fleet(&db, &broker, "payment", "0", MODE);
    for o in [&a, &b, &d] {
        wait_state(&db, o, "stuck").await;
    }
    let page = format!("/orders/{a}");
    eventually(
        Duration::from_secs(60),
        "the page says the undo is stuck",
        || async {
            console
                .page(&op, &page)
                .await
                .contains("stuck: undoing inventory failed")
        },
    )
    .await;

    // Round two, with the warehouse back; and the console is killed -9 too.
    switchyard_fleet::faults::set(&fleet_pool, "inventory_outage", 0.0)
        .await
        .unwrap();
    // The warehouse breaker opened during the outage: it lets calls through again after
    // its 10-second wait (a retry before then would fail on the open breaker, rightly).
    tokio::time::sleep(Duration::from_secs(11)).await;
    for (order, action, step, reason) in [
        (
            &a,
            "retry_step",
            Some(("inventory", "compensate")),
            "warehouse is back",
        ),
        (
            &b,
            "compensate",
            Some(("inventory", "compensate")),
            "finish the undo",
        ),
        (&d, "terminate", None, "will be handled by hand"),
    ] {
        let (status, body) = command(&console, &op, &csrf, order, action, step, reason).await;
        assert_eq!(status, 200, "{action}: {body}");
        sent.push(command_id(&body));
    }
    kill(order_service);
    if let Some(child) = console.child.as_mut() {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    console.child = None;
    let order_service = spawn_fleet(&db, &broker, "order", "0", MODE);
    console = Console::start(&db.url, Some(&broker.bootstrap), &[]).await;
    let (op, _) = console.login("ada", "correct horse battery").await;
    wait_state(&db, &a, "compensated").await;
    wait_state(&db, &b, "compensated").await;
    wait_state(&db, &d, "terminated").await;
    for id in &sent[3..] {
        assert_eq!(wait_answer(&db, id).await.0, "applied", "{id}");
    }

    // Once each: every command answered once, no step done or undone twice.
    answered_once(&db, &sent).await;
    assert_eq!(
        db.count(
            "SELECT count(*) FROM (SELECT saga_id, step, phase FROM fleet.saga_log
              WHERE outcome = 'succeeded' GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
        )
        .await,
        0
    );
    assert_eq!(
        db.count("SELECT count(*) FROM saga_commands").await,
        6,
        "recorded by the console"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM audit_log WHERE action = 'saga_command'")
            .await,
        6
    );
    // Money: the compensated orders hold no charge and no reservation.
    for o in [&a, &b] {
        assert_eq!(
            common::saga::scalar(
                &db,
                "SELECT count(*) FROM fleet.payments WHERE order_id = $1 AND status = 'charged'",
                o
            )
            .await,
            0,
            "{o} still charged"
        );
        assert_eq!(
            common::saga::scalar(
                &db,
                "SELECT count(*) FROM fleet.inventory_reservations WHERE order_id = $1 AND status = 'reserved'",
                o
            )
            .await,
            0,
            "{o} still reserved"
        );
    }

    // The order page: the command, who sent it, and what followed, on the timeline.
    page_shows(
        &console,
        &op,
        &format!("/orders/{a}"),
        &[
            "class=\"tl-command applied\"",
            "Retry step (inventory) by ada: warehouse is back",
            "undoing inventory tried again",
            "class=\"tl-step compensate succeeded\"",
        ],
        Duration::from_secs(30),
    )
    .await;

    for child in [order_service, steps, payment] {
        kill(child);
    }
    drop(console);
    db.drop_db().await;
}
