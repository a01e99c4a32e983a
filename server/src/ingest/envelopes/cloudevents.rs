//! CloudEvents (CNCF, spec 1.0) on Kafka, per the Kafka protocol binding:
//! - **binary mode**: the attributes are headers named `ce_<attribute>` (`ce_specversion`,
//!   `ce_id`, `ce_source`, `ce_type`, `ce_time`, `ce_subject`, extensions such as
//!   `ce_traceparent`), `content-type` is the data's content type, the value is the data;
//! - **structured mode**: `content-type: application/cloudevents+json` and the value is
//!   the event as a JSON object (`data`, or `data_base64` for bytes). A JSON object with
//!   `specversion`, `id`, `source` and `type` is read the same way without the header:
//!   producers that forget it are common.
//!
//! Onto the console's envelope: `id`, `type`, `source` and `time` as themselves; the order
//! id is `subject`, else the `partitionkey` extension, else the record key (the binding
//! puts the partition key there); `traceparent` (the distributed-tracing extension) is
//! the trace context; the extensions `correlationid` and `causationid`, when a producer
//! sets them, are the correlation and causation.

use super::mapping::time_of;
use super::Foreign;
use crate::ingest::record::RawRecord;
use base64::Engine;
use serde_json::{Map, Value};

const PREFIX: &str = "ce_";
const STRUCTURED: &str = "application/cloudevents";

/// How a record carries a CloudEvent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Binary,
    Structured,
}

/// The mode `rec` is in, or `None` when it is not a CloudEvent. Looks at headers only
/// (and at the start of the value when it is a JSON object without a content type).
pub fn mode(rec: &RawRecord) -> Option<Mode> {
    let mut content_type = None;
    for (k, v) in &rec.headers {
        if k == "ce_specversion" {
            return Some(Mode::Binary);
        }
        if k.eq_ignore_ascii_case("content-type") {
            content_type = v.as_deref();
        }
    }
    match content_type {
        Some(ct) if starts_with_ignore_case(ct, STRUCTURED.as_bytes()) => Some(Mode::Structured),
        Some(_) => None,
        None => looks_structured(rec.value.as_deref()?).then_some(Mode::Structured),
    }
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// A JSON object naming its spec version: a structured CloudEvent without its header.
/// A cheap look first (most records are not), a parse only when it may be one.
fn looks_structured(value: &[u8]) -> bool {
    let text = String::from_utf8_lossy(value);
    if !text.trim_start().starts_with('{') || !text.contains("\"specversion\"") {
        return false;
    }
    serde_json::from_str::<Map<String, Value>>(&text).is_ok_and(|o| {
        ["specversion", "id", "source", "type"]
            .iter()
            .all(|a| o.get(*a).is_some_and(Value::is_string))
    })
}

/// The event `rec` carries as a CloudEvent.
pub fn read(rec: &RawRecord) -> Result<Foreign, String> {
    match mode(rec) {
        Some(m) => read_in(rec, m),
        None => Err("not a CloudEvent".into()),
    }
}

/// The event `rec` carries in the mode [`mode`] already found (not looked for again).
pub fn read_in(rec: &RawRecord, mode: Mode) -> Result<Foreign, String> {
    match mode {
        Mode::Binary => read_binary(rec),
        Mode::Structured => read_structured(rec),
    }
}

fn read_binary(rec: &RawRecord) -> Result<Foreign, String> {
    let mut attrs = Map::new();
    for (k, v) in &rec.headers {
        let Some(name) = k.strip_prefix(PREFIX) else {
            continue;
        };
        let text = v
            .as_deref()
            .map(std::str::from_utf8)
            .transpose()
            .map_err(|_| format!("CloudEvents header {k} is not UTF-8"))?;
        if let Some(t) = text {
            attrs.insert(name.to_ascii_lowercase(), Value::String(t.to_string()));
        }
    }
    let content_type = rec
        .headers
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .and_then(|(_, v)| v.as_deref())
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let data = match rec.value.as_deref() {
        None | Some([]) => Value::Null,
        Some(bytes) => data_of(bytes, content_type.as_deref())?,
    };
    foreign(attrs, data)
}

fn read_structured(rec: &RawRecord) -> Result<Foreign, String> {
    let bytes = rec.value.as_deref().ok_or("empty value (tombstone)")?;
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("structured CloudEvent is not JSON: {e}"))?;
    let Value::Object(mut attrs) = value else {
        return Err("structured CloudEvent is not a JSON object".into());
    };
    let data = match (attrs.remove("data"), attrs.remove("data_base64")) {
        (Some(d), _) => d,
        (None, Some(Value::String(b64))) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| format!("CloudEvent data_base64 is not base64: {e}"))?;
            let ct = attrs.get("datacontenttype").and_then(Value::as_str);
            data_of(&bytes, ct)?
        }
        (None, Some(_)) => return Err("CloudEvent data_base64 is not text".into()),
        (None, None) => Value::Null,
    };
    foreign(attrs, data)
}

