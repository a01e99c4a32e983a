//! Reading dead letters, whatever wrote them. Each ecosystem records where a message came
//! from in its own headers; this module recognises them in the order PRODUCT.md gives:
//!
//! 1. Spring Kafka — `kafka_dlt-original-*`, partition and offset as big-endian binary;
//! 2. Spring Cloud Stream and our fleet — `x-original-*`;
//! 3. Kafka Connect — `__connect.errors.*`;
//! 4. Kafka Streams — `__streams.errors.*`;
//! 5. SmallRye Reactive Messaging — `dead-letter-*`;
//! 6. the seed's JSON body `{originalEvent, error}`;
//! 7. nothing: the original topic from the dead-letter topic's name, by each ecosystem's
//!    naming convention (`switchyard_contract::topic_selection`), and said so in
//!    `origin_note`; when the name implies none either (Kafka Connect's `dlq-<connector>`),
//!    the original topic is unknown and the dead letter is kept but never replayed.
//!
//! Pure and total: a dead letter is always kept; what could not be read is noted in
//! `parse_note`, never a reason to drop it.

use super::record::{headers_json, without_nul, RawRecord};
use chrono::{DateTime, Utc};
use serde_json::Value;
use switchyard_contract::topic_selection::original_topic_from_name;

/// Which convention a dead letter follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    SpringKafka,
    SpringCloudStream,
    KafkaConnect,
    KafkaStreams,
    SmallRye,
    SeedJson,
    Bare,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::SpringKafka => "spring-kafka",
            Dialect::SpringCloudStream => "spring-cloud-stream",
            Dialect::KafkaConnect => "kafka-connect",
            Dialect::KafkaStreams => "kafka-streams",
            Dialect::SmallRye => "smallrye",
            Dialect::SeedJson => "seed-json",
            Dialect::Bare => "bare",
        }
    }
}

/// The header names one header-based dialect uses.
struct HeaderDialect {
    dialect: Dialect,
    topic: &'static str,
    partition: &'static str,
    offset: &'static str,
    exception_type: &'static [&'static str],
    exception_message: &'static [&'static str],
    /// Spring Kafka always writes partition and offset as binary; read that first.
    binary_first: bool,
}

const HEADER_DIALECTS: &[HeaderDialect] = &[
    HeaderDialect {
        dialect: Dialect::SpringKafka,
        topic: "kafka_dlt-original-topic",
        partition: "kafka_dlt-original-partition",
        offset: "kafka_dlt-original-offset",
        exception_type: &["kafka_dlt-exception-fqcn", "kafka_dlt-exception-cause-fqcn"],
        exception_message: &["kafka_dlt-exception-message"],
        binary_first: true,
    },
    HeaderDialect {
        dialect: Dialect::SpringCloudStream,
        topic: "x-original-topic",
        partition: "x-original-partition",
        offset: "x-original-offset",
        exception_type: &["x-exception-type", "x-exception-fqcn"],
        exception_message: &["x-exception-message"],
        binary_first: false,
    },
    HeaderDialect {
        dialect: Dialect::KafkaConnect,
        topic: "__connect.errors.topic",
        partition: "__connect.errors.partition",
        offset: "__connect.errors.offset",
        exception_type: &["__connect.errors.exception.class.name"],
        exception_message: &["__connect.errors.exception.message"],
        binary_first: false,
    },
    HeaderDialect {
        dialect: Dialect::KafkaStreams,
        topic: "__streams.errors.topic",
        partition: "__streams.errors.partition",
        offset: "__streams.errors.offset",
        exception_type: &["__streams.errors.exception"],
        exception_message: &["__streams.errors.message"],
        binary_first: false,
    },
    HeaderDialect {
        dialect: Dialect::SmallRye,
        topic: "dead-letter-topic",
        partition: "dead-letter-partition",
        offset: "dead-letter-offset",
        exception_type: &[
            "dead-letter-exception-class-name",
            "dead-letter-cause-class-name",
        ],
        exception_message: &["dead-letter-reason", "dead-letter-cause"],
        binary_first: false,
    },
];

