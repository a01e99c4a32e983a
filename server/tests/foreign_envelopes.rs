//! Other teams' envelopes, end to end: `switchyard serve` (the real binary, configured as a
//! team would: `SWITCHYARD_ENVELOPES` with the shipped Spring example, `SWITCHYARD_TOPICS`
//! naming their CloudEvents topics) on a broker where the team created its topics and the
//! console created none. CloudEvents in binary and structured mode and Spring-style
//! events (camelCase, the type in `__TypeId__`, epoch-millisecond times) become orders,
//! saga timelines and dead letters on the pages; a record the mapping cannot read is
//! quarantined with its bytes and the reason.

mod common;

use common::dlq::produce_with_headers;
use common::{add_user, eventually, Broker, Console, TestDb};
use serde_json::json;
use std::time::Duration;

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const SPRING: &str = "com.acme.shop.events.";

async fn send(
    broker: &Broker,
    topic: &str,
    key: &str,
    value: &serde_json::Value,
    headers: &[(&str, &str)],
) {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
    produce_with_headers(
        broker,
        topic,
        key,
        &serde_json::to_vec(value).unwrap(),
        &headers,
    )
    .await;
}

/// A binary-mode CloudEvent: attributes in `ce_` headers, the data as the value.
async fn cloudevent_binary(
    broker: &Broker,
    ty: &str,
    subject: &str,
    data: serde_json::Value,
    n: u32,
) {
    let id = format!("ce-{subject}-{n}");
    let time = format!("2026-12-05T10:00:{n:02}Z");
    send(
        broker,
        "cloud.orders",
        subject,
        &data,
        &[
            ("ce_specversion", "1.0"),
            ("ce_id", &id),
            ("ce_source", "//shop/checkout"),
            ("ce_type", ty),
            ("ce_time", &time),
            ("ce_subject", subject),
            ("ce_traceparent", TP),
            ("content-type", "application/json"),
        ],
    )
    .await;
}

