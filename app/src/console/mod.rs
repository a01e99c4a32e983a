//! The contract behind the console pages (overview, breakers, order search and time
//! travel): DTOs shared by both compile targets and the [`ConsoleApi`] trait the server
//! implements (ssr only), provided through context next to [`crate::ops::OpsApi`].
//!
//! The read model hands back numbers only; charts are drawn from them on the server by
//! [`crate::charts`] (plotters, ssr only), so the wasm bundle carries no chart code.

pub mod model;

#[cfg(feature = "ssr")]
mod contract;
#[cfg(feature = "ssr")]
pub use contract::*;
pub use model::*;
