//! Saga actions in batch: one action over the orders the orders list's filter matches
//! (`read_model::console::push_order_filter`, the list's own filter).
//!
//! The preview and the start work out the same set the same way ([`snapshot`]): the
//! matching orders, newest first, at most [`MAX_BATCH`], of which those whose saga can be
//! acted on (`actionable`: not ended) get a command. A start whose count differs from the
//! one the operator confirmed is refused. The commands are written to `saga_commands` at
//! once (the snapshot), with the batch row and its audit row, in one transaction; the
//! [`runner`](super::runner) sends them. A cancel takes the batch row's lock, which the
//! runner holds while it sends a round, so it lands between rounds and the counts add up:
//! sent + cancelled + queued = total.

use crate::audit::{self, Actor};
use crate::auth::settings;
use crate::read_model::console::push_order_filter;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgPool, Postgres, QueryBuilder};
use switchyard_app::auth::Principal;
use switchyard_app::console::OrderFilter;
use switchyard_app::ops::OpsError;
use switchyard_app::saga::{
    actionable, last_step, BatchJobView, BatchPreview, BatchRequest, SagaAction, WaitingOn,
    MAX_BATCH,
};
use switchyard_app::states::OrderStatus;
use uuid::Uuid;

/// The orders a batch over `filter` would act on, with what each waits on; and how many
/// the filter matched (capped at [`MAX_BATCH`] + 1).
pub async fn snapshot(
    pool: &PgPool,
    filter: &OrderFilter,
) -> sqlx::Result<(Vec<(String, WaitingOn)>, i64)> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT order_id, status, current_step, step_status FROM orders WHERE true",
    );
    push_order_filter(&mut qb, filter);
    qb.push(" ORDER BY updated_at DESC, order_id DESC LIMIT ")
        .push_bind(MAX_BATCH + 1);
    let rows: Vec<(String, String, Option<String>, Option<String>)> =
        qb.build_query_as().fetch_all(pool).await?;
    let matched = rows.len() as i64;
    let acting = rows
        .into_iter()
        .take(MAX_BATCH as usize)
        .filter_map(|(order_id, status, step, step_status)| {
            let last: Vec<_> = last_step(step.as_deref(), step_status.as_deref())
                .into_iter()
                .collect();
            actionable(OrderStatus::from_db(&status), &last, &[]).map(|w| (order_id, w))
        })
        .collect();
    Ok((acting, matched))
}

pub async fn preview(pool: &PgPool, filter: &OrderFilter) -> Result<BatchPreview, OpsError> {
    let (acting, matched) = snapshot(pool, filter).await?;
    let mut by: Vec<(String, i64)> = Vec::new();
    for (_, w) in &acting {
        let what = w.describe();
        match by.iter_mut().find(|(k, _)| *k == what) {
            Some((_, n)) => *n += 1,
            None => by.push((what, 1)),
        }
    }
    by.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(BatchPreview {
        matched: matched.min(MAX_BATCH),
        actionable: acting.len() as i64,
        waiting_on: by,
        capped: matched > MAX_BATCH,
    })
}

/// The filter in words, for the batch's row and its audit line.
fn in_words(filter: &OrderFilter) -> String {
    let words: Vec<String> = filter
        .query()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if words.is_empty() {
        "every order".into()
    } else {
        words.join(" ")
    }
}

