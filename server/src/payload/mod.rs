//! Payloads in the formats other teams' producers write, as the console reads them.
//! Imports nothing of the console: ingest and the pages both read through it.
//!
//! - [`framing`]: the Confluent wire format (schema id, Protobuf message indexes).
//! - [`avro`]: Avro bodies decoded with the writer's schema.
//! - [`registry`]: the Schema Registry client (schemas by id, cached, misses as reasons).

pub mod avro;
pub mod framing;
pub mod registry;
