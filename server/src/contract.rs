//! The event contract (PRODUCT.md, "The event contract"): topic names, the envelope every
//! producer writes, and the header names that mirror its routing fields.
//!
//! The fleet produces exactly this; ingest accepts this and, leniently, the seed's older shape.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Domain topics: one per event type, `<aggregate>.<past-tense>`, keyed by order id.
pub const DOMAIN_TOPICS: &[&str] = &[
    "order.created",
    "order.confirmed",
    "order.cancelled",
    "order.failed",
    "order.completed",
    "inventory.reserved",
    "inventory.failed",
    "inventory.released",
    "payment.completed",
    "payment.failed",
    "payment.refunded",
    "shipment.created",
    "shipment.failed",
    "shipment.cancelled",
    "notification.sent",
];
pub const SAGA_STEP: &str = "saga.step";
pub const BREAKER_TRANSITION: &str = "breaker.transition";
pub const BREAKER_METRICS: &str = "breaker.metrics";
/// Suffix of every dead-letter topic: `<topic>.dlq`.
pub const DLQ_SUFFIX: &str = ".dlq";

pub const H_EVENT_ID: &str = "x-event-id";
pub const H_EVENT_TYPE: &str = "x-event-type";
pub const H_CORRELATION_ID: &str = "x-correlation-id";
pub const H_SOURCE: &str = "x-source";

/// Every event type the console understands (domain, saga and breaker topics).
pub fn event_types() -> impl Iterator<Item = &'static str> {
    DOMAIN_TOPICS
        .iter()
        .copied()
        .chain([SAGA_STEP, BREAKER_TRANSITION, BREAKER_METRICS])
}

pub fn is_known_type(t: &str) -> bool {
    event_types().any(|k| k == t)
}

/// Every topic the console consumes: each event type and the dead-letter topic of each
/// domain and saga topic.
pub fn all_topics() -> Vec<String> {
    let mut topics: Vec<String> = event_types().map(str::to_string).collect();
    topics.extend(
        DOMAIN_TOPICS
            .iter()
            .chain(&[SAGA_STEP])
            .map(|t| format!("{t}{DLQ_SUFFIX}")),
    );
    topics
}

/// The JSON value of every record the fleet produces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub aggregate_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate_version: Option<i64>,
    pub occurred_at: DateTime<Utc>,
    pub source: String,
    pub correlation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    pub data: serde_json::Value,
}

impl Envelope {
    /// A fresh event (UUIDv7 id, now) that starts its own correlation.
    pub fn new(
        event_type: &str,
        aggregate_id: &str,
        source: &str,
        data: serde_json::Value,
    ) -> Self {
        let id = Uuid::now_v7();
        Envelope {
            id,
            event_type: event_type.to_string(),
            aggregate_id: aggregate_id.to_string(),
            aggregate_version: None,
            occurred_at: Utc::now(),
            source: source.to_string(),
            correlation_id: id.to_string(),
            causation_id: None,
            data,
        }
    }

    /// The routing headers that mirror the envelope.
    pub fn headers(&self) -> [(&'static str, String); 4] {
        [
            (H_EVENT_ID, self.id.to_string()),
            (H_EVENT_TYPE, self.event_type.clone()),
            (H_CORRELATION_ID, self.correlation_id.clone()),
            (H_SOURCE, self.source.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_cover_types_and_their_dead_letters() {
        let topics = all_topics();
        assert!(topics.contains(&"order.created".to_string()));
        assert!(topics.contains(&"order.created.dlq".to_string()));
        assert!(topics.contains(&"saga.step.dlq".to_string()));
        assert!(!topics.contains(&"breaker.metrics.dlq".to_string()));
        assert_eq!(topics.len(), 18 + 16);
    }

    #[test]
    fn envelope_round_trips_with_the_contract_field_names() {
        let e = Envelope::new(
            "order.created",
            "ORD-1",
            "order-service",
            serde_json::json!({"x": 1}),
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "order.created");
        assert_eq!(v["aggregate_id"], "ORD-1");
        assert!(v.get("aggregate_version").is_none());
        assert_eq!(serde_json::from_value::<Envelope>(v).unwrap(), e);
    }
}
