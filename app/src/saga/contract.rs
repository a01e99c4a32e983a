//! The saga actions' trait, implemented by the server and provided through Leptos context
//! (ssr only).

use super::{BatchJobView, BatchPreview, BatchRequest, CommandRequest, CommandView, SagaAction};
use crate::auth::Principal;
use crate::console::OrderFilter;
use crate::ops::OpsError;
use std::sync::Arc;

#[async_trait::async_trait]
pub trait SagaActionsApi: Send + Sync + 'static {
    /// Sends one command to the order's saga (checked, recorded, audited); what was sent.
    async fn send(&self, who: &Principal, req: &CommandRequest) -> Result<CommandView, OpsError>;
    /// What a batch over the orders `filter` matches would act on (the same set whatever
    /// the action: the orders whose saga has not ended).
    async fn preview_batch(&self, filter: &OrderFilter) -> Result<BatchPreview, OpsError>;
    /// Starts a batch: its commands snapshotted now, sent by the batch runner (audited).
    async fn start_batch(
        &self,
        who: &Principal,
        req: &BatchRequest,
    ) -> Result<BatchJobView, OpsError>;
    /// The most recent batches, newest first.
    async fn batches(&self, limit: i64) -> Result<Vec<BatchJobView>, OpsError>;
    /// Stops a running batch: what was not sent yet is not sent (audited).
    async fn cancel_batch(&self, who: &Principal, id: &str) -> Result<BatchJobView, OpsError>;
    /// Switches one action on or off for everyone (admin, audited).
    async fn set_enabled(
        &self,
        who: &Principal,
        action: SagaAction,
        enabled: bool,
    ) -> Result<(), OpsError>;
}

pub type SharedSagaActions = Arc<dyn SagaActionsApi>;
