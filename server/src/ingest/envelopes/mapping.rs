//! A team's own envelope, described in configuration: per topic pattern, where a record
//! keeps its event id, type, order id, correlation, causation, source and time, how its
//! type names map onto the console's, and where the fields the projections read are.
//!
//! The file (`SWITCHYARD_ENVELOPES`, TOML) holds one `[[envelope]]` table per shape:
//!
//! ```toml
//! [[envelope]]
//! topics = ["shop.orders", "^shop\\.payments\\..*"]  # names and ^patterns, as SWITCHYARD_TOPICS
//! event_id = "/eventId"            # a JSON pointer into the record's value,
//! event_type = "header:eventType"  # or header:<name>, key, timestamp, topic, or 'a literal'
//! aggregate_id = "/orderId"        # default: the record key
//! occurred_at = "/occurredAt"      # RFC 3339 text or epoch seconds/milliseconds; default:
//!                                  #   the record timestamp
//! source = "'shop-service'"
//! correlation_id = "header:X-Correlation-Id"
//! causation_id = "/causationId"
//! data = "/payload"                # where the event's data is; default: the whole value
//! [envelope.types]                 # the team's type names → the console's
//! OrderPlaced = "order.created"
//! [envelope.fields]                # the console's field names → JSON pointers into data
//! customer_id = "/customerId"
//! total_cents = "/totalCents"
//! ```
//!
//! Numbers as times: at least 10^11 are milliseconds (10^11 seconds is the year 5138),
//! below that seconds; digits in text count as a number.

use super::Foreign;
use crate::ingest::record::RawRecord;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use switchyard_contract::topic_selection::TopicSelection;

/// Where in a record one fact is.
#[derive(Clone, Debug, PartialEq)]
pub enum Place {
    /// A JSON pointer into the record's value (`""` is the whole value).
    Pointer(String),
    /// A header, by name (the last of that name wins, as Kafka clients read them).
    Header(String),
    Key,
    Timestamp,
    Topic,
    Literal(String),
}

impl Place {
    pub fn parse(s: &str) -> Result<Place, String> {
        let s = s.trim();
        if s.is_empty() || s.starts_with('/') {
            return Ok(Place::Pointer(s.to_string()));
        }
        if let Some(name) = s.strip_prefix("header:") {
            if name.is_empty() {
                return Err("header: needs a header name".into());
            }
            return Ok(Place::Header(name.to_string()));
        }
        if let Some(lit) = s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            return Ok(Place::Literal(lit.to_string()));
        }
        match s {
            "key" => Ok(Place::Key),
            "timestamp" => Ok(Place::Timestamp),
            "topic" => Ok(Place::Topic),
            _ => Err(format!(
                "{s:?} is not a place: use a JSON pointer (/field), header:<name>, key, timestamp, topic or 'a literal'"
            )),
        }
    }

    /// The fact as JSON (text for headers, the key and literals), if the record has it.
    fn find(&self, rec: &RawRecord, value: &Value) -> Option<Value> {
        let text = |b: &[u8]| std::str::from_utf8(b).ok().map(|s| Value::String(s.into()));
        match self {
            Place::Pointer(p) => value.pointer(p).filter(|v| !v.is_null()).cloned(),
            Place::Header(name) => rec
                .headers
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_deref())
                .and_then(text),
            Place::Key => rec.key.as_deref().and_then(text),
            Place::Timestamp => rec.timestamp_ms.map(Value::from),
            Place::Topic => Some(Value::String(rec.topic.clone())),
            Place::Literal(l) => Some(Value::String(l.clone())),
        }
    }

    fn text(&self, rec: &RawRecord, value: &Value) -> Option<String> {
        match self.find(rec, value)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// One `[[envelope]]` of the file, checked.
#[derive(Clone, Debug)]
pub struct Mapping {
    topics: TopicSelection,
    event_id: Option<Place>,
    event_type: Place,
    aggregate_id: Option<Place>,
    occurred_at: Option<Place>,
    source: Option<Place>,
    correlation_id: Option<Place>,
    causation_id: Option<Place>,
    data: Place,
    types: BTreeMap<String, String>,
    fields: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    envelope: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    topics: Vec<String>,
    event_id: Option<String>,
    event_type: String,
    aggregate_id: Option<String>,
    occurred_at: Option<String>,
    source: Option<String>,
    correlation_id: Option<String>,
    causation_id: Option<String>,
    data: Option<String>,
    #[serde(default)]
    types: BTreeMap<String, String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

/// The mappings of a file, each checked: places readable, console types known, field
/// pointers well-formed. The error names the entry and what is wrong with it.
pub fn parse_file(text: &str) -> anyhow::Result<Vec<Mapping>> {
    let file: File = toml::from_str(text)?;
    file.envelope
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            Mapping::from_entry(e).map_err(|m| anyhow::anyhow!("[[envelope]] #{}: {m}", i + 1))
        })
        .collect()
}

