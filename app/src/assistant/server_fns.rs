//! The server functions the sidebar calls: ask (streamed) and history.

use super::model::*;
#[cfg(feature = "ssr")]
use super::SharedAssistant;

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, StreamingText, TextStream};

/// Longest question accepted, in bytes.
pub const MAX_QUESTION: usize = 2000;

/// Asks the assistant; the answer streams back as [`AssistantEvent`] lines.
///
/// `csrf` is checked by the HTTP layer before this runs; `conversation` is the id a
/// previous answer's `Started` event carried (none starts a new conversation).
#[server(endpoint = "assistant/ask", output = StreamingText)]
pub async fn ask_assistant(
    csrf: String,
    conversation: Option<String>,
    question: String,
) -> Result<TextStream, ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Viewer)?;
    let _ = csrf;
    let question = question.trim().to_string();
    if question.is_empty() || question.len() > MAX_QUESTION {
        return Err(ServerFnError::new(format!(
            "a question is 1 to {MAX_QUESTION} bytes"
        )));
    }
    let api = use_context::<SharedAssistant>()
        .ok_or_else(|| ServerFnError::new("assistant unavailable"))?;
    let events = api
        .ask(who, conversation, question)
        .await
        .map_err(crate::ops::model::failed("assistant failed"))?;
    use futures::StreamExt;
    Ok(TextStream::new(
        events.map(|e| Ok::<_, ServerFnError>(e.to_line())),
    ))
}

/// The turns of one of the caller's conversations, oldest first.
#[server(endpoint = "assistant/history", input = GetUrl, output = crate::codec::Json)]
pub async fn assistant_history(conversation: String) -> Result<Vec<ChatTurn>, ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Viewer)?;
    let api = use_context::<SharedAssistant>()
        .ok_or_else(|| ServerFnError::new("assistant unavailable"))?;
    api.history(&who, &conversation)
        .await
        .map_err(crate::ops::model::failed("could not load the conversation"))
}

/// What a proposal card's Confirm button does: start a replay job for the card's dead
/// letters through the DLQ page's replay-job server function, with the same checks (operator role,
/// CSRF, kill-switch) as a replay started on that page. The assistant never calls this:
/// only an operator's click does. Returns the job's id (the server also sends the browser
/// to the dead-letter page, where the job's progress shows).
pub async fn confirm_replay_proposal(csrf: String, ids: Vec<i64>) -> Result<String, ServerFnError> {
    // The card's own ids: the job replays exactly what the operator saw counted (those
    // still pending), not whatever a filter matches by the time of the click.
    let job = crate::dlq::server_fns::start_replay_job(
        "selected".into(),
        Some(ids),
        None,
        None,
        None,
        None,
        csrf,
    )
    .await?;
    Ok(job.id)
}
