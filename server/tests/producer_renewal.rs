//! A producer librdkafka declares fatal is replaced, and what was being sent goes out.
//!
//! An idempotent producer turns fatal when the broker and it disagree on its sequence (the
//! 50-minute soak's fleet: "out of order sequence number … sequence desynchronization");
//! from then on every send on that instance fails, for ever. No broker here loses a
//! producer's sequence on demand (a log cut to its end with DeleteRecords does not: Nisshi
//! keeps the producer's state), so the fatal error is raised with librdkafka's own hook
//! for testing an application's fatal-error handling (`rd_kafka_test_fatal_error`), on a
//! real producer talking to a real broker; what follows is librdkafka's real fatal state.

mod common;

use common::{eventually, Broker, TestDb};
use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, Producer};
use serde_json::json;
use std::ffi::CString;
use std::time::Duration;
use switchyard_contract::Envelope;
use switchyard_fleet::bus::{HandlerError, RetryPolicy, Subscription};
use tokio::sync::watch;

/// Puts `producer` in librdkafka's fatal state, as a sequence desynchronization does.
fn make_fatal(producer: &FutureProducer) {
    let reason = CString::new("test: sequence desynchronization with broker").unwrap();
    // SAFETY: a live client's handle and a NUL-terminated string that outlives the call.
    let err = unsafe {
        rd::rd_kafka_test_fatal_error(
            producer.client().native_ptr(),
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
            reason.as_ptr(),
        )
    };
    assert_eq!(err, rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);
    assert!(producer.client().fatal_error().is_some());
}

/// Records on `topic` (all partitions), by the broker's high watermarks.
fn records_on(broker: &Broker, topic: &str) -> i64 {
    let probe: BaseConsumer = switchyard_contract::kafka::client_config(&broker.bootstrap)
        .create()
        .unwrap();
    let meta = probe
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .unwrap();
    meta.topics()[0]
        .partitions()
        .iter()
        .map(|p| {
            let (low, high) = probe
                .fetch_watermarks(topic, p.id(), Duration::from_secs(5))
                .unwrap();
            high - low
        })
        .sum()
}

fn order(id: &str) -> Envelope {
    Envelope::new("order.created", id, "test", json!({"n": 1}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_producer_is_replaced_and_sends_go_on() {
    let broker = Broker::start().await;
    let producer = broker.renewing_producer();
    for i in 0..3 {
        producer
            .publish(&order(&format!("ORD-{i}")))
            .await
            .expect("delivered");
    }
    make_fatal(&producer.get());
    // The send that meets the fatal producer fails (its caller retries or reports it)...
    let e = producer.publish(&order("ORD-3")).await.unwrap_err();
    assert!(e.to_string().contains("Fatal"), "{e}");
    assert_eq!(producer.renewals(), 1, "replaced once");
    // ...and a check with a healthy producer replaces nothing.
    assert!(!producer.renew_if_fatal());
    assert_eq!(producer.renewals(), 1);
    for i in 4..10 {
        producer
            .publish(&order(&format!("ORD-{i}")))
            .await
            .expect("delivered by the new producer");
    }
    assert_eq!(records_on(&broker, "order.created"), 9);
}

/// The fleet's bus: a message to dead-letter while the shared producer is fatal is not
/// lost and does not stop the service — the dead letter fails once, the producer is
/// replaced, and the message is tried again and dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_dead_letters_through_a_fatal_producer() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let fleet_pool = switchyard_fleet::store::connect(&db.url).await.unwrap();
    let producer = broker.renewing_producer();
    let (stop_tx, stop_rx) = watch::channel(false);
    let sub = Subscription {
        brokers: broker.bootstrap.clone(),
        group: "payment-service".into(),
        topics: vec!["order.created".into()],
        retry: RetryPolicy {
            max_attempts: 1,
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
        accept: None,
    };
    let handler = |_env: Envelope| async { Err(HandlerError::new("Poison", "cannot charge")) };
    let service = tokio::spawn(sub.run(fleet_pool, producer.clone(), handler, stop_rx));
    make_fatal(&producer.get());
    let plain = broker.producer();
    switchyard_contract::publish(&plain, &order("ORD-P1"))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(60),
        "the poison message dead-lettered",
        || async { records_on(&broker, "order.created.dlq") == 1 },
    )
    .await;
    assert_eq!(producer.renewals(), 1);
    // The service still serves: the next poison message is dead-lettered too.
    switchyard_contract::publish(&plain, &order("ORD-P2"))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(30),
        "the second dead-lettered",
        || async { records_on(&broker, "order.created.dlq") == 2 },
    )
    .await;
    stop_tx.send(true).unwrap();
    service.await.unwrap().unwrap();
}