impl Mapping {
    fn from_entry(e: Entry) -> Result<Mapping, String> {
        let place = |s: Option<String>| s.as_deref().map(Place::parse).transpose();
        let topics = TopicSelection::parse(&e.topics).map_err(|err| format!("topics: {err}"))?;
        if topics.is_empty() {
            return Err("topics: name at least one topic or ^pattern".into());
        }
        for (theirs, ours) in &e.types {
            if !switchyard_contract::is_known_type(ours) {
                return Err(format!(
                    "types: {theirs:?} maps onto {ours:?}, which is not a console type (one of: {})",
                    switchyard_contract::event_types().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        for (name, pointer) in &e.fields {
            if !(pointer.is_empty() || pointer.starts_with('/')) {
                return Err(format!(
                    "fields: {name} = {pointer:?} is not a JSON pointer (/field)"
                ));
            }
        }
        Ok(Mapping {
            topics,
            event_id: place(e.event_id)?,
            event_type: Place::parse(&e.event_type)?,
            aggregate_id: place(e.aggregate_id)?,
            occurred_at: place(e.occurred_at)?,
            source: place(e.source)?,
            correlation_id: place(e.correlation_id)?,
            causation_id: place(e.causation_id)?,
            data: place(e.data)?.unwrap_or(Place::Pointer(String::new())),
            types: e.types,
            fields: e.fields,
        })
    }

    pub fn topics(&self) -> &TopicSelection {
        &self.topics
    }
    pub fn types(&self) -> &BTreeMap<String, String> {
        &self.types
    }
    pub fn fields(&self) -> &BTreeMap<String, String> {
        &self.fields
    }

    /// The facts this mapping finds in `rec`, whose value must be a JSON object.
    pub fn read(&self, rec: &RawRecord) -> Result<Foreign, String> {
        let bytes = rec.value.as_deref().ok_or("empty value (tombstone)")?;
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
        let text = |p: &Option<Place>| p.as_ref().and_then(|p| p.text(rec, &value));
        let event_type = self
            .event_type
            .text(rec, &value)
            .ok_or_else(|| format!("no event type at {}", describe(&self.event_type)))?;
        let occurred_at = match &self.occurred_at {
            None => None,
            Some(p) => match p.find(rec, &value) {
                None => None,
                Some(v) => Some(time_of(&v).map_err(|e| format!("{} {e}", describe(p)))?),
            },
        };
        let data = self
            .data
            .find(rec, &value)
            .ok_or_else(|| format!("no data at {}", describe(&self.data)))?;
        Ok(Foreign {
            id: text(&self.event_id),
            event_type,
            aggregate_id: text(&self.aggregate_id),
            occurred_at,
            source: text(&self.source),
            correlation_id: text(&self.correlation_id),
            causation_id: text(&self.causation_id),
            traceparent: None,
            data,
        })
    }
}

fn describe(p: &Place) -> String {
    match p {
        Place::Pointer(p) if p.is_empty() => "the value".into(),
        Place::Pointer(p) => format!("{p:?}"),
        Place::Header(h) => format!("header {h:?}"),
        Place::Key => "the key".into(),
        Place::Timestamp => "the timestamp".into(),
        Place::Topic => "the topic".into(),
        Place::Literal(l) => format!("{l:?}"),
    }
}

/// A time as RFC 3339 text or epoch seconds or milliseconds (numbers ≥ 10^11 are
/// milliseconds), as a number or as digits in text.
pub fn time_of(v: &Value) -> Result<DateTime<Utc>, String> {
    let from_number = |n: f64| {
        let ms = if n.abs() >= 1e11 { n } else { n * 1000.0 };
        DateTime::<Utc>::from_timestamp_millis(ms.round() as i64)
            .ok_or_else(|| format!("is out of range as a time: {n}"))
    };
    match v {
        Value::Number(n) => from_number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => from_number(n),
            _ => DateTime::parse_from_rfc3339(s.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| format!("is not a time ({s:?}: {e})")),
        },
        other => Err(format!("is not a time: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPRING: &str = include_str!("../../../../examples/envelopes/spring-orders.toml");

    fn record(value: Value, headers: &[(&str, &str)]) -> RawRecord {
        RawRecord {
            topic: "shop.orders".into(),
            partition: 0,
            offset: 3,
            key: Some(b"8f1c".to_vec()),
            value: Some(serde_json::to_vec(&value).unwrap()),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.as_bytes().to_vec())))
                .collect(),
            timestamp_ms: Some(1_764_000_000_000),
        }
    }

    #[test]
    fn the_worked_spring_example_reads_an_order_placed_event() {
        let maps = parse_file(SPRING).unwrap();
        let m = maps
            .iter()
            .find(|m| m.topics().matches("shop.orders"))
            .unwrap();
        let rec = record(
            json!({"eventId": "a1b2", "orderId": "ORD-77", "occurredAt": 1764000123456_i64,
                   "customerId": "acme", "totalCents": 4200, "currency": "EUR",
                   "lineItems": [{"sku": "x"}, {"sku": "y"}]}),
            &[
                ("__TypeId__", "com.acme.shop.events.OrderPlaced"),
                ("X-Correlation-Id", "corr-9"),
            ],
        );
        let row = m.read(&rec).unwrap().into_row(&rec, Some(m)).unwrap();
        assert_eq!(row.event_type, "order.created");
        assert_eq!(row.aggregate_id, "ORD-77");
        assert_eq!(row.occurred_at.timestamp_millis(), 1_764_000_123_456);
        assert_eq!(row.correlation_id.as_deref(), Some("corr-9"));
        assert_eq!(row.data["customer_id"], "acme");
        assert_eq!(row.data["total_cents"], 4200);
        assert_eq!(row.data["items"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn places_parse_and_bad_ones_are_named() {
        assert_eq!(Place::parse("/a/b").unwrap(), Place::Pointer("/a/b".into()));
        assert_eq!(Place::parse("").unwrap(), Place::Pointer("".into()));
        assert_eq!(
            Place::parse("header:type").unwrap(),
            Place::Header("type".into())
        );
        assert_eq!(
            Place::parse("'shop'").unwrap(),
            Place::Literal("shop".into())
        );
        assert_eq!(Place::parse("key").unwrap(), Place::Key);
        let e = Place::parse("orderId").unwrap_err();
        assert!(e.contains("JSON pointer"), "{e}");
        assert!(Place::parse("header:").is_err());
    }

    #[test]
    fn a_bad_file_says_which_entry_and_what() {
        let unknown_type = "[[envelope]]\ntopics=[\"t\"]\nevent_type=\"/type\"\n[envelope.types]\nX = \"order.placed\"\n";
        let e = parse_file(unknown_type).unwrap_err().to_string();
        assert!(
            e.contains("#1") && e.contains("order.placed") && e.contains("order.created"),
            "{e}"
        );
        let bad_place = "[[envelope]]\ntopics=[\"t\"]\nevent_type=\"type\"\n";
        assert!(parse_file(bad_place)
            .unwrap_err()
            .to_string()
            .contains("not a place"));
        let typo = "[[envelope]]\ntopics=[\"t\"]\nevent_type=\"/type\"\norder_id=\"/x\"\n";
        assert!(parse_file(typo)
            .unwrap_err()
            .to_string()
            .contains("order_id"));
        let no_topics = "[[envelope]]\ntopics=[]\nevent_type=\"/type\"\n";
        assert!(parse_file(no_topics)
            .unwrap_err()
            .to_string()
            .contains("topics"));
    }

    #[test]
    fn times_in_every_usual_form() {
        let ms = 1_764_000_123_456_i64;
        for v in [
            json!(ms),
            json!(ms.to_string()),
            json!(1_764_000_123.456),
            json!("2025-11-24T16:02:03.456Z"),
        ] {
            assert_eq!(time_of(&v).unwrap().timestamp_millis(), ms, "{v}");
        }
        assert!(time_of(&json!("yesterday"))
            .unwrap_err()
            .contains("yesterday"));
        assert!(time_of(&json!(true)).is_err());
    }

    #[test]
    fn missing_facts_are_said_by_place() {
        let maps = parse_file(SPRING).unwrap();
        let m = &maps[0];
        let rec = record(json!({"orderId": "ORD-1"}), &[]);
        let e = m.read(&rec).unwrap_err();
        assert!(e.contains("__TypeId__"), "{e}");
        let mut not_json = rec.clone();
        not_json.value = Some(b"\x00\x00\x00\x00\x01".to_vec());
        assert!(m.read(&not_json).unwrap_err().contains("invalid JSON"));
    }
}
