//! The saga actions' trait, implemented by the server and provided through Leptos context
//! (ssr only).

use super::{CommandRequest, CommandView, SagaAction};
use crate::auth::Principal;
use crate::ops::OpsError;
use std::sync::Arc;

#[async_trait::async_trait]
pub trait SagaActionsApi: Send + Sync + 'static {
    /// Sends one command to the order's saga (checked, recorded, audited); what was sent.
    async fn send(&self, who: &Principal, req: &CommandRequest) -> Result<CommandView, OpsError>;
    /// Switches one action on or off for everyone (admin, audited).
    async fn set_enabled(
        &self,
        who: &Principal,
        action: SagaAction,
        enabled: bool,
    ) -> Result<(), OpsError>;
}

pub type SharedSagaActions = Arc<dyn SagaActionsApi>;