/// A dead letter as stored: where it sits, where it came from, why it failed, and the
/// exact key and value a replay sends back.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetterRow {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Value,
    pub dialect: Dialect,
    pub original_topic: String,
    pub original_partition: Option<i32>,
    pub original_offset: Option<i64>,
    pub exception_type: Option<String>,
    pub exception_message: Option<String>,
    pub failed_at: DateTime<Utc>,
    pub attempts: Option<i32>,
    /// `x-replay-count` on the dead letter: how often this message was replayed already.
    pub replay_count: i32,
    /// `x-replay-id` when the dead letter is a replayed message that failed again.
    pub replay_id: Option<String>,
    /// The value to replay: the original bytes (for the seed dialect, `originalEvent`).
    pub replay_value: Option<Vec<u8>>,
    /// The order this message belongs to, when it can be told (key or payload).
    pub order_id: Option<String>,
    /// What could not be read, if anything (shown and flagged in the UI).
    pub parse_note: Option<String>,
    /// How the original topic was found when no header names it: from the topic's name
    /// (which convention), or not at all. `None`: a header names it.
    pub origin_note: Option<String>,
}

/// What a dead-letter header means in its dialect ("original offset", "exception
/// message"), and whether it holds an integer (Spring Kafka writes those as binary).
pub fn header_role(name: &str) -> Option<(&'static str, &'static str, bool)> {
    for d in HEADER_DIALECTS {
        let role = if name == d.topic {
            Some(("original topic", false))
        } else if name == d.partition {
            Some(("original partition", true))
        } else if name == d.offset {
            Some(("original offset", true))
        } else if d.exception_type.contains(&name) {
            Some(("exception type", false))
        } else if d.exception_message.contains(&name) {
            Some(("exception message", false))
        } else {
            None
        };
        if let Some((role, int)) = role {
            return Some((d.dialect.as_str(), role, int));
        }
    }
    match name {
        "x-failed-at" => Some(("fleet", "failed at", false)),
        "x-attempts" => Some(("fleet", "attempts", true)),
        "x-replay-id" => Some(("replay", "replay id", false)),
        "x-replay-count" => Some(("replay", "times replayed", true)),
        "x-replayed-by" => Some(("replay", "replayed by", false)),
        _ => None,
    }
}

fn header<'a>(rec: &'a RawRecord, name: &str) -> Option<&'a [u8]> {
    // The last occurrence wins: a retried dead letter may carry a header twice.
    rec.headers
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.as_deref())
}

/// A header's text, with NUL (which PostgreSQL text cannot hold) shown as U+FFFD.
fn text(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes)
        .ok()
        .map(|s| without_nul(s.trim()))
        .filter(|s| !s.is_empty())
}

/// An integer header written as decimal text or as big-endian binary (4 or 8 bytes).
pub fn int_header(bytes: &[u8]) -> Option<i64> {
    decimal(bytes).or_else(|| binary(bytes))
}

