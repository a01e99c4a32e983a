//! The server's implementation of the app's [`DeadLetterApi`]: what the dead-letter pages
//! call, each operation delegating to the module that owns it. Writes run as the
//! request's [`Principal`], who becomes the audit actor.

use super::job::{self, JobError};
use super::one::Replayed;
use super::watermarks::Watermarks;
use super::{discard, edit, one, query, view};
use crate::audit::Actor;
use crate::masking::Masker;
use crate::payload::registry::Registry;
use async_trait::async_trait;
use sqlx::PgPool;
use std::sync::Arc;
use switchyard_app::auth::Principal;
use switchyard_app::dlq::*;
use switchyard_app::ops::{DeadLetterFilter, OpsError};
use switchyard_contract::kafka::renewing::RenewingProducer;
use uuid::Uuid;

#[derive(Clone)]
pub struct PgDeadLetters {
    pool: PgPool,
    producer: RenewingProducer,
    marks: Watermarks,
    max_replays: i32,
    registry: Option<Arc<Registry>>,
    masker: Masker,
}

impl PgDeadLetters {
    pub fn new(pool: PgPool, brokers: &str, max_replays: i32) -> anyhow::Result<Self> {
        Ok(PgDeadLetters {
            pool,
            producer: RenewingProducer::new(brokers)?,
            marks: Watermarks::new(brokers)?,
            max_replays,
            registry: None,
            masker: Masker::default(),
        })
    }

    /// Framed payloads on the detail page are read through this Schema Registry.
    pub fn with_registry(mut self, registry: Option<Arc<Registry>>) -> Self {
        self.registry = registry;
        self
    }

    /// What viewers may see of payloads, headers, keys and errors ([`crate::masking`]).
    pub fn with_masker(mut self, masker: Masker) -> Self {
        self.masker = masker;
        self
    }

    /// A filter fit to run: valid, and searching for no value that is masked.
    fn checked(&self, filter: &DeadLetterFilter) -> Result<(), OpsError> {
        super::filter::validate(filter)?;
        super::filter::searchable(filter, &self.masker)?;
        Ok(())
    }
}

fn actor(p: &Principal) -> Actor {
    Actor::new(p.name.clone(), p.source.clone())
}

fn job_id(s: &str) -> Result<Uuid, OpsError> {
    Uuid::parse_str(s.trim()).map_err(|_| "not a job id".into())
}

/// What a single replay (as it came, or edited) did, for the page.
fn replay_result(r: Replayed) -> ReplayOneResult {
    match r {
        Replayed::Sent {
            replay_id,
            topic,
            partition,
            offset,
        } => ReplayOneResult {
            outcome: "sent".into(),
            replay_id: Some(replay_id.to_string()),
            position: Some(format!("{topic}/{partition}@{offset}")),
        },
        Replayed::AlreadyReplayed => ReplayOneResult {
            outcome: "already replayed".into(),
            replay_id: None,
            position: None,
        },
        Replayed::Parked => ReplayOneResult {
            outcome: "parked: replayed too often already".into(),
            replay_id: None,
            position: None,
        },
        Replayed::NotReplayable(why) => ReplayOneResult {
            outcome: format!("not replayable: {why}"),
            replay_id: None,
            position: None,
        },
    }
}

fn refusal(e: JobError) -> OpsError {
    match e {
        JobError::Refused(m) => m.into(),
        JobError::Db(e) => Box::new(e),
    }
}

#[async_trait]
impl DeadLetterApi for PgDeadLetters {
    async fn groups(&self, filter: &DeadLetterFilter) -> Result<DeadLetterGroups, OpsError> {
        self.checked(filter)?;
        let mut groups = query::groups(&self.pool, filter).await?;
        for g in &mut groups.by_error {
            self.masker.mask(&mut g.label);
        }
        Ok(groups)
    }

