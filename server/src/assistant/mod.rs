//! The assistant behind the sidebar: an agent loop over read-only tools, answering from the
//! read model through one of three backends (offline router, Anthropic, OpenAI-compatible),
//! with conversations kept per user and every tool call audited.
//!
//! Safety is by construction, not by prompt: tools only read (in read-only transactions),
//! replays come back as proposals an operator confirms on the page, and no secret is ever
//! placed in a prompt or a tool result — so nothing a model reads can act or leak a key.
//! See ARCHITECTURE.md, "The assistant".

pub mod agent;
pub mod anthropic;
pub mod backend;
pub mod conversation;
pub mod embed;
pub mod hosted;
pub mod offline;
pub mod openai;
pub mod proposal;
pub mod sse;
pub mod tools;

use crate::audit::Actor;
use crate::config::{AssistantBackendKind, AssistantConfig};
use agent::Limits;
use anyhow::Context as _;
use async_trait::async_trait;
use backend::Backend;
use futures::StreamExt;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use switchyard_app::assistant::{AssistantApi, AssistantEvent, ChatTurn, EventStream};
use switchyard_app::auth::Principal;
use switchyard_app::ops::OpsError;

/// A time as tools and prompts write it: RFC 3339, whole seconds, `Z`.
pub fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The configured backend. Hosted backends take their key from the environment only.
pub fn backend_from_config(cfg: &AssistantConfig) -> anyhow::Result<Arc<dyn Backend>> {
    Ok(match cfg.assistant_backend {
        AssistantBackendKind::Offline => {
            Arc::new(offline::OfflineBackend::load(&cfg.embedding_model_dir()))
        }
        AssistantBackendKind::Anthropic => {
            let key = std::env::var("ANTHROPIC_API_KEY")
                .ok()
                .filter(|k| !k.is_empty())
                .context("SWITCHYARD_ASSISTANT_BACKEND=anthropic needs ANTHROPIC_API_KEY in the environment")?;
            Arc::new(anthropic::Anthropic::new(
                cfg.assistant_url
                    .as_deref()
                    .unwrap_or(anthropic::DEFAULT_URL),
                key,
                cfg.assistant_model
                    .as_deref()
                    .unwrap_or(anthropic::DEFAULT_MODEL),
            ))
        }
        AssistantBackendKind::Openai => Arc::new(openai::OpenAiCompatible::new(
            cfg.assistant_url.as_deref().unwrap_or(openai::DEFAULT_URL),
            std::env::var("OPENAI_API_KEY")
                .ok()
                .filter(|k| !k.is_empty()),
            cfg.assistant_model
                .as_deref()
                .context("SWITCHYARD_ASSISTANT_BACKEND=openai needs SWITCHYARD_ASSISTANT_MODEL")?,
        )),
    })
}

/// The server's [`AssistantApi`].
#[derive(Clone)]
pub struct Assistant {
    pool: PgPool,
    backend: Arc<dyn Backend>,
    limits: Limits,
}

impl Assistant {
    pub fn new(pool: PgPool, backend: Arc<dyn Backend>, limits: Limits) -> Assistant {
        Assistant {
            pool,
            backend,
            limits,
        }
    }

    pub fn from_config(pool: PgPool, cfg: &AssistantConfig) -> anyhow::Result<Assistant> {
        let limits = Limits {
            max_steps: cfg.assistant_max_steps.max(1),
            turn_timeout: Duration::from_secs(cfg.assistant_timeout_secs.max(1)),
            ..Limits::default()
        };
        Ok(Assistant::new(pool, backend_from_config(cfg)?, limits))
    }

    /// Asks and waits for the whole answer: every event, in order (tests, the CLI).
    pub async fn ask_all(
        &self,
        who: Principal,
        conversation: Option<String>,
        question: &str,
    ) -> Result<Vec<AssistantEvent>, OpsError> {
        Ok(self
            .ask(who, conversation, question.to_string())
            .await?
            .collect()
            .await)
    }
}

#[async_trait]
impl AssistantApi for Assistant {
    async fn ask(
        &self,
        who: Principal,
        conversation: Option<String>,
        question: String,
    ) -> Result<EventStream, OpsError> {
        let name = self.backend.name();
        let conv =
            conversation::open(&self.pool, &who.name, conversation.as_deref(), &name).await?;
        let earlier = conversation::turns(&self.pool, &conv.to_string(), &who.name).await?;
        conversation::append(
            &self.pool,
            conv,
            &ChatTurn {
                role: "user".into(),
                text: question.clone(),
                ..Default::default()
            },
        )
        .await?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let rule_based = self.backend.rule_based();
        let _ = tx.send(AssistantEvent::Started {
            conversation: conv.to_string(),
            backend: name,
            rule_based,
        });
        let this = self.clone();
        // The answer is made while someone reads it: when the browser goes away (the
        // stream is dropped), the work stops — no model keeps running, or billing, for
        // nobody — and the conversation keeps a note that it was stopped.
        tokio::spawn(async move {
            let actor = Actor::new(&who.name, &who.source);
            let conv_id = conv.to_string();
            let cx = agent::Context {
                backend: this.backend.as_ref(),
                pool: &this.pool,
                actor: &actor,
                conversation: &conv_id,
                limits: &this.limits,
                events: &tx,
            };
            let run = agent::run(
                &cx,
                conversation::as_messages(&earlier),
                &question,
                chrono::Utc::now(),
            );
            let out = tokio::select! {
                out = run => out,
                _ = tx.closed() => {
                    let stopped = ChatTurn {
                        role: "assistant".into(),
                        text: "(stopped: the browser went away before the answer was finished)".into(),
                        rule_based,
                        ..Default::default()
                    };
                    let _ = conversation::append(&this.pool, conv, &stopped).await;
                    tracing::info!(conversation = %conv_id, "assistant: question abandoned by the browser; stopped");
                    return;
                }
            };
            let turn = ChatTurn {
                role: "assistant".into(),
                text: out.text,
                citations: out.citations,
                proposals: out.proposals,
                notes: out.notes,
                rule_based,
            };
            if let Err(e) = conversation::append(&this.pool, conv, &turn).await {
                tracing::warn!(error = %e, "assistant: could not keep the answer");
            }
            let _ = tx.send(AssistantEvent::Done);
        });
        Ok(tokio_stream::wrappers::UnboundedReceiverStream::new(rx).boxed())
    }

    async fn history(
        &self,
        who: &Principal,
        conversation: &str,
    ) -> Result<Vec<ChatTurn>, OpsError> {
        Ok(conversation::turns(&self.pool, conversation, &who.name).await?)
    }
}
