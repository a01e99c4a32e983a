//! Publishing by the contract: an envelope goes to the topic named by its type, keyed by its
//! aggregate id, with the routing headers and a `traceparent`; raw bytes go as they are.

use crate::envelope::Envelope;
use crate::trace_context;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

/// Publishes one event to the topic named by its type, keyed by its aggregate id, with
/// the contract's routing headers and a `traceparent` continuing the trace of the message
/// being handled (or starting one).
pub async fn publish(producer: &FutureProducer, env: &Envelope) -> anyhow::Result<(i32, i64)> {
    let value = serde_json::to_vec(env)?;
    let mut headers = OwnedHeaders::new();
    for (k, v) in env.headers() {
        headers = headers.insert(Header {
            key: k,
            value: Some(v.as_bytes()),
        });
    }
    let trace = trace_context::outgoing().to_string();
    headers = headers.insert(Header {
        key: trace_context::HEADER,
        value: Some(trace.as_bytes()),
    });
    let record = FutureRecord::to(&env.event_type)
        .key(env.aggregate_id.as_bytes())
        .payload(&value)
        .headers(headers);
    let delivery = producer
        .send(record, Duration::from_secs(30))
        .await
        .map_err(|(e, _)| anyhow::anyhow!("publish {}: {e}", env.event_type))?;
    Ok((delivery.partition, delivery.offset))
}

/// Publishes raw bytes as they are: for malformed-input tests and demos of quarantine.
pub async fn publish_raw(
    producer: &FutureProducer,
    topic: &str,
    key: Option<&[u8]>,
    value: &[u8],
) -> anyhow::Result<(i32, i64)> {
    let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(value);
    if let Some(k) = key {
        record = record.key(k);
    }
    let delivery = producer
        .send(record, Duration::from_secs(30))
        .await
        .map_err(|(e, _)| anyhow::anyhow!("publish raw to {topic}: {e}"))?;
    Ok((delivery.partition, delivery.offset))
}
