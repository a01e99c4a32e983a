//! The one trait every model sits behind — Anthropic, OpenAI-compatible, the offline
//! router — and the provider-neutral conversation it is given. The agent loop speaks only
//! this; each backend translates it to its own wire format.

use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;

/// Who said a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speaker {
    User,
    Assistant,
}

/// One piece of a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    Text(String),
    /// The model asks for a tool. `input` is `Err` with the raw text when the model sent
    /// arguments that are not a JSON object.
    ToolUse {
        id: String,
        name: String,
        input: Result<Value, String>,
    },
    /// What a tool returned (or why it did not run).
    ToolResult {
        id: String,
        content: String,
        is_error: bool,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub speaker: Speaker,
    pub blocks: Vec<Block>,
}

impl Message {
    pub fn user_text(text: impl Into<String>) -> Message {
        Message {
            speaker: Speaker::User,
            blocks: vec![Block::Text(text.into())],
        }
    }

    pub fn assistant_text(text: impl Into<String>) -> Message {
        Message {
            speaker: Speaker::Assistant,
            blocks: vec![Block::Text(text.into())],
        }
    }

    /// The message's text blocks joined.
    pub fn text(&self) -> String {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("")
    }
}

/// A tool as the model is told about it.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// JSON Schema of the arguments (an object).
    pub input_schema: Value,
}

/// A tool call the model asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub input: Result<Value, String>,
}

/// What one model turn produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Turn {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    /// The provider's stop reason, as sent (`end_turn`, `tool_use`, `stop`, `""`, ...).
    pub stop_reason: Option<String>,
}

/// The request of one turn.
pub struct TurnRequest<'a> {
    pub system: &'a str,
    /// The time of the question (time windows such as "the last hour" are relative to it).
    pub now: chrono::DateTime<chrono::Utc>,
    pub messages: &'a [Message],
    pub tools: &'a [ToolSpec],
}

/// Why a turn failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Worth trying again later (429, 529, 503, a dropped connection); `retry_after` is the
    /// server's hint when it gave one.
    #[error("{message} (retryable)")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Will fail the same way again (400, 401, a malformed response).
    #[error("{0}")]
    Fatal(String),
    #[error("the model did not answer within {0:?}")]
    Timeout(Duration),
}

/// Where a backend sends the answer's text as it arrives.
pub type DeltaSink<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// A model behind the agent loop.
#[async_trait]
pub trait Backend: Send + Sync {
    /// A short name for the UI and the audit log (`anthropic:claude-…`, `offline`).
    fn name(&self) -> String;

    /// True when answers come from rules and templates rather than a language model.
    fn rule_based(&self) -> bool {
        false
    }

    /// Remarks to show with every answer (e.g. that the embedding model is absent).
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// One model turn: given the conversation so far, text and/or tool calls. Text is also
    /// streamed to `delta` as it arrives.
    async fn turn(&self, req: &TurnRequest<'_>, delta: DeltaSink<'_>)
        -> Result<Turn, BackendError>;
}
