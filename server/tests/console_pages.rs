//! The console pages' read model and pages: overview, breakers, order search with keyset
//! paging, time travel and breaker context — on an empty database, on seeded volume, and
//! with hostile text in every filter field (quotes, `%`, `_`, unicode, `<script>`, SQL).

mod common;

use common::{add_user, Console, TestDb};
use switchyard::read_model::console::PgConsole;
use switchyard_app::console::{ConsoleApi, OrderFilter, Range};
use switchyard_app::states::{BreakerState, OrderStatus};
use switchyard_tools::seed::{seed, SeedArgs};

fn filter() -> OrderFilter {
    OrderFilter {
        limit: 50,
        ..OrderFilter::default()
    }
}

async fn seed_small(db: &TestDb, orders: i64) {
    seed(
        &db.pool,
        &SeedArgs {
            orders,
            events_per_order: 10,
            hours: 1,
            chunk: 1000,
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_read_model_gives_empty_pages() {
    let db = TestDb::new().await;
    let c = PgConsole::new(db.pool.clone());
    for range in Range::ALL {
        let o = c.overview(range).await.unwrap();
        assert_eq!(o.kpis.orders_per_min, 0.0);
        assert_eq!(o.kpis.completion_rate, None);
        assert_eq!(o.kpis.saga_p95_ms, None);
        assert_eq!((o.kpis.dlq_depth, o.kpis.open_breakers), (0, 0));
        assert_eq!(o.throughput.len(), 4);
        assert!(o.throughput[0].points.len() >= 5, "every bucket is present");
        assert!(o.ticker.is_empty() && o.lag.is_empty());
        let b = c.breakers(range).await.unwrap();
        assert!(b.breakers.is_empty() && b.transitions.is_empty());
    }
    let page = c.search_orders(&filter()).await.unwrap();
    assert!(page.rows.is_empty() && page.next.is_none());
    assert_eq!(c.order_as_of("nope", 1).await.unwrap(), None);
    assert!(c.failure_context("nope").await.unwrap().is_empty());
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_volume_pages_filters_and_time_travel() {
    let db = TestDb::new().await;
    seed_small(&db, 3000).await;
    // The seed writes what the ingest projection would have: a full rebuild agrees.
    let problems = switchyard::ingest::verify::verify(&db.pool).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let c = PgConsole::new(db.pool.clone());

    let o = c.overview(Range::H1).await.unwrap();
    assert!(o.kpis.orders_per_min > 40.0, "{:?}", o.kpis);
    let rate = o.kpis.completion_rate.unwrap();
    assert!((0.85..0.95).contains(&rate), "{rate}");
    assert!(o.kpis.saga_p50_ms.unwrap() > 100.0);
    assert!(o.kpis.saga_p95_ms.unwrap() >= o.kpis.saga_p50_ms.unwrap());
    assert_eq!(o.kpis.dlq_depth, 60);
    assert_eq!(o.kpis.breakers, 3);
    assert_eq!(o.ticker.len(), 15);
    assert!(!o.transitions.is_empty());
    let b = c.breakers(Range::H1).await.unwrap();
    assert_eq!(b.breakers.len(), 3);
    assert!(b.breakers.iter().all(|r| r.last_transition.is_some()));

    // Keyset paging walks every failed order exactly once, newest change first.
    let mut f = OrderFilter {
        status: Some("failed".into()),
        limit: 70,
        ..OrderFilter::default()
    };
    let mut seen: Vec<(chrono::DateTime<chrono::Utc>, String)> = Vec::new();
    loop {
        let page = c.search_orders(&f).await.unwrap();
        assert!(page.rows.iter().all(|r| r.status == OrderStatus::Failed));
        seen.extend(page.rows.iter().map(|r| (r.updated_at, r.order_id.clone())));
        match page.next {
            Some(next) => f.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 300);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "strictly descending");

    let count = |f: OrderFilter| {
        let c = c.clone();
        async move { c.search_orders(&f).await.unwrap().rows }
    };
    let step = count(OrderFilter {
        step: Some("inventory:compensate".into()),
        limit: 500,
        ..filter()
    })
    .await;
    assert_eq!(step.len(), 300);
    let exact = count(OrderFilter {
        q: Some("SEED-00000042".into()),
        ..filter()
    })
    .await;
    assert_eq!(exact.len(), 1);
    let prefix = count(OrderFilter {
        q: Some("SEED-0000004".into()),
        ..filter()
    })
    .await;
    assert_eq!(prefix.len(), 10, "SEED-00000040 ..= SEED-00000049");
    let by_correlation = count(OrderFilter {
        q: Some("COR-42".into()),
        ..filter()
    })
    .await;
    assert_eq!(by_correlation[0].order_id, "SEED-00000042");
    let customer = exact[0].customer_id.clone().unwrap();
    let by_customer = count(OrderFilter {
        q: Some(customer.clone()),
        ..filter()
    })
    .await;
    assert!(!by_customer.is_empty());
    assert!(by_customer
        .iter()
        .all(|r| r.customer_id.as_deref() == Some(&customer)));
    let mid = seen[150].0;
    let windowed = count(OrderFilter {
        from: Some(mid - chrono::TimeDelta::minutes(1)),
        to: Some(mid),
        limit: 500,
        ..filter()
    })
    .await;
    assert!(!windowed.is_empty());
    assert!(windowed
        .iter()
        .all(|r| r.updated_at < mid && r.updated_at >= mid - chrono::TimeDelta::minutes(1)));
    // A page never exceeds the cap, whatever is asked.
    let huge = count(OrderFilter {
        limit: 1_000_000,
        ..filter()
    })
    .await;
    assert_eq!(huge.len() as i64, switchyard_app::ops::MAX_PAGE);

    // Time travel: order 7 fails at payment and is compensated.
    let id = "SEED-00000007";
    let v1 = c.order_as_of(id, 1).await.unwrap().unwrap();
    assert_eq!((v1.status, v1.versions), (OrderStatus::Created, 10));
    assert_eq!(v1.step, None);
    let v5 = c.order_as_of(id, 5).await.unwrap().unwrap();
    assert_eq!(v5.status, OrderStatus::Created);
    assert_eq!(v5.step.as_deref(), Some("payment:execute failed"));
    let last = c.order_as_of(id, 999).await.unwrap().unwrap();
    assert_eq!((last.version, last.status), (10, OrderStatus::Failed));
    assert_eq!(last.failure_reason.as_deref(), Some("payment declined"));
    let failures = c.failure_context(id).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].step, "payment");
    let gateway = failures[0]
        .breakers
        .iter()
        .find(|b| b.breaker == "gateway")
        .expect("payment gateway breaker at the failure");
    assert_eq!(gateway.state, BreakerState::Open);
    assert!(failures[0].breakers.iter().all(|b| b.service != "shipment"));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_filter_text_is_inert() {
    let db = TestDb::new().await;
    seed_small(&db, 100).await;
    let odd = [
        "O'Brien \"quoted\"",
        "100%_off\\",
        "ünïcødé-注文-🚀",
        "<script>alert(1)</script>",
        "'; DROP TABLE orders; --",
    ];
    for id in odd {
        sqlx::query(
            "INSERT INTO orders (order_id, customer_id, status, status_at, updated_at)
             VALUES ($1, $1, 'created', now(), now())",
        )
        .bind(id)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let before = db.count("SELECT count(*) FROM orders").await;
    let c = PgConsole::new(db.pool.clone());
    for id in odd {
        let rows = c
            .search_orders(&OrderFilter {
                q: Some(id.into()),
                ..filter()
            })
            .await
            .unwrap()
            .rows;
        assert_eq!(rows.len(), 1, "{id}");
        assert_eq!(rows[0].order_id, id);
        for (status, step) in [(Some(id), None), (None, Some(id))] {
            let rows = c
                .search_orders(&OrderFilter {
                    status: status.map(String::from),
                    step: step.map(String::from),
                    ..filter()
                })
                .await
                .unwrap()
                .rows;
            assert!(rows.is_empty(), "{id}");
        }
        assert_eq!(c.order_as_of(id, 1).await.unwrap(), None);
        assert!(c.failure_context(id).await.unwrap().is_empty());
    }
    // Wildcards are literal: nothing starts with "%" or "_".
    for q in ["%", "_", "\\", "SEED-%", "x".repeat(5000).as_str()] {
        let rows = c
            .search_orders(&OrderFilter {
                q: Some(q.into()),
                ..filter()
            })
            .await
            .unwrap()
            .rows;
        assert!(rows.is_empty(), "{q:.20}");
    }
    assert_eq!(db.count("SELECT count(*) FROM orders").await, before);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_without_javascript_for_a_viewer() {
    let db = TestDb::new().await;
    seed_small(&db, 500).await;
    let server = Console::start(&db.url, None, &[]).await;
    // Signed out: no page.
    let anon = Console::client().get(server.url("/")).send().await.unwrap();
    assert!(
        anon.status() == 401 || anon.status().is_redirection(),
        "{}",
        anon.status()
    );
    add_user(&db.url, "vera", "viewer", "viewer-password-1");
    let (http, _) = server.login("vera", "viewer-password-1").await;
    let get = |path: &str| {
        let (http, url) = (http.clone(), server.url(path));
        async move {
            let r = http.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            r.text().await.unwrap()
        }
    };
    for range in ["15m", "1h", "24h", "7d", "bogus"] {
        let html = get(&format!("/?range={range}")).await;
        for chart in ["throughput", "durations", "dlq", "transitions"] {
            assert!(html.contains(&format!("data-chart=\"{chart}\"")), "{chart}");
        }
        assert!(html.contains("<svg viewBox="));
        assert!(html.contains("data-testid=\"kpi-completion\""));
        assert!(
            !html.contains("style="),
            "no inline style anywhere ({range})"
        );
    }
    let breakers = get("/breakers?range=1h").await;
    assert!(breakers.contains("data-breaker=\"payment/gateway\""));
    assert!(breakers.contains("data-chart=\"breaker-history\""));

    let failed = get("/orders?status=failed&step=inventory%3Acompensate").await;
    assert!(failed.contains("SEED-00000007"));
    assert!(
        !failed.contains("SEED-00000001\""),
        "a completed order is filtered out"
    );
    let hostile = get("/orders?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E&status=%27%3B--").await;
    assert!(!hostile.contains("<script>alert(1)"));
    assert!(hostile.contains("No orders match."));

    let detail = get("/orders/SEED-00000007?as_of=1").await;
    assert!(
        detail.contains("As of version 1 of 10"),
        "time travel panel"
    );
    let at = detail
        .find("as-of-status")
        .expect("the state as of version 1");
    assert!(
        detail[at..at + 60].contains(">created<"),
        "{}",
        &detail[at..at + 60]
    );
    assert!(detail.contains("data-action=\"compensate\""));
    assert!(detail.contains("data-testid=\"failure-breakers\""));
    drop(server);
    db.drop_db().await;
}
