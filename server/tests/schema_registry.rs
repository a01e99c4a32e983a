//! Schema Registry payloads on the dead-letter pages, end to end: `switchyard serve` with
//! `SWITCHYARD_SCHEMA_REGISTRY_URL` pointing at a registry on loopback that speaks the
//! Confluent REST API (no real one installs here; the console's real client talks to it),
//! dead letters in the Confluent wire format written to a real broker. An Avro, a
//! Protobuf (with message indexes and an imported file) and a JSON Schema dead letter are
//! shown decoded, and a replay sends the original bytes; an edited copy is written back
//! with the same schema; a schema
//! id the registry does not know is shown raw with that reason; with the registry stopped
//! ingest goes on and the pages still answer, saying so.

mod common;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::dlq::{produce_with_headers, replays_on};
use common::{add_user, eventually, Broker, Console, TestDb};
use leptos::server_fn::ServerFn;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchyard_app::dlq::server_fns::LoadDeadLetterPage;

const ORDER_PLACED: &str = r#"{"type": "record", "name": "OrderPlaced", "namespace": "com.acme",
  "fields": [{"name": "orderId", "type": "string"}, {"name": "totalCents", "type": "long"},
             {"name": "currency", "type": {"type": "enum", "name": "Currency", "symbols": ["EUR", "USD"]}}]}"#;

const COMMON_PROTO: &str = r#"syntax = "proto3";
package acme.common;
message Money { string currency = 1; int64 cents = 2; }"#;

const ORDERS_PROTO: &str = r#"syntax = "proto3";
package acme.orders;
import "acme/common.proto";
message Ignored { string x = 1; }
message OrderPlaced { string order_id = 1; acme.common.Money total = 2; }"#;

/// The registry: schema 7 (Avro `OrderPlaced`), 8 (JSON Schema), 9 (Protobuf, importing
/// `acme/common.proto` from subject `common-value` version 1), 40403 for any other id;
/// answers 503 once `down` is set (as a registry behind a load balancer with no backend).
async fn registry(down: Arc<AtomicBool>) -> String {
    let by_id = |State(down): State<Arc<AtomicBool>>, Path(id): Path<u32>| async move {
        if down.load(Ordering::SeqCst) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error_code": 50003, "message": "no backend"})),
            );
        }
        match id {
            7 => (StatusCode::OK, Json(json!({"schema": ORDER_PLACED}))),
            8 => (
                StatusCode::OK,
                Json(json!({"schemaType": "JSON", "schema": "{\"type\": \"object\"}"})),
            ),
            9 => (
                StatusCode::OK,
                Json(json!({"schemaType": "PROTOBUF", "schema": ORDERS_PROTO,
                    "references": [{"name": "acme/common.proto", "subject": "common-value", "version": 1}]})),
            ),
            _ => (
                StatusCode::NOT_FOUND,
                Json(json!({"error_code": 40403, "message": format!("Schema {id} not found")})),
            ),
        }
    };
    let by_subject = |Path((subject, version)): Path<(String, u32)>| async move {
        if (subject.as_str(), version) == ("common-value", 1) {
            (
                StatusCode::OK,
                Json(json!({"subject": subject, "version": 1, "id": 10,
                    "schemaType": "PROTOBUF", "schema": COMMON_PROTO})),
            )
        } else {
            (
                StatusCode::NOT_FOUND,
                Json(json!({"error_code": 40402, "message": "Version not found"})),
            )
        }
    };
    let app = Router::new()
        .route("/schemas/ids/{id}", get(by_id))
        .route("/subjects/{subject}/versions/{version}", get(by_subject))
        .with_state(down);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// `0, id (4 bytes big-endian), body`: what a Confluent serializer writes.
