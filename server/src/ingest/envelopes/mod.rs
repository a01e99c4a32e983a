//! Other teams' envelopes. The contract's envelope is one way to say what an event is;
//! a team's cluster says it in its own: CloudEvents (the CNCF standard, binary or
//! structured mode — [`cloudevents`]), or fields of its own choosing, camelCase, with the
//! type in a header and the time in epoch milliseconds ([`mapping`], from configuration).
//!
//! Each reader finds the same few facts in a record and hands them over as a [`Foreign`];
//! [`Foreign::into_row`] is the one place those facts become an [`EventRow`]: the type
//! mapped onto the console's vocabulary, an id that is not a UUID turned into a stable one,
//! the order id from the record key when the payload has none, the team's data stored as
//! it came, and the console's field names added for the projections. Pure, like
//! [`super::decode`], which asks [`Envelopes::reader_for`] once the contract's own
//! envelope has not matched.

pub mod cloudevents;
pub mod mapping;

use super::project::reads_data;
use super::record::{has_nul, headers_json, EventRow, RawRecord};
use chrono::{DateTime, Utc};
use mapping::Mapping;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use switchyard_contract as contract;
use uuid::Uuid;

/// The envelopes configured for this console: mappings by topic pattern, in the order of
/// the file (the first whose topics match reads the record). CloudEvents need no entry:
/// a record says it is one by its headers or its content type.
#[derive(Clone, Debug, Default)]
pub struct Envelopes {
    mappings: Vec<Mapping>,
}

/// How one record is read when the contract's envelope did not match it.
#[derive(Clone, Copy, Debug)]
pub enum Reader<'a> {
    /// A CloudEvent; `vocabulary` is the mapping of its topic, when one matches (its
    /// types and fields apply; its field places do not — CloudEvents say where they are).
    CloudEvent {
        mode: cloudevents::Mode,
        vocabulary: Option<&'a Mapping>,
    },
    Mapped(&'a Mapping),
}

impl Envelopes {
    pub fn new(mappings: Vec<Mapping>) -> Envelopes {
        Envelopes { mappings }
    }

    /// Reads the mapping file named by configuration (TOML, see [`mapping`]).
    pub fn load(path: &std::path::Path) -> anyhow::Result<Envelopes> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("envelope mappings {}: {e}", path.display()))?;
        let mappings = mapping::parse_file(&text)
            .map_err(|e| anyhow::anyhow!("envelope mappings {}: {e}", path.display()))?;
        Ok(Envelopes::new(mappings))
    }

    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// The topic entries of every mapping: ingest reads them as event topics.
    pub fn topic_entries(&self) -> impl Iterator<Item = &str> {
        self.mappings
            .iter()
            .flat_map(|m| m.topics().entries().iter().map(String::as_str))
    }

    /// The mapping for a topic, if any (a batch asks once per topic).
    pub fn mapping_for(&self, topic: &str) -> Option<&Mapping> {
        self.mappings.iter().find(|m| m.topics().matches(topic))
    }

    /// How to read `rec` given its topic's mapping: a CloudEvent by its own markers first
    /// (they are explicit), else the mapping.
    pub fn reader_for<'a>(rec: &RawRecord, mapping: Option<&'a Mapping>) -> Option<Reader<'a>> {
        if let Some(mode) = cloudevents::mode(rec) {
            return Some(Reader::CloudEvent {
                mode,
                vocabulary: mapping,
            });
        }
        mapping.map(Reader::Mapped)
    }
}

impl Reader<'_> {
    /// The event `rec` holds, or the reason it cannot be read this way.
    pub fn read(&self, rec: &RawRecord) -> Result<EventRow, String> {
        match self {
            Reader::CloudEvent { mode, vocabulary } => cloudevents::read_in(rec, *mode)
                .and_then(|f| f.into_row(rec, *vocabulary))
                .map_err(|e| format!("as a CloudEvent: {e}")),
            Reader::Mapped(m) => m
                .read(rec)
                .and_then(|f| f.into_row(rec, Some(*m)))
                .map_err(|e| format!("by the topic's envelope mapping: {e}")),
        }
    }
}

/// What a foreign envelope says about one event, before it is a row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Foreign {
    /// The event's own id, as text (a UUID or anything else).
    pub id: Option<String>,
    pub event_type: String,
    /// The order (aggregate) id; the record key when `None`.
    pub aggregate_id: Option<String>,
    /// The record's timestamp when `None`.
    pub occurred_at: Option<DateTime<Utc>>,
    pub source: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    /// A W3C `traceparent` carried outside the headers (a CloudEvents extension).
    pub traceparent: Option<String>,
    /// The event's data, as the team wrote it.
    pub data: Value,
}

