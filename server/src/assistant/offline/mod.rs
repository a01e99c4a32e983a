//! The offline backend: no language model and no network. A deterministic router picks a
//! tool and its arguments (rules, helped by all-MiniLM-L6-v2 sentence embeddings when the
//! model is installed), the agent loop runs the tool, and the answer is a template filled
//! from the result. Labelled rule-based in the UI; if the model is absent it says so.

pub mod intent;
pub mod rules;
pub mod templates;

use super::backend::{
    Backend, BackendError, Block, DeltaSink, Message, Speaker, ToolCall, Turn, TurnRequest,
};
use super::embed::{cosine, Embedder};
use super::tools;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use intent::Route;
use std::path::Path;
use std::sync::Arc;

/// The embedding model with the prototype questions already embedded.
struct Semantic {
    embedder: Embedder,
    prototypes: Vec<(usize, Vec<f32>)>,
}

impl Semantic {
    fn load(dir: &Path) -> anyhow::Result<Semantic> {
        let embedder = Embedder::load(dir)?;
        let mut prototypes = Vec::new();
        for (tool, text) in intent::PROTOTYPES {
            let i = tools::ALL
                .iter()
                .position(|t| t == tool)
                .expect("prototype of a known tool");
            prototypes.push((i, embedder.embed(text)?));
        }
        Ok(Semantic {
            embedder,
            prototypes,
        })
    }

    /// Each tool's best similarity to its prototypes.
    fn similarity(&self, text: &str) -> anyhow::Result<[f32; intent::N]> {
        let q = self.embedder.embed(text)?;
        let mut best = [0f32; intent::N];
        for (i, p) in &self.prototypes {
            best[*i] = best[*i].max(cosine(&q, p));
        }
        Ok(best)
    }
}

pub struct OfflineBackend {
    semantic: Option<Arc<Semantic>>,
    /// Why the embedding model is not used, when it is not.
    missing: Option<String>,
}

impl OfflineBackend {
    /// Loads the embedding model from `dir`; without it the router uses rules alone.
    pub fn load(dir: &Path) -> OfflineBackend {
        match Semantic::load(dir) {
            Ok(s) => OfflineBackend {
                semantic: Some(Arc::new(s)),
                missing: None,
            },
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "assistant: embedding model not loaded; rules only");
                OfflineBackend::rules_only(format!("{e:#}"))
            }
        }
    }

    pub fn rules_only(reason: impl Into<String>) -> OfflineBackend {
        OfflineBackend {
            semantic: None,
            missing: Some(reason.into()),
        }
    }

    pub fn has_model(&self) -> bool {
        self.semantic.is_some()
    }

    /// The routing decision for `question` (blocking: may embed on this thread).
    pub fn route(&self, question: &str, now: DateTime<Utc>, context_order: Option<&str>) -> Route {
        route_with(self.semantic.as_deref(), question, now, context_order)
    }
}

fn route_with(
    semantic: Option<&Semantic>,
    question: &str,
    now: DateTime<Utc>,
    context_order: Option<&str>,
) -> Route {
    intent::route(
        question,
        now,
        || semantic.and_then(|s| s.similarity(question).ok()),
        context_order,
    )
}

/// The order the conversation was last about, for follow-up questions.
fn context_order(messages: &[Message]) -> Option<String> {
    messages
        .iter()
        .rev()
        .skip(1)
        .find_map(|m| rules::extract(&m.text(), chrono::Utc::now()).order_id)
}

#[async_trait]
impl Backend for OfflineBackend {
    fn name(&self) -> String {
        if self.has_model() {
            "offline (rules + all-MiniLM-L6-v2)".into()
        } else {
            "offline (rules only)".into()
        }
    }

    fn rule_based(&self) -> bool {
        true
    }

    fn notes(&self) -> Vec<String> {
        match &self.missing {
            Some(why) => vec![format!(
                "Rules only: the embedding model is not available ({why}). Run scripts/setup.sh model to install it."
            )],
            None => vec![],
        }
    }

    async fn turn(
        &self,
        req: &TurnRequest<'_>,
        delta: DeltaSink<'_>,
    ) -> Result<Turn, BackendError> {
        let Some(last) = req.messages.last() else {
            return Err(BackendError::Fatal("no question".into()));
        };
        let results: Vec<(&String, &String, bool)> = last
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::ToolResult {
                    id,
                    content,
                    is_error,
                } => Some((id, content, *is_error)),
                _ => None,
            })
            .collect();
        if last.speaker == Speaker::User && results.is_empty() {
            let question = last.text();
            let ctx = context_order(req.messages);
            let now = req.now;
            let sem = self.semantic.clone();
            let q = question.clone();
            // Embedding is CPU work: off the async threads.
            let route = tokio::task::spawn_blocking(move || {
                route_with(sem.as_deref(), &q, now, ctx.as_deref())
            })
            .await
            .map_err(|e| BackendError::Fatal(format!("router failed: {e}")))?;
            return Ok(match route.tool {
                Some(tool) => Turn {
                    text: String::new(),
                    tool_calls: vec![ToolCall {
                        id: "route-1".into(),
                        name: tool.to_string(),
                        input: Ok(route.args),
                    }],
                    stop_reason: Some("tool_use".into()),
                },
                None => {
                    let text = templates::help();
                    delta(&text);
                    Turn {
                        text,
                        tool_calls: vec![],
                        stop_reason: Some("end_turn".into()),
                    }
                }
            });
        }
        // The tools ran: answer from their results.
        let calls: Vec<&Block> = req
            .messages
            .iter()
            .rev()
            .find(|m| m.speaker == Speaker::Assistant)
            .map(|m| m.blocks.iter().collect())
            .unwrap_or_default();
        let mut parts = Vec::new();
        for (id, content, is_error) in results {
            let Some(Block::ToolUse { name, input, .. }) = calls
                .iter()
                .find(|b| matches!(b, Block::ToolUse { id: x, .. } if x == id))
            else {
                continue;
            };
            if is_error {
                parts.push(format!("The {name} tool could not answer: {content}"));
                continue;
            }
            let args = input.clone().unwrap_or_default();
            match serde_json::from_str(content) {
                Ok(v) => parts.push(templates::answer(name, &args, &v)),
                Err(_) => parts.push(format!("The {name} result was too large to summarise.")),
            }
        }
        let text = parts.join("\n");
        delta(&text);
        Ok(Turn {
            text,
            tool_calls: vec![],
            stop_reason: Some("end_turn".into()),
        })
    }
}
