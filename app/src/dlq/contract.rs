//! What the dead-letter pages need from the server: queries, dry runs, replays, jobs and
//! discards. Every write takes the [`Principal`] it runs as, for the audit log.

use super::model::*;
use crate::auth::Principal;
use crate::ops::{DeadLetterFilter, OpsError};
use std::sync::Arc;

#[async_trait::async_trait]
pub trait DeadLetterApi: Send + Sync + 'static {
    /// Counts by original topic and by error, with first and last seen, over `filter`.
    async fn groups(&self, filter: &DeadLetterFilter) -> Result<DeadLetterGroups, OpsError>;
    /// One page of dead letters, newest first, after the cursor of the previous page.
    async fn list(
        &self,
        filter: &DeadLetterFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<DeadLetterPage, OpsError>;
    /// Everything about one dead letter; `None` if unknown.
    async fn detail(&self, id: i64) -> Result<Option<DeadLetterDetail>, OpsError>;
    /// What a replay of `scope` would send where (writes nothing).
    async fn dry_run(&self, scope: &ReplayScope) -> Result<DryRun, OpsError>;
    /// Replays one dead letter now (not as a job); sent once however often asked.
    async fn replay_one(&self, who: &Principal, id: i64) -> Result<ReplayOneResult, OpsError>;
    /// Snapshots `request.scope` and starts a job; the runner sends it.
    async fn start_job(
        &self,
        who: &Principal,
        request: &JobRequest,
    ) -> Result<ReplayJobView, OpsError>;
    /// Stops a running job within a second; what was sent stays sent.
    async fn cancel_job(&self, who: &Principal, job_id: &str) -> Result<ReplayJobView, OpsError>;
    /// Lets a job held by its breakers send now (it waits on none from then on); audited.
    async fn stop_waiting(&self, who: &Principal, job_id: &str) -> Result<ReplayJobView, OpsError>;
    /// Works out an edited copy of a dead letter (what changes) and, when `send`, sends it
    /// as the dead letter's replay; refused with the reason when it cannot be.
    async fn edit(
        &self,
        who: &Principal,
        id: i64,
        form: &EditForm,
        send: bool,
    ) -> Result<EditOutcome, OpsError>;
    /// Recent jobs, running ones first.
    async fn jobs(&self, limit: i64) -> Result<Vec<ReplayJobView>, OpsError>;
    async fn job(&self, job_id: &str) -> Result<Option<ReplayJobView>, OpsError>;
    /// Discards dead letters (pending, parked or failed again) with a required reason;
    /// returns how many were discarded.
    async fn discard(&self, who: &Principal, ids: &[i64], reason: &str) -> Result<u64, OpsError>;
    /// One dead letter as it came — payload, headers, key and error unmasked — for an admin
    /// who says why (required; audited before anything is returned).
    async fn reveal(
        &self,
        who: &Principal,
        id: i64,
        reason: &str,
    ) -> Result<Option<DeadLetterDetail>, OpsError>;
}

/// The handle server functions find in context.
pub type SharedDeadLetters = Arc<dyn DeadLetterApi>;
