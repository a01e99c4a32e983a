//! The admin contract: users and roles, the audit log, fleet fault injection and the write
//! kill-switch. Types shared by server and browser, the [`AdminApi`] the server implements,
//! and the server functions the admin page calls — each requiring the admin role.
//!
//! Writes live under the `admin/` endpoint prefix, which the server's auth layer maps to
//! the admin role (and CSRF); the kill-switch toggle sits under `admin/settings/`, the one
//! write that stays possible while writes are off.

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
mod contract;
#[cfg(feature = "ssr")]
pub use contract::*;
pub use model::*;
pub use server_fns::*;
