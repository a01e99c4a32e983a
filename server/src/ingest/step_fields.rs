//! The fields of a `saga.step` event's data that the projections read, taken straight
//! from the data's text without building a JSON tree.
//!
//! Saga steps are about half of all events, and the projections read seven of their
//! fields; parsing each one's data into a `serde_json::Value` (a map, a string per key)
//! only to look up those fields and drop the tree was a large share of ingest's CPU. The
//! reader here borrows the fields from the text and reads exactly what the tree's lookups
//! read: a field is text only when it is a JSON string, `attempt` only when it is an
//! integer that fits in an `i64`, the last of repeated keys wins, and anything that is not
//! an object has none of them.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// What [`super::project::saga_step`] reads of a step's data.
#[derive(Debug, Default, PartialEq)]
pub struct StepFields<'a> {
    pub saga_id: Option<Cow<'a, str>>,
    pub order_id: Option<Cow<'a, str>>,
    pub step: Option<Cow<'a, str>>,
    pub action: Option<Cow<'a, str>>,
    pub status: Option<Cow<'a, str>>,
    pub error: Option<Cow<'a, str>>,
    pub attempt: Option<i64>,
    pub at: Option<Cow<'a, str>>,
}

impl<'a> StepFields<'a> {
    /// From the data's text (stored JSON); `None` if an object does not parse. Anything
    /// but an object has none of the fields.
    pub fn of_text(text: &'a str) -> Option<Self> {
        if !text.trim_start().starts_with('{') {
            return Some(StepFields::default());
        }
        serde_json::from_str(text).ok()
    }

    /// From data already parsed (the general path, and other teams' envelopes, whose
    /// console fields are added to the tree).
    pub fn of_value(data: &'a Value) -> Self {
        let text = |k: &str| data.get(k).and_then(Value::as_str).map(Cow::Borrowed);
        StepFields {
            saga_id: text("saga_id"),
            order_id: text("order_id"),
            step: text("step"),
            action: text("action"),
            status: text("status"),
            error: text("error"),
            attempt: data.get("attempt").and_then(Value::as_i64),
            at: text("at"),
        }
    }
}

impl<'de> Deserialize<'de> for StepFields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(Fields)
    }
}

/// Any JSON value; keeps a string (borrowed where the text allows), drops the rest.
struct Text<'a>(Option<Cow<'a, str>>);

/// Any JSON value; keeps an integer that fits in an `i64`, drops the rest.
struct Int(Option<i64>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyValue).map(|s| match s {
            Scalar::Text(t) => Text(Some(t)),
            _ => Text(None),
        })
    }
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyValue).map(|s| match s {
            Scalar::Int(i) => Int(Some(i)),
            _ => Int(None),
        })
    }
}

/// A JSON value as far as these fields care: a string, an `i64`, or something else.
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    Other,
}

/// Reads any JSON value as a [`Scalar`].
struct AnyValue;

impl<'de> Visitor<'de> for AnyValue {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(Scalar::Other, Scalar::Int))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

/// The data as a whole, an object ([`StepFields::of_text`] answers for the rest).
struct Fields;

impl<'de> Visitor<'de> for Fields {
    type Value = StepFields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut f = StepFields::default();
        while let Some(Text(Some(key))) = map.next_key::<Text<'de>>()? {
            let text = |t: Text<'de>| t.0;
            match key.as_ref() {
                "saga_id" => f.saga_id = text(map.next_value()?),
                "order_id" => f.order_id = text(map.next_value()?),
                "step" => f.step = text(map.next_value()?),
                "action" => f.action = text(map.next_value()?),
                "status" => f.status = text(map.next_value()?),
                "error" => f.error = text(map.next_value()?),
                "at" => f.at = text(map.next_value()?),
                "attempt" => f.attempt = map.next_value::<Int>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text reader and the tree's lookups agree, whatever the data holds.
    #[test]
    fn the_text_reader_reads_what_the_trees_lookups_read() {
        let cases = [
            r#"{"saga_id":"S","order_id":"O","step":"payment","action":"compensate","status":"failed","error":"card \"declined\"\n","attempt":3,"at":"2026-01-01T00:00:00Z"}"#,
            r#"{"step":"inventory","status":"started","extra":{"nested":[1,{"step":"no"}]},"attempt":"2"}"#,
            r#"{"step":5,"status":null,"attempt":1.0,"error":false,"at":[]}"#,
            r#"{"step":"a","step":"b","attempt":18446744073709551615}"#,
            r#"{"step":"x","status":"y","attempt":-4}"#,
            r#"{"st\u0065p":"escaped key","status":"s"}"#,
            r#"[{"step":"in an array"}]"#,
            r#""just text""#,
            "null",
            "42",
            "{}",
        ];
        for text in cases {
            let tree: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                StepFields::of_text(text).unwrap(),
                StepFields::of_value(&tree),
                "{text}"
            );
        }
        assert!(StepFields::of_text("{not json").is_none());
    }

    #[test]
    fn plain_fields_are_borrowed_from_the_text() {
        let f = StepFields::of_text(r#"{"step":"payment","error":"a\"b"}"#).unwrap();
        assert!(matches!(f.step, Some(Cow::Borrowed("payment"))));
        assert_eq!(f.error.as_deref(), Some("a\"b"));
    }
}
