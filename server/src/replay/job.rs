//! Replay jobs as data: starting one (snapshot of its items, one active job per DLQ topic),
//! cancelling one, their progress counts and views, and the NOTIFY that carries progress
//! to every console instance. The [`super::runner`] does the sending.

use super::filter::{push_scope, validate};
use super::hold;
use crate::audit::{self, Actor};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool, QueryBuilder};
use switchyard_app::dlq::{JobRequest, ReplayJobView, ReplayScope};
use switchyard_app::states::JobStatus;
use uuid::Uuid;

/// PostgreSQL channel announcing a job's progress (payload: the job id).
pub const REPLAY_CHANNEL: &str = "switchyard_replay";
/// The most dead letters one "replay selected" may name.
pub const MAX_IDS: usize = 10_000;
pub const MAX_THROTTLE: u32 = 100_000;

/// A refusal to show the operator (bad request, busy topic, nothing to do).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn refused<T>(msg: impl Into<String>) -> Result<T, JobError> {
    Err(JobError::Refused(msg.into()))
}

pub async fn notify(conn: &mut PgConnection, job: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(REPLAY_CHANNEL)
        .bind(job.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn check(req: &JobRequest, strip_headers: &[String]) -> Result<(), JobError> {
    if req.throttle > MAX_THROTTLE {
        return refused(format!("throttle above {MAX_THROTTLE} msgs/s"));
    }
    if strip_headers.len() > 50 || strip_headers.iter().any(|p| p.len() > 100) {
        return refused("too many or too long header prefixes");
    }
    match &req.scope {
        ReplayScope::Ids { ids } if ids.is_empty() => refused("no dead letters selected"),
        ReplayScope::Ids { ids } if ids.len() > MAX_IDS => refused(format!(
            "at most {MAX_IDS} dead letters at once; use a filter"
        )),
        ReplayScope::Filter { filter } => validate(filter).map_err(JobError::Refused),
        _ => Ok(()),
    }?;
    match &req.hold_on {
        Some(names) => hold::check(names).map_err(JobError::Refused),
        None => Ok(()),
    }
}

/// Starts a job: snapshots the pending dead letters in scope (oldest first, so one key's
/// messages keep their order), takes its DLQ topics, audits, announces. One transaction.
pub async fn start(
    pool: &PgPool,
    actor: &Actor,
    req: &JobRequest,
    max_replays: i32,
) -> Result<Uuid, JobError> {
    let strip_headers = req
        .strip_headers
        .clone()
        .unwrap_or_else(super::headers::default_stripped);
    check(req, &strip_headers)?;
    let id = Uuid::now_v7();
    let (kind, filter) = match &req.scope {
        ReplayScope::Ids { .. } => ("selected", None),
        ReplayScope::Filter { filter } => (
            "filter",
            Some(serde_json::to_value(filter).unwrap_or_default()),
        ),
    };
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO replay_jobs (id, kind, filter, throttle, strip_headers, max_replays,
            created_by, created_from)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(kind)
    .bind(&filter)
    .bind(req.throttle as i32)
    .bind(&strip_headers)
    .bind(max_replays)
    .bind(&actor.name)
    .bind(&actor.source)
    .execute(&mut *tx)
    .await?;
    let mut q = QueryBuilder::new(
        "INSERT INTO replay_job_items (job_id, seq, dead_letter_id)
         SELECT ",
    );
    q.push_bind(id).push(
        ", row_number() OVER (ORDER BY d.failed_at, d.id), d.id
         FROM dead_letters d WHERE d.status = 'pending'",
    );
    push_scope(&mut q, &req.scope);
    let total = q.build().execute(&mut *tx).await?.rows_affected();
    if total == 0 {
        return refused("nothing to replay: no pending dead letter matches");
    }
    let topics: Vec<(String, bool)> = sqlx::query_as(
        "SELECT DISTINCT d.topic, EXISTS (SELECT 1 FROM replay_job_topics t
                                          WHERE t.dlq_topic = d.topic AND t.active)
         FROM replay_job_items i JOIN dead_letters d ON d.id = i.dead_letter_id
         WHERE i.job_id = $1 ORDER BY 1",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let busy: Vec<&str> = topics
        .iter()
        .filter(|t| t.1)
        .map(|t| t.0.as_str())
        .collect();
    if !busy.is_empty() {
        return refused(format!(
            "a replay job is already running for {}; wait for it or cancel it",
            busy.join(", ")
        ));
    }
    let hold_on = match &req.hold_on {
        Some(names) => names.clone(),
        None => {
            let targets: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT d.original_topic
                 FROM replay_job_items i JOIN dead_letters d ON d.id = i.dead_letter_id
                 WHERE i.job_id = $1 ORDER BY 1",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            hold::default_for(targets.iter().map(String::as_str))
        }
    };
    let taken = sqlx::query(
        "INSERT INTO replay_job_topics (job_id, dlq_topic) SELECT $1, UNNEST($2::text[])",
    )
    .bind(id)
    .bind(topics.iter().map(|t| t.0.clone()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await;
    if let Err(sqlx::Error::Database(e)) = &taken {
        if e.is_unique_violation() {
            return refused("another replay job just started for the same dead-letter topic");
        }
    }
    taken?;
    sqlx::query("UPDATE replay_jobs SET total = $2, hold_breakers = $3 WHERE id = $1")
        .bind(id)
        .bind(total as i32)
        .bind(&hold_on)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        actor,
        "replay_job_start",
        Some(&id.to_string()),
        json!({
            "scope": req.scope,
            "items": total,
            "throttle": req.throttle,
            "strip_headers": strip_headers,
            "dlq_topics": topics.iter().map(|t| &t.0).collect::<Vec<_>>(),
            "hold_on": hold_on,
        }),
    )
    .await?;
    notify(&mut tx, id).await?;
    tx.commit().await?;
    Ok(id)
}

/// Recounts a job's items into its progress columns.
pub async fn refresh_counts(conn: &mut PgConnection, job: Uuid) -> sqlx::Result<Value> {
    let counts: (i64, i64, i64, i64, i64) = sqlx::query_as(
        "WITH c AS (
            SELECT count(*) FILTER (WHERE status = 'sent') AS sent,
                   count(*) FILTER (WHERE status = 'skipped') AS skipped,
                   count(*) FILTER (WHERE status = 'parked') AS parked,
                   count(*) FILTER (WHERE status = 'failed') AS failed,
                   count(*) FILTER (WHERE status = 'cancelled') AS cancelled
            FROM replay_job_items WHERE job_id = $1)
         UPDATE replay_jobs j SET sent = c.sent, skipped = c.skipped, parked = c.parked,
                failed = c.failed, cancelled = c.cancelled, progress_at = now()
         FROM c WHERE j.id = $1
         RETURNING j.sent::int8, j.skipped::int8, j.parked::int8, j.failed::int8, j.cancelled::int8",
    )
    .bind(job)
    .fetch_one(&mut *conn)
    .await?;
    Ok(json!({
        "sent": counts.0, "skipped": counts.1, "parked": counts.2,
        "failed": counts.3, "cancelled": counts.4,
    }))
}

/// Lets other jobs use the job's DLQ topics again.
pub async fn release_topics(conn: &mut PgConnection, job: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE replay_job_topics SET active = false WHERE job_id = $1")
        .bind(job)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Cancels a running job: its unsent items are cancelled now; the runner, told within a
/// fraction of a second, stops sending and settles what it had in flight. Nothing sent
/// is taken back.
pub async fn cancel(pool: &PgPool, actor: &Actor, job: Uuid) -> Result<(), JobError> {
    let mut tx = pool.begin().await?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM replay_jobs WHERE id = $1 FOR UPDATE")
            .bind(job)
            .fetch_optional(&mut *tx)
            .await?;
    match status.as_deref().map(JobStatus::from_db) {
        None => return refused("no such replay job"),
        Some(JobStatus::Running) => {}
        Some(other) => return refused(format!("the job is already {other}")),
    }
    sqlx::query(
        "UPDATE replay_job_items SET status = 'cancelled' WHERE job_id = $1 AND status = 'pending'",
    )
    .bind(job)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE replay_jobs SET status = 'cancelled', cancelled_by = $2, finished_at = now()
         WHERE id = $1",
    )
    .bind(job)
    .bind(&actor.name)
    .execute(&mut *tx)
    .await?;
    let counts = refresh_counts(&mut tx, job).await?;
    let in_flight: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM replay_job_items WHERE job_id = $1 AND status = 'sending')",
    )
    .bind(job)
    .fetch_one(&mut *tx)
    .await?;
    if !in_flight {
        release_topics(&mut tx, job).await?;
    }
    audit::record(
        &mut *tx,
        actor,
        "replay_job_cancel",
        Some(&job.to_string()),
        json!({ "counts_at_cancel": counts, "in_flight": in_flight }),
    )
    .await?;
    notify(&mut tx, job).await?;
    tx.commit().await?;
    Ok(())
}

