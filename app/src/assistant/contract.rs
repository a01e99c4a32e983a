//! The assistant contract's trait, implemented by the server and provided through
//! Leptos context (ssr only).

use super::{AssistantEvent, ChatTurn};
use crate::auth::Principal;
use crate::ops::OpsError;
use std::sync::Arc;

/// The answer as it is made.
pub type EventStream = futures::stream::BoxStream<'static, AssistantEvent>;

/// The assistant, as the server implements it and provides it through Leptos context
/// (apart from [`crate::ops::OpsApi`], which the pages use).
#[async_trait::async_trait]
pub trait AssistantApi: Send + Sync + 'static {
    /// Answers `question` for `who` within `conversation` (a new one when `None` or
    /// not theirs). The stream starts with `Started` and ends with `Done`.
    async fn ask(
        &self,
        who: Principal,
        conversation: Option<String>,
        question: String,
    ) -> Result<EventStream, OpsError>;

    /// The turns of one of `who`'s conversations, oldest first (empty if not theirs).
    async fn history(&self, who: &Principal, conversation: &str)
        -> Result<Vec<ChatTurn>, OpsError>;
}

pub type SharedAssistant = Arc<dyn AssistantApi>;
