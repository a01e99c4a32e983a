//! The header policy of a replay: which of a dead letter's headers go back to the original
//! topic, and the `x-replay-*` stamps added to them. Pure, so the policy is tested alone.
//!
//! The dead-letter bookkeeping of every dialect (`x-original-*`, `x-exception-*`,
//! `kafka_dlt-*`, `__connect.errors.*`, …) is never carried; tracing and replication
//! headers are stripped by default (a job may choose otherwise); everything else is
//! carried byte for byte.

use crate::ingest::record::unhex;
use rdkafka::message::{Header, OwnedHeaders};
use serde_json::Value;
use uuid::Uuid;

/// Header-name prefixes never carried on a replay: each dialect's dead-letter bookkeeping.
const DEAD_LETTER_PREFIXES: &[&str] = &[
    "x-original-",
    "x-exception-",
    "x-failed-at",
    "x-attempts",
    "x-replay-",
    "kafka_dlt-",
    "__connect.errors.",
    "__streams.errors.",
    "dead-letter-",
];

/// Header-name prefixes a replay strips unless the operator says otherwise: stale trace
/// context and replication bookkeeping. The job form shows them (through the dry run).
pub const DEFAULT_STRIPPED: &[&str] = &[
    "traceparent",
    "tracestate",
    "uber-trace-id",
    "b3",
    "x-b3-",
    "__mm2",
    "kafka_replication",
];

/// The default policy as owned strings (what a job stores).
pub fn default_stripped() -> Vec<String> {
    DEFAULT_STRIPPED.iter().map(|s| s.to_string()).collect()
}

/// Whether a header named `key` is carried when `strip` prefixes are stripped.
pub fn carried<S: AsRef<str>>(key: &str, strip: &[S]) -> bool {
    let lower = key.to_ascii_lowercase();
    !DEAD_LETTER_PREFIXES.iter().any(|p| lower.starts_with(p))
        && !strip.iter().any(|p| lower.starts_with(p.as_ref()))
}

/// The headers a replay carries: the dead letter's own, minus bookkeeping and `strip`.
pub fn replay_headers<S: AsRef<str>>(
    stored: &Value,
    strip: &[S],
) -> Vec<(String, Option<Vec<u8>>)> {
    let Some(list) = stored.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|h| {
            let key = h.get("key")?.as_str()?.to_string();
            if !carried(&key, strip) {
                return None;
            }
            let value = match (
                h.get("text").and_then(Value::as_str),
                h.get("hex").and_then(Value::as_str),
            ) {
                (Some(t), _) => Some(t.as_bytes().to_vec()),
                (None, Some(hex)) => Some(unhex(hex)),
                _ => None,
            };
            Some((key, value))
        })
        .collect()
}

/// The stamps of one replay.
pub struct Stamp<'a> {
    pub replay_id: Uuid,
    /// The dead letter's replay count before this replay.
    pub previous_count: i32,
    pub by: &'a str,
}

/// Carried headers plus the stamps, ready for the producer.
pub fn stamped<S: AsRef<str>>(stored: &Value, strip: &[S], stamp: &Stamp) -> OwnedHeaders {
    let mut carried = replay_headers(stored, strip);
    carried.push((
        "x-replay-id".into(),
        Some(stamp.replay_id.to_string().into_bytes()),
    ));
    carried.push((
        "x-replay-count".into(),
        Some((stamp.previous_count + 1).to_string().into_bytes()),
    ));
    carried.push(("x-replayed-by".into(), Some(stamp.by.as_bytes().to_vec())));
    carried.iter().fold(
        OwnedHeaders::new_with_capacity(carried.len()),
        |h, (k, v)| {
            h.insert(Header {
                key: k,
                value: v.as_deref(),
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Headers;
    use serde_json::json;

    #[test]
    fn bookkeeping_and_trace_headers_are_not_carried() {
        let stored = json!([
            {"key": "x-event-id", "text": "e1"},
            {"key": "x-original-topic", "text": "payment.completed"},
            {"key": "kafka_dlt-original-offset", "hex": "0000000000000007"},
            {"key": "traceparent", "text": "00-abc-def-01"},
            {"key": "x-replay-count", "text": "1"},
            {"key": "bin", "hex": "00ff"},
            {"key": "empty"}
        ]);
        let h = replay_headers(&stored, DEFAULT_STRIPPED);
        assert_eq!(
            h,
            vec![
                ("x-event-id".to_string(), Some(b"e1".to_vec())),
                ("bin".to_string(), Some(vec![0, 0xff])),
                ("empty".to_string(), None),
            ]
        );
        // Asked for explicitly, trace context is kept.
        assert!(replay_headers::<&str>(&stored, &[])
            .iter()
            .any(|(k, _)| k == "traceparent"));
    }

    #[test]
    fn stamps_follow_the_carried_headers() {
        let stored =
            json!([{"key": "x-event-id", "text": "e1"}, {"key": "x-replay-count", "text": "2"}]);
        let id = Uuid::nil();
        let h = stamped(
            &stored,
            DEFAULT_STRIPPED,
            &Stamp {
                replay_id: id,
                previous_count: 2,
                by: "alice",
            },
        );
        let pairs: Vec<(String, Vec<u8>)> = h
            .iter()
            .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("x-event-id".into(), b"e1".to_vec()),
                ("x-replay-id".into(), id.to_string().into_bytes()),
                ("x-replay-count".into(), b"3".to_vec()),
                ("x-replayed-by".into(), b"alice".to_vec()),
            ]
        );
    }
}