/// Ids that are not UUIDs become version-5 UUIDs in this namespace, from the event's
/// source and id: CloudEvents call that pair unique, and the same event read twice gets
/// the same id.
const FOREIGN_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5d1c_9a0e_4f3b_4c2a_9e61_7b0d_2f84_c6a3);

impl Foreign {
    /// The row this event becomes, with `vocabulary`'s type names and fields.
    pub fn into_row(
        self,
        rec: &RawRecord,
        vocabulary: Option<&Mapping>,
    ) -> Result<EventRow, String> {
        let event_type = console_type(&self.event_type, vocabulary)?;
        let aggregate_id = match self.aggregate_id {
            Some(a) => a,
            None => rec
                .key
                .as_deref()
                .and_then(|k| std::str::from_utf8(k).ok())
                .map(str::to_string)
                .ok_or("no order id: none in the event and no text record key")?,
        };
        if aggregate_id.is_empty() {
            return Err("missing aggregate id".into());
        }
        let occurred_at = match self.occurred_at {
            Some(t) => t,
            None => rec
                .timestamp_ms
                .and_then(DateTime::<Utc>::from_timestamp_millis)
                .ok_or("no event time: none in the event and no record timestamp")?,
        };
        let texts = [
            Some(&aggregate_id),
            self.id.as_ref(),
            self.source.as_ref(),
            self.correlation_id.as_ref(),
            self.causation_id.as_ref(),
        ];
        if texts.iter().flatten().any(|t| t.contains('\0')) || has_nul(&self.data) {
            return Err("the event holds a NUL character, which PostgreSQL cannot store".into());
        }
        let event_id = self
            .id
            .as_deref()
            .map(|id| stable_id(self.source.as_deref(), id));
        let payload = serde_json::value::to_raw_value(&self.data)
            .map_err(|e| format!("data cannot be stored: {e}"))?;
        let data = if reads_data(&event_type) {
            with_console_fields(self.data, vocabulary.map(Mapping::fields))
        } else {
            Value::Null
        };
        let mut headers = rec.headers.clone();
        if let Some(tp) = self.traceparent {
            if !headers.iter().any(|(k, _)| k == "traceparent") {
                headers.push(("traceparent".into(), Some(tp.into_bytes())));
            }
        }
        Ok(EventRow {
            topic: rec.topic.clone(),
            partition: rec.partition,
            offset: rec.offset,
            key: rec.key.clone(),
            event_id,
            event_type,
            aggregate_id,
            aggregate_version: None,
            occurred_at,
            source: self.source,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            headers: headers_json(&headers),
            data,
            payload: Some(payload),
        })
    }
}

/// The id as a UUID: itself when it is one, else a stable UUID of (source, id).
fn stable_id(source: Option<&str>, id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap_or_else(|_| {
        let name = format!("{}\n{id}", source.unwrap_or(""));
        Uuid::new_v5(&FOREIGN_ID_NAMESPACE, name.as_bytes())
    })
}

/// The console's name for a team's event type: the mapping's `[types]` entry, else the
/// type itself when the console knows it, else the last two dot-separated parts when they
/// name a known type (`com.acme.order.created` is `order.created`, the CloudEvents
/// reverse-DNS convention).
pub fn console_type(theirs: &str, vocabulary: Option<&Mapping>) -> Result<String, String> {
    if let Some(t) = vocabulary.and_then(|m| m.types().get(theirs)) {
        return Ok(t.clone());
    }
    if contract::is_known_type(theirs) {
        return Ok(theirs.to_string());
    }
    let mut parts = theirs.rsplitn(3, '.');
    if let (Some(verb), Some(noun)) = (parts.next(), parts.next()) {
        let short = format!("{noun}.{verb}");
        if contract::is_known_type(&short) {
            return Ok(short);
        }
    }
    Err(format!(
        "unknown event type {theirs:?}: map it onto the console's types in the envelope mapping's [types]"
    ))
}