    async fn list(
        &self,
        filter: &DeadLetterFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<DeadLetterPage, OpsError> {
        self.checked(filter)?;
        let mut page = query::list(&self.pool, filter, after, limit).await?;
        page.rows = page
            .rows
            .into_iter()
            .map(|it| view::masked_item(it, &self.masker))
            .collect();
        Ok(page)
    }

    async fn detail(&self, id: i64) -> Result<Option<DeadLetterDetail>, OpsError> {
        Ok(query::detail_with(&self.pool, id, self.registry.as_deref())
            .await?
            .map(|d| view::masked_detail(d, &self.masker)))
    }

    async fn dry_run(&self, scope: &ReplayScope) -> Result<DryRun, OpsError> {
        if let ReplayScope::Filter { filter } = scope {
            self.checked(filter)?;
        }
        Ok(query::dry_run(&self.pool, scope, self.max_replays).await?)
    }

    async fn replay_one(&self, who: &Principal, id: i64) -> Result<ReplayOneResult, OpsError> {
        let r = one::replay_one(
            &self.pool,
            &self.producer.get(),
            &self.marks,
            id,
            &actor(who),
            self.max_replays,
        )
        .await;
        // A send that failed because the producer went fatal: the next replay gets a new one.
        self.producer.renew_if_fatal();
        let r = r.map_err(|e| -> OpsError { e.to_string().into() })?;
        Ok(replay_result(r))
    }

    async fn edit(
        &self,
        who: &Principal,
        id: i64,
        form: &EditForm,
        send: bool,
    ) -> Result<EditOutcome, OpsError> {
        let e = edit::prepare(&self.pool, self.registry.as_deref(), &self.masker, id, form)
            .await
            .map_err(|e| -> OpsError {
                match e {
                    edit::EditError::Refused(m) => m.into(),
                    edit::EditError::Db(e) => Box::new(e),
                }
            })?;
        let mut out = EditOutcome {
            topic: e.topic.clone(),
            changes: e.changes.clone(),
            sent: None,
        };
        if send {
            let r = one::send_edited(
                &self.pool,
                &self.producer.get(),
                &self.marks,
                id,
                &actor(who),
                self.max_replays,
                &e,
            )
            .await;
            self.producer.renew_if_fatal();
            out.sent = Some(replay_result(
                r.map_err(|e| -> OpsError { e.to_string().into() })?,
            ));
        }
        Ok(out)
    }

    async fn start_job(
        &self,
        who: &Principal,
        request: &JobRequest,
    ) -> Result<ReplayJobView, OpsError> {
        let id = job::start(&self.pool, &actor(who), request, self.max_replays)
            .await
            .map_err(refusal)?;
        job::job_view(&self.pool, id)
            .await?
            .ok_or_else(|| "the job vanished".into())
    }

    async fn cancel_job(&self, who: &Principal, id: &str) -> Result<ReplayJobView, OpsError> {
        let id = job_id(id)?;
        job::cancel(&self.pool, &actor(who), id)
            .await
            .map_err(refusal)?;
        job::job_view(&self.pool, id)
            .await?
            .ok_or_else(|| "the job vanished".into())
    }

    async fn stop_waiting(&self, who: &Principal, id: &str) -> Result<ReplayJobView, OpsError> {
        let id = job_id(id)?;
        job::stop_waiting(&self.pool, &actor(who), id)
            .await
            .map_err(refusal)?;
        job::job_view(&self.pool, id)
            .await?
            .ok_or_else(|| "the job vanished".into())
    }

    async fn jobs(&self, limit: i64) -> Result<Vec<ReplayJobView>, OpsError> {
        Ok(job::job_views(&self.pool, limit.clamp(1, 100)).await?)
    }

    async fn job(&self, id: &str) -> Result<Option<ReplayJobView>, OpsError> {
        Ok(job::job_view(&self.pool, job_id(id)?).await?)
    }

    async fn discard(&self, who: &Principal, ids: &[i64], reason: &str) -> Result<u64, OpsError> {
        discard::discard(&self.pool, &actor(who), ids, reason)
            .await
            .map_err(refusal)
    }

    async fn reveal(
        &self,
        who: &Principal,
        id: i64,
        reason: &str,
    ) -> Result<Option<DeadLetterDetail>, OpsError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err("say why: a reveal needs a reason, which the audit log keeps".into());
        }
        if reason.chars().count() > 1000 {
            return Err("the reason is longer than 1,000 characters".into());
        }
        let Some(d) = query::detail_with(&self.pool, id, self.registry.as_deref()).await? else {
            return Ok(None);
        };
        // Audited before anything is returned: no record, no reveal.
        crate::audit::record(
            &self.pool,
            &actor(who),
            "dead_letter.reveal",
            Some(&id.to_string()),
            serde_json::json!({ "reason": reason, "original_topic": d.item.original_topic }),
        )
        .await?;
        Ok(Some(d))
    }
}
