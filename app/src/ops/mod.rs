//! The contract between the UI and the server: data transfer objects shared by both
//! compile targets, and the [`OpsApi`] trait the server implements (ssr only).
//!
//! Keeping the trait here lets server functions stay thin and lets the server crate own all
//! SQL without the UI depending on it.

pub mod model;

#[cfg(feature = "ssr")]
mod contract;
#[cfg(feature = "ssr")]
pub use contract::*;
pub use model::*;
