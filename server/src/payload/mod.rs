//! Payloads in the formats other teams' producers write, as the console reads them.
//! Imports nothing of the console: ingest and the pages both read through it.
//!
//! - [`framing`]: the Confluent wire format (schema id, Protobuf message indexes).

pub mod framing;