/// Lets a running job send without waiting for its breakers (an operator who knows the
/// dependency is back, or a breaker the read model will not see close); audited with the
/// breakers it was waiting on and what held it.
pub async fn stop_waiting(pool: &PgPool, actor: &Actor, job: Uuid) -> Result<(), JobError> {
    let mut tx = pool.begin().await?;
    let row: Option<(String, Vec<String>, Option<String>)> = sqlx::query_as(
        "SELECT status, hold_breakers, waiting FROM replay_jobs WHERE id = $1 FOR UPDATE",
    )
    .bind(job)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((status, breakers, waiting)) = row else {
        return refused("no such job");
    };
    if JobStatus::from_db(&status) != JobStatus::Running {
        return refused(format!("the job is {status}, not running"));
    }
    if breakers.is_empty() {
        return refused("the job waits on no breaker");
    }
    sqlx::query("UPDATE replay_jobs SET hold_breakers = '{}' WHERE id = $1")
        .bind(job)
        .execute(&mut *tx)
        .await?;
    hold::set_waiting(&mut tx, job, None).await?;
    audit::record(
        &mut *tx,
        actor,
        "replay_job_stop_waiting",
        Some(&job.to_string()),
        json!({ "breakers": breakers, "was": waiting }),
    )
    .await?;
    notify(&mut tx, job).await?;
    tx.commit().await?;
    Ok(())
}

