//! The dead-letter console's server functions. Reads are GETs (`input = GetUrl`) that
//! need the viewer role; writes are POSTs to fixed endpoints under `ops/` that need the
//! operator role and carry the form's CSRF token (checked against the session by the HTTP
//! layer before the function runs).
//!
//! A filter argument is `#[server(default)]`: the browser encodes an empty filter as no
//! query parameters at all, and without the default the server would refuse that call
//! (the 500s a client-side navigation to `/dead-letters?job=…` used to get).

use super::model::*;
use crate::ops::DeadLetterFilter;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

#[cfg(feature = "ssr")]
fn dlq() -> Result<super::SharedDeadLetters, ServerFnError> {
    use_context::<super::SharedDeadLetters>()
        .ok_or_else(|| ServerFnError::new("dead-letter service unavailable"))
}

#[cfg(feature = "ssr")]
use crate::ops::failed;

#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn load_dead_letter_groups(
    #[server(default)] filter: DeadLetterFilter,
) -> Result<DeadLetterGroups, ServerFnError> {
    crate::auth::require(crate::auth::Role::Viewer)?;
    dlq()?
        .groups(&filter)
        .await
        .map_err(failed("could not load the groups"))
}

#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn load_dead_letter_page(
    #[server(default)] filter: DeadLetterFilter,
    after: Option<String>,
) -> Result<DeadLetterPage, ServerFnError> {
    crate::auth::require(crate::auth::Role::Viewer)?;
    dlq()?
        .list(&filter, after.as_deref(), 50)
        .await
        .map_err(failed("could not load dead letters"))
}

#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn load_dead_letter_detail(id: i64) -> Result<Option<DeadLetterDetail>, ServerFnError> {
    crate::auth::require(crate::auth::Role::Viewer)?;
    dlq()?
        .detail(id)
        .await
        .map_err(failed("could not load the dead letter"))
}

#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn replay_dry_run(
    scope: String,
    ids: Option<Vec<i64>>,
    filter: Option<DeadLetterFilter>,
) -> Result<DryRun, ServerFnError> {
    crate::auth::require(crate::auth::Role::Viewer)?;
    let scope = ReplayScope::from_form(&scope, ids, filter).map_err(ServerFnError::new)?;
    dlq()?
        .dry_run(&scope)
        .await
        .map_err(failed("could not preview the replay"))
}

#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn load_replay_jobs() -> Result<Vec<ReplayJobView>, ServerFnError> {
    crate::auth::require(crate::auth::Role::Viewer)?;
    dlq()?
        .jobs(10)
        .await
        .map_err(failed("could not load replay jobs"))
}

/// Replays one dead letter now.
#[server(endpoint = "ops/dlq/replay", output = crate::codec::Json)]
pub async fn replay_dead_letter(id: i64, csrf: String) -> Result<ReplayOneResult, ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Operator)?;
    let _ = csrf; // validated by the HTTP layer against the session
    dlq()?
        .replay_one(&who, id)
        .await
        .map_err(failed("replay failed"))
}

/// Starts a replay job over the selected ids (`scope = "selected"`) or everything
/// matching the filter fields (`scope = "filter"`), then shows its progress.
#[server(endpoint = "ops/dlq/replay-job", output = crate::codec::Json)]
#[allow(clippy::too_many_arguments)]
pub async fn start_replay_job(
    scope: String,
    ids: Option<Vec<i64>>,
    filter: Option<DeadLetterFilter>,
    throttle: Option<u32>,
    strip_headers: Option<String>,
    hold_on: Option<String>,
    csrf: String,
) -> Result<ReplayJobView, ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Operator)?;
    let _ = csrf;
    let request = JobRequest {
        scope: ReplayScope::from_form(&scope, ids, filter).map_err(ServerFnError::new)?,
        throttle: throttle.unwrap_or(0),
        strip_headers: strip_headers.map(|s| parse_prefixes(&s)),
        hold_on: hold_on.map(|s| parse_names(&s)),
    };
    let job = dlq()?
        .start_job(&who, &request)
        .await
        .map_err(failed("could not start the replay job"))?;
    leptos_axum::redirect(&format!("/dead-letters?job={}", job.id));
    Ok(job)
}

#[server(endpoint = "ops/dlq/cancel-job", output = crate::codec::Json)]
pub async fn cancel_replay_job(job: String, csrf: String) -> Result<ReplayJobView, ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Operator)?;
    let _ = csrf;
    dlq()?
        .cancel_job(&who, &job)
        .await
        .map_err(failed("could not cancel the job"))
}

/// Edit and resend: without `send`, what the edit changes; with it, the edited copy sent.
#[server(endpoint = "ops/dlq/edit", output = crate::codec::Json)]
#[allow(clippy::too_many_arguments)]
pub async fn edit_dead_letter(
    id: i64,
    payload: String,
    set_headers: Option<String>,
    remove_headers: Option<String>,
    topic: Option<String>,
    send: Option<String>,
    csrf: String,
) -> Result<EditOutcome, ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Operator)?;
    let _ = csrf;
    let form = EditForm {
        payload,
        set_headers: set_headers.unwrap_or_default(),
        remove_headers: remove_headers.unwrap_or_default(),
        topic: topic.unwrap_or_default(),
    };
    dlq()?
        .edit(&who, id, &form, send.is_some())
        .await
        .map_err(failed("the edit was refused"))
}

/// Lets a job held by its breakers send now.
#[server(endpoint = "ops/dlq/stop-waiting", output = crate::codec::Json)]
pub async fn stop_job_waiting(job: String, csrf: String) -> Result<ReplayJobView, ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Operator)?;
    let _ = csrf;
    dlq()?
        .stop_waiting(&who, &job)
        .await
        .map_err(failed("could not stop the job waiting"))
}

#[server(endpoint = "ops/dlq/discard", output = crate::codec::Json)]
pub async fn discard_dead_letters(
    ids: Vec<i64>,
    reason: String,
    csrf: String,
) -> Result<u64, ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Operator)?;
    let _ = csrf;
    dlq()?
        .discard(&who, &ids, &reason)
        .await
        .map_err(failed("could not discard"))
}

/// An admin's reveal of one dead letter's unmasked payload and headers, with a reason;
/// under `admin/reveal/` so the kill-switch (which stops changes) does not stop it.
#[server(endpoint = "admin/reveal/dead-letter", output = crate::codec::Json)]
pub async fn reveal_dead_letter(
    id: i64,
    reason: String,
    csrf: String,
) -> Result<Option<DeadLetterDetail>, ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Admin)?;
    let _ = csrf;
    dlq()?
        .reveal(&who, id, &reason)
        .await
        .map_err(failed("could not reveal"))
}
