//! Decoding one Kafka record into what the store keeps. Pure and total: every input
//! becomes an [`EventRow`], a [`DeadLetterRow`] (any record on a dead-letter topic, however
//! broken, and any record whose headers name an original topic) or a [`QuarantineRow`]
//! with a reason — never a panic, never nothing.
//!
//! Accepted: the contract's envelope; other teams' envelopes — CloudEvents, and the
//! mappings of configuration ([`envelopes`](super::envelopes)); and the seed's older
//! `{...fields, metadata: {timestamp, source, correlationId}}` (whose type is its topic).

use super::dead_letter::{decode_dead_letter, names_original_topic, DeadLetterRow};
use super::envelopes::{mapping::Mapping, Envelopes};
use super::project::parses_data;
use super::record::{has_nul, headers_json_without};
pub use super::record::{headers_json, without_nul, EventRow, QuarantineRow, RawRecord};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use switchyard_contract::topic_selection::TopicSelection;
use switchyard_contract::{self as contract, Envelope};
use uuid::Uuid;

/// Values above this size are quarantined rather than parsed.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    Event(EventRow),
    DeadLetter(DeadLetterRow),
    Quarantine(QuarantineRow),
}

/// Decodes a record; `dead_letters` says which topics hold dead letters.
pub fn decode(rec: &RawRecord, dead_letters: &TopicSelection) -> Decoded {
    let none = Envelopes::default();
    decode_on(rec, dead_letters.matches(&rec.topic), &none, None)
}

/// Decodes a record on a topic already known to hold dead letters or not, and whose
/// envelope mapping, if any, is known (a batch asks once per topic, not once per record).
pub fn decode_on(
    rec: &RawRecord,
    dead_letter_topic: bool,
    envelopes: &Envelopes,
    mapping: Option<&Mapping>,
) -> Decoded {
    if dead_letter_topic || names_original_topic(rec) {
        let mut row = decode_dead_letter(rec);
        if let Some(order) = foreign_order_id(&row, rec, envelopes) {
            row.order_id = Some(order);
        }
        return Decoded::DeadLetter(row);
    }
    match decode_event(rec, mapping) {
        Ok(ev) => Decoded::Event(ev),
        Err(reason) => Decoded::Quarantine(QuarantineRow {
            topic: rec.topic.clone(),
            partition: rec.partition,
            offset: rec.offset,
            key: rec.key.clone(),
            value: rec.value.clone(),
            headers: headers_json(&rec.headers),
            reason,
        }),
    }
}

/// The contract's envelope first (the common case, on the fast path), then another
/// team's envelope — a CloudEvent or the topic's mapping
/// ([`envelopes`](super::envelopes)) —, then the seed's older shape.
fn decode_event(rec: &RawRecord, mapping: Option<&Mapping>) -> Result<EventRow, String> {
    let bytes = match rec.value.as_deref() {
        Some(b) => b,
        // A binary-mode CloudEvent may carry no data; anything else empty is a tombstone.
        None => return read_foreign(rec, mapping).unwrap_or(Err("empty value (tombstone)".into())),
    };
    if bytes.len() > MAX_VALUE_BYTES {
        return Err(format!(
            "oversized value: {} bytes (limit {MAX_VALUE_BYTES})",
            bytes.len()
        ));
    }
    let text = std::str::from_utf8(bytes);
    if let Some(row) = text.ok().and_then(|t| fast_envelope(rec, t)) {
        return Ok(row);
    }
    if let Some(read) = read_foreign(rec, mapping) {
        return read;
    }
    let text = text.map_err(|e| format!("invalid UTF-8 after byte {}", e.valid_up_to()))?;
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    if has_nul(&value) {
        return Err("JSON holds a NUL character (\\u0000), which PostgreSQL cannot store".into());
    }
    let Value::Object(obj) = value else {
        return Err("not a JSON object".into());
    };
    let mut row = if obj.contains_key("type") && obj.contains_key("aggregate_id") {
        from_envelope(rec, obj)?
    } else if obj.get("metadata").is_some_and(Value::is_object) {
        from_seed(rec, obj)?
    } else {
        return Err("unrecognised shape: neither the envelope nor the seed's event".into());
    };
    if !contract::is_known_type(&row.event_type) {
        return Err(format!("unknown event type {:?}", row.event_type));
    }
    if row.aggregate_id.is_empty() {
        return Err("missing aggregate id".into());
    }
    row.headers = stored_headers(&rec.headers, &row);
    Ok(row)
}