/// `data` with the console's field names added (`total_cents` from `/totalCents`, ...)
/// for the projections to read. A field the data already has under the console's name
/// is left alone; a pointer that finds nothing adds nothing.
fn with_console_fields(data: Value, fields: Option<&BTreeMap<String, String>>) -> Value {
    let Some(fields) = fields.filter(|f| !f.is_empty()) else {
        return data;
    };
    let mut obj = match data {
        Value::Object(o) => o,
        other => {
            let mut o = Map::new();
            o.insert("value".into(), other);
            o
        }
    };
    let whole = Value::Object(obj.clone());
    for (name, pointer) in fields {
        if obj.contains_key(name) {
            continue;
        }
        if let Some(v) = whole.pointer(pointer) {
            obj.insert(name.clone(), v.clone());
        }
    }
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec() -> RawRecord {
        RawRecord {
            topic: "shop.orders".into(),
            partition: 2,
            offset: 40,
            key: Some(b"A-17".to_vec()),
            value: None,
            headers: vec![],
            timestamp_ms: Some(1_764_000_000_000),
        }
    }

    #[test]
    fn types_map_by_table_then_by_name_then_by_reverse_dns_suffix() {
        let m = mapping::parse_file(
            r#"[[envelope]]
topics = ["shop.orders"]
event_type = "header:eventType"
[envelope.types]
OrderPlaced = "order.created"
"#,
        )
        .unwrap();
        let m = &m[0];
        assert_eq!(
            console_type("OrderPlaced", Some(m)).unwrap(),
            "order.created"
        );
        assert_eq!(
            console_type("payment.failed", Some(m)).unwrap(),
            "payment.failed"
        );
        assert_eq!(
            console_type("com.acme.shipment.created", None).unwrap(),
            "shipment.created"
        );
        assert_eq!(console_type("saga.step", None).unwrap(), "saga.step");
        let e = console_type("OrderShipped", Some(m)).unwrap_err();
        assert!(e.contains("OrderShipped") && e.contains("[types]"), "{e}");
        assert!(console_type("created", None).is_err());
    }

    #[test]
    fn a_foreign_event_becomes_a_row_with_key_time_and_stable_id_filled_in() {
        let f = Foreign {
            id: Some("evt-991".into()),
            event_type: "order.created".into(),
            source: Some("shop".into()),
            data: json!({"customerId": "acme", "totalCents": 1250}),
            ..Foreign::default()
        };
        let row = f.clone().into_row(&rec(), None).unwrap();
        assert_eq!(row.aggregate_id, "A-17", "the record key");
        assert_eq!(row.occurred_at.timestamp_millis(), 1_764_000_000_000);
        let again = f.clone().into_row(&rec(), None).unwrap();
        assert_eq!(
            row.event_id, again.event_id,
            "the same event gets the same id"
        );
        let other = Foreign {
            source: Some("billing".into()),
            ..f.clone()
        };
        assert_ne!(other.into_row(&rec(), None).unwrap().event_id, row.event_id);
        // Stored as the team wrote it.
        assert_eq!(
            row.payload.as_ref().unwrap().get(),
            r#"{"customerId":"acme","totalCents":1250}"#
        );
        let uuid = "0190a0b0-0000-7000-8000-000000000001";
        let with_uuid = Foreign {
            id: Some(uuid.into()),
            ..f
        };
        assert_eq!(
            with_uuid.into_row(&rec(), None).unwrap().event_id,
            Some(Uuid::parse_str(uuid).unwrap())
        );
    }

    #[test]
    fn console_fields_are_added_for_projections_without_overwriting() {
        let fields: BTreeMap<String, String> = [
            ("customer_id".to_string(), "/customerId".to_string()),
            ("total_cents".to_string(), "/amount/cents".to_string()),
            ("currency".to_string(), "/missing".to_string()),
            ("reason".to_string(), "/why".to_string()),
        ]
        .into();
        let data =
            json!({"customerId": "acme", "amount": {"cents": 99}, "reason": "own", "why": "x"});
        let v = with_console_fields(data, Some(&fields));
        assert_eq!(v["customer_id"], "acme");
        assert_eq!(v["total_cents"], 99);
        assert!(v.get("currency").is_none());
        assert_eq!(v["reason"], "own");
    }

    #[test]
    fn unreadable_facts_are_reasons_not_rows() {
        let mut r = rec();
        r.key = None;
        let f = Foreign {
            event_type: "order.created".into(),
            ..Foreign::default()
        };
        assert!(f
            .clone()
            .into_row(&r, None)
            .unwrap_err()
            .contains("order id"));
        r.key = Some(b"A-1".to_vec());
        r.timestamp_ms = None;
        assert!(f.clone().into_row(&r, None).unwrap_err().contains("time"));
        let nul = Foreign {
            aggregate_id: Some("A\0".into()),
            occurred_at: Some(Utc::now()),
            ..f
        };
        assert!(nul.into_row(&r, None).unwrap_err().contains("NUL"));
    }

    #[test]
    fn a_traceparent_outside_the_headers_is_stored_as_the_header() {
        let f = Foreign {
            event_type: "order.created".into(),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            ..Foreign::default()
        };
        let row = f.into_row(&rec(), None).unwrap();
        let tp = switchyard_contract::trace_context::TraceParent::from_stored_headers(&row.headers)
            .unwrap();
        assert_eq!(tp.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }
}