fn decimal(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

fn binary(bytes: &[u8]) -> Option<i64> {
    match bytes.len() {
        4 => Some(i32::from_be_bytes(bytes.try_into().ok()?) as i64),
        8 => Some(i64::from_be_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

fn first_text(rec: &RawRecord, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| header(rec, n).and_then(text))
}

/// Whether a record's headers name an original topic in a known dialect: such a record
/// is a dead letter whatever the topic it sits on is called.
pub fn names_original_topic(rec: &RawRecord) -> bool {
    HEADER_DIALECTS
        .iter()
        .any(|d| header(rec, d.topic).is_some())
}

pub fn decode_dead_letter(rec: &RawRecord) -> DeadLetterRow {
    let (fallback_topic, fallback_note) = match original_topic_from_name(&rec.topic) {
        Some((t, convention)) => (
            t,
            format!("original topic from the topic's name ({convention}): no header names it"),
        ),
        None => (
            rec.topic.clone(),
            "original topic unknown: no header names it and the topic's name implies none".into(),
        ),
    };
    let mut notes: Vec<String> = Vec::new();
    let mut row = DeadLetterRow {
        topic: rec.topic.clone(),
        partition: rec.partition,
        offset: rec.offset,
        key: rec.key.clone(),
        value: rec.value.clone(),
        headers: headers_json(&rec.headers),
        dialect: Dialect::Bare,
        original_topic: fallback_topic,
        original_partition: None,
        original_offset: None,
        exception_type: None,
        exception_message: None,
        failed_at: rec
            .timestamp_ms
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .unwrap_or_else(Utc::now),
        attempts: None,
        replay_count: header(rec, "x-replay-count")
            .and_then(int_header)
            .unwrap_or(0) as i32,
        replay_id: header(rec, "x-replay-id").and_then(text),
        replay_value: rec.value.clone(),
        order_id: None,
        parse_note: None,
        origin_note: None,
    };

    if let Some(d) = HEADER_DIALECTS
        .iter()
        .find(|d| header(rec, d.topic).is_some())
    {
        row.dialect = d.dialect;
        match header(rec, d.topic).and_then(text) {
            Some(t) => row.original_topic = t,
            None => notes.push(format!("unreadable {}", d.topic)),
        }
        let int = |b: &[u8]| {
            if d.binary_first {
                binary(b).or_else(|| decimal(b))
            } else {
                int_header(b)
            }
        };
        if let Some(b) = header(rec, d.partition) {
            row.original_partition = int(b).and_then(|n| i32::try_from(n).ok());
            if row.original_partition.is_none() {
                notes.push(format!("unreadable {}", d.partition));
            }
        }
        if let Some(b) = header(rec, d.offset) {
            row.original_offset = int(b);
            if row.original_offset.is_none() {
                notes.push(format!("unreadable {}", d.offset));
            }
        }
        row.exception_type = first_text(rec, d.exception_type);
        row.exception_message = first_text(rec, d.exception_message);
    } else {
        if let Some((original, error)) = seed_body(rec.value.as_deref()) {
            row.dialect = Dialect::SeedJson;
            row.replay_value = Some(original);
            row.exception_message = error;
        }
        row.origin_note = Some(fallback_note);
    }

    if let Some(at) = header(rec, "x-failed-at").and_then(text) {
        match DateTime::parse_from_rfc3339(&at) {
            Ok(t) => row.failed_at = t.with_timezone(&Utc),
            Err(_) => notes.push("unreadable x-failed-at".into()),
        }
    }
    row.attempts = header(rec, "x-attempts")
        .and_then(int_header)
        .and_then(|n| i32::try_from(n).ok());
    row.order_id = order_id(rec.key.as_deref(), row.replay_value.as_deref());
    if row.value.is_none() {
        notes.push("no value (tombstone)".into());
    } else if row
        .replay_value
        .as_deref()
        .is_some_and(|v| serde_json::from_slice::<Value>(v).is_err())
    {
        notes.push("value is not JSON".into());
    }
    if !notes.is_empty() {
        row.parse_note = Some(notes.join("; "));
    }
    row
}

/// The seed's body: `{"originalEvent": {...}, "error": "..."}` → (original bytes, error).
fn seed_body(value: Option<&[u8]>) -> Option<(Vec<u8>, Option<String>)> {
    let v: Value = serde_json::from_slice(value?).ok()?;
    let original = v.get("originalEvent")?;
    let error = v.get("error").map(|e| match e {
        Value::String(s) => without_nul(s),
        other => other.to_string(),
    });
    Some((serde_json::to_vec(original).ok()?, error))
}

/// The order id: a key that looks like one, else the payload's aggregate or order id.
fn order_id(key: Option<&[u8]>, value: Option<&[u8]>) -> Option<String> {
    if let Some(k) = key.and_then(text).filter(|k| k.len() <= 200) {
        return Some(k);
    }
    let v: Value = serde_json::from_slice(value?).ok()?;
    ["aggregate_id", "orderId", "order_id"]
        .iter()
        .find_map(|f| v.get(*f).and_then(Value::as_str))
        .map(without_nul)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dlq(headers: &[(&str, &[u8])], value: &[u8]) -> RawRecord {
        RawRecord {
            topic: "payment.completed.dlq".into(),
            partition: 0,
            offset: 11,
            key: Some(b"ORD-7".to_vec()),
            value: Some(value.to_vec()),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.to_vec())))
                .collect(),
            timestamp_ms: Some(1_700_000_000_000),
        }
    }

    const BODY: &[u8] = br#"{"aggregate_id":"ORD-7","type":"payment.completed"}"#;

    #[test]
    fn spring_kafka_binary_positions() {
        let r = decode_dead_letter(&dlq(
            &[
                ("kafka_dlt-original-topic", b"payments"),
                ("kafka_dlt-original-partition", &2i32.to_be_bytes()),
                (
                    "kafka_dlt-original-offset",
                    &123_456_789_012i64.to_be_bytes(),
                ),
                (
                    "kafka_dlt-exception-fqcn",
                    b"org.springframework.kafka.listener.ListenerExecutionFailedException",
                ),
                (
                    "kafka_dlt-exception-message",
                    b"Listener failed; card declined",
                ),
            ],
            BODY,
        ));
        assert_eq!(r.dialect, Dialect::SpringKafka);
        assert_eq!(r.original_topic, "payments");
        assert_eq!(r.original_partition, Some(2));
        assert_eq!(r.original_offset, Some(123_456_789_012));
        assert!(r
            .exception_type
            .unwrap()
            .ends_with("ListenerExecutionFailedException"));
        assert_eq!(
            r.exception_message.as_deref(),
            Some("Listener failed; card declined")
        );
        assert_eq!(r.parse_note, None);
        assert_eq!(r.replay_value.as_deref(), Some(BODY));
    }

    #[test]
    fn spring_cloud_stream_and_fleet_text_headers() {
        let r = decode_dead_letter(&dlq(
            &[
                ("x-original-topic", b"payment.completed"),
                ("x-original-partition", b"1"),
                ("x-original-offset", b"42"),
                ("x-exception-message", b"gateway timeout"),
                ("x-exception-type", b"GatewayTimeout"),
                ("x-failed-at", b"2026-11-25T10:00:00Z"),
                ("x-attempts", b"3"),
            ],
            BODY,
        ));
        assert_eq!(r.dialect, Dialect::SpringCloudStream);
        assert_eq!(
            (r.original_partition, r.original_offset),
            (Some(1), Some(42))
        );
        assert_eq!(r.attempts, Some(3));
        assert_eq!(r.failed_at.to_rfc3339(), "2026-11-25T10:00:00+00:00");
        assert_eq!(r.order_id.as_deref(), Some("ORD-7"));
    }

    #[test]
    fn kafka_connect_streams_and_smallrye() {
        let c = decode_dead_letter(&dlq(
            &[
                ("__connect.errors.topic", b"orders-raw"),
                ("__connect.errors.partition", b"0"),
                ("__connect.errors.offset", b"9"),
                (
                    "__connect.errors.exception.class.name",
                    b"org.apache.kafka.connect.errors.DataException",
                ),
                (
                    "__connect.errors.exception.message",
                    b"Converting byte[] to Kafka Connect data failed",
                ),
            ],
            b"\x00\x01garbage",
        ));
        assert_eq!(
            (c.dialect, c.original_topic.as_str()),
            (Dialect::KafkaConnect, "orders-raw")
        );
        assert_eq!(c.original_offset, Some(9));
        assert_eq!(c.parse_note.as_deref(), Some("value is not JSON"));

        let s = decode_dead_letter(&dlq(
            &[
                ("__streams.errors.topic", b"inventory.reserved"),
                ("__streams.errors.partition", b"2"),
                ("__streams.errors.offset", b"77"),
                (
                    "__streams.errors.exception",
                    b"org.apache.kafka.common.errors.SerializationException",
                ),
                ("__streams.errors.message", b"bad record"),
            ],
            BODY,
        ));
        assert_eq!(
            (s.dialect, s.original_partition),
            (Dialect::KafkaStreams, Some(2))
        );
        assert_eq!(s.exception_message.as_deref(), Some("bad record"));

        let y = decode_dead_letter(&dlq(
            &[
                ("dead-letter-topic", b"shipment.created"),
                ("dead-letter-partition", b"1"),
                ("dead-letter-offset", b"5"),
                ("dead-letter-reason", b"carrier rejected"),
                (
                    "dead-letter-exception-class-name",
                    b"java.lang.IllegalStateException",
                ),
            ],
            BODY,
        ));
        assert_eq!(
            (y.dialect, y.original_topic.as_str()),
            (Dialect::SmallRye, "shipment.created")
        );
        assert_eq!(y.exception_message.as_deref(), Some("carrier rejected"));
    }

    #[test]
    fn precedence_follows_the_documented_order() {
        let r = decode_dead_letter(&dlq(
            &[
                ("x-original-topic", b"second"),
                ("kafka_dlt-original-topic", b"first"),
            ],
            BODY,
        ));
        assert_eq!(
            (r.dialect, r.original_topic.as_str()),
            (Dialect::SpringKafka, "first")
        );
    }

    #[test]
    fn seed_json_body_replays_the_original_event() {
        let r = decode_dead_letter(&dlq(
            &[],
            br#"{"originalEvent":{"orderId":"ORD-9","total":5},"error":"Error: boom"}"#,
        ));
        assert_eq!(r.dialect, Dialect::SeedJson);
        assert_eq!(r.original_topic, "payment.completed");
        assert_eq!(r.exception_message.as_deref(), Some("Error: boom"));
        let replay: Value = serde_json::from_slice(r.replay_value.as_deref().unwrap()).unwrap();
        assert_eq!(replay["orderId"], "ORD-9");
    }

    #[test]
    fn bare_and_broken_dead_letters_are_kept_and_flagged() {
        let mut rec = dlq(&[("x-original-partition", b"\x01\x02\x03")], b"not json");
        rec.key = None;
        let r = decode_dead_letter(&rec);
        assert_eq!(r.dialect, Dialect::Bare);
        assert_eq!(r.original_topic, "payment.completed");
        assert_eq!(r.parse_note.as_deref(), Some("value is not JSON"));
        assert!(r.origin_note.unwrap().contains("<topic>.dlq"));
        assert_eq!(r.order_id, None);

        // Kafka Connect without context headers: the name is a connector's, not a topic's.
        let mut rec = dlq(&[], BODY);
        rec.topic = "dlq-jdbc-sink".into();
        let r = decode_dead_letter(&rec);
        assert_eq!(r.original_topic, "dlq-jdbc-sink");
        assert!(r.origin_note.unwrap().starts_with("original topic unknown"));
        assert!(!names_original_topic(&rec));

        let r = decode_dead_letter(&dlq(
            &[
                ("kafka_dlt-original-topic", b"t"),
                ("kafka_dlt-original-offset", b"\x01\x02\x03"),
            ],
            BODY,
        ));
        assert_eq!(
            r.parse_note.as_deref(),
            Some("unreadable kafka_dlt-original-offset")
        );
    }

    #[test]
    fn replay_stamps_are_read() {
        let r = decode_dead_letter(&dlq(
            &[
                ("x-original-topic", b"t"),
                ("x-replay-count", b"2"),
                ("x-replay-id", b"r-1"),
            ],
            BODY,
        ));
        assert_eq!((r.replay_count, r.replay_id.as_deref()), (2, Some("r-1")));
    }
}
