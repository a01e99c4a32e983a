//! The ends of the logs that lag is measured against (`read_model::log_ends`), on a real
//! broker: one request answers every partition, a partition the cluster does not have is
//! unknown rather than an error, a fresh answer is served again without asking, a stale one
//! is served at once and refreshed behind, and a broker that is gone costs a reader at most
//! one bounded wait.

mod common;

use common::{eventually, free_port, Broker};
use rdkafka::producer::FutureRecord;
use std::time::{Duration, Instant};
use switchyard::read_model::log_ends::{LogEnds, ASK_WITHIN, FRESH};

async fn produce(broker: &Broker, topic: &str, partition: i32, n: usize) {
    let producer = broker.producer();
    for i in 0..n {
        producer
            .send(
                FutureRecord::<str, str>::to(topic)
                    .partition(partition)
                    .payload(&format!("record {i}")),
                Duration::from_secs(5),
            )
            .await
            .expect("produce");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_ends_are_asked_once_and_refreshed_behind_the_reader() {
    let broker = Broker::start_bare().await;
    broker.create_topics(&["ends.a"], 2).await;
    produce(&broker, "ends.a", 0, 5).await;
    produce(&broker, "ends.a", 1, 3).await;
    let ends = LogEnds::connect(&broker.bootstrap).unwrap();
    let wanted = [
        ("ends.a".to_string(), 0),
        ("ends.a".to_string(), 1),
        ("ends.not-a-topic".to_string(), 0),
    ];
    assert_eq!(ends.of(&wanted).await, [Some(5), Some(3), None]);

    // Within FRESH the answer is reused: two more records are not seen yet.
    produce(&broker, "ends.a", 0, 2).await;
    let asked = Instant::now();
    let again = ends.of(&wanted[..1]).await;
    if asked.elapsed() < FRESH / 2 {
        assert_eq!(again, [Some(5)], "a fresh answer is served again");
    }
    // Once stale, a reader still gets an answer at once, and the refresh behind it
    // brings the new end.
    tokio::time::sleep(FRESH).await;
    eventually(
        Duration::from_secs(10),
        "the end refreshed to 7",
        || async { ends.of(&wanted[..1]).await == [Some(7)] },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_is_gone_costs_one_bounded_wait() {
    let gone = format!("127.0.0.1:{}", free_port());
    let ends = LogEnds::connect(&gone).unwrap();
    let wanted = [("orders".to_string(), 0)];
    let started = Instant::now();
    assert_eq!(ends.of(&wanted).await, [None]);
    let first = started.elapsed();
    assert!(
        first < ASK_WITHIN + Duration::from_secs(2),
        "first ask took {first:?}"
    );
    // Known to be unknown: later readers do not wait for the broker again.
    tokio::time::sleep(FRESH).await;
    let started = Instant::now();
    assert_eq!(ends.of(&wanted).await, [None]);
    let later = started.elapsed();
    assert!(
        later < Duration::from_millis(200),
        "a later read took {later:?}"
    );
}
