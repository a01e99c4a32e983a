//! The Anthropic Messages API backend: tool use with streaming (server-sent events:
//! `message_start`, `content_block_start/delta/stop` with `text_delta` and
//! `input_json_delta`, `message_delta`, `message_stop`, `ping`, `error`). Several
//! `tool_use` blocks in one answer are all returned. The key is read from the environment
//! by the caller and only ever sent in the `x-api-key` header.

use super::backend::{
    Backend, BackendError, Block, DeltaSink, Message, Speaker, ToolCall, Turn, TurnRequest,
};
use super::hosted::{each_event, http_client, parse_arguments, send};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const DEFAULT_URL: &str = "https://api.anthropic.com";
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-20250514";
const VERSION: &str = "2023-06-01";

pub struct Anthropic {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    model: String,
    pub max_tokens: u32,
}

impl Anthropic {
    pub fn new(base_url: &str, api_key: String, model: &str) -> Anthropic {
        Anthropic {
            http: http_client(),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            model: model.to_string(),
            max_tokens: 1024,
        }
    }
}

/// The conversation in the Messages API's shape.
pub fn wire_messages(messages: &[Message]) -> Vec<Value> {
    messages
        .iter()
        .filter_map(|m| {
            let content: Vec<Value> = m
                .blocks
                .iter()
                .filter_map(|b| match b {
                    Block::Text(t) if t.is_empty() => None,
                    Block::Text(t) => Some(json!({"type": "text", "text": t})),
                    Block::ToolUse { id, name, input } => Some(json!({
                        "type": "tool_use", "id": id, "name": name,
                        "input": input.clone().unwrap_or_else(|_| json!({})),
                    })),
                    Block::ToolResult {
                        id,
                        content,
                        is_error,
                    } => Some(json!({
                        "type": "tool_result", "tool_use_id": id, "content": content,
                        "is_error": is_error,
                    })),
                })
                .collect();
            if content.is_empty() {
                return None;
            }
            let role = match m.speaker {
                Speaker::User => "user",
                Speaker::Assistant => "assistant",
            };
            Some(json!({"role": role, "content": content}))
        })
        .collect()
}

/// A content block being streamed.
#[derive(Default)]
struct Partial {
    kind: String,
    text: String,
    id: String,
    name: String,
    json: String,
}

#[async_trait]
impl Backend for Anthropic {
    fn name(&self) -> String {
        format!("anthropic:{}", self.model)
    }

    async fn turn(
        &self,
        req: &TurnRequest<'_>,
        delta: DeltaSink<'_>,
    ) -> Result<Turn, BackendError> {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
            .collect();
        let body = json!({
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": req.system,
            "stream": true,
            "tools": tools,
            "messages": wire_messages(req.messages),
        });
        let resp = send(
            self.http
                .post(format!("{}/v1/messages", self.base_url))
                .header("x-api-key", &self.api_key)
                .header("anthropic-version", VERSION)
                .json(&body),
        )
        .await?;
        let mut blocks: BTreeMap<u64, Partial> = BTreeMap::new();
        let mut stop_reason = None;
        each_event(resp, |ev| {
            if ev.data.is_empty() {
                return Ok(true);
            }
            let v: Value = serde_json::from_str(&ev.data)
                .map_err(|e| BackendError::Fatal(format!("unreadable stream event: {e}")))?;
            let kind = v["type"].as_str().unwrap_or(ev.event.as_str());
            let index = v["index"].as_u64().unwrap_or(0);
            match kind {
                "content_block_start" => {
                    let cb = &v["content_block"];
                    let p = blocks.entry(index).or_default();
                    p.kind = cb["type"].as_str().unwrap_or_default().to_string();
                    p.id = cb["id"].as_str().unwrap_or_default().to_string();
                    p.name = cb["name"].as_str().unwrap_or_default().to_string();
                    if let Some(t) = cb["text"].as_str() {
                        p.text.push_str(t);
                        delta(t);
                    }
                    // A start block may carry a complete (non-empty) input already.
                    if cb["input"].as_object().is_some_and(|o| !o.is_empty()) {
                        p.json = cb["input"].to_string();
                    }
                }
                "content_block_delta" => {
                    let d = &v["delta"];
                    let p = blocks.entry(index).or_default();
                    match d["type"].as_str() {
                        Some("text_delta") => {
                            let t = d["text"].as_str().unwrap_or_default();
                            p.text.push_str(t);
                            delta(t);
                        }
                        Some("input_json_delta") => p
                            .json
                            .push_str(d["partial_json"].as_str().unwrap_or_default()),
                        _ => {}
                    }
                }
                "message_delta" => {
                    if let Some(r) = v["delta"]["stop_reason"].as_str() {
                        stop_reason = Some(r.to_string());
                    }
                }
                "message_stop" => return Ok(false),
                "error" => {
                    let t = v["error"]["type"].as_str().unwrap_or("error");
                    let m = v["error"]["message"].as_str().unwrap_or_default();
                    let message = format!("the model stream failed: {t}: {m}");
                    return Err(if t == "overloaded_error" || t == "rate_limit_error" {
                        BackendError::Retryable {
                            message,
                            retry_after: None,
                        }
                    } else {
                        BackendError::Fatal(message)
                    });
                }
                _ => {} // message_start, content_block_stop, ping, unknown: nothing to keep
            }
            Ok(true)
        })
        .await?;
        let mut turn = Turn {
            stop_reason,
            ..Default::default()
        };
        for p in blocks.into_values() {
            match p.kind.as_str() {
                "text" => turn.text.push_str(&p.text),
                "tool_use" => turn.tool_calls.push(ToolCall {
                    id: p.id,
                    name: p.name,
                    input: parse_arguments(&p.json),
                }),
                _ => {}
            }
        }
        Ok(turn)
    }
}
