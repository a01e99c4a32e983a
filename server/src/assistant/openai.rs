//! The OpenAI-compatible chat-completions backend (llama.cpp server, vLLM, Ollama, ...):
//! streamed `chat.completion.chunk`s with `delta.content` and `delta.tool_calls` pieces,
//! until `data: [DONE]`. Lenient where such servers differ: `finish_reason` may be null,
//! `""` or absent; tool-call pieces may lack an index; arguments may arrive whole or in
//! pieces, or not be JSON at all (then the loop tells the model and it may try again).

use super::backend::{
    Backend, BackendError, Block, DeltaSink, Message, Speaker, ToolCall, Turn, TurnRequest,
};
use super::hosted::{each_event, http_client, parse_arguments, send};
use async_trait::async_trait;
use serde_json::{json, Value};

pub const DEFAULT_URL: &str = "http://127.0.0.1:8080/v1";

pub struct OpenAiCompatible {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
    model: String,
}

impl OpenAiCompatible {
    pub fn new(base_url: &str, api_key: Option<String>, model: &str) -> OpenAiCompatible {
        OpenAiCompatible {
            http: http_client(),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            model: model.to_string(),
        }
    }
}

/// The conversation in the chat-completions shape (system prompt first).
pub fn wire_messages(system: &str, messages: &[Message]) -> Vec<Value> {
    let mut out = vec![json!({"role": "system", "content": system})];
    for m in messages {
        match m.speaker {
            Speaker::User => {
                let text = m.text();
                if !text.is_empty() {
                    out.push(json!({"role": "user", "content": text}));
                }
                for b in &m.blocks {
                    if let Block::ToolResult { id, content, .. } = b {
                        out.push(json!({"role": "tool", "tool_call_id": id, "content": content}));
                    }
                }
            }
            Speaker::Assistant => {
                let calls: Vec<Value> = m
                    .blocks
                    .iter()
                    .filter_map(|b| match b {
                        Block::ToolUse { id, name, input } => Some(json!({
                            "id": id, "type": "function",
                            "function": {"name": name, "arguments": match input {
                                Ok(v) => v.to_string(),
                                Err(raw) => raw.clone(),
                            }},
                        })),
                        _ => None,
                    })
                    .collect();
                let text = m.text();
                let mut msg = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
                if !calls.is_empty() {
                    msg["tool_calls"] = json!(calls);
                }
                out.push(msg);
            }
        }
    }
    out
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

#[async_trait]
impl Backend for OpenAiCompatible {
    fn name(&self) -> String {
        format!("openai-compatible:{}", self.model)
    }

    async fn turn(
        &self,
        req: &TurnRequest<'_>,
        delta: DeltaSink<'_>,
    ) -> Result<Turn, BackendError> {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.input_schema}})
            })
            .collect();
        let body = json!({
            "model": self.model,
            "stream": true,
            "messages": wire_messages(req.system, req.messages),
            "tools": tools,
            "tool_choice": "auto",
        });
        let mut http = self
            .http
            .post(format!("{}/chat/completions", self.base_url))
            .json(&body);
        if let Some(k) = &self.api_key {
            http = http.bearer_auth(k);
        }
        let resp = send(http).await?;
        let mut text = String::new();
        let mut calls: Vec<PartialCall> = Vec::new();
        let mut finish = None;
        each_event(resp, |ev| {
            let data = ev.data.trim();
            if data.is_empty() {
                return Ok(true);
            }
            if data == "[DONE]" {
                return Ok(false);
            }
            let v: Value = serde_json::from_str(data)
                .map_err(|e| BackendError::Fatal(format!("unreadable stream chunk: {e}")))?;
            if let Some(err) = v.get("error") {
                let m = err["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| err.to_string());
                return Err(BackendError::Fatal(format!("the model stream failed: {m}")));
            }
            let Some(choice) = v["choices"].as_array().and_then(|c| c.first()) else {
                return Ok(true);
            };
            if let Some(r) = choice["finish_reason"].as_str().filter(|r| !r.is_empty()) {
                finish = Some(r.to_string());
            }
            // Some servers send a whole `message` instead of `delta`.
            let d = if choice["delta"].is_object() {
                &choice["delta"]
            } else {
                &choice["message"]
            };
            if let Some(t) = d["content"].as_str() {
                if !t.is_empty() {
                    text.push_str(t);
                    delta(t);
                }
            }
            for (pos, tc) in d["tool_calls"].as_array().into_iter().flatten().enumerate() {
                let id = tc["id"].as_str().unwrap_or_default();
                let i = match tc["index"].as_u64() {
                    Some(i) => i as usize,
                    None if !id.is_empty() => {
                        calls.iter().position(|c| c.id == id).unwrap_or(calls.len())
                    }
                    None => calls.len().saturating_sub(1).max(pos),
                };
                while calls.len() <= i {
                    calls.push(PartialCall::default());
                }
                let c = &mut calls[i];
                if !id.is_empty() {
                    c.id = id.to_string();
                }
                if let Some(n) = tc["function"]["name"].as_str() {
                    c.name.push_str(n);
                }
                match &tc["function"]["arguments"] {
                    Value::String(a) => c.arguments.push_str(a),
                    Value::Null => {}
                    // Some servers send the arguments as an object already.
                    other => c.arguments.push_str(&other.to_string()),
                }
            }
            Ok(true)
        })
        .await?;
        Ok(Turn {
            text,
            tool_calls: calls
                .into_iter()
                .enumerate()
                .filter(|(_, c)| !c.name.is_empty())
                .map(|(i, c)| ToolCall {
                    id: if c.id.is_empty() {
                        format!("call_{i}")
                    } else {
                        c.id
                    },
                    name: c.name,
                    input: parse_arguments(&c.arguments),
                })
                .collect(),
            stop_reason: finish,
        })
    }
}
