//! The envelope every fleet producer writes as a record's JSON value, and the header names
//! that mirror its routing fields. Ingest accepts this and, leniently, the seed's older shape.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const H_EVENT_ID: &str = "x-event-id";
pub const H_EVENT_TYPE: &str = "x-event-type";
pub const H_CORRELATION_ID: &str = "x-correlation-id";
pub const H_SOURCE: &str = "x-source";

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