/// The order a dead letter belongs to, when its original is another team's event (a
/// CloudEvent, or a record of a topic with a mapping): what that envelope names as the
/// order, which the record key (a customer, say) may not be.
fn foreign_order_id(dl: &DeadLetterRow, rec: &RawRecord, envelopes: &Envelopes) -> Option<String> {
    let original = RawRecord {
        topic: dl.original_topic.clone(),
        value: dl.replay_value.clone(),
        ..rec.clone()
    };
    let row = read_foreign(&original, envelopes.mapping_for(&original.topic))?.ok()?;
    Some(without_nul(&row.aggregate_id))
}

/// The record read as another team's envelope, when it is one.
fn read_foreign(rec: &RawRecord, mapping: Option<&Mapping>) -> Option<Result<EventRow, String>> {
    Envelopes::reader_for(rec, mapping).map(|r| r.read(rec))
}

/// The contract's envelope, borrowed from the record's text, with `data` left as text.
#[derive(Deserialize)]
struct EnvelopeText<'a> {
    id: Uuid,
    #[serde(rename = "type", borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    aggregate_id: Cow<'a, str>,
    #[serde(default)]
    aggregate_version: Option<i64>,
    occurred_at: DateTime<Utc>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    #[serde(borrow)]
    correlation_id: Cow<'a, str>,
    #[serde(default, borrow)]
    causation_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: &'a RawValue,
}

/// The common case, decoded without building a JSON tree: a well-formed envelope of a
/// known type. `None` sends the record down the general path, which accepts exactly what
/// it accepted before and names the reason for whatever it refuses. Text with a `\u`
/// escape always goes there: an escape may hide a NUL or a lone surrogate, which
/// PostgreSQL refuses, and only a full parse tells.
fn fast_envelope(rec: &RawRecord, text: &str) -> Option<EventRow> {
    if !text.trim_start().starts_with('{') || text.contains("\\u") {
        return None;
    }
    let env: EnvelopeText<'_> = serde_json::from_str(text).ok()?;
    if env.aggregate_id.is_empty() || !contract::is_known_type(&env.event_type) {
        return None;
    }
    let data = if parses_data(&env.event_type) {
        serde_json::from_str(env.data.get()).ok()?
    } else {
        Value::Null
    };
    let mut row = base_row(
        rec,
        env.event_type.into_owned(),
        env.aggregate_id.into_owned(),
        env.occurred_at,
    );
    row.event_id = Some(env.id);
    row.aggregate_version = env.aggregate_version;
    row.source = Some(env.source.into_owned());
    row.correlation_id = Some(env.correlation_id.into_owned());
    row.causation_id = env.causation_id.map(Cow::into_owned);
    row.data = data;
    row.payload = Some(env.data.to_owned());
    row.headers = stored_headers(&rec.headers, &row);
    Some(row)
}

/// The record's headers as stored. Routing headers that repeat an envelope field
/// (`x-event-id`, `x-event-type`, `x-correlation-id`, `x-source`) are left out, without
/// being built: the columns hold the same value and the header is rebuilt from them. A
/// header that disagrees with its field is kept. Equal bytes mean equal text here, as a
/// field that holds NUL (never stored as header text) matches nothing.
fn stored_headers(headers: &[(String, Option<Vec<u8>>)], row: &EventRow) -> Value {
    let mut id = Uuid::encode_buffer();
    let id: Option<&str> = match row.event_id {
        Some(u) => Some(u.hyphenated().encode_lower(&mut id)),
        None => None,
    };
    headers_json_without(headers, |k, v| {
        let field = match k {
            contract::H_EVENT_ID => id,
            contract::H_EVENT_TYPE => Some(row.event_type.as_str()),
            contract::H_CORRELATION_ID => row.correlation_id.as_deref(),
            contract::H_SOURCE => row.source.as_deref(),
            _ => None,
        };
        field.is_some_and(|f| v == f.as_bytes() && !f.contains('\0'))
    })
}

fn base_row(
    rec: &RawRecord,
    event_type: String,
    aggregate_id: String,
    at: DateTime<Utc>,
) -> EventRow {
    EventRow {
        topic: rec.topic.clone(),
        partition: rec.partition,
        offset: rec.offset,
        key: rec.key.clone(),
        event_id: None,
        event_type,
        aggregate_id,
        aggregate_version: None,
        occurred_at: at,
        source: None,
        correlation_id: None,
        causation_id: None,
        headers: Value::Null,
        data: Value::Null,
        payload: None,
    }
}

fn from_envelope(rec: &RawRecord, obj: Map<String, Value>) -> Result<EventRow, String> {
    let env: Envelope =
        serde_json::from_value(Value::Object(obj)).map_err(|e| format!("bad envelope: {e}"))?;
    let mut row = base_row(rec, env.event_type, env.aggregate_id, env.occurred_at);
    row.event_id = Some(env.id);
    row.aggregate_version = env.aggregate_version;
    row.source = Some(env.source);
    row.correlation_id = Some(env.correlation_id);
    row.causation_id = env.causation_id;
    row.data = env.data;
    Ok(row)
}