/// A Spring Kafka JsonSerializer record: keyed by customer, the class in `__TypeId__`.
async fn spring(broker: &Broker, topic: &str, class: &str, body: serde_json::Value) {
    let ty = format!("{SPRING}{class}");
    send(
        broker,
        topic,
        "acme",
        &body,
        &[("__TypeId__", &ty), ("X-Correlation-Id", "corr-S1")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudevents_and_a_mapped_envelope_become_orders_sagas_and_dead_letters() {
    let db = TestDb::new().await;
    let broker = Broker::start_bare().await;
    broker
        .create_topics(
            &[
                "cloud.orders",
                "cloud.structured",
                "shop.orders",
                "shop.payments",
                "shop.orders.DLT",
            ],
            2,
        )
        .await;
    let mapping = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/envelopes/spring-orders.toml"
    );
    let console = Console::start(
        &db.url,
        Some(&broker.bootstrap),
        &[
            ("SWITCHYARD_ENVELOPES", mapping),
            (
                "SWITCHYARD_TOPICS",
                "contract,cloud.orders,cloud.structured",
            ),
            ("SWITCHYARD_TOPIC_REFRESH_MS", "1000"),
        ],
    )
    .await;

    // CloudEvents, binary mode: an order and its saga, types in reverse-DNS form.
    cloudevent_binary(&broker, "com.acme.order.created", "ORD-C1",
        json!({"customer_id": "globex", "total_cents": 1999, "currency": "USD", "items": [{"sku": "a"}]}), 1).await;
    for (n, (step, status)) in [
        ("inventory", "started"),
        ("inventory", "succeeded"),
        ("payment", "started"),
        ("payment", "succeeded"),
    ]
    .into_iter()
    .enumerate()
    {
        cloudevent_binary(
            &broker,
            "saga.step",
            "ORD-C1",
            json!({"saga_id": "S-C1", "step": step, "action": "execute", "status": status}),
            n as u32 + 2,
        )
        .await;
    }
    cloudevent_binary(&broker, "com.acme.order.completed", "ORD-C1", json!({}), 9).await;

    // CloudEvents, structured mode: the event is the value.
    let structured = json!({"specversion": "1.0", "id": "st-1", "source": "urn:shop:orders",
        "type": "order.created", "time": "2026-12-05T10:01:00Z", "partitionkey": "ORD-C2",
        "datacontenttype": "application/json", "data": {"customer_id": "initech", "total_cents": 500}});
    send(
        &broker,
        "cloud.structured",
        "ORD-C2",
        &structured,
        &[(
            "content-type",
            "application/cloudevents+json; charset=UTF-8",
        )],
    )
    .await;

    // The shipped Spring example: an order placed, paid, fulfilled; one whose payment
    // failed and went to the DLT; one record without its type header.
    let placed = |order: &str, cents: i64| {
        json!({"eventId": format!("{order}-placed"), "orderId": order,
        "occurredAt": 1_764_928_800_000_i64, "customerId": "acme", "totalCents": cents, "currency": "EUR",
        "lineItems": [{"sku": "x", "qty": 1}, {"sku": "y", "qty": 2}]})
    };
    spring(
        &broker,
        "shop.orders",
        "OrderPlaced",
        placed("ORD-S1", 4200),
    )
    .await;
    spring(
        &broker,
        "shop.payments",
        "PaymentCaptured",
        json!({"eventId": "S1-paid", "orderId": "ORD-S1", "occurredAt": 1_764_928_801_000_i64}),
    )
    .await;
    spring(
        &broker,
        "shop.orders",
        "OrderFulfilled",
        json!({"eventId": "S1-done", "orderId": "ORD-S1", "occurredAt": 1_764_928_802_000_i64}),
    )
    .await;
    spring(&broker, "shop.orders", "OrderPlaced", placed("ORD-S2", 100)).await;
    let failed_value = serde_json::to_vec(&placed("ORD-S2", 100)).unwrap();
    produce_with_headers(
        &broker,
        "shop.orders.DLT",
        "acme",
        &failed_value,
        &[
            ("__TypeId__", format!("{SPRING}OrderPlaced").as_bytes()),
            ("kafka_dlt-original-topic", b"shop.orders"),
            ("kafka_dlt-original-partition", &0i32.to_be_bytes()),
            ("kafka_dlt-original-offset", &1i64.to_be_bytes()),
            (
                "kafka_dlt-exception-message",
                b"PaymentDeclinedException: card expired",
            ),
        ],
    )
    .await;
    send(
        &broker,
        "shop.orders",
        "acme",
        &json!({"orderId": "ORD-S3"}),
        &[],
    )
    .await;

    eventually(Duration::from_secs(60), "every record stored", || async {
        db.count("SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM dead_letters) + (SELECT count(*) FROM quarantine)").await == 13
    })
    .await;
    assert_eq!(db.count("SELECT count(*) FROM quarantine").await, 1);
    let reason: String = sqlx::query_scalar("SELECT reason FROM quarantine")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        reason.contains("envelope mapping") && reason.contains("__TypeId__"),
        "{reason}"
    );
    // The dead letter belongs to the order its payload names, not to the key's customer.
    let dl_order: Option<String> = sqlx::query_scalar("SELECT order_id FROM dead_letters")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(dl_order.as_deref(), Some("ORD-S2"));
    // The team's data is stored as it came (camelCase), with the facts in the columns.
    let (corr, at_ms, data): (Option<String>, i64, serde_json::Value) = sqlx::query_as(
        "SELECT correlation_id, (extract(epoch FROM occurred_at) * 1000)::int8, payload
           FROM events WHERE aggregate_id = 'ORD-S1' AND event_type = 'order.created'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (corr.as_deref(), at_ms),
        (Some("corr-S1"), 1_764_928_800_000)
    );
    assert_eq!(data["totalCents"], 4200);

    add_user(&db.url, "olga", "viewer", "viewer-password-1");
    let (http, _) = console.login("olga", "viewer-password-1").await;
    let get = |path: &str| {
        let (http, url) = (http.clone(), console.url(path));
        async move {
            let r = http.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            r.text().await.unwrap()
        }
    };
    let orders = get("/orders").await;
    for id in ["ORD-C1", "ORD-C2", "ORD-S1", "ORD-S2"] {
        assert!(orders.contains(id), "{id} on the orders page");
    }
    let c1 = get("/orders/ORD-C1").await;
    assert!(
        c1.contains(">completed<"),
        "the CloudEvents order completed"
    );
    assert_eq!(
        c1.matches("class=\"tl-step execute").count(),
        4,
        "its saga timeline"
    );
    assert!(c1.contains("cloud.orders/"), "its events");
    let s1 = get("/orders/ORD-S1").await;
    assert!(s1.contains(">completed<"), "the Spring order completed");
    assert!(s1.contains("corr-S1"));
    let s2 = get("/orders/ORD-S2").await;
    assert!(
        s2.contains("data-testid=\"dead-letters\""),
        "the DLT record on its order"
    );
    assert!(s2.contains("card expired"));
    let c2: (String, Option<String>, Option<i64>) = sqlx::query_as(
        "SELECT status, customer_id, total_cents FROM orders WHERE order_id = 'ORD-C2'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(c2, ("created".into(), Some("initech".into()), Some(500)));
    let s1_row: (String, Option<String>, Option<i64>) = sqlx::query_as(
        "SELECT status, customer_id, total_cents FROM orders WHERE order_id = 'ORD-S1'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        s1_row,
        ("completed".into(), Some("acme".into()), Some(4200))
    );
    drop(console);
    db.drop_db().await;
}

/// A mapping file with a mistake stops the console before it connects anywhere, with one
/// line naming the file, the entry and what is wrong.
#[test]
fn a_broken_mapping_file_is_refused_at_start_naming_the_entry() {
    let dir = std::env::temp_dir().join(format!("switchyard-envelopes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("team.toml");
    std::fs::write(
        &path,
        "[[envelope]]\ntopics = [\"t\"]\nevent_type = \"/type\"\n[envelope.types]\nPlaced = \"order.placed\"\n",
    )
    .unwrap();
    let err = common::serve_refuses_with("SWITCHYARD_ENVELOPES", &path);
    assert!(
        err.contains("team.toml") && err.contains("#1") && err.contains("\"order.placed\""),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