pub async fn start(
    pool: &PgPool,
    who: &Principal,
    req: &BatchRequest,
) -> Result<BatchJobView, OpsError> {
    if !settings::saga_actions_enabled(pool)
        .await?
        .contains(&req.action)
    {
        return Err(format!("{} is switched off by an admin", req.action.label()).into());
    }
    let (acting, _) = snapshot(pool, &req.filter).await?;
    if acting.is_empty() {
        return Err("no order the filter matches can be acted on".into());
    }
    if let Some(expect) = req.expect {
        if expect != acting.len() as i64 {
            return Err(format!(
                "the orders changed since the preview: {} can be acted on now, not {expect}; preview again",
                acting.len()
            )
            .into());
        }
    }
    let id = Uuid::now_v7();
    let words = in_words(&req.filter);
    let (mut orders, mut steps, mut phases, mut ids) = (vec![], vec![], vec![], vec![]);
    for (order_id, w) in acting {
        orders.push(order_id);
        steps.push(w.step);
        phases.push(w.phase);
        ids.push(Uuid::new_v4());
    }
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO saga_command_batches (id, action, reason, filter, throttle, total, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(req.action.as_str())
    .bind(&req.reason)
    .bind(&words)
    .bind(req.throttle.min(100_000) as i32)
    .bind(orders.len() as i32)
    .bind(&who.name)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO saga_commands (command_id, order_id, action, step, phase, reason, requested_by, batch_id)
         SELECT c, o, $5, s, p, $6, $7, $8
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS t(c, o, s, p)",
    )
    .bind(&ids)
    .bind(&orders)
    .bind(&steps)
    .bind(&phases)
    .bind(req.action.as_str())
    .bind(&req.reason)
    .bind(&who.name)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        &Actor::new(who.name.clone(), who.source.clone()),
        "saga_command_batch",
        Some(&id.to_string()),
        json!({"action": req.action.as_str(), "reason": req.reason, "filter": words,
            "orders": orders.len(), "throttle": req.throttle}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(batch = %id, action = req.action.as_str(), orders = orders.len(),
        by = %who.name, "saga command batch started");
    Ok(view(pool, id).await?.ok_or("the batch vanished")?)
}

type Row = (
    Uuid,
    String,
    String,
    String,
    i32,
    String,
    i32,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
);

const COLUMNS: &str = "id, action, reason, status, throttle, filter, total, created_by, created_at,
    finished_at, note";

async fn view_of(pool: &PgPool, r: Row) -> sqlx::Result<Option<BatchJobView>> {
    let Some(action) = SagaAction::parse(&r.1) else {
        return Ok(None);
    };
    let (sent, cancelled): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL),
                count(*) FILTER (WHERE cancelled_at IS NOT NULL AND sent_at IS NULL)
         FROM saga_commands WHERE batch_id = $1",
    )
    .bind(r.0)
    .fetch_one(pool)
    .await?;
    // The fleet's answers, found by order (the events' index), counted once per command
    // (an answer given again after a crash is the same answer).
    let (applied, rejected): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT c.command_id) FILTER (WHERE e.payload->>'status' = 'applied'),
                count(DISTINCT c.command_id) FILTER (WHERE e.payload->>'status' = 'rejected')
         FROM saga_commands c
         JOIN events e ON e.aggregate_id = c.order_id AND e.event_type = 'saga.command'
          AND e.payload->>'command_id' = c.command_id::text
         WHERE c.batch_id = $1 AND c.sent_at IS NOT NULL",
    )
    .bind(r.0)
    .fetch_one(pool)
    .await?;
    let total = i64::from(r.6);
    Ok(Some(BatchJobView {
        id: r.0.to_string(),
        action,
        reason: r.2,
        status: r.3,
        throttle: r.4,
        filter: r.5,
        total,
        sent,
        cancelled,
        queued: total - sent - cancelled,
        applied,
        rejected,
        created_by: r.7,
        created_at: r.8,
        finished_at: r.9,
        note: r.10,
    }))
}

pub async fn view(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<BatchJobView>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM saga_command_batches WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(r) => view_of(pool, r).await,
        None => Ok(None),
    }
}

pub async fn recent(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<BatchJobView>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM saga_command_batches ORDER BY created_at DESC LIMIT $1"
    ))
    .bind(limit.clamp(1, 50))
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        out.extend(view_of(pool, r).await?);
    }
    Ok(out)
}

pub async fn cancel(pool: &PgPool, who: &Principal, id: &str) -> Result<BatchJobView, OpsError> {
    let id: Uuid = id.parse().map_err(|_| format!("no batch {id:?}"))?;
    let mut tx = pool.begin().await?;
    // Waits for a round the runner is sending: the cancel lands between two rounds.
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM saga_command_batches WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    match status.as_deref() {
        None => return Err(format!("no batch {id}").into()),
        Some("running") => {}
        Some(other) => return Err(format!("the batch is {other} already").into()),
    }
    sqlx::query(
        "UPDATE saga_command_batches SET status = 'cancelled', finished_at = now(), note = NULL
         WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let n = sqlx::query(
        "UPDATE saga_commands SET cancelled_at = now() WHERE batch_id = $1 AND sent_at IS NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    audit::record(
        &mut *tx,
        &Actor::new(who.name.clone(), who.source.clone()),
        "saga_command_batch_cancel",
        Some(&id.to_string()),
        json!({ "not_sent": n }),
    )
    .await?;
    tx.commit().await?;
    Ok(view(pool, id).await?.ok_or("the batch vanished")?)
}