fn framed(id: u32, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// OrderPlaced{orderId, totalCents, currency} in Avro's binary encoding.
fn avro_order(order: &str, cents: i64) -> Vec<u8> {
    let zigzag = |n: i64| ((n << 1) ^ (n >> 63)) as u64;
    let varint = |mut v: u64, out: &mut Vec<u8>| {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    };
    let mut out = Vec::new();
    varint(zigzag(order.len() as i64), &mut out);
    out.extend_from_slice(order.as_bytes());
    varint(zigzag(cents), &mut out);
    varint(zigzag(1), &mut out); // USD
    out
}

/// OrderPlaced{order_id, total: Money{currency, cents}} in Protobuf's binary encoding,
/// after the message indexes `[1]` (the file's second message) a serializer writes.
fn protobuf_order(order: &str, currency: &str, cents: u64) -> Vec<u8> {
    let varint = |mut v: u64, out: &mut Vec<u8>| {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    };
    let mut money = vec![0x0a, currency.len() as u8];
    money.extend_from_slice(currency.as_bytes());
    money.push(0x10);
    varint(cents, &mut money);
    let mut out = vec![0x02, 0x02]; // one index, zig-zag 1
    out.extend([0x0a, order.len() as u8]);
    out.extend_from_slice(order.as_bytes());
    out.extend([0x12, money.len() as u8]);
    out.extend(money);
    out
}

async fn dead_letter(broker: &Broker, key: &str, value: &[u8]) {
    produce_with_headers(
        broker,
        "shop.orders.DLT",
        key,
        value,
        &[
            ("kafka_dlt-original-topic", b"shop.orders".as_slice()),
            (
                "kafka_dlt-exception-message",
                b"DeserializationException".as_slice(),
            ),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_dead_letters_are_shown_decoded_and_replayed_byte_for_byte() {
    let down = Arc::new(AtomicBool::new(false));
    let url = registry(down.clone()).await;
    let db = TestDb::new().await;
    let broker = Broker::start_bare().await;
    broker
        .create_topics(&["shop.orders", "shop.orders.DLT", "order.created"], 1)
        .await;
    let console = Console::start(
        &db.url,
        Some(&broker.bootstrap),
        &[("SWITCHYARD_SCHEMA_REGISTRY_URL", url.as_str())],
    )
    .await;
    let avro = framed(7, &avro_order("ORD-77", 4200));
    dead_letter(&broker, "ORD-77", &avro).await;
    dead_letter(
        &broker,
        "ORD-78",
        &framed(8, br#"{"orderId": "ORD-78", "totalCents": 12}"#),
    )
    .await;
    dead_letter(&broker, "ORD-79", &framed(42, b"\x02\x04whatever")).await;
    let proto = framed(9, &protobuf_order("ORD-81", "EUR", 4200));
    dead_letter(&broker, "ORD-81", &proto).await;
    // The order ORD-81's dead letter belongs to, for the assistant's order tool.
    let created = json!({"id": "0193a1b2-0000-7000-8000-000000000081", "type": "order.created",
        "aggregate_id": "ORD-81", "occurred_at": "2026-12-05T10:00:00Z", "source": "orders",
        "correlation_id": "c-81", "data": {"order_id": "ORD-81", "customer_id": "acme"}});
    produce_with_headers(
        &broker,
        "order.created",
        "ORD-81",
        &serde_json::to_vec(&created).unwrap(),
        &[],
    )
    .await;
    eventually(Duration::from_secs(60), "four dead letters", || async {
        db.count("SELECT count(*) FROM dead_letters").await == 4
            && db.count("SELECT count(*) FROM orders").await == 1
    })
    .await;
    let id = |key: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM dead_letters WHERE order_id = $1")
                .bind(key)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    add_user(&db.url, "olga", "operator", "operator-password-1");
    let (http, csrf) = console.login("olga", "operator-password-1").await;
    let page = |id: i64| {
        let (http, url) = (http.clone(), console.url(&format!("/dead-letters/{id}")));
        async move {
            let r = http.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            r.text().await.unwrap()
        }
    };

    let avro_id = id("ORD-77").await;
    let html = page(avro_id).await;
    assert!(html.contains("avro, schema 7"), "the format badge");
    assert!(
        html.contains("&quot;orderId&quot;: &quot;ORD-77&quot;")
            || html.contains("\"orderId\": \"ORD-77\""),
        "decoded: {html}"
    );
    assert!(html.contains("4200") && html.contains("USD"));
    let json_html = page(id("ORD-78").await).await;
    assert!(json_html.contains("json-schema, schema 8"));
    let proto_id = id("ORD-81").await;
    let proto_html = page(proto_id).await;
    assert!(proto_html.contains("protobuf, schema 9"), "{proto_html}");
    for shown in ["orderId", "ORD-81", "currency", "EUR", "cents", "4200"] {
        assert!(proto_html.contains(shown), "{shown} decoded: {proto_html}");
    }
    let unknown = page(id("ORD-79").await).await;
    assert!(unknown.contains("data-testid=\"payload-note\""));
    assert!(
        unknown.contains("schema 42") && unknown.contains("40403"),
        "the reason"
    );

    // Decoded payloads are searchable and reach the assistant's tools, read behind ingest.
    eventually(
        Duration::from_secs(30),
        "every dead letter read",
        || async {
            db.count("SELECT count(*) FROM dead_letters WHERE readable IS NULL")
                .await
                == 0
        },
    )
    .await;
    let format: Option<String> =
        sqlx::query_scalar("SELECT readable_format FROM dead_letters WHERE id = $1")
            .bind(proto_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(format.as_deref(), Some("protobuf, schema 9"));
    let found = http
        .get(console.url(LoadDeadLetterPage::PATH))
        .query(&[("filter[payload]", "\"currency\": \"EUR\"")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        found.contains(&format!("\"id\":{proto_id},")) && found.matches("\"id\":").count() == 1,
        "the Protobuf dead letter, found by what it decodes to: {found}"
    );
    let tool = switchyard::assistant::tools::run(
        &db.pool,
        "order_status",
        &json!({"order_id": "ORD-81"}),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let dl = &tool.content["dead_letters"][0];
    assert_eq!(dl["payload_format"], "protobuf, schema 9");
    assert!(
        dl["payload_preview"].as_str().unwrap().contains("EUR"),
        "{dl}"
    );

    // A replay sends the bytes that were read, not the JSON shown: Avro, JSON Schema and
    // Protobuf alike.
    let json_framed = framed(8, br#"{"orderId": "ORD-78", "totalCents": 12}"#);
    for (n, (dl, bytes)) in [
        (avro_id, &avro),
        (id("ORD-78").await, &json_framed),
        (proto_id, &proto),
    ]
    .into_iter()
    .enumerate()
    {
        let sent = http
            .post(console.url("/api/ops/dlq/replay"))
            .header("accept", "application/json")
            .form(&[("id", dl.to_string()), ("csrf", csrf.clone())])
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 200);
        let landed = replays_on(&broker, "shop.orders");
        assert_eq!(landed.len(), n + 1);
        assert_eq!(
            landed[n].raw.as_deref(),
            Some(bytes.as_slice()),
            "byte for byte"
        );
    }

    // Edit and resend: the payload is edited as the JSON shown and written back with the
    // same schema (Avro; Protobuf with the same message indexes).
    dead_letter(&broker, "ORD-82", &framed(7, &avro_order("ORD-82", 100))).await;
    dead_letter(
        &broker,
        "ORD-83",
        &framed(9, &protobuf_order("ORD-83", "GBP", 500)),
    )
    .await;
    eventually(Duration::from_secs(60), "two more dead letters", || async {
        db.count("SELECT count(*) FROM dead_letters").await == 6
    })
    .await;
    for (n, (key, edited, expected)) in [
        (
            "ORD-82",
            json!({"orderId": "ORD-82", "totalCents": 999, "currency": "USD"}),
            framed(7, &avro_order("ORD-82", 999)),
        ),
        (
            "ORD-83",
            json!({"orderId": "ORD-83", "total": {"currency": "GBP", "cents": "700"}}),
            framed(9, &protobuf_order("ORD-83", "GBP", 700)),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let dl = id(key).await;
        let edit = |send: bool| {
            let mut form = vec![
                ("id", dl.to_string()),
                ("payload", edited.to_string()),
                ("topic", String::new()),
                ("csrf", csrf.clone()),
            ];
            if send {
                form.push(("send", "1".into()));
            }
            http.post(console.url("/api/ops/dlq/edit"))
                .header("accept", "application/json")
                .form(&form)
                .send()
        };
        let review: serde_json::Value = edit(false).await.unwrap().json().await.unwrap();
        assert_eq!(review["sent"], serde_json::Value::Null, "{review}");
        assert_eq!(review["changes"].as_array().unwrap().len(), 1, "{review}");
        let sent: serde_json::Value = edit(true).await.unwrap().json().await.unwrap();
        assert_eq!(sent["sent"]["outcome"], "sent", "{sent}");
        let landed = replays_on(&broker, "shop.orders");
        assert_eq!(landed.len(), 4 + n);
        assert_eq!(
            landed[3 + n].raw.as_deref(),
            Some(expected.as_slice()),
            "{key}: the edit written back with its schema"
        );
    }
    // An edit that does not fit the schema is refused with the encoder's reason.
    let bad = http
        .post(console.url("/api/ops/dlq/edit"))
        .header("accept", "application/json")
        .form(&[
            ("id", id("ORD-79").await.to_string()),
            ("payload", "{}".to_string()),
            ("csrf", csrf.clone()),
        ])
        .send()
        .await
        .unwrap();
    let text = bad.text().await.unwrap();
    assert!(text.contains("cannot be decoded to edit it"), "{text}");

    // The registry goes down: ingest goes on, pages answer, new ids say why they are raw.
    down.store(true, Ordering::SeqCst);
    dead_letter(&broker, "ORD-80", &framed(11, b"\x00")).await;
    eventually(Duration::from_secs(60), "ingest goes on", || async {
        db.count("SELECT count(*) FROM dead_letters").await == 7
    })
    .await;
    let down_html = page(id("ORD-80").await).await;
    assert!(
        down_html.contains("schema 11") && down_html.contains("unavailable"),
        "{down_html}"
    );
    assert!(
        page(avro_id).await.contains("avro, schema 7"),
        "a schema read once is kept"
    );
    drop(console);
    db.drop_db().await;
}
