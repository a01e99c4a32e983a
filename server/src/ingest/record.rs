//! The rows ingest works with, shared by every stage: a record as it came off the wire
//! ([`RawRecord`]), what the event store keeps of an event ([`EventRow`]) or of a record it
//! could not read ([`QuarantineRow`]), and how headers and bytes are written as text.
//! Decoding ([`super::decode`]) makes them; projecting, writing and fetching take them.

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use uuid::Uuid;

/// A record as it came off the wire.
#[derive(Clone, Debug, Default)]
pub struct RawRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Broker or producer timestamp, milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct EventRow {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub event_id: Option<Uuid>,
    pub event_type: String,
    pub aggregate_id: String,
    pub aggregate_version: Option<i64>,
    pub occurred_at: DateTime<Utc>,
    pub source: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub headers: Value,
    /// The event's `data`, parsed. When `payload` holds the text, only the event types
    /// the fast path's projections read from a tree ([`parses_data`](super::project::parses_data)) are parsed and the rest are `Null`.
    pub data: Value,
    /// `data` exactly as it arrived, when the decoder kept it as text: what the store keeps
    /// (else it keeps `data`). Spares parsing what no projection reads and printing it
    /// again for PostgreSQL.
    pub payload: Option<Box<RawValue>>,
}

impl PartialEq for EventRow {
    fn eq(&self, o: &Self) -> bool {
        (
            &self.topic,
            self.partition,
            self.offset,
            &self.key,
            self.event_id,
            &self.event_type,
            &self.aggregate_id,
            self.aggregate_version,
            self.occurred_at,
            (&self.source, &self.correlation_id, &self.causation_id),
            &self.headers,
            &self.data,
        ) == (
            &o.topic,
            o.partition,
            o.offset,
            &o.key,
            o.event_id,
            &o.event_type,
            &o.aggregate_id,
            o.aggregate_version,
            o.occurred_at,
            (&o.source, &o.correlation_id, &o.causation_id),
            &o.headers,
            &o.data,
        ) && self.payload.as_ref().map(|p| p.get()) == o.payload.as_ref().map(|p| p.get())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct QuarantineRow {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Value,
    pub reason: String,
}

/// Headers as JSON: `[{"key": k, "text": v}]`, or `"hex"` for values that are not UTF-8,
/// or neither for a null value. Order and repeats are kept.
pub fn headers_json(headers: &[(String, Option<Vec<u8>>)]) -> Value {
    headers_json_without(headers, |_, _| false)
}

/// [`headers_json`] leaving out the headers `skip` names by key and value.
pub(crate) fn headers_json_without(
    headers: &[(String, Option<Vec<u8>>)],
    skip: impl Fn(&str, &[u8]) -> bool,
) -> Value {
    Value::Array(
        headers
            .iter()
            .filter(|(k, v)| !v.as_deref().is_some_and(|v| skip(k, v)))
            .map(|(k, v)| {
                let mut o = Map::new();
                o.insert("key".into(), Value::String(without_nul(k)));
                if k.contains('\0') {
                    o.insert("key_hex".into(), Value::String(hex(k.as_bytes())));
                }
                match v {
                    // NUL is valid UTF-8 but PostgreSQL text cannot hold it: hex then.
                    Some(bytes) => match std::str::from_utf8(bytes) {
                        Ok(s) if !s.contains('\0') => {
                            o.insert("text".into(), Value::String(s.to_string()))
                        }
                        _ => o.insert("hex".into(), Value::String(hex(bytes))),
                    },
                    None => None,
                };
                Value::Object(o)
            })
            .collect(),
    )
}

/// `s` with NUL, which PostgreSQL text cannot hold, shown as U+FFFD.
pub fn without_nul(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

/// Whether any string or key in `v` holds U+0000.
pub(crate) fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a [`hex`] string (pairs that are not hex digits are skipped).
pub fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}
