//! Saga actions (issue 23): what an operator may do to an order's saga from its page —
//! retry the step it waits on, force compensation, terminate — the data the page shows
//! about them ([`model`]), the [`SagaActionsApi`] the server implements over PostgreSQL and
//! Kafka (ssr only), and the server functions the page and the admin page call
//! ([`server_fns`]).

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
mod contract;
#[cfg(feature = "ssr")]
pub use contract::*;
pub use model::*;
