//! Payloads in the formats other teams' producers write, as the console reads them.
//! Imports nothing of the console: ingest and the pages both read through it.
//!
//! - [`framing`]: the Confluent wire format (schema id, Protobuf message indexes).
//! - [`avro`]: Avro bodies decoded with the writer's schema.
//! - [`protobuf`]: Protobuf bodies decoded with the writer's `.proto` and its imports.
//! - [`registry`]: the Schema Registry client (schemas by id, cached, misses as reasons).

pub mod avro;
pub mod framing;
pub mod protobuf;
pub mod registry;

use registry::{Decoder, Registry};
use serde_json::Value;

/// A framed payload read with its schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Read {
    pub json: Value,
    /// `avro`, `protobuf` or `json-schema`.
    pub format: &'static str,
    pub schema_id: u32,
}

/// The value `framed` holds, read with the schema the registry has for it; the reason,
/// naming the schema id, when it cannot be.
pub async fn read_framed(registry: &Registry, framed: framing::Framed<'_>) -> Result<Read, String> {
    let id = framed.schema_id;
    let decoder = registry
        .decoder(id)
        .await
        .map_err(|m| format!("schema {id}: {m}"))?;
    let (json, format) = match &*decoder {
        Decoder::Avro(schema) => (schema.decode(framed.rest), "avro"),
        Decoder::Json => (
            serde_json::from_slice(framed.rest).map_err(|e| format!("the body is not JSON: {e}")),
            "json-schema",
        ),
        Decoder::Protobuf(schema) => (schema.decode(framed.rest), "protobuf"),
    };
    json.map(|json| Read {
        json,
        format,
        schema_id: id,
    })
    .map_err(|e| format!("schema {id} ({format}): {e}"))
}

/// `json` written back the way `framed` was: the same schema id, Protobuf's same message
/// indexes, the body encoded with the same schema — the inverse of [`read_framed`].
pub async fn write_framed(
    registry: &Registry,
    framed: framing::Framed<'_>,
    json: &Value,
) -> Result<Vec<u8>, String> {
    let id = framed.schema_id;
    let decoder = registry
        .decoder(id)
        .await
        .map_err(|m| format!("schema {id}: {m}"))?;
    let body = match &*decoder {
        Decoder::Avro(schema) => schema.encode(json),
        Decoder::Json => serde_json::to_vec(json).map_err(|e| e.to_string()),
        Decoder::Protobuf(schema) => {
            let (indexes, _) = framing::message_indexes(framed.rest)?;
            schema.encode(&indexes, json)
        }
    }
    .map_err(|e| format!("schema {id}: {e}"))?;
    Ok(framing::frame(id, &body))
}
