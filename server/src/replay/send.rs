//! Producing claimed replays: the original key and value to the original topic with the
//! carried headers and the stamps. Enqueues without waiting, so a batch is in flight at
//! once; the caller awaits the deliveries.

use super::claim::Claimed;
use super::headers::{stamped, Stamp};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use std::time::Duration;

/// Enqueues one replay; waits only while librdkafka's queue is full.
pub async fn enqueue<S: AsRef<str>>(
    producer: &FutureProducer,
    c: &Claimed,
    strip: &[S],
    by: &str,
) -> Result<DeliveryFuture, KafkaError> {
    loop {
        let headers = stamped(
            &c.headers,
            strip,
            &Stamp {
                replay_id: c.replay_id,
                previous_count: c.previous_count,
                by,
            },
        );
        let mut record = FutureRecord::<[u8], [u8]>::to(&c.topic).headers(headers);
        if let Some(k) = c.key.as_deref() {
            record = record.key(k);
        }
        if let Some(v) = c.value.as_deref() {
            record = record.payload(v);
        }
        match producer.send_result(record) {
            Ok(f) => return Ok(f),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Waits for one delivery: its (partition, offset), or why it failed. Counted for
/// `/metrics` as the broker answers (`sent` = acknowledged).
pub async fn delivered(f: DeliveryFuture) -> Result<(i32, i64), String> {
    let result = match f.await {
        Ok(Ok(d)) => Ok((d.partition, d.offset)),
        Ok(Err((e, _))) => Err(e.to_string()),
        Err(_) => Err("producer dropped the message".into()),
    };
    let outcome = if result.is_ok() { "sent" } else { "failed" };
    crate::metrics::global().replayed(outcome, 1);
    result
}
