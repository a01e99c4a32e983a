//! `switchyard-contract`: what the console and the fleet must agree on to talk through
//! Kafka, and nothing else — so each side can depend on it without depending on the other.
//!
//! - [`topics`]: topic names (one per event type, dead-letter topics beside them);
//! - [`topic_selection`]: which topics a console reads, by name or pattern, and every
//!   ecosystem's dead-letter naming conventions;
//! - [`envelope`]: the JSON envelope and the headers that mirror its routing fields;
//! - [`trace_context`]: W3C `traceparent` in Kafka headers;
//! - [`kafka`]: how every Switchyard client connects (client settings, the producer,
//!   missing topics created, the embedded broker), and [`publish`]: an envelope on its topic;
//! - [`saga_command`]: an operator's command to a saga (`saga.command`) and its answer;
//! - [`services`]: the fleet's service map — who consumes what, behind which breaker;
//! - [`process`]: what every Switchyard process shares — the broker and log settings, log
//!   setup, and the stop signal.
//!
//! PRODUCT.md ("The event contract") is the prose version of this crate.

pub mod envelope;
pub mod kafka;
pub mod process;
pub mod publish;
pub mod saga_command;
pub mod services;
pub mod topic_selection;
pub mod topics;
pub mod trace_context;

pub use envelope::{Envelope, H_CORRELATION_ID, H_EVENT_ID, H_EVENT_TYPE, H_SOURCE};
pub use publish::{publish, publish_raw};
pub use services::BREAKERS;
pub use topics::{
    all_topics, event_types, is_known_type, BREAKER_METRICS, BREAKER_TRANSITION, DLQ_SUFFIX,
    DOMAIN_TOPICS, SAGA_COMMAND, SAGA_STEP,
};
