//! Protobuf bodies (the Confluent framing already stripped, message indexes still in
//! front) decoded with the schema that wrote them, as the Schema Registry holds it: the
//! `.proto` text and the files it imports (its references, by import name), compiled by
//! protox — a protobuf compiler in Rust, so no `protoc` to install — and read with
//! prost-reflect into Protobuf's canonical JSON mapping. Google's well-known types
//! (`google/protobuf/timestamp.proto`, …) resolve without a reference, as they do for
//! Confluent's serializers. This module only picks the message the indexes name and says
//! what went wrong in an operator's words.

use super::framing;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use serde_json::Value;
use std::collections::HashMap;

/// What the schema's own text is called while it compiles (the registry gives it no name;
/// a reference never has this one).
const MAIN: &str = "switchyard/registry-schema.proto";

/// A writer's schema, compiled once and kept while its id is cached.
#[derive(Clone, Debug)]
pub struct ProtoSchema {
    pool: DescriptorPool,
}

/// The schema's text and its references' texts, by import name.
struct Sources(HashMap<String, String>);

impl FileResolver for Sources {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.0.get(name) {
            Some(source) => File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

impl ProtoSchema {
    /// The schema's text and the files it imports, as (import name, text).
    pub fn parse(text: &str, references: &[(String, String)]) -> Result<ProtoSchema, String> {
        let mut files: HashMap<String, String> = references.iter().cloned().collect();
        files.insert(MAIN.to_string(), text.to_string());
        let mut resolver = ChainFileResolver::new();
        resolver.add(Sources(files));
        resolver.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true);
        compiler
            .open_file(MAIN)
            .map_err(|e| format!("the Protobuf schema does not compile: {e}"))?;
        Ok(ProtoSchema {
            pool: compiler.descriptor_pool(),
        })
    }

    /// The message the indexes name: the file's top-level messages in order, then nested
    /// ones within it.
    fn message(&self, indexes: &[i64]) -> Result<MessageDescriptor, String> {
        let file = self
            .pool
            .get_file_by_name(MAIN)
            .ok_or("the compiled schema lost its file")?;
        let pick = |i: i64, of: Vec<MessageDescriptor>| {
            usize::try_from(i)
                .ok()
                .and_then(|i| of.into_iter().nth(i))
                .ok_or_else(|| format!("message index {i} is not in the schema"))
        };
        let (first, nested) = indexes.split_first().unwrap_or((&0, &[]));
        let mut m = pick(*first, file.messages().collect())?;
        for i in nested {
            m = pick(*i, m.child_messages().collect())?;
        }
        Ok(m)
    }

    /// The value after the schema id (message indexes, then the body) as JSON.
    pub fn decode(&self, rest: &[u8]) -> Result<Value, String> {
        let (indexes, body) = framing::message_indexes(rest)?;
        let m = self.message(&indexes)?;
        let name = m.full_name().to_string();
        let msg = DynamicMessage::decode(m, body)
            .map_err(|e| format!("the Protobuf body does not decode as {name}: {e}"))?;
        serde_json::to_value(&msg).map_err(|e| format!("{name} has no JSON form: {e}"))
    }

    /// JSON (as [`Self::decode`] gives it, edited) as the message the indexes name, with
    /// the indexes before it: the inverse of `decode`, for an operator's edit-and-resend.
    pub fn encode(&self, indexes: &[i64], json: &Value) -> Result<Vec<u8>, String> {
        use prost::Message;
        let m = self.message(indexes)?;
        let name = m.full_name().to_string();
        let msg = DynamicMessage::deserialize(m, json.clone())
            .map_err(|e| format!("the edited value is not a {name}: {e}"))?;
        let mut out = framing::encode_message_indexes(indexes);
        out.extend(msg.encode_to_vec());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use serde_json::json;

    const COMMON: &str = r#"syntax = "proto3";
package acme.common;
message Money { string currency = 1; int64 cents = 2; }"#;

    const ORDERS: &str = r#"syntax = "proto3";
package acme.orders;
import "acme/common.proto";
import "google/protobuf/timestamp.proto";
message Ignored { string x = 1; }
message OrderPlaced {
  string order_id = 1;
  acme.common.Money total = 2;
  google.protobuf.Timestamp at = 3;
  message Line { string sku = 1; int32 qty = 2; }
  repeated Line lines = 4;
}"#;

    fn schema() -> ProtoSchema {
        ProtoSchema::parse(ORDERS, &[("acme/common.proto".into(), COMMON.into())]).unwrap()
    }

    /// Encodes `json` as the message `indexes` name, framed as a serializer frames it
    /// (without the magic byte and id).
    fn encoded(s: &ProtoSchema, indexes: &[i64], json: Value) -> Vec<u8> {
        let m = s.message(indexes).unwrap();
        let msg = DynamicMessage::deserialize(m, json).unwrap();
        let mut out = framing::encode_message_indexes(indexes);
        out.extend(msg.encode_to_vec());
        out
    }

    #[test]
    fn a_message_named_by_its_indexes_decodes_with_its_imports() {
        let s = schema();
        let placed = json!({"orderId": "ORD-9", "total": {"currency": "EUR", "cents": "4200"},
            "at": "2026-12-05T10:00:00Z", "lines": [{"sku": "a", "qty": 2}]});
        assert_eq!(
            s.decode(&encoded(&s, &[1], placed.clone())).unwrap(),
            placed
        );
        let line = json!({"sku": "b", "qty": 1});
        assert_eq!(s.decode(&encoded(&s, &[1, 0], line.clone())).unwrap(), line);
        // The single zero byte: the file's first message.
        assert_eq!(
            s.decode(&encoded(&s, &[0], json!({"x": "y"}))).unwrap(),
            json!({"x": "y"})
        );
    }

    #[test]
    fn edited_json_encodes_back_as_the_same_message() {
        let s = schema();
        let placed = json!({"orderId": "ORD-9", "total": {"currency": "EUR", "cents": "4300"},
            "at": "2026-12-05T10:00:00Z", "lines": [{"sku": "a", "qty": 3}]});
        let rest = s.encode(&[1], &placed).unwrap();
        assert_eq!(framing::message_indexes(&rest).unwrap().0, [1]);
        assert_eq!(s.decode(&rest).unwrap(), placed);
        assert!(s
            .encode(&[1], &json!({"lines": "not a list"}))
            .unwrap_err()
            .contains("is not a acme.orders.OrderPlaced"));
    }

    #[test]
    fn what_does_not_fit_is_said() {
        let s = schema();
        assert!(s
            .decode(&framing::encode_message_indexes(&[7]))
            .unwrap_err()
            .contains("message index 7"));
        let mut bad = framing::encode_message_indexes(&[1]);
        bad.extend([0x0a, 0x05, b'a']);
        assert!(s
            .decode(&bad)
            .unwrap_err()
            .contains("does not decode as acme.orders.OrderPlaced"));
        let err = ProtoSchema::parse(ORDERS, &[]).unwrap_err();
        assert!(err.contains("acme/common.proto"), "{err}");
    }
}