/// The data as JSON: parsed when it is JSON (or says nothing of its type and parses),
/// else text. Bytes that are neither need a decoder the console does not have here.
fn data_of(bytes: &[u8], content_type: Option<&str>) -> Result<Value, String> {
    let json_type = content_type.is_none_or(|ct| {
        let ct = ct.to_ascii_lowercase();
        ct.starts_with("application/json") || ct.contains("+json") || ct.starts_with("text/json")
    });
    if json_type {
        if let Ok(v) = serde_json::from_slice(bytes) {
            return Ok(v);
        }
        if content_type.is_some() {
            return Err(format!(
                "CloudEvent data is not valid JSON though its content type is {}",
                content_type.unwrap_or_default()
            ));
        }
    }
    match std::str::from_utf8(bytes) {
        Ok(t) => Ok(Value::String(t.to_string())),
        Err(_) => Err(format!(
            "CloudEvent data is binary ({}), which the console cannot read as JSON",
            content_type.unwrap_or("no content type")
        )),
    }
}

/// The console's facts from a CloudEvent's attributes.
fn foreign(attrs: Map<String, Value>, data: Value) -> Result<Foreign, String> {
    let text = |name: &str| match attrs.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    for required in ["specversion", "id", "source", "type"] {
        if text(required).is_none() {
            return Err(format!(
                "CloudEvent without its required attribute {required:?}"
            ));
        }
    }
    let specversion = text("specversion").unwrap_or_default();
    if !specversion.starts_with("1.") {
        return Err(format!(
            "CloudEvents spec version {specversion:?} is not supported (1.0 is)"
        ));
    }
    let occurred_at = match attrs.get("time") {
        None | Some(Value::Null) => None,
        Some(t) => Some(time_of(t).map_err(|e| format!("CloudEvent time {e}"))?),
    };
    Ok(Foreign {
        id: text("id"),
        event_type: text("type").unwrap_or_default(),
        aggregate_id: text("subject").or_else(|| text("partitionkey")),
        occurred_at,
        source: text("source"),
        correlation_id: text("correlationid"),
        causation_id: text("causationid"),
        traceparent: text("traceparent"),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::envelopes::Envelopes;
    use serde_json::json;

    fn binary(headers: &[(&str, &str)], value: &[u8]) -> RawRecord {
        RawRecord {
            topic: "orders".into(),
            partition: 0,
            offset: 1,
            key: Some(b"ORD-5".to_vec()),
            value: Some(value.to_vec()),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.as_bytes().to_vec())))
                .collect(),
            timestamp_ms: Some(1_764_000_000_000),
        }
    }

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn binary_mode_reads_attributes_from_headers() {
        let rec = binary(
            &[
                ("ce_specversion", "1.0"),
                ("ce_id", "A234-1234-1234"),
                ("ce_source", "/shop/orders"),
                ("ce_type", "com.acme.order.created"),
                ("ce_time", "2025-11-24T16:02:03.456Z"),
                ("ce_subject", "ORD-9"),
                ("ce_traceparent", TP),
                ("content-type", "application/json"),
            ],
            br#"{"customer_id": "acme", "total_cents": 700}"#,
        );
        assert_eq!(mode(&rec), Some(Mode::Binary));
        let f = read(&rec).unwrap();
        assert_eq!(f.aggregate_id.as_deref(), Some("ORD-9"));
        assert_eq!(f.source.as_deref(), Some("/shop/orders"));
        let row = f.into_row(&rec, None).unwrap();
        assert_eq!(row.event_type, "order.created");
        assert_eq!(row.aggregate_id, "ORD-9");
        assert_eq!(row.data["total_cents"], 700);
        assert_eq!(row.occurred_at.timestamp_millis(), 1_764_000_123_456);
        assert!(row.headers.to_string().contains(TP));
    }

    #[test]
    fn structured_mode_with_and_without_its_content_type() {
        let event = json!({"specversion": "1.0", "id": "e-1", "source": "urn:shop",
            "type": "payment.completed", "partitionkey": "ORD-3", "traceparent": TP,
            "correlationid": "c-7", "datacontenttype": "application/json",
            "data": {"amount": 5}});
        let bytes = serde_json::to_vec(&event).unwrap();
        let with = binary(
            &[(
                "content-type",
                "application/cloudevents+json; charset=UTF-8",
            )],
            &bytes,
        );
        let without = binary(&[], &bytes);
        for rec in [with, without] {
            assert_eq!(mode(&rec), Some(Mode::Structured));
            let row = read(&rec).unwrap().into_row(&rec, None).unwrap();
            assert_eq!(row.event_type, "payment.completed");
            assert_eq!(row.aggregate_id, "ORD-3");
            assert_eq!(row.correlation_id.as_deref(), Some("c-7"));
            assert_eq!(row.payload.as_ref().unwrap().get(), r#"{"amount":5}"#);
            assert!(
                row.headers.to_string().contains(TP),
                "traceparent as a header"
            );
        }
        let b64 = json!({"specversion": "1.0", "id": "e-2", "source": "s", "type": "order.created",
            "subject": "ORD-4", "data_base64": "eyJ0b3RhbF9jZW50cyI6IDN9"});
        let rec = binary(&[], &serde_json::to_vec(&b64).unwrap());
        let row = read(&rec).unwrap().into_row(&rec, None).unwrap();
        assert_eq!(row.data["total_cents"], 3);
    }

    #[test]
    fn records_that_are_not_cloudevents_are_left_alone() {
        let envelope = json!({"id": "x", "type": "order.created", "aggregate_id": "A"});
        let bytes = serde_json::to_vec(&envelope).unwrap();
        assert_eq!(mode(&binary(&[], &bytes)), None);
        assert_eq!(
            mode(&binary(&[("content-type", "application/json")], &bytes)),
            None
        );
        assert_eq!(mode(&binary(&[], b"\x00\x00\x00\x00\x07avro")), None);
        // Says it is one but lacks a required attribute: a reason, not a guess.
        let rec = binary(
            &[("ce_specversion", "1.0"), ("ce_type", "order.created")],
            b"{}",
        );
        let e = read(&rec).unwrap_err();
        assert!(e.contains("\"id\""), "{e}");
        let old = binary(
            &[
                ("ce_specversion", "0.3"),
                ("ce_id", "1"),
                ("ce_source", "s"),
                ("ce_type", "order.created"),
            ],
            b"{}",
        );
        assert!(read(&old).unwrap_err().contains("0.3"));
    }

    #[test]
    fn binary_data_that_is_not_json_is_a_reason() {
        let rec = binary(
            &[
                ("ce_specversion", "1.0"),
                ("ce_id", "1"),
                ("ce_source", "s"),
                ("ce_type", "order.created"),
                ("content-type", "application/avro"),
            ],
            b"\x00\xff\x10",
        );
        let e = read(&rec).unwrap_err();
        assert!(e.contains("application/avro"), "{e}");
        let bad_json = binary(
            &[
                ("ce_specversion", "1.0"),
                ("ce_id", "1"),
                ("ce_source", "s"),
                ("ce_type", "order.created"),
                ("content-type", "application/json"),
            ],
            b"{not json",
        );
        assert!(read(&bad_json).unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn a_topic_mapping_lends_its_vocabulary_to_cloudevents() {
        let maps = crate::ingest::envelopes::mapping::parse_file(
            "[[envelope]]\ntopics=[\"orders\"]\nevent_type=\"/type\"\n[envelope.types]\n\"com.acme.OrderPlaced\" = \"order.created\"\n[envelope.fields]\ntotal_cents = \"/amount\"\n",
        )
        .unwrap();
        let envelopes = Envelopes::new(maps);
        let rec = binary(
            &[
                ("ce_specversion", "1.0"),
                ("ce_id", "1"),
                ("ce_source", "s"),
                ("ce_type", "com.acme.OrderPlaced"),
            ],
            br#"{"amount": 12}"#,
        );
        let reader = Envelopes::reader_for(&rec, envelopes.mapping_for("orders")).unwrap();
        let row = reader.read(&rec).unwrap();
        assert_eq!(row.event_type, "order.created");
        assert_eq!(row.aggregate_id, "ORD-5", "the record key");
        assert_eq!(row.data["total_cents"], 12);
    }
}
