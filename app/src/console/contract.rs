//! The console contract's trait, implemented by the server and provided through Leptos
//! context (ssr only).

use super::*;
use crate::ops::OpsError;
use std::sync::Arc;

/// Read-model operations of the console pages, implemented by the server.
#[async_trait::async_trait]
pub trait ConsoleApi: Send + Sync + 'static {
    async fn overview(&self, range: Range) -> Result<OverviewData, OpsError>;
    async fn breakers(&self, range: Range) -> Result<BreakersData, OpsError>;
    /// One page of orders matching `filter`, newest change first (keyset paging).
    async fn search_orders(&self, filter: &OrderFilter) -> Result<OrdersPageData, OpsError>;
    /// The order folded from its first `version` events (1-based, in event-time order).
    async fn order_as_of(
        &self,
        order_id: &str,
        version: i64,
    ) -> Result<Option<OrderAsOf>, OpsError>;
    /// Each failed step of the order with its services' breakers at that moment.
    async fn failure_context(&self, order_id: &str) -> Result<Vec<FailureContext>, OpsError>;
    /// Expired-record gaps that may have held some of the order's events.
    async fn order_gaps(&self, order_id: &str) -> Result<Vec<LogGap>, OpsError>;
}

pub type SharedConsole = Arc<dyn ConsoleApi>;

/// The console read model for a server function, after checking the caller may read.
pub fn console_model() -> Result<SharedConsole, leptos::prelude::ServerFnError> {
    use leptos::prelude::{use_context, ServerFnError};
    crate::auth::require(crate::auth::Role::Viewer)?;
    use_context::<SharedConsole>().ok_or_else(|| ServerFnError::new("read model unavailable"))
}
