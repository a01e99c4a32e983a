//! Ingest: Kafka records into PostgreSQL, exactly once.
//!
//! - [`decode`] turns one raw record into an event, a dead letter or a quarantine row
//!   (pure, no I/O); [`dead_letter`] reads every dead-letter dialect, [`envelopes`]
//!   other teams' event envelopes (CloudEvents, mappings from configuration).
//! - [`project`] folds a batch of events into projection deltas (pure).
//! - [`writer`] writes a batch in one transaction: events, quarantine, projections,
//!   consumer positions, and a NOTIFY for live push, all or nothing.
//! - [`consumer`] runs the Kafka consumer group, seeks newly assigned partitions to the
//!   positions stored in PostgreSQL, writes batches lane by lane, and commits to Kafka only
//!   after the database has committed (so Kafka's offsets never run ahead of the read
//!   model).
//! - [`fetch`] reads the assigned partitions, each from its own queue, and cuts batches
//!   oldest first across them ([`align`]), so a catch-up batch holds one stretch of time
//!   of every topic.

pub mod align;
pub mod batch;
pub mod consumer;
pub mod copy_binary;
pub mod dead_letter;
pub mod decode;
pub mod envelopes;
pub mod fetch;
pub mod log_incidents;
pub mod mask;
pub mod positions;
pub mod project;
pub mod record;
pub mod step_fields;
pub mod topics;
pub mod verify;
pub mod writer;

pub use decode::RawRecord;

/// PostgreSQL channel on which committed batches are announced.
pub const LIVE_CHANNEL: &str = "switchyard_live";