type JobRow = (
    Uuid,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    i32,
    (i32, i32, i32, i32, i32, i32),
    Option<Vec<String>>,
    Option<String>,
    Option<String>,
    Vec<String>,
    Option<String>,
);

const JOB_SELECT: &str = "SELECT j.id, j.kind, j.status, j.created_by, j.created_at, j.finished_at,
        j.progress_at, j.throttle, ROW(j.total, j.sent, j.skipped, j.parked, j.failed, j.cancelled),
        (SELECT array_agg(t.dlq_topic ORDER BY t.dlq_topic) FROM replay_job_topics t WHERE t.job_id = j.id),
        j.error, j.cancelled_by, j.hold_breakers, j.waiting
    FROM replay_jobs j";

fn view(r: JobRow) -> ReplayJobView {
    let (total, sent, skipped, parked, failed, cancelled) = r.8;
    let end = r.5.unwrap_or(r.6);
    let secs = (end - r.4).num_milliseconds().max(1) as f64 / 1000.0;
    let rate = sent as f64 / secs;
    let mut v = ReplayJobView {
        id: r.0.to_string(),
        kind: r.1,
        status: JobStatus::from_db(&r.2),
        created_by: r.3,
        created_at: r.4,
        finished_at: r.5,
        throttle: r.7,
        total: total.into(),
        sent: sent.into(),
        skipped: skipped.into(),
        parked: parked.into(),
        failed: failed.into(),
        cancelled: cancelled.into(),
        rate: rate.round() as i64,
        eta_secs: None,
        dlq_topics: r.9.unwrap_or_default(),
        error: r.10,
        cancelled_by: r.11,
        hold_on: r.12,
        waiting: r.13.filter(|_| r.2 == "running"),
    };
    let left = v.total - v.done();
    if v.running() && left > 0 && v.waiting.is_none() {
        let pace = match (v.throttle, rate) {
            (t, r) if t > 0 && (r <= 0.0 || r > t as f64) => t as f64,
            (_, r) if r > 0.0 => r,
            _ => 0.0,
        };
        v.eta_secs = (pace > 0.0).then(|| (left as f64 / pace).ceil() as i64);
    }
    v
}

pub async fn job_view(pool: &PgPool, job: Uuid) -> sqlx::Result<Option<ReplayJobView>> {
    let row: Option<JobRow> = sqlx::query_as(&format!("{JOB_SELECT} WHERE j.id = $1"))
        .bind(job)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(view))
}

/// Recent jobs, running ones first.
pub async fn job_views(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<ReplayJobView>> {
    let rows: Vec<JobRow> = sqlx::query_as(&format!(
        "{JOB_SELECT} ORDER BY (j.status = 'running') DESC, j.created_at DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(view).collect())
}
