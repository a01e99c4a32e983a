//! The ops contract's trait, implemented by the server and provided through Leptos
//! context (ssr only).

use super::{OpsError, OrderDetail, OrderRow, QuarantinedView};
use std::sync::Arc;

/// Read-model operations the pages need. Implemented by the `switchyard` server over
/// PostgreSQL and provided to server functions through Leptos context.
#[async_trait::async_trait]
pub trait OpsApi: Send + Sync + 'static {
    /// The most recently changed orders, newest first.
    async fn recent_orders(&self, limit: i64) -> Result<Vec<OrderRow>, OpsError>;
    /// One order with its saga timeline, events and dead letters; `None` if unknown.
    async fn order_detail(&self, order_id: &str) -> Result<Option<OrderDetail>, OpsError>;
    /// The most recently quarantined records, newest first.
    async fn quarantined(&self, limit: i64) -> Result<Vec<QuarantinedView>, OpsError>;
}

/// The handle server functions find in context.
pub type SharedOps = Arc<dyn OpsApi>;

/// The read model for a server function, after checking the caller may read (viewer).
pub fn read_model() -> Result<SharedOps, leptos::prelude::ServerFnError> {
    use leptos::prelude::{use_context, ServerFnError};
    crate::auth::require(crate::auth::Role::Viewer)?;
    use_context::<SharedOps>().ok_or_else(|| ServerFnError::new("read model unavailable"))
}
