//! The dead-letter console's contract: the data the DLQ pages show ([`model`]), the
//! [`DeadLetterApi`] trait the server implements over PostgreSQL and Kafka (ssr only), and
//! the server functions the pages call ([`server_fns`]).
//!
//! Kept apart from [`crate::ops::OpsApi`] so the read-only pages and the replay engine
//! evolve separately; the server provides both through Leptos context.

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
mod contract;
#[cfg(feature = "ssr")]
pub use contract::*;
pub use model::*;
