//! The assistant sidebar: the contract the server implements ([`AssistantApi`], ssr only),
//! the server functions the sidebar calls, and the sidebar itself.
//!
//! The assistant answers questions from the read model with read-only tools. Anything that
//! would change state comes back as a [`ReplayProposal`] card; only an operator's click on
//! the card's button runs it, through the DLQ page's own replay-job server function.

pub mod model;
pub mod server_fns;
pub mod sidebar;

#[cfg(feature = "ssr")]
mod contract;
#[cfg(feature = "ssr")]
pub use contract::*;
pub use model::*;
pub use server_fns::*;