fn from_seed(rec: &RawRecord, mut obj: Map<String, Value>) -> Result<EventRow, String> {
    let meta = match obj.remove("metadata") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let aggregate_id = ["orderId", "order_id", "aggregateId", "aggregate_id", "id"]
        .iter()
        .find_map(|k| match obj.get(*k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
        .ok_or("seed event without orderId")?;
    let at = match meta.get("timestamp") {
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map_err(|e| format!("bad metadata.timestamp: {e}"))?
            .with_timezone(&Utc),
        _ => rec
            .timestamp_ms
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .ok_or("seed event without metadata.timestamp")?,
    };
    let mut row = base_row(rec, rec.topic.clone(), aggregate_id, at);
    let text = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
    row.source = text("source");
    row.correlation_id = text("correlationId");
    row.data = Value::Object(obj);
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decoding with the default dead-letter patterns.
    fn decode(rec: &RawRecord) -> Decoded {
        super::decode(rec, &TopicSelection::default_dead_letters())
    }
    use serde_json::json;

    fn rec(topic: &str, value: &[u8]) -> RawRecord {
        RawRecord {
            topic: topic.into(),
            partition: 1,
            offset: 7,
            key: Some(b"ORD-1".to_vec()),
            value: Some(value.to_vec()),
            headers: vec![("x-source".into(), Some(b"order-service".to_vec()))],
            timestamp_ms: Some(1_700_000_000_000),
        }
    }

    fn reason(d: Decoded) -> String {
        match d {
            Decoded::Quarantine(q) => q.reason,
            other => panic!("expected quarantine, got {other:?}"),
        }
    }

    #[test]
    fn envelope_decodes_with_all_fields() {
        let env = Envelope::new(
            "order.created",
            "ORD-1",
            "order-service",
            json!({"total_cents": 5}),
        );
        let bytes = serde_json::to_vec(&env).unwrap();
        let mut r = rec("order.created", &bytes);
        r.headers = env
            .headers()
            .map(|(k, v)| (k.to_string(), Some(v.into_bytes())))
            .to_vec();
        r.headers
            .push(("x-source".into(), Some(b"someone-else".to_vec())));
        r.headers
            .push(("traceparent".into(), Some(b"00-abc-def-01".to_vec())));
        let Decoded::Event(e) = decode(&r) else {
            panic!()
        };
        assert_eq!(e.event_id, Some(env.id));
        assert_eq!(e.aggregate_id, "ORD-1");
        assert_eq!(e.data["total_cents"], 5);
        assert_eq!((e.partition, e.offset), (1, 7));
        // Headers mirroring envelope fields are not stored twice; the others are kept.
        let kept: Vec<&str> = e
            .headers
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["text"].as_str().unwrap())
            .collect();
        assert_eq!(kept, vec!["someone-else", "00-abc-def-01"]);

        // The general path (taken for any `\u` escape) keeps and drops the same headers.
        let escaped = String::from_utf8(bytes)
            .unwrap()
            .replace("\"total_cents\"", "\"\\u0074otal_cents\"");
        let mut general = r.clone();
        general.value = Some(escaped.into_bytes());
        general
            .headers
            .push(("x-event-type".into(), Some(vec![0xff])));
        general.headers.push(("x-event-type".into(), None));
        let mut fast = r.clone();
        fast.headers = general.headers.clone();
        let (Decoded::Event(g), Decoded::Event(f)) = (decode(&general), decode(&fast)) else {
            panic!()
        };
        assert_eq!(g.data["total_cents"], 5);
        assert_eq!(g.headers, f.headers);
        assert_eq!(f.headers.as_array().unwrap().len(), 4);
    }

    #[test]
    fn seed_shape_is_accepted_with_topic_as_type() {
        let v = json!({"orderId": "ORD-9", "total": 12, "metadata": {
            "timestamp": "2026-11-25T10:00:00Z", "source": "payment", "correlationId": "c-1"}});
        let Decoded::Event(e) = decode(&rec("payment.completed", v.to_string().as_bytes())) else {
            panic!()
        };
        assert_eq!(e.event_type, "payment.completed");
        assert_eq!(e.aggregate_id, "ORD-9");
        assert_eq!(e.correlation_id.as_deref(), Some("c-1"));
        assert!(e.data.get("metadata").is_none());
    }

    #[test]
    fn malformed_records_are_quarantined_with_reasons() {
        assert!(reason(decode(&rec("order.created", b"not json"))).starts_with("invalid JSON"));
        assert!(reason(decode(&rec("order.created", &[0xff, 0xfe]))).starts_with("invalid UTF-8"));
        assert_eq!(
            reason(decode(&rec("order.created", b"[1,2]"))),
            "not a JSON object"
        );
        assert!(
            reason(decode(&rec("order.created", b"{\"a\":1}"))).starts_with("unrecognised shape")
        );
        let big = vec![b' '; MAX_VALUE_BYTES + 1];
        assert!(reason(decode(&rec("order.created", &big))).starts_with("oversized"));
        let mut tomb = rec("order.created", b"");
        tomb.value = None;
        assert!(reason(decode(&tomb)).contains("tombstone"));
        let nul = Envelope::new("order.created", "ORD-\u{0}", "x", json!({}));
        let r = reason(decode(&rec(
            "order.created",
            &serde_json::to_vec(&nul).unwrap(),
        )));
        assert!(r.contains("NUL"), "{r}");
        let unknown = Envelope::new("order.teleported", "ORD-1", "x", json!({}));
        let r = reason(decode(&rec(
            "order.created",
            &serde_json::to_vec(&unknown).unwrap(),
        )));
        assert!(r.starts_with("unknown event type"), "{r}");
    }

    #[test]
    fn quarantine_keeps_bytes_and_binary_headers() {
        let mut r = rec("order.created", &[0xff]);
        r.headers.push(("bin".into(), Some(vec![0, 0, 0, 3, 0xff])));
        r.headers.push(("none".into(), None));
        let Decoded::Quarantine(q) = decode(&r) else {
            panic!()
        };
        assert_eq!(q.value.as_deref(), Some(&[0xff][..]));
        assert_eq!(q.headers[1]["hex"], "00000003ff");
        assert!(q.headers[2].get("text").is_none());
    }
}

/// Property tests: whatever arrives, decoding returns a storable row of the right kind.
#[cfg(test)]
mod properties {
    use super::*;

    fn decode(rec: &RawRecord) -> Decoded {
        super::decode(rec, &TopicSelection::default_dead_letters())
    }
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Values that look like envelopes, with any field possibly wrong.
    fn envelope_like() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::sample::select(vec![
                "order.created",
                "saga.step",
                "breaker.transition",
                "nope",
                "",
            ]),
            ".*",
            json_value(),
            prop::option::of(json_value()),
            any::<bool>(),
        )
            .prop_map(|(t, agg, data, extra, good_time)| {
                let mut v = serde_json::json!({
                    "id": "0190b3b4-6c1f-7aaa-8000-000000000000", "type": t, "aggregate_id": agg,
                    "occurred_at": if good_time { "2026-11-25T10:00:00Z" } else { "yesterday" },
                    "source": "s", "correlation_id": "c", "data": data,
                });
                if let Some(x) = extra {
                    v["metadata"] = x;
                }
                serde_json::to_vec(&v).unwrap()
            })
    }

    fn record() -> impl Strategy<Value = RawRecord> {
        let topic = prop_oneof![
            prop::sample::select(switchyard_contract::all_topics()),
            ".*",
        ];
        let value = prop::option::of(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
            envelope_like(),
        ]);
        let headers = prop::collection::vec(
            (
                ".*",
                prop::option::of(prop::collection::vec(any::<u8>(), 0..16)),
            ),
            0..6,
        );
        (
            topic,
            prop::option::of(prop::collection::vec(any::<u8>(), 0..16)),
            value,
            headers,
            any::<Option<i64>>(),
        )
            .prop_map(|(topic, key, value, headers, ts)| RawRecord {
                topic,
                partition: 0,
                offset: 0,
                key,
                value,
                headers,
                timestamp_ms: ts,
            })
    }

    fn storable(v: &Value) -> bool {
        !has_nul(v)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn decode_is_total_and_rows_are_storable(rec in record()) {
            match decode(&rec) {
                Decoded::Event(e) => {
                    prop_assert!(!TopicSelection::default_dead_letters().matches(&rec.topic));
                    prop_assert!(switchyard_contract::is_known_type(&e.event_type));
                    prop_assert!(!e.aggregate_id.is_empty() && !e.aggregate_id.contains('\0'));
                    prop_assert!(storable(&e.data) && storable(&e.headers));
                }
                Decoded::DeadLetter(d) => {
                    prop_assert!(TopicSelection::default_dead_letters().matches(&rec.topic)
                        || names_original_topic(&rec));
                    prop_assert_eq!(d.value, rec.value);
                    prop_assert!(storable(&d.headers));
                    for t in [&d.exception_message, &d.exception_type, &d.order_id].into_iter().flatten() {
                        prop_assert!(!t.contains('\0'));
                    }
                    prop_assert!(!d.original_topic.contains('\0'));
                }
                Decoded::Quarantine(q) => {
                    prop_assert!(!q.reason.is_empty());
                    prop_assert_eq!(q.value, rec.value);
                    prop_assert!(storable(&q.headers));
                }
            }
        }
    }
}
